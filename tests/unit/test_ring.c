/*
 * test_ring.c: the slot layout, the shared memory behind it, and slot
 * state transitions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ring.h"

/* A layout like a real stream's: odd sizes so that alignment matters. */
static void make_layout(ring_layout_t *layout, uint64_t batch)
{
    const uint64_t x[] = {batch, 7, 5, 3};
    const uint64_t y[] = {batch, 13};
    const uint64_t idx[] = {batch};

    ring_layout_init(layout);
    ring_layout_add(layout, "x", TENSOR_UINT8, 4, x);
    ring_layout_add(layout, "category_output", TENSOR_FLOAT32, 2, y);
    ring_layout_add(layout, "kids_output", TENSOR_INT32, 1, idx);
    ring_layout_add(layout, "row_ids", TENSOR_INT64, 1, idx);
    ring_layout_add(layout, "errors", TENSOR_UINT8, 1, idx);
}

static int create_memfd_ring(ring_t *ring, uint32_t slots)
{
    ring_layout_t layout;
    char err[256];
    int rc;

    make_layout(&layout, 3);
    rc = ring_create(ring, "train", &layout, slots, NULL, 0600, err, sizeof err);
    if (rc != 0)
        ring_layout_free(&layout);
    return rc;
}

static void layout_tensors_are_aligned_and_disjoint(void **state)
{
    ring_layout_t layout;
    uint64_t end = 0;
    (void)state;

    make_layout(&layout, 3);
    assert_int_equal(layout.count, 5);
    for (size_t i = 0; i < layout.count; i++) {
        const ring_tensor_t *t = &layout.tensors[i];
        assert_int_equal(t->offset % RING_ALIGN, 0);
        assert_true(t->offset >= end);
        end = t->offset + t->bytes;
    }
    assert_true(layout.slot_size >= end);
    assert_int_equal(layout.slot_size % RING_ALIGN, 0);
    assert_true(layout.slot_size < end + RING_ALIGN);
    ring_layout_free(&layout);
}

static void layout_bytes_are_shape_times_dtype(void **state)
{
    ring_layout_t layout;
    (void)state;

    make_layout(&layout, 3);
    assert_int_equal(layout.tensors[0].bytes, 3 * 7 * 5 * 3);
    assert_int_equal(layout.tensors[1].bytes, 3 * 13 * 4);
    assert_int_equal(layout.tensors[2].bytes, 3 * 4);
    assert_int_equal(layout.tensors[3].bytes, 3 * 8);
    assert_int_equal(layout.tensors[4].bytes, 3);
    assert_int_equal(layout.tensors[0].offset, 0);
    assert_int_equal(layout.tensors[1].offset, 320); /* 315 rounded up. */
    ring_layout_free(&layout);
}

static void layout_find_by_name(void **state)
{
    ring_layout_t layout;
    (void)state;

    make_layout(&layout, 2);
    assert_int_equal(ring_layout_find(&layout, "x"), 0);
    assert_int_equal(ring_layout_find(&layout, "row_ids"), 3);
    assert_int_equal(ring_layout_find(&layout, "nope"), -1);
    ring_layout_free(&layout);
    assert_null(layout.tensors);
    assert_int_equal(layout.count, 0);
}

static void dtype_names_and_sizes(void **state)
{
    (void)state;
    assert_int_equal(tensor_dtype_size(TENSOR_UINT8), 1);
    assert_int_equal(tensor_dtype_size(TENSOR_INT32), 4);
    assert_int_equal(tensor_dtype_size(TENSOR_INT64), 8);
    assert_int_equal(tensor_dtype_size(TENSOR_FLOAT32), 4);
    assert_string_equal(tensor_dtype_name(TENSOR_FLOAT32), "float32");
    assert_string_equal(tensor_dtype_name(TENSOR_DTYPE_MAX), "unknown");
    assert_int_equal(tensor_dtype_from_name("int64"), TENSOR_INT64);
    assert_int_equal(tensor_dtype_from_name("float64"), -EINVAL);
}

static void ring_slots_are_aligned_in_the_mapping(void **state)
{
    ring_t ring;
    (void)state;

    assert_int_equal(create_memfd_ring(&ring, 4), 0);
    assert_true(ring.fd >= 0);
    assert_int_equal(ring.size, 4 * ring.layout.slot_size);
    assert_int_equal((uintptr_t)ring.base % RING_ALIGN, 0);
    for (uint32_t s = 0; s < ring.slot_count; s++) {
        for (size_t t = 0; t < ring.layout.count; t++)
            assert_int_equal((uintptr_t)ring_slot_tensor(&ring, s, t) % RING_ALIGN, 0);
    }
    /* The whole mapping is writable, last byte included. */
    ring.base[ring.size - 1] = 0xab;
    ring_destroy(&ring);
    assert_int_equal(ring.fd, -1);
    assert_null(ring.base);
}

