/*
 * feed.c: one stream at run time: its ring of slots, which batch goes into
 * which slot, and which client gets which batch, in order.
 *
 * Two cursors walk the stream's batches for this daemon's rank: the produce
 * cursor (the next batch to give to a worker) and the deliver cursor (the
 * next batch to hand to a client). Slots are claimed in produce order and
 * handed out in deliver order, so clients always see batches in index order
 * even when workers finish out of order. This file is the only place that
 * changes slot states.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"
#include "log.h"
#include "mailbox_layout.h"

/* Adds the tensors of one slot: images, one per output, row ids, error flags. */
static void feed_build_layout(const feed_t *feed, ring_layout_t *layout)
{
    const config_t *cfg = feed->daemon->config;
    const dataset_t *ds = feed->daemon->dataset;
    uint64_t batch = feed->config->batch_size;
    uint64_t channels = cfg->image.color == COLOR_GRAYSCALE ? 1 : 3;
    tensor_dtype_t pixel = cfg->image.dtype == DTYPE_FLOAT32 ? TENSOR_FLOAT32 : TENSOR_UINT8;
    uint64_t shape[RING_MAX_DIMS];

    ring_layout_init(layout);
    shape[0] = batch;
    if (cfg->image.layout == LAYOUT_NCHW) {
        shape[1] = channels;
        shape[2] = cfg->image.height;
        shape[3] = cfg->image.width;
    } else {
        shape[1] = cfg->image.height;
        shape[2] = cfg->image.width;
        shape[3] = channels;
    }
    ring_layout_add(layout, "x", pixel, 4, shape);

    for (size_t o = 0; o < ds->output_count; o++) {
        const dataset_output_t *out = &ds->outputs[o];
        if (out->config->encoding == ENCODING_INDEX) {
            ring_layout_add(layout, out->config->name, TENSOR_INT32, 1, shape);
        } else {
            shape[1] = out->class_count;
            ring_layout_add(layout, out->config->name, TENSOR_FLOAT32, 2, shape);
        }
    }
    ring_layout_add(layout, "row_ids", TENSOR_INT64, 1, shape);
    ring_layout_add(layout, "errors", TENSOR_UINT8, 1, shape);
}

int feed_init(feed_t *feed, daemon_t *d, uint32_t index, char *err, size_t errlen)
{
    const config_t *cfg = d->config;
    ring_layout_t layout;
    int rc;

    memset(feed, 0, sizeof(*feed));
    feed->daemon = d;
    feed->index = index;
    feed->rows = &d->dataset->streams[index];
    feed->config = &cfg->streams[index];
    feed->world = 1;

    rc = scheduler_init(&feed->scheduler, feed->rows->row_count, feed->config->batch_size,
                        feed->config->shuffle, feed->config->drop_last, cfg->seed);
    if (rc < 0) {
        snprintf(err, errlen, "stream %s: cannot create its scheduler: %s", feed->config->name,
                 strerror(-rc));
        return rc;
    }
    feed->batches_per_epoch = scheduler_batches_per_epoch(&feed->scheduler);

    feed_build_layout(feed, &layout);
    rc = ring_create(&feed->ring, feed->config->name, &layout, cfg->ring_slots, cfg->shm_dir,
                     0660, err, errlen);
    if (rc < 0) {
        ring_layout_free(&layout);
        scheduler_free(&feed->scheduler);
        return rc;
    }
    feed->row_reported = mogen_calloc(feed->rows->row_count, 1);
    feed->slot_failures = mogen_calloc(cfg->ring_slots, sizeof(*feed->slot_failures));
    feed->slot_failure_count = mogen_calloc(cfg->ring_slots, sizeof(*feed->slot_failure_count));
    return 0;
}

void feed_destroy(feed_t *feed)
{
    if (feed->slot_failures != NULL) {
        for (uint32_t i = 0; i < feed->ring.slot_count; i++)
            mogen_free(feed->slot_failures[i]);
    }
    mogen_free(feed->slot_failures);
    mogen_free(feed->slot_failure_count);
    mogen_free(feed->row_reported);
    mogen_free(feed->waiters);
    ring_destroy(&feed->ring);
    scheduler_free(&feed->scheduler);
    memset(feed, 0, sizeof(*feed));
}

uint32_t feed_steps_per_epoch(const feed_t *feed)
{
    return scheduler_batches_for_rank(&feed->scheduler, feed->rank, feed->world);
}

