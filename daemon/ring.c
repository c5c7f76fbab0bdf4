/*
 * ring.c: the shared-memory layout of one stream's batch slots, and slot
 * state transitions. No sockets and no JSON live here: the server describes
 * the layout to clients, the workers fill bytes, and this file owns the
 * memory and the states.
 *
 * Nothing but tensor bytes lives in the shared mapping. Slot states, the
 * layout table and lease owners stay in the main process's private memory,
 * so a client (which maps the ring read-only) or a crashing worker can never
 * corrupt the daemon's bookkeeping, and no struct layout has to agree across
 * processes or languages: clients learn offsets from the WELCOME message.
 */
#include "ring.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

/* Tensor offsets are rounded up with a mask, which needs a power of two. */
_Static_assert((RING_ALIGN & (RING_ALIGN - 1)) == 0, "RING_ALIGN must be a power of two");
/* Every dtype must be naturally aligned at any RING_ALIGN boundary. */
_Static_assert(RING_ALIGN % sizeof(int64_t) == 0, "RING_ALIGN must align int64");
/* The wire calls float32 a 4-byte IEEE float; the host's float must be it. */
_Static_assert(sizeof(float) == 4, "float32 tensors need a 4-byte float");
/* mmap offsets and sizes are size_t; the layout's are uint64_t. */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "mogen needs a 64-bit address space");

/* Bytes per element and wire names, indexed by tensor_dtype_t. The names
 * are those of docs/protocol.md (and NumPy's). */
static const struct {
    size_t size;
    const char *name;
} ring_dtypes[TENSOR_DTYPE_MAX] = {
    [TENSOR_UINT8] = {1, "uint8"},
    [TENSOR_INT32] = {4, "int32"},
    [TENSOR_INT64] = {8, "int64"},
    [TENSOR_FLOAT32] = {4, "float32"},
};

/* Slot state names for logs and status, indexed by slot_state_t. */
static const char *const ring_state_names[SLOT_STATE_MAX] = {
    [SLOT_FREE] = "free",
    [SLOT_FILLING] = "filling",
    [SLOT_READY] = "ready",
    [SLOT_LEASED] = "leased",
};

size_t tensor_dtype_size(tensor_dtype_t dtype)
{
    assert(dtype < TENSOR_DTYPE_MAX);
    return ring_dtypes[dtype].size;
}

const char *tensor_dtype_name(tensor_dtype_t dtype)
{
    if ((unsigned)dtype >= TENSOR_DTYPE_MAX)
        return "unknown";
    return ring_dtypes[dtype].name;
}

int tensor_dtype_from_name(const char *name)
{
    for (int i = 0; i < TENSOR_DTYPE_MAX; i++) {
        if (strcmp(ring_dtypes[i].name, name) == 0)
            return i;
    }
    return -EINVAL;
}

const char *ring_slot_state_name(slot_state_t state)
{
    if ((unsigned)state >= SLOT_STATE_MAX)
        return "unknown";
    return ring_state_names[state];
}

static uint64_t ring_align_up(uint64_t n)
{
    return (n + (RING_ALIGN - 1)) & ~(uint64_t)(RING_ALIGN - 1);
}

void ring_layout_init(ring_layout_t *layout)
{
    layout->tensors = NULL;
    layout->count = 0;
    layout->slot_size = 0;
}

/*
 * Appends a tensor at the next RING_ALIGN boundary after the last one and
 * grows slot_size to the next boundary after it, so that slots stacked
 * back to back keep every tensor aligned. Returns the tensor's index.
 * The arguments come from a validated config, so a name too long, too many
 * dimensions or a size that overflows 64 bits is a bug, and asserted.
 */
size_t ring_layout_add(ring_layout_t *layout, const char *name, tensor_dtype_t dtype,
                       uint32_t ndim, const uint64_t *shape)
{
    ring_tensor_t *t;
    uint64_t bytes;
    size_t name_len = strlen(name);

    assert(name_len < RING_NAME_MAX);
    assert(ndim >= 1 && ndim <= RING_MAX_DIMS);
    assert(dtype < TENSOR_DTYPE_MAX);

    bytes = ring_dtypes[dtype].size;
    for (uint32_t i = 0; i < ndim; i++) {
        int overflow = __builtin_mul_overflow(bytes, shape[i], &bytes);
        assert(!overflow);
        (void)overflow;
    }

    layout->tensors = mogen_reallocarray(layout->tensors, layout->count + 1, sizeof *t);
    t = &layout->tensors[layout->count];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, name_len + 1);
    t->dtype = dtype;
    t->ndim = ndim;
    for (uint32_t i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->offset = ring_align_up(layout->slot_size);
    t->bytes = bytes;
    assert(t->offset + bytes >= t->offset);
    layout->slot_size = ring_align_up(t->offset + bytes);
    return layout->count++;
}

