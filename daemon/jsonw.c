/*
 * jsonw.c: JSON text written straight into one buffer (see jsonw.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "jsonw.h"

/* First allocation: a BATCH without failed samples is about 60 bytes, so
 * the usual reply never grows the buffer. */
#define JSONW_INITIAL_CAP 256

void jsonw_init(jsonw_t *w, size_t reserve)
{
    w->cap = reserve + JSONW_INITIAL_CAP;
    w->buf = mogen_malloc(w->cap);
    w->len = reserve;
    w->start = reserve;
    w->need_comma = 0;
}

void jsonw_free(jsonw_t *w)
{
    mogen_free(w->buf);
    w->buf = NULL;
    w->len = w->cap = w->start = 0;
}

const char *jsonw_text(const jsonw_t *w)
{
    return w->buf + w->start;
}

size_t jsonw_text_len(const jsonw_t *w)
{
    return w->len - w->start;
}

/* Makes room for `more` bytes, doubling the buffer; the daemon's allocator
 * aborts on OOM, and so does a size that doubling would wrap. What is
 * written is bounded by its callers (a BATCH lists at most one failure per
 * sample, each with a path and a reason of bounded length). */
static void jsonw_reserve(jsonw_t *w, size_t more)
{
    size_t cap = w->cap;

    if (cap - w->len >= more)
        return;
    while (cap - w->len < more) {
        if (cap > SIZE_MAX / 2)
            abort();
        cap *= 2;
    }
    w->buf = mogen_realloc(w->buf, cap);
    w->cap = cap;
}

static void jsonw_raw(jsonw_t *w, const char *s, size_t n)
{
    jsonw_reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void jsonw_char(jsonw_t *w, char c)
{
    jsonw_reserve(w, 1);
    w->buf[w->len++] = c;
}

/* Writes the ',' that a value or key needs after an earlier one. */
static void jsonw_separate(jsonw_t *w)
{
    if (w->need_comma)
        jsonw_char(w, ',');
    w->need_comma = 0;
}

void jsonw_object_open(jsonw_t *w)
{
    jsonw_separate(w);
    jsonw_char(w, '{');
}

void jsonw_object_close(jsonw_t *w)
{
    jsonw_char(w, '}');
    w->need_comma = 1;
}

void jsonw_array_open(jsonw_t *w)
{
    jsonw_separate(w);
    jsonw_char(w, '[');
}

void jsonw_array_close(jsonw_t *w)
{
    jsonw_char(w, ']');
    w->need_comma = 1;
}

void jsonw_uint(jsonw_t *w, uint64_t value)
{
    char digits[20]; /* UINT64_MAX has 20. */
    size_t n = 0;

    jsonw_separate(w);
    do {
        digits[sizeof digits - ++n] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    jsonw_raw(w, digits + sizeof digits - n, n);
    w->need_comma = 1;
}

/* The letter of c's two-byte escape (\n for a line feed, ...), or 0 when c
 * is written as \u00xx. */
static char jsonw_short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

/*
 * Quotes and escapes s as cJSON_PrintUnformatted does, byte for byte:
 * '"', '\\' and \b \f \n \r \t by their short escapes, other bytes below
 * 0x20 as \u00xx (lower-case hex), everything else (UTF-8 included) as is.
 */
void jsonw_string(jsonw_t *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;

    jsonw_separate(w);
    jsonw_char(w, '"');
    for (;;) {
        const unsigned char *run = p;
        char letter;

        while (*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        jsonw_raw(w, (const char *)run, (size_t)(p - run));
        if (*p == '\0')
            break;
        letter = jsonw_short_escape(*p);
        if (letter != 0) {
            char esc[2] = {'\\', letter};
            jsonw_raw(w, esc, sizeof esc);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 0xf]};
            jsonw_raw(w, esc, sizeof esc);
        }
        p++;
    }
    jsonw_char(w, '"');
    w->need_comma = 1;
}

void jsonw_key(jsonw_t *w, const char *key)
{
    jsonw_string(w, key);
    jsonw_char(w, ':');
    w->need_comma = 0;
}

void jsonw_field_uint(jsonw_t *w, const char *key, uint64_t value)
{
    jsonw_key(w, key);
    jsonw_uint(w, value);
}

void jsonw_field_string(jsonw_t *w, const char *key, const char *s)
{
    jsonw_key(w, key);
    jsonw_string(w, s);
}
