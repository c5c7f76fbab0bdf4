/*
 * conn.c: one client connection from accept to free: the read buffer and
 * frame splitting, queued writes and their ceiling, and closing.
 *
 * A connection is freed only in its close callback; everything that closes
 * one during a callback marks it closing and lets libuv finish, so no code
 * ever touches a freed connection.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "frame.h"
#include "internal.h"
#include "jsonw.h"
#include "log.h"

/* Bytes asked of the kernel per read; requests are small. */
#define CONN_READ_CHUNK 16384

/* A write in flight: the request, the bytes it owns and the part of them
 * still to send. */
typedef struct conn_write {
    uv_write_t req;
    uint8_t *bytes;
    uv_buf_t buf;
} conn_write_t;

conn_t *conn_create(daemon_t *d)
{
    conn_t *conn = mogen_calloc(1, sizeof(*conn));
    server_t *server = &d->server;

    uv_pipe_init(d->loop, &conn->handle, 0);
    conn->handle.data = conn;
    conn->daemon = d;
    conn->id = ++server->next_conn_id;
    conn->feed = -1;
    conn->mailbox.fd = -1;
    conn->connected_ns = daemon_now_ns();
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    server->conn_count++;
    return conn;
}

void conn_on_closed(uv_handle_t *handle)
{
    conn_t *conn = handle->data;
    mailbox_destroy(&conn->mailbox);
    mogen_free(conn->rbuf);
    mogen_free(conn);
}

void conn_close(conn_t *conn)
{
    daemon_t *d = conn->daemon;
    server_t *server = &d->server;

    if (conn->closing)
        return;
    conn->closing = 1;
    if (conn->mailbox.page != NULL)
        server_mailbox_removed(server);
    if (conn->feed >= 0) {
        feed_t *feed = &d->feeds[conn->feed];
        uint32_t held = conn->leases;
        held -= (uint32_t)feed_detach(feed, conn);
        conn->feed = -1;
        if (held > 0)
            log_info("client %llu closed holding %u slot%s of stream %s; they are free again",
                     (unsigned long long)conn->id, held, held == 1 ? "" : "s",
                     feed->config->name);
        worker_pool_pump(&d->pool);
    }
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    server->conn_count--;
    /*
     * Close at once. A reply already written (the ERROR that explains the
     * close, typically: libuv writes straight to the socket when nothing is
     * queued) stays readable by the client after our close. Bytes still
     * queued in libuv exist only when the client has stopped reading, and
     * waiting for those to drain would keep a stuck client's socket and
     * buffers here for ever.
     */
    uv_close((uv_handle_t *)&conn->handle, conn_on_closed);
}

static void conn_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    conn_t *conn = handle->data;
    (void)suggested;

    if (conn->rcap - conn->rlen < CONN_READ_CHUNK) {
        conn->rcap = conn->rlen + CONN_READ_CHUNK;
        conn->rbuf = mogen_realloc(conn->rbuf, conn->rcap);
    }
    buf->base = (char *)conn->rbuf + conn->rlen;
    buf->len = conn->rcap - conn->rlen;
}

/*
 * Splits the buffered bytes into frames and hands each whole one to the
 * service. A bad header closes the connection after an ERROR; a frame's body
 * is buffered only after its header passed the size check, so the buffer
 * never grows past one request plus one read.
 */
static void conn_process(conn_t *conn)
{
    size_t consumed = 0;

    while (!conn->closing) {
        mogen_frame_header_t hdr;
        int rc = mogen_frame_decode_header(conn->rbuf + consumed, conn->rlen - consumed,
                                           MOGEN_FRAME_MAX_REQUEST, &hdr);
        if (rc == 0)
            break;
        if (rc == -EMSGSIZE) {
            conn_send_error(conn, "bad_frame", 1, "frame body of %u bytes is over the %u-byte limit",
                            hdr.length, MOGEN_FRAME_MAX_REQUEST);
            break;
        }
        if (rc < 0) {
            conn_send_error(conn, "bad_frame", 1,
                            "not a mogen frame (bad magic or unknown message type)");
            break;
        }
        if (conn->rlen - consumed < MOGEN_FRAME_HEADER_SIZE + (size_t)hdr.length)
            break;
        service_handle(conn, hdr.type, conn->rbuf + consumed + MOGEN_FRAME_HEADER_SIZE,
                       hdr.length);
        consumed += MOGEN_FRAME_HEADER_SIZE + hdr.length;
    }
    if (conn->closing)
        return;
    memmove(conn->rbuf, conn->rbuf + consumed, conn->rlen - consumed);
    conn->rlen -= consumed;
}

