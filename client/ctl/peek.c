/*
 * peek.c: placeholder for `mogenctl peek`; the real one replaces this file
 * (it fetches one batch through libmogen).
 */
#include <stdio.h>

#include "ctl.h"

int ctl_peek(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mogenctl peek: not built yet\n");
    return CTL_EXIT_USAGE;
}
