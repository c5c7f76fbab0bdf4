/*
 * dataset.h: everything the daemon knows about the rows before it decodes a
 * pixel: per stream the kept rows (image path, CSV row number, label ids),
 * per output the class vocabulary shared by every stream.
 *
 * dataset_load() reads every stream's CSV named by the config, builds the
 * vocabularies over the union of all streams (train + validation, sorted),
 * checks that every image file exists, and reports every problem it finds.
 * The result is compact, read-only arrays: workers are forked after the load
 * and read them copy-on-write, never writing.
 */
#ifndef MOGEN_DATASET_H
#define MOGEN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "report.h"

/* The class vocabulary of one output. */
typedef struct dataset_output {
    const output_config_t *config; /* Points into the config; not owned. */
    uint32_t class_count;          /* K. */
    char **class_names;            /* K names in index (sorted) order. */
    uint64_t *class_frequency;     /* K counts over all streams' kept rows. */
} dataset_output_t;

/* A missing image file found at load. */
typedef struct dataset_missing {
    uint32_t row;  /* 0-based data row of the CSV (header excluded). */
    uint32_t line; /* 1-based physical line of the CSV where the row starts. */
    char *path;    /* The full path that was looked for. */
    const char *why; /* NULL when nothing is there; else what is wrong with
                      * what is there ("a directory, not a file", a static
                      * strerror text such as for a symbolic link loop). */
} dataset_missing_t;

/* The kept rows of one stream. */
typedef struct dataset_stream {
    const stream_config_t *config; /* Points into the config; not owned. */
    uint32_t row_count;            /* Kept rows. */
    uint32_t csv_row_count;        /* Data rows in the CSV, kept or not. */
    uint32_t *csv_row;             /* row_count: 0-based data row in the CSV. */
    uint32_t *csv_line;            /* row_count: 1-based physical line. */
    uint64_t *path_offset;         /* row_count: offset of the full path in path_arena. */
    char *path_arena;              /* All full paths, NUL-terminated, back to back. */
    size_t path_arena_size;
    /*
     * Labels of output o for kept row r are
     * label_ids[o][label_offset[o][r] .. label_offset[o][r + 1]).
     * multi_class rows have exactly one id; multi_label rows any number.
     */
    uint32_t **label_offset;       /* output_count arrays of row_count + 1. */
    uint32_t **label_ids;          /* output_count arrays of class indices. */
    dataset_missing_t *missing;    /* Missing image files (all of them). */
    uint32_t missing_count;
    uint32_t skipped_label_rows;   /* Rows dropped by missing: "skip_row". */
} dataset_stream_t;

typedef struct dataset {
    const config_t *config;      /* Not owned; must outlive the dataset. */
    dataset_output_t *outputs;   /* config->output_count entries. */
    size_t output_count;
    dataset_stream_t *streams;   /* config->stream_count entries, same order. */
    size_t stream_count;
} dataset_t;

/*
 * Loads every stream of cfg into ds. Every problem goes to rep (errors name
 * file, line and column); returns 0 when the daemon could start, -EINVAL when
 * rep holds errors. check_files = 0 skips the stat of every image (tests).
 * ds must be freed with dataset_free() in every case.
 */
int dataset_load(dataset_t *ds, const config_t *cfg, int check_files, report_t *rep);
void dataset_free(dataset_t *ds);

/* Returns the index of the stream named name, or -1. */
int dataset_stream_index(const dataset_t *ds, const char *name);

static inline const char *dataset_row_path(const dataset_stream_t *s, uint32_t row)
{
    return s->path_arena + s->path_offset[row];
}

/*
 * Batches per epoch of stream s: ceil(rows / batch_size), or floor with
 * drop_last.
 */
uint64_t dataset_steps_per_epoch(const dataset_stream_t *s);

/* Bytes one sample's label takes in output o's tensor (4*K or 4). */
size_t dataset_label_bytes(const dataset_t *ds, size_t output);

/*
 * Writes the label of kept row `row` of stream s for output o into dst:
 * float32 one-hot / multi-hot of K values, or one int32 class index.
 */
void dataset_encode_label(const dataset_t *ds, const dataset_stream_t *s, size_t output,
                          uint32_t row, void *dst);

/*
 * Writes <classes_dir>/<output>_classes.txt for every output: one class per
 * line in index order. Returns 0 or -errno, with a message in err.
 */
int dataset_write_classes(const dataset_t *ds, const char *classes_dir, char *err, size_t errlen);

#endif
