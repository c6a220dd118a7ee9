/* Logging: one line per event, key=value, with level, timestamp, daemon name and
 * function. Registered secrets are scrubbed from every line before it is written,
 * so a key that slips into a format string still never reaches the log. */
#ifndef AF_LOG_H
#define AF_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { AF_LOG_DEBUG = 0, AF_LOG_INFO, AF_LOG_WARN, AF_LOG_ERROR } af_log_level_t;

/* Sets the daemon name written in every line (copied). */
void af_log_init(const char *daemon, af_log_level_t level);
void af_log_set_level(af_log_level_t level);
af_log_level_t af_log_get_level(void);
/* Parses "debug|info|warn|error"; returns -1 on anything else. */
int af_log_level_parse(const char *name, af_log_level_t *out);
/* Sends output to fd (default 2, stderr). */
void af_log_set_fd(int fd);

/* Registers a secret (copied) that is replaced by "[redacted]" wherever it would
 * appear in a log line. Secrets shorter than 4 bytes are ignored (too many false
 * matches). */
void af_log_add_secret(const char *secret);
/* Forgets all registered secrets (tests, shutdown). */
void af_log_clear_secrets(void);

/* Writes a safe, short form of a secret into buf: its length and last 2 chars at
 * most, e.g. "[redacted len=40 ..Ab]". Returns buf. */
char *af_redact(const char *secret, char *buf, size_t len);

void af_log_write(af_log_level_t level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define af_debug(...) \
    do { if (af_log_get_level() <= AF_LOG_DEBUG) af_log_write(AF_LOG_DEBUG, __func__, __VA_ARGS__); } while (0)
#define af_info(...)  af_log_write(AF_LOG_INFO, __func__, __VA_ARGS__)
#define af_warn(...)  af_log_write(AF_LOG_WARN, __func__, __VA_ARGS__)
#define af_error(...) af_log_write(AF_LOG_ERROR, __func__, __VA_ARGS__)

#endif
