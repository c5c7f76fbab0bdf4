/*
 * ring.h: one stream's ring of batch slots in shared memory, and the state of
 * each slot.
 *
 * The memory is a memfd (its fd goes to clients over SCM_RIGHTS), optionally
 * also linked as a named file in shm_dir for clients that cannot receive
 * fds. It is reserved whole at creation with posix_fallocate, so a full
 * /dev/shm fails here, loudly, instead of raising SIGBUS mid-training.
 *
 * Each slot holds one whole batch laid out by a ring_layout_t: a list of
 * named tensors at 64-byte-aligned offsets. Slot states are owned by the main
 * process alone (workers only write the bytes of the slot they were given),
 * so no lock exists or is needed:
 *
 *   FREE -> FILLING -> READY -> LEASED -> FREE
 *             \---------\--------> FREE   (discarded: stale or reset)
 *                          READY <- LEASED (posted to a mailbox, never taken)
 */
#ifndef MOGEN_RING_H
#define MOGEN_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Alignment of every tensor in a slot and of every slot: a cache line, and
 * enough for any SIMD load a consumer might do. */
#define RING_ALIGN 64

/* Most dimensions a tensor has (N, H, W, C). */
#define RING_MAX_DIMS 4

/* Longest tensor name, including the NUL. */
#define RING_NAME_MAX 128

typedef enum tensor_dtype {
    TENSOR_UINT8,
    TENSOR_INT32,
    TENSOR_INT64,
    TENSOR_FLOAT32,
    TENSOR_DTYPE_MAX
} tensor_dtype_t;

typedef struct ring_tensor {
    char name[RING_NAME_MAX];
    tensor_dtype_t dtype;
    uint32_t ndim;
    uint64_t shape[RING_MAX_DIMS]; /* shape[0] is the batch size. */
    uint64_t offset;               /* From the start of the slot; RING_ALIGN-aligned. */
    uint64_t bytes;                /* Product of shape times dtype size. */
} ring_tensor_t;

typedef struct ring_layout {
    ring_tensor_t *tensors;
    size_t count;
    uint64_t slot_size; /* Bytes per slot, a multiple of RING_ALIGN. */
} ring_layout_t;

typedef enum slot_state {
    SLOT_FREE,    /* Nobody uses it; may be given to a worker. */
    SLOT_FILLING, /* A worker is writing batch (epoch, batch) into it. */
    SLOT_READY,   /* Finished; waits for a client in batch order. */
    SLOT_LEASED,  /* A client reads it until it sends RELEASE. */
    SLOT_STATE_MAX
} slot_state_t;

typedef struct ring_slot {
    slot_state_t state;
    uint32_t epoch;        /* Valid from FILLING on. */
    uint32_t batch;        /* Batch index within the epoch. */
    uint32_t sample_count; /* Valid from READY on. */
    uint32_t generation;   /* The stream generation the fill belongs to. */
    uint64_t lease_owner;  /* Connection id while LEASED, else 0. */
} ring_slot_t;

typedef struct ring {
    int fd;               /* The memfd; owned. */
    char *shm_path;       /* Named file, or NULL; owned and unlinked on destroy. */
    uint8_t *base;        /* Mapping of slot_count * slot_size bytes. */
    size_t size;
    ring_layout_t layout; /* Owned. */
    ring_slot_t *slots;
    uint32_t slot_count;
} ring_t;

size_t tensor_dtype_size(tensor_dtype_t dtype);
const char *tensor_dtype_name(tensor_dtype_t dtype);
/* The dtype called name ("uint8", "int32", "int64", "float32", as on the
 * wire), or -EINVAL. */
int tensor_dtype_from_name(const char *name);

void ring_layout_init(ring_layout_t *layout);
/* Appends a tensor after the last one, aligned; returns its index. */
size_t ring_layout_add(ring_layout_t *layout, const char *name, tensor_dtype_t dtype,
                       uint32_t ndim, const uint64_t *shape);
/* Returns the index of the tensor named name, or -1. */
int ring_layout_find(const ring_layout_t *layout, const char *name);
void ring_layout_free(ring_layout_t *layout);

/*
 * Creates the shared memory for slot_count slots of layout (which the ring
 * takes over; the caller's copy is reset). name is the stream's name
 * ("train"); it labels the memfd ("mogen-train"). With shm_dir non-NULL the memory is a file
 * shm_dir/mogen-<pid>-<name> created with mode (never world-readable: other
 * bits are masked off), else a memfd. Returns 0 or -errno with a message in
 * err naming the size that could not be reserved. On failure nothing is
 * left behind (no fd, no mapping, no file), *ring is zeroed with fd -1, and
 * layout is still the caller's, unchanged.
 */
int ring_create(ring_t *ring, const char *name, ring_layout_t *layout, uint32_t slot_count,
                const char *shm_dir, mode_t mode, char *err, size_t errlen);

/* Unmaps, closes, unlinks the named file. Safe on a zeroed ring. */
void ring_destroy(ring_t *ring);

static inline uint8_t *ring_slot_data(const ring_t *ring, uint32_t slot)
{
    return ring->base + (size_t)slot * ring->layout.slot_size;
}

/* Start of tensor `tensor` (an index into ring->layout) in slot `slot`. */
static inline uint8_t *ring_slot_tensor(const ring_t *ring, uint32_t slot, size_t tensor)
{
    return ring_slot_data(ring, slot) + ring->layout.tensors[tensor].offset;
}

/* State transitions. Each asserts the state it starts from: calling one
 * from the wrong state is a bug in the daemon, not a client error. */
void ring_slot_begin_fill(ring_t *ring, uint32_t slot, uint32_t epoch, uint32_t batch,
                          uint32_t generation);
void ring_slot_finish_fill(ring_t *ring, uint32_t slot, uint32_t sample_count);
void ring_slot_lease(ring_t *ring, uint32_t slot, uint64_t owner);
void ring_slot_release(ring_t *ring, uint32_t slot);
/* LEASED -> READY: a batch handed to a client that never took it. */
void ring_slot_unlease(ring_t *ring, uint32_t slot);
void ring_slot_discard(ring_t *ring, uint32_t slot); /* FILLING or READY -> FREE. */

/* Returns a FREE slot, or -1. */
int ring_find_free(const ring_t *ring);
/* Returns the READY slot holding (epoch, batch) of generation, or -1. */
int ring_find_ready(const ring_t *ring, uint32_t epoch, uint32_t batch, uint32_t generation);
uint32_t ring_count_state(const ring_t *ring, slot_state_t state);
const char *ring_slot_state_name(slot_state_t state);

#endif
