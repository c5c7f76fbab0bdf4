/*
 * test_client_socket.c: libmogen's wire handling against a scripted fake
 * daemon in a thread: the handshake, the fd passed with WELCOME and the
 * mapping it gives, batches, releases, ERROR frames, timeouts and STATUS.
 * The real daemon is exercised by the end-to-end tests; this checks the
 * client alone, including replies a correct daemon never sends.
 *
 * The fake daemon never calls cmocka (its assertions are not thread-safe):
 * it records the first thing it found wrong in `problem`, which the test
 * checks after joining it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <stdatomic.h>

#include "client_internal.h"
#include "frame.h"
#include "mailbox_layout.h"
#include "message.h"
#include "mogen.h"

/* The fake stream: 3 slots of 256 bytes, batches of 2 samples of 4x4x3. */
#define SLOT_SIZE 256
#define SLOT_COUNT 3
#define SHM_SIZE (SLOT_SIZE * SLOT_COUNT)

static const char welcome_body[] =
    "{\"version\": 1, \"stream\": \"train\", \"batch_size\": 2, \"steps_per_epoch\": 3,"
    " \"batches_per_epoch\": 6, \"rank\": 1, \"world\": 2,"
    " \"rows\": 5, \"epoch\": 3, \"batch\": 4, \"slot_count\": 3, \"slot_size\": 256,"
    " \"shm_size\": 768, \"shm_path\": null,"
    " \"tensors\": ["
    "{\"name\": \"x\", \"dtype\": \"uint8\", \"shape\": [2, 4, 4, 3], \"offset\": 0, \"bytes\": 96},"
    "{\"name\": \"category_output\", \"dtype\": \"float32\", \"shape\": [2, 3], \"offset\": 128,"
    " \"bytes\": 24},"
    "{\"name\": \"row_ids\", \"dtype\": \"int64\", \"shape\": [2], \"offset\": 192, \"bytes\": 16}],"
    " \"outputs\": [{\"name\": \"category_output\", \"kind\": \"multi_class\","
    " \"encoding\": \"onehot\", \"classes\": [\"Blazer\", \"Blouse\", \"Coat\"]}]}";

typedef struct fake {
    int sock;            /* The daemon's end. */
    int listen_fd;       /* >= 0: accept sock from here first. */
    void (*script)(struct fake *);
    size_t shm_size;     /* Size of the memfd sent with WELCOME. */
    int send_fd;         /* 0: WELCOME carries no fd. */
    int mailbox;         /* 1: WELCOME grants a mailbox page, mapped at `page`. */
    _Atomic uint32_t *page;
    char problem[256];   /* First thing found wrong, or "". */
    pthread_t thread;
} fake_t;

static void fake_problem(fake_t *f, const char *what)
{
    if (f->problem[0] == '\0')
        snprintf(f->problem, sizeof f->problem, "%s", what);
}

/* Sends a frame with fds[0..count) attached to its first byte. */
static int fake_send_fds(int sock, uint16_t type, const char *body, const int *fds, int count)
{
    size_t len = strlen(body);
    uint8_t *buf = malloc(MOGEN_FRAME_HEADER_SIZE + len);
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } control;
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;

    mogen_frame_encode_header(buf, type, (uint32_t)len);
    memcpy(buf + MOGEN_FRAME_HEADER_SIZE, body, len);
    iov.iov_base = buf;
    iov.iov_len = MOGEN_FRAME_HEADER_SIZE + len;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (count > 0) {
        struct cmsghdr *c;
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)count * sizeof(int));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)count * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)count * sizeof(int));
    }
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    free(buf);
    return n == (ssize_t)iov.iov_len ? 0 : -1;
}

/* Sends a frame, with fd attached to its first byte when fd >= 0. */
static int fake_send(int sock, uint16_t type, const char *body, int fd)
{
    return fake_send_fds(sock, type, body, &fd, fd >= 0 ? 1 : 0);
}

/* Receives one frame and parses its body; returns the type, or -1. */
static int fake_recv(fake_t *f, cJSON **body)
{
    mogen__frame_t fr;
    int type;

    *body = NULL;
    if (mogen__recv_frame(f->sock, 0, MOGEN_FRAME_MAX_REQUEST, &fr) < 0)
        return -1;
    if (fr.fd >= 0)
        fake_problem(f, "the client sent an fd");
    if (mogen_frame_parse_body((const uint8_t *)fr.body, fr.length, body) < 0)
        fake_problem(f, "the client sent a body that is not a JSON object");
    type = fr.type;
    mogen__frame_free(&fr);
    return type;
}

