/*
 * labels.c: string interning and sorted class vocabularies.
 */
#include "labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* First hash table size; it doubles whenever it is half full. */
#define LABELS_INITIAL_SLOTS 64

void labels_init(labels_t *l)
{
    memset(l, 0, sizeof(*l));
}

void labels_free(labels_t *l)
{
    mogen_free(l->arena);
    mogen_free(l->offset);
    mogen_free(l->hash);
    mogen_free(l->slots);
    labels_init(l);
}

/* FNV-1a: short label strings hash well and quickly with it. */
static uint32_t labels_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Rebuilds the hash table with twice the slots (or the first table). */
static void labels_grow_slots(labels_t *l)
{
    uint32_t n = l->slot_count ? l->slot_count * 2 : LABELS_INITIAL_SLOTS;
    uint32_t *slots = mogen_calloc(n, sizeof(*slots));

    for (uint32_t id = 0; id < l->count; id++) {
        uint32_t i = l->hash[id] & (n - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    mogen_free(l->slots);
    l->slots = slots;
    l->slot_count = n;
}

/* Returns the slot holding s, or the empty slot where it would go. */
static uint32_t labels_probe(const labels_t *l, const char *s, size_t len, uint32_t h)
{
    uint32_t i = h & (l->slot_count - 1);

    for (;;) {
        uint32_t id1 = l->slots[i];
        if (id1 == 0)
            return i;
        if (l->hash[id1 - 1] == h) {
            const char *name = labels_name(l, id1 - 1);
            if (strncmp(name, s, len) == 0 && name[len] == '\0')
                return i;
        }
        i = (i + 1) & (l->slot_count - 1);
    }
}

int64_t labels_find(const labels_t *l, const char *s, size_t len)
{
    uint32_t slot;

    if (l->slot_count == 0)
        return -1;
    slot = labels_probe(l, s, len, labels_hash(s, len));
    return l->slots[slot] ? (int64_t)l->slots[slot] - 1 : -1;
}

uint32_t labels_intern(labels_t *l, const char *s, size_t len)
{
    uint32_t h = labels_hash(s, len);
    uint32_t slot;
    uint32_t id;

    if (l->slot_count == 0 || (uint64_t)(l->count + 1) * 2 > l->slot_count)
        labels_grow_slots(l);
    slot = labels_probe(l, s, len, h);
    if (l->slots[slot] != 0)
        return l->slots[slot] - 1;

    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->offset = mogen_reallocarray(l->offset, l->cap, sizeof(*l->offset));
        l->hash = mogen_reallocarray(l->hash, l->cap, sizeof(*l->hash));
    }
    if (l->arena_size + len + 1 > l->arena_cap) {
        size_t cap = l->arena_cap ? l->arena_cap : 256;
        while (cap < l->arena_size + len + 1)
            cap *= 2;
        l->arena = mogen_realloc(l->arena, cap);
        l->arena_cap = cap;
    }
    id = l->count++;
    l->offset[id] = l->arena_size;
    l->hash[id] = h;
    memcpy(l->arena + l->arena_size, s, len);
    l->arena[l->arena_size + len] = '\0';
    l->arena_size += len + 1;
    l->slots[slot] = id + 1;
    return id;
}

/* One name to sort, with the id it came from. */
typedef struct labels_entry {
    const char *name;
    uint32_t id;
} labels_entry_t;

static int labels_entry_cmp(const void *a, const void *b)
{
    const labels_entry_t *x = a;
    const labels_entry_t *y = b;
    return strcmp(x->name, y->name);
}

uint32_t *labels_sort(const labels_t *l)
{
    labels_entry_t *entries;
    uint32_t *rank;

    if (l->count == 0)
        return NULL;
    entries = mogen_reallocarray(NULL, l->count, sizeof(*entries));
    for (uint32_t id = 0; id < l->count; id++) {
        entries[id].name = labels_name(l, id);
        entries[id].id = id;
    }
    /* Names are distinct, so the unstable qsort gives one order only. */
    qsort(entries, l->count, sizeof(*entries), labels_entry_cmp);
    rank = mogen_reallocarray(NULL, l->count, sizeof(*rank));
    for (uint32_t i = 0; i < l->count; i++)
        rank[entries[i].id] = i;
    mogen_free(entries);
    return rank;
}

/* ASCII whitespace, as isspace() in the C locale, without the locale. */
static int labels_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int labels_is_blank(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && labels_is_space(s[i]))
        i++;
    if (i == len)
        return 1;
    while (len > i && labels_is_space(s[len - 1]))
        len--;
    return len - i == 3 && (s[i] == 'n' || s[i] == 'N') && (s[i + 1] == 'a' || s[i + 1] == 'A') &&
           (s[i + 2] == 'n' || s[i + 2] == 'N');
}

int labels_warn_whitespace(char *const *names, uint32_t count, const char *what,
                           labels_where_fn where, void *ctx, report_t *rep)
{
    labels_t trimmed;
    uint32_t *first;
    int warnings = 0;

    labels_init(&trimmed);
    first = mogen_reallocarray(NULL, count ? count : 1, sizeof(*first));
    for (uint32_t i = 0; i < count; i++) {
        const char *s = names[i];
        size_t len = strlen(s);
        uint32_t before;
        uint32_t id;

        while (len > 0 && labels_is_space(*s)) {
            s++;
            len--;
        }
        while (len > 0 && labels_is_space(s[len - 1]))
            len--;
        before = trimmed.count;
        id = labels_intern(&trimmed, s, len);
        if (trimmed.count > before) {
            /* A new trimmed form: remember the first name that had it. */
            first[id] = i;
            continue;
        }
        char at_first[160] = "", at_this[160] = "", seen[400] = "";
        if (where != NULL) {
            where(ctx, first[id], at_first, sizeof(at_first));
            where(ctx, i, at_this, sizeof(at_this));
        }
        if (at_first[0] != '\0' && at_this[0] != '\0')
            snprintf(seen, sizeof(seen), " (first seen at %s and %s)", at_first, at_this);
        report_warning(rep, "%s: values \"%s\" and \"%s\"%s differ only by surrounding "
                       "whitespace; they are different classes",
                       what, names[first[id]], names[i], seen);
        warnings++;
    }
    mogen_free(first);
    labels_free(&trimmed);
    return warnings;
}
