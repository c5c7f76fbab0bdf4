/*
 * mogen.c: a client's life: connect and handshake, batches, release, close;
 * and the one-shot STATUS request of mogenctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_body.h"
#include "frame.h"
#include "client_internal.h"
#include "mailbox_layout.h"
#include "message.h"

/* Room for a RELEASE body: {"slot":4294967295} is 20 bytes and a NUL. */
#define MOGEN__RELEASE_BODY_MAX 32

/* What this client holds in one slot: the batch it was given there. */
typedef struct client_lease {
    uint8_t held;   /* 1 from BATCH until the slot is released. */
    uint32_t epoch; /* The batch held, so that a stale copy of a mogen_batch_t */
    uint32_t batch; /* naming the same slot cannot release a later batch. */
} client_lease_t;

struct mogen_client {
    int sock;              /* Connection to the daemon; owned. */
    int timeout_ms;        /* Bound on each wait for a reply; 0 = none. */
    int dead;              /* 0, or the code every call returns once unusable. */
    mogen__layout_t layout; /* From WELCOME; owned. */
    const uint8_t *base;   /* Read-only mapping of layout.shm_size bytes. */
    client_lease_t *leases; /* slot_count entries. */
    uint32_t next_epoch;   /* Position of the next batch expected. */
    uint32_t next_batch;
    uint32_t world;        /* Ranks sharing the stream, and this client's */
    uint32_t rank;         /* rank (for the position). */
    cJSON *last_batch;     /* The most recent BATCH body (its "errors"); owned. */
    uint32_t last_epoch;   /* (epoch, batch, slot) of last_batch. */
    uint32_t last_index;
    uint32_t last_slot;
    char *welcome_text;    /* The WELCOME body as received; owned. */
    _Atomic uint32_t *mailbox; /* The mailbox page as 32-bit words, or NULL. */
    uint32_t taken;        /* Its counts as this client last wrote or read them. */
    uint32_t released;
    uint32_t consumed;
    char errmsg[MOGEN__ERRMSG_MAX];
};

/* Records a sentence for mogen_client_error_message and returns err. */
__attribute__((format(printf, 3, 4))) static int client_fail(mogen_client_t *c, int err,
                                                              const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    return err;
}

/* Marks the connection unusable: later calls return err at once. */
static int client_kill(mogen_client_t *c, int err)
{
    if (c->dead == 0)
        c->dead = err;
    return err;
}

void mogen_connect_options_init(mogen_connect_options_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->world = 1;
    opts->want_fd = 1;
    opts->mailbox = 1;
}

/*
 * Turns an ERROR frame into a code and keeps its message. Returns the code
 * (MOGEN_EDAEMON for a code this library does not know).
 */
static int client_daemon_error(mogen_client_t *c, const mogen__frame_t *f)
{
    cJSON *obj = NULL;
    const char *code = NULL;
    const char *message = NULL;
    int err;

    if (mogen_frame_parse_body((const uint8_t *)f->body, f->length, &obj) < 0)
        return client_fail(c, MOGEN_EBADREPLY, "the daemon sent an ERROR that is not JSON");
    if (mogen_message_get_string(obj, "code", &code) < 0)
        code = NULL;
    if (mogen_message_get_string(obj, "message", &message) < 0)
        message = NULL;
    err = mogen__error_from_wire(code);
    client_fail(c, err, "%s", message != NULL ? message : mogen_strerror(err));
    cJSON_Delete(obj);
    return err;
}

/* Builds the HELLO body; returns a cJSON-allocated string or NULL. */
static char *client_hello(const char *stream, const mogen_connect_options_t *o)
{
    cJSON *hello = cJSON_CreateObject();
    cJSON *start;
    char *text = NULL;

    if (hello == NULL)
        return NULL;
    if (cJSON_AddNumberToObject(hello, "version", MOGEN_PROTOCOL_VERSION) == NULL ||
        cJSON_AddStringToObject(hello, "stream", stream) == NULL ||
        cJSON_AddNumberToObject(hello, "rank", o->rank) == NULL ||
        cJSON_AddNumberToObject(hello, "world", o->world ? o->world : 1) == NULL ||
        cJSON_AddBoolToObject(hello, "want_fd", o->want_fd != 0) == NULL)
        goto out;
    if (o->mailbox && o->want_fd && cJSON_AddTrueToObject(hello, "mailbox") == NULL)
        goto out;
    if (o->has_start) {
        start = cJSON_AddObjectToObject(hello, "start");
        if (start == NULL || cJSON_AddNumberToObject(start, "epoch", o->start_epoch) == NULL ||
            cJSON_AddNumberToObject(start, "batch", o->start_batch) == NULL)
            goto out;
    }
    text = cJSON_PrintUnformatted(hello);
out:
    cJSON_Delete(hello);
    return text;
}

