/*
 * scheduler.h: which rows form batch k of epoch e of a stream.
 *
 * Pure logic, no I/O. The order of rows in epoch e is file order when the
 * stream does not shuffle, else a permutation that depends only on
 * (seed, e); batch k is rows [k*B, k*B + B) of that order. The permutation
 * of the most recent epoch asked for is cached, so asking for consecutive
 * batches costs O(B) each and a new epoch O(rows) once.
 */
#ifndef MOGEN_SCHEDULER_H
#define MOGEN_SCHEDULER_H

#include <stdint.h>

typedef struct scheduler {
    uint32_t row_count;   /* Rows in the stream. */
    uint32_t batch_size;  /* B > 0. */
    int shuffle;          /* 0 = file order. */
    int drop_last;        /* 1 = a short last batch is not served. */
    uint64_t seed;
    uint32_t cached_epoch; /* Epoch whose permutation is in order[]. */
    int cache_valid;
    uint32_t *order;      /* row_count entries when shuffling, else NULL. */
} scheduler_t;

/* Returns 0 or -ENOMEM. batch_size must be > 0. */
int scheduler_init(scheduler_t *s, uint32_t row_count, uint32_t batch_size, int shuffle,
                   int drop_last, uint64_t seed);
void scheduler_free(scheduler_t *s);

/* Batches in one epoch (0 when there are no rows, or drop_last and rows < B). */
uint32_t scheduler_batches_per_epoch(const scheduler_t *s);

/* Batches of an epoch that rank `rank` of `world` receives: those with
 * k mod world == rank. */
uint32_t scheduler_batches_for_rank(const scheduler_t *s, uint32_t rank, uint32_t world);

/*
 * Writes the rows of batch `batch` of epoch `epoch` to rows (room for
 * batch_size) and returns how many there are (B, or fewer for the last
 * batch). Returns 0 when batch is past the end of the epoch.
 */
uint32_t scheduler_batch_rows(scheduler_t *s, uint32_t epoch, uint32_t batch, uint32_t *rows);

#endif
