/*
 * notify.c: systemd's sd_notify protocol, written out so that the daemon
 * needs no libsystemd: one datagram of "KEY=VALUE" lines to the socket named
 * by $NOTIFY_SOCKET ("@name" is the abstract namespace).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

int notify_systemd(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr;
    socklen_t addr_len;
    size_t path_len;
    ssize_t sent;
    int fd, rc = 0;

    if (path == NULL || path[0] == '\0')
        return 0;
    path_len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || path_len >= sizeof(addr.sun_path))
        return -EINVAL;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, path_len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
    if (sent < 0)
        rc = -errno;
    close(fd);
    return rc;
}