static void conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *conn = stream->data;
    (void)buf;

    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug("client %llu: read failed: %s", (unsigned long long)conn->id,
                      uv_strerror((int)nread));
        conn->peer_closed = 1;
        conn_close(conn);
        return;
    }
    conn->rlen += (size_t)nread;
    if (conn->mailbox.page != NULL) {
        /* What the client released in its mailbox came before what it
         * sends now (a NEXT counts the slots it holds). */
        server_mailbox_busy(&conn->daemon->server);
        if (feed_sync_mailbox(&conn->daemon->feeds[conn->feed], conn) < 0)
            return;
    }
    conn_process(conn);
    /* A RELEASE makes room for the next batch in a mailbox. */
    if (!conn->closing && conn->feed >= 0)
        feed_fill_mailboxes(&conn->daemon->feeds[conn->feed]);
    /* Only now give freed slots (RELEASE) and new positions (HELLO) to the
     * workers: the replies to this read went out first. And unless a client
     * is still waiting for a batch, not even now: waking a worker would
     * hold up the client that just got its reply (see
     * worker_pool_pump_soon). */
    if (feeds_have_waiters(conn->daemon))
        worker_pool_pump(&conn->daemon->pool);
    else
        worker_pool_pump_soon(&conn->daemon->pool);
}

void conn_start(conn_t *conn)
{
    int rc = uv_read_start((uv_stream_t *)&conn->handle, conn_on_alloc, conn_on_read);
    if (rc < 0) {
        log_warn("client %llu: cannot read: %s", (unsigned long long)conn->id, uv_strerror(rc));
        conn_close(conn);
    }
}

/*
 * A queued reply went out (or failed). Once the queue is empty the client is
 * reading again, and so do we (see conn_queue). A failed write means the
 * client is gone; with reading paused no EOF would tell us, so close here.
 */
static void conn_on_written(uv_write_t *req, int status)
{
    conn_write_t *w = (conn_write_t *)req;
    uv_stream_t *stream = req->handle; /* req lives in w, freed below */
    conn_t *conn = stream->data;

    mogen_free(w->bytes);
    mogen_free(w);
    if (conn->closing)
        return;
    if (status < 0) {
        log_debug("client %llu: write failed: %s", (unsigned long long)conn->id,
                  uv_strerror(status));
        conn_close(conn);
        return;
    }
    if (conn->read_paused && uv_stream_get_write_queue_size(stream) == 0) {
        conn->read_paused = 0;
        conn_start(conn);
    }
}

/*
 * Sends bytes[0..len) (taking ownership): at once as far as the socket takes
 * them, the rest queued behind anything queued before. Returns 0 or -errno;
 * a client that has let too much pile up is closed.
 *
 * A reply nearly always fits the socket buffer, and is then written here
 * with uv_try_write and no write request: a request would cost libuv a
 * callback on the next loop turn and an epoll_ctl to stop watching for
 * POLLOUT, after every reply, while the client may be waiting for this
 * process to give up the CPU.
 */
static int conn_queue(conn_t *conn, uint8_t *bytes, size_t len)
{
    uv_stream_t *stream = (uv_stream_t *)&conn->handle;
    uv_buf_t whole = uv_buf_init((char *)bytes, (unsigned int)len);
    size_t sent = 0;
    conn_write_t *w;
    int rc;

    if (conn->closing) {
        mogen_free(bytes);
        return -EPIPE;
    }
    rc = uv_try_write(stream, &whole, 1);
    if (rc >= 0)
        sent = (size_t)rc;
    else if (rc != UV_EAGAIN) {
        mogen_free(bytes);
        conn_close(conn);
        return rc;
    }
    if (sent == len) {
        mogen_free(bytes);
        return 0;
    }
    if (uv_stream_get_write_queue_size(stream) + (len - sent) > CONN_MAX_PENDING_WRITE) {
        log_warn("client %llu stopped reading (over %u bytes queued); closing it",
                 (unsigned long long)conn->id, CONN_MAX_PENDING_WRITE);
        mogen_free(bytes);
        conn_close(conn);
        return -ENOBUFS;
    }
    w = mogen_malloc(sizeof(*w));
    w->bytes = bytes;
    w->buf = uv_buf_init((char *)bytes + sent, (unsigned int)(len - sent));
    rc = uv_write(&w->req, stream, &w->buf, 1, conn_on_written);
    if (rc < 0) {
        mogen_free(bytes);
        mogen_free(w);
        conn_close(conn);
        return rc;
    }
    /* The socket is full: the client is not reading its replies. Stop
     * reading its requests until they drain (conn_on_written), so that a
     * client sending without reading meets the kernel's backpressure
     * instead of making the daemon queue a reply per request. */
    if (!conn->read_paused) {
        conn->read_paused = 1;
        uv_read_stop(stream);
    }
    return 0;
}

