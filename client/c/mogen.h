/*
 * mogen.h: the C client library of mogen (libmogen).
 *
 * A trainer connects to a running mogend, names a stream ("train"), and then
 * asks for batches. Each batch lives in a slot of shared memory that the
 * daemon mapped for this client; the library hands out pointers into that
 * read-only mapping, so nothing is copied. The trainer releases each batch
 * when it is done with it, which lets the daemon refill the slot.
 *
 *     mogen_client_t *c;
 *     mogen_batch_t b = {0};
 *     int rc = mogen_connect(&c, "/run/mogen/mogen.sock", "train", NULL);
 *     if (rc < 0) { fprintf(stderr, "%s\n", mogen_strerror(rc)); return 1; }
 *     while ((rc = mogen_release_next(c, &b)) == 0) {
 *         const uint8_t *x = mogen_batch_tensor(&b, "x");
 *         ...train on b.size samples...
 *     }
 *     if (rc != MOGEN_END_OF_EPOCH) fprintf(stderr, "%s\n", mogen_client_error_message(c));
 *     mogen_close(c);
 *
 * Conventions (as in libuv):
 * - Functions that can fail return an int: 0 (or a count) on success, a
 *   negative MOGEN_E* code on failure. MOGEN_END_OF_EPOCH (positive) is the
 *   one non-error, non-zero outcome of mogen_next and mogen_release_next.
 * - System errors are the negated errno (MOGEN_ECONNREFUSED == -ECONNREFUSED);
 *   mogen's own codes lie far below any errno. mogen_strerror() describes
 *   every code; mogen_client_error_message() gives the daemon's own sentence.
 * - The library never prints, never exits and never raises signals (SIGPIPE
 *   is suppressed on every send). It allocates with malloc and returns
 *   MOGEN_ENOMEM when that fails.
 *
 * Blocking and threads: every call blocks until the daemon answers. NEXT in
 * particular waits until the batch is ready, which is normal back-pressure
 * when the trainer is faster than decoding. Set timeout_ms in the connect
 * options to bound each wait; after a timeout the connection is out of step
 * with the daemon, so the client is marked broken and every later call
 * returns MOGEN_ETIMEDOUT: close it and connect again (resuming with
 * mogen_position()). A client may be used by one thread at a time;
 * separate clients are independent.
 *
 * The wire protocol is specified in docs/protocol.md.
 */
#ifndef MOGEN_H
#define MOGEN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOGEN_VERSION_MAJOR 0
#define MOGEN_VERSION_MINOR 1
#define MOGEN_VERSION_PATCH 0

/* mogen_next's result when the epoch has ended (not an error). */
#define MOGEN_END_OF_EPOCH 1

/* Most dimensions a tensor may have. The daemon sends at most 4 (N, H, W, C);
 * the client accepts a few more so that a newer daemon does not break it. */
#define MOGEN_MAX_DIMS 8

/*
 * Every error code: XX(name, value, daemon's wire code or NULL, message).
 * Daemon codes are those of the ERROR message in docs/protocol.md.
 */
