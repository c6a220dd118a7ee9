/* Leadership among 2-3 managers through a lease in Redis: SET NX PX to take it, a
 * compare-and-extend script to renew it, INCR of a counter for a fencing token that
 * grows with every new leader. Knows nothing of the fleet: it only says who leads. */
#ifndef AF_LEASE_H
#define AF_LEASE_H

#include "metrics.h"
#include "redis.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct af_lease_t af_lease_t;

/* Called on every change: leader true with the new fencing token, or false when the
 * lease was lost (taken by another, or not renewed in time). */
typedef void(af_lease_fn)(void *arg, bool leader, uint64_t fence);

/* Tries to lead every ttl_ms/3 under key (the token counter is key + ":fence"); id
 * names this manager in the lease (copied). redis is not owned. */
af_lease_t *af_lease_new(struct event_base *base, af_redis_t *redis, const char *key,
                         const char *id, int ttl_ms, af_lease_fn *fn, void *arg);
/* A leader gives the lease up (best effort) so a standby takes over at once. */
void af_lease_destroy(af_lease_t **self_p);

/* True only while we hold a lease that is still valid by our own clock: measured
 * from when the last successful take/renew was sent, minus a margin, so a paused or
 * cut-off leader stops acting before another can have taken over. */
bool af_lease_leader(const af_lease_t *self);
/* Our fencing token (0 before we ever led). */
uint64_t af_lease_fence(const af_lease_t *self);
/* Id of the last leader we saw in Redis ("" when unknown). */
const char *af_lease_holder(const af_lease_t *self);
/* manager_leader and manager_fence_token gauges on m (read self at scrape time: the
 * registry must be destroyed before the lease). */
int af_lease_metrics(af_lease_t *self, af_metrics_t *m);

#endif
