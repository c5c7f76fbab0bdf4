/*
 * status.c: placeholder for `mogenctl status`; the real one replaces this
 * file (it talks to the daemon through libmogen).
 */
#include <stdio.h>

#include "ctl.h"

int ctl_status(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mogenctl status: not built yet\n");
    return CTL_EXIT_USAGE;
}