/* Expects a frame of `type`; returns its body (or NULL, with a problem). */
static cJSON *fake_expect(fake_t *f, int type)
{
    cJSON *body = NULL;
    int got = fake_recv(f, &body);

    if (got != type) {
        char what[96];
        snprintf(what, sizeof what, "expected %s, got %s", mogen_msg_type_name((uint16_t)type),
                 got < 0 ? "nothing" : mogen_msg_type_name((uint16_t)got));
        fake_problem(f, what);
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

/* Sends WELCOME with "mailbox": true, the ring's fd and a mailbox page in
 * which batch 4 of epoch 3 is already posted in slot 1. */
static void fake_send_welcome_with_mailbox(fake_t *f, int ring_fd)
{
    char body[sizeof welcome_body + 32];
    int fds[2] = {ring_fd, memfd_create("fake-mailbox", MFD_CLOEXEC)};
    void *page;

    snprintf(body, sizeof body, "%.*s, \"mailbox\": true}", (int)strlen(welcome_body) - 1,
             welcome_body);
    if (fds[1] < 0 || ftruncate(fds[1], MOGEN_MAILBOX_SIZE) < 0) {
        fake_problem(f, "mailbox memfd failed");
        return;
    }
    page = mmap(NULL, MOGEN_MAILBOX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
    if (page == MAP_FAILED) {
        fake_problem(f, "mailbox mmap failed");
        close(fds[1]);
        return;
    }
    f->page = page;
    f->page[MOGEN_MAILBOX_SLOT / 4] = 1;
    f->page[MOGEN_MAILBOX_EPOCH / 4] = 3;
    f->page[MOGEN_MAILBOX_BATCH / 4] = 4;
    f->page[MOGEN_MAILBOX_COUNT / 4] = 2;
    f->page[MOGEN_MAILBOX_POSTED / 4] = 1;
    if (fake_send_fds(f->sock, MOGEN_MSG_WELCOME, body, fds, 2) < 0)
        fake_problem(f, "cannot send WELCOME");
    close(fds[1]);
}

/* Reads HELLO and answers WELCOME with a memfd whose slot 1 holds a
 * recognisable pattern in "x" and row ids 7 and 8. */
static void fake_handshake(fake_t *f)
{
    cJSON *hello = fake_expect(f, MOGEN_MSG_HELLO);
    const char *stream = NULL;
    uint64_t version = 0;
    int fd;
    uint8_t *mem;

    if (hello == NULL)
        return;
    if (mogen_message_get_uint(hello, "version", 10, &version) < 0 || version != 1 ||
        mogen_message_get_string(hello, "stream", &stream) < 0 || strcmp(stream, "train") != 0)
        fake_problem(f, "HELLO lacks version 1 or stream train");
    if (f->mailbox && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hello, "mailbox")))
        fake_problem(f, "HELLO does not ask for a mailbox");
    cJSON_Delete(hello);

    fd = memfd_create("fake-mogen", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)f->shm_size) < 0) {
        fake_problem(f, "memfd failed");
        return;
    }
    mem = mmap(NULL, f->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem != MAP_FAILED) {
        int64_t rows[2] = {7, 8};
        for (int i = 0; i < 96; i++)
            mem[SLOT_SIZE + i] = (uint8_t)(i + 1);
        memcpy(mem + SLOT_SIZE + 192, rows, sizeof rows);
        munmap(mem, f->shm_size);
    }
    if (f->mailbox) {
        fake_send_welcome_with_mailbox(f, fd);
    } else if (fake_send(f->sock, MOGEN_MSG_WELCOME, welcome_body, f->send_fd ? fd : -1) < 0) {
        fake_problem(f, "cannot send WELCOME");
    }
    close(fd);
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    sigset_t alarm;

    /* SIGALRM is for the client's thread (signals_do_not_stretch_the_timeout). */
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, NULL);

    if (f->listen_fd >= 0) {
        f->sock = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (f->sock < 0) {
            fake_problem(f, "accept failed");
            return NULL;
        }
    }
    f->script(f);
    close(f->sock);
    return NULL;
}

/* Sets up a fake daemon running script, sending a full-size memfd. Tests
 * change send_fd or shm_size before starting it. */
static void fake_init(fake_t *f, void (*script)(fake_t *))
{
    memset(f, 0, sizeof *f);
    f->sock = -1;
    f->listen_fd = -1;
    f->script = script;
    f->shm_size = SHM_SIZE;
    f->send_fd = 1;
}

/* Starts the fake daemon on a socketpair; returns the client's end. */
static int fake_start(fake_t *f)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    f->sock = sv[1];
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return sv[0];
}

/* Starts a fake daemon listening at a fresh path in dir. */
static void fake_listen(fake_t *f, void (*script)(fake_t *), char *dir, char *path, size_t len)
{
    struct sockaddr_un addr;

    fake_init(f, script);
    assert_non_null(mkdtemp(dir));
    snprintf(path, len, "%s/mogen.sock", dir);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->listen_fd >= 0);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(f->listen_fd, 4), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_join(fake_t *f)
{
    assert_int_equal(pthread_join(f->thread, NULL), 0);
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    assert_string_equal(f->problem, "");
}

/* Handshake; one batch with a failed sample; RELEASE answered by a stray
 * not_leased ERROR; END_OF_EPOCH; then stream_failed, which keeps the
 * connection open; then the client closes. */
static void script_session(fake_t *f)
{
    cJSON *body;
    uint64_t slot = 99;

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_BATCH,
              "{\"slot\": 1, \"epoch\": 3, \"batch\": 4, \"size\": 2, \"errors\": [{\"row\": 8,"
              " \"line\": 10, \"path\": \"/img/8.jpg\", \"reason\": \"corrupt JPEG data\"}]}",
              -1);
    body = fake_expect(f, MOGEN_MSG_RELEASE);
    if (body == NULL || mogen_message_get_uint(body, "slot", 10, &slot) < 0 || slot != 1)
        fake_problem(f, "RELEASE does not name slot 1");
    cJSON_Delete(body);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_ERROR, "{\"code\": \"not_leased\", \"message\": \"stray\"}", -1);
    fake_send(f->sock, MOGEN_MSG_END_OF_EPOCH, "{\"epoch\": 3}", -1);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_ERROR,
              "{\"code\": \"stream_failed\", \"message\": \"every file failed: /img missing\"}",
              -1);
    if (fake_recv(f, &body) != -1)
        fake_problem(f, "the client sent more after stream_failed");
    cJSON_Delete(body);
}

