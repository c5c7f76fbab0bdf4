/*
 * alloc.h: the daemon's allocation wrappers.
 *
 * Every allocation in the daemon goes through these so that running out of
 * memory is handled in exactly one place: the daemon logs and aborts, since a
 * data loader that silently drops work on OOM is worse than one that stops.
 */
#ifndef MOGEN_ALLOC_H
#define MOGEN_ALLOC_H

#include <stddef.h>

void *mogen_malloc(size_t size);
void *mogen_calloc(size_t count, size_t size);
void *mogen_realloc(void *ptr, size_t size);
/* Grows an array of count elements of size each; aborts on overflow. */
void *mogen_reallocarray(void *ptr, size_t count, size_t size);
char *mogen_strdup(const char *s);
char *mogen_strndup(const char *s, size_t n);
void mogen_free(void *ptr);

#endif
