/*
 * csv.c: RFC 4180 parsing in place, into one offset per cell.
 */
#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

/*
 * A record may not hold more fields than this. It bounds the work a
 * malformed file (say, one huge line of commas) can make us do per record,
 * and no real label CSV comes close.
 */
#define CSV_MAX_COLUMNS 65536

void csv_init(csv_t *csv)
{
    memset(csv, 0, sizeof(*csv));
}

void csv_free(csv_t *csv)
{
    mogen_free(csv->buf);
    mogen_free(csv->field);
    mogen_free(csv->line);
    csv_init(csv);
}

/* Growable arrays used while parsing; moved into the csv_t at the end. */
typedef struct csv_builder {
    uint64_t *field;
    size_t field_count;
    size_t field_cap;
    uint32_t *line;
    size_t line_count;
    size_t line_cap;
} csv_builder_t;

/* Makes room for at least want fields in total. */
static void csv_reserve_fields(csv_builder_t *b, size_t want)
{
    if (want <= b->field_cap)
        return;
    size_t cap = b->field_cap ? b->field_cap : 16;
    while (cap < want)
        cap *= 2;
    b->field = mogen_reallocarray(b->field, cap, sizeof(*b->field));
    b->field_cap = cap;
}

/* Makes room for at least want records in total. */
static void csv_reserve_lines(csv_builder_t *b, size_t want)
{
    if (want <= b->line_cap)
        return;
    size_t cap = b->line_cap ? b->line_cap : 16;
    while (cap < want)
        cap *= 2;
    b->line = mogen_reallocarray(b->line, cap, sizeof(*b->line));
    b->line_cap = cap;
}

/* Counts the line feeds in [p, end): an upper bound on the record count. */
static size_t csv_count_newlines(const char *p, const char *end)
{
    size_t n = 0;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* True when p starts a line end: LF, or CR followed by LF. */
static inline int csv_at_eol(const char *p, const char *end)
{
    return *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n');
}

/*
 * Reports every header name that appears twice, naming both columns
 * (1-based, as a spreadsheet user counts). Returns the number found.
 */
static int csv_check_header(const csv_t *csv, const char *name, report_t *rep)
{
    int dups = 0;
    for (uint32_t i = 0; i < csv->column_count; i++) {
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(csv_header(csv, i), csv_header(csv, j)) == 0) {
                report_error(rep, "%s:%u: duplicate column name \"%s\" (columns %u and %u)",
                             name, csv->line[0], csv_header(csv, i), j + 1, i + 1);
                dups++;
                break;
            }
        }
    }
    return dups;
}

/*
 * The parser proper. It walks the bytes once with a read pointer p and a
 * write pointer w that never passes p (every byte written consumes at least
 * one byte read, and the field terminator replaces the delimiter), so fields
 * are unescaped and NUL-terminated inside buf itself. Records that are
 * malformed are reported and left out; an unterminated quote ends the parse
 * since everything after it belongs to that field. Returns the number of
 * errors reported.
 */
