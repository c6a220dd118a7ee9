/* zmq-on-libevent: runs a ZeroMQ socket inside a libevent loop through ZMQ_FD.
 * ZMQ_FD is edge-triggered and only says "look at ZMQ_EVENTS", so the adapter
 * drains while ZMQ_EVENTS reports POLLIN, and must be kicked after every send on
 * the socket (a send can consume the edge that announced pending input). Knows
 * nothing of agentfleet's protocol. */
#ifndef AF_ZEV_H
#define AF_ZEV_H

#include <czmq.h>
#include <event2/event.h>

typedef struct af_zev_t af_zev_t;

/* Called once per readable message: the handler must receive exactly one
 * message (or drop it) from sock. */
typedef void(af_zev_fn)(zsock_t *sock, void *arg);

/* Watches sock (not owned) on base. At most `batch` messages are handled per
 * wake-up before yielding to other events (fairness under a flood); 0 means 256. */
af_zev_t *af_zev_new(struct event_base *base, zsock_t *sock, af_zev_fn *handler, void *arg,
                     int batch);
void af_zev_destroy(af_zev_t **self_p);

/* Schedules a re-check of ZMQ_EVENTS on the next loop turn. Call after sending
 * on the socket from outside the handler (inside it, the drain re-checks). */
void af_zev_kick(af_zev_t *self);

/* Coalescing for busy sockets: with ms > 0, a wake-up that comes less than ms
 * after the last drain is deferred until ms have passed, so a flood costs one
 * wake-up per ms instead of one per message, for at most ms of added latency
 * (a message after a quiet spell is still handled at once). 0 turns it off. */
void af_zev_set_coalesce(af_zev_t *self, int ms);

/* Messages handled so far, and wake-ups (callbacks from the loop, whether or
 * not a message was waiting: the loop's cost) for tests and metrics. */
uint64_t af_zev_handled(const af_zev_t *self);
uint64_t af_zev_wakeups(const af_zev_t *self);

#endif
