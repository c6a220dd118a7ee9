/* Redis route store. See route_store.h.
 * Every write goes to Redis and to the in-memory copy; a get asks Redis and
 * falls back to the copy only when Redis is down or the read fails. When Redis
 * answers it wins, "no such key" included: another gateway may have moved or
 * dropped the session since (a route that only this copy has was written while
 * Redis was down; placing the session again is safe, its history is in Redis). */
#include "route_store.h"

#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_get_t s_get_t;

/* Routes written while Redis was down, written back (SET NX: a route another
 * gateway made meanwhile wins) by the first operation that finds it up again.
 * Bounded: beyond it the oldest are forgotten (those sessions get placed again). */
#define PENDING_MAX 4096

typedef struct {
    af_redis_t *redis;         /* borrowed: the gateway's shared connection */
    af_route_store_t *mem;
    long ttl_s;
    s_get_t *gets;             /* pending GETs */
    af_metric_t *m_fallbacks;
    char (*pending)[64];       /* ring of session ids written while down */
    size_t npending, pending_next;
} s_redis_t;

struct s_get_t {
    s_get_t *prev, *next;
    s_redis_t *store;          /* NULL: the store was destroyed */
    af_route_store_fn *cb;     /* NULL: cancelled */
    void *arg;
    char session_id[64];
};

static void s_unlink(s_redis_t *st, s_get_t *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        st->gets = g->next;
    if (g->next)
        g->next->prev = g->prev;
}

static void s_remember(s_redis_t *st, const char *sid)
{
    if (!st->pending && !(st->pending = calloc(PENDING_MAX, sizeof *st->pending)))
        return;
    snprintf(st->pending[st->pending_next], sizeof st->pending[0], "%s", sid);
    st->pending_next = (st->pending_next + 1) % PENDING_MAX;
    if (st->npending < PENDING_MAX)
        st->npending++;
}

static void s_resync_one(bool found, const char *agent_id, const char *user, void *arg)
{
    const void **ctx = arg; /* {store, session id} */
    s_redis_t *st = (s_redis_t *)ctx[0];
    if (!found)
        return;
    char val[140];
    snprintf(val, sizeof val, "%s %s", agent_id, *user ? user : "-");
    af_redis_cmd(st->redis, NULL, NULL, "SET route:%s %s EX %ld NX", (const char *)ctx[1], val,
                 st->ttl_s);
}

/* Redis is up again: write back the routes made while it was down. */
static void s_resync(s_redis_t *st)
{
    if (!st->npending || !af_redis_up(st->redis))
        return;
    af_info("event=routes_resync count=%zu", st->npending);
    size_t first = (st->pending_next + PENDING_MAX - st->npending) % PENDING_MAX;
    for (size_t i = 0; i < st->npending; i++) {
        const char *sid = st->pending[(first + i) % PENDING_MAX];
        const void *ctx[2] = {st, sid};
        af_route_store_get(st->mem, sid, s_resync_one, ctx); /* answers at once */
    }
    st->npending = 0;
}

static void s_on_get(void *arg, redisReply *reply, const char *err)
{
    s_get_t *g = arg;
    s_redis_t *st = g->store;
    if (!st) {
        free(g);
        return;
    }
    s_unlink(st, g);
    if (!g->cb) {
        free(g);
        return;
    }
    char agent[64], user[64];
    if (!err && reply->type == REDIS_REPLY_STRING && reply->len < 160 &&
        sscanf(reply->str, "%63s %63s", agent, user) == 2 && af_id_valid(agent, 63)) {
        af_route_store_put(st->mem, g->session_id, agent, user);
        g->cb(true, agent, user, g->arg);
    } else if (!err && reply->type == REDIS_REPLY_NIL) {
        af_route_store_del(st->mem, g->session_id);
        g->cb(false, NULL, NULL, g->arg);
    } else {
        af_metric_inc(st->m_fallbacks, "get");
        af_warn("event=route_get_failed session_id=%s err=\"%s\" fallback=memory", g->session_id,
                err ? err : "malformed route");
        af_route_store_get(st->mem, g->session_id, g->cb, g->arg);
    }
    free(g);
}

static void s_get(void *impl, const char *sid, af_route_store_fn *cb, void *arg)
{
    s_redis_t *st = impl;
    s_resync(st);
    s_get_t *g = af_redis_up(st->redis) ? calloc(1, sizeof *g) : NULL;
    if (g) {
        g->store = st;
        g->cb = cb;
        g->arg = arg;
        snprintf(g->session_id, sizeof g->session_id, "%s", sid);
        g->next = st->gets;
        if (st->gets)
            st->gets->prev = g;
        st->gets = g;
        if (af_redis_cmd(st->redis, s_on_get, g, "GET route:%s", sid) == 0)
            return;
        s_unlink(st, g);
        free(g);
    }
    af_metric_inc(st->m_fallbacks, "get");
    af_route_store_get(st->mem, sid, cb, arg);
}

static int s_put(void *impl, const char *sid, const char *agent_id, const char *user)
{
    s_redis_t *st = impl;
    s_resync(st);
    char val[140];
    snprintf(val, sizeof val, "%s %s", agent_id, *user ? user : "-");
    if (af_redis_cmd(st->redis, NULL, NULL, "SET route:%s %s EX %ld", sid, val, st->ttl_s) < 0) {
        af_metric_inc(st->m_fallbacks, "put");
        s_remember(st, sid);
    }
    return af_route_store_put(st->mem, sid, agent_id, user);
}

static int s_del(void *impl, const char *sid)
{
    s_redis_t *st = impl;
    if (af_redis_cmd(st->redis, NULL, NULL, "DEL route:%s", sid) < 0)
        af_metric_inc(st->m_fallbacks, "del");
    return af_route_store_del(st->mem, sid);
}

static size_t s_count(void *impl) { return af_route_store_count(((s_redis_t *)impl)->mem); }

static void s_cancel(void *impl, void *arg)
{
    for (s_get_t *g = ((s_redis_t *)impl)->gets; g; g = g->next)
        if (g->arg == arg)
            g->cb = NULL;
}

static void s_destroy(void *impl)
{
    s_redis_t *st = impl;
    /* Pending GETs are freed by their replies (which come at the latest when
     * the connection is destroyed); nobody waits on them any more. */
    for (s_get_t *g = st->gets; g; g = g->next)
        g->store = NULL;
    af_route_store_destroy(&st->mem);
    free(st->pending);
    free(st);
}

static double s_up_value(void *arg) { return af_redis_up(((s_redis_t *)arg)->redis) ? 1 : 0; }

static const af_route_store_ops_t s_ops = {s_get, s_put, s_del, s_count, s_destroy, s_cancel};

af_route_store_t *af_route_store_new_redis(af_redis_t *redis, size_t max_routes, long ttl_s,
                                           af_metrics_t *registry)
{
    s_redis_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->ttl_s = ttl_s > 0 ? ttl_s : 86400;
    st->redis = redis;
    st->m_fallbacks = af_metrics_counter(registry, "gateway_route_store_fallbacks_total",
                                         "route store operations served by memory only because Redis was down or failed",
                                         "op");
    st->mem = af_route_store_new_memory(max_routes);
    if (!st->mem || !st->m_fallbacks ||
        !af_metrics_callback(registry, "gateway_redis_up",
                             "1 while Redis (shared session routes) is reachable, 0 = degraded to memory",
                             AF_METRIC_GAUGE, s_up_value, st)) {
        af_route_store_destroy(&st->mem);
        free(st);
        return NULL;
    }
    return af_route_store_new(&s_ops, st);
}
