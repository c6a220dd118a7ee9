/* STATS source. See source_manager.h. */
#include "source_manager.h"

#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_count(const cJSON *obj, const char *key, double *out, char *err, size_t errlen,
                   const char *where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 1e12) {
        snprintf(err, errlen, "STATS: %s%s missing or not a count", where, key);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

int af_source_manager_parse(const cJSON *body, af_sample_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->rps = -1;
    out->cpu_cores = -1;
    out->memory_bytes = -1;
    const cJSON *agents = cJSON_GetObjectItemCaseSensitive(body, "agents");
    if (!cJSON_IsObject(agents)) {
        snprintf(err, errlen, "STATS: agents missing or not an object");
        return -1;
    }
    double ready, spawning, draining, sessions;
    if (s_count(agents, "ready", &ready, err, errlen, "agents.") < 0 ||
        s_count(agents, "spawning", &spawning, err, errlen, "agents.") < 0 ||
        s_count(agents, "draining", &draining, err, errlen, "agents.") < 0 ||
        s_count(body, "sessions", &sessions, err, errlen, "") < 0)
        return -1;
    out->ready = (long)ready;
    out->spawning = (long)spawning;
    out->draining = (long)draining;
    out->sessions = sessions;
    const cJSON *pool = cJSON_GetObjectItemCaseSensitive(body, "pool");
    out->pool = cJSON_IsNumber(pool) && pool->valuedouble >= 0 && pool->valuedouble <= 1e9
                    ? (long)pool->valuedouble
                    : -1;
    double cap = 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "capacity");
    if (cJSON_IsNumber(c) && c->valuedouble > 0)
        cap = c->valuedouble;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "utilization");
    out->saturated = (cap > 0 && sessions >= cap) ||
                     (cJSON_IsNumber(u) && u->valuedouble >= 0.999);
    return 0;
}

typedef struct {
    af_sample_fn *fn;
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
    af_sample_t s;
    char err[160];
    if (af_source_manager_parse(reply->body, &s, err, sizeof err) < 0) {
        call.fn(NULL, err, call.arg);
        return;
    }
    call.fn(&s, NULL, call.arg);
}

int af_source_manager_fetch(af_mlink_t *link, af_sample_fn *fn, void *arg)
{
    s_call_t *call = malloc(sizeof *call);
    if (!call)
        return -1;
    call->fn = fn;
    call->arg = arg;
    if (af_mlink_request(link, "STATS", cJSON_CreateObject(), s_on_reply, call) < 0) {
        free(call);
        return -1;
    }
    return 0;
}
