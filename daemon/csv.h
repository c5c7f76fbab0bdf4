/*
 * csv.h: an RFC 4180 reader that keeps a whole CSV in one buffer.
 *
 * The parser unescapes every field in place inside the file's own bytes and
 * NUL-terminates it there, so a table of a million rows costs the file's size
 * plus one 64-bit offset per cell and one line number per record: no malloc
 * per cell. Record 0 is the header; data row r is record r + 1.
 *
 * Accepted: a header row; quoted fields holding commas, doubled quotes and
 * line breaks; CRLF or LF line ends; a UTF-8 byte order mark; a last line with
 * or without a line end; blank lines (skipped wherever they are, as pandas
 * does). Every problem goes to a report_t and names the file and the physical
 * line: a record with the wrong number of fields, a quote that never closes
 * (the line where it opened), text after a closing quote, a NUL byte, an empty
 * file, duplicate header names.
 *
 * csv_parse() is pure; csv_load() is the one helper that reads a file.
 */
#ifndef MOGEN_CSV_H
#define MOGEN_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct csv {
    char *buf;             /* The file's bytes, fields unescaped in place; owned. */
    size_t size;           /* Bytes of buf in use (the file size). */
    uint32_t column_count; /* Fields per record, set by the header. */
    uint32_t row_count;    /* Data rows (header excluded). */
    uint64_t *field;       /* (row_count + 1) * column_count offsets into buf. */
    uint32_t *line;        /* row_count + 1: 1-based line where each record starts. */
} csv_t;

/* Initialises an empty table, safe to csv_free(). */
void csv_init(csv_t *csv);

/*
 * Parses buf (size bytes) into csv, taking ownership of buf, which must have
 * been allocated with mogen_malloc() with room for size + 1 bytes (the last
 * field may need a terminating NUL there). name is how messages call the file
 * ("train.csv"). Every problem goes to rep. Returns 0 when the table is usable,
 * -EINVAL when rep got an error from this call. The records that were sound
 * are kept either way; csv_free() must be called in every case.
 */
int csv_parse(csv_t *csv, char *buf, size_t size, const char *name, report_t *rep);

/*
 * Reads the file at path and parses it as csv_parse() does. Returns 0,
 * -EINVAL for a malformed file, or -errno when it cannot be read (also
 * reported with the full path). A message about reading the file starts
 * with origin when it is not NULL (the config field that named the file,
 * such as "streams.train.csv"), else with name; parse errors always start
 * with name and the line.
 */
int csv_load(csv_t *csv, const char *path, const char *name, const char *origin, report_t *rep);

void csv_free(csv_t *csv);

/* The header name of column col. */
static inline const char *csv_header(const csv_t *csv, uint32_t col)
{
    return csv->buf + csv->field[col];
}

/* The cell of data row row (0-based, header excluded) in column col. */
static inline const char *csv_cell(const csv_t *csv, uint32_t row, uint32_t col)
{
    return csv->buf + csv->field[((size_t)row + 1) * csv->column_count + col];
}

/* The 1-based physical line where data row row starts. */
static inline uint32_t csv_row_line(const csv_t *csv, uint32_t row)
{
    return csv->line[row + 1];
}

/* Returns the index of the column named name, or -1. */
int csv_column_index(const csv_t *csv, const char *name);

/*
 * Writes "a, b, c" (the header names) into out, truncated to outlen with
 * "..." when too long. For messages that list the columns.
 */
void csv_column_list(const csv_t *csv, char *out, size_t outlen);

/* (UTF-8 is checked with mogen_utf8_valid, protocol/message.h.) */

#endif
