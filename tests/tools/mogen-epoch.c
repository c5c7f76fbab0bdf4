/*
 * mogen-epoch: consume one epoch of a stream the way a trainer's loop does,
 * with mogen_release_next, and print every sample, so that pytest can check
 * that each row comes exactly once with its label.
 *
 *   mogen-epoch SOCKET STREAM [RELEASE_AFTER]
 *
 * Prints, per batch, "batch EPOCH INDEX SIZE: ROW=CLASS ..." (the class of
 * the first output), then "end of epoch E" at END_OF_EPOCH, then the first
 * batch of the next epoch and a last line "error message: TEXT" (empty when
 * the daemon sent no ERROR). With RELEASE_AFTER = k, the k-th batch is given
 * back with mogen_release first (printing "released"), so that the
 * following mogen_release_next finds no batch held and must act as
 * mogen_next. Exits 1 on any failure.
 *
 * Environment: MOGEN_EPOCH_MAILBOX=0 connects without a mailbox (every
 * batch over the socket). MOGEN_EPOCH_PAUSE_US=N sleeps N microseconds
 * before each batch, as a trainer's step would, so that the daemon posts
 * the next one in the mailbox meanwhile; the last line is then "mailbox
 * posted K", K from the daemon's STATUS for this client (or "none").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "mogen.h"

/* The class index of sample i of output o: the int32 itself for the index
 * encoding, else the largest entry of the one-hot row. */
static long epoch_class(const mogen_client_t *c, const mogen_batch_t *b, size_t o, uint32_t i)
{
    int t = mogen_tensor_index(c, mogen_output_name(c, o));
    size_t k = mogen_output_class_count(c, o);
    const float *row;
    size_t best = 0;

    if (t < 0)
        return -1;
    if (strcmp(mogen_output_encoding(c, o), "index") == 0)
        return ((const int32_t *)mogen_batch_tensor_at(b, (size_t)t))[i];
    row = (const float *)mogen_batch_tensor_at(b, (size_t)t) + (size_t)i * k;
    for (size_t j = 1; j < k; j++)
        if (row[j] > row[best])
            best = j;
    return (long)best;
}

static void epoch_print(const mogen_client_t *c, const mogen_batch_t *b)
{
    const int64_t *rows = mogen_batch_tensor(b, "row_ids");

    printf("batch %u %u %u:", b->epoch, b->batch, b->size);
    for (uint32_t i = 0; i < b->size; i++) {
        long k = epoch_class(c, b, 0, i);
        printf(" %lld=%s", (long long)rows[i], k >= 0 ? mogen_output_class_name(c, 0, (size_t)k) : "?");
    }
    printf("\n");
}

/* Prints "mailbox posted K" for the one client attached to a stream, as
 * the daemon's STATUS says. */
static void epoch_print_mailbox(const char *socket_path)
{
    char *json = NULL;
    cJSON *root, *client;

    if (mogen_status_json(socket_path, &json) < 0) {
        printf("mailbox posted ?\n");
        return;
    }
    root = cJSON_Parse(json);
    free(json);
    cJSON_ArrayForEach(client, cJSON_GetObjectItemCaseSensitive(root, "clients")) {
        const cJSON *posted = cJSON_GetObjectItemCaseSensitive(client, "mailbox_posted");
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(client, "stream")))
            continue;
        if (cJSON_IsNumber(posted))
            printf("mailbox posted %.0f\n", posted->valuedouble);
        else
            printf("mailbox posted none\n");
    }
    cJSON_Delete(root);
}

int main(int argc, char **argv)
{
    mogen_client_t *c;
    mogen_batch_t b = {0};
    mogen_connect_options_t opts;
    char err[512] = "";
    long release_after = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
    const char *pause_env = getenv("MOGEN_EPOCH_PAUSE_US");
    const char *mailbox_env = getenv("MOGEN_EPOCH_MAILBOX");
    long pause_us = pause_env != NULL ? strtol(pause_env, NULL, 10) : 0;
    long received = 0;
    int ended = 0;
    int rc;

    if (argc < 3) {
        fprintf(stderr, "usage: mogen-epoch SOCKET STREAM [RELEASE_AFTER]\n");
        return 2;
    }
    mogen_connect_options_init(&opts);
    opts.timeout_ms = 30000;
    if (mailbox_env != NULL && strcmp(mailbox_env, "0") == 0)
        opts.mailbox = 0;
    opts.errbuf = err;
    opts.errbuf_len = sizeof err;
    rc = mogen_connect(&c, argv[1], argv[2], &opts);
    if (rc < 0) {
        fprintf(stderr, "mogen-epoch: %s (%s)\n", err, mogen_err_name(rc));
        return 1;
    }
    if (mogen_tensor_index(c, "row_ids") < 0 || mogen_output_count(c) == 0) {
        fprintf(stderr, "mogen-epoch: the stream has no row_ids or no output\n");
        mogen_close(c);
        return 1;
    }
    for (;;) {
        if (pause_us > 0) {
            struct timespec ts = {pause_us / 1000000, (pause_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        rc = mogen_release_next(c, &b);
        if (rc < 0)
            break;
        if (rc == MOGEN_END_OF_EPOCH) {
            printf("end of epoch %u\n", b.epoch);
            ended = 1;
            continue;
        }
        epoch_print(c, &b);
        if (ended)
            break;
        if (++received == release_after) {
            rc = mogen_release(c, &b);
            if (rc < 0)
                break;
            printf("released\n");
        }
    }
    if (rc < 0) {
        fprintf(stderr, "mogen-epoch: %s (%s)\n", mogen_client_error_message(c), mogen_err_name(rc));
        mogen_close(c);
        return 1;
    }
    printf("error message: %s\n", mogen_client_error_message(c));
    if (pause_us > 0)
        epoch_print_mailbox(argv[1]);
    mogen_close(c);
    return 0;
}
