/* Logging: levels, a role prefix ("master", "worker 2"), output to stderr or
 * an append-only file that can be reopened on SIGHUP. */
#ifndef FLOE_LOG_H
#define FLOE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

/* Parses "debug", "info", "warning" or "error"; returns 0 or -1. */
int log_level_parse(const char *name, enum log_level *level_r);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* The role is copied; it prefixes every line ("worker 2"). */
void log_set_role(const char *role);
/* Sends log lines to path (appending) instead of stderr. NULL goes back to
 * stderr. Returns 0, or -1 with *error_r set to a static/strerror message. */
int log_open_file(const char *path, const char **error_r);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For start-up and environment failures: logs and exits with status 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