static void handshake_fd_and_batches(void **state)
{
    fake_t f;
    mogen_client_t *c = NULL;
    mogen_batch_t b;
    mogen_sample_error_t e;
    const uint8_t *x;
    const int64_t *rows;
    uint32_t epoch, batch;
    int sock;
    (void)state;

    fake_init(&f, script_session);
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", NULL), 0);
    assert_non_null(c);

    /* The layout from WELCOME. */
    assert_string_equal(mogen_stream_name(c), "train");
    assert_int_equal(mogen_batch_size(c), 2);
    assert_int_equal(mogen_steps_per_epoch(c), 3);
    assert_int_equal(mogen_batches_per_epoch(c), 6);
    assert_int_equal(mogen_row_count(c), 5);
    assert_int_equal(mogen_slot_count(c), 3);
    assert_int_equal(mogen_tensor_count(c), 3);
    assert_int_equal(mogen_tensor_index(c, "row_ids"), 2);
    assert_int_equal(mogen_tensor_index(c, "y"), MOGEN_ENOTENSOR);
    assert_string_equal(mogen_tensor_name(c, 1), "category_output");
    assert_null(mogen_tensor_name(c, 3));
    assert_int_equal(mogen_tensor_dtype(c, 1), MOGEN_DTYPE_FLOAT32);
    assert_int_equal(mogen_tensor_ndim(c, 0), 4);
    assert_int_equal(mogen_tensor_shape(c, 0)[1], 4);
    assert_int_equal(mogen_tensor_bytes(c, 0), 96);
    assert_int_equal(mogen_output_count(c), 1);
    assert_string_equal(mogen_output_name(c, 0), "category_output");
    assert_string_equal(mogen_output_kind(c, 0), "multi_class");
    assert_string_equal(mogen_output_encoding(c, 0), "onehot");
    assert_int_equal(mogen_output_class_count(c, 0), 3);
    assert_string_equal(mogen_output_class_name(c, 0, 1), "Blouse");
    assert_null(mogen_output_class_name(c, 0, 3));
    assert_non_null(strstr(mogen_welcome_json(c), "\"slot_size\": 256"));
    mogen_position(c, &epoch, &batch);
    assert_int_equal(epoch, 3);
    assert_int_equal(batch, 4);

    /* A batch: pointers into the mapping of the fd. */
    memset(&b, 0, sizeof b);
    assert_int_equal(mogen_next(c, &b), 0);
    assert_int_equal(b.slot, 1);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(b.batch, 4);
    assert_int_equal(b.size, 2);
    assert_int_equal(b.error_count, 1);
    x = mogen_batch_tensor(&b, "x");
    assert_non_null(x);
    assert_int_equal(x[0], 1);
    assert_int_equal(x[95], 96);
    rows = mogen_batch_tensor_at(&b, 2);
    assert_int_equal(rows[0], 7);
    assert_int_equal(rows[1], 8);
    assert_null(mogen_batch_tensor(&b, "nope"));
    assert_int_equal(mogen_batch_error(&b, 0, &e), 0);
    assert_int_equal(e.row, 8);
    assert_int_equal(e.line, 10);
    assert_string_equal(e.path, "/img/8.jpg");
    assert_string_equal(e.reason, "corrupt JPEG data");
    assert_int_equal(mogen_batch_error(&b, 1, &e), MOGEN_EINVAL);
    mogen_position(c, &epoch, &batch);
    assert_int_equal(epoch, 3);
    assert_int_equal(batch, 5);

    assert_int_equal(mogen_release(c, &b), 0);
    assert_null(b.base);
    assert_null(mogen_batch_tensor(&b, "x"));
    assert_int_equal(mogen_release(c, &b), MOGEN_ENOTLEASED); /* Twice. */

    /* A stray not_leased is skipped; END_OF_EPOCH names the epoch. */
    assert_int_equal(mogen_next(c, &b), MOGEN_END_OF_EPOCH);
    assert_int_equal(b.epoch, 3);
    assert_null(b.base);
    mogen_position(c, &epoch, &batch);
    assert_int_equal(epoch, 4);
    assert_int_equal(batch, 0);

    /* stream_failed: the daemon's sentence, connection still usable. */
    assert_int_equal(mogen_next(c, &b), MOGEN_ESTREAMFAILED);
    assert_string_equal(mogen_client_error_message(c), "every file failed: /img missing");
    mogen_close(c);
    fake_join(&f);
}

/* The first batch is taken from the mailbox and given back there, with no
 * frame; the second comes over the socket; then the page says a batch was
 * posted that does not follow the one taken, which the client refuses. */
static void script_mailbox(fake_t *f)
{
    cJSON *body;

    fake_handshake(f);
    if (f->page == NULL)
        return;
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    if (f->page[MOGEN_MAILBOX_TAKEN / 4] != 1 || f->page[MOGEN_MAILBOX_RELEASED / 4] != 1 ||
        f->page[MOGEN_MAILBOX_RELEASE_AT / 4] != 1)
        fake_problem(f, "the page does not show batch 4 taken and slot 1 given back");
    f->page[MOGEN_MAILBOX_POSTED / 4] = 5; /* nonsense: one was taken, one at most may follow */
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 2, \"epoch\": 3, \"batch\": 5, \"size\": 1}", -1);
    if (fake_recv(f, &body) != -1)
        fake_problem(f, "the client sent more after the page stopped making sense");
    cJSON_Delete(body);
    munmap((void *)f->page, MOGEN_MAILBOX_SIZE);
}