int ring_layout_find(const ring_layout_t *layout, const char *name)
{
    for (size_t i = 0; i < layout->count; i++) {
        if (strcmp(layout->tensors[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

void ring_layout_free(ring_layout_t *layout)
{
    mogen_free(layout->tensors);
    ring_layout_init(layout);
}

/* Writes a byte count for people: "512.0 MiB". */
static void ring_format_size(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < 1024) {
        snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
        return;
    }
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* Builds shm_dir/mogen-<pid>-<name>; the caller frees it. */
static char *ring_shm_path(const char *shm_dir, const char *name)
{
    int n = snprintf(NULL, 0, "%s/mogen-%ld-%s", shm_dir, (long)getpid(), name);
    char *path = mogen_malloc((size_t)n + 1);

    snprintf(path, (size_t)n + 1, "%s/mogen-%ld-%s", shm_dir, (long)getpid(), name);
    return path;
}

/*
 * Opens the backing memory: a named file in shm_dir, or an anonymous memfd.
 * The named file is created exclusively (a leftover from a crashed daemon
 * with a reused pid is an error, not silently shared) with group bits at
 * most, and fchmod'ed because umask may have removed bits the operator
 * asked for. Returns the fd or -errno with err filled.
 */
static int ring_open(ring_t *ring, const char *name, const char *shm_dir, mode_t mode,
                     char *err, size_t errlen)
{
    int fd;

    if (shm_dir == NULL) {
        char label[RING_NAME_MAX + 8];
        snprintf(label, sizeof label, "mogen-%s", name);
        fd = memfd_create(label, MFD_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot create shared memory for stream %s: memfd_create: %s",
                     name, strerror(e));
            return -e;
        }
        return fd;
    }

    mode &= 0660;
    ring->shm_path = ring_shm_path(shm_dir, name);
    fd = open(ring->shm_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create shared memory file %s for stream %s: %s",
                 ring->shm_path, name, strerror(e));
        mogen_free(ring->shm_path);
        ring->shm_path = NULL;
        return -e;
    }
    if (fchmod(fd, mode) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot set mode %03o on %s: %s", (unsigned)mode, ring->shm_path,
                 strerror(e));
        close(fd);
        unlink(ring->shm_path);
        mogen_free(ring->shm_path);
        ring->shm_path = NULL;
        return -e;
    }
    return fd;
}

/*
 * Creates the ring (see ring.h). The memory is sized with ftruncate and then
 * reserved block by block with posix_fallocate: tmpfs grants ftruncate
 * lazily, so without the reservation a full /dev/shm would surface as SIGBUS
 * in a worker writing a slot, hours later. On failure every resource made
 * here is released, *ring is zeroed with fd -1, and layout is left with the
 * caller unchanged.
 */
int ring_create(ring_t *ring, const char *name, ring_layout_t *layout, uint32_t slot_count,
                const char *shm_dir, mode_t mode, char *err, size_t errlen)
{
    uint64_t size;
    char human[32];
    int fd;
    int rc;
    void *base;

    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
    if (errlen > 0)
        err[0] = '\0';

    if (slot_count == 0 || layout->count == 0 || layout->slot_size == 0) {
        snprintf(err, errlen, "stream %s: a ring needs at least one slot and one tensor", name);
        return -EINVAL;
    }
    assert(layout->slot_size % RING_ALIGN == 0);
    if (__builtin_mul_overflow(layout->slot_size, (uint64_t)slot_count, &size) ||
        size > (uint64_t)INT64_MAX) {
        snprintf(err, errlen, "stream %s: %u slots of %llu bytes do not fit in memory", name,
                 slot_count, (unsigned long long)layout->slot_size);
        return -EOVERFLOW;
    }
    ring_format_size(human, sizeof human, size);

    fd = ring_open(ring, name, shm_dir, mode, err, errlen);
    if (fd < 0)
        return fd;

    if (ftruncate(fd, (off_t)size) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot size %s of shared memory for stream %s: %s", human, name,
                 strerror(-rc));
        goto fail;
    }
    do {
        rc = posix_fallocate(fd, 0, (off_t)size); /* Returns an error number, not -1. */
    } while (rc == EINTR);
    if (rc != 0) {
        snprintf(err, errlen, "cannot reserve %s of shared memory for stream %s in %s: %s",
                 human, name, shm_dir ? shm_dir : "memfd", strerror(rc));
        rc = -rc;
        goto fail;
    }
    /*
     * MAP_POPULATE maps every page now. They are allocated already
     * (posix_fallocate above); mapping them here too means the daemon's
     * memory figures (RSS, PSS) show the whole ring from the start instead of
     * "growing" the first time a rarely used slot is filled.
     */
    base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        snprintf(err, errlen, "cannot map %s of shared memory for stream %s: %s", human, name,
                 strerror(-rc));
        goto fail;
    }

    ring->fd = fd;
    ring->base = base;
    ring->size = (size_t)size;
    ring->layout = *layout;
    ring_layout_init(layout);
    ring->slot_count = slot_count;
    ring->slots = mogen_calloc(slot_count, sizeof *ring->slots);
    return 0;

fail:
    close(fd);
    if (ring->shm_path != NULL) {
        unlink(ring->shm_path);
        mogen_free(ring->shm_path);
    }
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
    return rc;
}

