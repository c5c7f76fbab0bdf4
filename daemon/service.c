/*
 * service.c: what each protocol message does (docs/protocol.md).
 *
 * Every field of a request is checked and a wrong one is answered with an
 * ERROR naming it; socket input is never asserted. Frames that make the rest
 * of the conversation meaningless (garbage, bad HELLO) close the connection;
 * mistakes a client can recover from (RELEASE of a slot it does not hold)
 * leave it open.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "internal.h"
#include "jsonw.h"
#include "message.h"
#include "log.h"

/* Reads a non-negative integer field. Returns 1 when present and valid, 0
 * when absent, -1 when present but not a non-negative integer. */
static int service_get_uint(const cJSON *obj, const char *key, uint32_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    double v;

    if (item == NULL)
        return 0;
    if (!cJSON_IsNumber(item))
        return -1;
    v = item->valuedouble;
    if (v < 0 || v > 4294967295.0 || floor(v) != v)
        return -1;
    *out = (uint32_t)v;
    return 1;
}

static cJSON *service_layout_json(const feed_t *feed)
{
    cJSON *tensors = cJSON_CreateArray();

    for (size_t i = 0; i < feed->ring.layout.count; i++) {
        const ring_tensor_t *t = &feed->ring.layout.tensors[i];
        cJSON *obj = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        cJSON_AddStringToObject(obj, "name", t->name);
        cJSON_AddStringToObject(obj, "dtype", tensor_dtype_name(t->dtype));
        for (uint32_t k = 0; k < t->ndim; k++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[k]));
        cJSON_AddItemToObject(obj, "shape", shape);
        cJSON_AddNumberToObject(obj, "offset", (double)t->offset);
        cJSON_AddNumberToObject(obj, "bytes", (double)t->bytes);
        cJSON_AddItemToArray(tensors, obj);
    }
    return tensors;
}

static cJSON *service_outputs_json(const dataset_t *ds)
{
    cJSON *outputs = cJSON_CreateArray();

    for (size_t o = 0; o < ds->output_count; o++) {
        const dataset_output_t *out = &ds->outputs[o];
        cJSON *obj = cJSON_CreateObject();
        cJSON *classes = cJSON_CreateArray();
        cJSON_AddStringToObject(obj, "name", out->config->name);
        cJSON_AddStringToObject(obj, "kind", config_output_kind_name(out->config->kind));
        cJSON_AddStringToObject(obj, "encoding", config_encoding_name(out->config->encoding));
        for (uint32_t k = 0; k < out->class_count; k++)
            cJSON_AddItemToArray(classes, cJSON_CreateString(out->class_names[k]));
        cJSON_AddItemToObject(obj, "classes", classes);
        cJSON_AddItemToArray(outputs, obj);
    }
    return outputs;
}

static cJSON *service_image_json(const image_config_t *img)
{
    cJSON *obj = cJSON_CreateObject();

    cJSON_AddNumberToObject(obj, "width", img->width);
    cJSON_AddNumberToObject(obj, "height", img->height);
    cJSON_AddNumberToObject(obj, "channels", img->color == COLOR_GRAYSCALE ? 1 : 3);
    cJSON_AddStringToObject(obj, "dtype", config_dtype_name(img->dtype));
    cJSON_AddStringToObject(obj, "layout", config_layout_name(img->layout));
    cJSON_AddNumberToObject(obj, "scale", img->scale);
    cJSON_AddNumberToObject(obj, "offset", img->offset);
    if (img->has_mean_std) {
        cJSON_AddItemToObject(obj, "mean", cJSON_CreateFloatArray(img->mean, 3));
        cJSON_AddItemToObject(obj, "std", cJSON_CreateFloatArray(img->std, 3));
    } else {
        cJSON_AddNullToObject(obj, "mean");
        cJSON_AddNullToObject(obj, "std");
    }
    return obj;
}

/*
 * Gives conn a mailbox when it asked for one and can receive it. A mailbox
 * only saves time, so one that cannot be made is logged and the client
 * goes on without it. Returns 1 when conn has one.
 */
static int service_open_mailbox(conn_t *conn, int want_mailbox, int want_fd)
{
    char err[256];

    if (!want_mailbox || !want_fd)
        return 0;
    if (mailbox_create(&conn->mailbox, err, sizeof(err)) < 0) {
        log_warn("client %llu: no mailbox (%s); its batches come over the socket",
                 (unsigned long long)conn->id, err);
        return 0;
    }
    server_mailbox_added(&conn->daemon->server);
    return 1;
}

