/* The autoscaler's link to the manager: one DEALER ("autoscaler-<pid>") on the
 * control ROUTER, replies matched to requests by `req`, each with a timeout.
 * Knows no verb: source_manager.c and actuator.c build and read the bodies. */
#ifndef AF_AUTOSCALER_MLINK_H
#define AF_AUTOSCALER_MLINK_H

#include "proto.h"

#include <event2/event.h>

/* reply: the OK message (borrowed for the call), or NULL when the request
 * could not be sent, timed out or was refused with an ERROR (why says which,
 * e.g. "SCALE refused: forbidden admin only"). */
typedef void(af_mlink_fn)(const af_msg_t *reply, const char *why, void *arg);

typedef struct af_mlink_t af_mlink_t;

/* Connects to endpoint. NULL (logged) when the socket cannot be set up. */
af_mlink_t *af_mlink_new(struct event_base *base, const char *endpoint, af_codec_t codec,
                         double timeout_s);
/* Ends pending requests: each fn runs once with reply NULL and why
 * "shutdown" (so callers free what they passed), then frees the link. */
void af_mlink_destroy(af_mlink_t **self_p);

/* Sends [AF1][verb][body] with a fresh req; takes body. fn is called exactly
 * once, later (never from inside this call). Returns 0, or -1 when too many
 * requests are pending (fn not called). */
int af_mlink_request(af_mlink_t *self, const char *verb, cJSON *body, af_mlink_fn *fn, void *arg);

#endif
