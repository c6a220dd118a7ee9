/* SSE parsing. See sse.h. A line is collected in `line`; a blank line
 * dispatches the event collected so far. */
#include "sse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct af_cli_sse_t {
    af_cli_sse_fn *fn;
    void *arg;
    size_t max;
    char *line;   /* current line, not yet terminated */
    size_t linelen;
    char *data;   /* data lines of the current event, joined by \n */
    size_t datalen;
    bool has_data;
    char event[64];
    bool last_cr; /* previous byte was \r: a following \n is part of that line end */
    size_t events;
};

af_cli_sse_t *af_cli_sse_new(af_cli_sse_fn *fn, void *arg, size_t max_event)
{
    af_cli_sse_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fn = fn;
    self->arg = arg;
    self->max = max_event ? max_event : (size_t)1024 * 1024;
    self->line = malloc(self->max + 1);
    self->data = malloc(self->max + 1);
    if (!self->line || !self->data) {
        af_cli_sse_destroy(&self);
        return NULL;
    }
    return self;
}

void af_cli_sse_destroy(af_cli_sse_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->line);
    free((*self_p)->data);
    free(*self_p);
    *self_p = NULL;
}

size_t af_cli_sse_events(const af_cli_sse_t *self) { return self->events; }

static int s_dispatch(af_cli_sse_t *self)
{
    int rc = 0;
    if (self->has_data) {
        self->data[self->datalen] = 0;
        self->events++;
        if (self->fn(self->event[0] ? self->event : "message", self->data, self->arg))
            rc = -1;
    }
    self->datalen = 0;
    self->has_data = false;
    self->event[0] = 0;
    return rc;
}

static int s_line(af_cli_sse_t *self)
{
    char *l = self->line;
    size_t n = self->linelen;
    l[n] = 0;
    self->linelen = 0;
    if (n == 0)
        return s_dispatch(self);
    if (l[0] == ':')
        return 0;
    char *colon = memchr(l, ':', n);
    const char *field = l, *value = "";
    size_t vlen = 0;
    if (colon) {
        *colon = 0;
        value = colon + 1;
        if (*value == ' ')
            value++;
        vlen = n - (size_t)(value - l);
    }
    if (!strcmp(field, "data")) {
        size_t need = self->datalen + (self->has_data ? 1 : 0) + vlen;
        if (need > self->max)
            return -1;
        if (self->has_data)
            self->data[self->datalen++] = '\n';
        memcpy(self->data + self->datalen, value, vlen);
        self->datalen += vlen;
        self->has_data = true;
    } else if (!strcmp(field, "event")) {
        size_t k = vlen < sizeof self->event - 1 ? vlen : sizeof self->event - 1;
        memcpy(self->event, value, k);
        self->event[k] = 0;
    }
    /* id, retry and unknown fields do not matter to fleetctl. */
    return 0;
}

int af_cli_sse_feed(af_cli_sse_t *self, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n' && self->last_cr) {
            self->last_cr = false;
            continue;
        }
        self->last_cr = c == '\r';
        if (c == '\n' || c == '\r') {
            if (s_line(self) < 0)
                return -1;
            continue;
        }
        if (self->linelen >= self->max)
            return -1;
        self->line[self->linelen++] = c;
    }
    return 0;
}
