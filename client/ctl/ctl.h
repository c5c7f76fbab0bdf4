/*
 * ctl.h: the subcommands of mogenctl, one file each.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand)
 * and returns the process exit status: 0 success, 1 the check or request
 * failed, 2 a usage error.
 */
#ifndef MOGEN_CTL_H
#define MOGEN_CTL_H

#include <stddef.h>
#include <stdlib.h>

/* Exit statuses shared by every subcommand. */
#define CTL_EXIT_OK 0    /* Success: the daemon would start / the request worked. */
#define CTL_EXIT_FAIL 1  /* The check found errors, or the daemon said no. */
#define CTL_EXIT_USAGE 2 /* Bad arguments; nothing was done. */

/* The socket status and peek talk to when neither --socket nor
 * $MOGEN_SOCKET says otherwise: the systemd unit's RuntimeDirectory. */
#define CTL_DEFAULT_SOCKET "/run/mogen/mogen.sock"

/* $MOGEN_SOCKET when set and not empty, else CTL_DEFAULT_SOCKET. */
static inline const char *ctl_default_socket(void)
{
    const char *env = getenv("MOGEN_SOCKET");
    return env != NULL && env[0] != '\0' ? env : CTL_DEFAULT_SOCKET;
}

/* Longest socket path mogenctl handles (a Unix socket allows 107 bytes). */
#define CTL_SOCKET_MAX 512

/*
 * socket.c: fills out with the socket to use: --socket when given, else the
 * "socket" of the --config file when given, else ctl_default_socket().
 * Returns 0, or -1 after printing why the config could not be read.
 */
int ctl_resolve_socket(const char *command, const char *socket_opt, const char *config_opt,
                       char *out, size_t outlen);

/* Prints why socket_path could not be reached and how to name another. */
void ctl_socket_hint(const char *command, const char *socket_path, const char *reason);

/* validate.c: everything the daemon checks at load, without starting it. */
int ctl_validate(int argc, char **argv);

/* status.c: the running daemon's state. */
int ctl_status(int argc, char **argv);

/* peek.c: fetch one batch from a running daemon and describe it. */
int ctl_peek(int argc, char **argv);

#endif
