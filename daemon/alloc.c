/*
 * alloc.c: allocation wrappers with one OOM policy (log, then abort).
 */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void alloc_oom(size_t size)
{
    fprintf(stderr, "mogen: out of memory allocating %zu bytes\n", size);
    abort();
}

void *mogen_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        alloc_oom(size);
    return p;
}

void *mogen_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        alloc_oom(count * size);
    return p;
}

void *mogen_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        alloc_oom(size);
    return p;
}

void *mogen_reallocarray(void *ptr, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        alloc_oom(SIZE_MAX);
    return mogen_realloc(ptr, count * size);
}

char *mogen_strdup(const char *s)
{
    return mogen_strndup(s, strlen(s));
}

char *mogen_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = mogen_malloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void mogen_free(void *ptr)
{
    free(ptr);
}