static int csv_scan(csv_t *csv, csv_builder_t *b, const char *name, report_t *rep)
{
    char *buf = csv->buf;
    char *p = buf;
    char *end = buf + csv->size;
    char *w;
    uint32_t line = 1;
    int errors = 0;
    int have_header = 0;
    uint32_t seen = 0;     /* Records begun so far, malformed ones included. */

    if (csv->size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    w = p;

    while (p < end) {
        uint32_t record_line;
        uint32_t fields = 0;
        size_t first_field = b->field_count;
        int bad = 0;

        /* Blank lines separate nothing; skip them wherever they are. */
        if (*p == '\n') {
            p++;
            line++;
            continue;
        }
        if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            p += 2;
            line++;
            continue;
        }
        record_line = line;
        seen++;

        for (;;) {
            size_t start = (size_t)(w - buf);
            char delim;

            if (p < end && *p == '"') {
                uint32_t open_line = line;
                p++;
                for (;;) {
                    if (p >= end) {
                        report_error(rep, "%s:%u: unterminated quoted field: the quote opened "
                                     "on line %u (field %u) never closes",
                                     name, open_line, open_line, fields + 1);
                        return errors + 1;
                    }
                    if (*p == '"') {
                        if (p + 1 < end && p[1] == '"') {
                            *w++ = '"';
                            p += 2;
                            continue;
                        }
                        p++;
                        break;
                    }
                    if (*p == '\n')
                        line++;
                    *w++ = *p++;
                }
                if (p < end && *p != ',' && !csv_at_eol(p, end)) {
                    if (!bad)
                        report_error(rep, "%s:%u: field %u: text after the closing quote "
                                     "(a quote inside a quoted field must be doubled)",
                                     name, line, fields + 1);
                    bad = 1;
                    while (p < end && *p != '\n')
                        p++;
                    if (p > buf && p < end && p[-1] == '\r')
                        p--;
                }
            } else {
                while (p < end && *p != ',' && !csv_at_eol(p, end))
                    *w++ = *p++;
            }

            /* Read the delimiter before the terminator may overwrite it. */
            delim = p < end ? *p : '\0';
            *w++ = '\0';
            if (fields < CSV_MAX_COLUMNS) {
                csv_reserve_fields(b, b->field_count + 1);
                b->field[b->field_count++] = start;
            }
            fields++;
            if (delim == ',') {
                p++;
                continue;
            }
            if (delim == '\r') {
                p += 2;
                line++;
            } else if (delim == '\n') {
                p++;
                line++;
            }
            break;
        }

        if (!have_header) {
            if (bad) {
                /* Without a sound header no record can be checked. */
                b->field_count = first_field;
                return errors + 1;
            }
            if (fields > CSV_MAX_COLUMNS) {
                report_error(rep, "%s:%u: the header has %u fields; at most %u are allowed",
                             name, record_line, fields, CSV_MAX_COLUMNS);
                return errors + 1;
            }
            have_header = 1;
            csv->column_count = fields;
            /* Size both arrays once for the whole file: no doubling later. */
            size_t records = csv_count_newlines(p, end) + 2;
            csv_reserve_fields(b, records * fields);
            csv_reserve_lines(b, records);
        } else if (!bad && fields != csv->column_count) {
            /* The header is record 1, so data row r is record r + 2. */
            report_error(rep, "%s:%u: row %u: expected %u fields as in the header, found %u",
                         name, record_line, seen - 2, csv->column_count, fields);
            bad = 1;
        }
        if (bad) {
            errors++;
            b->field_count = first_field;
            continue;
        }
        if (b->line_count >= UINT32_MAX - 1) {
            report_error(rep, "%s:%u: more than %u rows", name, record_line, UINT32_MAX - 2);
            return errors + 1;
        }
        csv_reserve_lines(b, b->line_count + 1);
        b->line[b->line_count++] = record_line;
    }

    if (!have_header) {
        report_error(rep, "%s: empty file (expected a header row)", name);
        return errors + 1;
    }
    return errors;
}

int csv_parse(csv_t *csv, char *buf, size_t size, const char *name, report_t *rep)
{
    csv_builder_t b;
    const char *nul;
    int errors;

    csv_init(csv);
    memset(&b, 0, sizeof(b));
    csv->buf = buf;
    csv->size = size;
    buf[size] = '\0';

    /* A NUL would silently cut a cell short; it means a binary file. */
    nul = memchr(buf, '\0', size);
    if (nul != NULL) {
        report_error(rep, "%s:%zu: contains a NUL byte (is this a text CSV file?)", name,
                     csv_count_newlines(buf, nul) + 1);
        return -EINVAL;
    }

    errors = csv_scan(csv, &b, name, rep);
    csv->field = b.field;
    csv->line = b.line;
    if (b.line_count > 0) {
        csv->row_count = (uint32_t)(b.line_count - 1);
        errors += csv_check_header(csv, name, rep);
    } else {
        /* No header survived: keep the table empty but consistent. */
        csv->column_count = 0;
    }
    return errors ? -EINVAL : 0;
}

int csv_load(csv_t *csv, const char *path, const char *name, const char *origin, report_t *rep)
{
    const char *who = origin ? origin : name;
    struct stat st;
    char *buf;
    size_t done = 0;
    int fd;
    int err;

    csv_init(csv);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        report_error(rep, "%s: cannot open %s: %s", who, path, strerror(err));
        return -err;
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        report_error(rep, "%s: cannot stat %s: %s", who, path, strerror(err));
        return -err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        report_error(rep, "%s: %s is not a regular file", who, path);
        return -EINVAL;
    }
    buf = mogen_malloc((size_t)st.st_size + 1);
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            close(fd);
            mogen_free(buf);
            report_error(rep, "%s: cannot read %s: %s", who, path, strerror(err));
            return -err;
        }
        if (n == 0)
            break; /* The file shrank while we read it: parse what we have. */
        done += (size_t)n;
    }
    close(fd);
    return csv_parse(csv, buf, done, name, rep);
}

int csv_column_index(const csv_t *csv, const char *name)
{
    for (uint32_t i = 0; i < csv->column_count; i++)
        if (strcmp(csv_header(csv, i), name) == 0)
            return (int)i;
    return -1;
}

void csv_column_list(const csv_t *csv, char *out, size_t outlen)
{
    size_t used = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (uint32_t i = 0; i < csv->column_count; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", csv_header(csv, i));
        if (n < 0 || (size_t)n >= outlen - used) {
            if (outlen >= 4)
                memcpy(out + outlen - 4, "...", 4);
            return;
        }
        used += (size_t)n;
    }
}
