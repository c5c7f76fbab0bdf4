/*
 * mogenctl.c: the command-line tool's entry point, a dispatcher only.
 *
 * Each subcommand lives in its own file (validate.c, status.c, peek.c) and
 * is declared in ctl.h; to add one, add a row to ctl_commands.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "frame.h"
#include "version.h"

typedef struct ctl_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* One line for the overview. */
} ctl_command_t;

static const ctl_command_t ctl_commands[] = {
    {"validate", ctl_validate,
     "check a config and its CSVs, images and labels without starting mogend"},
    /* Talk to a running daemon (status.c, peek.c). */
    {"status", ctl_status, "show a running mogend's streams, ring, workers and errors"},
    {"peek", ctl_peek, "fetch one batch from a running mogend and describe it"},
};

#define CTL_COMMAND_COUNT (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static void ctl_usage(FILE *out)
{
    fprintf(out, "usage: mogenctl COMMAND [ARGS...]\n"
                 "\n"
                 "mogenctl controls and checks mogend, the daemon that turns a CSV of image\n"
                 "paths and labels into training batches.\n"
                 "\n"
                 "commands:\n");
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", ctl_commands[i].name, ctl_commands[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "show this text, or `mogenctl help COMMAND` for one command");
    fprintf(out, "  %-10s %s\n", "--version", "show the version and the protocol version");
    fprintf(out, "\n"
                 "Run `mogenctl COMMAND --help` for a command's options.\n"
                 "Exit status: 0 success, 1 failure (problems found), 2 usage error.\n");
}

static const ctl_command_t *ctl_find(const char *name)
{
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        if (strcmp(ctl_commands[i].name, name) == 0)
            return &ctl_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const ctl_command_t *cmd;

    if (argc < 2) {
        ctl_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ctl_usage(stdout);
        return CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("mogenctl %s (protocol %d)\n", MOGEN_VERSION_STRING, MOGEN_PROTOCOL_VERSION);
        return CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
            ctl_usage(stdout);
            return CTL_EXIT_OK;
        }
        cmd = ctl_find(argv[2]);
        if (cmd == NULL) {
            fprintf(stderr, "mogenctl: unknown command \"%s\"\n\n", argv[2]);
            ctl_usage(stderr);
            return CTL_EXIT_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return cmd->run(2, help_argv);
    }
    cmd = ctl_find(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "mogenctl: unknown command \"%s\"\n\n", argv[1]);
        ctl_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