void feed_advance(const feed_t *feed, uint32_t *epoch, uint32_t *batch)
{
    /* 64 bits: a client may name any world below 2^32. */
    uint64_t next = (uint64_t)*batch + feed->world;

    if (next >= feed->batches_per_epoch) {
        *epoch += 1;
        next = feed->rank;
    }
    *batch = (uint32_t)next;
}

/* Forgets the failure list kept for slot. */
static void feed_clear_slot_failures(feed_t *feed, uint32_t slot)
{
    mogen_free(feed->slot_failures[slot]);
    feed->slot_failures[slot] = NULL;
    feed->slot_failure_count[slot] = 0;
}

void feed_reposition(feed_t *feed, uint32_t epoch, uint32_t batch, uint32_t rank, uint32_t world)
{
    for (uint32_t i = 0; i < feed->ring.slot_count; i++) {
        if (feed->ring.slots[i].state == SLOT_READY) {
            ring_slot_discard(&feed->ring, i);
            feed_clear_slot_failures(feed, i);
        }
    }
    feed->generation++;
    feed->rank = rank;
    feed->world = world;
    feed->produce_epoch = feed->deliver_epoch = epoch;
    feed->produce_batch = feed->deliver_batch = batch;
    log_info("stream %s: positioned at epoch %u batch %u (rank %u of %u)", feed->config->name,
             epoch, batch, rank, world);
}

int feed_claim_slot(feed_t *feed, uint32_t *epoch, uint32_t *batch)
{
    int slot;

    if (feed->failed || feed->batches_per_epoch == 0 || feed_steps_per_epoch(feed) == 0)
        return -1;
    slot = ring_find_free(&feed->ring);
    if (slot < 0)
        return -1;
    *epoch = feed->produce_epoch;
    *batch = feed->produce_batch;
    ring_slot_begin_fill(&feed->ring, (uint32_t)slot, *epoch, *batch, feed->generation);
    feed_advance(feed, &feed->produce_epoch, &feed->produce_batch);
    return slot;
}

/* Stops the stream after a whole epoch's worth of consecutive failures, and
 * tells everyone waiting on it. */
static void feed_fail(feed_t *feed, const char *reason)
{
    feed->failed = 1;
    snprintf(feed->failure, sizeof(feed->failure),
             "every one of the last %llu samples of stream %s failed; last error: %s",
             (unsigned long long)feed->failed_since_ok, feed->config->name, reason);
    log_error("%s", feed->failure);
    /* Answer from a copy: a send that closes its connection removes that
     * waiter from feed->waiters in the middle of the loop. */
    {
        size_t count = feed->waiter_count;
        feed_waiter_t *waiting = mogen_calloc(count + 1, sizeof(*waiting));
        if (count > 0) /* waiters is NULL until the first one: memcpy needs a valid pointer. */
            memcpy(waiting, feed->waiters, count * sizeof(*waiting));
        feed->waiter_count = 0;
        for (size_t i = 0; i < count; i++) {
            waiting[i].conn->waiting = 0;
            service_send_stream_failed(waiting[i].conn, feed);
        }
        mogen_free(waiting);
    }
}

/*
 * Logs and records the listed samples' problems: failures as errors,
 * accepted decoder warnings as warnings. Each row is reported once: a small
 * stream is decoded again every epoch (and the ring may prefetch several),
 * and one bad file must read as one bad file, not one per epoch.
 */
static void feed_log_samples(feed_t *feed, const sample_failure_t *list, uint32_t listed,
                             int is_failure)
{
    daemon_t *d = feed->daemon;
    uint8_t bit = is_failure ? FEED_REPORTED_FAILURE : FEED_REPORTED_WARNING;

    for (uint32_t i = 0; i < listed; i++) {
        uint32_t row = list[i].row;
        const char *path;
        uint32_t csv_row, line;

        if (row >= feed->rows->row_count || (feed->row_reported[row] & bit))
            continue;
        feed->row_reported[row] |= bit;
        path = dataset_row_path(feed->rows, row);
        csv_row = feed->rows->csv_row[row];
        line = feed->rows->csv_line[row];
        if (is_failure) {
            feed->failed_rows++;
            log_warn("stream %s: %s (row %u, line %u): %s", feed->config->name, path, csv_row,
                     line, list[i].reason);
            status_record_error(&d->status, feed->index, csv_row, line, path, list[i].reason);
        } else {
            feed->warned_rows++;
            log_warn("stream %s: %s (row %u, line %u) decoded despite a decoder warning: %s",
                     feed->config->name, path, csv_row, line, list[i].reason);
        }
    }
}

