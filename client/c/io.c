/*
 * io.c: frames over a blocking Unix stream socket, with the fds that WELCOME
 * carries (the ring, and the mailbox page when one was asked for).
 *
 * Frames are read exactly (header, then exactly `length` body bytes), never
 * ahead, so no bytes of the next frame are ever buffered here and the fd
 * attached to a frame's first byte is always collected by the recvmsg that
 * reads that frame. Every read uses recvmsg with room for a few fds: the
 * kernel would otherwise drop (close) an fd sent with bytes read by a plain
 * recv.
 *
 * A reply is awaited in poll(), not in a blocking recvmsg: a task asleep in
 * recvmsg on a Unix stream socket sits on the socket's one wait queue, and
 * the kernel's "room to write again" wake-up, raised each time the daemon
 * reads our request, wakes it for nothing. On a small machine where client
 * and daemon share a CPU that costs two context switches per round trip
 * (seen with `perf sched`: the client was woken twice per NEXT). poll() asks
 * for POLLIN only and the kernel filters that wake-up out.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "client_internal.h"

/* fds accepted per recvmsg; the protocol sends one or two, extras are closed. */
#define MOGEN__MAX_FDS 4

/* Maps a socket errno to a return code: a timeout set by SO_SNDTIMEO shows
 * up as EAGAIN. */
static int io_errno(int e)
{
    if (e == EAGAIN || e == EWOULDBLOCK)
        return MOGEN_ETIMEDOUT;
    return -e;
}

/*
 * Connects to the daemon's socket. timeout_ms > 0 bounds every later send
 * on it (receives are bounded by io_wait_readable). Returns the fd
 * (close-on-exec) or a negative code.
 */
int mogen__sock_connect(const char *path, int timeout_ms)
{
    struct sockaddr_un addr;
    size_t len = strlen(path);
    int fd;

    if (len >= sizeof addr.sun_path)
        return MOGEN_ENAMETOOLONG;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, len + 1);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (timeout_ms > 0) {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    while (connect(fd, (const struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        close(fd);
        return io_errno(e);
    }
    return fd;
}

/*
 * Sends every byte of iov[0..count) with as few sendmsg calls as the kernel
 * allows (one, normally), continuing after short writes: entries already
 * sent are skipped and a partly sent one is advanced in place, so iov is
 * consumed. MSG_NOSIGNAL turns a closed peer into -EPIPE instead of a
 * SIGPIPE that would kill the trainer.
 */
static int io_send_iov(int sock, struct iovec *iov, size_t count)
{
    while (count > 0) {
        struct msghdr msg;
        ssize_t n;

        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = count;
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return io_errno(errno);
        }
        while (count > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/*
 * Sends frames[0..count) back to back in one sendmsg where possible, so
 * that the daemon reads them in one wake-up (RELEASE + NEXT: see
 * mogen_release_next). Returns 0, MOGEN_EINVAL for more than
 * MOGEN__MAX_SEND_FRAMES frames or a body over the request limit (nothing
 * is sent then), or a send error.
 */
int mogen__send_frames(int sock, const mogen__out_frame_t *frames, size_t count)
{
    uint8_t hdr[MOGEN__MAX_SEND_FRAMES][MOGEN_FRAME_HEADER_SIZE];
    struct iovec iov[2 * MOGEN__MAX_SEND_FRAMES];
    size_t n = 0;

    if (count > MOGEN__MAX_SEND_FRAMES)
        return MOGEN_EINVAL;
    for (size_t i = 0; i < count; i++) {
        if (frames[i].len > MOGEN_FRAME_MAX_REQUEST)
            return MOGEN_EINVAL;
        mogen_frame_encode_header(hdr[i], frames[i].type, (uint32_t)frames[i].len);
        iov[n].iov_base = hdr[i];
        iov[n].iov_len = sizeof hdr[i];
        n++;
        if (frames[i].len > 0) {
            iov[n].iov_base = (void *)frames[i].body;
            iov[n].iov_len = frames[i].len;
            n++;
        }
    }
    return io_send_iov(sock, iov, n);
}

int mogen__send_frame(int sock, uint16_t type, const char *body, size_t len)
{
    mogen__out_frame_t frame = {type, body, len};

    return mogen__send_frames(sock, &frame, 1);
}

/* Keeps the first two fds received in fds[0] and fds[1] (WELCOME passes
 * the ring and, when asked, a mailbox page) and closes any other. */
static void io_collect_fds(struct msghdr *msg, int *fds_kept)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        size_t count;
        int fds[MOGEN__MAX_FDS];
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if (count > MOGEN__MAX_FDS)
            count = MOGEN__MAX_FDS;
        memcpy(fds, CMSG_DATA(c), count * sizeof(int));
        for (size_t i = 0; i < count; i++) {
            if (fds_kept[0] < 0)
                fds_kept[0] = fds[i];
            else if (fds_kept[1] < 0)
                fds_kept[1] = fds[i];
            else
                close(fds[i]);
        }
    }
}

/* Milliseconds on the monotonic clock. */
static int64_t io_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits until sock has bytes to read, or end of stream or an error (the
 * recvmsg that follows reports those). timeout_ms > 0 bounds the wait,
 * signals included: after EINTR it waits only for what is left, so that a
 * process receiving signals more often than its timeout (a profiler's
 * SIGPROF, an interval timer) still times out.
 * Returns 0, MOGEN_ETIMEDOUT or a negative errno.
 */
static int io_wait_readable(int sock, int timeout_ms)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int64_t deadline = timeout_ms > 0 ? io_now_ms() + timeout_ms : 0;
    int wait = timeout_ms > 0 ? timeout_ms : -1;

    for (;;) {
        int n = poll(&p, 1, wait);
        if (n > 0)
            return 0;
        if (n == 0)
            return MOGEN_ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
        if (timeout_ms > 0) {
            int64_t left = deadline - io_now_ms();
            if (left <= 0)
                return MOGEN_ETIMEDOUT;
            wait = (int)left;
        }
    }
}

/*
 * Reads exactly len bytes into buf, collecting fds: what is already there
 * at once, waiting (io_wait_readable) only when nothing is. Returns 0,
 * MOGEN_ECLOSED when the daemon closed the connection first, or a
 * negative code.
 */
static int io_recv_exact(int sock, int timeout_ms, uint8_t *buf, size_t len, int *fds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(MOGEN__MAX_FDS * sizeof(int))];
    } control;
    size_t got = 0;

    while (got < len) {
        struct iovec iov = {buf + got, len - got};
        struct msghdr msg;
        ssize_t n;

        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            int rc;
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            rc = io_wait_readable(sock, timeout_ms);
            if (rc < 0)
                return rc;
            continue;
        }
        io_collect_fds(&msg, fds);
        if (n == 0)
            return MOGEN_ECLOSED;
        got += (size_t)n;
    }
    return 0;
}

