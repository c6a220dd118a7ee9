/* The control ROUTER: binds the manager's endpoint, checks each verb's shape and
 * dispatches in one switch (agents: READY, HEARTBEAT, BYE; gateway/autoscaler:
 * GATEWAY_HELLO, SPAWN, DELETE, LIST, GET, STATS, SCALE, PLACE); refuses the rest. */
#ifndef AF_MANAGER_CONTROL_H
#define AF_MANAGER_CONTROL_H

#include "fleet.h"

#include <event2/event.h>

typedef struct af_control_t af_control_t;

/* Binds listen (e.g. tcp://127.0.0.1:5550, or a comma list of endpoints) and joins base. fleet not owned.
 * batch_ms > 0 coalesces wake-ups: the socket is drained every batch_ms
 * instead of on every message (adds at most batch_ms of latency). Returns NULL
 * (and logs) when the endpoint cannot be bound. */
af_control_t *af_control_new(struct event_base *base, const char *listen, af_fleet_t *fleet,
                             af_mgr_metrics_t *metrics, size_t max_body, int batch_ms);
void af_control_destroy(af_control_t **self_p);

/* Handles one decoded message (not owned). Exposed so tests can drive the
 * dispatch without a socket (replies then go nowhere). */
void af_control_dispatch(af_control_t *self, const af_msg_t *msg);

/* Whether a peer CURVE authenticated as peer_role ("agentd", "gateway",
 * "autoscaler") may send verb; "" (plaintext link) may send anything. */
bool af_control_peer_may(const char *peer_role, const char *verb);

#endif