#define MOGEN_ERRNO_MAP(XX)                                                                   \
    XX(ENOMEM, -ENOMEM, NULL, "out of memory")                                                \
    XX(EINVAL, -EINVAL, NULL, "invalid argument")                                             \
    XX(ENOENT, -ENOENT, NULL, "no such file or directory (is mogend running?)")               \
    XX(EACCES, -EACCES, NULL, "permission denied (is the user in the socket's group?)")       \
    XX(ECONNREFUSED, -ECONNREFUSED, NULL, "connection refused (is mogend running?)")          \
    XX(ECONNRESET, -ECONNRESET, NULL, "connection reset by the daemon")                       \
    XX(EPIPE, -EPIPE, NULL, "the daemon closed the connection")                               \
    XX(ETIMEDOUT, -ETIMEDOUT, NULL, "no reply from the daemon within the timeout")            \
    XX(ENAMETOOLONG, -ENAMETOOLONG, NULL, "socket path too long")                             \
    XX(ECLOSED, -30001, NULL, "the daemon closed the connection")                             \
    XX(EBADREPLY, -30002, NULL, "the daemon sent a reply that breaks the protocol")           \
    XX(ENOFD, -30003, NULL, "the daemon sent no shared-memory file descriptor")               \
    XX(ENOTENSOR, -30004, NULL, "no tensor with that name")                                   \
    XX(EDAEMON, -30005, NULL, "the daemon reported an error this library does not know")      \
    XX(EBADFRAME, -30010, "bad_frame", "the daemon refused a malformed frame")                \
    XX(EBADREQUEST, -30011, "bad_request", "the daemon refused a malformed request")          \
    XX(EVERSION, -30012, "version_mismatch", "the daemon speaks another protocol version")    \
    XX(EUNKNOWNSTREAM, -30013, "unknown_stream", "the daemon has no stream of that name")     \
    XX(ESTREAMBUSY, -30014, "stream_busy",                                                    \
       "the stream is attached elsewhere at another position")                                \
    XX(ENOSHMPATH, -30015, "no_shm_path", "the daemon has no shared-memory path (shm_dir)")   \
    XX(ENOTATTACHED, -30016, "not_attached", "the connection is not attached to a stream")    \
    XX(ENOTLEASED, -30017, "not_leased", "the slot is not leased to this client")             \
    XX(ETOOMANYLEASES, -30018, "too_many_leases", "too many batches held without release")    \
    XX(ESTREAMFAILED, -30019, "stream_failed", "every file of the stream failed to load")     \
    XX(ESHUTTINGDOWN, -30020, "shutting_down", "the daemon is shutting down")                 \
    XX(ETOOMANYCONNS, -30021, "too_many_connections",                                         \
       "the daemon serves its maximum number of connections")

typedef enum mogen_errno {
#define MOGEN__ERR_ENUM(name, value, wire, msg) MOGEN_##name = (value),
    MOGEN_ERRNO_MAP(MOGEN__ERR_ENUM)
#undef MOGEN__ERR_ENUM
    MOGEN_ERRNO_MAX_ = -40000 /* Not a code; keeps the enum signed. */
} mogen_errno_t;

/* A sentence for any code: MOGEN_E* codes, other negative errnos (via
 * strerror), or MOGEN_END_OF_EPOCH/0. Never NULL. */
const char *mogen_strerror(int err);

/* The code's name ("MOGEN_ETIMEDOUT"), or "MOGEN_UNKNOWN". */
const char *mogen_err_name(int err);

typedef enum mogen_dtype {
    MOGEN_DTYPE_UINT8,
    MOGEN_DTYPE_INT32,
    MOGEN_DTYPE_INT64,
    MOGEN_DTYPE_FLOAT32,
    MOGEN_DTYPE_MAX
} mogen_dtype_t;

/* Bytes per element (0 for an invalid dtype). */
size_t mogen_dtype_size(mogen_dtype_t dtype);
/* "uint8", "int32", "int64", "float32" (as on the wire); "unknown". */
const char *mogen_dtype_name(mogen_dtype_t dtype);

/* A connection to one stream of a daemon. Opaque. */
typedef struct mogen_client mogen_client_t;

typedef struct mogen_connect_options {
    int has_start;        /* 1: resume at (start_epoch, start_batch). */
    uint32_t start_epoch; /* Epoch of the first batch wanted. */
    uint32_t start_batch; /* Its index within the epoch (stream-wide, not per rank). */
    uint32_t rank;        /* This client's rank; default 0. */
    uint32_t world;       /* Number of ranks; default 1 (0 is taken as 1). */
    int want_fd;          /* 1 (default): receive the fd; 0: open the daemon's shm_path. */
    int timeout_ms;       /* Bound on each wait for the daemon; 0 (default) = none. */
    char *errbuf;         /* If set, a failed mogen_connect writes a sentence here: */
    size_t errbuf_len;    /* the daemon's ERROR message, or what failed locally. */
    int mailbox;          /* 1 (default, with want_fd): take batches the daemon posts
                             ahead into a mailbox page, and give slots back there,
                             with no system call (docs/protocol.md); 0: all over the
                             socket. For a client alone on its stream the batches
                             are the same either way; see mogen_close for one that
                             shares it. (Last: added after the first release.) */
} mogen_connect_options_t;

/* Fills opts with the defaults above. */
void mogen_connect_options_init(mogen_connect_options_t *opts);

