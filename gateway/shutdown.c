/* Graceful stop. See shutdown.h. */
#include "shutdown.h"

#include "log.h"
#include "request.h"
#include "util.h"

#include <stdlib.h>

/* How often the drain looks at what is left, and how long the last replies
 * get to leave the socket buffers before the loop ends. */
#define S_TICK_MS 50
#define S_FLUSH_MS 200

struct af_gw_shutdown_t {
    af_gw_t *gw;
    af_gw_server_t *server;
    long grace_ms;
    struct event *tick;
    uint64_t deadline_ns;
    int signals;
    bool ended;
};

/* Requests still open (for the logs; the list is short by now). */
static size_t s_open(const af_gw_t *gw)
{
    size_t n = 0;
    for (const af_gw_req_t *r = gw->live; r; r = r->live_next)
        n++;
    return n;
}

static void s_end(af_gw_shutdown_t *self, const char *why)
{
    if (self->ended)
        return;
    self->ended = true;
    size_t n = 0;
    /* Aborting frees the request; take the next one first. */
    for (af_gw_req_t *r = self->gw->live, *next; r; r = next, n++) {
        next = r->live_next;
        af_gw_req_abort(r, why);
    }
    af_info("event=shutdown_end aborted=%zu reason=\"%s\"", n, why);
    struct timeval flush = {0, (suseconds_t)S_FLUSH_MS * 1000};
    event_base_loopexit(self->gw->base, n ? &flush : NULL);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_gw_shutdown_t *self = arg;
    if (self->ended)
        return;
    if (!self->gw->live) {
        af_info("event=drained");
        self->ended = true;
        event_base_loopexit(self->gw->base, NULL);
        return;
    }
    if (af_now_ns() >= self->deadline_ns) {
        s_end(self, AF_GW_DRAINING_MSG);
        return;
    }
    struct timeval tv = {0, (suseconds_t)S_TICK_MS * 1000};
    evtimer_add(self->tick, &tv);
}

af_gw_shutdown_t *af_gw_shutdown_new(af_gw_t *gw, af_gw_server_t *server, long grace_ms)
{
    af_gw_shutdown_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->gw = gw;
    self->server = server;
    self->grace_ms = grace_ms > 0 ? grace_ms : 0;
    self->tick = evtimer_new(gw->base, s_on_tick, self);
    if (!self->tick) {
        free(self);
        return NULL;
    }
    return self;
}

void af_gw_shutdown_destroy(af_gw_shutdown_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    event_free((*self_p)->tick);
    free(*self_p);
    *self_p = NULL;
}

void af_gw_shutdown_signal(af_gw_shutdown_t *self, int sig)
{
    self->signals++;
    if (self->signals > 1) {
        af_info("event=signal signal=%d action=stop_now inflight=%zu", sig, s_open(self->gw));
        s_end(self, "the gateway was stopped; retry the request");
        return;
    }
    af_info("event=signal signal=%d action=drain inflight=%zu grace_ms=%ld", sig,
            s_open(self->gw), self->grace_ms);
    self->gw->draining = true;
    af_gw_server_stop_accepting(self->server);
    self->deadline_ns = af_now_ns() + (uint64_t)self->grace_ms * 1000000ull;
    s_on_tick(-1, 0, self);
}
