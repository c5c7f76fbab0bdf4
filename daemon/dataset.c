/*
 * dataset.c: loads every stream's CSV into compact row arrays and builds the
 * label vocabularies shared by all streams.
 *
 * The load is two phases. First each stream is read row by row: the path
 * cell becomes a full path in one arena, every label cell is interned into
 * its output's vocabulary (ids in first-seen order, shared by all streams),
 * and rows with a blank label (skip_row) or a missing image (drop) are left
 * out. Then each vocabulary is sorted once and every stored id is rewritten
 * to its sorted class index. Classes come from every row of every CSV, kept
 * or not, so the class list does not change when an image goes missing.
 */
#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "csv.h"
#include "message.h"
#include "labels.h"

/* How many missing files or skipped rows a message spells out. */
#define DATASET_SHOW_FIRST 5

/* Longest message fragment listing rows ("row 4 (line 6): /a/b.jpg; ..."). */
#define DATASET_LIST_MAX 700

/* Per-stream state while its CSV is read. */
typedef struct ds_reader {
    dataset_t *ds;
    labels_t *vocab;        /* One per output; shared by every stream. */
    report_t *rep;
    const char *name;       /* The CSV as messages call it. */
    const csv_t *csv;
    int path_col;
    int **out_cols;         /* Per output, its column indices in this CSV. */
    uint32_t *scratch;      /* One row's label ids, output after output. */
    size_t scratch_cap;
    size_t scratch_len;     /* Ids in scratch so far for this row. */
    size_t *ends;           /* Per output: end of its ids in scratch. */
    size_t *ids_cap;        /* Per output: capacity of the stream's label_ids. */
    uint32_t skipped_first[DATASET_SHOW_FIRST]; /* Rows dropped for a blank label. */
} ds_reader_t;

/* Appends id to the scratch row unless this output already has it. */
static void ds_scratch_add(ds_reader_t *r, size_t start, uint32_t id)
{
    size_t end = r->scratch_len;

    for (size_t i = start; i < end; i++)
        if (r->scratch[i] == id)
            return;
    if (end == r->scratch_cap) {
        r->scratch_cap = r->scratch_cap ? r->scratch_cap * 2 : 64;
        r->scratch = mogen_reallocarray(r->scratch, r->scratch_cap, sizeof(*r->scratch));
    }
    r->scratch[end] = id;
    r->scratch_len = end + 1;
}

/*
 * Interns the labels of output o for data row `row` into the scratch row.
 * Returns 0 when the row may be kept, 1 when it must be skipped (a blank
 * multi_class cell under skip_row), -1 after reporting an error.
 */
/* Reports a label cell that is not UTF-8: class names reach
 * <output>_classes.txt and every client's WELCOME (JSON, which must be
 * UTF-8). Returns 0 when the cell is valid, else -1. */
static int ds_check_label_utf8(ds_reader_t *r, const output_config_t *oc, uint32_t row,
                               const char *column, const char *cell)
{
    if (mogen_utf8_valid(cell, strlen(cell)))
        return 0;
    report_error(r->rep, "%s:%u: row %u: column \"%s\" is not valid UTF-8 (%s \"%s\"); "
                 "save the CSV as UTF-8 (a spreadsheet's \"CSV UTF-8\", or iconv -f cp1252 "
                 "-t utf-8)", r->name, csv_row_line(r->csv, row), row, column, oc->where,
                 oc->name);
    return -1;
}

