/*
 * test_frame.c: the frame header codec and the body checks shared by the
 * daemon and the client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "frame.h"
#include "message.h"

static void frame_round_trip_keeps_type_and_length(void **state)
{
    uint8_t buf[MOGEN_FRAME_HEADER_SIZE];
    mogen_frame_header_t hdr;
    (void)state;

    mogen_frame_encode_header(buf, MOGEN_MSG_WELCOME, 0x01020304u);
    assert_int_equal(mogen_frame_decode_header(buf, sizeof buf, UINT32_MAX, &hdr), 1);
    assert_int_equal(hdr.type, MOGEN_MSG_WELCOME);
    assert_int_equal(hdr.length, 0x01020304u);
}

static void frame_header_is_little_endian_on_the_wire(void **state)
{
    uint8_t buf[MOGEN_FRAME_HEADER_SIZE];
    const uint8_t want[MOGEN_FRAME_HEADER_SIZE] = {'M', 'G', 0x06, 0x00,
                                                   0x0d, 0x0c, 0x0b, 0x0a};
    (void)state;

    mogen_frame_encode_header(buf, MOGEN_MSG_RELEASE, 0x0a0b0c0du);
    assert_memory_equal(buf, want, sizeof want);
}

static void frame_short_header_needs_more(void **state)
{
    uint8_t buf[MOGEN_FRAME_HEADER_SIZE];
    mogen_frame_header_t hdr = {0, 0};
    (void)state;

    mogen_frame_encode_header(buf, MOGEN_MSG_NEXT, 2);
    for (size_t n = 0; n < sizeof buf; n++)
        assert_int_equal(mogen_frame_decode_header(buf, n, MOGEN_FRAME_MAX_REQUEST, &hdr), 0);
    assert_int_equal(hdr.type, 0);
}

static void frame_bad_magic_is_a_protocol_error(void **state)
{
    uint8_t buf[MOGEN_FRAME_HEADER_SIZE];
    mogen_frame_header_t hdr;
    (void)state;

    mogen_frame_encode_header(buf, MOGEN_MSG_HELLO, 2);
    buf[0] = 'G';
    assert_int_equal(mogen_frame_decode_header(buf, sizeof buf, 100, &hdr), -EPROTO);
    buf[0] = 'M';
    buf[1] = 'g';
    assert_int_equal(mogen_frame_decode_header(buf, sizeof buf, 100, &hdr), -EPROTO);
}

static void frame_unknown_type_is_a_protocol_error(void **state)
{
    uint8_t buf[MOGEN_FRAME_HEADER_SIZE];
    mogen_frame_header_t hdr;
    const uint16_t bad[] = {0, MOGEN_MSG_MAX, 0x0100, 0xffff};
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mogen_frame_encode_header(buf, bad[i], 0);
        assert_int_equal(mogen_frame_decode_header(buf, sizeof buf, 100, &hdr), -EPROTO);
    }
}

static void frame_too_long_is_rejected(void **state)
{
    uint8_t buf[MOGEN_FRAME_HEADER_SIZE];
    mogen_frame_header_t hdr;
    (void)state;

    mogen_frame_encode_header(buf, MOGEN_MSG_HELLO, MOGEN_FRAME_MAX_REQUEST + 1);
    assert_int_equal(mogen_frame_decode_header(buf, sizeof buf, MOGEN_FRAME_MAX_REQUEST, &hdr),
                     -EMSGSIZE);
    mogen_frame_encode_header(buf, MOGEN_MSG_HELLO, MOGEN_FRAME_MAX_REQUEST);
    assert_int_equal(mogen_frame_decode_header(buf, sizeof buf, MOGEN_FRAME_MAX_REQUEST, &hdr),
                     1);
    mogen_frame_encode_header(buf, MOGEN_MSG_WELCOME, UINT32_MAX);
    assert_int_equal(mogen_frame_decode_header(buf, sizeof buf, MOGEN_FRAME_MAX_REPLY, &hdr),
                     -EMSGSIZE);
}

static void frame_type_names_match_the_table(void **state)
{
    (void)state;
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_HELLO), "HELLO");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_WELCOME), "WELCOME");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_NEXT), "NEXT");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_BATCH), "BATCH");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_END_OF_EPOCH), "END_OF_EPOCH");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_RELEASE), "RELEASE");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_STATUS), "STATUS");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_STATUS_REPLY), "STATUS_REPLY");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_ERROR), "ERROR");
    assert_string_equal(mogen_msg_type_name(0), "UNKNOWN");
    assert_string_equal(mogen_msg_type_name(MOGEN_MSG_MAX), "UNKNOWN");
    assert_string_equal(mogen_msg_type_name(0xffff), "UNKNOWN");
}

static void body_empty_is_an_empty_object(void **state)
{
    cJSON *obj = NULL;
    (void)state;

    assert_int_equal(mogen_frame_parse_body((const uint8_t *)"", 0, &obj), 0);
    assert_non_null(obj);
    assert_true(cJSON_IsObject(obj));
    assert_null(obj->child);
    cJSON_Delete(obj);
}

static void body_object_with_trailing_whitespace_parses(void **state)
{
    const char *text = "{\"slot\": 3}\r\n ";
    cJSON *obj = NULL;
    uint64_t slot = 0;
    (void)state;

    assert_int_equal(mogen_frame_parse_body((const uint8_t *)text, strlen(text), &obj), 0);
    assert_int_equal(mogen_message_get_uint(obj, "slot", 100, &slot), 0);
    assert_int_equal(slot, 3);
    cJSON_Delete(obj);
}

static void body_that_is_not_one_object_is_rejected(void **state)
{
    static const char *const bad[] = {"[]", "3", "\"x\"", "null", "{", "{} {}", "{}x", "nope"};
    cJSON *obj = (cJSON *)&obj;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mogen_frame_parse_body((const uint8_t *)bad[i], strlen(bad[i]), &obj),
                         -EBADMSG);
        assert_null(obj);
    }
    /* A NUL inside the body ends cJSON's view early; it must not pass. */
    assert_int_equal(mogen_frame_parse_body((const uint8_t *)"{}\0{}", 5, &obj), -EBADMSG);
    /* Nor inside a string, nor another control character; nor bytes that
     * are not UTF-8 (a stray Latin-1 byte), which cJSON itself takes. */
    assert_int_equal(mogen_frame_parse_body((const uint8_t *)"{\"a\":\"x\0y\"}", 11, &obj),
                     -EBADMSG);
    assert_int_equal(mogen_frame_parse_body((const uint8_t *)"{\"a\":\"x\x01\"}", 10, &obj),
                     -EBADMSG);
    assert_int_equal(mogen_frame_parse_body((const uint8_t *)"{\"a\":\"\xff\xfe\"}", 10, &obj),
                     -EBADMSG);
    /* Whitespace, escapes and real UTF-8 are fine. */
    assert_int_equal(mogen_frame_parse_body(
                         (const uint8_t *)"{\"a\":\t\"caf\xc3\xa9\\n\"}\r\n", 18, &obj), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(obj, "a")->valuestring, "caf\xc3\xa9\n");
    cJSON_Delete(obj);
}

