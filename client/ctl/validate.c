/*
 * validate.c: `mogenctl validate CONFIG`, everything mogend checks at load
 * (config, CSVs, labels, image files) without starting it.
 *
 * It runs the daemon's own loaders (config_load, dataset_load), so what it
 * says is exactly what mogend would decide, and prints a summary for people
 * or, with --json, the same facts as one JSON object for scripts.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "augment.h"
#include "config.h"
#include "ctl.h"
#include "dataset.h"
#include "internal.h" /* server_check_socket_dir */
#include "pipeline.h"
#include "report.h"

/* How many classes "most/least frequent" name, and missing files the text shows. */
#define VALIDATE_TOP 3
#define VALIDATE_SHOW_MISSING 10

typedef struct validate_opts {
    const char *config_path;
    int json;
    int write_classes;
    const char *classes_dir; /* --classes-dir, overriding the config's. */
    int check_files;
    int decode;              /* --decode: run every image through the pipeline. */
    uint64_t decoded;        /* Results of --decode. */
    uint64_t decode_failed;
    uint64_t decode_warned;
    double decode_seconds;
} validate_opts_t;

static void validate_usage(FILE *out)
{
    fprintf(out,
            "usage: mogenctl validate CONFIG [--json] [--write-classes] [--classes-dir DIR]\n"
            "                         [--no-check-files] [--decode]\n"
            "\n"
            "Loads CONFIG the way mogend does, without starting it: parses the JSON,\n"
            "reads every stream's CSV, builds the label vocabularies shared by all\n"
            "streams and checks that every image file exists. Prints per stream the\n"
            "rows kept, the missing images (with their CSV row and line numbers) and\n"
            "the steps per epoch; per output the class count and the most and least\n"
            "frequent classes; then every problem found, not just the first.\n"
            "\n"
            "options:\n"
            "  --json             print the same facts as one JSON object on stdout\n"
            "  --write-classes    also write <output>_classes.txt (one class per line,\n"
            "                     in index order) into the config's classes_dir, as\n"
            "                     mogend does at start; only when the load is clean\n"
            "  --classes-dir DIR  write the classes files into DIR instead (implies\n"
            "                     --write-classes)\n"
            "  --no-check-files   skip the stat of every image (faster on huge CSVs)\n"
            "  --decode           also decode every image with mogend's own pipeline and\n"
            "                     report each one that fails (corrupt, truncated, not\n"
            "                     JPEG/PNG, over a limit) or decodes only with a\n"
            "                     warning; one core, several hundred photos a second.\n"
            "                     These are warnings: mogend would start, replacing\n"
            "                     such samples in their batches\n"
            "  -h, --help         show this text\n"
            "\n"
            "Rows are numbered from 0 (the first data row after the header); lines are\n"
            "the physical lines of the CSV file, from 1.\n"
            "\n"
            "exit status: 0 mogend would start with this config (and --write-classes\n"
            "wrote the files), 1 it would not (the problems are listed) or the classes\n"
            "files could not be written, 2 usage error.\n");
}

/* Parses the arguments; returns -1 after printing help, 0, or CTL_EXIT_USAGE. */
static int validate_args(int argc, char **argv, validate_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->check_files = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            validate_usage(stdout);
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--write-classes") == 0) {
            o->write_classes = 1;
        } else if (strcmp(a, "--classes-dir") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mogenctl validate: --classes-dir needs a folder\n");
                return CTL_EXIT_USAGE;
            }
            o->classes_dir = argv[++i];
            o->write_classes = 1;
        } else if (strcmp(a, "--no-check-files") == 0) {
            o->check_files = 0;
        } else if (strcmp(a, "--decode") == 0) {
            o->decode = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "mogenctl validate: unknown option %s (see --help)\n", a);
            return CTL_EXIT_USAGE;
        } else if (o->config_path == NULL) {
            o->config_path = a;
        } else {
            fprintf(stderr, "mogenctl validate: one CONFIG only (got %s and %s)\n",
                    o->config_path, a);
            return CTL_EXIT_USAGE;
        }
    }
    if (o->config_path == NULL) {
        fprintf(stderr, "mogenctl validate: missing CONFIG\n\n");
        validate_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    return 0;
}

/*
 * --decode: runs every kept row's image through the same pipeline the
 * workers use (no augmentation) and adds a warning per file that fails or
 * decodes only with a decoder warning, naming the stream's CSV, row, line
 * and path. Counts go to o for the summary.
 */