void feed_fill_done(feed_t *feed, uint32_t slot, uint32_t generation, const fill_report_t *report)
{
    daemon_t *d = feed->daemon;
    uint32_t count = report->sample_count;
    uint32_t failed = report->failed_count < count ? report->failed_count : count;

    if (generation != feed->generation) {
        /* Filled for a position the stream has left: nobody wants it. */
        ring_slot_discard(&feed->ring, slot);
        return;
    }
    ring_slot_finish_fill(&feed->ring, slot, count);
    feed_clear_slot_failures(feed, slot);
    if (report->reported > 0) {
        feed->slot_failures[slot] = mogen_calloc(report->reported, sizeof(sample_failure_t));
        memcpy(feed->slot_failures[slot], report->failures,
               report->reported * sizeof(sample_failure_t));
    }
    feed->slot_failure_count[slot] = report->reported;

    feed_log_samples(feed, report->failures, report->reported, 1);
    if (report->failed_count > report->reported)
        log_warn("stream %s: %u more failure%s in epoch %u batch %u (only %d are detailed "
                 "per batch)", feed->config->name, report->failed_count - report->reported,
                 report->failed_count - report->reported == 1 ? "" : "s",
                 feed->ring.slots[slot].epoch, feed->ring.slots[slot].batch,
                 FILL_MAX_REPORTED_FAILURES);
    feed_log_samples(feed, report->warnings, report->warnings_reported, 0);
    d->status.errors_total += report->failed_count;
    d->status.warnings_total += report->warning_count;
    d->status.images_total += count - failed;

    feed->samples_failed += report->failed_count;
    feed->samples_ok += count - failed;
    if (failed < count)
        feed->failed_since_ok = 0;
    else
        feed->failed_since_ok += count;
    if (!feed->failed && feed->failed_since_ok >= feed->rows->row_count)
        feed_fail(feed, report->reported > 0 ? report->failures[report->reported - 1].reason
                                             : "unknown");

    feed_serve_waiters(feed);
}

int feeds_have_waiters(const daemon_t *d)
{
    for (uint32_t i = 0; i < d->feed_count; i++)
        if (d->feeds[i].waiter_count > 0)
            return 1;
    return 0;
}

/* Removes the waiter at index i, keeping FIFO order. */
static void feed_remove_waiter(feed_t *feed, size_t i)
{
    memmove(&feed->waiters[i], &feed->waiters[i + 1],
            (feed->waiter_count - i - 1) * sizeof(*feed->waiters));
    feed->waiter_count--;
}

/* Whether the batch conn's mailbox says was posted is still leased to conn
 * as that batch: what the daemon hands out or takes back on the strength
 * of the page, it checks against its own records first. */
static int feed_posted_is_held(const feed_t *feed, const conn_t *conn)
{
    const mailbox_t *mb = &conn->mailbox;
    const ring_slot_t *s;

    if (mb->slot >= feed->ring.slot_count)
        return 0;
    s = &feed->ring.slots[mb->slot];
    return s->state == SLOT_LEASED && s->lease_owner == conn->id && s->epoch == mb->epoch &&
           s->batch == mb->batch;
}

/* Leases slot to conn as the stream's next batch and moves the deliver
 * cursor past it. */
static void feed_hand_out(feed_t *feed, conn_t *conn, uint32_t slot)
{
    ring_slot_lease(&feed->ring, slot, conn->id);
    conn->leases++;
    conn->batches++;
    feed->batches_delivered++;
    conn->epoch_seen = feed->ring.slots[slot].epoch;
    feed_advance(feed, &feed->deliver_epoch, &feed->deliver_batch);
}

/* The client wrote into its mailbox's `taken` a count it had no right to:
 * nothing it says can be trusted any more. */
static void feed_mailbox_broken(conn_t *conn)
{
    conn_send_error(conn, "bad_mailbox", 1,
                    "the mailbox says %u batches taken, but %u were posted; only the posted "
                    "batch may be taken", (unsigned)mailbox_taken(&conn->mailbox),
                    (unsigned)conn->mailbox.posted);
}

/*
 * Answers the oldest waiting NEXT if it can be answered: with END_OF_EPOCH
 * when the client has not yet been told the epoch it was in has ended, else
 * with the next batch in order once its slot is READY. Returns 1 when a
 * waiter was answered (so the caller tries the next one), 0 otherwise.
 */
