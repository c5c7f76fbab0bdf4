/*
 * labels.h: label vocabularies: interning cell strings to dense ids, then
 * sorting the distinct names into the class order every stream shares.
 *
 * Pure: no I/O. dataset.c interns every label cell of every stream into one
 * labels_t per output (ids in first-seen order), then calls labels_sort() to
 * get each id's class index in byte (strcmp) order and rewrites its rows.
 * Names live in one arena; the hash table stores ids, not pointers, so the
 * arena may move as it grows.
 */
#ifndef MOGEN_LABELS_H
#define MOGEN_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct labels {
    char *arena;          /* Every distinct name, NUL-terminated, back to back. */
    size_t arena_size;    /* Bytes in use. */
    size_t arena_cap;     /* Bytes allocated. */
    uint64_t *offset;     /* count entries: where each id's name starts in arena. */
    uint32_t *hash;       /* count entries: each id's hash, kept for rehashing. */
    uint32_t count;       /* Distinct names interned so far. */
    uint32_t cap;         /* Entries allocated in offset and hash. */
    uint32_t *slots;      /* Open addressing: id + 1, or 0 when empty. */
    uint32_t slot_count;  /* A power of two, at least twice count. */
} labels_t;

void labels_init(labels_t *l);
void labels_free(labels_t *l);

/* Returns the id of the len bytes at s, adding them when new. */
uint32_t labels_intern(labels_t *l, const char *s, size_t len);

/* Returns the id of the len bytes at s, or -1 when they were never interned. */
int64_t labels_find(const labels_t *l, const char *s, size_t len);

static inline const char *labels_name(const labels_t *l, uint32_t id)
{
    return l->arena + l->offset[id];
}

/*
 * Sorts the names in byte order (strcmp). Returns a new array of count
 * entries, owned by the caller (mogen_free), that gives each id its index in
 * sorted order; NULL when count is 0.
 */
uint32_t *labels_sort(const labels_t *l);

/*
 * Returns 1 when a cell means "no label": empty, only whitespace, or "nan"
 * in any case (what pandas writes for a missing value after astype(str)).
 * Such a cell never becomes a class.
 */
int labels_is_blank(const char *s, size_t len);

/* Writes where name i is first used ("train.csv:12") into out, or "". */
typedef void (*labels_where_fn)(void *ctx, uint32_t i, char *out, size_t outlen);

/*
 * Adds a warning to rep for every two of the count names that differ only
 * by surrounding whitespace ("T-Shirt" and "T-Shirt "): they are distinct
 * classes, which is seldom what the data meant. what names the output in the
 * message; where (may be NULL) adds where each of the two is first used.
 * Returns the number of warnings added.
 */
int labels_warn_whitespace(char *const *names, uint32_t count, const char *what,
                           labels_where_fn where, void *ctx, report_t *rep);

#endif