int mogen__recv_frame(int sock, int timeout_ms, uint32_t max_body, mogen__frame_t *frame)
{
    uint8_t hdr[MOGEN_FRAME_HEADER_SIZE];
    mogen_frame_header_t h;
    int fds[2] = {-1, -1};
    int rc;

    frame->body = NULL;
    frame->fd = -1;
    frame->fd2 = -1;
    frame->type = 0;
    frame->length = 0;
    /* A reply is rarely there yet right after its request: wait first
     * rather than after a read that would find nothing. */
    rc = io_wait_readable(sock, timeout_ms);
    if (rc < 0)
        goto fail;
    rc = io_recv_exact(sock, timeout_ms, hdr, sizeof hdr, fds);
    if (rc < 0)
        goto fail;
    rc = mogen_frame_decode_header(hdr, sizeof hdr, max_body, &h);
    if (rc <= 0) {
        rc = MOGEN_EBADREPLY;
        goto fail;
    }
    frame->type = h.type;
    frame->length = h.length;
    frame->body = malloc((size_t)h.length + 1);
    if (frame->body == NULL) {
        rc = MOGEN_ENOMEM;
        goto fail;
    }
    rc = io_recv_exact(sock, timeout_ms, (uint8_t *)frame->body, h.length, fds);
    if (rc < 0)
        goto fail;
    frame->body[h.length] = '\0';
    frame->fd = fds[0];
    frame->fd2 = fds[1];
    return 0;

fail:
    frame->fd = fds[0];
    frame->fd2 = fds[1];
    mogen__frame_free(frame);
    return rc;
}

void mogen__frame_free(mogen__frame_t *frame)
{
    free(frame->body);
    frame->body = NULL;
    if (frame->fd >= 0)
        close(frame->fd);
    if (frame->fd2 >= 0)
        close(frame->fd2);
    frame->fd = -1;
    frame->fd2 = -1;
}
