/*
 * status.c: `mogenctl status`: the daemon's state at a glance, or as JSON.
 *
 * The first thing an operator wants to know is whether the trainer is
 * starved of data, so each stream's line ends with the share of the last
 * second its clients spent waiting for a batch, and a verdict line follows
 * when that share is high.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "mogen.h"

/* A stream whose clients wait more than this share of the time is called
 * data-starved: the GPU (or CPU) trainer idles for want of batches. */
#define STATUS_STARVED_FRACTION 0.10

static void status_usage(FILE *out)
{
    fprintf(out,
            "usage: mogenctl status [--socket PATH | --config FILE] [--json]\n"
            "\n"
            "Shows a running mogend's streams (epoch and batch position, ring slots by\n"
            "state, clients, share of time clients waited for data), workers, clients,\n"
            "images per second and the most recent sample errors.\n"
            "\n"
            "  -s, --socket PATH  the daemon's socket (default $MOGEN_SOCKET when set,\n"
            "                     else %s)\n"
            "  -c, --config FILE  use the \"socket\" of this mogend config instead\n"
            "  -j, --json         print the daemon's STATUS reply as JSON\n"
            "  -h, --help         show this help\n",
            CTL_DEFAULT_SOCKET);
}

static double json_number(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(item) ? item->valuedouble : 0.0;
}

static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : "-";
}

/* Formats seconds as "3h02m", "4m05s" or "12.3s". */
static void format_duration(double s, char *out, size_t len)
{
    if (s >= 3600)
        snprintf(out, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, len, "%.1fs", s);
}

static void print_streams(const cJSON *root)
{
    const cJSON *streams = cJSON_GetObjectItemCaseSensitive(root, "streams");
    const cJSON *s;

    printf("\n%-14s %8s %6s %6s %6s  %-21s %7s %7s %7s\n", "STREAM", "ROWS", "EPOCH", "BATCH",
           "STEPS", "SLOTS free/fill/rdy/ls", "CLIENTS", "WAITED", "FAILED");
    cJSON_ArrayForEach(s, streams) {
        const cJSON *slots = cJSON_GetObjectItemCaseSensitive(s, "slots");
        char slot_text[64];
        snprintf(slot_text, sizeof(slot_text), "%.0f/%.0f/%.0f/%.0f", json_number(slots, "free"),
                 json_number(slots, "filling"), json_number(slots, "ready"),
                 json_number(slots, "leased"));
        printf("%-14s %8.0f %6.0f %6.0f %6.0f  %-21s %7.0f %6.0f%% %7.0f\n",
               json_string(s, "name"), json_number(s, "rows"), json_number(s, "epoch"),
               json_number(s, "batch"), json_number(s, "steps_per_epoch"), slot_text,
               json_number(s, "clients"), 100.0 * json_number(s, "wait_fraction"),
               json_number(s, "failed_files"));
    }
    cJSON_ArrayForEach(s, streams) {
        double missing = json_number(s, "missing_files");
        double blank = json_number(s, "blank_label_rows");
        if (missing > 0)
            printf("  %s: %.0f row%s dropped at load because the image file is missing "
                   "(mogenctl validate lists them)\n", json_string(s, "name"), missing,
                   missing == 1 ? "" : "s");
        if (blank > 0)
            printf("  %s: %.0f row%s dropped at load for a blank label (\"missing\": "
                   "\"skip_row\"; mogenctl validate lists the first)\n", json_string(s, "name"),
                   blank, blank == 1 ? "" : "s");
    }
    cJSON_ArrayForEach(s, streams) {
        double waited = json_number(s, "wait_fraction");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "failed")))
            printf("  %s has STOPPED: %s\n", json_string(s, "name"), json_string(s, "failure"));
        else if (waited > STATUS_STARVED_FRACTION && json_number(s, "clients") > 0)
            printf("  %s is DATA-STARVED: its clients waited %.0f%% of the last second for "
                   "batches (more workers, smaller images, or faster storage would help)\n",
                   json_string(s, "name"), 100.0 * waited);
    }
}

