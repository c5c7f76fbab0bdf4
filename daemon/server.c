/*
 * server.c: the listening Unix socket.
 *
 * At start it refuses to run when another daemon already answers on the
 * configured path, and takes over a socket file left by a crash (nobody
 * answers on it). The socket is created with the configured mode (0660 by
 * default) and group; it is removed at stop.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"
#include "log.h"

/* Connections waiting to be accepted: a handful of trainers and mogenctl. */
#define SERVER_BACKLOG 64

/*
 * Tries to connect to the socket at path: returns 1 when something accepts
 * (a daemon is serving there), 0 when the connection is refused (a stale
 * socket file), -errno when it cannot tell.
 */
static int server_answers(const char *path)
{
    struct sockaddr_un addr;
    int fd, rc;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
    if (rc < 0)
        rc = errno == ECONNREFUSED ? 0 : -errno;
    else
        rc = 1;
    close(fd);
    return rc;
}

static void server_err_in_use(const char *path, char *err, size_t errlen)
{
    snprintf(err, errlen, "another mogend is already serving on %s; stop it first "
             "or set a different \"socket\" in the config", path);
}

/*
 * Decides what to do with an existing file at path: returns 0 when the path
 * is free (absent, or a stale socket that was removed), -EADDRINUSE when a
 * daemon answers there, another -errno otherwise; err says which.
 */
static int server_claim_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    int rc;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
        return -EEXIST;
    }
    rc = server_answers(path);
    if (rc == 1) {
        server_err_in_use(path, err, errlen);
        return -EADDRINUSE;
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot check the existing socket %s: %s", path, strerror(-rc));
        return rc;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return rc;
    }
    log_info("removed a stale socket left at %s", path);
    return 0;
}

int server_check_socket_path(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    size_t n;
    struct stat st;

    if (strlen(path) >= sizeof(dir)) {
        snprintf(err, errlen, "socket path %s is longer than the %zu bytes a Unix socket allows",
                 path, sizeof(dir) - 1);
        return -ENAMETOOLONG;
    }
    if (slash == NULL)
        return 0; /* In the working directory, which exists. */
    n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (stat(dir, &st) < 0) {
        int e = errno;
        if (e == ENOENT)
            snprintf(err, errlen, "the socket's directory %s does not exist: create it "
                     "first (under systemd, RuntimeDirectory= or conf/mogen.tmpfiles does) "
                     "or set \"socket\" elsewhere", dir);
        else
            snprintf(err, errlen, "cannot reach the socket's directory %s: %s", dir, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "the socket's directory %s is not a directory", dir);
        return -ENOTDIR;
    }
    return 0;
}

/* The message for a socket_group that getgrnam() did not find. */
static int server_err_no_group(const char *group, char *err, size_t errlen)
{
    snprintf(err, errlen, "socket_group \"%s\" is not a group on this system: create it "
             "(groupadd %s) or leave socket_group out to keep the daemon's own group",
             group, group);
    return -EINVAL;
}

int server_check_socket_group(const char *group, char *err, size_t errlen)
{
    if (group == NULL || getgrnam(group) != NULL)
        return 0;
    return server_err_no_group(group, err, errlen);
}

int server_probe(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || server_answers(path) != 1)
        return 0;
    server_err_in_use(path, err, errlen);
    return -EADDRINUSE;
}

static void server_on_connection(uv_stream_t *listener, int status)
{
    daemon_t *d = listener->data;
    conn_t *conn;

    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    conn = conn_create(d);
    if (uv_accept(listener, (uv_stream_t *)&conn->handle) < 0) {
        conn_close(conn);
        return;
    }
    if (d->server.conn_count > d->server.max_conns) {
        conn_send_error(conn, "too_many_connections", 1,
                        "mogend serves at most %u connections at once", d->server.max_conns);
        return;
    }
    conn_start(conn);
}

/*
 * Returns how many connections the descriptor limit allows, up to
 * SERVER_MAX_CONNECTIONS, first raising the soft limit towards the hard
 * one (systemd's default soft limit, 1024, would run out of descriptors
 * before the connection limit, and libuv then drops new connections
 * without a word). Logs when the limit still allows fewer.
 */
static uint32_t server_connection_budget(void)
{
    const rlim_t want = SERVER_MAX_CONNECTIONS + SERVER_RESERVED_FDS;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return SERVER_MAX_CONNECTIONS;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        uint32_t budget = rl.rlim_cur > 2 * SERVER_RESERVED_FDS
                              ? (uint32_t)(rl.rlim_cur - SERVER_RESERVED_FDS)
                              : (uint32_t)(rl.rlim_cur / 2);
        log_warn("the open-file limit (%llu) allows %u connections, not %d; raise it "
                 "(systemd: LimitNOFILE=) to serve more", (unsigned long long)rl.rlim_cur,
                 budget, SERVER_MAX_CONNECTIONS);
        return budget;
    }
    return SERVER_MAX_CONNECTIONS;
}