static void mailbox_batches_need_no_frame_and_nonsense_is_refused(void **state)
{
    fake_t f;
    mogen_client_t *c;
    mogen_batch_t b = {0};
    const uint8_t *x;
    mogen_connect_options_t o;
    uint32_t epoch, batch;
    int sock;
    (void)state;

    fake_init(&f, script_mailbox);
    f.mailbox = 1;
    sock = fake_start(&f);
    mogen_connect_options_init(&o);
    o.rank = 1; /* As the fake's WELCOME says: 6 batches per epoch, 2 ranks. */
    o.world = 2;
    assert_int_equal(mogen__client_attach(&c, sock, "train", &o), 0);

    assert_int_equal(mogen_next(c, &b), 0); /* From the page: no NEXT sent. */
    assert_int_equal(b.slot, 1);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(b.batch, 4);
    assert_int_equal(b.size, 2);
    assert_int_equal(b.error_count, 0);
    x = mogen_batch_tensor(&b, "x");
    assert_non_null(x);
    assert_int_equal(x[0], 1);
    mogen_position(c, &epoch, &batch); /* Batch 6 would be past the epoch's end: */
    assert_int_equal(epoch, 4);        /* rank 1's first of the next one. */
    assert_int_equal(batch, 1);
    assert_int_equal(mogen_release(c, &b), 0); /* Through the page: no RELEASE sent. */

    assert_int_equal(mogen_next(c, &b), 0); /* Nothing posted: NEXT, BATCH. */
    assert_int_equal(b.slot, 2);
    assert_int_equal(b.batch, 5);

    assert_int_equal(mogen_release_next(c, &b), MOGEN_EBADREPLY);
    assert_non_null(strstr(mogen_client_error_message(c), "mailbox"));
    assert_int_equal(mogen_next(c, &b), MOGEN_EBADREPLY); /* The client is dead. */
    mogen_close(c);
    fake_join(&f);
}

/*
 * Reads once, without waiting for more, and checks that the bytes are
 * exactly a RELEASE of `slot` followed by a NEXT: the two frames of
 * mogen_release_next, sent in one write, arrive together.
 */
static void fake_expect_release_next_in_one_read(fake_t *f, unsigned slot)
{
    uint8_t want[64];
    uint8_t got[sizeof want + 1];
    char release[32];
    size_t len = 0;
    ssize_t n;

    snprintf(release, sizeof release, "{\"slot\":%u}", slot);
    mogen_frame_encode_header(want, MOGEN_MSG_RELEASE, (uint32_t)strlen(release));
    len += MOGEN_FRAME_HEADER_SIZE;
    memcpy(want + len, release, strlen(release));
    len += strlen(release);
    mogen_frame_encode_header(want + len, MOGEN_MSG_NEXT, 2);
    len += MOGEN_FRAME_HEADER_SIZE;
    memcpy(want + len, "{}", 2);
    len += 2;
    n = recv(f->sock, got, sizeof got, 0);
    if (n != (ssize_t)len || memcmp(got, want, len) != 0)
        fake_problem(f, "RELEASE + NEXT did not arrive as one read of exactly those frames");
}

/* Expects RELEASE of `slot`. */
static void fake_expect_release(fake_t *f, uint64_t slot)
{
    cJSON *body = fake_expect(f, MOGEN_MSG_RELEASE);
    uint64_t got = UINT64_MAX;

    if (body == NULL || mogen_message_get_uint(body, "slot", 10, &got) < 0 || got != slot)
        fake_problem(f, "RELEASE names the wrong slot");
    cJSON_Delete(body);
}

/* A zeroed batch asks with NEXT alone; a held one sends RELEASE + NEXT in
 * one write; a released one, or one after END_OF_EPOCH, NEXT alone. */
static void script_release_next(fake_t *f)
{
    cJSON *body;

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 1, \"epoch\": 3, \"batch\": 4, \"size\": 2}", -1);
    fake_expect_release_next_in_one_read(f, 1);
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 2, \"epoch\": 3, \"batch\": 5, \"size\": 1}", -1);
    fake_expect_release(f, 2);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_END_OF_EPOCH, "{\"epoch\": 3}", -1);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 0, \"epoch\": 4, \"batch\": 0, \"size\": 2}", -1);
    if (fake_recv(f, &body) != -1)
        fake_problem(f, "the client sent more than it was asked to");
    cJSON_Delete(body);
}

static void release_next_sends_both_frames_in_one_write(void **state)
{
    fake_t f;
    mogen_client_t *c;
    mogen_batch_t b = {0};
    uint32_t epoch, batch;
    int sock;
    (void)state;

    fake_init(&f, script_release_next);
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", NULL), 0);
    b.data = &f;

    assert_int_equal(mogen_release_next(c, &b), 0); /* Zeroed: NEXT alone. */
    assert_int_equal(b.slot, 1);
    assert_int_equal(b.batch, 4);
    assert_ptr_equal(b.data, &f);

    assert_int_equal(mogen_release_next(c, &b), 0); /* RELEASE 1 + NEXT. */
    assert_int_equal(b.slot, 2);
    assert_int_equal(b.batch, 5);
    assert_int_equal(b.size, 1);
    assert_non_null(mogen_batch_tensor(&b, "x"));
    mogen_position(c, &epoch, &batch); /* The epoch's last batch (of 6): next, */
    assert_int_equal(epoch, 4);        /* the first of the next epoch. */
    assert_int_equal(batch, 0);

    assert_int_equal(mogen_release(c, &b), 0);
    assert_int_equal(mogen_release_next(c, &b), MOGEN_END_OF_EPOCH); /* Released: NEXT. */
    assert_int_equal(b.epoch, 3);
    assert_null(b.base);

    assert_int_equal(mogen_release_next(c, &b), 0); /* After END_OF_EPOCH: NEXT. */
    assert_int_equal(b.slot, 0);
    assert_int_equal(b.epoch, 4);
    assert_int_equal(b.batch, 0);
    assert_ptr_equal(b.data, &f);
    assert_string_equal(mogen_client_error_message(c), "");
    mogen_close(c);
    fake_join(&f);
}

/* The daemon reuses slot 1 for a later batch while the test keeps a stale
 * copy of the first one; nothing but the expected frames may arrive. */