/*
 * Maps the stream's memory read-only, after checking that the object is at
 * least shm_size bytes: mapping past its end would turn into SIGBUS on the
 * first read of a late slot. Takes fd over (it is closed here: the mapping
 * keeps the memory alive).
 */
static int client_map(mogen_client_t *c, int fd)
{
    struct stat st;
    void *base;

    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return client_fail(c, -e, "cannot stat the shared memory: %s", strerror(e));
    }
    if ((uint64_t)st.st_size < c->layout.shm_size) {
        close(fd);
        return client_fail(c, MOGEN_EBADREPLY,
                           "the shared memory has %lld bytes, WELCOME says %llu",
                           (long long)st.st_size, (unsigned long long)c->layout.shm_size);
    }
    base = mmap(NULL, (size_t)c->layout.shm_size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        return client_fail(c, -e, "cannot map %llu bytes of shared memory: %s",
                           (unsigned long long)c->layout.shm_size, strerror(e));
    }
    close(fd);
    c->base = base;
    return 0;
}

/*
 * Maps the mailbox page when WELCOME says one was passed (its second fd,
 * taken over here). A page that came unasked is closed.
 */
static int client_map_mailbox(mogen_client_t *c, const mogen_connect_options_t *o, int fd)
{
    const cJSON *granted = cJSON_GetObjectItemCaseSensitive(c->layout.root, "mailbox");
    struct stat st;
    void *page;

    if (!o->mailbox || !o->want_fd || !cJSON_IsTrue(granted)) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (fd < 0)
        return client_fail(c, MOGEN_EBADREPLY,
                           "WELCOME says \"mailbox\": true but passed no mailbox fd");
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return client_fail(c, -e, "cannot stat the mailbox: %s", strerror(e));
    }
    if (st.st_size < MOGEN_MAILBOX_SIZE) {
        close(fd);
        return client_fail(c, MOGEN_EBADREPLY, "the mailbox is smaller than %d bytes",
                           MOGEN_MAILBOX_SIZE);
    }
    page = mmap(NULL, MOGEN_MAILBOX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (page == MAP_FAILED) {
        int e = errno;
        return client_fail(c, -e, "cannot map the mailbox: %s", strerror(e));
    }
    c->mailbox = page;
    c->taken = atomic_load_explicit(&c->mailbox[MOGEN_MAILBOX_TAKEN / 4], memory_order_acquire);
    c->released = c->consumed =
        atomic_load_explicit(&c->mailbox[MOGEN_MAILBOX_RELEASED / 4], memory_order_acquire);
    return 0;
}

/* Receives WELCOME (or ERROR) and sets the client up from it. */
static int client_welcome(mogen_client_t *c, const mogen_connect_options_t *o)
{
    mogen__frame_t f;
    cJSON *root = NULL;
    char err[MOGEN__ERRMSG_MAX];
    int fd, mailbox_fd;
    int rc;

    rc = mogen__recv_frame(c->sock, c->timeout_ms, MOGEN_FRAME_MAX_REPLY, &f);
    if (rc < 0)
        return client_fail(c, rc, "no WELCOME from the daemon: %s", mogen_strerror(rc));
    if (f.type == MOGEN_MSG_ERROR) {
        rc = client_daemon_error(c, &f);
        mogen__frame_free(&f);
        return rc;
    }
    if (f.type != MOGEN_MSG_WELCOME) {
        rc = client_fail(c, MOGEN_EBADREPLY, "expected WELCOME, got %s",
                         mogen_msg_type_name(f.type));
        mogen__frame_free(&f);
        return rc;
    }
    rc = mogen_frame_parse_body((const uint8_t *)f.body, f.length, &root);
    if (rc < 0) {
        mogen__frame_free(&f);
        return client_fail(c, rc == -ENOMEM ? MOGEN_ENOMEM : MOGEN_EBADREPLY,
                           "WELCOME is not a JSON object");
    }
    rc = mogen__layout_parse(root, &c->layout, err, sizeof err);
    if (rc < 0) {
        mogen__frame_free(&f);
        return client_fail(c, rc, "%s", rc == MOGEN_ENOMEM ? mogen_strerror(rc) : err);
    }
    c->welcome_text = f.body; /* Kept for mogen_welcome_json. */
    f.body = NULL;
    fd = f.fd;
    f.fd = -1;
    mailbox_fd = f.fd2;
    f.fd2 = -1;
    mogen__frame_free(&f);
    rc = client_map_mailbox(c, o, mailbox_fd);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }

    if (o->want_fd) {
        if (fd < 0)
            return client_fail(c, MOGEN_ENOFD, "WELCOME arrived without a file descriptor");
    } else {
        if (fd >= 0)
            close(fd);
        if (c->layout.shm_path == NULL)
            return client_fail(c, MOGEN_ENOSHMPATH, "WELCOME has no shm_path");
        fd = open(c->layout.shm_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            return client_fail(c, -e, "cannot open %s: %s", c->layout.shm_path, strerror(e));
        }
    }
    rc = client_map(c, fd);
    if (rc < 0)
        return rc;
    c->leases = calloc(c->layout.slot_count, sizeof(*c->leases));
    if (c->leases == NULL)
        return client_fail(c, MOGEN_ENOMEM, "%s", mogen_strerror(MOGEN_ENOMEM));
    c->next_epoch = c->layout.epoch;
    c->next_batch = c->layout.batch;
    return 0;
}

