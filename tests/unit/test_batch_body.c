/*
 * test_batch_body.c: the BATCH reader that works without cJSON. It must
 * take what mogend writes, read it exactly as cJSON would, and leave to
 * cJSON every body of another shape, valid JSON or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "batch_body.h"
#include "message.h"

/* Reads body with both readers; when the fast one takes it, cJSON must
 * parse it to the same four numbers. Returns what the fast one returned. */
static int read_both(const char *body, mogen_batch_body_t *out)
{
    int rc = mogen_batch_body_read(body, strlen(body), out);

    if (rc == 1) {
        cJSON *obj = NULL;
        uint64_t v;
        const cJSON *errors;
        assert_int_equal(mogen_frame_parse_body((const uint8_t *)body, strlen(body), &obj), 0);
        assert_int_equal(mogen_message_get_uint(obj, "slot", MOGEN_JSON_MAX_UINT, &v), 0);
        assert_true(v == out->slot);
        assert_int_equal(mogen_message_get_uint(obj, "epoch", MOGEN_JSON_MAX_UINT, &v), 0);
        assert_true(v == out->epoch);
        assert_int_equal(mogen_message_get_uint(obj, "batch", MOGEN_JSON_MAX_UINT, &v), 0);
        assert_true(v == out->batch);
        assert_int_equal(mogen_message_get_uint(obj, "size", MOGEN_JSON_MAX_UINT, &v), 0);
        assert_true(v == out->size);
        errors = cJSON_GetObjectItemCaseSensitive(obj, "errors");
        assert_true(errors == NULL || (cJSON_IsArray(errors) && cJSON_GetArraySize(errors) == 0));
        cJSON_Delete(obj);
    }
    return rc;
}

static void reads_what_mogend_writes(void **state)
{
    mogen_batch_body_t b;
    (void)state;

    assert_int_equal(read_both("{\"slot\":3,\"epoch\":0,\"batch\":12,\"size\":64,\"errors\":[]}", &b),
                     1);
    assert_true(b.slot == 3 && b.epoch == 0 && b.batch == 12 && b.size == 64);
    assert_int_equal(read_both("{\"slot\":0,\"epoch\":4294967295,\"batch\":4294967295,"
                               "\"size\":1,\"errors\":[]}",
                               &b),
                     1);
    assert_true(b.epoch == UINT32_MAX && b.batch == UINT32_MAX);
}

static void takes_any_order_whitespace_and_other_integer_keys(void **state)
{
    mogen_batch_body_t b;
    (void)state;

    assert_int_equal(read_both(" {\n\t\"size\" : 2 ,\"errors\": [ ] , \"batch\":7,\r\n"
                               "\"epoch\":1, \"future\": 99, \"slot\":0 } \n",
                               &b),
                     1);
    assert_true(b.slot == 0 && b.epoch == 1 && b.batch == 7 && b.size == 2);
    /* No "errors" at all is a batch without failures too. */
    assert_int_equal(read_both("{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4}", &b), 1);
    assert_true(b.slot == 1 && b.size == 4);
    /* 15 digits are taken exactly. */
    assert_int_equal(read_both("{\"slot\":1,\"epoch\":999999999999999,\"batch\":3,\"size\":4}", &b),
                     1);
    assert_true(b.epoch == UINT64_C(999999999999999));
}

static void leaves_every_other_body_to_cjson(void **state)
{
    static const char *const refused[] = {
        "",
        "{}",
        "[]",
        "{\"slot\":1,\"epoch\":2,\"batch\":3}",                                   /* size missing */
        "{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4,\"errors\":[{\"row\":1}]}", /* a failure */
        "{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4,\"errors\":[],\"errors\":[]}",
        "{\"slot\":1,\"slot\":2,\"epoch\":2,\"batch\":3,\"size\":4}", /* cJSON keeps the first */
        "{\"slot\":-1,\"epoch\":2,\"batch\":3,\"size\":4}",
        "{\"slot\":1.0,\"epoch\":2,\"batch\":3,\"size\":4}",
        "{\"slot\":1e2,\"epoch\":2,\"batch\":3,\"size\":4}",
        "{\"slot\":01,\"epoch\":2,\"batch\":3,\"size\":4}",
        "{\"slot\":1234567890123456,\"epoch\":2,\"batch\":3,\"size\":4}", /* 16 digits */
        "{\"slot\":\"1\",\"epoch\":2,\"batch\":3,\"size\":4}",
        "{\"slot\":null,\"epoch\":2,\"batch\":3,\"size\":4}",
        "{\"sl\\u006ft\":1,\"epoch\":2,\"batch\":3,\"size\":4}", /* an escape in a key */
        "{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4,\"note\":\"hi\"}",
        "{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4,}",
        "{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4} x",
        "{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4",
        "{\"slot\":1 \"epoch\":2,\"batch\":3,\"size\":4}",
        "{\"slot\":1,\"epoch\":2,\"batch\":3,\"size\":4}\v", /* cJSON's whitespace, not JSON's */
        "{\"slot\"",
    };
    mogen_batch_body_t b;
    (void)state;

    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (read_both(refused[i], &b) != 0)
            fail_msg("taken but should go to cJSON: %s", refused[i]);
    }
}

/* A body cut anywhere is never taken: only the whole one is. */
static void a_cut_body_is_never_taken(void **state)
{
    static const char body[] = "{\"slot\":3,\"epoch\":0,\"batch\":12,\"size\":64,\"errors\":[]}";
    mogen_batch_body_t b;
    (void)state;

    for (size_t len = 0; len < sizeof body - 1; len++)
        assert_int_equal(mogen_batch_body_read(body, len, &b), 0);
    assert_int_equal(mogen_batch_body_read(body, sizeof body - 1, &b), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_what_mogend_writes),
        cmocka_unit_test(takes_any_order_whitespace_and_other_integer_keys),
        cmocka_unit_test(leaves_every_other_body_to_cjson),
        cmocka_unit_test(a_cut_body_is_never_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