static void script_stale_copy(fake_t *f)
{
    cJSON *body;

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 1, \"epoch\": 3, \"batch\": 4, \"size\": 2}", -1);
    fake_expect_release(f, 1);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 1, \"epoch\": 3, \"batch\": 6, \"size\": 2}", -1);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT)); /* The stale copy's release_next: NEXT alone. */
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 2, \"epoch\": 3, \"batch\": 8, \"size\": 2}", -1);
    fake_expect_release(f, 1); /* The batch really held in slot 1. */
    if (fake_recv(f, &body) != -1)
        fake_problem(f, "the client sent more than it was asked to");
    cJSON_Delete(body);
}

/*
 * A copy of a released batch names a slot that may hold a later batch now:
 * releasing the copy must not give that one back, and release_next on it is
 * a plain NEXT. A live batch of another client is refused, nothing sent.
 */
static void stale_copies_and_foreign_batches_release_nothing(void **state)
{
    fake_t f;
    mogen_client_t *c;
    mogen_batch_t b = {0}, copy, later = {0}, foreign;
    int sock;
    (void)state;

    fake_init(&f, script_stale_copy);
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", NULL), 0);
    assert_int_equal(mogen_next(c, &b), 0);
    copy = b;
    assert_int_equal(mogen_release(c, &b), 0);
    assert_int_equal(mogen_next(c, &later), 0);
    assert_int_equal(later.slot, 1);
    assert_int_equal(later.batch, 6);

    assert_int_equal(mogen_release(c, &copy), MOGEN_ENOTLEASED);
    assert_int_equal(mogen_release_next(c, &copy), 0);
    assert_int_equal(copy.slot, 2);
    assert_int_equal(copy.batch, 8);

    foreign = later;
    foreign.client = (mogen_client_t *)&f; /* Any other client; never dereferenced. */
    assert_int_equal(mogen_release_next(c, &foreign), MOGEN_ENOTLEASED);
    assert_string_equal(mogen_client_error_message(c), "this batch belongs to another client");

    assert_int_equal(mogen_release(c, &later), 0);
    mogen_close(c);
    fake_join(&f);
}

/* Big enough that two frames overflow a minimal socket buffer. */
#define BIG_BODY (MOGEN_FRAME_MAX_REQUEST - 2)

typedef struct slow_reader {
    int sock;
    uint8_t *buf;
    size_t want;
    size_t got;
} slow_reader_t;

/* Waits past the sender's timeout, so that its first sendmsg returns
 * short, then reads everything. */
static void *slow_reader_main(void *arg)
{
    slow_reader_t *r = arg;
    struct timespec pause = {0, 150 * 1000 * 1000};

    nanosleep(&pause, NULL);
    while (r->got < r->want) {
        ssize_t n = recv(r->sock, r->buf + r->got, r->want - r->got, 0);
        if (n <= 0)
            break;
        r->got += (size_t)n;
    }
    return NULL;
}

static void send_frames_continues_after_a_short_write(void **state)
{
    int sv[2];
    int small = 4096;
    struct timeval timeout = {0, 100 * 1000};
    char *body = malloc(BIG_BODY);
    mogen__out_frame_t frames[2];
    slow_reader_t r;
    pthread_t thread;
    size_t frame_len = MOGEN_FRAME_HEADER_SIZE + BIG_BODY;
    (void)state;

    assert_non_null(body);
    for (size_t i = 0; i < BIG_BODY; i++)
        body[i] = (char)('a' + i % 26);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout), 0);
    memset(&r, 0, sizeof r);
    r.sock = sv[1];
    r.want = 2 * frame_len;
    r.buf = malloc(r.want);
    assert_non_null(r.buf);
    assert_int_equal(pthread_create(&thread, NULL, slow_reader_main, &r), 0);

    frames[0] = (mogen__out_frame_t){MOGEN_MSG_RELEASE, body, BIG_BODY};
    frames[1] = (mogen__out_frame_t){MOGEN_MSG_NEXT, body, BIG_BODY};
    assert_int_equal(mogen__send_frames(sv[0], frames, 2), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);

    assert_int_equal(r.got, r.want);
    for (int i = 0; i < 2; i++) {
        mogen_frame_header_t h;
        const uint8_t *frame = r.buf + (size_t)i * frame_len;
        assert_int_equal(mogen_frame_decode_header(frame, frame_len, MOGEN_FRAME_MAX_REQUEST, &h), 1);
        assert_int_equal(h.type, i == 0 ? MOGEN_MSG_RELEASE : MOGEN_MSG_NEXT);
        assert_int_equal(h.length, BIG_BODY);
        assert_memory_equal(frame + MOGEN_FRAME_HEADER_SIZE, body, BIG_BODY);
    }
    close(sv[0]);
    close(sv[1]);
    free(r.buf);
    free(body);
}

static void send_frames_refuses_what_it_cannot_send(void **state)
{
    mogen__out_frame_t frames[MOGEN__MAX_SEND_FRAMES + 1];
    (void)state;

    for (size_t i = 0; i < MOGEN__MAX_SEND_FRAMES + 1; i++)
        frames[i] = (mogen__out_frame_t){MOGEN_MSG_NEXT, "{}", 2};
    /* Refused before any write: the fd is never used. */
    assert_int_equal(mogen__send_frames(-1, frames, MOGEN__MAX_SEND_FRAMES + 1), MOGEN_EINVAL);
    frames[0].len = MOGEN_FRAME_MAX_REQUEST + 1;
    assert_int_equal(mogen__send_frames(-1, frames, 1), MOGEN_EINVAL);
}

