/*
 * test_scheduler.c: rows per batch, per epoch, per rank.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

/* Collects all rows of one epoch in batch order; returns how many. */
static uint32_t epoch_rows(scheduler_t *s, uint32_t epoch, uint32_t *out)
{
    uint32_t total = 0;
    uint32_t nb = scheduler_batches_per_epoch(s);

    for (uint32_t k = 0; k < nb; k++)
        total += scheduler_batch_rows(s, epoch, k, out + total);
    return total;
}

static void every_row_once_per_epoch(void **state)
{
    const uint32_t n = 1001;
    scheduler_t s;
    uint32_t *rows = calloc(n, sizeof *rows);
    uint8_t *seen = calloc(n, 1);
    (void)state;

    assert_int_equal(scheduler_init(&s, n, 64, 1, 0, 7), 0);
    for (uint32_t e = 0; e < 3; e++) {
        memset(seen, 0, n);
        assert_int_equal(epoch_rows(&s, e, rows), n);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(rows[i] < n);
            assert_int_equal(seen[rows[i]], 0);
            seen[rows[i]] = 1;
        }
    }
    scheduler_free(&s);
    free(rows);
    free(seen);
}

static void same_seed_and_epoch_give_the_same_order(void **state)
{
    const uint32_t n = 500;
    scheduler_t a, b;
    uint32_t *ra = calloc(n, sizeof *ra);
    uint32_t *rb = calloc(n, sizeof *rb);
    uint32_t batch[10];
    (void)state;

    assert_int_equal(scheduler_init(&a, n, 10, 1, 0, 99), 0);
    assert_int_equal(scheduler_init(&b, n, 10, 1, 0, 99), 0);
    assert_int_equal(epoch_rows(&a, 4, ra), n);
    /* b visits other epochs first: the cache must not leak into epoch 4. */
    assert_int_equal(epoch_rows(&b, 3, rb), n);
    assert_int_equal(epoch_rows(&b, 4, rb), n);
    assert_memory_equal(ra, rb, n * sizeof *ra);
    /* Asking out of order, after moving away, gives the same batch. */
    assert_int_equal(scheduler_batch_rows(&b, 0, 0, batch), 10);
    assert_int_equal(scheduler_batch_rows(&b, 4, 17, batch), 10);
    assert_memory_equal(batch, ra + 170, sizeof batch);
    scheduler_free(&a);
    scheduler_free(&b);
    free(ra);
    free(rb);
}

static void different_epochs_and_seeds_differ(void **state)
{
    const uint32_t n = 200;
    scheduler_t a, b;
    uint32_t *r0 = calloc(n, sizeof *r0);
    uint32_t *r1 = calloc(n, sizeof *r1);
    uint32_t *r2 = calloc(n, sizeof *r2);
    (void)state;

    assert_int_equal(scheduler_init(&a, n, 32, 1, 0, 1), 0);
    assert_int_equal(scheduler_init(&b, n, 32, 1, 0, 2), 0);
    epoch_rows(&a, 0, r0);
    epoch_rows(&a, 1, r1);
    epoch_rows(&b, 0, r2);
    assert_memory_not_equal(r0, r1, n * sizeof *r0);
    assert_memory_not_equal(r0, r2, n * sizeof *r0);
    scheduler_free(&a);
    scheduler_free(&b);
    free(r0);
    free(r1);
    free(r2);
}

static void no_shuffle_is_file_order(void **state)
{
    scheduler_t s;
    uint32_t rows[4];
    (void)state;

    assert_int_equal(scheduler_init(&s, 10, 4, 0, 0, 1), 0);
    assert_null(s.order);
    assert_int_equal(scheduler_batch_rows(&s, 5, 1, rows), 4);
    assert_int_equal(rows[0], 4);
    assert_int_equal(rows[3], 7);
    scheduler_free(&s);
}

static void last_batch_is_short(void **state)
{
    scheduler_t s;
    uint32_t rows[4];
    (void)state;

    assert_int_equal(scheduler_init(&s, 10, 4, 0, 0, 1), 0);
    assert_int_equal(scheduler_batches_per_epoch(&s), 3);
    assert_int_equal(scheduler_batch_rows(&s, 0, 2, rows), 2);
    assert_int_equal(rows[0], 8);
    assert_int_equal(rows[1], 9);
    assert_int_equal(scheduler_batch_rows(&s, 0, 3, rows), 0);
    scheduler_free(&s);
}

