/*
 * main.c: mogend's entry point. Parses flags, loads the config and the
 * dataset, creates the rings, starts the workers and the socket, tells
 * systemd it is ready, and runs the libuv loop until SIGTERM or SIGINT.
 *
 * Order matters for a clean stop at any moment: nothing that outlives the
 * process (the socket file, named shared memory) exists before the signal
 * watchers do, so a SIGTERM during the load simply ends the process with
 * nothing left behind, and one after it is a normal clean stop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "dataset.h"
#include "frame.h"
#include "internal.h"
#include "log.h"
#include "version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mogend --config FILE [options]\n"
            "\n"
            "Serves training batches decoded from the CSV(s) and images named in FILE\n"
            "over a Unix socket, through shared memory. Runs in the foreground and logs\n"
            "to stderr (under systemd, the journal).\n"
            "\n"
            "options:\n"
            "  -c, --config FILE   the JSON config (see docs/config.md); required\n"
            "  -s, --socket PATH   listen on PATH instead of the config's \"socket\"\n"
            "  -w, --workers N     N worker processes instead of the config's \"workers\"\n"
            "                      (0 = one per usable CPU)\n"
            "  -f, --foreground    accepted for clarity: mogend never daemonises itself\n"
            "  -v, --verbose       log debug detail\n"
            "  -q, --quiet         log warnings and errors only\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version and protocol version\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop cleanly (workers reaped, socket and shared\n"
            "memory removed, exit 0); SIGHUP is logged and ignored (no reload yet).\n"
            "Check a config without starting: mogenctl validate FILE.\n");
}

static void print_report(const report_t *rep)
{
    for (size_t i = 0; i < rep->count; i++) {
        if (rep->entries[i].severity == REPORT_ERROR)
            log_error("%s", rep->entries[i].message);
        else
            log_warn("%s", rep->entries[i].message);
    }
    if (rep->dropped > 0)
        log_warn("%zu more problems not shown", rep->dropped);
}

/* A safety net at stop: every module closes its own handles, and this
 * closes anything left so that uv_run returns instead of hanging. */