static int feed_serve_one(feed_t *feed)
{
    feed_waiter_t *w;
    conn_t *conn;
    int slot;

    if (feed->waiter_count == 0)
        return 0;
    w = &feed->waiters[0];
    conn = w->conn;

    /* "!=" rather than ">": the epoch counter may wrap past 2^32 - 1, and
     * the deliver cursor never moves behind a client that is attached. */
    if (feed->deliver_epoch != conn->epoch_seen) {
        uint32_t ended = conn->epoch_seen;
        conn->epoch_seen = feed->deliver_epoch;
        feed->wait_ns += daemon_now_ns() - w->since_ns;
        feed_remove_waiter(feed, 0);
        conn->waiting = 0;
        service_send_end_of_epoch(conn, ended);
        return 1;
    }

    slot = ring_find_ready(&feed->ring, feed->deliver_epoch, feed->deliver_batch, feed->generation);
    if (slot < 0)
        return 0;

    {
        uint64_t waited = daemon_now_ns() - w->since_ns;
        feed->wait_ns += waited;
        feed->wait_ns_window += waited;
    }
    feed_remove_waiter(feed, 0);
    conn->waiting = 0;
    feed_hand_out(feed, conn, (uint32_t)slot);
    service_send_batch(conn, feed, (uint32_t)slot);
    return 1;
}

/*
 * Posts the next batch into conn's mailbox if the mailbox is empty and
 * the batch can go that way: it is READY, no NEXT of any client is queued
 * before it (those are answered in order first), the client need not
 * first be told that its epoch ended, and no file of the batch failed (the
 * failures travel in BATCH). Anything else waits for the client's NEXT,
 * which the socket answers as always.
 */
static void feed_post_to_mailbox(feed_t *feed, conn_t *conn)
{
    int pending, slot;

    if (conn->mailbox.page == NULL || conn->closing || conn->waiting ||
        conn->feed != (int)feed->index || feed->daemon->stopping)
        return;
    if (feed->failed || feed->waiter_count > 0 || feed->deliver_epoch != conn->epoch_seen)
        return;
    if (conn->leases + 1 >= feed->ring.slot_count)
        return;
    pending = mailbox_pending(&conn->mailbox);
    if (pending < 0) {
        feed_mailbox_broken(conn);
        return;
    }
    if (pending > 0)
        return;
    slot = ring_find_ready(&feed->ring, feed->deliver_epoch, feed->deliver_batch, feed->generation);
    if (slot < 0 || feed->slot_failure_count[slot] > 0)
        return;
    feed_hand_out(feed, conn, (uint32_t)slot);
    mailbox_post(&conn->mailbox, (uint32_t)slot, feed->ring.slots[slot].epoch,
                 feed->ring.slots[slot].batch, feed->ring.slots[slot].sample_count);
}

void feed_fill_mailboxes(feed_t *feed)
{
    conn_t *next;

    for (conn_t *c = feed->daemon->server.conns; c != NULL; c = next) {
        next = c->next; /* a client that broke its mailbox is closed and unlinked */
        feed_post_to_mailbox(feed, c);
    }
}

int feed_answer_from_mailbox(feed_t *feed, conn_t *conn)
{
    int pending;

    if (conn->mailbox.page == NULL)
        return 0;
    pending = mailbox_pending(&conn->mailbox);
    if (pending < 0) {
        feed_mailbox_broken(conn);
        return -1;
    }
    if (pending == 0)
        return 0;
    if (!feed_posted_is_held(feed, conn)) { /* cannot happen: a bug, not the client's */
        log_error("client %llu: the batch posted in its mailbox is no longer leased to it",
                  (unsigned long long)conn->id);
        return 0;
    }
    mailbox_take(&conn->mailbox);
    service_send_batch(conn, feed, conn->mailbox.slot);
    return 1;
}

int feed_sync_mailbox(feed_t *feed, conn_t *conn)
{
    uint32_t slot;
    int rc, freed = 0;

    if (conn->mailbox.page == NULL || conn->closing)
        return 0;
    while ((rc = mailbox_next_release(&conn->mailbox, &slot)) > 0) {
        if (feed_release(feed, conn, slot) < 0) {
            conn_send_error(conn, "bad_mailbox", 1,
                            "slot %u, released through the mailbox, is not a slot this client "
                            "has taken", slot);
            return -1;
        }
        freed++;
    }
    if (rc < 0) {
        conn_send_error(conn, "bad_mailbox", 1,
                        "the mailbox says more slots released than the %d it has room for",
                        MOGEN_MAILBOX_RELEASES);
        return -1;
    }
    return freed;
}

