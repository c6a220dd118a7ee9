/* Heartbeat expiry. See health.h. */
#include "health.h"

af_health_t af_health_check(const af_agent_t *a, uint64_t now_ns, int heartbeat_ms,
                            int spawn_timeout_ms)
{
    uint64_t silent = now_ns > a->last_seen_ns ? now_ns - a->last_seen_ns : 0;
    switch (a->state) {
    case AF_AGENT_SPAWNING:
        return silent > (uint64_t)spawn_timeout_ms * 1000000ULL ? AF_HEALTH_SPAWN_TIMEOUT
                                                                : AF_HEALTH_OK;
    case AF_AGENT_READY:
    case AF_AGENT_DRAINING:
        return silent > (uint64_t)heartbeat_ms * AF_HEALTH_MISSES * 1000000ULL ? AF_HEALTH_SILENT
                                                                               : AF_HEALTH_OK;
    default:
        return AF_HEALTH_OK;
    }
}

size_t af_health_overdue(af_registry_t *reg, uint64_t now_ns, int heartbeat_ms,
                         int spawn_timeout_ms, af_agent_t **out, af_health_t *why, size_t max)
{
    size_t n = 0;
    for (af_agent_t *a = af_registry_first(reg); a && n < max; a = af_registry_next(a)) {
        af_health_t h = af_health_check(a, now_ns, heartbeat_ms, spawn_timeout_ms);
        if (h != AF_HEALTH_OK) {
            out[n] = a;
            why[n] = h;
            n++;
        }
    }
    return n;
}