/*
 * The handshake on a connected socket (see client_internal.h): HELLO, then
 * WELCOME with the fd, then the mapping. On failure the message goes to
 * opts->errbuf and everything, the socket included, is released.
 */
int mogen__client_attach(mogen_client_t **client, int sock, const char *stream,
                         const mogen_connect_options_t *opts)
{
    mogen_connect_options_t defaults;
    mogen_client_t *c;
    char *hello;
    int rc;

    *client = NULL;
    if (opts == NULL) {
        mogen_connect_options_init(&defaults);
        opts = &defaults;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(sock);
        if (opts->errbuf != NULL && opts->errbuf_len > 0)
            snprintf(opts->errbuf, opts->errbuf_len, "%s", mogen_strerror(MOGEN_ENOMEM));
        return MOGEN_ENOMEM;
    }
    c->sock = sock;
    c->timeout_ms = opts->timeout_ms;
    c->world = opts->world ? opts->world : 1;
    c->rank = opts->rank;

    hello = client_hello(stream, opts);
    if (hello == NULL) {
        rc = client_fail(c, MOGEN_ENOMEM, "%s", mogen_strerror(MOGEN_ENOMEM));
        goto fail;
    }
    rc = mogen__send_frame(sock, MOGEN_MSG_HELLO, hello, strlen(hello));
    cJSON_free(hello);
    if (rc < 0) {
        client_fail(c, rc, "cannot send HELLO: %s", mogen_strerror(rc));
        goto fail;
    }
    rc = client_welcome(c, opts);
    if (rc < 0)
        goto fail;
    *client = c;
    return 0;

fail:
    if (opts->errbuf != NULL && opts->errbuf_len > 0)
        snprintf(opts->errbuf, opts->errbuf_len, "%s", c->errmsg);
    mogen_close(c);
    return rc;
}

int mogen_connect(mogen_client_t **client, const char *socket_path, const char *stream,
                  const mogen_connect_options_t *opts)
{
    int timeout_ms = opts != NULL ? opts->timeout_ms : 0;
    int sock;

    *client = NULL;
    if (socket_path == NULL || stream == NULL)
        return MOGEN_EINVAL;
    sock = mogen__sock_connect(socket_path, timeout_ms);
    if (sock < 0) {
        if (opts != NULL && opts->errbuf != NULL && opts->errbuf_len > 0)
            snprintf(opts->errbuf, opts->errbuf_len, "cannot connect to %s: %s", socket_path,
                     mogen_strerror(sock));
        return sock;
    }
    return mogen__client_attach(client, sock, stream, opts);
}

void mogen_close(mogen_client_t *c)
{
    if (c == NULL)
        return;
    if (c->sock >= 0)
        close(c->sock);
    if (c->base != NULL)
        munmap((void *)c->base, (size_t)c->layout.shm_size);
    if (c->mailbox != NULL)
        munmap((void *)c->mailbox, MOGEN_MAILBOX_SIZE);
    mogen__layout_free(&c->layout);
    cJSON_Delete(c->last_batch);
    free(c->leases);
    free(c->welcome_text);
    free(c);
}

