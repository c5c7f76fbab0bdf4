/*
 * log.c: level-filtered logging to stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static log_level_t log_threshold = LOG_LEVEL_INFO;

/* Names printed in front of each line. */
static const char *const log_level_text[LOG_LEVEL_MAX] = {
    [LOG_LEVEL_DEBUG] = "debug",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_WARN] = "warning",
    [LOG_LEVEL_ERROR] = "error",
};

/* sd-daemon priority prefixes, used only when stderr is the journal (systemd
 * sets JOURNAL_STREAM), so that journald records each line's level. */
static const char *const log_level_journal[LOG_LEVEL_MAX] = {
    [LOG_LEVEL_DEBUG] = "<7>",
    [LOG_LEVEL_INFO] = "<6>",
    [LOG_LEVEL_WARN] = "<4>",
    [LOG_LEVEL_ERROR] = "<3>",
};

void log_set_level(log_level_t level)
{
    log_threshold = level;
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    if (level < log_threshold || level >= LOG_LEVEL_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (getenv("JOURNAL_STREAM") != NULL)
        fprintf(stderr, "%s%s: %s\n", log_level_journal[level], log_level_text[level], line);
    else
        fprintf(stderr, "%s: %s\n", log_level_text[level], line);
}