static void body_is_parsed_within_its_length_only(void **state)
{
    /* The buffer continues past len with bytes that would complete it. */
    const char *text = "{\"a\": 1}";
    cJSON *obj = NULL;
    (void)state;

    assert_int_equal(mogen_frame_parse_body((const uint8_t *)text, 5, &obj), -EBADMSG);
}

static void message_uint_fields_are_checked(void **state)
{
    const char *text = "{\"a\": 5, \"b\": -1, \"c\": 1.5, \"d\": \"7\", \"e\": null, \"f\": 1e300}";
    cJSON *obj = NULL;
    uint64_t v = 42;
    (void)state;

    assert_int_equal(mogen_frame_parse_body((const uint8_t *)text, strlen(text), &obj), 0);
    assert_int_equal(mogen_message_get_uint(obj, "a", 10, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(mogen_message_get_uint(obj, "a", 4, &v), -EINVAL);
    assert_int_equal(mogen_message_get_uint(obj, "b", 10, &v), -EINVAL);
    assert_int_equal(mogen_message_get_uint(obj, "c", 10, &v), -EINVAL);
    assert_int_equal(mogen_message_get_uint(obj, "d", 10, &v), -EINVAL);
    assert_int_equal(mogen_message_get_uint(obj, "e", 10, &v), -ENOENT);
    assert_int_equal(mogen_message_get_uint(obj, "f", MOGEN_JSON_MAX_UINT, &v), -EINVAL);
    assert_int_equal(mogen_message_get_uint(obj, "zz", 10, &v), -ENOENT);
    cJSON_Delete(obj);
}

static void message_string_fields_are_checked(void **state)
{
    const char *text = "{\"stream\": \"train\", \"n\": 1}";
    cJSON *obj = NULL;
    const char *s = NULL;
    (void)state;

    assert_int_equal(mogen_frame_parse_body((const uint8_t *)text, strlen(text), &obj), 0);
    assert_int_equal(mogen_message_get_string(obj, "stream", &s), 0);
    assert_string_equal(s, "train");
    assert_int_equal(mogen_message_get_string(obj, "n", &s), -EINVAL);
    assert_int_equal(mogen_message_get_string(obj, "missing", &s), -ENOENT);
    cJSON_Delete(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_round_trip_keeps_type_and_length),
        cmocka_unit_test(frame_header_is_little_endian_on_the_wire),
        cmocka_unit_test(frame_short_header_needs_more),
        cmocka_unit_test(frame_bad_magic_is_a_protocol_error),
        cmocka_unit_test(frame_unknown_type_is_a_protocol_error),
        cmocka_unit_test(frame_too_long_is_rejected),
        cmocka_unit_test(frame_type_names_match_the_table),
        cmocka_unit_test(body_empty_is_an_empty_object),
        cmocka_unit_test(body_object_with_trailing_whitespace_parses),
        cmocka_unit_test(body_that_is_not_one_object_is_rejected),
        cmocka_unit_test(body_is_parsed_within_its_length_only),
        cmocka_unit_test(message_uint_fields_are_checked),
        cmocka_unit_test(message_string_fields_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
