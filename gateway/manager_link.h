/* The gateway's control link: a DEALER to the manager's ROUTER. Sends
 * GATEWAY_HELLO at start and every heartbeat interval, and request/reply verbs
 * (SPAWN, DELETE, LIST, GET, STATS, SCALE, PLACE) whose replies are matched by
 * `req` to a callback, with a timeout. Knows nothing of HTTP. */
#ifndef AF_GW_MANAGER_LINK_H
#define AF_GW_MANAGER_LINK_H

#include "codec.h"
#include "proto.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct af_mlink_t af_mlink_t;

/* Exactly one call per request: reply is the OK or ERROR message (borrowed for
 * the call), or NULL when the request timed out or could not be sent. */
typedef void(af_mlink_fn)(const af_msg_t *reply, void *arg);

af_mlink_t *af_mlink_new(struct event_base *base, const char *endpoint, const char *gateway_id,
                         const char *data_endpoint, af_codec_t codec, long heartbeat_ms);
void af_mlink_destroy(af_mlink_t **self_p);

/* Sends verb with body (taken; req is set here). Returns a handle (> 0) for
 * af_mlink_forget, or 0 when it could not be queued (cb is then not called). */
uint64_t af_mlink_request(af_mlink_t *self, const char *verb, cJSON *body, long timeout_ms,
                          af_mlink_fn *cb, void *arg);
/* The caller lost interest (client went away): cb will not be called. */
void af_mlink_forget(af_mlink_t *self, uint64_t handle);

/* True when the manager answered within the last 3 heartbeat intervals. */
bool af_mlink_reachable(const af_mlink_t *self);
/* False once the link has been up 3 heartbeat intervals without hearing the
 * manager: callers then fail fast (503) instead of waiting for a timeout. */
bool af_mlink_usable(const af_mlink_t *self);
size_t af_mlink_pending(const af_mlink_t *self);

#endif
