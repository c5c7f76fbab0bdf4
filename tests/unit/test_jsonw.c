/*
 * test_jsonw.c: the JSON writer of the daemon's BATCH replies writes the
 * same bytes as cJSON_PrintUnformatted, which it replaced on the hot path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonw.h"

/* Checks that w holds exactly what cJSON prints for expected. */
static void assert_same_as_cjson(const jsonw_t *w, const cJSON *expected)
{
    char *want = cJSON_PrintUnformatted(expected);
    char *got = malloc(jsonw_text_len(w) + 1);

    assert_non_null(want);
    assert_non_null(got);
    memcpy(got, jsonw_text(w), jsonw_text_len(w));
    got[jsonw_text_len(w)] = '\0';
    assert_string_equal(got, want);
    free(got);
    cJSON_free(want);
}

static void batch_body_matches_cjson(void **state)
{
    static const uint32_t numbers[] = {0, 1, 9, 10, 99, 100, 65536, 1000000, 4294967295u};
    jsonw_t w;
    cJSON *obj = cJSON_CreateObject();
    cJSON *errors = cJSON_CreateArray();
    (void)state;

    jsonw_init(&w, 0);
    jsonw_object_open(&w);
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "n%zu", i);
        jsonw_field_uint(&w, key, numbers[i]);
        cJSON_AddNumberToObject(obj, key, numbers[i]);
    }
    jsonw_key(&w, "errors");
    jsonw_array_open(&w);
    for (int i = 0; i < 2; i++) {
        cJSON *e = cJSON_CreateObject();
        jsonw_object_open(&w);
        jsonw_field_uint(&w, "row", 17u + (unsigned)i);
        jsonw_field_string(&w, "path", "/data/img/x.jpg");
        jsonw_field_string(&w, "reason", "corrupt JPEG data: premature end");
        jsonw_object_close(&w);
        cJSON_AddNumberToObject(e, "row", 17 + i);
        cJSON_AddStringToObject(e, "path", "/data/img/x.jpg");
        cJSON_AddStringToObject(e, "reason", "corrupt JPEG data: premature end");
        cJSON_AddItemToArray(errors, e);
    }
    jsonw_array_close(&w);
    cJSON_AddItemToObject(obj, "errors", errors);
    jsonw_field_uint(&w, "after", 3);
    cJSON_AddNumberToObject(obj, "after", 3);
    jsonw_object_close(&w);

    assert_same_as_cjson(&w, obj);
    cJSON_Delete(obj);
    jsonw_free(&w);
}

static void empty_containers_match_cjson(void **state)
{
    jsonw_t w;
    cJSON *obj = cJSON_CreateObject();
    (void)state;

    jsonw_init(&w, 0);
    jsonw_object_open(&w);
    jsonw_key(&w, "errors");
    jsonw_array_open(&w);
    jsonw_array_close(&w);
    jsonw_key(&w, "e");
    jsonw_object_open(&w);
    jsonw_object_close(&w);
    jsonw_object_close(&w);
    cJSON_AddItemToObject(obj, "errors", cJSON_CreateArray());
    cJSON_AddItemToObject(obj, "e", cJSON_CreateObject());
    assert_same_as_cjson(&w, obj);
    cJSON_Delete(obj);
    jsonw_free(&w);
}

static void every_byte_is_escaped_as_cjson_does(void **state)
{
    char all[256];
    jsonw_t w;
    cJSON *s;
    (void)state;

    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    jsonw_init(&w, 0);
    jsonw_string(&w, all);
    s = cJSON_CreateString(all);
    assert_same_as_cjson(&w, s);
    cJSON_Delete(s);
    jsonw_free(&w);

    jsonw_init(&w, 0);
    jsonw_string(&w, "");
    s = cJSON_CreateString("");
    assert_same_as_cjson(&w, s);
    cJSON_Delete(s);
    jsonw_free(&w);
}

static void reserved_room_is_kept_and_long_text_grows_the_buffer(void **state)
{
    char *long_text = malloc(5000);
    jsonw_t w;
    (void)state;

    assert_non_null(long_text);
    memset(long_text, 'a', 4999);
    long_text[4999] = '\0';
    jsonw_init(&w, 8);
    memcpy(w.buf, "HEADER!!", 8);
    jsonw_string(&w, long_text);
    assert_int_equal(jsonw_text_len(&w), 5001);
    assert_memory_equal(w.buf, "HEADER!!", 8);
    assert_ptr_equal(jsonw_text(&w), w.buf + 8);
    assert_int_equal(jsonw_text(&w)[0], '"');
    assert_int_equal(jsonw_text(&w)[5000], '"');
    assert_int_equal(jsonw_text(&w)[2500], 'a');
    jsonw_free(&w);
    free(long_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_body_matches_cjson),
        cmocka_unit_test(empty_containers_match_cjson),
        cmocka_unit_test(every_byte_is_escaped_as_cjson_does),
        cmocka_unit_test(reserved_room_is_kept_and_long_text_grows_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
