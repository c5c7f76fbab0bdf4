/*
 * client_internal.h: libmogen's private structures and helpers, shared by the
 * files of client/c and by its unit tests, never installed.
 *
 * Internal functions carry the mogen__ prefix and hidden visibility, so the
 * shared library exports only the API of mogen.h.
 */
#ifndef MOGEN_CLIENT_INTERNAL_H
#define MOGEN_CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "mogen.h"

#define MOGEN__HIDDEN __attribute__((visibility("hidden")))

/* Longest message kept from an ERROR or a local failure; longer ones are cut. */
#define MOGEN__ERRMSG_MAX 512

typedef struct mogen__tensor {
    const char *name; /* Points into the WELCOME tree. */
    mogen_dtype_t dtype;
    uint32_t ndim;
    uint64_t shape[MOGEN_MAX_DIMS];
    uint64_t offset; /* From the start of a slot. */
    uint64_t bytes;
} mogen__tensor_t;

typedef struct mogen__output {
    const char *name;     /* These three point into the WELCOME tree. */
    const char *kind;
    const char *encoding;
    size_t class_count;
    const char **classes; /* class_count entries into the tree; owned array. */
} mogen__output_t;

/* Everything WELCOME says, validated. Strings point into `root`. */
typedef struct mogen__layout {
    cJSON *root; /* The parsed WELCOME body; owned. */
    const char *stream;
    const char *shm_path; /* NULL unless the daemon has shm_dir. */
    uint32_t batch_size;
    uint32_t steps_per_epoch;   /* For this client's rank. */
    uint32_t batches_per_epoch; /* For all ranks; steps_per_epoch if not sent. */
    uint64_t rows;
    uint32_t epoch; /* Position of the next batch at WELCOME time. */
    uint32_t batch;
    uint32_t slot_count;
    uint64_t slot_size;
    uint64_t shm_size;
    size_t tensor_count;
    mogen__tensor_t *tensors; /* Owned. */
    size_t output_count;
    mogen__output_t *outputs; /* Owned. */
} mogen__layout_t;

/*
 * Validates a WELCOME body and builds the layout from it, taking ownership
 * of root whether it succeeds or not. Returns 0, MOGEN_EBADREPLY with a
 * sentence in err when a field is missing or inconsistent (a tensor past
 * the end of its slot, slots past the end of the memory, ...), or
 * MOGEN_ENOMEM.
 */
MOGEN__HIDDEN int mogen__layout_parse(cJSON *root, mogen__layout_t *layout, char *err,
                                      size_t errlen);
MOGEN__HIDDEN void mogen__layout_free(mogen__layout_t *layout);
MOGEN__HIDDEN int mogen__layout_find(const mogen__layout_t *layout, const char *name);

/* Maps a daemon's ERROR code string to a MOGEN_E* code (MOGEN_EDAEMON for
 * one not in the table), and says whether the daemon keeps the connection
 * open after it. */
MOGEN__HIDDEN int mogen__error_from_wire(const char *code);
MOGEN__HIDDEN int mogen__error_keeps_connection(int err);

/* A received frame. */
typedef struct mogen__frame {
    uint16_t type;
    uint32_t length;
    char *body; /* length bytes plus a NUL; malloc'd, owned by the caller. */
    int fd;     /* An fd that arrived with the frame, or -1; owned by the caller. */
    int fd2;    /* A second one (WELCOME's mailbox page), or -1; owned likewise. */
} mogen__frame_t;

/* Connects a SOCK_STREAM socket to path; returns the fd or a negative code. */
MOGEN__HIDDEN int mogen__sock_connect(const char *path, int timeout_ms);
/* A frame to send: type and body (len bytes of JSON; may be empty). */
typedef struct mogen__out_frame {
    uint16_t type;
    const char *body; /* Not owned; only read during the send. */
    size_t len;
} mogen__out_frame_t;

/* Most frames one mogen__send_frames call takes: RELEASE + NEXT. */
#define MOGEN__MAX_SEND_FRAMES 2

/* Sends one frame; returns 0 or a negative code (MOGEN_ETIMEDOUT, -EPIPE). */
MOGEN__HIDDEN int mogen__send_frame(int sock, uint16_t type, const char *body, size_t len);
/*
 * Sends up to MOGEN__MAX_SEND_FRAMES frames in one write where the kernel
 * allows, continuing after short writes. Returns 0, MOGEN_EINVAL (too many
 * frames or a body over MOGEN_FRAME_MAX_REQUEST; nothing sent) or a send
 * error.
 */
MOGEN__HIDDEN int mogen__send_frames(int sock, const mogen__out_frame_t *frames, size_t count);
/*
 * Receives one whole frame with a body of at most max_body bytes, and the fd
 * (if any) sent with it. timeout_ms > 0 bounds each wait for bytes (0: no
 * bound). Returns 0, MOGEN_ECLOSED at end of stream, MOGEN_EBADREPLY for a
 * bad header, MOGEN_ETIMEDOUT, MOGEN_ENOMEM or another negative errno.
 */
MOGEN__HIDDEN int mogen__recv_frame(int sock, int timeout_ms, uint32_t max_body,
                                    mogen__frame_t *frame);
MOGEN__HIDDEN void mogen__frame_free(mogen__frame_t *frame);

/*
 * Does the handshake of mogen_connect on an already connected socket,
 * which the client takes over (closed on failure too). Exists so that
 * tests can drive the client over a socketpair.
 */
MOGEN__HIDDEN int mogen__client_attach(mogen_client_t **client, int sock, const char *stream,
                                       const mogen_connect_options_t *opts);

#endif
