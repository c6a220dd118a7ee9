/* Logging: key=value lines with secret scrubbing. See log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define AF_LOG_LINE_MAX 4096
#define AF_LOG_MAX_SECRETS 16

static char s_daemon[32] = "agentfleet";
static af_log_level_t s_level = AF_LOG_INFO;
static int s_fd = 2;
static char *s_secrets[AF_LOG_MAX_SECRETS];
static size_t s_nsecrets;

static const char *s_level_names[] = {"debug", "info", "warn", "error"};

void af_log_init(const char *daemon, af_log_level_t level)
{
    if (daemon)
        snprintf(s_daemon, sizeof s_daemon, "%s", daemon);
    s_level = level;
}

void af_log_set_level(af_log_level_t level) { s_level = level; }
af_log_level_t af_log_get_level(void) { return s_level; }
void af_log_set_fd(int fd) { s_fd = fd; }

int af_log_level_parse(const char *name, af_log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, s_level_names[i]) == 0) {
            *out = (af_log_level_t)i;
            return 0;
        }
    return -1;
}

void af_log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4 || s_nsecrets == AF_LOG_MAX_SECRETS)
        return;
    for (size_t i = 0; i < s_nsecrets; i++)
        if (strcmp(s_secrets[i], secret) == 0)
            return;
    char *copy = strdup(secret);
    if (copy)
        s_secrets[s_nsecrets++] = copy;
}

void af_log_clear_secrets(void)
{
    for (size_t i = 0; i < s_nsecrets; i++)
        free(s_secrets[i]);
    s_nsecrets = 0;
}

char *af_redact(const char *secret, char *buf, size_t len)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n >= 12)
        snprintf(buf, len, "[redacted len=%zu ..%s]", n, secret + n - 2);
    else
        snprintf(buf, len, "[redacted len=%zu]", n);
    return buf;
}

/* Replaces every registered secret inside line (in place, bounded by cap). */
static void s_scrub(char *line, size_t cap)
{
    static const char mask[] = "[redacted]";
    for (size_t i = 0; i < s_nsecrets; i++) {
        size_t slen = strlen(s_secrets[i]);
        char *hit;
        while ((hit = strstr(line, s_secrets[i])) != NULL) {
            size_t tail = strlen(hit + slen);
            size_t mlen = sizeof mask - 1;
            if ((size_t)(hit - line) + mlen + tail + 1 > cap)
                tail = cap - 1 - (size_t)(hit - line) - mlen;
            memmove(hit + mlen, hit + slen, tail);
            memcpy(hit, mask, mlen);
            hit[mlen + tail] = '\0';
        }
    }
}

void af_log_write(af_log_level_t level, const char *func, const char *fmt, ...)
{
    if (level < s_level)
        return;
    int saved_errno = errno;
    char line[AF_LOG_LINE_MAX];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s daemon=%s pid=%d fn=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(tv.tv_usec / 1000), s_level_names[level], s_daemon,
                     (int)getpid(), func);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    /* One event, one line: newlines inside values would split it. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    s_scrub(line, sizeof line - 1);
    size_t len = strlen(line);
    line[len++] = '\n';
    ssize_t w = write(s_fd, line, len);
    (void)w;
    errno = saved_errno;
}
