/* Acts on a decision: SCALE {target, role:"admin", reason} to the manager, and
 * reads its OK {target, current, spawning, draining}. */
#ifndef AF_AUTOSCALER_ACTUATOR_H
#define AF_AUTOSCALER_ACTUATOR_H

#include "mlink.h"

typedef struct {
    long target, current, spawning, draining;
} af_scale_reply_t;

/* reply NULL on failure (why says what). */
typedef void(af_actuator_fn)(const af_scale_reply_t *reply, const char *why, void *arg);

/* Builds the SCALE body (caller owns); NULL on allocation failure. */
cJSON *af_actuator_body(long target, const char *reason);

/* Sends SCALE; fn is called once, later. 0 / -1. */
int af_actuator_scale(af_mlink_t *link, long target, const char *reason, af_actuator_fn *fn,
                      void *arg);

#endif