static int ds_row_labels(ds_reader_t *r, size_t o, uint32_t row, size_t *cursor)
{
    const output_config_t *oc = &r->ds->config->outputs[o];
    const csv_t *csv = r->csv;
    uint32_t line = csv_row_line(csv, row);
    size_t start = *cursor;

    /* Outputs are written one after another into the scratch row. */
    r->scratch_len = start;
    if (oc->kind == OUTPUT_MULTI_CLASS) {
        int col = r->out_cols[o][0];
        const char *cell = csv_cell(csv, row, (uint32_t)col);
        size_t len = strlen(cell);

        if (ds_check_label_utf8(r, oc, row, oc->columns[0], cell) < 0)
            return -1;
        if (labels_is_blank(cell, len)) {
            if (oc->missing == MISSING_LABEL_SKIP_ROW)
                return 1;
            report_error(r->rep, "%s:%u: row %u: column \"%s\" is blank%s (%s \"%s\"; set "
                         "\"missing\": \"skip_row\" there to drop such rows)",
                         r->name, line, row, oc->columns[0], len ? " or \"nan\"" : "",
                         oc->where, oc->name);
            return -1;
        }
        ds_scratch_add(r, start, labels_intern(&r->vocab[o], cell, len));
    } else {
        size_t seplen = oc->separator ? strlen(oc->separator) : 0;
        for (size_t c = 0; c < oc->column_count; c++) {
            const char *cell = csv_cell(csv, row, (uint32_t)r->out_cols[o][c]);
            if (ds_check_label_utf8(r, oc, row, oc->columns[c], cell) < 0)
                return -1;
            while (*cell != '\0') {
                const char *cut = seplen ? strstr(cell, oc->separator) : NULL;
                size_t len = cut ? (size_t)(cut - cell) : strlen(cell);
                if (!labels_is_blank(cell, len))
                    ds_scratch_add(r, start, labels_intern(&r->vocab[o], cell, len));
                if (cut == NULL)
                    break;
                cell = cut + seplen;
            }
        }
    }
    *cursor = r->scratch_len;
    return 0;
}

/* Returns the folder part of path (a new string; "." when it has none). */
static char *ds_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return mogen_strdup(".");
    if (slash == path)
        return mogen_strdup("/");
    return mogen_strndup(path, (size_t)(slash - path));
}

/*
 * Finds the column of every output (and the path column) in this CSV,
 * reporting each one that is absent together with the columns there are,
 * and the closest column name when one looks like a typo of it.
 * Returns 0 when all were found.
 */
static int ds_find_columns(ds_reader_t *r)
{
    const config_t *cfg = r->ds->config;
    const char **headers;
    char list[512];
    char hint[300];
    int bad = 0;

    csv_column_list(r->csv, list, sizeof(list));
    headers = mogen_calloc((size_t)r->csv->column_count + 1, sizeof(*headers));
    for (uint32_t c = 0; c < r->csv->column_count; c++)
        headers[c] = csv_header(r->csv, c);
    if (cfg->path.column != NULL) {
        r->path_col = csv_column_index(r->csv, cfg->path.column);
        if (r->path_col < 0) {
            report_error(r->rep, "path.column: column \"%s\" is not in %s%s; columns are: %s",
                         cfg->path.column, r->name,
                         config_suggest(cfg->path.column, headers, hint, sizeof(hint)), list);
            bad = 1;
        }
    } else {
        r->path_col = 0;
    }
    for (size_t o = 0; o < cfg->output_count; o++) {
        const output_config_t *oc = &cfg->outputs[o];
        for (size_t c = 0; c < oc->column_count; c++) {
            r->out_cols[o][c] = csv_column_index(r->csv, oc->columns[c]);
            if (r->out_cols[o][c] < 0) {
                report_error(r->rep, "%s: column \"%s\" is not in %s%s; columns are: %s",
                             oc->where, oc->columns[c], r->name,
                             config_suggest(oc->columns[c], headers, hint, sizeof(hint)), list);
                bad = 1;
            }
        }
    }
    mogen_free(headers);
    return bad ? -1 : 0;
}

/* Appends "row R (line L): path" entries for the first missing files. */
static void ds_missing_list(const dataset_stream_t *st, char *out, size_t outlen)
{
    size_t used = 0;

    out[0] = '\0';
    for (uint32_t i = 0; i < st->missing_count && i < DATASET_SHOW_FIRST; i++) {
        const char *why = st->missing[i].why;
        int n = snprintf(out + used, outlen - used, "%srow %u (line %u): %s%s%s%s", i ? "; " : "",
                         st->missing[i].row, st->missing[i].line, st->missing[i].path,
                         why ? " (" : "", why ? why : "", why ? ")" : "");
        if (n < 0 || (size_t)n >= outlen - used)
            return;
        used += (size_t)n;
    }
    if (st->missing_count > DATASET_SHOW_FIRST)
        snprintf(out + used, outlen - used, "; and %u more", st->missing_count - DATASET_SHOW_FIRST);
}

