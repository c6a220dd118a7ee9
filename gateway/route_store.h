/* Session → agent routes behind one interface, so several gateways can share
 * them through Redis later (issue #9) while this one keeps them in memory.
 * Lookups are asynchronous (a Redis implementation answers from the loop); the
 * in-memory one calls back at once. Writes are fire-and-forget. */
#ifndef AF_GW_ROUTE_STORE_H
#define AF_GW_ROUTE_STORE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct af_route_store_t af_route_store_t;

/* found: the route exists; agent_id/user valid only during the call. */
typedef void(af_route_store_fn)(bool found, const char *agent_id, const char *user, void *arg);

typedef struct {
    void (*get)(void *impl, const char *session_id, af_route_store_fn *cb, void *arg);
    int (*put)(void *impl, const char *session_id, const char *agent_id, const char *user);
    int (*del)(void *impl, const char *session_id);
    size_t (*count)(void *impl);
    void (*destroy)(void *impl);
    /* Optional (asynchronous stores): drop pending gets made with arg. */
    void (*cancel)(void *impl, void *arg);
} af_route_store_ops_t;

/* Wraps an implementation (ops static, impl taken). */
af_route_store_t *af_route_store_new(const af_route_store_ops_t *ops, void *impl);
/* The in-memory implementation, bounded to max_routes (oldest dropped first). */
af_route_store_t *af_route_store_new_memory(size_t max_routes);
void af_route_store_destroy(af_route_store_t **self_p);

void af_route_store_get(af_route_store_t *self, const char *session_id, af_route_store_fn *cb,
                        void *arg);
int af_route_store_put(af_route_store_t *self, const char *session_id, const char *agent_id,
                       const char *user);
int af_route_store_del(af_route_store_t *self, const char *session_id);
size_t af_route_store_count(af_route_store_t *self);
/* Forgets pending gets made with arg (their callbacks never run): call it when
 * the waiting request goes away. */
void af_route_store_cancel(af_route_store_t *self, void *arg);

/* Redis (route_store_redis.c): `route:{session_id}` = "agent_id user" with a
 * TTL, shared by every gateway on that Redis, over a bounded in-memory copy
 * that answers while Redis is down (degraded: then routes are per gateway).
 * redis is borrowed and must outlive the store. registry gets gateway_redis_up
 * and gateway_route_store_fallbacks_total{op}. */
struct af_redis_t;
struct af_metrics_t;
af_route_store_t *af_route_store_new_redis(struct af_redis_t *redis, size_t max_routes,
                                           long ttl_s, struct af_metrics_t *registry);

#endif
