/*
 * log.h: the daemon's one logging entry point.
 *
 * Lines go to stderr as "LEVEL message" so that journald (which adds its own
 * timestamps) or a terminal both read well. Libraries never log; the daemon
 * logs once, where it decides what to do about a condition.
 */
#ifndef MOGEN_LOG_H
#define MOGEN_LOG_H

typedef enum log_level {
    LOG_LEVEL_DEBUG, /* Noisy detail, off unless --verbose. */
    LOG_LEVEL_INFO,  /* Normal life-cycle events. */
    LOG_LEVEL_WARN,  /* Something was wrong but the daemon carries on. */
    LOG_LEVEL_ERROR, /* Something failed; the caller decides what stops. */
    LOG_LEVEL_MAX
} log_level_t;

void log_set_level(log_level_t level);
void log_msg(log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