/* Reports the missing files and skipped rows of one stream once it is read. */
static void ds_report_stream(ds_reader_t *r, dataset_stream_t *st)
{
    const config_t *cfg = r->ds->config;
    char list[DATASET_LIST_MAX];

    if (st->missing_count > 0) {
        int fail = cfg->path.missing == MISSING_FILE_FAIL;
        ds_missing_list(st, list, sizeof(list));
        report_add(r->rep, fail ? REPORT_ERROR : REPORT_WARNING,
                   "%s: %u of %u image files are missing%s: %s%s", r->name, st->missing_count,
                   st->csv_row_count,
                   fail ? " (path.missing is \"fail\")"
                        : "; their rows are dropped (path.missing is \"drop\")",
                   list,
                   st->missing_count == st->csv_row_count
                       ? ". No file was found at all: check path.root and path.suffix"
                       : "");
    }
    if (st->skipped_label_rows > 0) {
        size_t used = 0;
        list[0] = '\0';
        for (uint32_t i = 0; i < st->skipped_label_rows && i < DATASET_SHOW_FIRST; i++) {
            uint32_t row = r->skipped_first[i];
            int n = snprintf(list + used, sizeof(list) - used, "%srow %u (line %u)", i ? ", " : "",
                             row, csv_row_line(r->csv, row));
            if (n < 0 || (size_t)n >= sizeof(list) - used)
                break;
            used += (size_t)n;
        }
        report_warning(r->rep, "%s: %u rows dropped for a blank label (\"missing\": \"skip_row\"): "
                       "%s%s", r->name, st->skipped_label_rows, list,
                       st->skipped_label_rows > DATASET_SHOW_FIRST ? ", ..." : "");
    }
}

/*
 * Builds the kept rows of one stream from its parsed CSV: full paths into
 * the arena, label ids (vocabulary ids for now) and the missing files.
 */