int feeds_poll_mailboxes(daemon_t *d)
{
    int changed = 0;
    conn_t *next;

    for (conn_t *c = d->server.conns; c != NULL; c = next) {
        next = c->next; /* a client that broke its mailbox is closed and unlinked */
        if (c->mailbox.page != NULL && !c->closing && c->feed >= 0) {
            feed_t *feed = &d->feeds[c->feed];
            uint32_t posted = c->mailbox.posted;
            int freed = feed_sync_mailbox(feed, c);
            if (freed < 0)
                continue;
            feed_post_to_mailbox(feed, c);
            if (freed > 0 || c->mailbox.posted != posted)
                changed = 1;
        }
    }
    if (changed)
        worker_pool_pump(&d->pool);
    return changed;
}

void feed_serve_waiters(feed_t *feed)
{
    while (feed_serve_one(feed))
        ;
    feed_fill_mailboxes(feed);
}

void feed_request_next(feed_t *feed, conn_t *conn)
{
    if (feed->failed) {
        service_send_stream_failed(conn, feed);
        return;
    }
    if (feed->waiter_count == feed->waiter_capacity) {
        feed->waiter_capacity = feed->waiter_capacity ? feed->waiter_capacity * 2 : 8;
        feed->waiters = mogen_reallocarray(feed->waiters, feed->waiter_capacity,
                                           sizeof(*feed->waiters));
    }
    feed->waiters[feed->waiter_count].conn = conn;
    feed->waiters[feed->waiter_count].since_ns = daemon_now_ns();
    feed->waiter_count++;
    conn->waiting = 1;
    feed_serve_waiters(feed);
}

/*
 * conn is leaving with a batch in its mailbox that it never took. The batch
 * goes back to the stream, to be handed out next, when that cannot give it
 * to two trainers or out of order: the client closed the connection itself
 * (a client the daemon closes may still be running, and take it), the
 * daemon is not stopping, no other client is attached to the stream, and
 * the stream has not moved past it. Otherwise it is dropped with the
 * client's other leases, and the log says so. Returns 1 when it went back.
 */
static int feed_return_untaken(feed_t *feed, conn_t *conn)
{
    const mailbox_t *mb = &conn->mailbox;
    uint32_t epoch = mb->epoch, batch = mb->batch;

    if (feed->daemon->stopping || !feed_posted_is_held(feed, conn))
        return 0;
    feed_advance(feed, &epoch, &batch);
    if (!conn->peer_closed || feed->attached != 1 || epoch != feed->deliver_epoch ||
        batch != feed->deliver_batch) {
        log_warn("client %llu left before taking epoch %u batch %u from its mailbox; the "
                 "batch is dropped (%s)", (unsigned long long)conn->id, mb->epoch, mb->batch,
                 !conn->peer_closed ? "mogend closed the connection, and the client may "
                                      "still take it"
                                    : "other clients of the stream are attached");
        return 0;
    }
    ring_slot_unlease(&feed->ring, mb->slot);
    conn->leases--;
    conn->batches--;
    feed->batches_delivered--;
    feed->deliver_epoch = mb->epoch;
    feed->deliver_batch = mb->batch;
    log_info("client %llu closed before taking epoch %u batch %u from its mailbox; it goes "
             "to the next client", (unsigned long long)conn->id, mb->epoch, mb->batch);
    return 1;
}

int feed_detach(feed_t *feed, conn_t *conn)
{
    int returned = 0;

    for (size_t i = 0; i < feed->waiter_count;) {
        if (feed->waiters[i].conn == conn)
            feed_remove_waiter(feed, i);
        else
            i++;
    }
    conn->waiting = 0;
    if (conn->mailbox.page != NULL && mailbox_pending(&conn->mailbox) > 0)
        returned = feed_return_untaken(feed, conn);
    for (uint32_t i = 0; i < feed->ring.slot_count; i++) {
        ring_slot_t *s = &feed->ring.slots[i];
        if (s->state == SLOT_LEASED && s->lease_owner == conn->id) {
            ring_slot_release(&feed->ring, i);
            feed_clear_slot_failures(feed, i);
        }
    }
    conn->leases = 0;
    if (feed->attached > 0)
        feed->attached--;
    /* Others may be waiting for the batch that went back. */
    if (returned)
        feed_serve_waiters(feed);
    return returned;
}

int feed_release(feed_t *feed, conn_t *conn, uint32_t slot)
{
    ring_slot_t *s;

    if (slot >= feed->ring.slot_count)
        return -ERANGE;
    s = &feed->ring.slots[slot];
    if (s->state != SLOT_LEASED || s->lease_owner != conn->id)
        return -EPERM;
    if (conn->mailbox.page != NULL && slot == conn->mailbox.slot &&
        mailbox_pending(&conn->mailbox) > 0)
        return -EAGAIN;
    ring_slot_release(&feed->ring, slot);
    feed_clear_slot_failures(feed, slot);
    conn->leases--;
    return 0;
}