static void validate_decode_all(validate_opts_t *o, const config_t *cfg, const dataset_t *ds,
                                report_t *rep)
{
    pipeline_t *pipeline = NULL;
    augment_params_t identity;
    struct timespec t0, t1;
    void *sample;
    char err[512];
    int rc;

    rc = pipeline_create(&pipeline, &cfg->image);
    if (rc < 0) {
        report_error(rep, "decode: cannot set up the image pipeline: %s", strerror(-rc));
        return;
    }
    sample = mogen_malloc(pipeline_sample_bytes(&cfg->image));
    augment_identity(&identity);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t s = 0; s < ds->stream_count; s++) {
        const dataset_stream_t *st = &ds->streams[s];
        for (uint32_t r = 0; r < st->row_count; r++) {
            const char *path = dataset_row_path(st, r);
            const char *warning;
            o->decoded++;
            if (pipeline_run_file(pipeline, path, &identity, sample, err, sizeof(err)) < 0) {
                o->decode_failed++;
                report_warning(rep, "%s: row %u (line %u): %s: %s", st->config->csv,
                               st->csv_row[r], st->csv_line[r], path, err);
                continue;
            }
            warning = pipeline_last_warning(pipeline);
            if (warning != NULL && warning[0] != '\0') {
                o->decode_warned++;
                report_warning(rep, "%s: row %u (line %u): %s: decodes, with a warning: %s",
                               st->config->csv, st->csv_row[r], st->csv_line[r], path,
                               warning);
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    o->decode_seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    mogen_free(sample);
    pipeline_free(pipeline);
}

/* The output whose classes validate_freq_cmp() compares (qsort has no context). */
static const dataset_output_t *validate_sort_out;

static int validate_freq_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    uint64_t fx = validate_sort_out->class_frequency[x];
    uint64_t fy = validate_sort_out->class_frequency[y];

    if (fx != fy)
        return fx > fy ? -1 : 1;
    return x < y ? -1 : (x > y);
}

/*
 * Returns a new array (mogen_free) of out's class indices from most to
 * least frequent, ties by class index so that the output is stable.
 */
static uint32_t *validate_by_frequency(const dataset_output_t *out)
{
    uint32_t *order = mogen_reallocarray(NULL, out->class_count ? out->class_count : 1,
                                         sizeof(*order));
    for (uint32_t c = 0; c < out->class_count; c++)
        order[c] = c;
    validate_sort_out = out;
    qsort(order, out->class_count, sizeof(*order), validate_freq_cmp);
    return order;
}

/* Describes an output's columns: column "label", or columns "a", "b". */
static void validate_columns(const output_config_t *oc, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "column%s ", oc->column_count > 1 ? "s" : "");
    for (size_t c = 0; c < oc->column_count && used < len; c++)
        used += (size_t)snprintf(buf + used, len - used, "%s\"%s\"", c ? ", " : "", oc->columns[c]);
}

