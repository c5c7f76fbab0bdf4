/*
 * fuzz_frame.c: libFuzzer target for the frame reader.
 *
 * The input is treated as bytes arriving on a socket. A small incremental
 * reader, shaped like the daemon's, takes them in chunks whose sizes come
 * from the input itself (so partial headers and bodies split across reads
 * are exercised), decodes each header, refuses oversized bodies, and parses
 * every complete body with mogen_frame_parse_body, reading the fields the
 * daemon reads. Every body also goes through the client's BATCH reader
 * (batch_body.c): whenever that reader takes a body, cJSON must read the
 * same four numbers from it and find no failure listed. Any crash, leak or
 * sanitizer report is a bug; invariants the readers rely on are checked
 * with abort().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_body.h"
#include "frame.h"
#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reader's buffer: one header plus the largest request body. */
#define FUZZ_BUF_SIZE (MOGEN_FRAME_HEADER_SIZE + MOGEN_FRAME_MAX_REQUEST)

static uint8_t fuzz_buf[FUZZ_BUF_SIZE];

/* Aborts unless obj[key] reads as the integer v. */
static void fuzz_expect_uint(const cJSON *obj, const char *key, uint64_t v)
{
    uint64_t got;

    if (mogen_message_get_uint(obj, key, MOGEN_JSON_MAX_UINT, &got) != 0 || got != v)
        abort();
}

/* When the BATCH reader takes body, cJSON must agree with it. */
static void fuzz_batch_body(const uint8_t *body, size_t len)
{
    mogen_batch_body_t b;
    const cJSON *errors;
    cJSON *obj = NULL;

    if (mogen_batch_body_read((const char *)body, len, &b) != 1)
        return;
    if (mogen_frame_parse_body(body, len, &obj) != 0)
        abort();
    fuzz_expect_uint(obj, "slot", b.slot);
    fuzz_expect_uint(obj, "epoch", b.epoch);
    fuzz_expect_uint(obj, "batch", b.batch);
    fuzz_expect_uint(obj, "size", b.size);
    errors = cJSON_GetObjectItemCaseSensitive(obj, "errors");
    if (errors != NULL && (!cJSON_IsArray(errors) || cJSON_GetArraySize(errors) != 0))
        abort();
    cJSON_Delete(obj);
}

/* Reads the fields of a request body as the daemon would. */
static void fuzz_body(uint16_t type, const uint8_t *body, size_t len)
{
    cJSON *obj = NULL;
    uint64_t u = 0;
    const char *s = NULL;
    int rc;

    fuzz_batch_body(body, len);
    rc = mogen_frame_parse_body(body, len, &obj);

    if (rc != 0) {
        if (obj != NULL)
            abort();
        return;
    }
    if (!cJSON_IsObject(obj))
        abort();
    (void)mogen_msg_type_name(type);
    (void)mogen_message_get_uint(obj, "version", MOGEN_JSON_MAX_UINT, &u);
    (void)mogen_message_get_uint(obj, "slot", UINT32_MAX, &u);
    (void)mogen_message_get_uint(obj, "rank", UINT32_MAX, &u);
    if (mogen_message_get_string(obj, "stream", &s) == 0 && s == NULL)
        abort();
    cJSON_Delete(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t have = 0; /* Bytes buffered. */
    size_t pos = 0;  /* Bytes of input consumed. */

    while (pos < size) {
        /* The first byte of each read chooses its size (1..256 bytes). */
        size_t chunk = (size_t)data[pos] + 1;
        pos++;
        if (chunk > size - pos)
            chunk = size - pos;
        if (chunk > FUZZ_BUF_SIZE - have)
            chunk = FUZZ_BUF_SIZE - have;
        memcpy(fuzz_buf + have, data + pos, chunk);
        have += chunk;
        pos += chunk;

        for (;;) {
            mogen_frame_header_t hdr;
            uint8_t again[MOGEN_FRAME_HEADER_SIZE];
            int rc = mogen_frame_decode_header(fuzz_buf, have, MOGEN_FRAME_MAX_REQUEST, &hdr);

            if (rc < 0)
                return 0; /* The daemon answers ERROR and closes. */
            if (rc == 0)
                break;
            if (hdr.length > MOGEN_FRAME_MAX_REQUEST)
                abort();
            /* Re-encoding a decoded header gives back the same bytes. */
            mogen_frame_encode_header(again, hdr.type, hdr.length);
            if (memcmp(again, fuzz_buf, sizeof again) != 0)
                abort();
            if (have < MOGEN_FRAME_HEADER_SIZE + (size_t)hdr.length)
                break;
            fuzz_body(hdr.type, fuzz_buf + MOGEN_FRAME_HEADER_SIZE, hdr.length);
            size_t used = MOGEN_FRAME_HEADER_SIZE + (size_t)hdr.length;
            memmove(fuzz_buf, fuzz_buf + used, have - used);
            have -= used;
        }
        if (have == FUZZ_BUF_SIZE)
            abort(); /* A full buffer always holds a complete frame. */
    }
    return 0;
}