/* Encodes a frame into a new buffer; *len receives its size. */
static uint8_t *conn_encode(uint16_t type, const cJSON *body, size_t *len)
{
    char *json = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
    size_t body_len = json != NULL ? strlen(json) : 0;
    uint8_t *frame = mogen_malloc(MOGEN_FRAME_HEADER_SIZE + body_len);

    mogen_frame_encode_header(frame, type, (uint32_t)body_len);
    if (body_len > 0)
        memcpy(frame + MOGEN_FRAME_HEADER_SIZE, json, body_len);
    cJSON_free(json);
    *len = MOGEN_FRAME_HEADER_SIZE + body_len;
    return frame;
}

int conn_send(conn_t *conn, uint16_t type, const cJSON *body)
{
    size_t len;
    uint8_t *frame = conn_encode(type, body, &len);
    return conn_queue(conn, frame, len);
}

int conn_send_json(conn_t *conn, uint16_t type, jsonw_t *w)
{
    uint8_t *frame = (uint8_t *)w->buf;
    size_t len = w->len;

    assert(w->start == MOGEN_FRAME_HEADER_SIZE);
    mogen_frame_encode_header(frame, type, (uint32_t)jsonw_text_len(w));
    w->buf = NULL;
    jsonw_free(w);
    return conn_queue(conn, frame, len);
}

/*
 * Sends a frame with fds[0..count) attached to its first byte (count is 1
 * or 2). libuv can pass only its own handles, so this uses sendmsg()
 * directly; it is legal only while nothing else is queued on the
 * connection (true at HELLO), so that the bytes stay in order. Whatever the
 * kernel did not take is queued normally.
 */
int conn_send_with_fds(conn_t *conn, uint16_t type, const cJSON *body, const int *fds,
                       size_t count)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } control;
    struct msghdr msg;
    struct iovec iov;
    struct cmsghdr *cmsg;
    uv_os_fd_t sock;
    size_t len;
    ssize_t sent;
    uint8_t *frame;

    assert(count >= 1 && count <= 2);
    if (conn->closing)
        return -EPIPE;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&conn->handle) > 0)
        return -EBUSY;
    if (uv_fileno((uv_handle_t *)&conn->handle, &sock) < 0)
        return -EBADF;
    frame = conn_encode(type, body, &len);

    memset(&msg, 0, sizeof(msg));
    memset(&control, 0, sizeof(control));
    iov.iov_base = frame;
    iov.iov_len = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(count * sizeof(int));
    memcpy(CMSG_DATA(cmsg), fds, count * sizeof(int));

    do
        sent = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        int rc = -errno;
        mogen_free(frame);
        return rc;
    }
    if ((size_t)sent == len) {
        mogen_free(frame);
        return 0;
    }
    {
        size_t rest = len - (size_t)sent;
        uint8_t *tail = mogen_malloc(rest);
        memcpy(tail, frame + sent, rest);
        mogen_free(frame);
        return conn_queue(conn, tail, rest);
    }
}

void conn_send_error(conn_t *conn, const char *code, int close_after, const char *fmt, ...)
{
    char message[512];
    cJSON *body;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (close_after || conn->errors_logged < CONN_MAX_LOGGED_ERRORS)
        log_info("client %llu: %s: %s%s", (unsigned long long)conn->id, code, message,
                 close_after ? " (closing it)" : "");
    if (!close_after && ++conn->errors_logged == CONN_MAX_LOGGED_ERRORS)
        log_info("client %llu: further errors that keep its connection open are not logged",
                 (unsigned long long)conn->id);
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "message", message);
    conn_send(conn, MOGEN_MSG_ERROR, body);
    cJSON_Delete(body);
    if (close_after)
        conn_close(conn);
}