static void ds_read_rows(ds_reader_t *r, dataset_stream_t *st, int check_files)
{
    const config_t *cfg = r->ds->config;
    const csv_t *csv = r->csv;
    size_t nout = cfg->output_count;
    uint32_t rows = csv->row_count;
    char *root;
    size_t root_len;
    size_t suffix_len = cfg->path.suffix ? strlen(cfg->path.suffix) : 0;
    size_t arena_cap = 0;
    size_t arena_used = 0;
    uint32_t kept = 0;
    size_t missing_cap = 0;

    root = cfg->path.root ? mogen_strdup(cfg->path.root) : ds_dirname(st->config->csv);
    root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/')
        root[--root_len] = '\0';

    /* Size the arena once: one pass of strlen beats regrowing 60 MB. */
    for (uint32_t row = 0; row < rows; row++)
        arena_cap += root_len + 1 + strlen(csv_cell(csv, row, (uint32_t)r->path_col)) + suffix_len + 1;
    st->path_arena = mogen_malloc(arena_cap);
    st->csv_row = mogen_reallocarray(NULL, rows, sizeof(*st->csv_row));
    st->csv_line = mogen_reallocarray(NULL, rows, sizeof(*st->csv_line));
    st->path_offset = mogen_reallocarray(NULL, rows, sizeof(*st->path_offset));
    st->label_offset = mogen_calloc(nout, sizeof(*st->label_offset));
    st->label_ids = mogen_calloc(nout, sizeof(*st->label_ids));
    for (size_t o = 0; o < nout; o++) {
        st->label_offset[o] = mogen_reallocarray(NULL, (size_t)rows + 1, sizeof(uint32_t));
        st->label_offset[o][0] = 0;
        r->ids_cap[o] = rows;
        st->label_ids[o] = mogen_reallocarray(NULL, rows ? rows : 1, sizeof(uint32_t));
    }

    for (uint32_t row = 0; row < rows; row++) {
        uint32_t line = csv_row_line(csv, row);
        const char *cell = csv_cell(csv, row, (uint32_t)r->path_col);
        size_t cell_len = strlen(cell);
        size_t cursor = 0;
        size_t *end_at = r->ends;
        size_t path_len;
        int bad = 0;
        int skip = 0;
        char *full;

        if (!mogen_utf8_valid(cell, cell_len)) {
            report_error(r->rep, "%s:%u: row %u: the path in column \"%s\" is not valid UTF-8",
                         r->name, line, row, csv_header(csv, (uint32_t)r->path_col));
            bad = 1;
        } else if (cell_len == 0) {
            report_error(r->rep, "%s:%u: row %u: column \"%s\" holds no image path", r->name,
                         line, row, csv_header(csv, (uint32_t)r->path_col));
            bad = 1;
        }
        for (size_t o = 0; o < nout; o++) {
            int rc = ds_row_labels(r, o, row, &cursor);
            end_at[o] = cursor;
            if (rc < 0)
                bad = 1;
            else if (rc > 0)
                skip = 1;
        }
        if (bad || skip) {
            if (!bad && skip) {
                if (st->skipped_label_rows < DATASET_SHOW_FIRST)
                    r->skipped_first[st->skipped_label_rows] = row;
                st->skipped_label_rows++;
            }
            continue;
        }

        /* The full path: absolute cells stand alone, others go under root. */
        full = st->path_arena + arena_used;
        if (cell[0] == '/') {
            memcpy(full, cell, cell_len);
            path_len = cell_len;
        } else {
            memcpy(full, root, root_len);
            full[root_len] = '/';
            memcpy(full + root_len + 1, cell, cell_len);
            path_len = root_len + 1 + cell_len;
        }
        memcpy(full + path_len, cfg->path.suffix ? cfg->path.suffix : "", suffix_len);
        path_len += suffix_len;
        full[path_len] = '\0';

        if (check_files) {
            struct stat sb;
            int found = stat(full, &sb) == 0;
            int stat_errno = errno; /* before the allocations below touch it */
            if (!found || !S_ISREG(sb.st_mode)) {
                if (st->missing_count == missing_cap) {
                    missing_cap = missing_cap ? missing_cap * 2 : 16;
                    st->missing = mogen_reallocarray(st->missing, missing_cap, sizeof(*st->missing));
                }
                st->missing[st->missing_count].row = row;
                st->missing[st->missing_count].line = line;
                st->missing[st->missing_count].path = mogen_strdup(full);
                st->missing[st->missing_count].why =
                    found ? (S_ISDIR(sb.st_mode) ? "a directory, not a file" : "not a regular file")
                          : stat_errno == ENOENT ? NULL : strerror(stat_errno);
                st->missing_count++;
                continue;
            }
        }

        st->csv_row[kept] = row;
        st->csv_line[kept] = line;
        st->path_offset[kept] = arena_used;
        arena_used += path_len + 1;
        for (size_t o = 0; o < nout; o++) {
            size_t from = o ? end_at[o - 1] : 0;
            size_t n = end_at[o] - from;
            uint32_t at = st->label_offset[o][kept];
            if (at + n > r->ids_cap[o]) {
                while (at + n > r->ids_cap[o])
                    r->ids_cap[o] = r->ids_cap[o] ? r->ids_cap[o] * 2 : 64;
                st->label_ids[o] = mogen_reallocarray(st->label_ids[o], r->ids_cap[o], sizeof(uint32_t));
            }
            memcpy(st->label_ids[o] + at, r->scratch + from, n * sizeof(uint32_t));
            st->label_offset[o][kept + 1] = at + (uint32_t)n;
        }
        kept++;
    }

    st->row_count = kept;
    st->path_arena_size = arena_used;
    /* Give back what dropped rows reserved; shrinking never moves much. */
    if (kept < rows) {
        st->path_arena = mogen_realloc(st->path_arena, arena_used);
        st->csv_row = mogen_reallocarray(st->csv_row, kept, sizeof(*st->csv_row));
        st->csv_line = mogen_reallocarray(st->csv_line, kept, sizeof(*st->csv_line));
        st->path_offset = mogen_reallocarray(st->path_offset, kept, sizeof(*st->path_offset));
    }
    mogen_free(root);
}