static void server_on_mailbox_poll(uv_timer_t *timer)
{
    daemon_t *d = timer->data;
    server_t *server = &d->server;

    if (feeds_poll_mailboxes(d)) {
        server_mailbox_busy(server);
        return;
    }
    if (++server->mailbox_idle_ticks == SERVER_MAILBOX_IDLE_TICKS && server->mailbox_conns > 0) {
        server->mailbox_interval = SERVER_MAILBOX_IDLE_POLL_MS;
        uv_timer_start(timer, server_on_mailbox_poll, server->mailbox_interval,
                       server->mailbox_interval);
    }
}

void server_mailbox_busy(server_t *server)
{
    server->mailbox_idle_ticks = 0;
    if (server->mailbox_conns > 0 && server->mailbox_interval != SERVER_MAILBOX_POLL_MS) {
        server->mailbox_interval = SERVER_MAILBOX_POLL_MS;
        uv_timer_start(&server->mailbox_poll, server_on_mailbox_poll, server->mailbox_interval,
                       server->mailbox_interval);
    }
}

void server_mailbox_added(server_t *server)
{
    if (server->mailbox_conns++ == 0) {
        server->mailbox_interval = 0; /* so that busy() starts the timer */
        server_mailbox_busy(server);
    }
}

void server_mailbox_removed(server_t *server)
{
    if (--server->mailbox_conns == 0 && server->mailbox_poll_open)
        uv_timer_stop(&server->mailbox_poll);
}

int server_start(server_t *server, daemon_t *d, char *err, size_t errlen)
{
    const config_t *cfg = d->config;
    mode_t old_mask;
    int rc;

    memset(server, 0, sizeof(*server));
    server->max_conns = server_connection_budget();
    uv_timer_init(d->loop, &server->mailbox_poll);
    server->mailbox_poll.data = d;
    server->mailbox_poll_open = 1;
    rc = server_check_socket_path(cfg->socket_path, err, errlen);
    if (rc < 0)
        return rc;
    rc = server_claim_path(cfg->socket_path, err, errlen);
    if (rc < 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "cannot use socket path %s: %s", cfg->socket_path, strerror(-rc));
        return rc;
    }
    uv_pipe_init(d->loop, &server->listener, 0);
    server->listener.data = d;
    server->listener_open = 1;

    /* Bind with no permissions for anyone but us, then widen to the
     * configured mode: the socket is never briefly world-accessible. */
    old_mask = umask(0177);
    rc = uv_pipe_bind(&server->listener, cfg->socket_path);
    umask(old_mask);
    if (rc < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", cfg->socket_path, uv_strerror(rc));
        return rc;
    }
    server->path = mogen_strdup(cfg->socket_path);
    if (cfg->socket_group != NULL) {
        struct group *gr = getgrnam(cfg->socket_group);
        if (gr == NULL) /* not asked again: a second answer may differ */
            return server_err_no_group(cfg->socket_group, err, errlen);
        if (chown(cfg->socket_path, (uid_t)-1, gr->gr_gid) < 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot give %s to group %s: %s", cfg->socket_path,
                     cfg->socket_group, strerror(errno));
            return rc;
        }
    }
    if (chmod(cfg->socket_path, cfg->socket_mode & 0770) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot set mode %04o on %s: %s", cfg->socket_mode & 0770,
                 cfg->socket_path, strerror(errno));
        return rc;
    }
    rc = uv_listen((uv_stream_t *)&server->listener, SERVER_BACKLOG, server_on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->socket_path, uv_strerror(rc));
        return rc;
    }
    return 0;
}

void server_stop(server_t *server)
{
    /* Each client is told why before its connection closes: the ERROR
     * stays readable after the close (see conn_close). */
    while (server->conns != NULL)
        conn_send_error(server->conns, "shutting_down", 1,
                        "mogend is stopping; connect again once it is back (a client "
                        "resumes where it stopped with start = its position)");
    if (server->mailbox_poll_open) {
        uv_close((uv_handle_t *)&server->mailbox_poll, NULL);
        server->mailbox_poll_open = 0;
    }
    if (server->listener_open) {
        uv_close((uv_handle_t *)&server->listener, NULL);
        server->listener_open = 0;
    }
    if (server->path != NULL) {
        unlink(server->path);
        mogen_free(server->path);
        server->path = NULL;
    }
}