static void validate_print_text(const validate_opts_t *o, const config_t *cfg, const dataset_t *ds,
                                int loaded, const report_t *rep, const char *classes_msg,
                                int starts, int ok)
{
    char cols[512];

    printf("mogenctl validate: %s\n", cfg->source_path ? cfg->source_path : o->config_path);
    for (size_t s = 0; loaded && s < ds->stream_count; s++) {
        const dataset_stream_t *st = &ds->streams[s];
        const stream_config_t *sc = st->config;
        uint64_t steps = dataset_steps_per_epoch(st);
        uint32_t rest = sc->batch_size ? st->row_count % sc->batch_size : 0;

        printf("\nstream \"%s\": %s\n", sc->name, sc->csv);
        if (st->row_count == 0 && st->csv_row_count > 0 && rep->error_count > 0) {
            /* Zeros here would read as facts about the data; they are not. */
            printf("  rows:            %u in the CSV, not loaded: the errors below stopped it\n",
                   st->csv_row_count);
            continue;
        }
        printf("  rows:            %u kept of %u in the CSV\n", st->row_count, st->csv_row_count);
        if (o->check_files) {
            printf("  missing images:  %u%s\n", st->missing_count,
                   st->missing_count == 0 ? ""
                   : cfg->path.missing == MISSING_FILE_DROP ? " (rows dropped)"
                                                            : " (path.missing is \"fail\")");
            for (uint32_t i = 0; i < st->missing_count && i < VALIDATE_SHOW_MISSING; i++)
                printf("                   row %u (line %u): %s%s%s%s\n", st->missing[i].row,
                       st->missing[i].line, st->missing[i].path, st->missing[i].why ? " (" : "",
                       st->missing[i].why ? st->missing[i].why : "",
                       st->missing[i].why ? ")" : "");
            if (st->missing_count > VALIDATE_SHOW_MISSING)
                printf("                   ... and %u more (--json lists them all)\n",
                       st->missing_count - VALIDATE_SHOW_MISSING);
        } else {
            printf("  missing images:  not checked (--no-check-files)\n");
        }
        if (st->skipped_label_rows)
            printf("  blank labels:    %u rows dropped (\"missing\": \"skip_row\")\n",
                   st->skipped_label_rows);
        if (rest == 0)
            printf("  steps per epoch: %llu (batch_size %u)\n", (unsigned long long)steps,
                   sc->batch_size);
        else if (sc->drop_last)
            printf("  steps per epoch: %llu (batch_size %u; drop_last leaves out %u row%s)\n",
                   (unsigned long long)steps, sc->batch_size, rest, rest == 1 ? "" : "s");
        else
            printf("  steps per epoch: %llu (batch_size %u; the last batch has %u row%s)\n",
                   (unsigned long long)steps, sc->batch_size, rest, rest == 1 ? "" : "s");
        printf("  shuffle %s, augment %s\n", sc->shuffle ? "on" : "off", sc->augment ? "on" : "off");
    }
    for (size_t i = 0; loaded && i < ds->output_count; i++) {
        const dataset_output_t *out = &ds->outputs[i];
        const output_config_t *oc = out->config;
        uint32_t *order = validate_by_frequency(out);
        uint32_t k = out->class_count;

        validate_columns(oc, cols, sizeof(cols));
        printf("\noutput \"%s\": %s from %s, ", oc->name, config_output_kind_name(oc->kind), cols);
        if (oc->encoding == ENCODING_INDEX)
            printf("int32 index [B]\n");
        else if (k == 0 && rep->error_count > 0)
            printf("float32 %s\n", oc->kind == OUTPUT_MULTI_CLASS ? "one-hot" : "multi-hot");
        else
            printf("float32 %s [B, %u]\n", oc->kind == OUTPUT_MULTI_CLASS ? "one-hot" : "multi-hot", k);
        if (k == 0 && rep->error_count > 0) {
            printf("  classes:         not built: the errors below stopped the load\n");
            mogen_free(order);
            continue;
        }
        printf("  classes:         %u\n", k);
        if (k > 0) {
            printf("  most frequent:  ");
            for (uint32_t j = 0; j < k && j < VALIDATE_TOP; j++)
                printf("%s \"%s\" (%llu)", j ? "," : "", out->class_names[order[j]],
                       (unsigned long long)out->class_frequency[order[j]]);
            printf("\n  least frequent: ");
            for (uint32_t j = 0; j < k && j < VALIDATE_TOP; j++)
                printf("%s \"%s\" (%llu)", j ? "," : "", out->class_names[order[k - 1 - j]],
                       (unsigned long long)out->class_frequency[order[k - 1 - j]]);
            printf("\n");
        }
        mogen_free(order);
    }

    if (o->decode && loaded)
        printf("\ndecode: %llu image%s decoded in %.1f s: %llu failed, %llu with a decoder "
               "warning\n", (unsigned long long)o->decoded, o->decoded == 1 ? "" : "s",
               o->decode_seconds, (unsigned long long)o->decode_failed,
               (unsigned long long)o->decode_warned);
    printf("\nproblems: %zu error%s, %zu warning%s\n", rep->error_count,
           rep->error_count == 1 ? "" : "s", rep->warning_count, rep->warning_count == 1 ? "" : "s");
    for (size_t i = 0; i < rep->count; i++)
        printf("  %s: %s\n", report_severity_name(rep->entries[i].severity), rep->entries[i].message);
    if (rep->dropped)
        printf("  ... and %zu more not shown\n", rep->dropped);
    if (classes_msg[0] != '\0')
        printf("\n%s\n", classes_msg);
    if (ok)
        printf("\nOK: mogend would start with this config.\n");
    else if (starts)
        printf("\nFAILED: mogend would start with this config, but the classes files were not "
               "written.\n");
    else
        printf("\nFAILED: mogend would not start with this config.\n");
}

