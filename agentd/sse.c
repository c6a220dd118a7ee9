/* Incremental SSE parser. See sse.h.
 *
 * Lines end in LF, CR or CRLF (a CRLF may be split across chunks, hence
 * `after_cr`). A partial line is kept in `line`; every byte is copied at most
 * twice (into `line`, then into `data`), so the cost is linear in the input. */
#include "sse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define AF_SSE_EVENT_MAX 64

struct af_sse_t {
    af_sse_fn *fn;
    void *arg;
    size_t max;
    char *line;
    size_t line_len, line_cap;
    char *data;
    size_t data_len, data_cap;
    bool has_data;
    bool after_cr;
    bool failed;
    char event[AF_SSE_EVENT_MAX];
    size_t events;
};

af_sse_t *af_sse_new(af_sse_fn *fn, void *arg, size_t max_event)
{
    af_sse_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fn = fn;
    self->arg = arg;
    self->max = max_event ? max_event : (size_t)1024 * 1024;
    return self;
}

void af_sse_destroy(af_sse_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_sse_t *self = *self_p;
    free(self->line);
    free(self->data);
    free(self);
    *self_p = NULL;
}

void af_sse_reset(af_sse_t *self)
{
    self->line_len = 0;
    self->data_len = 0;
    self->has_data = false;
    self->after_cr = false;
    self->failed = false;
    self->event[0] = '\0';
}

size_t af_sse_events(const af_sse_t *self) { return self->events; }

static int s_grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static int s_dispatch(af_sse_t *self)
{
    if (!self->has_data) {
        self->event[0] = '\0';
        return 0;
    }
    if (s_grow(&self->data, &self->data_cap, self->data_len + 1) < 0)
        return -1;
    self->data[self->data_len] = '\0';
    self->events++;
    int rc = self->fn(self->event[0] ? self->event : "message", self->data, self->data_len,
                      self->arg);
    self->data_len = 0;
    self->has_data = false;
    self->event[0] = '\0';
    return rc;
}

/* Handles one complete line (without its terminator). */
static int s_line(af_sse_t *self, const char *p, size_t n)
{
    if (n == 0)
        return s_dispatch(self);
    if (p[0] == ':')
        return 0; /* comment */
    const char *colon = memchr(p, ':', n);
    size_t flen = colon ? (size_t)(colon - p) : n;
    const char *v = colon ? colon + 1 : p + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    if (flen == 5 && !memcmp(p, "event", 5)) {
        if (vlen >= AF_SSE_EVENT_MAX)
            vlen = AF_SSE_EVENT_MAX - 1;
        memcpy(self->event, v, vlen);
        self->event[vlen] = '\0';
    } else if (flen == 4 && !memcmp(p, "data", 4)) {
        size_t need = self->data_len + (self->has_data ? 1 : 0) + vlen;
        if (need > self->max)
            return -1;
        if (s_grow(&self->data, &self->data_cap, need + 1) < 0)
            return -1;
        if (self->has_data)
            self->data[self->data_len++] = '\n';
        memcpy(self->data + self->data_len, v, vlen);
        self->data_len += vlen;
        self->has_data = true;
    }
    /* id, retry and unknown fields: ignored (we never reconnect a stream). */
    return 0;
}

int af_sse_feed(af_sse_t *self, const char *buf, size_t len)
{
    if (self->failed)
        return -1;
    size_t i = 0;
    if (self->after_cr && len > 0) {
        self->after_cr = false;
        if (buf[0] == '\n')
            i = 1;
    }
    while (i < len) {
        /* Find the next terminator from i. */
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r')
            j++;
        if (j == len) {
            /* Partial line: keep it for the next chunk. */
            if (self->line_len + (j - i) > self->max + 64 ||
                s_grow(&self->line, &self->line_cap, self->line_len + (j - i)) < 0) {
                self->failed = true;
                return -1;
            }
            memcpy(self->line + self->line_len, buf + i, j - i);
            self->line_len += j - i;
            break;
        }
        int rc;
        if (self->line_len) {
            if (self->line_len + (j - i) > self->max + 64 ||
                s_grow(&self->line, &self->line_cap, self->line_len + (j - i)) < 0) {
                self->failed = true;
                return -1;
            }
            memcpy(self->line + self->line_len, buf + i, j - i);
            self->line_len += j - i;
            rc = s_line(self, self->line, self->line_len);
            self->line_len = 0;
        } else {
            rc = s_line(self, buf + i, j - i);
        }
        if (rc < 0) {
            self->failed = true;
            return -1;
        }
        if (buf[j] == '\r') {
            if (j + 1 < len) {
                if (buf[j + 1] == '\n')
                    j++;
            } else {
                self->after_cr = true;
            }
        }
        i = j + 1;
    }
    return 0;
}