static void ring_transitions_follow_the_slot_life(void **state)
{
    ring_t ring;
    (void)state;

    assert_int_equal(create_memfd_ring(&ring, 3), 0);
    assert_int_equal(ring_count_state(&ring, SLOT_FREE), 3);

    ring_slot_begin_fill(&ring, 1, 2, 7, 5);
    assert_int_equal(ring.slots[1].state, SLOT_FILLING);
    assert_int_equal(ring.slots[1].epoch, 2);
    assert_int_equal(ring.slots[1].batch, 7);
    assert_int_equal(ring.slots[1].generation, 5);

    ring_slot_finish_fill(&ring, 1, 3);
    assert_int_equal(ring.slots[1].state, SLOT_READY);
    assert_int_equal(ring.slots[1].sample_count, 3);

    ring_slot_lease(&ring, 1, 42);
    assert_int_equal(ring.slots[1].state, SLOT_LEASED);
    assert_int_equal(ring.slots[1].lease_owner, 42);

    ring_slot_release(&ring, 1);
    assert_int_equal(ring.slots[1].state, SLOT_FREE);
    assert_int_equal(ring.slots[1].lease_owner, 0);

    ring_slot_begin_fill(&ring, 0, 0, 0, 1);
    ring_slot_discard(&ring, 0);
    assert_int_equal(ring.slots[0].state, SLOT_FREE);
    ring_slot_begin_fill(&ring, 0, 0, 0, 1);
    ring_slot_finish_fill(&ring, 0, 1);
    ring_slot_discard(&ring, 0);
    assert_int_equal(ring_count_state(&ring, SLOT_FREE), 3);
    ring_destroy(&ring);
}

static void ring_find_functions(void **state)
{
    ring_t ring;
    (void)state;

    assert_int_equal(create_memfd_ring(&ring, 3), 0);
    assert_int_equal(ring_find_free(&ring), 0);
    assert_int_equal(ring_find_ready(&ring, 0, 0, 0), -1);

    ring_slot_begin_fill(&ring, 0, 1, 4, 9);
    assert_int_equal(ring_find_free(&ring), 1);
    assert_int_equal(ring_find_ready(&ring, 1, 4, 9), -1); /* Still filling. */
    ring_slot_finish_fill(&ring, 0, 3);
    ring_slot_begin_fill(&ring, 1, 1, 5, 9);
    ring_slot_finish_fill(&ring, 1, 3);
    ring_slot_begin_fill(&ring, 2, 1, 6, 9);

    assert_int_equal(ring_find_free(&ring), -1);
    assert_int_equal(ring_find_ready(&ring, 1, 5, 9), 1);
    assert_int_equal(ring_find_ready(&ring, 1, 4, 9), 0);
    assert_int_equal(ring_find_ready(&ring, 1, 4, 8), -1); /* Older generation. */
    assert_int_equal(ring_find_ready(&ring, 2, 4, 9), -1);
    assert_int_equal(ring_count_state(&ring, SLOT_READY), 2);
    assert_int_equal(ring_count_state(&ring, SLOT_FILLING), 1);

    ring_slot_lease(&ring, 0, 7);
    assert_int_equal(ring_find_ready(&ring, 1, 4, 9), -1);
    assert_int_equal(ring_count_state(&ring, SLOT_LEASED), 1);
    ring_destroy(&ring);
}

static void ring_state_names(void **state)
{
    (void)state;
    assert_string_equal(ring_slot_state_name(SLOT_FREE), "free");
    assert_string_equal(ring_slot_state_name(SLOT_FILLING), "filling");
    assert_string_equal(ring_slot_state_name(SLOT_READY), "ready");
    assert_string_equal(ring_slot_state_name(SLOT_LEASED), "leased");
    assert_string_equal(ring_slot_state_name(SLOT_STATE_MAX), "unknown");
}

static void ring_data_is_shared_with_a_second_mapping(void **state)
{
    ring_t ring;
    uint8_t *view;
    uint8_t *t;
    (void)state;

    assert_int_equal(create_memfd_ring(&ring, 2), 0);
    /* A client maps the fd it was sent, read-only. */
    view = mmap(NULL, ring.size, PROT_READ, MAP_SHARED, ring.fd, 0);
    assert_true(view != MAP_FAILED);
    t = ring_slot_tensor(&ring, 1, 1);
    memcpy(t, "hello", 5);
    assert_memory_equal(view + ring.layout.slot_size + ring.layout.tensors[1].offset, "hello", 5);
    munmap(view, ring.size);
    ring_destroy(&ring);
}