const char *mogen_client_error_message(const mogen_client_t *c)
{
    return c != NULL ? c->errmsg : "";
}

/* Records that c holds (epoch, index) in slot and fills *b; obj is the
 * BATCH body kept for mogen_batch_error (NULL when no file failed). */
static void client_hold(mogen_client_t *c, uint32_t slot, uint32_t epoch, uint32_t index,
                        uint32_t size, cJSON *obj, uint32_t nerr, mogen_batch_t *b)
{
    c->leases[slot] = (client_lease_t){1, epoch, index};
    cJSON_Delete(c->last_batch);
    c->last_batch = obj;
    c->last_epoch = epoch;
    c->last_index = index;
    c->last_slot = slot;
    /* The batch this rank receives next: world batches on, or this rank's
     * first of the next epoch (64 bits: world may be near 2^32). */
    if ((uint64_t)index + c->world < c->layout.batches_per_epoch) {
        c->next_epoch = epoch;
        c->next_batch = index + c->world;
    } else {
        c->next_epoch = epoch + 1;
        c->next_batch = c->rank;
    }

    b->slot = slot;
    b->epoch = epoch;
    b->batch = index;
    b->size = size;
    b->error_count = nerr;
    b->base = c->base + (size_t)slot * c->layout.slot_size;
    b->client = c;
}

/*
 * Fills *b from a BATCH body and leases its slot. Every number that later
 * becomes a pointer offset is range-checked against the layout here.
 */
static int client_batch(mogen_client_t *c, const mogen__frame_t *f, mogen_batch_t *b)
{
    mogen_batch_body_t fields;
    cJSON *obj = NULL;
    uint64_t slot, epoch, index, size;
    size_t nerr = 0;

    /* The usual BATCH, with no failed file, is read without a cJSON tree;
     * any other (errors to keep for mogen_batch_error, or a body that
     * reader does not take) goes through cJSON. */
    if (mogen_batch_body_read(f->body, f->length, &fields) == 1) {
        slot = fields.slot;
        epoch = fields.epoch;
        index = fields.batch;
        size = fields.size;
    } else {
        const cJSON *errors;
        int rc = mogen_frame_parse_body((const uint8_t *)f->body, f->length, &obj);
        if (rc < 0)
            return client_fail(c, rc == -ENOMEM ? MOGEN_ENOMEM : MOGEN_EBADREPLY,
                               "BATCH is not a JSON object");
        if (mogen_message_get_uint(obj, "slot", MOGEN_JSON_MAX_UINT, &slot) < 0 ||
            mogen_message_get_uint(obj, "epoch", MOGEN_JSON_MAX_UINT, &epoch) < 0 ||
            mogen_message_get_uint(obj, "batch", MOGEN_JSON_MAX_UINT, &index) < 0 ||
            mogen_message_get_uint(obj, "size", MOGEN_JSON_MAX_UINT, &size) < 0) {
            cJSON_Delete(obj);
            return client_fail(c, MOGEN_EBADREPLY,
                               "BATCH lacks slot, epoch, batch or size, or one is out of range");
        }
        errors = cJSON_GetObjectItemCaseSensitive(obj, "errors");
        if (cJSON_IsArray(errors))
            nerr = (size_t)cJSON_GetArraySize(errors);
    }
    if (slot >= c->layout.slot_count || epoch > UINT32_MAX || index > UINT32_MAX ||
        size > c->layout.batch_size) {
        cJSON_Delete(obj);
        return client_fail(c, MOGEN_EBADREPLY,
                           "BATCH lacks slot, epoch, batch or size, or one is out of range");
    }
    if (c->leases[slot].held) {
        cJSON_Delete(obj);
        return client_fail(c, MOGEN_EBADREPLY, "BATCH names slot %u, which this client holds",
                           (unsigned)slot);
    }
    client_hold(c, (uint32_t)slot, (uint32_t)epoch, (uint32_t)index, (uint32_t)size, obj,
                (uint32_t)nerr, b);
    return 0;
}

/*
 * Takes the batch the daemon posted in the mailbox, if there is one: reads
 * `posted` (acquire) and then the entry, checks it as client_batch checks
 * BATCH, and writes `taken`. Returns 1 with *b filled, 0 when nothing is
 * posted, or MOGEN_EBADREPLY (the client is then dead).
 */