/*
 * Connects to the daemon at socket_path, attaches to stream, receives the
 * layout and the shared memory, and maps it read-only. opts may be NULL for
 * the defaults. Returns 0 with *client set (free with mogen_close), or a
 * negative code with *client NULL: -ENOENT/-ECONNREFUSED when no daemon
 * listens there, MOGEN_EUNKNOWNSTREAM, MOGEN_EVERSION, MOGEN_ESTREAMBUSY,
 * MOGEN_ENOFD, ... (see opts->errbuf for the daemon's sentence).
 */
int mogen_connect(mogen_client_t **client, const char *socket_path, const char *stream,
                  const mogen_connect_options_t *opts);

/* Closes the connection (the daemon takes back every slot still held),
 * unmaps the memory and frees the client. Pointers into batches become
 * invalid. NULL is ignored. A batch the daemon had posted in the mailbox
 * and the client not taken goes back to the stream when no other client is
 * attached to it; with others attached it is dropped, like the slots held
 * (so a client that joins a trainer's stream briefly, as mogenctl peek
 * does, should connect with mailbox = 0). */
void mogen_close(mogen_client_t *client);

/* The daemon's message from its last ERROR, or the library's description of
 * the last local failure; "" when there was none. Valid until the next call
 * on client. */
const char *mogen_client_error_message(const mogen_client_t *client);

/* The layout, from WELCOME. Indexes run from 0 to count - 1; an index out of
 * range gives NULL, 0 or MOGEN_DTYPE_MAX. Strings live as long as client. */
const char *mogen_stream_name(const mogen_client_t *client);
uint32_t mogen_batch_size(const mogen_client_t *client);
uint32_t mogen_steps_per_epoch(const mogen_client_t *client); /* For this rank. */
uint32_t mogen_batches_per_epoch(const mogen_client_t *client); /* For all ranks. */
uint64_t mogen_row_count(const mogen_client_t *client);
uint32_t mogen_slot_count(const mogen_client_t *client);
size_t mogen_tensor_count(const mogen_client_t *client);
/* Index of the tensor called name, or MOGEN_ENOTENSOR. */
int mogen_tensor_index(const mogen_client_t *client, const char *name);
const char *mogen_tensor_name(const mogen_client_t *client, size_t index);
mogen_dtype_t mogen_tensor_dtype(const mogen_client_t *client, size_t index);
uint32_t mogen_tensor_ndim(const mogen_client_t *client, size_t index);
/* ndim entries; shape[0] is the batch size. */
const uint64_t *mogen_tensor_shape(const mogen_client_t *client, size_t index);
uint64_t mogen_tensor_bytes(const mogen_client_t *client, size_t index);

/* Outputs (one per label tensor), with their class names in index order. */
size_t mogen_output_count(const mogen_client_t *client);
const char *mogen_output_name(const mogen_client_t *client, size_t index);
const char *mogen_output_kind(const mogen_client_t *client, size_t index);     /* "multi_class" */
const char *mogen_output_encoding(const mogen_client_t *client, size_t index); /* "onehot" */
size_t mogen_output_class_count(const mogen_client_t *client, size_t index);
const char *mogen_output_class_name(const mogen_client_t *client, size_t index, size_t cls);

/* The WELCOME body as received (JSON), for fields without an accessor such
 * as "image" (normalisation). Lives as long as client. */
const char *mogen_welcome_json(const mogen_client_t *client);

/*
 * Where the stream stands for this client: (epoch, batch) of the next batch
 * it expects. Pass it as start_epoch/start_batch to resume after a
 * reconnect.
 */
void mogen_position(const mogen_client_t *client, uint32_t *epoch, uint32_t *batch);

/* One batch: filled by mogen_next, given back by mogen_release, or both at
 * once by mogen_release_next. The caller owns the struct (it may live on
 * the stack); the bytes belong to the daemon's shared memory. Zero it
 * before its first mogen_release_next (mogen_batch_t b = {0};). */
