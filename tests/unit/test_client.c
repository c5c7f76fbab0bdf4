/*
 * test_client.c: the pure parts of libmogen: the error table and the
 * checks on the WELCOME layout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "mogen.h"

/* A WELCOME like the one in docs/protocol.md, small. %s slots let a test
 * replace one piece. */
#define WELCOME_FMT                                                                           \
    "{\"version\": %d, \"stream\": \"train\", \"batch_size\": 2, \"steps_per_epoch\": 3,"    \
    " \"rows\": 5, \"epoch\": 1, \"batch\": 2, \"slot_count\": 4, \"slot_size\": %s,"        \
    " \"shm_size\": 1024, \"shm_path\": null,"                                                \
    " \"tensors\": [%s],"                                                                     \
    " \"outputs\": [{\"name\": \"category_output\", \"kind\": \"multi_class\","              \
    " \"encoding\": \"onehot\", \"classes\": [\"Blazer\", \"Blouse\", \"Coat\"]}],"          \
    " \"image\": {\"width\": 4, \"height\": 4, \"channels\": 3}}"

#define GOOD_TENSORS                                                                          \
    "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2, 4, 4, 3], \"offset\": 0,"        \
    " \"bytes\": 96},"                                                                        \
    "{\"name\": \"category_output\", \"dtype\": \"float32\", \"shape\": [2, 3],"             \
    " \"offset\": 128, \"bytes\": 24},"                                                       \
    "{\"name\": \"row_ids\", \"dtype\": \"int64\", \"shape\": [2], \"offset\": 192,"         \
    " \"bytes\": 16}"

/* Parses a WELCOME built from the pieces; returns mogen__layout_parse's code. */
static int parse(int version, const char *slot_size, const char *tensors, mogen__layout_t *l,
                 char *err, size_t errlen)
{
    char text[4096];
    cJSON *root;

    snprintf(text, sizeof text, WELCOME_FMT, version, slot_size, tensors);
    root = cJSON_Parse(text);
    assert_non_null(root);
    return mogen__layout_parse(root, l, err, errlen);
}

