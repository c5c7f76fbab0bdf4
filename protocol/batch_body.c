/*
 * batch_body.c: reads a BATCH body without building a cJSON tree (see
 * batch_body.h). Every function returns 0 at the first thing it does not
 * expect; nothing here reports errors, since a body refused here is parsed
 * again, completely, by cJSON.
 */
#include <string.h>

#include "batch_body.h"

/* The fields read, in the order of their bits in `seen`. */
static const char *const batch_body_fields[] = {"slot", "epoch", "batch", "size"};
#define BATCH_BODY_FIELD_COUNT 4
#define BATCH_BODY_ALL_FIELDS ((1u << BATCH_BODY_FIELD_COUNT) - 1u)
#define BATCH_BODY_ERRORS_SEEN (1u << BATCH_BODY_FIELD_COUNT)

typedef struct batch_body_reader {
    const char *at;
    const char *end;
} batch_body_reader_t;

static int batch_body_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips JSON whitespace (cJSON skips more; a body with more goes to it). */
static void batch_body_skip_space(batch_body_reader_t *r)
{
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r'))
        r->at++;
}

/* Takes the character c after any whitespace; returns 1 if it was there. */
static int batch_body_take(batch_body_reader_t *r, char c)
{
    batch_body_skip_space(r);
    if (r->at < r->end && *r->at == c) {
        r->at++;
        return 1;
    }
    return 0;
}

/* Reads a key: an ASCII string with no escape and no control character
 * (anything else is left to cJSON and the UTF-8 check before it). */
static int batch_body_key(batch_body_reader_t *r, const char **key, size_t *len)
{
    const char *start;

    if (!batch_body_take(r, '"'))
        return 0;
    start = r->at;
    while (r->at < r->end && *r->at != '"') {
        if (*r->at == '\\' || (unsigned char)*r->at < 0x20 || (unsigned char)*r->at >= 0x80)
            return 0;
        r->at++;
    }
    if (r->at == r->end)
        return 0;
    *key = start;
    *len = (size_t)(r->at - start);
    r->at++;
    return 1;
}

/* Reads an unsigned integer in JSON's form (no leading zero, no fraction,
 * no exponent) of at most MOGEN_BATCH_BODY_MAX_DIGITS digits. */
static int batch_body_uint(batch_body_reader_t *r, uint64_t *out)
{
    uint64_t v = 0;
    size_t digits = 0;

    batch_body_skip_space(r);
    if (r->end - r->at >= 2 && r->at[0] == '0' && batch_body_is_digit(r->at[1]))
        return 0;
    while (r->at < r->end && batch_body_is_digit(*r->at)) {
        if (++digits > MOGEN_BATCH_BODY_MAX_DIGITS)
            return 0;
        v = v * 10u + (uint64_t)(*r->at - '0');
        r->at++;
    }
    if (digits == 0)
        return 0;
    if (r->at < r->end && (*r->at == '.' || *r->at == 'e' || *r->at == 'E'))
        return 0;
    *out = v;
    return 1;
}

/* Returns the index of the field named key[0..len), or -1. */
static int batch_body_field(const char *key, size_t len)
{
    for (int i = 0; i < BATCH_BODY_FIELD_COUNT; i++) {
        if (strlen(batch_body_fields[i]) == len && memcmp(batch_body_fields[i], key, len) == 0)
            return i;
    }
    return -1;
}

int mogen_batch_body_read(const char *body, size_t len, mogen_batch_body_t *out)
{
    batch_body_reader_t r = {body, body + len};
    uint64_t values[BATCH_BODY_FIELD_COUNT] = {0};
    unsigned seen = 0;

    if (!batch_body_take(&r, '{') || batch_body_take(&r, '}'))
        return 0;
    do {
        const char *key;
        size_t key_len;
        uint64_t value;
        int field;

        if (!batch_body_key(&r, &key, &key_len) || !batch_body_take(&r, ':'))
            return 0;
        if (key_len == 6 && memcmp(key, "errors", 6) == 0) {
            if ((seen & BATCH_BODY_ERRORS_SEEN) || !batch_body_take(&r, '[') ||
                !batch_body_take(&r, ']'))
                return 0;
            seen |= BATCH_BODY_ERRORS_SEEN;
            continue; /* To the loop's condition: a comma, or the end. */
        }
        if (!batch_body_uint(&r, &value))
            return 0;
        field = batch_body_field(key, key_len);
        if (field < 0)
            continue; /* Another key: its value is read, and skipped. */
        if (seen & (1u << field))
            return 0; /* A repeated field: cJSON keeps the first; not worth copying. */
        seen |= 1u << field;
        values[field] = value;
    } while (batch_body_take(&r, ','));
    if (!batch_body_take(&r, '}'))
        return 0;
    batch_body_skip_space(&r);
    if (r.at != r.end || (seen & BATCH_BODY_ALL_FIELDS) != BATCH_BODY_ALL_FIELDS)
        return 0;
    out->slot = values[0];
    out->epoch = values[1];
    out->batch = values[2];
    out->size = values[3];
    return 1;
}