static void script_unknown_stream(fake_t *f)
{
    cJSON_Delete(fake_expect(f, MOGEN_MSG_HELLO));
    fake_send(f->sock, MOGEN_MSG_ERROR,
              "{\"code\": \"unknown_stream\", \"message\": \"no stream \\\"tran\\\"; streams:"
              " train, validation\"}",
              -1);
}

static void error_on_hello_is_reported_with_its_message(void **state)
{
    fake_t f;
    mogen_client_t *c = (mogen_client_t *)&f;
    mogen_connect_options_t o;
    char err[200];
    int sock;
    (void)state;

    mogen_connect_options_init(&o);
    o.errbuf = err;
    o.errbuf_len = sizeof err;
    fake_init(&f, script_unknown_stream);
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", &o), MOGEN_EUNKNOWNSTREAM);
    assert_null(c);
    assert_string_equal(err, "no stream \"tran\"; streams: train, validation");
    fake_join(&f);
}

static void script_welcome_only(fake_t *f)
{
    cJSON *body;

    fake_handshake(f);
    (void)fake_recv(f, &body); /* Wait for the client to hang up. */
    cJSON_Delete(body);
}

static void welcome_without_fd_is_refused(void **state)
{
    fake_t f;
    mogen_client_t *c;
    int sock;
    (void)state;

    fake_init(&f, script_welcome_only);
    f.send_fd = 0;
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", NULL), MOGEN_ENOFD);
    assert_null(c);
    fake_join(&f);
}

static void memory_smaller_than_welcome_says_is_refused(void **state)
{
    fake_t f;
    mogen_client_t *c;
    mogen_connect_options_t o;
    char err[200];
    int sock;
    (void)state;

    mogen_connect_options_init(&o);
    o.errbuf = err;
    o.errbuf_len = sizeof err;
    fake_init(&f, script_welcome_only);
    f.shm_size = SHM_SIZE / 2;
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", &o), MOGEN_EBADREPLY);
    assert_non_null(strstr(err, "WELCOME says 768"));
    fake_join(&f);
}

static void script_close_after_next(fake_t *f)
{
    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
}

static void daemon_gone_mid_next_is_closed_for_good(void **state)
{
    fake_t f;
    mogen_client_t *c;
    mogen_batch_t b;
    int sock;
    (void)state;

    fake_init(&f, script_close_after_next);
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", NULL), 0);
    assert_int_equal(mogen_next(c, &b), MOGEN_ECLOSED);
    assert_int_equal(mogen_next(c, &b), MOGEN_ECLOSED);
    mogen_close(c);
    fake_join(&f);
}

static void script_shutting_down(fake_t *f)
{
    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 1, \"epoch\": 0, \"batch\": 0, \"size\": 2}", -1);
    fake_send(f->sock, MOGEN_MSG_ERROR,
              "{\"code\": \"shutting_down\", \"message\": \"mogend is stopping\"}", -1);
}

/* mogend tells each client why before it closes; the client's next write
 * fails (EPIPE) before it reads that, and must still report it. */
static void daemon_stopping_is_reported_as_shutting_down(void **state)
{
    fake_t f;
    mogen_client_t *c;
    mogen_batch_t b = {0};
    int sock;
    (void)state;

    fake_init(&f, script_shutting_down);
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", NULL), 0);
    assert_int_equal(mogen_next(c, &b), 0);
    fake_join(&f); /* the fake has closed its end */
    assert_int_equal(mogen_release_next(c, &b), MOGEN_ESHUTTINGDOWN);
    assert_string_equal(mogen_client_error_message(c), "mogend is stopping");
    assert_int_equal(mogen_next(c, &b), MOGEN_ESHUTTINGDOWN);
    mogen_close(c);
}

static void script_bad_batch(fake_t *f)
{
    cJSON *body;

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    /* Slot 3 is past slot_count: a pointer outside the mapping if believed. */
    fake_send(f->sock, MOGEN_MSG_BATCH, "{\"slot\": 3, \"epoch\": 0, \"batch\": 0, \"size\": 2}", -1);
    (void)fake_recv(f, &body);
    cJSON_Delete(body);
}

static void batch_naming_a_slot_out_of_range_is_refused(void **state)
{
    fake_t f;
    mogen_client_t *c;
    mogen_batch_t b;
    int sock;
    (void)state;

    fake_init(&f, script_bad_batch);
    sock = fake_start(&f);
    assert_int_equal(mogen__client_attach(&c, sock, "train", NULL), 0);
    assert_int_equal(mogen_next(c, &b), MOGEN_EBADREPLY);
    assert_non_null(strstr(mogen_client_error_message(c), "out of range"));
    mogen_close(c);
    fake_join(&f);
}

static void script_silent_after_next(fake_t *f)
{
    cJSON *body;

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    (void)fake_recv(f, &body); /* Never answers; waits for the hang-up. */
    cJSON_Delete(body);
}

static void timeout_breaks_the_client(void **state)
{
    char dir[] = "/tmp/mogen-test-client-XXXXXX";
    char path[128];
    fake_t f;
    mogen_client_t *c;
    mogen_connect_options_t o;
    mogen_batch_t b;
    (void)state;

    fake_listen(&f, script_silent_after_next, dir, path, sizeof path);
    mogen_connect_options_init(&o);
    o.timeout_ms = 100;
    assert_int_equal(mogen_connect(&c, path, "train", &o), 0);
    assert_int_equal(mogen_next(c, &b), MOGEN_ETIMEDOUT);
    assert_int_equal(mogen_next(c, &b), MOGEN_ETIMEDOUT);
    mogen_close(c);
    fake_join(&f);
    unlink(path);
    rmdir(dir);
}

/* Writes one frame as pieces cut at the given byte offsets, pausing 30 ms
 * before each cut-off piece; a negative cut ends the list. */
