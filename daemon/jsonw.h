/*
 * jsonw.h: a JSON text writer for the replies the daemon sends on every
 * round trip (BATCH).
 *
 * cJSON builds a tree (a malloc per node and per key) and prints each
 * number with sprintf("%1.15g") checked by sscanf: about 16,000
 * instructions of the 22,000 the daemon spent per RELEASE + NEXT. This
 * writer appends text straight into one buffer, prints integers digit by
 * digit and escapes strings exactly as cJSON_PrintUnformatted does, so the
 * bytes on the wire are the same (for integers below 10^15, where cJSON
 * switches to exponents; every BATCH number is 32-bit). Separators are placed by the writer:
 * callers only open, name and close.
 *
 * The buffer can leave room at its start (for the frame header), so that the
 * finished text is sent without a copy; see conn_send_json().
 */
#ifndef MOGEN_JSONW_H
#define MOGEN_JSONW_H

#include <stddef.h>
#include <stdint.h>

typedef struct jsonw {
    char *buf;      /* mogen_malloc'd; owned until taken (see conn_send_json). */
    size_t len;     /* Bytes used, the reserved room included. */
    size_t cap;     /* Bytes allocated. */
    size_t start;   /* Reserved bytes before the text. */
    int need_comma; /* 1 after a value: the next value or key needs a ','. */
} jsonw_t;

/* Starts an empty text after `reserve` unused bytes. */
void jsonw_init(jsonw_t *w, size_t reserve);
/* Frees the buffer (if not taken). */
void jsonw_free(jsonw_t *w);
/* The text written so far (not NUL-terminated) and its length. */
const char *jsonw_text(const jsonw_t *w);
size_t jsonw_text_len(const jsonw_t *w);

void jsonw_object_open(jsonw_t *w);
void jsonw_object_close(jsonw_t *w);
void jsonw_array_open(jsonw_t *w);
void jsonw_array_close(jsonw_t *w);
/* Writes "key": inside an object; a value must follow. */
void jsonw_key(jsonw_t *w, const char *key);
void jsonw_uint(jsonw_t *w, uint64_t value);
/* A NUL-terminated string, quoted and escaped. */
void jsonw_string(jsonw_t *w, const char *s);

/* "key": value, the usual member of an object. */
void jsonw_field_uint(jsonw_t *w, const char *key, uint64_t value);
void jsonw_field_string(jsonw_t *w, const char *key, const char *s);

#endif
