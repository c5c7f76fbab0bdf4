/*
 * scheduler.c: which rows form batch k of epoch e (see scheduler.h).
 *
 * The shuffled order of an epoch is a Fisher-Yates permutation whose every
 * swap is drawn from rng_u64(seed, epoch, SCHEDULER_RNG_DOMAIN, i): a pure
 * function of (seed, epoch), so any process, at any time, after any restart,
 * computes the same order, and a trainer can resume at (epoch, batch).
 */
#include "scheduler.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "rng.h"

/*
 * The third key word of every shuffle draw. Augmentation draws are keyed by
 * (seed, epoch, row), and rows are 32-bit, so a key above 2^32 ("shuffle"
 * in ASCII) keeps the shuffle's random stream apart from any sample's.
 */
#define SCHEDULER_RNG_DOMAIN UINT64_C(0x73687566666c65)

/*
 * Sets up a scheduler. Returns 0, or -EINVAL when batch_size is 0. The
 * permutation buffer is allocated here once (through mogen_malloc, whose
 * policy on OOM is the daemon's), not per epoch.
 */
int scheduler_init(scheduler_t *s, uint32_t row_count, uint32_t batch_size, int shuffle,
                   int drop_last, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    if (batch_size == 0)
        return -EINVAL;
    s->row_count = row_count;
    s->batch_size = batch_size;
    s->shuffle = shuffle != 0;
    s->drop_last = drop_last != 0;
    s->seed = seed;
    s->cache_valid = 0;
    s->order = NULL;
    if (s->shuffle && row_count > 0)
        s->order = mogen_malloc((size_t)row_count * sizeof *s->order);
    return 0;
}

void scheduler_free(scheduler_t *s)
{
    mogen_free(s->order);
    s->order = NULL;
    s->cache_valid = 0;
}

uint32_t scheduler_batches_per_epoch(const scheduler_t *s)
{
    uint32_t full = s->row_count / s->batch_size;

    if (s->drop_last || s->row_count % s->batch_size == 0)
        return full;
    return full + 1;
}

uint32_t scheduler_batches_for_rank(const scheduler_t *s, uint32_t rank, uint32_t world)
{
    uint32_t n = scheduler_batches_per_epoch(s);

    if (world == 0 || rank >= world)
        return 0;
    return n / world + (rank < n % world ? 1 : 0);
}

/*
 * Fills s->order with the permutation of epoch `epoch`, unless it already
 * holds it. Fisher-Yates from the top: position i swaps with a uniform
 * j in [0, i], drawn from counter i, so the result is uniform over all
 * permutations (rng_below has no modulo bias).
 */
static void scheduler_permute(scheduler_t *s, uint32_t epoch)
{
    uint32_t *order = s->order;

    if (s->cache_valid && s->cached_epoch == epoch)
        return;
    for (uint32_t i = 0; i < s->row_count; i++)
        order[i] = i;
    for (uint32_t i = s->row_count; i-- > 1;) {
        uint32_t j = rng_below(rng_u64(s->seed, epoch, SCHEDULER_RNG_DOMAIN, i), i + 1);
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    s->cached_epoch = epoch;
    s->cache_valid = 1;
}

/*
 * Writes the rows of (epoch, batch) and returns their count: batch_size,
 * fewer for a short last batch, 0 past the end of the epoch. Costs O(rows)
 * the first time an epoch is asked for, O(batch_size) after.
 */
uint32_t scheduler_batch_rows(scheduler_t *s, uint32_t epoch, uint32_t batch, uint32_t *rows)
{
    uint64_t start;
    uint32_t n;

    if (batch >= scheduler_batches_per_epoch(s))
        return 0;
    start = (uint64_t)batch * s->batch_size;
    assert(start < s->row_count);
    n = s->row_count - (uint32_t)start;
    if (n > s->batch_size)
        n = s->batch_size;

    if (!s->shuffle) {
        for (uint32_t i = 0; i < n; i++)
            rows[i] = (uint32_t)start + i;
        return n;
    }
    scheduler_permute(s, epoch);
    memcpy(rows, s->order + start, (size_t)n * sizeof *rows);
    return n;
}