static void fake_send_in_pieces(fake_t *f, uint16_t type, const char *body, const int *cuts)
{
    size_t len = strlen(body), total = MOGEN_FRAME_HEADER_SIZE + len, at = 0;
    uint8_t *buf = malloc(total);
    struct timespec pause = {0, 30 * 1000 * 1000};

    mogen_frame_encode_header(buf, type, (uint32_t)len);
    memcpy(buf + MOGEN_FRAME_HEADER_SIZE, body, len);
    for (size_t i = 0;; i++) {
        size_t end = cuts[i] < 0 ? total : (size_t)cuts[i];
        if (write(f->sock, buf + at, end - at) != (ssize_t)(end - at))
            fake_problem(f, "a piece was not written whole");
        at = end;
        if (cuts[i] < 0)
            break;
        nanosleep(&pause, NULL);
    }
    free(buf);
}

/* The BATCH reply comes as three pieces: part of the header, the rest of
 * it with two body bytes, then the rest of the body. */
static void script_batch_in_pieces(fake_t *f)
{
    static const int cuts[] = {3, MOGEN_FRAME_HEADER_SIZE + 2, -1};

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    fake_send_in_pieces(f, MOGEN_MSG_BATCH,
                        "{\"slot\": 1, \"epoch\": 3, \"batch\": 4, \"size\": 2}", cuts);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_RELEASE));
}

/* Each wait for bytes is bounded, not the whole reply: pieces 30 ms apart
 * arrive within a 1 s bound and make one batch. */
static void reply_in_pieces_makes_one_batch(void **state)
{
    fake_t f;
    mogen_client_t *c = NULL;
    mogen_connect_options_t o;
    mogen_batch_t b;
    (void)state;

    fake_init(&f, script_batch_in_pieces);
    mogen_connect_options_init(&o);
    o.timeout_ms = 1000;
    assert_int_equal(mogen__client_attach(&c, fake_start(&f), "train", &o), 0);
    assert_int_equal(mogen_next(c, &b), 0);
    assert_int_equal(b.slot, 1);
    assert_int_equal(b.size, 2);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(b.batch, 4);
    assert_int_equal(mogen_release(c, &b), 0);
    mogen_close(c);
    fake_join(&f);
}

/* Sends the header of a BATCH and then nothing until the client hangs up. */
static void script_stall_after_header(fake_t *f)
{
    uint8_t hdr[MOGEN_FRAME_HEADER_SIZE];
    cJSON *body;

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    mogen_frame_encode_header(hdr, MOGEN_MSG_BATCH, 40);
    if (write(f->sock, hdr, sizeof hdr) != (ssize_t)sizeof hdr)
        fake_problem(f, "the header was not written whole");
    (void)fake_recv(f, &body); /* Waits for the hang-up. */
    cJSON_Delete(body);
}

/* A daemon that stops in the middle of a frame times out like a silent one
 * (the wait for the body is bounded too), and the bound given to
 * mogen__client_attach applies as it does through mogen_connect. */
