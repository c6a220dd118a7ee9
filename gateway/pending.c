/* Pending request table. See pending.h. */
#include "pending.h"

#include <stdlib.h>
#include <string.h>

#define NSLOTS 4096

typedef struct s_entry_t {
    uint64_t id;
    void *data;
    struct event *timer;
    af_pending_t *owner;
    struct s_entry_t *chain;
} s_entry_t;

struct af_pending_t {
    struct event_base *base;
    af_pending_timeout_fn *on_timeout;
    void *arg;
    s_entry_t *slots[NSLOTS];
    uint64_t next_id;
    size_t count;
};

af_pending_t *af_pending_new(struct event_base *base, af_pending_timeout_fn *on_timeout,
                             void *arg)
{
    af_pending_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->on_timeout = on_timeout;
    self->arg = arg;
    return self;
}

static void s_free(s_entry_t *e)
{
    if (e->timer)
        event_free(e->timer);
    free(e);
}

void af_pending_destroy(af_pending_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_pending_t *self = *self_p;
    for (size_t i = 0; i < NSLOTS; i++)
        while (self->slots[i]) {
            s_entry_t *e = self->slots[i];
            self->slots[i] = e->chain;
            s_free(e);
        }
    free(self);
    *self_p = NULL;
}

static s_entry_t *s_unlink(af_pending_t *self, uint64_t id)
{
    s_entry_t **pp = &self->slots[id % NSLOTS];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->chain;
    s_entry_t *e = *pp;
    if (e) {
        *pp = e->chain;
        self->count--;
    }
    return e;
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_entry_t *e = arg;
    af_pending_t *self = e->owner;
    uint64_t id = e->id;
    void *data = e->data;
    s_unlink(self, id);
    s_free(e);
    if (self->on_timeout)
        self->on_timeout(id, data, self->arg);
}

static void s_arm(s_entry_t *e, long timeout_ms)
{
    if (timeout_ms <= 0 || !e->timer)
        return;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(e->timer, &tv);
}

uint64_t af_pending_add(af_pending_t *self, void *data, long timeout_ms)
{
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return 0;
    e->id = ++self->next_id;
    e->data = data;
    e->owner = self;
    if (timeout_ms > 0) {
        e->timer = evtimer_new(self->base, s_on_timer, e);
        if (!e->timer) {
            free(e);
            return 0;
        }
        s_arm(e, timeout_ms);
    }
    e->chain = self->slots[e->id % NSLOTS];
    self->slots[e->id % NSLOTS] = e;
    self->count++;
    return e->id;
}

static s_entry_t *s_find(af_pending_t *self, uint64_t id)
{
    s_entry_t *e = self->slots[id % NSLOTS];
    while (e && e->id != id)
        e = e->chain;
    return e;
}

void *af_pending_get(af_pending_t *self, uint64_t id)
{
    s_entry_t *e = s_find(self, id);
    return e ? e->data : NULL;
}

void *af_pending_take(af_pending_t *self, uint64_t id)
{
    s_entry_t *e = s_unlink(self, id);
    if (!e)
        return NULL;
    void *data = e->data;
    s_free(e);
    return data;
}

void af_pending_touch(af_pending_t *self, uint64_t id, long timeout_ms)
{
    s_entry_t *e = s_find(self, id);
    if (e)
        s_arm(e, timeout_ms);
}

size_t af_pending_count(const af_pending_t *self) { return self->count; }

uint64_t af_pending_parse(const char *req, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (!req || strncmp(req, prefix, pl) != 0 || !req[pl])
        return 0;
    uint64_t v = 0;
    for (const char *p = req + pl; *p; p++) {
        if (*p < '0' || *p > '9' || v > UINT64_MAX / 10 - 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}
