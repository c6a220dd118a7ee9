/* SCALE sender. See actuator.h. */
#include "actuator.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *af_actuator_body(long target, const char *reason)
{
    cJSON *b = cJSON_CreateObject();
    if (!b || !cJSON_AddNumberToObject(b, "target", (double)target) ||
        !cJSON_AddStringToObject(b, "role", "admin") ||
        !cJSON_AddStringToObject(b, "reason", reason ? reason : "")) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

typedef struct {
    af_actuator_fn *fn;
    void *arg;
} s_call_t;

static void s_on_reply(const af_msg_t *reply, const char *why, void *arg)
{
    s_call_t call = *(s_call_t *)arg;
    free(arg);
    if (!reply) {
        call.fn(NULL, why, call.arg);
        return;
    }
    af_scale_reply_t r = {
        .target = (long)af_msg_num(reply, "target", -1),
        .current = (long)af_msg_num(reply, "current", -1),
        .spawning = (long)af_msg_num(reply, "spawning", -1),
        .draining = (long)af_msg_num(reply, "draining", -1),
    };
    call.fn(&r, NULL, call.arg);
}

int af_actuator_scale(af_mlink_t *link, long target, const char *reason, af_actuator_fn *fn,
                      void *arg)
{
    cJSON *body = af_actuator_body(target, reason);
    s_call_t *call = malloc(sizeof *call);
    if (!body || !call) {
        cJSON_Delete(body);
        free(call);
        return -1;
    }
    call->fn = fn;
    call->arg = arg;
    if (af_mlink_request(link, "SCALE", body, s_on_reply, call) < 0) {
        free(call);
        return -1;
    }
    return 0;
}
