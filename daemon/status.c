/*
 * status.c: the daemon's counters and the STATUS reply that `mogenctl
 * status` shows. A one-second timer turns totals into rates: images decoded
 * per second, and the share of that second trainers spent waiting for a
 * batch (the "data-starved" figure an operator looks for first).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "internal.h"

/* How often rates are recomputed. */
#define STATUS_TICK_MS 1000

uint64_t daemon_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void status_on_tick(uv_timer_t *timer)
{
    daemon_t *d = timer->data;
    status_state_t *st = &d->status;
    uint64_t now = daemon_now_ns();
    double dt = (double)(now - st->last_tick_ns) / 1e9;

    if (dt <= 0)
        return;
    st->images_per_s = (double)(st->images_total - st->images_at_tick) / dt;
    st->images_at_tick = st->images_total;
    for (uint32_t i = 0; i < d->feed_count; i++) {
        feed_t *feed = &d->feeds[i];
        uint64_t waiting = feed->wait_ns_window;
        /* Count the waits still in progress up to now as well. */
        for (size_t w = 0; w < feed->waiter_count; w++) {
            uint64_t since = feed->waiters[w].since_ns;
            if (since < st->last_tick_ns)
                since = st->last_tick_ns;
            waiting += now - since;
        }
        feed->wait_fraction = (double)waiting / (dt * 1e9);
        if (feed->wait_fraction > 1.0)
            feed->wait_fraction = 1.0;
        feed->wait_ns_window = 0;
    }
    st->last_tick_ns = now;
}

void status_init(status_state_t *st, daemon_t *d)
{
    memset(st, 0, sizeof(*st));
    st->started_ns = daemon_now_ns();
    st->last_tick_ns = st->started_ns;
    uv_timer_init(d->loop, &st->tick);
    st->tick.data = d;
    st->tick_open = 1;
    uv_timer_start(&st->tick, status_on_tick, STATUS_TICK_MS, STATUS_TICK_MS);
    /* The timer alone must not keep the loop alive at stop. */
    uv_unref((uv_handle_t *)&st->tick);
}

void status_close(status_state_t *st)
{
    if (st->tick_open) {
        uv_close((uv_handle_t *)&st->tick, NULL);
        st->tick_open = 0;
    }
}

void status_record_error(status_state_t *st, uint32_t stream, uint32_t csv_row, uint32_t line,
                         const char *path, const char *reason)
{
    status_error_t *e = &st->recent[st->recent_next];

    e->stream = stream;
    e->csv_row = csv_row;
    e->line = line;
    snprintf(e->path, sizeof(e->path), "%s", path);
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
    e->when_ns = daemon_now_ns();
    st->recent_next = (st->recent_next + 1) % STATUS_RECENT_ERRORS;
    if (st->recent_count < STATUS_RECENT_ERRORS)
        st->recent_count++;
}

static cJSON *status_slots_json(const ring_t *ring)
{
    cJSON *slots = cJSON_CreateObject();
    for (int s = 0; s < SLOT_STATE_MAX; s++)
        cJSON_AddNumberToObject(slots, ring_slot_state_name((slot_state_t)s),
                                ring_count_state(ring, (slot_state_t)s));
    return slots;
}

static cJSON *status_streams_json(const daemon_t *d)
{
    cJSON *streams = cJSON_CreateArray();

    for (uint32_t i = 0; i < d->feed_count; i++) {
        const feed_t *feed = &d->feeds[i];
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "name", feed->config->name);
        cJSON_AddNumberToObject(obj, "rows", feed->rows->row_count);
        cJSON_AddNumberToObject(obj, "missing_files", feed->rows->missing_count);
        cJSON_AddNumberToObject(obj, "blank_label_rows", feed->rows->skipped_label_rows);
        cJSON_AddNumberToObject(obj, "batch_size", feed->config->batch_size);
        cJSON_AddNumberToObject(obj, "steps_per_epoch", feed_steps_per_epoch(feed));
        cJSON_AddNumberToObject(obj, "epoch", feed->deliver_epoch);
        cJSON_AddNumberToObject(obj, "batch", feed->deliver_batch);
        cJSON_AddNumberToObject(obj, "rank", feed->rank);
        cJSON_AddNumberToObject(obj, "world", feed->world);
        cJSON_AddItemToObject(obj, "slots", status_slots_json(&feed->ring));
        cJSON_AddNumberToObject(obj, "clients", feed->attached);
        cJSON_AddNumberToObject(obj, "waiting_clients", (double)feed->waiter_count);
        cJSON_AddNumberToObject(obj, "batches_delivered", (double)feed->batches_delivered);
        cJSON_AddNumberToObject(obj, "samples_ok", (double)feed->samples_ok);
        cJSON_AddNumberToObject(obj, "samples_failed", (double)feed->samples_failed);
        cJSON_AddNumberToObject(obj, "failed_files", feed->failed_rows);
        cJSON_AddNumberToObject(obj, "warned_files", feed->warned_rows);
        cJSON_AddNumberToObject(obj, "wait_fraction", feed->wait_fraction);
        cJSON_AddBoolToObject(obj, "failed", feed->failed);
        if (feed->failed)
            cJSON_AddStringToObject(obj, "failure", feed->failure);
        cJSON_AddItemToArray(streams, obj);
    }
    return streams;
}