/* Returns how messages should call stream i's CSV: its base name, unless
 * another stream's CSV has the same base name, then its full path. */
static const char *ds_csv_name(const config_t *cfg, size_t i)
{
    const char *path = cfg->streams[i].csv;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

    for (size_t j = 0; j < cfg->stream_count; j++) {
        const char *other = cfg->streams[j].csv;
        if (j == i || other == NULL)
            continue;
        const char *ob = strrchr(other, '/') ? strrchr(other, '/') + 1 : other;
        if (strcmp(ob, base) == 0 && strcmp(other, path) != 0)
            return path;
    }
    return base;
}

/* Reads one stream's CSV into ds->streams[i]. */
static void ds_load_stream(dataset_t *ds, size_t i, labels_t *vocab, int check_files, report_t *rep)
{
    const config_t *cfg = ds->config;
    dataset_stream_t *st = &ds->streams[i];
    size_t nout = cfg->output_count;
    ds_reader_t r;
    csv_t csv;

    if (cfg->streams[i].csv == NULL)
        return; /* config_load already reported it. */
    memset(&r, 0, sizeof(r));
    r.ds = ds;
    r.vocab = vocab;
    r.rep = rep;
    r.name = ds_csv_name(cfg, i);
    r.csv = &csv;

    char origin[300];
    snprintf(origin, sizeof(origin), "streams.%s.csv", cfg->streams[i].name);
    int malformed = csv_load(&csv, cfg->streams[i].csv, r.name, origin, rep) != 0;
    if (csv.column_count == 0) {
        csv_free(&csv);
        return;
    }
    st->csv_row_count = csv.row_count;
    r.out_cols = mogen_calloc(nout ? nout : 1, sizeof(*r.out_cols));
    for (size_t o = 0; o < nout; o++)
        r.out_cols[o] = mogen_calloc(cfg->outputs[o].column_count + 1, sizeof(int));
    r.ids_cap = mogen_calloc(nout ? nout : 1, sizeof(*r.ids_cap));
    r.ends = mogen_calloc(nout ? nout : 1, sizeof(*r.ends));

    /*
     * A malformed record was left out of the table, so the row numbers
     * after it would be off by one: check the columns, but leave the rows
     * until the CSV itself is fixed.
     */
    if (ds_find_columns(&r) == 0 && !malformed) {
        ds_read_rows(&r, st, check_files);
        ds_report_stream(&r, st);
    }

    for (size_t o = 0; o < nout; o++)
        mogen_free(r.out_cols[o]);
    mogen_free(r.out_cols);
    mogen_free(r.ids_cap);
    mogen_free(r.ends);
    mogen_free(r.scratch);
    csv_free(&csv);
}

/* Output o's class c and the dataset, for ds_class_where. */
typedef struct ds_class_ctx {
    const dataset_t *ds;
    size_t output;
} ds_class_ctx_t;

/* labels_where_fn: the first kept row that has class i, as "file:line". */
static void ds_class_where(void *ctx, uint32_t i, char *out, size_t outlen)
{
    const ds_class_ctx_t *c = ctx;

    out[0] = '\0';
    for (size_t s = 0; s < c->ds->stream_count; s++) {
        const dataset_stream_t *st = &c->ds->streams[s];
        if (st->label_ids == NULL)
            continue;
        for (uint32_t row = 0; row < st->row_count; row++) {
            for (uint32_t at = st->label_offset[c->output][row];
                 at < st->label_offset[c->output][row + 1]; at++) {
                if (st->label_ids[c->output][at] == i) {
                    snprintf(out, outlen, "%s:%u", ds_csv_name(c->ds->config, s),
                             st->csv_line[row]);
                    return;
                }
            }
        }
    }
}

/*
 * Sorts output o's vocabulary, rewrites every stream's ids to class
 * indices, counts class frequencies over kept rows and checks the names.
 */