/*
 * Releases everything ring_create made. A ring is live exactly when base is
 * set, so a zeroed ring (fd 0, base NULL) never closes stdin. Leaves the
 * ring zeroed with fd -1, so a second call does nothing.
 */
void ring_destroy(ring_t *ring)
{
    if (ring->base != NULL) {
        munmap(ring->base, ring->size);
        if (ring->fd >= 0)
            close(ring->fd);
    }
    if (ring->shm_path != NULL) {
        unlink(ring->shm_path);
        mogen_free(ring->shm_path);
    }
    ring_layout_free(&ring->layout);
    mogen_free(ring->slots);
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
}

static ring_slot_t *ring_slot(ring_t *ring, uint32_t slot)
{
    assert(slot < ring->slot_count);
    return &ring->slots[slot];
}

void ring_slot_begin_fill(ring_t *ring, uint32_t slot, uint32_t epoch, uint32_t batch,
                          uint32_t generation)
{
    ring_slot_t *s = ring_slot(ring, slot);

    assert(s->state == SLOT_FREE);
    s->state = SLOT_FILLING;
    s->epoch = epoch;
    s->batch = batch;
    s->generation = generation;
    s->sample_count = 0;
    s->lease_owner = 0;
}

void ring_slot_finish_fill(ring_t *ring, uint32_t slot, uint32_t sample_count)
{
    ring_slot_t *s = ring_slot(ring, slot);

    assert(s->state == SLOT_FILLING);
    assert(ring->layout.count == 0 || sample_count <= ring->layout.tensors[0].shape[0]);
    s->state = SLOT_READY;
    s->sample_count = sample_count;
}

/* owner is a connection id; 0 is reserved for "nobody". */
void ring_slot_lease(ring_t *ring, uint32_t slot, uint64_t owner)
{
    ring_slot_t *s = ring_slot(ring, slot);

    assert(s->state == SLOT_READY);
    assert(owner != 0);
    s->state = SLOT_LEASED;
    s->lease_owner = owner;
}

void ring_slot_release(ring_t *ring, uint32_t slot)
{
    ring_slot_t *s = ring_slot(ring, slot);

    assert(s->state == SLOT_LEASED);
    s->state = SLOT_FREE;
    s->lease_owner = 0;
}

void ring_slot_unlease(ring_t *ring, uint32_t slot)
{
    ring_slot_t *s = ring_slot(ring, slot);

    assert(s->state == SLOT_LEASED);
    s->state = SLOT_READY;
    s->lease_owner = 0;
}

void ring_slot_discard(ring_t *ring, uint32_t slot)
{
    ring_slot_t *s = ring_slot(ring, slot);

    assert(s->state == SLOT_FILLING || s->state == SLOT_READY);
    s->state = SLOT_FREE;
    s->sample_count = 0;
}

/* Returns the lowest-numbered FREE slot, or -1; low slots first keeps the
 * touched part of the mapping small when the ring is mostly idle. */
int ring_find_free(const ring_t *ring)
{
    for (uint32_t i = 0; i < ring->slot_count; i++) {
        if (ring->slots[i].state == SLOT_FREE)
            return (int)i;
    }
    return -1;
}

int ring_find_ready(const ring_t *ring, uint32_t epoch, uint32_t batch, uint32_t generation)
{
    for (uint32_t i = 0; i < ring->slot_count; i++) {
        const ring_slot_t *s = &ring->slots[i];
        if (s->state == SLOT_READY && s->epoch == epoch && s->batch == batch &&
            s->generation == generation)
            return (int)i;
    }
    return -1;
}

uint32_t ring_count_state(const ring_t *ring, slot_state_t state)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < ring->slot_count; i++) {
        if (ring->slots[i].state == state)
            n++;
    }
    return n;
}