static void last_batch_is_dropped_with_drop_last(void **state)
{
    scheduler_t s;
    uint32_t rows[4];
    (void)state;

    assert_int_equal(scheduler_init(&s, 10, 4, 1, 1, 1), 0);
    assert_int_equal(scheduler_batches_per_epoch(&s), 2);
    assert_int_equal(scheduler_batch_rows(&s, 0, 1, rows), 4);
    assert_int_equal(scheduler_batch_rows(&s, 0, 2, rows), 0);
    scheduler_free(&s);

    /* Fewer rows than one batch: nothing to serve. */
    assert_int_equal(scheduler_init(&s, 3, 4, 1, 1, 1), 0);
    assert_int_equal(scheduler_batches_per_epoch(&s), 0);
    assert_int_equal(scheduler_batches_for_rank(&s, 0, 1), 0);
    scheduler_free(&s);

    /* An exact multiple loses nothing either way. */
    assert_int_equal(scheduler_init(&s, 12, 4, 0, 1, 1), 0);
    assert_int_equal(scheduler_batches_per_epoch(&s), 3);
    scheduler_free(&s);
}

static void rank_partition_is_disjoint_and_complete(void **state)
{
    scheduler_t s;
    const uint32_t world = 3;
    uint32_t total = 0;
    (void)state;

    /* 23 rows in batches of 2: 12 batches, the last one short. */
    assert_int_equal(scheduler_init(&s, 23, 2, 1, 0, 5), 0);
    for (uint32_t epoch = 0; epoch < 2; epoch++) {
        uint8_t seen[23] = {0};
        uint32_t count = 0;
        for (uint32_t rank = 0; rank < world; rank++) {
            uint32_t mine = 0;
            for (uint32_t k = rank; k < scheduler_batches_per_epoch(&s); k += world) {
                uint32_t rows[2];
                uint32_t n = scheduler_batch_rows(&s, epoch, k, rows);
                for (uint32_t i = 0; i < n; i++) {
                    assert_int_equal(seen[rows[i]], 0);
                    seen[rows[i]] = 1;
                    count++;
                }
                mine++;
            }
            assert_int_equal(mine, scheduler_batches_for_rank(&s, rank, world));
        }
        assert_int_equal(count, 23);
    }
    for (uint32_t rank = 0; rank < world; rank++)
        total += scheduler_batches_for_rank(&s, rank, world);
    assert_int_equal(total, scheduler_batches_per_epoch(&s));
    assert_int_equal(scheduler_batches_for_rank(&s, 0, 3), 4);
    assert_int_equal(scheduler_batches_for_rank(&s, 3, 3), 0); /* Rank out of range. */
    assert_int_equal(scheduler_batches_for_rank(&s, 0, 0), 0);
    scheduler_free(&s);
}

static void zero_rows_give_zero_batches(void **state)
{
    scheduler_t s;
    uint32_t rows[4];
    (void)state;

    assert_int_equal(scheduler_init(&s, 0, 4, 1, 0, 1), 0);
    assert_int_equal(scheduler_batches_per_epoch(&s), 0);
    assert_int_equal(scheduler_batch_rows(&s, 0, 0, rows), 0);
    scheduler_free(&s);
}

static void zero_batch_size_is_refused(void **state)
{
    scheduler_t s;
    (void)state;

    assert_int_equal(scheduler_init(&s, 10, 0, 1, 0, 1), -EINVAL);
    scheduler_free(&s);
}

static void one_row_shuffles_to_itself(void **state)
{
    scheduler_t s;
    uint32_t rows[8];
    (void)state;

    assert_int_equal(scheduler_init(&s, 1, 8, 1, 0, 1), 0);
    assert_int_equal(scheduler_batch_rows(&s, 3, 0, rows), 1);
    assert_int_equal(rows[0], 0);
    scheduler_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_once_per_epoch),
        cmocka_unit_test(same_seed_and_epoch_give_the_same_order),
        cmocka_unit_test(different_epochs_and_seeds_differ),
        cmocka_unit_test(no_shuffle_is_file_order),
        cmocka_unit_test(last_batch_is_short),
        cmocka_unit_test(last_batch_is_dropped_with_drop_last),
        cmocka_unit_test(rank_partition_is_disjoint_and_complete),
        cmocka_unit_test(zero_rows_give_zero_batches),
        cmocka_unit_test(zero_batch_size_is_refused),
        cmocka_unit_test(one_row_shuffles_to_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