static void ds_finish_output(dataset_t *ds, size_t o, const labels_t *vocab, report_t *rep)
{
    dataset_output_t *out = &ds->outputs[o];
    const output_config_t *oc = out->config;
    uint32_t *rank = labels_sort(vocab);
    uint32_t k = vocab->count;
    int streams_read = 0;

    out->class_count = k;
    out->class_names = mogen_calloc(k ? k : 1, sizeof(*out->class_names));
    out->class_frequency = mogen_calloc(k ? k : 1, sizeof(*out->class_frequency));
    for (uint32_t id = 0; id < k; id++)
        out->class_names[rank[id]] = mogen_strdup(labels_name(vocab, id));
    for (size_t s = 0; s < ds->stream_count; s++) {
        dataset_stream_t *st = &ds->streams[s];
        if (st->label_ids == NULL)
            continue;
        streams_read++;
        uint32_t n = st->label_offset[o][st->row_count];
        for (uint32_t i = 0; i < n; i++) {
            st->label_ids[o][i] = rank[st->label_ids[o][i]];
            out->class_frequency[st->label_ids[o][i]]++;
        }
    }
    mogen_free(rank);

    if (k == 0 && streams_read > 0) {
        report_error(rep, "%s \"%s\": no classes: every cell of its column%s is blank", oc->where,
                     oc->name, oc->column_count > 1 ? "s" : "");
    } else if (k == 1 && oc->kind == OUTPUT_MULTI_CLASS) {
        report_warning(rep, "%s \"%s\": column \"%s\" has one class only (\"%s\"); the output "
                       "cannot learn anything", oc->where, oc->name, oc->columns[0],
                       out->class_names[0]);
    }
    for (uint32_t c = 0; c < k; c++) {
        if (strpbrk(out->class_names[c], "\r\n") != NULL)
            report_error(rep, "%s \"%s\": class \"%s\" contains a line break, which %s_classes.txt "
                         "cannot hold", oc->where, oc->name, out->class_names[c], oc->name);
    }
    char what[300];
    snprintf(what, sizeof(what), "%s \"%s\"", oc->where, oc->name);
    ds_class_ctx_t where = {ds, o};
    labels_warn_whitespace(out->class_names, k, what, ds_class_where, &where, rep);
}

int dataset_load(dataset_t *ds, const config_t *cfg, int check_files, report_t *rep)
{
    size_t errors_before = rep->error_count;
    labels_t *vocab;

    memset(ds, 0, sizeof(*ds));
    ds->config = cfg;
    ds->output_count = cfg->output_count;
    ds->stream_count = cfg->stream_count;
    ds->outputs = mogen_calloc(cfg->output_count ? cfg->output_count : 1, sizeof(*ds->outputs));
    ds->streams = mogen_calloc(cfg->stream_count ? cfg->stream_count : 1, sizeof(*ds->streams));
    vocab = mogen_calloc(cfg->output_count ? cfg->output_count : 1, sizeof(*vocab));
    for (size_t o = 0; o < cfg->output_count; o++) {
        ds->outputs[o].config = &cfg->outputs[o];
        labels_init(&vocab[o]);
    }
    for (size_t s = 0; s < cfg->stream_count; s++) {
        ds->streams[s].config = &cfg->streams[s];
        ds_load_stream(ds, s, vocab, check_files, rep);
    }
    for (size_t o = 0; o < cfg->output_count; o++) {
        ds_finish_output(ds, o, &vocab[o], rep);
        labels_free(&vocab[o]);
    }
    mogen_free(vocab);

    for (size_t s = 0; s < ds->stream_count; s++) {
        const dataset_stream_t *st = &ds->streams[s];
        const stream_config_t *sc = st->config;
        if (st->path_arena == NULL)
            continue; /* Its CSV could not be used; that was reported. */
        if (st->row_count == 0) {
            report_error(rep, "streams.%s: no rows to serve (%s has %u data rows, none kept)",
                         sc->name, ds_csv_name(cfg, s), st->csv_row_count);
        } else if (dataset_steps_per_epoch(st) == 0) {
            report_error(rep, "streams.%s: batch_size %u with drop_last gives no batch from %u rows",
                         sc->name, sc->batch_size, st->row_count);
        }
    }
    return rep->error_count > errors_before ? -EINVAL : 0;
}