static int client_take_posted(mogen_client_t *c, mogen_batch_t *b)
{
    _Atomic uint32_t *page = c->mailbox;
    uint32_t posted = atomic_load_explicit(&page[MOGEN_MAILBOX_POSTED / 4], memory_order_acquire);
    uint32_t slot, epoch, index, size;

    if (posted == c->taken)
        return 0;
    slot = atomic_load_explicit(&page[MOGEN_MAILBOX_SLOT / 4], memory_order_relaxed);
    epoch = atomic_load_explicit(&page[MOGEN_MAILBOX_EPOCH / 4], memory_order_relaxed);
    index = atomic_load_explicit(&page[MOGEN_MAILBOX_BATCH / 4], memory_order_relaxed);
    size = atomic_load_explicit(&page[MOGEN_MAILBOX_COUNT / 4], memory_order_relaxed);
    if (posted != c->taken + 1 || slot >= c->layout.slot_count || size > c->layout.batch_size ||
        c->leases[slot].held)
        return client_kill(c, client_fail(c, MOGEN_EBADREPLY,
                                          "the mailbox holds a batch this client cannot take "
                                          "(posted %u after %u taken, slot %u, size %u)",
                                          posted, c->taken, slot, size));
    c->taken = posted;
    atomic_store_explicit(&page[MOGEN_MAILBOX_TAKEN / 4], posted, memory_order_release);
    client_hold(c, slot, epoch, index, size, NULL, 0, b);
    return 1;
}

/*
 * Gives slot back through the mailbox. Returns 1, or 0 when the page's
 * ring of releases is full (the daemon has not read the last
 * MOGEN_MAILBOX_RELEASES yet): the caller then sends RELEASE.
 */
static int client_release_posted(mogen_client_t *c, uint32_t slot)
{
    _Atomic uint32_t *page = c->mailbox;
    size_t at;

    if (c->released - c->consumed >= MOGEN_MAILBOX_RELEASES)
        c->consumed =
            atomic_load_explicit(&page[MOGEN_MAILBOX_CONSUMED / 4], memory_order_acquire);
    if (c->released - c->consumed >= MOGEN_MAILBOX_RELEASES)
        return 0;
    at = MOGEN_MAILBOX_RELEASE_AT / 4 + c->released % MOGEN_MAILBOX_RELEASES;
    atomic_store_explicit(&page[at], slot, memory_order_relaxed);
    c->released++;
    atomic_store_explicit(&page[MOGEN_MAILBOX_RELEASED / 4], c->released, memory_order_release);
    return 1;
}

/* Fills *b from END_OF_EPOCH. */
static int client_end_of_epoch(mogen_client_t *c, const mogen__frame_t *f, mogen_batch_t *b)
{
    cJSON *obj = NULL;
    uint64_t epoch;

    if (mogen_frame_parse_body((const uint8_t *)f->body, f->length, &obj) < 0 ||
        mogen_message_get_uint(obj, "epoch", UINT32_MAX - 1, &epoch) < 0) {
        cJSON_Delete(obj);
        return client_fail(c, MOGEN_EBADREPLY, "END_OF_EPOCH lacks a valid epoch");
    }
    cJSON_Delete(obj);
    c->next_epoch = (uint32_t)epoch + 1;
    c->next_batch = c->rank;
    b->slot = UINT32_MAX;
    b->epoch = (uint32_t)epoch;
    b->batch = 0;
    b->size = 0;
    b->error_count = 0;
    b->base = NULL;
    b->client = c;
    return MOGEN_END_OF_EPOCH;
}

/*
 * Reads frames until the reply to the NEXT just sent, and fills *b from it.
 * An ERROR not_leased can only answer an earlier RELEASE (RELEASE has no
 * reply of its own; see docs/protocol.md), so it is noted and skipped; the
 * reply to NEXT follows.
 */