static void stall_mid_frame_times_out(void **state)
{
    fake_t f;
    mogen_client_t *c = NULL;
    mogen_connect_options_t o;
    mogen_batch_t b;
    struct timespec t0, t1;
    double waited;
    (void)state;

    fake_init(&f, script_stall_after_header);
    mogen_connect_options_init(&o);
    o.timeout_ms = 100;
    assert_int_equal(mogen__client_attach(&c, fake_start(&f), "train", &o), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mogen_next(c, &b), MOGEN_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    assert_true(waited >= 0.09);
    assert_true(waited < 10.0);
    mogen_close(c);
    fake_join(&f);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* A signal every 20 ms interrupts the client's wait again and again; the
 * 200 ms bound must hold all the same (it used to start over after each
 * interruption, so the client waited for ever). */
static void signals_do_not_stretch_the_timeout(void **state)
{
    struct sigaction sa, old_sa;
    struct itimerval every = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
    fake_t f;
    mogen_client_t *c = NULL;
    mogen_connect_options_t o;
    mogen_batch_t b;
    struct timespec t0, t1;
    double waited;
    (void)state;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
    fake_init(&f, script_silent_after_next);
    mogen_connect_options_init(&o);
    o.timeout_ms = 200;
    assert_int_equal(mogen__client_attach(&c, fake_start(&f), "train", &o), 0);
    assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mogen_next(c, &b), MOGEN_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    assert_int_equal(sigaction(SIGALRM, &old_sa, NULL), 0);
    waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    assert_true(waited >= 0.19);
    assert_true(waited < 5.0);
    mogen_close(c);
    fake_join(&f);
}

/* A STATUS_REPLY of about 300 kB, more than a socket buffer holds: it
 * arrives in many reads. */
#define BIG_STATUS_PAD 300000

static void script_big_status(fake_t *f)
{
    static const char head[] = "{\"streams\": [], \"pad\": \"";
    char *body = malloc(sizeof head + BIG_STATUS_PAD + 3);

    memcpy(body, head, sizeof head - 1);
    memset(body + sizeof head - 1, 'p', BIG_STATUS_PAD);
    strcpy(body + sizeof head - 1 + BIG_STATUS_PAD, "\"}");
    cJSON_Delete(fake_expect(f, MOGEN_MSG_STATUS));
    fake_send(f->sock, MOGEN_MSG_STATUS_REPLY, body, -1);
    free(body);
}

static void big_reply_is_read_whole(void **state)
{
    char dir[] = "/tmp/mogen-test-client-XXXXXX";
    char path[128];
    fake_t f;
    char *json = NULL;
    cJSON *obj;
    const cJSON *pad;
    (void)state;

    fake_listen(&f, script_big_status, dir, path, sizeof path);
    assert_int_equal(mogen_status_json(path, &json), 0);
    obj = cJSON_Parse(json);
    assert_non_null(obj);
    pad = cJSON_GetObjectItemCaseSensitive(obj, "pad");
    assert_true(cJSON_IsString(pad));
    assert_int_equal(strlen(pad->valuestring), BIG_STATUS_PAD);
    assert_int_equal(strspn(pad->valuestring, "p"), BIG_STATUS_PAD);
    cJSON_Delete(obj);
    free(json);
    fake_join(&f);
    unlink(path);
    rmdir(dir);
}

/* Two replies in one write, END_OF_EPOCH before the second NEXT is even
 * sent (a daemon does not do that, but bytes may come together): the
 * client must return them one per call, losing no byte of the second. */
static void script_two_replies_in_one_write(fake_t *f)
{
    static const char eoe[] = "{\"epoch\": 3}";
    static const char batch[] = "{\"slot\": 2, \"epoch\": 4, \"batch\": 0, \"size\": 2}";
    uint8_t buf[2 * MOGEN_FRAME_HEADER_SIZE + sizeof eoe + sizeof batch];
    size_t len = 0;

    fake_handshake(f);
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    mogen_frame_encode_header(buf, MOGEN_MSG_END_OF_EPOCH, (uint32_t)strlen(eoe));
    len += MOGEN_FRAME_HEADER_SIZE;
    memcpy(buf + len, eoe, strlen(eoe));
    len += strlen(eoe);
    mogen_frame_encode_header(buf + len, MOGEN_MSG_BATCH, (uint32_t)strlen(batch));
    len += MOGEN_FRAME_HEADER_SIZE;
    memcpy(buf + len, batch, strlen(batch));
    len += strlen(batch);
    if (write(f->sock, buf, len) != (ssize_t)len)
        fake_problem(f, "the two replies were not written whole");
    cJSON_Delete(fake_expect(f, MOGEN_MSG_NEXT));
    cJSON_Delete(fake_expect(f, MOGEN_MSG_RELEASE));
}

static void two_replies_in_one_write_come_out_one_per_call(void **state)
{
    fake_t f;
    mogen_client_t *c = NULL;
    mogen_batch_t b;
    (void)state;

    fake_init(&f, script_two_replies_in_one_write);
    assert_int_equal(mogen__client_attach(&c, fake_start(&f), "train", NULL), 0);
    assert_int_equal(mogen_next(c, &b), MOGEN_END_OF_EPOCH);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(mogen_next(c, &b), 0);
    assert_int_equal(b.slot, 2);
    assert_int_equal(b.epoch, 4);
    assert_int_equal(b.batch, 0);
    assert_int_equal(mogen_release(c, &b), 0);
    mogen_close(c);
    fake_join(&f);
}

static void script_status(fake_t *f)
{
    cJSON_Delete(fake_expect(f, MOGEN_MSG_STATUS));
    fake_send(f->sock, MOGEN_MSG_STATUS_REPLY, "{\"streams\": [], \"workers\": 2}", -1);
}

static void status_returns_the_reply_json(void **state)
{
    char dir[] = "/tmp/mogen-test-client-XXXXXX";
    char path[128];
    fake_t f;
    char *json = NULL;
    (void)state;

    fake_listen(&f, script_status, dir, path, sizeof path);
    assert_int_equal(mogen_status_json(path, &json), 0);
    assert_string_equal(json, "{\"streams\": [], \"workers\": 2}");
    free(json);
    fake_join(&f);
    unlink(path);
    rmdir(dir);
}

static void connect_without_a_daemon_says_so(void **state)
{
    mogen_connect_options_t o;
    mogen_client_t *c = (mogen_client_t *)&o; /* Must come back NULL. */
    char err[200];
    char *json = err; /* Must come back NULL. */
    (void)state;

    mogen_connect_options_init(&o);
    o.errbuf = err;
    o.errbuf_len = sizeof err;
    assert_int_equal(mogen_connect(&c, "/nonexistent/mogen.sock", "train", &o), -ENOENT);
    assert_null(c);
    assert_non_null(strstr(err, "/nonexistent/mogen.sock"));
    assert_int_equal(mogen_status_json("/nonexistent/mogen.sock", &json), -ENOENT);
    assert_null(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_fd_and_batches),
        cmocka_unit_test(error_on_hello_is_reported_with_its_message),
        cmocka_unit_test(welcome_without_fd_is_refused),
        cmocka_unit_test(memory_smaller_than_welcome_says_is_refused),
        cmocka_unit_test(daemon_gone_mid_next_is_closed_for_good),
        cmocka_unit_test(daemon_stopping_is_reported_as_shutting_down),
        cmocka_unit_test(batch_naming_a_slot_out_of_range_is_refused),
        cmocka_unit_test(timeout_breaks_the_client),
        cmocka_unit_test(reply_in_pieces_makes_one_batch),
        cmocka_unit_test(stall_mid_frame_times_out),
        cmocka_unit_test(big_reply_is_read_whole),
        cmocka_unit_test(signals_do_not_stretch_the_timeout),
        cmocka_unit_test(two_replies_in_one_write_come_out_one_per_call),
        cmocka_unit_test(status_returns_the_reply_json),
        cmocka_unit_test(connect_without_a_daemon_says_so),
        cmocka_unit_test(release_next_sends_both_frames_in_one_write),
        cmocka_unit_test(mailbox_batches_need_no_frame_and_nonsense_is_refused),
        cmocka_unit_test(stale_copies_and_foreign_batches_release_nothing),
        cmocka_unit_test(send_frames_continues_after_a_short_write),
        cmocka_unit_test(send_frames_refuses_what_it_cannot_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