static void service_send_welcome(conn_t *conn, feed_t *feed, int want_fd, int want_mailbox)
{
    const daemon_t *d = conn->daemon;
    cJSON *body = cJSON_CreateObject();
    int has_mailbox = service_open_mailbox(conn, want_mailbox, want_fd);
    int rc;

    cJSON_AddNumberToObject(body, "version", MOGEN_PROTOCOL_VERSION);
    cJSON_AddStringToObject(body, "stream", feed->config->name);
    cJSON_AddNumberToObject(body, "batch_size", feed->config->batch_size);
    cJSON_AddNumberToObject(body, "steps_per_epoch", feed_steps_per_epoch(feed));
    cJSON_AddNumberToObject(body, "batches_per_epoch", feed->batches_per_epoch);
    cJSON_AddNumberToObject(body, "rank", feed->rank);
    cJSON_AddNumberToObject(body, "world", feed->world);
    cJSON_AddNumberToObject(body, "rows", feed->rows->row_count);
    cJSON_AddNumberToObject(body, "epoch", feed->deliver_epoch);
    cJSON_AddNumberToObject(body, "batch", feed->deliver_batch);
    cJSON_AddNumberToObject(body, "slot_count", feed->ring.slot_count);
    cJSON_AddNumberToObject(body, "slot_size", (double)feed->ring.layout.slot_size);
    cJSON_AddNumberToObject(body, "shm_size", (double)feed->ring.size);
    if (feed->ring.shm_path != NULL)
        cJSON_AddStringToObject(body, "shm_path", feed->ring.shm_path);
    else
        cJSON_AddNullToObject(body, "shm_path");
    cJSON_AddItemToObject(body, "tensors", service_layout_json(feed));
    cJSON_AddItemToObject(body, "outputs", service_outputs_json(d->dataset));
    cJSON_AddItemToObject(body, "image", service_image_json(&d->config->image));
    cJSON_AddBoolToObject(body, "mailbox", has_mailbox);

    if (want_fd) {
        int fds[2] = {feed->ring.fd, conn->mailbox.fd};
        rc = conn_send_with_fds(conn, MOGEN_MSG_WELCOME, body, fds, has_mailbox ? 2 : 1);
    } else {
        rc = conn_send(conn, MOGEN_MSG_WELCOME, body);
    }
    cJSON_Delete(body);
    /* The client has its own descriptor now; the mapping is all we need. */
    mailbox_close_fd(&conn->mailbox);
    if (rc == -EBUSY)
        conn_send_error(conn, "bad_request", 1,
                        "HELLO was sent before earlier replies were read; send HELLO first");
    else if (rc < 0)
        conn_close(conn);
}

/*
 * HELLO: attaches the connection to a stream, positions the stream when it
 * is free to move, and answers WELCOME with the layout and the memory.
 */