static int client_await_next(mogen_client_t *c, mogen_batch_t *b)
{
    int rc;

    for (;;) {
        mogen__frame_t f;
        rc = mogen__recv_frame(c->sock, c->timeout_ms, MOGEN_FRAME_MAX_REPLY, &f);
        if (rc < 0)
            return client_kill(c, client_fail(c, rc, "no reply to NEXT: %s", mogen_strerror(rc)));
        switch (f.type) {
        case MOGEN_MSG_BATCH:
            rc = client_batch(c, &f, b);
            break;
        case MOGEN_MSG_END_OF_EPOCH:
            rc = client_end_of_epoch(c, &f, b);
            break;
        case MOGEN_MSG_ERROR:
            rc = client_daemon_error(c, &f);
            if (rc == MOGEN_ENOTLEASED) {
                mogen__frame_free(&f);
                continue;
            }
            if (!mogen__error_keeps_connection(rc))
                client_kill(c, rc);
            mogen__frame_free(&f);
            return rc;
        default:
            rc = client_fail(c, MOGEN_EBADREPLY, "expected BATCH after NEXT, got %s",
                             mogen_msg_type_name(f.type));
            break;
        }
        mogen__frame_free(&f);
        if (rc == MOGEN_EBADREPLY || rc == MOGEN_ENOMEM)
            client_kill(c, rc);
        return rc;
    }
}

/*
 * A send that failed because the daemon closed the connection may leave the
 * ERROR that says why (shutting_down) readable: returns its code when it
 * is there, else reports the send failure. Either way the client is dead.
 */
static int client_send_failed(mogen_client_t *c, int rc, const char *what)
{
    if (rc == -EPIPE || rc == -ECONNRESET) {
        for (int i = 0; i < 4; i++) { /* a not_leased for an earlier RELEASE may come first */
            mogen__frame_t f;
            int err;
            if (mogen__recv_frame(c->sock, 1, MOGEN_FRAME_MAX_REPLY, &f) < 0)
                break;
            err = f.type == MOGEN_MSG_ERROR ? client_daemon_error(c, &f) : 0;
            mogen__frame_free(&f);
            if (err < 0 && err != MOGEN_ENOTLEASED)
                return client_kill(c, err);
        }
    }
    return client_kill(c, client_fail(c, rc, "cannot send %s: %s", what, mogen_strerror(rc)));
}

/*
 * client_await_next, then, with a mailbox, reads `taken` again: the daemon
 * answers a NEXT with a batch it had posted meanwhile, and marks that batch
 * taken for us.
 */
static int client_await_next_synced(mogen_client_t *c, mogen_batch_t *b)
{
    int rc = client_await_next(c, b);

    if (c->mailbox != NULL)
        c->taken =
            atomic_load_explicit(&c->mailbox[MOGEN_MAILBOX_TAKEN / 4], memory_order_acquire);
    return rc;
}

