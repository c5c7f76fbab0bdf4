/*
 * socket.c: which socket `mogenctl status` and `peek` talk to.
 *
 * In order: --socket PATH; the "socket" of the config given with --config
 * FILE (the same file mogend was started with); $MOGEN_SOCKET; the systemd
 * unit's /run/mogen/mogen.sock.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "report.h"

int ctl_resolve_socket(const char *command, const char *socket_opt, const char *config_opt,
                       char *out, size_t outlen)
{
    config_t cfg;
    report_t rep;
    int rc;

    if (socket_opt != NULL) {
        snprintf(out, outlen, "%s", socket_opt);
        return 0;
    }
    if (config_opt == NULL) {
        snprintf(out, outlen, "%s", ctl_default_socket());
        return 0;
    }
    report_init(&rep);
    rc = config_load(&cfg, config_opt, &rep);
    if (rc < 0) {
        fprintf(stderr, "mogenctl %s: cannot read the socket from %s:\n", command, config_opt);
        for (size_t i = 0; i < rep.count; i++)
            fprintf(stderr, "  %s\n", rep.entries[i].message);
        if (rep.count == 0)
            fprintf(stderr, "  %s\n", strerror(-rc));
    } else {
        snprintf(out, outlen, "%s", cfg.socket_path);
    }
    config_free(&cfg);
    report_free(&rep);
    return rc < 0 ? -1 : 0;
}

void ctl_socket_hint(const char *command, const char *socket_path, const char *reason)
{
    fprintf(stderr,
            "mogenctl %s: cannot reach mogend at %s: %s\n"
            "  If mogend listens elsewhere, name its socket with --socket PATH,\n"
            "  --config FILE (the config mogend was started with) or MOGEN_SOCKET=PATH.\n",
            command, socket_path, reason);
}