static void close_leftover(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

void daemon_stop(daemon_t *d)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info("stopping");
    notify_systemd("STOPPING=1");
    server_stop(&d->server);
    worker_pool_stop(&d->pool);
    status_close(&d->status);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    uv_walk(d->loop, close_leftover, NULL);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    daemon_t *d = handle->data;

    if (signum == SIGHUP) {
        /* SIGHUP's default would end the daemon without removing its socket
         * and shared memory. Reloading is not supported yet. */
        log_warn("received SIGHUP: reloading the config is not supported; "
                 "restart mogend to apply changes (ignored)");
        return;
    }
    log_info("received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    daemon_stop(d);
}

/* Everything after the load: rings, workers, socket. Returns 0 or -errno. */
static int daemon_start(daemon_t *d, uint32_t workers)
{
    char err[512] = "";
    int rc;

    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    uv_signal_init(d->loop, &d->sighup);
    d->sigterm.data = d->sigint.data = d->sighup.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sighup, on_signal, SIGHUP);

    d->feed_count = (uint32_t)d->config->stream_count;
    d->feeds = mogen_calloc(d->feed_count, sizeof(*d->feeds));
    for (uint32_t i = 0; i < d->feed_count; i++) {
        rc = feed_init(&d->feeds[i], d, i, err, sizeof(err));
        if (rc < 0) {
            log_error("%s", err);
            d->feed_count = i;
            return rc;
        }
    }
    status_init(&d->status, d);
    rc = worker_pool_start(&d->pool, d, workers, err, sizeof(err));
    if (rc < 0) {
        log_error("%s", err);
        return rc;
    }
    err[0] = '\0';
    rc = server_start(&d->server, d, err, sizeof(err));
    if (rc < 0) {
        log_error("%s", err);
        return rc;
    }
    worker_pool_pump(&d->pool);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"socket", required_argument, NULL, 's'},
        {"workers", required_argument, NULL, 'w'},
        {"foreground", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *socket_override = NULL;
    long workers_override = -1;
    config_t cfg;
    dataset_t ds;
    daemon_t d;
    report_t rep;
    uv_loop_t loop;
    uint32_t workers;
    int opt, rc, exit_code = 0;

    while ((opt = getopt_long(argc, argv, "c:s:w:fvqhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            socket_override = optarg;
            break;
        case 'w': {
            char *end;
            errno = 0;
            workers_override = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || workers_override < 0 || workers_override > 1024) {
                fprintf(stderr, "mogend: --workers takes a number from 0 to 1024, not \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'f':
            break;
        case 'v':
            log_set_level(LOG_LEVEL_DEBUG);
            break;
        case 'q':
            log_set_level(LOG_LEVEL_WARN);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("mogend %s (protocol %d)\n", MOGEN_VERSION_STRING, MOGEN_PROTOCOL_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mogend: unexpected argument \"%s\"%s\n\n", argv[optind],
                config_path == NULL ? " (the config is given with --config FILE)" : "");
        usage(stderr);
        return 2;
    }
    if (config_path == NULL) {
        fprintf(stderr, "mogend: missing --config FILE\n\n");
        usage(stderr);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    report_init(&rep);
    memset(&ds, 0, sizeof(ds));
    memset(&cfg, 0, sizeof(cfg));
    rc = config_load(&cfg, config_path, &rep);
    print_report(&rep);
    if (rc < 0) {
        log_error("%s: the config has %zu error%s; mogend is not started", config_path,
                  report_error_count(&rep), report_error_count(&rep) == 1 ? "" : "s");
        report_free(&rep);
        config_free(&cfg);
        return 1;
    }
    report_free(&rep);
    if (socket_override != NULL) {
        mogen_free(cfg.socket_path);
        cfg.socket_path = mogen_strdup(socket_override);
    }
    if (workers_override >= 0)
        cfg.workers = (uint32_t)workers_override;
    {
        char err[512];
        if (server_check_socket_path(cfg.socket_path, err, sizeof(err)) < 0 ||
            server_check_socket_group(cfg.socket_group, err, sizeof(err)) < 0 ||
            server_probe(cfg.socket_path, err, sizeof(err)) < 0) {
            log_error("%s", err);
            config_free(&cfg);
            return 1;
        }
    }

    report_init(&rep);
    rc = dataset_load(&ds, &cfg, 1, &rep);
    print_report(&rep);
    report_free(&rep);
    if (rc < 0) {
        log_error("the dataset cannot be loaded; mogend is not started");
        dataset_free(&ds);
        config_free(&cfg);
        return 1;
    }
    if (cfg.classes_dir != NULL) {
        char err[512];
        rc = dataset_write_classes(&ds, cfg.classes_dir, err, sizeof(err));
        if (rc < 0) {
            log_error("%s", err);
            dataset_free(&ds);
            config_free(&cfg);
            return 1;
        }
    }

    workers = cfg.workers > 0 ? cfg.workers : worker_usable_cpus();
    memset(&d, 0, sizeof(d));
    uv_loop_init(&loop);
    d.loop = &loop;
    d.config = &cfg;
    d.dataset = &ds;
    rc = daemon_start(&d, workers);
    if (rc < 0) {
        exit_code = 1;
        daemon_stop(&d);
    } else {
        for (uint32_t i = 0; i < d.feed_count; i++)
            log_info("stream %s: %u rows, %u batch%s of %u per epoch", d.feeds[i].config->name,
                     d.feeds[i].rows->row_count, feed_steps_per_epoch(&d.feeds[i]),
                     feed_steps_per_epoch(&d.feeds[i]) == 1 ? "" : "es",
                     d.feeds[i].config->batch_size);
        log_info("serving on %s with %u worker%s", cfg.socket_path, workers,
                 workers == 1 ? "" : "s");
        notify_systemd("READY=1");
    }
    uv_run(&loop, UV_RUN_DEFAULT);

    for (uint32_t i = 0; i < d.feed_count; i++)
        feed_destroy(&d.feeds[i]);
    mogen_free(d.feeds);
    worker_pool_free(&d.pool);
    rc = uv_loop_close(&loop);
    if (rc < 0)
        log_warn("event loop closed with handles open: %s", uv_strerror(rc));
    dataset_free(&ds);
    config_free(&cfg);
    if (exit_code == 0)
        log_info("stopped cleanly");
    return exit_code;
}