/* Adds [{"name": ..., "count": ...}] for n classes of order, from the front or the back. */
static void validate_json_top(cJSON *obj, const char *key, const dataset_output_t *out,
                              const uint32_t *order, int from_back)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, key);
    uint32_t k = out->class_count;

    for (uint32_t j = 0; j < k && j < VALIDATE_TOP; j++) {
        uint32_t c = order[from_back ? k - 1 - j : j];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", out->class_names[c]);
        cJSON_AddNumberToObject(e, "count", (double)out->class_frequency[c]);
        cJSON_AddItemToArray(arr, e);
    }
}

static void validate_print_json(const validate_opts_t *o, const config_t *cfg, const dataset_t *ds,
                                int loaded, const report_t *rep, const char *classes_dir,
                                int classes_written, const char *classes_msg, int starts, int ok)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *streams = cJSON_AddArrayToObject(root, "streams");
    cJSON *outputs = cJSON_AddArrayToObject(root, "outputs");
    cJSON *errors;
    cJSON *warnings;
    char *text;

    cJSON_AddStringToObject(root, "config", cfg->source_path ? cfg->source_path : o->config_path);
    cJSON_AddBoolToObject(root, "ok", ok);
    cJSON_AddBoolToObject(root, "would_start", starts);
    cJSON_AddBoolToObject(root, "files_checked", o->check_files);
    if (o->decode) {
        cJSON *dec = cJSON_AddObjectToObject(root, "decode");
        cJSON_AddNumberToObject(dec, "images", (double)o->decoded);
        cJSON_AddNumberToObject(dec, "failed", (double)o->decode_failed);
        cJSON_AddNumberToObject(dec, "warned", (double)o->decode_warned);
        cJSON_AddNumberToObject(dec, "seconds", o->decode_seconds);
    }
    for (size_t s = 0; loaded && s < ds->stream_count; s++) {
        const dataset_stream_t *st = &ds->streams[s];
        const stream_config_t *sc = st->config;
        cJSON *j = cJSON_CreateObject();
        cJSON *missing;

        cJSON_AddStringToObject(j, "name", sc->name);
        cJSON_AddStringToObject(j, "csv", sc->csv);
        cJSON_AddNumberToObject(j, "csv_rows", st->csv_row_count);
        cJSON_AddNumberToObject(j, "rows", st->row_count);
        cJSON_AddNumberToObject(j, "missing_count", st->missing_count);
        missing = cJSON_AddArrayToObject(j, "missing");
        for (uint32_t i = 0; i < st->missing_count; i++) {
            cJSON *m = cJSON_CreateObject();
            cJSON_AddNumberToObject(m, "row", st->missing[i].row);
            cJSON_AddNumberToObject(m, "line", st->missing[i].line);
            cJSON_AddStringToObject(m, "path", st->missing[i].path);
            if (st->missing[i].why != NULL)
                cJSON_AddStringToObject(m, "reason", st->missing[i].why);
            cJSON_AddItemToArray(missing, m);
        }
        cJSON_AddNumberToObject(j, "skipped_label_rows", st->skipped_label_rows);
        cJSON_AddNumberToObject(j, "batch_size", sc->batch_size);
        cJSON_AddBoolToObject(j, "drop_last", sc->drop_last);
        cJSON_AddBoolToObject(j, "shuffle", sc->shuffle);
        cJSON_AddBoolToObject(j, "augment", sc->augment);
        cJSON_AddNumberToObject(j, "steps_per_epoch", (double)dataset_steps_per_epoch(st));
        cJSON_AddItemToArray(streams, j);
    }
    for (size_t i = 0; loaded && i < ds->output_count; i++) {
        const dataset_output_t *out = &ds->outputs[i];
        const output_config_t *oc = out->config;
        uint32_t *order = validate_by_frequency(out);
        cJSON *j = cJSON_CreateObject();
        cJSON *cols = cJSON_AddArrayToObject(j, "columns");
        cJSON *names = cJSON_AddArrayToObject(j, "classes");
        cJSON *freq = cJSON_AddArrayToObject(j, "class_frequency");

        cJSON_AddStringToObject(j, "name", oc->name);
        cJSON_AddStringToObject(j, "kind", config_output_kind_name(oc->kind));
        cJSON_AddStringToObject(j, "encoding", config_encoding_name(oc->encoding));
        for (size_t c = 0; c < oc->column_count; c++)
            cJSON_AddItemToArray(cols, cJSON_CreateString(oc->columns[c]));
        cJSON_AddNumberToObject(j, "class_count", out->class_count);
        for (uint32_t c = 0; c < out->class_count; c++) {
            cJSON_AddItemToArray(names, cJSON_CreateString(out->class_names[c]));
            cJSON_AddItemToArray(freq, cJSON_CreateNumber((double)out->class_frequency[c]));
        }
        validate_json_top(j, "most_frequent", out, order, 0);
        validate_json_top(j, "least_frequent", out, order, 1);
        mogen_free(order);
        cJSON_AddItemToArray(outputs, j);
    }
    errors = cJSON_AddArrayToObject(root, "errors");
    warnings = cJSON_AddArrayToObject(root, "warnings");
    for (size_t i = 0; i < rep->count; i++)
        cJSON_AddItemToArray(rep->entries[i].severity == REPORT_ERROR ? errors : warnings,
                             cJSON_CreateString(rep->entries[i].message));
    cJSON_AddNumberToObject(root, "error_count", (double)rep->error_count);
    cJSON_AddNumberToObject(root, "warning_count", (double)rep->warning_count);
    cJSON_AddNumberToObject(root, "messages_not_shown", (double)rep->dropped);
    if (classes_dir != NULL)
        cJSON_AddStringToObject(root, "classes_dir", classes_dir);
    else
        cJSON_AddNullToObject(root, "classes_dir");
    cJSON_AddBoolToObject(root, "classes_written", classes_written);
    if (classes_msg[0] != '\0')
        cJSON_AddStringToObject(root, "classes_message", classes_msg);

    text = cJSON_Print(root);
    if (text != NULL) {
        printf("%s\n", text);
        cJSON_free(text);
    }
    cJSON_Delete(root);
}

