/* zmq-on-libevent adapter. See zev.h. */
#include "zev.h"

#include "log.h"

struct af_zev_t {
    struct event *ev;
    zsock_t *sock;
    af_zev_fn *handler;
    void *arg;
    int batch;
    uint64_t handled;
};

static void s_on_fd(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_zev_t *self = arg;
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
    if (!self->ev || event_add(self->ev, NULL) < 0) {
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
    free(self);
    *self_p = NULL;
}

void af_zev_kick(af_zev_t *self)
{
    if (self && self->ev)
        event_active(self->ev, EV_READ, 0);
}

uint64_t af_zev_handled(const af_zev_t *self) { return self->handled; }