static void service_hello(conn_t *conn, const cJSON *req)
{
    daemon_t *d = conn->daemon;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(req, "version");
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req, "stream");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(req, "start");
    const cJSON *want_fd_item = cJSON_GetObjectItemCaseSensitive(req, "want_fd");
    const cJSON *mailbox_item = cJSON_GetObjectItemCaseSensitive(req, "mailbox");
    uint32_t rank = 0, world = 1, epoch = 0, batch = 0;
    int has_start = 0, want_fd = 1, want_mailbox = 0, index;
    feed_t *feed;

    if (conn->feed >= 0) {
        conn_send_error(conn, "bad_request", 1, "HELLO sent twice on one connection");
        return;
    }
    if (!cJSON_IsNumber(version)) {
        conn_send_error(conn, "bad_request", 1, "HELLO needs \"version\" (a number)");
        return;
    }
    if (version->valuedouble != MOGEN_PROTOCOL_VERSION) {
        conn_send_error(conn, "version_mismatch", 1,
                        "client speaks protocol version %g; this mogend speaks version %d",
                        version->valuedouble, MOGEN_PROTOCOL_VERSION);
        return;
    }
    if (!cJSON_IsString(stream)) {
        conn_send_error(conn, "bad_request", 1, "HELLO needs \"stream\" (a string)");
        return;
    }
    index = dataset_stream_index(d->dataset, stream->valuestring);
    if (index < 0) {
        char names[512] = "";
        for (uint32_t i = 0; i < d->feed_count; i++) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                     d->feeds[i].config->name);
        }
        conn_send_error(conn, "unknown_stream", 1, "no stream named \"%s\"; streams are: %s",
                        stream->valuestring, names);
        return;
    }
    feed = &d->feeds[index];
    if (service_get_uint(req, "rank", &rank) < 0 || service_get_uint(req, "world", &world) < 0 ||
        world == 0 || rank >= world) {
        conn_send_error(conn, "bad_request", 1,
                        "\"rank\" and \"world\" must be integers with 0 <= rank < world");
        return;
    }
    if (start != NULL) {
        if (!cJSON_IsObject(start) || service_get_uint(start, "epoch", &epoch) != 1 ||
            service_get_uint(start, "batch", &batch) != 1) {
            conn_send_error(conn, "bad_request", 1,
                            "\"start\" must be {\"epoch\": E, \"batch\": K} with integers >= 0");
            return;
        }
        has_start = 1;
    }
    if (want_fd_item != NULL) {
        if (!cJSON_IsBool(want_fd_item)) {
            conn_send_error(conn, "bad_request", 1, "\"want_fd\" must be true or false");
            return;
        }
        want_fd = cJSON_IsTrue(want_fd_item);
    }
    if (mailbox_item != NULL) {
        if (!cJSON_IsBool(mailbox_item)) {
            conn_send_error(conn, "bad_request", 1, "\"mailbox\" must be true or false");
            return;
        }
        want_mailbox = cJSON_IsTrue(mailbox_item);
    }
    if (!want_fd && feed->ring.shm_path == NULL) {
        conn_send_error(conn, "no_shm_path", 1,
                        "want_fd is false but this mogend shares memory only as file "
                        "descriptors; set \"shm_dir\" in its config");
        return;
    }

    /* Without "start", a client that names the stream's current sharding
     * (or none) joins the queue where it stands; naming another sharding
     * restarts the current epoch at this rank's first batch. */
    if (has_start || rank != feed->rank || world != feed->world) {
        uint32_t steps = scheduler_batches_for_rank(&feed->scheduler, rank, world);
        if (!has_start) {
            epoch = feed->deliver_epoch;
            batch = rank;
        }
        if (steps == 0 || batch >= feed->batches_per_epoch || batch % world != rank) {
            conn_send_error(conn, "bad_request", 1,
                            "start batch %u is not a batch of rank %u of %u (the epoch has %u "
                            "batches; rank %u gets %u of them)",
                            batch, rank, world, feed->batches_per_epoch, rank, steps);
            return;
        }
        if (epoch != feed->deliver_epoch || batch != feed->deliver_batch || rank != feed->rank ||
            world != feed->world) {
            if (feed->attached > 0) {
                conn_send_error(conn, "stream_busy", 1,
                                "stream %s is at epoch %u batch %u (rank %u of %u) with %u "
                                "client(s) attached; it can move only when none is",
                                feed->config->name, feed->deliver_epoch, feed->deliver_batch,
                                feed->rank, feed->world, feed->attached);
                return;
            }
            feed_reposition(feed, epoch, batch, rank, world);
        }
    }

    conn->feed = index;
    conn->epoch_seen = feed->deliver_epoch;
    feed->attached++;
    log_info("client %llu attached to stream %s at epoch %u batch %u",
             (unsigned long long)conn->id, feed->config->name, feed->deliver_epoch,
             feed->deliver_batch);
    service_send_welcome(conn, feed, want_fd, want_mailbox);
}

static void service_next(conn_t *conn)
{
    feed_t *feed;

    if (conn->feed < 0) {
        conn_send_error(conn, "not_attached", 0, "NEXT before HELLO");
        return;
    }
    feed = &conn->daemon->feeds[conn->feed];
    if (conn->waiting) {
        conn_send_error(conn, "bad_request", 0, "NEXT while an earlier NEXT is still pending");
        return;
    }
    /* The batch was posted while the client was deciding to ask: it is
     * already leased to it, so no limit below applies. */
    if (feed_answer_from_mailbox(feed, conn) != 0)
        return;
    if (conn->leases + 1 >= feed->ring.slot_count) {
        conn_send_error(conn, "too_many_leases", 0,
                        "this client holds %u of the stream's %u slots; RELEASE one first",
                        conn->leases, feed->ring.slot_count);
        return;
    }
    /* Clients together may lease every slot; one that holds some and asks
     * for more would then wait for ever on the others. Tell it instead. */
    if (conn->leases > 0 && ring_count_state(&feed->ring, SLOT_LEASED) == feed->ring.slot_count) {
        conn_send_error(conn, "too_many_leases", 0,
                        "all %u slots of stream %s are leased (%u by this client); RELEASE one "
                        "first", feed->ring.slot_count, feed->config->name, conn->leases);
        return;
    }
    feed_request_next(feed, conn);
}