static void print_workers(const cJSON *root)
{
    const cJSON *workers = cJSON_GetObjectItemCaseSensitive(root, "workers");
    const cJSON *w;

    printf("\n%-7s %8s %-9s %-24s %10s %9s\n", "WORKER", "PID", "STATE", "JOB", "IMAGES",
           "RESTARTS");
    cJSON_ArrayForEach(w, workers) {
        char job[64] = "-";
        if (strcmp(json_string(w, "state"), "busy") == 0)
            snprintf(job, sizeof(job), "%s %.0f/%.0f", json_string(w, "stream"),
                     json_number(w, "epoch"), json_number(w, "batch"));
        printf("%-7.0f %8.0f %-9s %-24s %10.0f %9.0f\n", json_number(w, "index"),
               json_number(w, "pid"), json_string(w, "state"), job, json_number(w, "images"),
               json_number(w, "restarts"));
    }
}

static void print_clients(const cJSON *root)
{
    const cJSON *clients = cJSON_GetObjectItemCaseSensitive(root, "clients");
    const cJSON *c;

    int attached = 0;

    cJSON_ArrayForEach(c, clients)
        attached += cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "stream"));
    if (attached == 0) {
        printf("\nno clients attached to a stream\n");
        return;
    }
    printf("\n%-7s %-14s %7s %9s %8s %8s %10s\n", "CLIENT", "STREAM", "LEASED", "BATCHES",
           "WAITING", "MAILBOX", "CONNECTED");
    cJSON_ArrayForEach(c, clients) {
        char age[32];
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "stream")))
            continue; /* A control connection, such as this command's own. */
        format_duration(json_number(c, "connected_s"), age, sizeof(age));
        printf("%-7.0f %-14s %7.0f %9.0f %8s %8s %10s\n", json_number(c, "id"),
               json_string(c, "stream"), json_number(c, "leased"), json_number(c, "batches"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "waiting")) ? "yes" : "no",
               cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "mailbox_posted")) ? "yes" : "no",
               age);
    }
}

static void print_errors(const cJSON *root)
{
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
    const cJSON *recent = cJSON_GetObjectItemCaseSensitive(errors, "recent");
    const cJSON *e;
    double count = json_number(errors, "count");
    double files = json_number(errors, "files");

    if (count == 0) {
        printf("\nno sample errors\n");
        return;
    }
    printf("\n%.0f file%s failed to load (%.0f failed decode%s in all, each epoch retries); "
           "most recent last:\n", files, files == 1 ? "" : "s", count, count == 1 ? "" : "s");
    cJSON_ArrayForEach(e, recent) {
        printf("  %s row %.0f (line %.0f): %s: %s\n", json_string(e, "stream"),
               json_number(e, "row"), json_number(e, "line"), json_string(e, "path"),
               json_string(e, "reason"));
    }
}

int ctl_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *socket_opt = NULL, *config_opt = NULL;
    char socket_path[CTL_SOCKET_MAX];
    int json = 0, opt, rc;
    char *text = NULL, uptime[32];
    cJSON *root;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "s:c:jh", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            socket_opt = optarg;
            break;
        case 'c':
            config_opt = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            status_usage(stdout);
            return 0;
        default:
            status_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        status_usage(stderr);
        return 2;
    }
    if (ctl_resolve_socket("status", socket_opt, config_opt, socket_path,
                           sizeof(socket_path)) < 0)
        return 1;
    rc = mogen_status_json(socket_path, &text);
    if (rc < 0) {
        ctl_socket_hint("status", socket_path, mogen_strerror(rc));
        return 1;
    }
    if (json) {
        printf("%s\n", text);
        free(text);
        return 0;
    }
    root = cJSON_Parse(text);
    free(text);
    if (root == NULL) {
        fprintf(stderr, "mogenctl status: the daemon's reply is not JSON\n");
        return 1;
    }
    format_duration(json_number(root, "uptime_s"), uptime, sizeof(uptime));
    printf("mogend pid %.0f, up %s, socket %s\n", json_number(root, "pid"), uptime,
           json_string(root, "socket"));
    printf("config %s\n", json_string(root, "config"));
    printf("%.1f images/s over the last second, %.0f images since start, %.0f worker restart%s\n",
           json_number(root, "images_per_s"), json_number(root, "images_total"),
           json_number(root, "worker_deaths"), json_number(root, "worker_deaths") == 1 ? "" : "s");
    if (json_number(root, "decoder_warnings") > 0) /* Detailed once per file in the log. */
        printf("%.0f image%s decoded despite a decoder warning (see the daemon's log)\n",
               json_number(root, "decoder_warnings"),
               json_number(root, "decoder_warnings") == 1 ? "" : "s");
    print_streams(root);
    print_workers(root);
    print_clients(root);
    print_errors(root);
    cJSON_Delete(root);
    return 0;
}