int mogen_next(mogen_client_t *c, mogen_batch_t *b)
{
    int rc;

    if (c->dead)
        return c->dead;
    if (c->mailbox != NULL) {
        rc = client_take_posted(c, b);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    rc = mogen__send_frame(c->sock, MOGEN_MSG_NEXT, "{}", 2);
    if (rc < 0)
        return client_send_failed(c, rc, "NEXT");
    return client_await_next_synced(c, b);
}

/*
 * Whether *b holds a slot of c: filled by mogen_next and not yet released,
 * and still the batch c holds in that slot (a copy of a released batch names
 * a slot that may since hold a later one).
 */
static int client_holds(const mogen_client_t *c, const mogen_batch_t *b)
{
    const client_lease_t *l;

    if (b->client != c || b->base == NULL || b->slot >= c->layout.slot_count)
        return 0;
    l = &c->leases[b->slot];
    return l->held && l->epoch == b->epoch && l->batch == b->batch;
}

/* Whether *b is a live batch of another client (a mistake worth an error). */
static int client_foreign(const mogen_client_t *c, const mogen_batch_t *b)
{
    return b->base != NULL && b->client != NULL && b->client != c;
}

/*
 * Forgets b's lease and writes the RELEASE body for its slot into body
 * (room for MOGEN__RELEASE_BODY_MAX bytes). Returns the body's length. The
 * caller has checked client_holds.
 */
static size_t client_take_back(mogen_client_t *c, mogen_batch_t *b, char *body)
{
    int len = snprintf(body, MOGEN__RELEASE_BODY_MAX, "{\"slot\":%u}", b->slot);

    c->leases[b->slot].held = 0;
    b->base = NULL;
    return (size_t)len;
}

int mogen_release(mogen_client_t *c, mogen_batch_t *b)
{
    char body[MOGEN__RELEASE_BODY_MAX];
    uint32_t slot = b->slot;
    size_t len;
    int rc;

    if (!client_holds(c, b))
        return client_fail(c, MOGEN_ENOTLEASED, "this batch holds no slot of this client");
    len = client_take_back(c, b, body);
    if (c->dead)
        return c->dead;
    if (c->mailbox != NULL && client_release_posted(c, slot))
        return 0;
    rc = mogen__send_frame(c->sock, MOGEN_MSG_RELEASE, body, len);
    if (rc < 0)
        return client_send_failed(c, rc, "RELEASE");
    return 0;
}

/*
 * RELEASE and NEXT in one write: the daemon reads both in one wake-up and
 * answers the NEXT before it hands the freed slot to a worker, where
 * mogen_release followed by mogen_next costs it two wake-ups and lets the
 * refill job go out first. A batch that holds nothing of c (zeroed, after
 * END_OF_EPOCH, already released, a copy of a released one) makes this plain
 * mogen_next; a batch of another client is refused, as mogen_release does.
 */
int mogen_release_next(mogen_client_t *c, mogen_batch_t *b)
{
    char body[MOGEN__RELEASE_BODY_MAX];
    mogen__out_frame_t frames[2];
    int rc;

    if (client_foreign(c, b))
        return client_fail(c, MOGEN_ENOTLEASED, "this batch belongs to another client");
    if (!client_holds(c, b))
        return mogen_next(c, b);
    if (c->mailbox != NULL) {
        /* The slot goes back through the page, and the next batch most
         * often comes from it: no system call at all. */
        rc = mogen_release(c, b);
        return rc < 0 ? rc : mogen_next(c, b);
    }
    frames[0].type = MOGEN_MSG_RELEASE;
    frames[0].body = body;
    frames[0].len = client_take_back(c, b, body);
    frames[1].type = MOGEN_MSG_NEXT;
    frames[1].body = "{}";
    frames[1].len = 2;
    if (c->dead)
        return c->dead;
    rc = mogen__send_frames(c->sock, frames, 2);
    if (rc < 0)
        return client_send_failed(c, rc, "RELEASE and NEXT");
    return client_await_next_synced(c, b);
}

const void *mogen_batch_tensor_at(const mogen_batch_t *b, size_t index)
{
    if (b->base == NULL || b->client == NULL || index >= b->client->layout.tensor_count)
        return NULL;
    return b->base + b->client->layout.tensors[index].offset;
}

const void *mogen_batch_tensor(const mogen_batch_t *b, const char *name)
{
    int i;

    if (b->client == NULL)
        return NULL;
    i = mogen__layout_find(&b->client->layout, name);
    if (i < 0)
        return NULL;
    return mogen_batch_tensor_at(b, (size_t)i);
}

/* Reads an integer or -1 from an error entry. */
static int64_t client_error_int(const cJSON *e, const char *key)
{
    uint64_t v;

    if (mogen_message_get_uint(e, key, MOGEN_JSON_MAX_UINT, &v) < 0)
        return -1;
    return (int64_t)v;
}

int mogen_batch_error(const mogen_batch_t *b, size_t index, mogen_sample_error_t *out)
{
    const mogen_client_t *c = b->client;
    const cJSON *errors;
    const cJSON *e;

    if (c == NULL || c->last_batch == NULL || b->base == NULL || b->slot != c->last_slot ||
        b->epoch != c->last_epoch || b->batch != c->last_index || index >= b->error_count)
        return MOGEN_EINVAL;
    errors = cJSON_GetObjectItemCaseSensitive(c->last_batch, "errors");
    e = cJSON_GetArrayItem(errors, (int)index);
    if (e == NULL)
        return MOGEN_EINVAL;
    out->row = client_error_int(e, "row");
    out->line = client_error_int(e, "line");
    if (mogen_message_get_string(e, "path", &out->path) < 0)
        out->path = "";
    if (mogen_message_get_string(e, "reason", &out->reason) < 0)
        out->reason = "";
    return 0;
}

void mogen_position(const mogen_client_t *c, uint32_t *epoch, uint32_t *batch)
{
    *epoch = c->next_epoch;
    *batch = c->next_batch;
}

const char *mogen_stream_name(const mogen_client_t *c)
{
    return c->layout.stream;
}

uint32_t mogen_batch_size(const mogen_client_t *c)
{
    return c->layout.batch_size;
}

uint32_t mogen_steps_per_epoch(const mogen_client_t *c)
{
    return c->layout.steps_per_epoch;
}

uint32_t mogen_batches_per_epoch(const mogen_client_t *c)
{
    return c->layout.batches_per_epoch;
}

uint64_t mogen_row_count(const mogen_client_t *c)
{
    return c->layout.rows;
}

uint32_t mogen_slot_count(const mogen_client_t *c)
{
    return c->layout.slot_count;
}

size_t mogen_tensor_count(const mogen_client_t *c)
{
    return c->layout.tensor_count;
}

int mogen_tensor_index(const mogen_client_t *c, const char *name)
{
    return mogen__layout_find(&c->layout, name);
}

const char *mogen_tensor_name(const mogen_client_t *c, size_t i)
{
    return i < c->layout.tensor_count ? c->layout.tensors[i].name : NULL;
}

mogen_dtype_t mogen_tensor_dtype(const mogen_client_t *c, size_t i)
{
    return i < c->layout.tensor_count ? c->layout.tensors[i].dtype : MOGEN_DTYPE_MAX;
}

uint32_t mogen_tensor_ndim(const mogen_client_t *c, size_t i)
{
    return i < c->layout.tensor_count ? c->layout.tensors[i].ndim : 0;
}

const uint64_t *mogen_tensor_shape(const mogen_client_t *c, size_t i)
{
    return i < c->layout.tensor_count ? c->layout.tensors[i].shape : NULL;
}

uint64_t mogen_tensor_bytes(const mogen_client_t *c, size_t i)
{
    return i < c->layout.tensor_count ? c->layout.tensors[i].bytes : 0;
}

size_t mogen_output_count(const mogen_client_t *c)
{
    return c->layout.output_count;
}

const char *mogen_output_name(const mogen_client_t *c, size_t i)
{
    return i < c->layout.output_count ? c->layout.outputs[i].name : NULL;
}

const char *mogen_output_kind(const mogen_client_t *c, size_t i)
{
    return i < c->layout.output_count ? c->layout.outputs[i].kind : NULL;
}

const char *mogen_output_encoding(const mogen_client_t *c, size_t i)
{
    return i < c->layout.output_count ? c->layout.outputs[i].encoding : NULL;
}

size_t mogen_output_class_count(const mogen_client_t *c, size_t i)
{
    return i < c->layout.output_count ? c->layout.outputs[i].class_count : 0;
}

const char *mogen_output_class_name(const mogen_client_t *c, size_t i, size_t cls)
{
    if (i >= c->layout.output_count || cls >= c->layout.outputs[i].class_count)
        return NULL;
    return c->layout.outputs[i].classes[cls];
}

const char *mogen_welcome_json(const mogen_client_t *c)
{
    return c->welcome_text;
}

/*
 * One STATUS round trip on a fresh control connection, so that mogenctl
 * never disturbs a stream. The reply's body is handed over as is (it was
 * NUL-terminated on receipt) after checking it is a JSON object.
 */
int mogen_status_json(const char *socket_path, char **json_out)
{
    mogen__frame_t f;
    cJSON *obj = NULL;
    int sock;
    int rc;

    *json_out = NULL;
    if (socket_path == NULL)
        return MOGEN_EINVAL;
    sock = mogen__sock_connect(socket_path, MOGEN_STATUS_TIMEOUT_MS);
    if (sock < 0)
        return sock;
    rc = mogen__send_frame(sock, MOGEN_MSG_STATUS, "{}", 2);
    if (rc < 0)
        goto out;
    rc = mogen__recv_frame(sock, MOGEN_STATUS_TIMEOUT_MS, MOGEN_FRAME_MAX_REPLY, &f);
    if (rc < 0)
        goto out;
    if (f.type == MOGEN_MSG_ERROR) {
        const char *code = NULL;
        rc = MOGEN_EDAEMON;
        if (mogen_frame_parse_body((const uint8_t *)f.body, f.length, &obj) == 0 &&
            mogen_message_get_string(obj, "code", &code) == 0)
            rc = mogen__error_from_wire(code);
        cJSON_Delete(obj);
    } else if (f.type != MOGEN_MSG_STATUS_REPLY) {
        rc = MOGEN_EBADREPLY;
    } else {
        rc = mogen_frame_parse_body((const uint8_t *)f.body, f.length, &obj);
        cJSON_Delete(obj);
        if (rc == 0 && f.length == 0) {
            *json_out = strdup("{}"); /* An empty body means {}. */
            if (*json_out == NULL)
                rc = MOGEN_ENOMEM;
        } else if (rc == 0) {
            *json_out = f.body;
            f.body = NULL;
        } else {
            rc = rc == -ENOMEM ? MOGEN_ENOMEM : MOGEN_EBADREPLY;
        }
    }
    mogen__frame_free(&f);
out:
    close(sock);
    return rc;
}
