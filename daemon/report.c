/*
 * report.c: an append-only list of load problems with a ceiling.
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>

#include "alloc.h"

/* Beyond this many stored entries only the counts grow. */
#define REPORT_DEFAULT_MAX_ENTRIES 1000

void report_init(report_t *rep)
{
    rep->entries = NULL;
    rep->count = 0;
    rep->capacity = 0;
    rep->error_count = 0;
    rep->warning_count = 0;
    rep->dropped = 0;
    rep->max_entries = REPORT_DEFAULT_MAX_ENTRIES;
}

void report_free(report_t *rep)
{
    for (size_t i = 0; i < rep->count; i++)
        mogen_free(rep->entries[i].message);
    mogen_free(rep->entries);
    report_init(rep);
}

void report_add(report_t *rep, report_severity_t severity, const char *fmt, ...)
{
    char message[1024];
    va_list ap;

    if (severity == REPORT_ERROR)
        rep->error_count++;
    else
        rep->warning_count++;
    if (rep->count >= rep->max_entries) {
        rep->dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (rep->count == rep->capacity) {
        rep->capacity = rep->capacity ? rep->capacity * 2 : 16;
        rep->entries = mogen_reallocarray(rep->entries, rep->capacity, sizeof(*rep->entries));
    }
    rep->entries[rep->count].severity = severity;
    rep->entries[rep->count].message = mogen_strdup(message);
    rep->count++;
}

size_t report_error_count(const report_t *rep)
{
    return rep->error_count;
}

const char *report_severity_name(report_severity_t severity)
{
    switch (severity) {
    case REPORT_WARNING:
        return "warning";
    case REPORT_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
