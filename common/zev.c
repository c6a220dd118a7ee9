/* zmq-on-libevent adapter. See zev.h. */
#include "zev.h"

#include "log.h"
#include "util.h"

struct af_zev_t {
    struct event *ev;
    zsock_t *sock;
    af_zev_fn *handler;
    void *arg;
    int batch;
    uint64_t handled, wakeups;
    int coalesce_ms;
    uint64_t last_drain_ns;
    struct event *defer; /* one-shot: the deferred drain while coalescing */
};

static void s_on_fd(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_zev_t *self = arg;
    self->wakeups++;
    if (self->coalesce_ms > 0) {
        uint64_t now = af_now_ns(), period = (uint64_t)self->coalesce_ms * 1000000u;
        if (now - self->last_drain_ns < period) {
            /* The fd stays readable until ZeroMQ is asked (zsock_events), and
             * libevent is level-triggered: stop watching it until the deferred
             * drain, or this callback would spin. */
            event_del(self->ev);
            if (!evtimer_pending(self->defer, NULL)) {
                uint64_t left = period - (now - self->last_drain_ns);
                struct timeval tv = {(time_t)(left / 1000000000u), (suseconds_t)(left % 1000000000u / 1000)};
                evtimer_add(self->defer, &tv);
            }
            return;
        }
        self->last_drain_ns = now;
    }
    int n = 0;
    while (zsock_events(self->sock) & ZMQ_POLLIN) {
        if (n == self->batch) {
            /* More is waiting, but other events deserve a turn; the edge has
             * already fired, so wake ourselves up explicitly. */
            event_active(self->ev, EV_READ, 0);
            return;
        }
        self->handler(self->sock, self->arg);
        self->handled++;
        n++;
    }
}

static void s_on_defer(evutil_socket_t fd, short what, void *arg)
{
    af_zev_t *self = arg;
    event_add(self->ev, NULL);
    s_on_fd(fd, what, self);
}

af_zev_t *af_zev_new(struct event_base *base, zsock_t *sock, af_zev_fn *handler, void *arg,
                     int batch)
{
    af_zev_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = sock;
    self->handler = handler;
    self->arg = arg;
    self->batch = batch > 0 ? batch : 256;
    self->ev = event_new(base, zsock_fd(sock), EV_READ | EV_PERSIST, s_on_fd, self);
    self->defer = evtimer_new(base, s_on_defer, self);
    if (!self->ev || !self->defer || event_add(self->ev, NULL) < 0) {
        af_error("event=zev_add_failed");
        af_zev_destroy(&self);
        return NULL;
    }
    /* Messages may have queued before we started watching: look once. */
    event_active(self->ev, EV_READ, 0);
    return self;
}

void af_zev_destroy(af_zev_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_zev_t *self = *self_p;
    if (self->ev)
        event_free(self->ev);
    if (self->defer)
        event_free(self->defer);
    free(self);
    *self_p = NULL;
}

void af_zev_kick(af_zev_t *self)
{
    if (self && self->ev)
        event_active(self->ev, EV_READ, 0);
}

uint64_t af_zev_handled(const af_zev_t *self) { return self->handled; }
uint64_t af_zev_wakeups(const af_zev_t *self) { return self->wakeups; }

void af_zev_set_coalesce(af_zev_t *self, int ms)
{
    self->coalesce_ms = ms > 0 ? ms : 0;
    if (!self->coalesce_ms && evtimer_pending(self->defer, NULL)) {
        evtimer_del(self->defer);
        event_add(self->ev, NULL);
        event_active(self->ev, EV_READ, 0); /* what was deferred runs now */
    }
}
