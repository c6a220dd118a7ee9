/* Redis lease for manager leadership. See lease.h.
 * Timeline of one tick (every ttl/3): a standby sends SET key id NX PX ttl; on OK it
 * sends INCR key:fence and leads with that token once the reply comes. A leader sends
 * a compare-and-extend; 0 back means someone else holds the key: step down at once.
 * Errors or Redis down: the leader keeps leading only until its own deadline. */
#include "lease.h"

#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Extend only if the lease is still ours. */
static const char *s_renew_lua =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
/* Give it up only if it is still ours. */
static const char *s_release_lua =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end";

struct af_lease_t {
    af_redis_t *redis;
    struct event *timer;
    char key[128], fence_key[140], id[128], holder[128];
    int ttl_ms;
    bool leader, busy, dead; /* dead: destroyed while a command was out; freed by its reply */
    uint64_t fence;
    uint64_t sent_ns;        /* when the in-flight take/renew left */
    uint64_t valid_until_ns; /* our lease by our clock (leader only) */
    af_lease_fn *fn;
    void *arg;
};

/* A reply to a destroyed lease frees it and stops there. */
static bool s_reaped(af_lease_t *self)
{
    if (!self->dead)
        return false;
    free(self);
    return true;
}

static uint64_t s_margin_ns(const af_lease_t *self)
{
    return (uint64_t)self->ttl_ms * 1000000ULL / 5; /* clock drift + scheduling slack */
}

static void s_set_leader(af_lease_t *self, bool leader)
{
    if (self->leader == leader)
        return;
    self->leader = leader;
    if (leader)
        af_info("event=lease_acquired id=%s fence=%llu ttl_ms=%d", self->id,
                (unsigned long long)self->fence, self->ttl_ms);
    else
        af_warn("event=lease_lost id=%s fence=%llu holder=%s", self->id,
                (unsigned long long)self->fence, self->holder);
    if (self->fn)
        self->fn(self->arg, leader, self->fence);
}

static void s_on_fence(void *arg, redisReply *r, const char *err)
{
    af_lease_t *self = arg;
    if (s_reaped(self))
        return;
    self->busy = false;
    if (err || !r || r->type != REDIS_REPLY_INTEGER) {
        af_warn("event=lease_fence_failed error=\"%s\"", err ? err : "bad reply");
        return; /* the key expires; we or another take it again */
    }
    self->fence = (uint64_t)r->integer;
    self->valid_until_ns = self->sent_ns + (uint64_t)self->ttl_ms * 1000000ULL;
    snprintf(self->holder, sizeof self->holder, "%s", self->id);
    s_set_leader(self, true);
}

static void s_on_holder(void *arg, redisReply *r, const char *err)
{
    af_lease_t *self = arg;
    if (s_reaped(self))
        return;
    self->busy = false;
    if (!err && r && r->type == REDIS_REPLY_STRING)
        snprintf(self->holder, sizeof self->holder, "%.*s", (int)r->len, r->str);
}

static void s_on_take(void *arg, redisReply *r, const char *err)
{
    af_lease_t *self = arg;
    if (s_reaped(self))
        return;
    if (err || !r || r->type != REDIS_REPLY_STATUS) { /* nil: someone else leads */
        self->busy = !err && af_redis_cmd(self->redis, s_on_holder, self, "GET %s", self->key) == 0;
        return;
    }
    if (af_redis_cmd(self->redis, s_on_fence, self, "INCR %s", self->fence_key) < 0)
        self->busy = false;
}

static void s_on_renew(void *arg, redisReply *r, const char *err)
{
    af_lease_t *self = arg;
    if (s_reaped(self))
        return;
    self->busy = false;
    if (err || !r || r->type != REDIS_REPLY_INTEGER) {
        af_warn("event=lease_renew_failed error=\"%s\"", err ? err : "bad reply");
        return; /* keep leading until our own deadline */
    }
    if (r->integer == 1) {
        self->valid_until_ns = self->sent_ns + (uint64_t)self->ttl_ms * 1000000ULL;
        return;
    }
    self->busy = af_redis_cmd(self->redis, s_on_holder, self, "GET %s", self->key) == 0;
    s_set_leader(self, false);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_lease_t *self = arg;
    if (self->leader && !af_lease_leader(self))
        s_set_leader(self, false); /* not renewed in time: stop before anyone may take over */
    if (self->busy)
        return;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", self->ttl_ms);
    self->sent_ns = af_now_ns();
    int rc = self->leader ? af_redis_cmd(self->redis, s_on_renew, self, "EVAL %s 1 %s %s %s",
                                         s_renew_lua, self->key, self->id, ttl)
                          : af_redis_cmd(self->redis, s_on_take, self, "SET %s %s NX PX %s",
                                         self->key, self->id, ttl);
    self->busy = rc == 0;
}

af_lease_t *af_lease_new(struct event_base *base, af_redis_t *redis, const char *key,
                         const char *id, int ttl_ms, af_lease_fn *fn, void *arg)
{
    if (!redis || !key || !*key || !id || !*id || ttl_ms < 300)
        return NULL;
    af_lease_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    snprintf(self->key, sizeof self->key, "%s", key);
    snprintf(self->fence_key, sizeof self->fence_key, "%s:fence", key);
    snprintf(self->id, sizeof self->id, "%s", id);
    self->ttl_ms = ttl_ms;
    self->fn = fn;
    self->arg = arg;
    self->timer = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    int every = ttl_ms / 3;
    struct timeval tv = {every / 1000, (long)(every % 1000) * 1000};
    if (!self->timer || event_add(self->timer, &tv) < 0) {
        af_lease_destroy(&self);
        return NULL;
    }
    event_active(self->timer, EV_TIMEOUT, 0); /* first try now */
    af_info("event=lease_standby id=%s key=%s ttl_ms=%d", id, key, ttl_ms);
    return self;
}

void af_lease_destroy(af_lease_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_lease_t *self = *self_p;
    if (self->leader)
        af_redis_cmd(self->redis, NULL, NULL, "EVAL %s 1 %s %s", s_release_lua, self->key,
                     self->id);
    if (self->timer)
        event_free(self->timer);
    self->timer = NULL;
    *self_p = NULL;
    if (self->busy)
        self->dead = true; /* the reply (or the redis shutdown) frees it */
    else
        free(self);
}

bool af_lease_leader(const af_lease_t *self)
{
    return self && self->leader && af_now_ns() + s_margin_ns(self) < self->valid_until_ns;
}

uint64_t af_lease_fence(const af_lease_t *self)
{
    return self ? self->fence : 0;
}

const char *af_lease_holder(const af_lease_t *self)
{
    return self ? self->holder : "";
}

static double s_metric_leader(void *arg)
{
    return af_lease_leader(arg) ? 1 : 0;
}

static double s_metric_fence(void *arg)
{
    return (double)af_lease_fence(arg);
}

int af_lease_metrics(af_lease_t *self, af_metrics_t *m)
{
    if (!af_metrics_callback(m, "manager_leader", "1 while this manager holds the lease",
                             AF_METRIC_GAUGE, s_metric_leader, self) ||
        !af_metrics_callback(m, "manager_fence_token",
                             "fencing token of this manager's last lease (0: never led)",
                             AF_METRIC_GAUGE, s_metric_fence, self))
        return -1;
    return 0;
}
