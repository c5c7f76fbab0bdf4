/*
 * report.h: a list of problems found while loading (config, CSV, labels,
 * files), so that a load can report all of them rather than the first.
 *
 * Each entry has a severity and a full human sentence that names where the
 * problem is: "train.csv:14: column \"label\": blank cell". The loader keeps
 * going after an error where it can; report_error_count() decides whether the
 * daemon may start.
 */
#ifndef MOGEN_REPORT_H
#define MOGEN_REPORT_H

#include <stddef.h>

typedef enum report_severity {
    REPORT_WARNING, /* The daemon can start; the user should look. */
    REPORT_ERROR,   /* The daemon would refuse to start. */
    REPORT_SEVERITY_MAX
} report_severity_t;

typedef struct report_entry {
    report_severity_t severity;
    char *message; /* Owned; one sentence, no trailing newline. */
} report_entry_t;

typedef struct report {
    report_entry_t *entries;
    size_t count;
    size_t capacity;
    size_t error_count;
    size_t warning_count;
    size_t dropped;   /* Entries not stored because max_entries was reached. */
    size_t max_entries; /* Ceiling on stored entries (default 1000): a CSV with a
                           million bad rows must not make a million messages. */
} report_t;

void report_init(report_t *rep);
void report_free(report_t *rep);
void report_add(report_t *rep, report_severity_t severity, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define report_error(rep, ...) report_add((rep), REPORT_ERROR, __VA_ARGS__)
#define report_warning(rep, ...) report_add((rep), REPORT_WARNING, __VA_ARGS__)
size_t report_error_count(const report_t *rep);

/*
 * Formats one human message into a caller's buffer err[errlen], the
 * single-error counterpart of report_add() used by functions that take
 * `char *err, size_t errlen` (as Redis's anet.c does). A NULL or empty
 * buffer is left alone.
 */
void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *report_severity_name(report_severity_t severity);

#endif