void dataset_free(dataset_t *ds)
{
    for (size_t o = 0; o < ds->output_count && ds->outputs != NULL; o++) {
        dataset_output_t *out = &ds->outputs[o];
        for (uint32_t c = 0; c < out->class_count && out->class_names != NULL; c++)
            mogen_free(out->class_names[c]);
        mogen_free(out->class_names);
        mogen_free(out->class_frequency);
    }
    mogen_free(ds->outputs);
    for (size_t s = 0; s < ds->stream_count && ds->streams != NULL; s++) {
        dataset_stream_t *st = &ds->streams[s];
        mogen_free(st->csv_row);
        mogen_free(st->csv_line);
        mogen_free(st->path_offset);
        mogen_free(st->path_arena);
        for (size_t o = 0; o < ds->output_count; o++) {
            if (st->label_offset != NULL)
                mogen_free(st->label_offset[o]);
            if (st->label_ids != NULL)
                mogen_free(st->label_ids[o]);
        }
        mogen_free(st->label_offset);
        mogen_free(st->label_ids);
        for (uint32_t i = 0; i < st->missing_count; i++)
            mogen_free(st->missing[i].path);
        mogen_free(st->missing);
    }
    mogen_free(ds->streams);
    memset(ds, 0, sizeof(*ds));
}

int dataset_stream_index(const dataset_t *ds, const char *name)
{
    for (size_t s = 0; s < ds->stream_count; s++)
        if (strcmp(ds->streams[s].config->name, name) == 0)
            return (int)s;
    return -1;
}

uint64_t dataset_steps_per_epoch(const dataset_stream_t *s)
{
    uint64_t b = s->config->batch_size ? s->config->batch_size : 1;

    if (s->config->drop_last)
        return s->row_count / b;
    return (s->row_count + b - 1) / b;
}

size_t dataset_label_bytes(const dataset_t *ds, size_t output)
{
    const dataset_output_t *out = &ds->outputs[output];

    if (out->config->encoding == ENCODING_INDEX)
        return sizeof(int32_t);
    return sizeof(float) * out->class_count;
}

void dataset_encode_label(const dataset_t *ds, const dataset_stream_t *s, size_t output,
                          uint32_t row, void *dst)
{
    const dataset_output_t *out = &ds->outputs[output];
    uint32_t from = s->label_offset[output][row];
    uint32_t to = s->label_offset[output][row + 1];

    if (out->config->encoding == ENCODING_INDEX) {
        /* multi_class rows hold exactly one id; memcpy keeps dst unaligned-safe. */
        int32_t index = from < to ? (int32_t)s->label_ids[output][from] : -1;
        memcpy(dst, &index, sizeof(index));
        return;
    }
    float *v = dst;
    for (uint32_t c = 0; c < out->class_count; c++)
        v[c] = 0.0f;
    for (uint32_t i = from; i < to; i++)
        v[s->label_ids[output][i]] = 1.0f;
}

/* Writes one classes file through a temporary name, so readers never see half. */
static int ds_write_one(const dataset_output_t *out, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    char tmp[4200];
    FILE *f;
    int e;

    if (snprintf(path, sizeof(path), "%s/%s_classes.txt", dir, out->config->name) >= (int)sizeof(path)) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -ENAMETOOLONG;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (f == NULL) {
        e = errno;
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        return -e;
    }
    for (uint32_t c = 0; c < out->class_count; c++)
        fprintf(f, "%s\n", out->class_names[c]);
    if (ferror(f) | (fclose(f) != 0)) {
        e = errno ? errno : EIO;
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        return -e;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(e));
        return -e;
    }
    return 0;
}

int dataset_write_classes(const dataset_t *ds, const char *classes_dir, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (classes_dir == NULL) {
        snprintf(err, errlen, "no classes_dir given");
        return -EINVAL;
    }
    /* Create the folder itself (not its parents) so a fresh setup just works. */
    if (mkdir(classes_dir, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "cannot create %s: %s", classes_dir, strerror(e));
        return -e;
    }
    for (size_t o = 0; o < ds->output_count; o++) {
        int rc = ds_write_one(&ds->outputs[o], classes_dir, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}