static void service_release(conn_t *conn, const cJSON *req)
{
    uint32_t slot;
    int rc;

    if (conn->feed < 0) {
        conn_send_error(conn, "not_attached", 0, "RELEASE before HELLO");
        return;
    }
    if (service_get_uint(req, "slot", &slot) != 1) {
        conn_send_error(conn, "bad_request", 1, "RELEASE needs \"slot\" (an integer >= 0)");
        return;
    }
    rc = feed_release(&conn->daemon->feeds[conn->feed], conn, slot);
    if (rc == -EAGAIN)
        conn_send_error(conn, "not_leased", 0,
                        "slot %u is posted in this client's mailbox and not taken yet", slot);
    else if (rc < 0)
        conn_send_error(conn, "not_leased", 0, "slot %u is not leased to this client", slot);
    /* The freed slot gets a worker in conn_on_read(), after the replies to
     * this read are written: a client's RELEASE+NEXT is answered first. */
}

static void service_status(conn_t *conn)
{
    cJSON *body = status_json(conn->daemon);
    conn_send(conn, MOGEN_MSG_STATUS_REPLY, body);
    cJSON_Delete(body);
}

void service_handle(conn_t *conn, uint16_t type, const uint8_t *body, uint32_t length)
{
    cJSON *req = NULL;

    /* The same check as every client's: one UTF-8 JSON object, nothing
     * after it (cJSON alone would take "{}xyz"). */
    if (mogen_frame_parse_body(body, length, &req) < 0) {
        conn_send_error(conn, "bad_frame", 1, "%s body is not one JSON object in UTF-8",
                        mogen_msg_type_name(type));
        return;
    }

    switch (type) {
    case MOGEN_MSG_HELLO:
        service_hello(conn, req);
        break;
    case MOGEN_MSG_NEXT:
        service_next(conn);
        break;
    case MOGEN_MSG_RELEASE:
        service_release(conn, req);
        break;
    case MOGEN_MSG_STATUS:
        service_status(conn);
        break;
    default:
        conn_send_error(conn, "bad_frame", 1, "%s is not a message a client sends",
                        mogen_msg_type_name(type));
        break;
    }
    cJSON_Delete(req);
}

/*
 * BATCH, written with jsonw rather than cJSON: it is sent on every round
 * trip, and cJSON's tree and number printing cost most of the daemon's time
 * per NEXT (see jsonw.h). The text is the same as cJSON_PrintUnformatted's.
 */
void service_send_batch(conn_t *conn, feed_t *feed, uint32_t slot)
{
    const ring_slot_t *s = &feed->ring.slots[slot];
    jsonw_t w;

    jsonw_init(&w, MOGEN_FRAME_HEADER_SIZE);
    jsonw_object_open(&w);
    jsonw_field_uint(&w, "slot", slot);
    jsonw_field_uint(&w, "epoch", s->epoch);
    jsonw_field_uint(&w, "batch", s->batch);
    jsonw_field_uint(&w, "size", s->sample_count);
    jsonw_key(&w, "errors");
    jsonw_array_open(&w);
    for (uint32_t i = 0; i < feed->slot_failure_count[slot]; i++) {
        const sample_failure_t *f = &feed->slot_failures[slot][i];
        jsonw_object_open(&w);
        if (f->row < feed->rows->row_count) {
            jsonw_field_uint(&w, "row", feed->rows->csv_row[f->row]);
            jsonw_field_uint(&w, "line", feed->rows->csv_line[f->row]);
            jsonw_field_string(&w, "path", dataset_row_path(feed->rows, f->row));
        }
        jsonw_field_string(&w, "reason", f->reason);
        jsonw_object_close(&w);
    }
    jsonw_array_close(&w);
    jsonw_object_close(&w);
    conn->epoch_seen = s->epoch;
    conn_send_json(conn, MOGEN_MSG_BATCH, &w);
}

void service_send_end_of_epoch(conn_t *conn, uint32_t epoch)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "epoch", epoch);
    conn_send(conn, MOGEN_MSG_END_OF_EPOCH, body);
    cJSON_Delete(body);
}

void service_send_stream_failed(conn_t *conn, feed_t *feed)
{
    conn_send_error(conn, "stream_failed", 0, "%s", feed->failure);
}