static void strerror_covers_every_code(void **state)
{
    (void)state;
#define CHECK_ROW(name, value, wire, msg)                                                     \
    assert_string_equal(mogen_strerror(value), msg);                                          \
    assert_string_equal(mogen_err_name(value), "MOGEN_" #name);
    MOGEN_ERRNO_MAP(CHECK_ROW)
#undef CHECK_ROW
    assert_string_equal(mogen_strerror(0), "success");
    assert_string_equal(mogen_strerror(MOGEN_END_OF_EPOCH), "end of epoch");
    assert_string_equal(mogen_strerror(-EBADF), strerror(EBADF));
    assert_string_equal(mogen_strerror(-99999), "unknown error");
    assert_string_equal(mogen_err_name(-99999), "MOGEN_UNKNOWN");
    assert_string_equal(mogen_err_name(0), "MOGEN_OK");
    assert_string_equal(mogen_err_name(MOGEN_END_OF_EPOCH), "MOGEN_END_OF_EPOCH");
}

static void system_codes_are_negated_errnos(void **state)
{
    (void)state;
    assert_int_equal(MOGEN_ENOMEM, -ENOMEM);
    assert_int_equal(MOGEN_ECONNREFUSED, -ECONNREFUSED);
    assert_int_equal(MOGEN_ETIMEDOUT, -ETIMEDOUT);
    assert_true(MOGEN_ECLOSED < -4096);
}

static void codes_are_distinct(void **state)
{
    static const int codes[] = {
#define CODE_ROW(name, value, wire, msg) (value),
        MOGEN_ERRNO_MAP(CODE_ROW)
#undef CODE_ROW
    };
    const size_t n = sizeof codes / sizeof codes[0];
    (void)state;

    for (size_t i = 0; i < n; i++) {
        assert_true(codes[i] < 0);
        assert_true(codes[i] != MOGEN_END_OF_EPOCH);
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(codes[i], codes[j]);
    }
}

static void daemon_codes_map_from_the_wire(void **state)
{
    (void)state;
    assert_int_equal(mogen__error_from_wire("unknown_stream"), MOGEN_EUNKNOWNSTREAM);
    assert_int_equal(mogen__error_from_wire("version_mismatch"), MOGEN_EVERSION);
    assert_int_equal(mogen__error_from_wire("too_many_leases"), MOGEN_ETOOMANYLEASES);
    assert_int_equal(mogen__error_from_wire("shutting_down"), MOGEN_ESHUTTINGDOWN);
    assert_int_equal(mogen__error_from_wire("something_new"), MOGEN_EDAEMON);
    assert_int_equal(mogen__error_from_wire(NULL), MOGEN_EDAEMON);
    assert_true(mogen__error_keeps_connection(MOGEN_ENOTLEASED));
    assert_true(mogen__error_keeps_connection(MOGEN_ESTREAMFAILED));
    assert_false(mogen__error_keeps_connection(MOGEN_EBADFRAME));
    assert_false(mogen__error_keeps_connection(MOGEN_ESHUTTINGDOWN));
}

static void dtype_names_and_sizes(void **state)
{
    (void)state;
    assert_string_equal(mogen_dtype_name(MOGEN_DTYPE_FLOAT32), "float32");
    assert_int_equal(mogen_dtype_size(MOGEN_DTYPE_INT64), 8);
    assert_int_equal(mogen_dtype_size(MOGEN_DTYPE_MAX), 0);
    assert_string_equal(mogen_dtype_name(MOGEN_DTYPE_MAX), "unknown");
}

static void layout_parses_tensors_and_outputs(void **state)
{
    mogen__layout_t l;
    char err[256];
    (void)state;

    assert_int_equal(parse(1, "256", GOOD_TENSORS, &l, err, sizeof err), 0);
    assert_string_equal(l.stream, "train");
    assert_null(l.shm_path);
    assert_int_equal(l.batch_size, 2);
    assert_int_equal(l.steps_per_epoch, 3);
    assert_int_equal(l.batches_per_epoch, 3); /* Not sent: same as steps. */
    assert_int_equal(l.rows, 5);
    assert_int_equal(l.epoch, 1);
    assert_int_equal(l.batch, 2);
    assert_int_equal(l.slot_count, 4);
    assert_int_equal(l.slot_size, 256);
    assert_int_equal(l.tensor_count, 3);
    assert_string_equal(l.tensors[0].name, "x");
    assert_int_equal(l.tensors[0].ndim, 4);
    assert_int_equal(l.tensors[0].shape[3], 3);
    assert_int_equal(l.tensors[1].dtype, MOGEN_DTYPE_FLOAT32);
    assert_int_equal(l.tensors[1].offset, 128);
    assert_int_equal(l.tensors[2].dtype, MOGEN_DTYPE_INT64);
    assert_int_equal(mogen__layout_find(&l, "row_ids"), 2);
    assert_int_equal(mogen__layout_find(&l, "nope"), MOGEN_ENOTENSOR);
    assert_int_equal(l.output_count, 1);
    assert_string_equal(l.outputs[0].name, "category_output");
    assert_string_equal(l.outputs[0].kind, "multi_class");
    assert_string_equal(l.outputs[0].encoding, "onehot");
    assert_int_equal(l.outputs[0].class_count, 3);
    assert_string_equal(l.outputs[0].classes[2], "Coat");
    mogen__layout_free(&l);
}

static void layout_wrong_version_is_refused(void **state)
{
    mogen__layout_t l;
    char err[256];
    (void)state;

    assert_int_equal(parse(2, "256", GOOD_TENSORS, &l, err, sizeof err), MOGEN_EBADREPLY);
    assert_non_null(strstr(err, "version 2"));
    assert_null(l.root); /* Freed on failure. */
}

static void layout_slots_past_the_memory_are_refused(void **state)
{
    mogen__layout_t l;
    char err[256];
    (void)state;

    /* 4 slots of 512 bytes do not fit in shm_size 1024. */
    assert_int_equal(parse(1, "512", GOOD_TENSORS, &l, err, sizeof err), MOGEN_EBADREPLY);
    assert_non_null(strstr(err, "exceed shm_size"));
}

static void layout_tensor_past_its_slot_is_refused(void **state)
{
    mogen__layout_t l;
    char err[256];
    (void)state;

    assert_int_equal(parse(1, "128", GOOD_TENSORS, &l, err, sizeof err), MOGEN_EBADREPLY);
    assert_non_null(strstr(err, "past the end of its slot"));
}

static void layout_bytes_must_match_the_shape(void **state)
{
    mogen__layout_t l;
    char err[256];
    (void)state;

    assert_int_equal(parse(1, "256",
                           "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2, 4],"
                           " \"offset\": 0, \"bytes\": 9}",
                           &l, err, sizeof err),
                     MOGEN_EBADREPLY);
    assert_non_null(strstr(err, "do not match its shape"));
}

static void layout_bad_tensors_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "{\"name\": \"x\", \"dtype\": \"float64\", \"shape\": [2], \"offset\": 0, \"bytes\": 16}",
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [], \"offset\": 0, \"bytes\": 1}",
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2, -1], \"offset\": 0, \"bytes\": 2}",
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2, 1.5], \"offset\": 0, \"bytes\": 3}",
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2], \"bytes\": 2}",
        "{\"dtype\": \"uint8\", \"shape\": [2], \"offset\": 0, \"bytes\": 2}",
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [1,1,1,1,1,1,1,1,2], \"offset\": 0,"
        " \"bytes\": 2}",
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2], \"offset\": 0, \"bytes\": 2},"
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2], \"offset\": 64, \"bytes\": 2}",
        "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [4294967296, 4294967296, 16],"
        " \"offset\": 0, \"bytes\": 0}",
        "7",
    };
    mogen__layout_t l;
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(parse(1, "256", bad[i], &l, err, sizeof err), MOGEN_EBADREPLY);
        assert_true(strlen(err) > 0);
    }
}

static void layout_missing_fields_are_named(void **state)
{
    mogen__layout_t l;
    char err[256];
    cJSON *root = cJSON_Parse("{\"version\": 1, \"stream\": \"train\"}");
    (void)state;

    assert_int_equal(mogen__layout_parse(root, &l, err, sizeof err), MOGEN_EBADREPLY);
    assert_string_equal(err, "WELCOME lacks \"batch_size\"");
    root = cJSON_Parse("[1]");
    assert_int_equal(mogen__layout_parse(root, &l, err, sizeof err), MOGEN_EBADREPLY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_covers_every_code),
        cmocka_unit_test(system_codes_are_negated_errnos),
        cmocka_unit_test(codes_are_distinct),
        cmocka_unit_test(daemon_codes_map_from_the_wire),
        cmocka_unit_test(dtype_names_and_sizes),
        cmocka_unit_test(layout_parses_tensors_and_outputs),
        cmocka_unit_test(layout_wrong_version_is_refused),
        cmocka_unit_test(layout_slots_past_the_memory_are_refused),
        cmocka_unit_test(layout_tensor_past_its_slot_is_refused),
        cmocka_unit_test(layout_bytes_must_match_the_shape),
        cmocka_unit_test(layout_bad_tensors_are_refused),
        cmocka_unit_test(layout_missing_fields_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
