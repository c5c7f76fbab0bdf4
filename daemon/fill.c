/*
 * fill.c: one batch into one slot, in a worker process.
 *
 * The rows of the batch come from the scheduler (a pure function of seed,
 * epoch and batch index), so the worker needs nothing from the main process
 * but the job itself. Each sample is decoded straight into its place in the
 * image tensor; its labels, row id and error flag are written beside it. A
 * sample whose file fails is replaced by a copy of the next sample of the
 * same batch that succeeded, flagged in the errors tensor, so that batches
 * stay full and the model never trains on garbage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "augment.h"
#include "internal.h"
#include "pipeline.h"

/*
 * Files a worker keeps open, the one it decodes and the next ones of its
 * batch, each with the kernel asked to read it (pipeline_open_file): with
 * a cold page cache the disk then has that many reads to do at once
 * instead of one. Bounded so that a large batch does not hold a large
 * number of fds.
 */
#define FILL_READ_AHEAD 32

/* Pointers to the tensors of one slot, looked up once per job. */
typedef struct fill_target {
    uint8_t *images;
    size_t sample_bytes;
    uint8_t **labels;      /* One per output. */
    size_t *label_bytes;   /* One per output. */
    int64_t *row_ids;
    uint8_t *errors;
} fill_target_t;

static uint8_t *fill_tensor(const feed_t *feed, uint8_t *slot, const char *name)
{
    int t = ring_layout_find(&feed->ring.layout, name);
    return t < 0 ? NULL : slot + feed->ring.layout.tensors[t].offset;
}

/* Copies sample `from` over sample `to`: pixels, labels and row id. */
static void fill_copy_sample(const fill_target_t *t, size_t outputs, uint32_t from, uint32_t to)
{
    memcpy(t->images + (size_t)to * t->sample_bytes, t->images + (size_t)from * t->sample_bytes,
           t->sample_bytes);
    for (size_t o = 0; o < outputs; o++)
        memcpy(t->labels[o] + (size_t)to * t->label_bytes[o],
               t->labels[o] + (size_t)from * t->label_bytes[o], t->label_bytes[o]);
    t->row_ids[to] = t->row_ids[from];
}

/* Records one sample's problem in list (of room entries) and counts it. */
static void fill_note(sample_failure_t *list, uint32_t room, uint32_t *listed, uint32_t *count,
                      uint32_t row, const char *reason)
{
    if (*listed < room) {
        list[*listed].row = row;
        snprintf(list[*listed].reason, FILL_REASON_MAX, "%s", reason);
        (*listed)++;
    }
    (*count)++;
}

void fill_batch(feed_t *feed, struct pipeline *pipeline, const worker_job_t *job,
                fill_report_t *report)
{
    const daemon_t *d = feed->daemon;
    const dataset_t *ds = d->dataset;
    const dataset_stream_t *rows = feed->rows;
    uint8_t *slot = ring_slot_data(&feed->ring, job->slot);
    uint32_t batch_size = feed->config->batch_size;
    uint32_t *batch_rows = mogen_malloc(batch_size * sizeof(*batch_rows));
    uint8_t **labels = mogen_calloc(ds->output_count + 1, sizeof(*labels));
    size_t *label_bytes = mogen_calloc(ds->output_count + 1, sizeof(*label_bytes));
    fill_target_t t;
    int ahead[FILL_READ_AHEAD]; /* fds of the files opened ahead, by sample index mod the size */
    uint32_t count, ok = 0;

    t.images = fill_tensor(feed, slot, "x");
    t.sample_bytes = pipeline_sample_bytes(&d->config->image);
    t.labels = labels;
    t.label_bytes = label_bytes;
    for (size_t o = 0; o < ds->output_count; o++) {
        labels[o] = fill_tensor(feed, slot, ds->outputs[o].config->name);
        label_bytes[o] = dataset_label_bytes(ds, o);
    }
    t.row_ids = (int64_t *)(void *)fill_tensor(feed, slot, "row_ids");
    t.errors = fill_tensor(feed, slot, "errors");

    memset(report, 0, sizeof(*report));
    count = scheduler_batch_rows(&feed->scheduler, job->epoch, job->batch, batch_rows);

    for (uint32_t i = 0, opened = 0; i < count; i++) {
        uint32_t row = batch_rows[i];
        augment_params_t aug;
        char err[FILL_REASON_MAX];
        int rc;

        /* Keep this file and the next ones open and being read. Each fd
         * opened is used, and closed, by pipeline_run_fd() below. Out of
         * fds (a small LimitNOFILE), the files ahead wait for their turn,
         * when the ones before are closed; only the file due now takes
         * the error. */
        for (; opened < count && opened < i + FILL_READ_AHEAD; opened++) {
            int fd = pipeline_open_file(pipeline, dataset_row_path(rows, batch_rows[opened]));
            if ((fd == -EMFILE || fd == -ENFILE) && opened > i)
                break;
            ahead[opened % FILL_READ_AHEAD] = fd;
        }
        if (feed->config->augment)
            augment_draw(&d->config->augment, d->config->seed, job->epoch, rows->csv_row[row], &aug);
        else
            augment_identity(&aug);
        rc = pipeline_run_fd(pipeline, ahead[i % FILL_READ_AHEAD], &aug,
                             t.images + (size_t)i * t.sample_bytes, err, sizeof(err));
        t.row_ids[i] = rows->csv_row[row];
        for (size_t o = 0; o < ds->output_count; o++)
            dataset_encode_label(ds, rows, o, row, labels[o] + (size_t)i * label_bytes[o]);
        if (rc == 0) {
            const char *warning = pipeline_last_warning(pipeline);
            if (warning != NULL && warning[0] != '\0')
                fill_note(report->warnings, FILL_MAX_REPORTED_WARNINGS,
                          &report->warnings_reported, &report->warning_count, row, warning);
            t.errors[i] = 0;
            ok++;
            continue;
        }
        t.errors[i] = 1;
        fill_note(report->failures, FILL_MAX_REPORTED_FAILURES, &report->reported,
                  &report->failed_count, row, err);
    }

    /* Replace each failed sample by the next good one, wrapping around. */
    if (ok > 0 && ok < count) {
        for (uint32_t i = 0; i < count; i++) {
            uint32_t j = i;
            if (!t.errors[i])
                continue;
            do
                j = (j + 1) % count;
            while (t.errors[j]);
            fill_copy_sample(&t, ds->output_count, j, i);
        }
    }
    mogen_free(batch_rows);
    mogen_free(labels);
    mogen_free(label_bytes);
    report->sample_count = count;
}
