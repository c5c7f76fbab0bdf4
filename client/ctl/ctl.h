/*
 * ctl.h: the subcommands of mogenctl, one file each.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand)
 * and returns the process exit status: 0 success, 1 the check or request
 * failed, 2 a usage error.
 */
#ifndef MOGEN_CTL_H
#define MOGEN_CTL_H

/* Exit statuses shared by every subcommand. */
#define CTL_EXIT_OK 0    /* Success: the daemon would start / the request worked. */
#define CTL_EXIT_FAIL 1  /* The check found errors, or the daemon said no. */
#define CTL_EXIT_USAGE 2 /* Bad arguments; nothing was done. */

/* validate.c: everything the daemon checks at load, without starting it. */
int ctl_validate(int argc, char **argv);

/* status.c: the running daemon's state. */
int ctl_status(int argc, char **argv);

/* peek.c: fetch one batch from a running daemon and describe it. */
int ctl_peek(int argc, char **argv);

#endif