static void ring_named_file_is_not_world_readable(void **state)
{
    char dir[] = "/tmp/mogen-test-ring-XXXXXX";
    ring_layout_t layout;
    ring_t ring;
    struct stat st;
    char err[256];
    char path[512];
    mode_t old;
    (void)state;

    assert_non_null(mkdtemp(dir));
    make_layout(&layout, 2);
    old = umask(077); /* fchmod must restore the group bits umask drops. */
    assert_int_equal(ring_create(&ring, "train", &layout, 2, dir, 0666, err, sizeof err), 0);
    umask(old);
    assert_non_null(ring.shm_path);
    snprintf(path, sizeof path, "%s/mogen-%ld-train", dir, (long)getpid());
    assert_string_equal(ring.shm_path, path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal((uint64_t)st.st_size, ring.size);
    ring_destroy(&ring);
    assert_int_equal(rmdir(dir), 0);
}

static void ring_destroy_unlinks_the_named_file(void **state)
{
    char dir[] = "/tmp/mogen-test-ring-XXXXXX";
    ring_layout_t layout;
    ring_t ring;
    struct stat st;
    char err[256];
    char path[512];
    (void)state;

    assert_non_null(mkdtemp(dir));
    make_layout(&layout, 2);
    assert_int_equal(ring_create(&ring, "val", &layout, 2, dir, 0640, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s", ring.shm_path);
    assert_int_equal(stat(path, &st), 0);
    ring_destroy(&ring);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
    ring_destroy(&ring); /* A second destroy does nothing. */
    assert_int_equal(rmdir(dir), 0);
}

static void ring_existing_named_file_is_an_error(void **state)
{
    char dir[] = "/tmp/mogen-test-ring-XXXXXX";
    ring_layout_t layout;
    ring_t a, b;
    char err[256];
    (void)state;

    assert_non_null(mkdtemp(dir));
    make_layout(&layout, 2);
    assert_int_equal(ring_create(&a, "train", &layout, 2, dir, 0600, err, sizeof err), 0);
    make_layout(&layout, 2);
    assert_int_equal(ring_create(&b, "train", &layout, 2, dir, 0600, err, sizeof err), -EEXIST);
    assert_non_null(strstr(err, "mogen-"));
    assert_int_equal(b.fd, -1);
    assert_int_equal(layout.count, 5); /* Still the caller's. */
    ring_layout_free(&layout);
    ring_destroy(&b);
    ring_destroy(&a);
    assert_int_equal(rmdir(dir), 0);
}

static void ring_zero_slots_is_refused(void **state)
{
    ring_layout_t layout;
    ring_t ring;
    char err[256];
    (void)state;

    make_layout(&layout, 2);
    assert_int_equal(ring_create(&ring, "train", &layout, 0, NULL, 0600, err, sizeof err),
                     -EINVAL);
    assert_true(strlen(err) > 0);
    ring_layout_free(&layout);
}

/*
 * A ring larger than /dev/shm fails at creation with a message naming the
 * size. tmpfs refuses an fallocate larger than the whole filesystem before
 * touching any page, so this test is cheap; where /dev/shm has no size
 * limit it is skipped rather than allowed to eat all memory.
 */
static void ring_full_shm_is_a_clear_error(void **state)
{
    struct statvfs sv;
    ring_layout_t layout;
    ring_t ring;
    char err[256];
    uint64_t fs_bytes;
    uint64_t shape[1];
    uint32_t slots = 4;
    struct stat st;
    char path[512];
    (void)state;

    if (statvfs("/dev/shm", &sv) != 0 || sv.f_blocks == 0) {
        skip();
        return;
    }
    fs_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
    shape[0] = fs_bytes; /* Each slot as large as the whole filesystem. */
    ring_layout_init(&layout);
    ring_layout_add(&layout, "x", TENSOR_UINT8, 1, shape);
    assert_int_equal(ring_create(&ring, "train", &layout, slots, "/dev/shm", 0600, err, sizeof err),
                     -ENOSPC);
    assert_non_null(strstr(err, "cannot reserve "));
    assert_non_null(strstr(err, "iB of shared memory for stream train in /dev/shm: "));
    assert_non_null(strstr(err, strerror(ENOSPC)));
    snprintf(path, sizeof path, "/dev/shm/mogen-%ld-train", (long)getpid());
    assert_int_equal(stat(path, &st), -1); /* Nothing left behind. */
    ring_layout_free(&layout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_tensors_are_aligned_and_disjoint),
        cmocka_unit_test(layout_bytes_are_shape_times_dtype),
        cmocka_unit_test(layout_find_by_name),
        cmocka_unit_test(dtype_names_and_sizes),
        cmocka_unit_test(ring_slots_are_aligned_in_the_mapping),
        cmocka_unit_test(ring_transitions_follow_the_slot_life),
        cmocka_unit_test(ring_find_functions),
        cmocka_unit_test(ring_state_names),
        cmocka_unit_test(ring_data_is_shared_with_a_second_mapping),
        cmocka_unit_test(ring_named_file_is_not_world_readable),
        cmocka_unit_test(ring_destroy_unlinks_the_named_file),
        cmocka_unit_test(ring_existing_named_file_is_an_error),
        cmocka_unit_test(ring_zero_slots_is_refused),
        cmocka_unit_test(ring_full_shm_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
