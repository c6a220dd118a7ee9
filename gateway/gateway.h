/* The gateway's shared context: its settings and the modules main.c wires
 * together. Handler modules (api_*.c) and server.c read it; main.c owns every
 * pointer in it and frees them in reverse order. A plain struct on purpose:
 * it is the wiring, not an object with behaviour. */
#ifndef AF_GW_GATEWAY_H
#define AF_GW_GATEWAY_H

#include "agent_link.h"
#include "audit.h"
#include "auth_jwt.h"
#include "auth_keys.h"
#include "manager_link.h"
#include "metrics.h"
#include "pool_cache.h"
#include "ratelimit.h"
#include "redis.h"
#include "route_store.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    /* settings */
    const char *gateway_id;
    const char *default_model;
    size_t max_body;
    long request_timeout_ms;  /* manager requests and agent idle time */
    long spawn_timeout_ms;    /* SPAWN waits for the agents to be ready */
    long manager_timeout_ms;  /* other manager requests */
    long max_inflight;        /* overload.c: HTTP requests in flight before shedding (0 = no limit) */
    long agent_queue_max;     /* overload.c: requests in flight per agent before shedding (0 = no limit) */
    /* modules (not owned here) */
    struct event_base *base;
    af_mlink_t *manager;
    af_alink_t *agents;
    af_route_store_t *routes;
    af_pool_cache_t *pool;    /* stateless placements (/v1/messages) */
    af_jwt_verifier_t *jwt;   /* NULL: JWT auth off */
    af_keys_t *keys;          /* NULL: API keys off */
    af_ratelimit_t *ip_limit;
    af_ratelimit_t *user_limit;
    af_audit_t *audit;
    af_metrics_t *metrics;
    af_redis_t *redis;        /* NULL: no --redis-url (everything in memory) */
    struct af_cost_t *cost;   /* cost.h: budgets, usage, cache, model routing */
    /* metric families */
    af_metric_t *m_requests, *m_duration, *m_inflight, *m_rate_limited, *m_auth_failures;
    af_metric_t *m_upstream_errors;
    af_metric_t *m_shed;      /* overload.c: gateway_shed_total{reason} */
    /* counters */
    unsigned long long seq;
    /* open requests (request.c links them) and the graceful stop (shutdown.c) */
    struct af_gw_req_t *live;
    bool draining;            /* SIGTERM seen: new requests get 503, /readyz 503 */
    /* request.c: finished request objects kept for reuse (af_gw_req_pool_free) */
    struct af_gw_req_t *spare;
    int nspare;
    const struct timeval *watch_delay; /* common timeout for af_gw_req_watch_close */
} af_gw_t;

/* What a request refused or ended by the graceful stop is told. */
#define AF_GW_DRAINING_MSG "the gateway is shutting down; retry the request"

#endif