int ctl_validate(int argc, char **argv)
{
    validate_opts_t o;
    config_t cfg;
    dataset_t ds;
    report_t rep;
    int loaded = 0;
    int ok;
    int classes_written = 0;
    int starts;
    const char *classes_dir = NULL;
    char classes_msg[1200] = "";
    int rc = validate_args(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? CTL_EXIT_OK : rc;

    report_init(&rep);
    memset(&ds, 0, sizeof(ds));
    rc = config_load(&cfg, o.config_path, &rep);
    /* The dataset is read only from a clean config: a broken one would
     * turn into a cascade of follow-on messages. */
    if (rc == 0) {
        char err[512];
        /* A missing directory is a warning: systemd creates /run/mogen only
         * as the service starts. Anything else stops mogend. */
        int sock_rc = server_check_socket_path(cfg.socket_path, err, sizeof(err));
        if (sock_rc == -ENOENT)
            report_warning(&rep, "socket: %s", err);
        else if (sock_rc < 0)
            report_error(&rep, "socket: %s", err);
        if (server_check_socket_group(cfg.socket_group, err, sizeof(err)) < 0)
            report_error(&rep, "%s", err);
        rc = dataset_load(&ds, &cfg, o.check_files, &rep);
        loaded = 1;
    }
    ok = rc == 0 && report_error_count(&rep) == 0;
    if (o.decode && ok)
        validate_decode_all(&o, &cfg, &ds, &rep);
    ok = ok && report_error_count(&rep) == 0;
    starts = ok;

    classes_dir = o.classes_dir ? o.classes_dir : cfg.classes_dir;
    if (o.write_classes) {
        char err[1024];
        if (!ok) {
            snprintf(classes_msg, sizeof(classes_msg),
                     "classes: not written, since the load found errors");
        } else if (classes_dir == NULL) {
            snprintf(classes_msg, sizeof(classes_msg),
                     "classes: not written: the config has no classes_dir (use --classes-dir DIR)");
            ok = 0;
        } else if (dataset_write_classes(&ds, classes_dir, err, sizeof(err)) != 0) {
            snprintf(classes_msg, sizeof(classes_msg), "classes: %s", err);
            ok = 0;
        } else {
            classes_written = 1;
            snprintf(classes_msg, sizeof(classes_msg), "classes: wrote %zu file%s "
                     "(<output>_classes.txt) into %s", ds.output_count,
                     ds.output_count == 1 ? "" : "s", classes_dir);
        }
    }

    if (o.json)
        validate_print_json(&o, &cfg, &ds, loaded, &rep, classes_dir, classes_written, classes_msg,
                            starts, ok);
    else
        validate_print_text(&o, &cfg, &ds, loaded, &rep, classes_msg, starts, ok);

    if (loaded)
        dataset_free(&ds);
    config_free(&cfg);
    report_free(&rep);
    return ok ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