typedef struct mogen_batch {
    void *data;           /* For the caller; the library never touches it. */
    uint32_t slot;        /* Slot index in the ring. */
    uint32_t epoch;       /* Epoch; for MOGEN_END_OF_EPOCH, the epoch that ended. */
    uint32_t batch;       /* Batch index within the epoch. */
    uint32_t size;        /* Valid samples: batch_size, or fewer for a last batch. */
    uint32_t error_count; /* Samples whose file failed (see mogen_batch_error). */
    const uint8_t *base;  /* Start of the slot in the mapping; NULL when none. */
    const mogen_client_t *client; /* The client it came from. */
} mogen_batch_t;

/*
 * Asks for the next batch and waits for it (with a mailbox, takes the batch
 * the daemon posted there, when there is one, and asks only otherwise).
 * Returns 0 with *batch filled
 * (the slot is now leased to this client: its bytes stay unchanged until
 * mogen_release), MOGEN_END_OF_EPOCH with batch->epoch naming the epoch that
 * just ended (no slot is leased; the next call returns the first batch of
 * the following epoch), or a negative code: MOGEN_ETOOMANYLEASES (release
 * some first), MOGEN_ESTREAMFAILED, MOGEN_ESHUTTINGDOWN, MOGEN_ECLOSED,
 * MOGEN_EBADREPLY (also for a mailbox page that makes no sense), ...
 */
int mogen_next(mogen_client_t *client, mogen_batch_t *batch);

/*
 * Gives the batch's slot back to the daemon (with a mailbox, by writing it
 * there; a RELEASE frame when the page's ring of releases is full) and
 * clears batch->base. Every pointer into the batch is invalid afterwards. Returns 0,
 * MOGEN_ENOTLEASED when the batch is not held by this client (already
 * released, a copy of a released batch, or from another client), or a send
 * error.
 */
int mogen_release(mogen_client_t *client, mogen_batch_t *batch);

/*
 * The step of a training loop: gives back the batch *batch holds and asks
 * for the next one into the same struct, then returns like mogen_next.
 * Without a mailbox both frames go in one write: the daemon reads them in
 * one wake-up and answers the NEXT before it refills the freed slot, which
 * makes the round trip shorter than mogen_release followed by mogen_next.
 * When *batch holds no slot of this client (zeroed, after
 * MOGEN_END_OF_EPOCH, already released, a copy of a released batch) it is
 * just mogen_next; a batch of another client is refused with
 * MOGEN_ENOTLEASED and nothing is sent. Pointers into the old batch are
 * invalid once it is called, whatever it returns.
 * To hold several batches at once, or to give one back without asking for
 * another, use mogen_next and mogen_release.
 * With a mailbox it is mogen_release and then mogen_next: the slot goes
 * back through the page, and the next batch, when posted, comes from it,
 * with no system call at all.
 */
int mogen_release_next(mogen_client_t *client, mogen_batch_t *batch);

/* Tensor `name` (or number `index`) of the batch in the read-only mapping,
 * C-contiguous with the tensor's shape; NULL when there is no such tensor
 * or the batch holds no slot. */
const void *mogen_batch_tensor(const mogen_batch_t *batch, const char *name);
const void *mogen_batch_tensor_at(const mogen_batch_t *batch, size_t index);

/* A sample of a batch whose file failed; strings valid until the next
 * mogen_next or mogen_release_next on the client. */
typedef struct mogen_sample_error {
    int64_t row;        /* 0-based data row of the CSV. */
    int64_t line;       /* 1-based line in the CSV file (-1 when not sent). */
    const char *path;   /* The image file. */
    const char *reason; /* Why it failed. */
} mogen_sample_error_t;

/* Entry `index` (< batch->error_count) of the batch's failed samples. Only
 * the most recent batch of mogen_next or mogen_release_next keeps them;
 * returns 0, or
 * MOGEN_EINVAL for an older batch or an index out of range. */
int mogen_batch_error(const mogen_batch_t *batch, size_t index, mogen_sample_error_t *out);

/*
 * Opens a control connection, asks for STATUS and returns the daemon's
 * reply, a NUL-terminated JSON object, in *json_out (free with free()).
 * Waits at most MOGEN_STATUS_TIMEOUT_MS. Returns 0 or a negative code.
 */
#define MOGEN_STATUS_TIMEOUT_MS 10000
int mogen_status_json(const char *socket_path, char **json_out);

#ifdef __cplusplus
}
#endif

#endif