static cJSON *status_workers_json(const daemon_t *d)
{
    cJSON *workers = cJSON_CreateArray();

    for (uint32_t i = 0; i < d->pool.count; i++) {
        const worker_t *w = &d->pool.workers[i];
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddNumberToObject(obj, "index", w->index);
        cJSON_AddNumberToObject(obj, "pid", w->pid);
        cJSON_AddStringToObject(obj, "state", worker_state_name(w->state));
        cJSON_AddNumberToObject(obj, "images", (double)w->images);
        cJSON_AddNumberToObject(obj, "restarts", (double)w->restarts);
        if (w->state == WORKER_BUSY) {
            cJSON_AddStringToObject(obj, "stream", d->feeds[w->job.feed].config->name);
            cJSON_AddNumberToObject(obj, "epoch", w->job.epoch);
            cJSON_AddNumberToObject(obj, "batch", w->job.batch);
        }
        cJSON_AddItemToArray(workers, obj);
    }
    return workers;
}

static cJSON *status_clients_json(const daemon_t *d)
{
    cJSON *clients = cJSON_CreateArray();
    uint64_t now = daemon_now_ns();

    for (const conn_t *c = d->server.conns; c != NULL; c = c->next) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddNumberToObject(obj, "id", (double)c->id);
        if (c->feed >= 0)
            cJSON_AddStringToObject(obj, "stream", d->feeds[c->feed].config->name);
        else
            cJSON_AddNullToObject(obj, "stream");
        cJSON_AddNumberToObject(obj, "leased", c->leases);
        cJSON_AddNumberToObject(obj, "batches", (double)c->batches);
        cJSON_AddBoolToObject(obj, "waiting", c->waiting);
        if (c->mailbox.page != NULL)
            cJSON_AddNumberToObject(obj, "mailbox_posted", c->mailbox.posted);
        else
            cJSON_AddNullToObject(obj, "mailbox_posted");
        cJSON_AddNumberToObject(obj, "connected_s", (double)(now - c->connected_ns) / 1e9);
        cJSON_AddItemToArray(clients, obj);
    }
    return clients;
}

static cJSON *status_errors_json(const daemon_t *d)
{
    const status_state_t *st = &d->status;
    cJSON *errors = cJSON_CreateObject();
    cJSON *recent = cJSON_CreateArray();
    uint64_t now = daemon_now_ns();

    uint32_t files = 0;

    for (uint32_t i = 0; i < d->feed_count; i++)
        files += d->feeds[i].failed_rows;
    cJSON_AddNumberToObject(errors, "count", (double)st->errors_total);
    cJSON_AddNumberToObject(errors, "files", files);
    /* Oldest first, so the last line a person reads is the newest. */
    for (uint32_t k = 0; k < st->recent_count; k++) {
        uint32_t i = (st->recent_next + STATUS_RECENT_ERRORS - st->recent_count + k) %
                     STATUS_RECENT_ERRORS;
        const status_error_t *e = &st->recent[i];
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "stream", d->feeds[e->stream].config->name);
        cJSON_AddNumberToObject(obj, "row", e->csv_row);
        cJSON_AddNumberToObject(obj, "line", e->line);
        cJSON_AddStringToObject(obj, "path", e->path);
        cJSON_AddStringToObject(obj, "reason", e->reason);
        cJSON_AddNumberToObject(obj, "age_s", (double)(now - e->when_ns) / 1e9);
        cJSON_AddItemToArray(recent, obj);
    }
    cJSON_AddItemToObject(errors, "recent", recent);
    return errors;
}

cJSON *status_json(daemon_t *d)
{
    cJSON *root = cJSON_CreateObject();

    cJSON_AddNumberToObject(root, "version", MOGEN_PROTOCOL_VERSION);
    cJSON_AddNumberToObject(root, "pid", getpid());
    cJSON_AddStringToObject(root, "config", d->config->source_path ? d->config->source_path : "");
    cJSON_AddStringToObject(root, "socket", d->config->socket_path);
    cJSON_AddNumberToObject(root, "uptime_s", (double)(daemon_now_ns() - d->status.started_ns) / 1e9);
    cJSON_AddNumberToObject(root, "images_per_s", d->status.images_per_s);
    cJSON_AddNumberToObject(root, "images_total", (double)d->status.images_total);
    cJSON_AddNumberToObject(root, "worker_deaths", (double)d->pool.deaths);
    cJSON_AddNumberToObject(root, "decoder_warnings", (double)d->status.warnings_total);
    cJSON_AddItemToObject(root, "streams", status_streams_json(d));
    cJSON_AddItemToObject(root, "workers", status_workers_json(d));
    cJSON_AddItemToObject(root, "clients", status_clients_json(d));
    cJSON_AddItemToObject(root, "errors", status_errors_json(d));
    return root;
}
