/* The manager's actions over the registry. See fleet.h.
 * Contracts: every SPAWN gets exactly one reply (OK when all its agents are
 * READY, ERROR when any fails, the others destroyed); every agent that becomes
 * dead is destroyed through the provider once; only unexpected deaths heal. */
#include "fleet.h"

#include "health.h"
#include "log.h"
#include "quota.h"
#include "scale.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_SPAWN_MAX 50
#define S_PUMP_BATCH 32          /* spawns per loop turn: keeps the loop responsive */
#define S_HEAL_ATTEMPTS 5
#define S_TOMBSTONE_BEATS 10     /* dead agents remembered this many intervals */
#define S_SAMPLES 1024
#define S_GATEWAYS_MAX 64        /* a HELLO flood cannot grow the list without bound */

typedef struct s_spawn {
    uint64_t id;
    zframe_t *rid;
    char req[AF_PROTO_REQ_MAX];
    int n, ready;
    char ids[S_SPAWN_MAX][AF_AGENT_ID_MAX];
    struct s_spawn *next;
} s_spawn_t;

typedef struct s_gateway {
    char id[64];
    char endpoint[256];
    uint64_t last_seen_ns;
    struct s_gateway *next;
} s_gateway_t;

struct af_fleet_t {
    struct event_base *base;
    af_fleet_config_t cfg;
    char *endpoint, *api_key;
    af_mgr_metrics_t *metrics;
    af_registry_t *reg;
    af_provider_t *provider;
    zsock_t *sock;
    af_zev_t *zev;
    s_spawn_t *spawns;
    uint64_t next_spawn_id;
    s_gateway_t *gateways;
    int pool_target;
    uint64_t pool_backoff_until_ns;
    /* After a restart, agents the provider still runs re-register first: no
     * pool spawns until they have (or 3 heartbeat intervals have passed). */
    uint64_t warmup_until_ns;
    /* Until then (3 heartbeat intervals after start) gateways are still saying
     * hello to us: our list may miss live ones, so it goes out `partial` and
     * agents only add from it; the first complete list follows. */
    uint64_t gw_settle_ns;
    size_t expect_adopt, adopted;
    uint64_t seq;                    /* req ids for manager-originated messages */
    uint8_t *hb_buf;                 /* our HEARTBEAT body, encoded once per tick */
    size_t hb_len;
    struct event *tick, *pump;
    double samples[S_SAMPLES];       /* spawn durations for STATS p50/p99 */
    size_t nsamples, sample_pos;
    uint64_t spawn_count;
    const af_lease_t *lease; /* HA: NULL = we always lead (one manager) */
};

static void s_fail_spawn(af_fleet_t *self, uint64_t batch, const char *code, const char *msg);

/* Runs the pool upkeep on the next loop turn, after pending I/O: a zero timer,
 * not event_active, so a long spawn run never starves READYs and heartbeats. */
static void s_pump_soon(af_fleet_t *self)
{
    static const struct timeval zero = {0, 0};
    evtimer_add(self->pump, &zero);
}

/* ---- helpers -------------------------------------------------------------- */

static void s_gauges(af_fleet_t *self)
{
    if (!self->metrics)
        return;
    for (int s = 0; s < AF_AGENT_STATE_COUNT; s++)
        af_metric_set(self->metrics->agents, (double)af_registry_count(self->reg, s),
                      af_agent_state_name(s));
    af_metric_set(self->metrics->sessions, (double)af_registry_sessions(self->reg));
    af_metric_set(self->metrics->capacity, (double)af_registry_capacity(self->reg));
}

static void s_next_req(af_fleet_t *self, char *buf, size_t len)
{
    snprintf(buf, len, "m%llu", (unsigned long long)++self->seq);
}

/* Sends a pre-encoded body to one peer; failures (peer gone, HWM) are counted
 * by the caller's health logic, not here. */
static int s_send_raw(af_fleet_t *self, const char *peer, const char *verb, const uint8_t *body,
                      size_t len)
{
    if (!self->sock)
        return -1;
    void *h = zsock_resolve(self->sock);
    if (zmq_send(h, peer, strlen(peer), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_send(h, AF_PROTO_TAG, 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(h, verb, strlen(verb), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(h, body, len, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

/* Sends verb {req: fresh, ...body} to an agent (body ownership taken). */
static int s_send_agent(af_fleet_t *self, const char *agent_id, const char *verb, cJSON *body)
{
    char req[32];
    s_next_req(self, req, sizeof req);
    af_msg_t *m = af_msg_new(verb, req, body);
    if (!m || !self->sock) {
        af_msg_destroy(&m);
        return -1;
    }
    if (self->lease) /* HA: agents refuse DRAIN/SHUTDOWN older than the newest token seen */
        cJSON_AddNumberToObject(m->body, "fence", (double)af_lease_fence(self->lease));
    m->routing_id = zframe_new(agent_id, strlen(agent_id));
    int rc = af_proto_send(self->sock, &m, self->cfg.codec);
    af_zev_kick(self->zev);
    return rc;
}

static void s_reply(af_fleet_t *self, zframe_t *rid, const char *req, const char *verb,
                    cJSON *body)
{
    af_msg_t *m = af_msg_new(verb, req, body);
    if (!m || !self->sock) {
        af_msg_destroy(&m);
        return;
    }
    if (rid)
        m->routing_id = zframe_dup(rid);
    if (self->lease) /* HA: WELCOME tells agents the newest token */
        cJSON_AddNumberToObject(m->body, "fence", (double)af_lease_fence(self->lease));
    if (af_proto_send(self->sock, &m, self->cfg.codec) < 0)
        af_warn("event=reply_failed verb=%s req=%s error=\"%s\"", verb, req, strerror(errno));
    af_zev_kick(self->zev);
}

static void s_count_request(af_fleet_t *self, const char *verb, const char *code)
{
    if (self->metrics)
        af_metric_inc(self->metrics->requests, verb, code);
}

/* body.gateways: the data endpoints we know, marked partial while gateways
 * may still be saying hello to a manager that just started (gw_settle_ns). */
static void s_add_gateways(af_fleet_t *self, cJSON *body)
{
    cJSON *arr = cJSON_AddArrayToObject(body, "gateways");
    for (s_gateway_t *g = self->gateways; arr && g; g = g->next)
        cJSON_AddItemToArray(arr, cJSON_CreateString(g->endpoint));
    if (self->gw_settle_ns)
        cJSON_AddBoolToObject(body, "partial", true);
}

/* Names that end up in logs, labels and SD documents: 1..max-1 printable bytes,
 * no spaces, quotes or backslashes. */
static bool s_name_ok(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) >= max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '\\' || *p >= 0x7f)
            return false;
    return true;
}

bool af_fleet_visible(const af_agent_t *a) { return a->state != AF_AGENT_DEAD && !a->deleting; }

cJSON *af_fleet_agent_json(const af_agent_t *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char url[128];
    snprintf(url, sizeof url, "/v1/agents/%s", a->id);
    cJSON_AddStringToObject(o, "agent_id", a->id);
    cJSON_AddStringToObject(o, "owner", a->owner);
    cJSON_AddStringToObject(o, "status", af_agent_state_name(a->state));
    cJSON_AddNumberToObject(o, "sessions", a->sessions);
    cJSON_AddNumberToObject(o, "capacity", a->capacity);
    cJSON_AddItemToObject(o, "spec", af_spec_to_json(&a->spec));
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddStringToObject(o, "metrics", a->metrics);
    cJSON_AddNumberToObject(o, "created_ms", (double)a->created_ms);
    return o;
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Creates one agent record and asks the provider for it. Returns the agent
 * (spawning) or NULL with the cause in err. */
static af_agent_t *s_spawn_one(af_fleet_t *self, const char *owner, const af_spec_t *spec,
                               uint64_t batch, bool heal, int attempts, char *err,
                               size_t errlen)
{
    char id[AF_AGENT_ID_MAX];
    if (af_id_new(id, sizeof id, "ag_") < 0) {
        snprintf(err, errlen, "cannot make an agent id");
        return NULL;
    }
    uint64_t now = af_now_ns();
    af_agent_t *a = af_registry_add(self->reg, id, owner, spec, AF_AGENT_SPAWNING,
                                    self->cfg.capacity, now);
    if (!a) {
        snprintf(err, errlen, "cannot add agent %s to the registry", id);
        return NULL;
    }
    a->spawn_ns = now;
    a->batch = batch;
    a->heal = heal;
    a->attempts = attempts;
    if (af_id_new(a->token, sizeof a->token, "jt_") < 0) {
        af_registry_remove(self->reg, a);
        snprintf(err, errlen, "cannot make a join token");
        return NULL;
    }
    af_provider_spawn_t req = {a->id, a->owner, &a->spec, self->endpoint, a->token,
                               self->cfg.heartbeat_ms};
    if (!self->provider || af_provider_create(self->provider, &req, err, errlen) < 0) {
        if (!self->provider)
            snprintf(err, errlen, "no provider");
        af_registry_remove(self->reg, a);
        return NULL;
    }
    /* The provider may have reported FAILED synchronously: a is then dead. */
    af_debug("event=agent_spawning agent_id=%s owner=%s", id, owner);
    s_gauges(self);
    return a;
}

/* Tells the provider to destroy a once. */
static void s_destroy_agent(af_fleet_t *self, af_agent_t *a)
{
    if (a->destroyed)
        return;
    a->destroyed = true;
    if (self->provider && af_provider_destroy_agent(self->provider, a->id) < 0)
        af_debug("event=destroy_unknown agent_id=%s", a->id);
}

/* a died without being asked to: mark dead, destroy, fail its spawn or heal. */
static void s_agent_died(af_fleet_t *self, af_agent_t *a, const char *code, const char *cause)
{
    if (a->state == AF_AGENT_DEAD)
        return;
    af_agent_state_t was = a->state;
    af_registry_apply(self->reg, a, AF_AGENT_EV_EXPIRE, af_now_ns());
    s_destroy_agent(self, a);
    if (a->deleting) {
        s_gauges(self);
        return;
    }
    af_warn("event=agent_dead agent_id=%s owner=%s was=%s cause=\"%s\"", a->id, a->owner,
            af_agent_state_name(was), cause);
    if (was == AF_AGENT_SPAWNING && self->metrics)
        af_metric_inc(self->metrics->spawn_failures, code);
    if (a->batch) {
        char msg[384];
        snprintf(msg, sizeof msg, "agent %s: %s", a->id, cause);
        s_fail_spawn(self, a->batch, code, msg);
    } else if (a->heal && !strcmp(a->owner, AF_POOL_OWNER)) {
        /* The pool upkeep respawns up to the target; no per-agent heal needed. */
        if (self->metrics && was != AF_AGENT_SPAWNING)
            af_metric_inc(self->metrics->heals);
        if (was == AF_AGENT_SPAWNING)
            self->pool_backoff_until_ns = af_now_ns() + 5000000000ULL;
        s_pump_soon(self);
    } else if (a->heal) {
        int attempts = was == AF_AGENT_SPAWNING ? a->attempts + 1 : 0;
        if (attempts >= S_HEAL_ATTEMPTS) {
            af_error("event=heal_abandoned owner=%s attempts=%d cause=\"%s\"", a->owner,
                     attempts, cause);
        } else {
            char err[256];
            af_agent_t *r = s_spawn_one(self, a->owner, &a->spec, 0, true, attempts, err,
                                        sizeof err);
            if (r) {
                af_info("event=agent_heal dead=%s replacement=%s owner=%s", a->id, r->id,
                        a->owner);
                if (self->metrics)
                    af_metric_inc(self->metrics->heals);
            } else
                af_error("event=heal_failed dead=%s owner=%s error=\"%s\"", a->id, a->owner, err);
        }
    }
    s_gauges(self);
}

static s_spawn_t *s_spawn_find(af_fleet_t *self, uint64_t id, s_spawn_t ***link)
{
    for (s_spawn_t **p = &self->spawns; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            if (link)
                *link = p;
            return *p;
        }
    return NULL;
}

static void s_spawn_free(af_fleet_t *self, s_spawn_t *sp)
{
    s_spawn_t **link;
    if (s_spawn_find(self, sp->id, &link))
        *link = sp->next;
    zframe_destroy(&sp->rid);
    free(sp);
}

/* Fails a pending SPAWN: its other agents are destroyed (all or nothing). */
static void s_fail_spawn(af_fleet_t *self, uint64_t batch, const char *code, const char *msg)
{
    s_spawn_t *sp = s_spawn_find(self, batch, NULL);
    if (!sp)
        return;
    for (int i = 0; i < sp->n; i++) {
        af_agent_t *a = af_registry_get(self->reg, sp->ids[i]);
        if (!a)
            continue;
        a->batch = 0;
        a->heal = false;
        if (a->state != AF_AGENT_DEAD) {
            a->deleting = true;
            af_registry_apply(self->reg, a, AF_AGENT_EV_DESTROY, af_now_ns());
            s_destroy_agent(self, a);
        }
    }
    af_warn("event=spawn_failed req=%s count=%d code=%s cause=\"%s\"", sp->req, sp->n, code, msg);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "message", msg);
    s_reply(self, sp->rid, sp->req, "ERROR", body);
    s_count_request(self, "SPAWN", code);
    s_spawn_free(self, sp);
    s_gauges(self);
}

static void s_spawn_progress(af_fleet_t *self, af_agent_t *a)
{
    s_spawn_t *sp = s_spawn_find(self, a->batch, NULL);
    a->batch = 0;
    if (!sp || ++sp->ready < sp->n)
        return;
    cJSON *body = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(body, "agents");
    for (int i = 0; i < sp->n; i++) {
        af_agent_t *x = af_registry_get(self->reg, sp->ids[i]);
        if (x)
            cJSON_AddItemToArray(arr, af_fleet_agent_json(x));
    }
    s_reply(self, sp->rid, sp->req, "OK", body);
    s_count_request(self, "SPAWN", "ok");
    af_info("event=spawn_done req=%s count=%d owner=%s", sp->req, sp->n, a->owner);
    s_spawn_free(self, sp);
}

static void s_sample(af_fleet_t *self, double secs)
{
    self->samples[self->sample_pos] = secs;
    self->sample_pos = (self->sample_pos + 1) % S_SAMPLES;
    if (self->nsamples < S_SAMPLES)
        self->nsamples++;
    self->spawn_count++;
    if (self->metrics)
        af_metric_observe(self->metrics->spawn_seconds, secs);
}

/* ---- provider events ------------------------------------------------------ */

void af_fleet_provider_event(void *arg, const char *agent_id, af_provider_event_t ev,
                             const char *detail)
{
    af_fleet_t *self = arg;
    af_agent_t *a = af_registry_get(self->reg, agent_id);
    if (!a)
        return;
    switch (ev) {
    case AF_PROVIDER_EV_CREATED:
        af_debug("event=agent_created agent_id=%s detail=\"%s\"", agent_id, detail);
        break;
    case AF_PROVIDER_EV_FAILED: {
        char cause[384];
        snprintf(cause, sizeof cause, "provider failed: %s", detail);
        a->destroyed = true; /* nothing exists to destroy */
        s_agent_died(self, a, "spawn_failed", cause);
        break;
    }
    case AF_PROVIDER_EV_EXITED:
        a->destroyed = true;
        if (a->state == AF_AGENT_DEAD)
            break;
        if (a->deleting) {
            af_registry_apply(self->reg, a, AF_AGENT_EV_DESTROY, af_now_ns());
            s_gauges(self);
        } else {
            char cause[384];
            snprintf(cause, sizeof cause, "%s%s",
                     a->state == AF_AGENT_SPAWNING ? "exited before READY: " : "", detail);
            s_agent_died(self, a, "spawn_failed", cause);
        }
        break;
    }
}

/* ---- agent link ----------------------------------------------------------- */

void af_fleet_touch(af_fleet_t *self, const char *agent_id)
{
    af_agent_t *a = af_registry_get(self->reg, agent_id);
    if (a && a->state != AF_AGENT_DEAD)
        a->last_seen_ns = af_now_ns();
}

static void s_reply_error(af_fleet_t *self, const af_msg_t *msg, const char *code,
                          const char *text)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "message", text);
    s_reply(self, msg->routing_id, msg->req, "ERROR", body);
}

void af_fleet_on_ready(af_fleet_t *self, const af_msg_t *msg)
{
    const char *id = af_msg_str(msg, "agent_id");
    const char *owner = af_msg_str(msg, "owner");
    char err[256];
    if (!id || !af_id_valid(id, AF_AGENT_ID_MAX - 1)) {
        s_reply_error(self, msg, "invalid_request", "agent_id must be 1..63 of [A-Za-z0-9_-]");
        return;
    }
    /* We address agents by routing id: it must be the agent id. */
    if (!msg->routing_id || zframe_size(msg->routing_id) != strlen(id) ||
        memcmp(zframe_data(msg->routing_id), id, strlen(id)) != 0) {
        s_reply_error(self, msg, "invalid_request",
                      "agent_id must equal the DEALER routing id (ZMQ_ROUTING_ID)");
        return;
    }
    if (!s_name_ok(owner, AF_OWNER_MAX)) {
        s_reply_error(self, msg, "invalid_request",
                      "owner must be 1..63 printable bytes without spaces or quotes");
        return;
    }
    af_spec_t spec;
    if (af_spec_parse(cJSON_GetObjectItemCaseSensitive(msg->body, "spec"), &self->cfg.limits,
                      &spec, err, sizeof err) < 0) {
        s_reply_error(self, msg, "invalid_request", err);
        return;
    }
    double cap = af_msg_num(msg, "capacity", self->cfg.capacity);
    if (cap < 1 || cap > 100000 || cap != floor(cap)) {
        s_reply_error(self, msg, "invalid_request", "capacity must be a positive integer");
        return;
    }
    const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(msg->body, "sessions");
    if (sessions && !cJSON_IsArray(sessions)) {
        s_reply_error(self, msg, "invalid_request", "sessions must be an array of session ids");
        return;
    }
    const char *metrics = af_msg_str(msg, "metrics");
    if (metrics && !s_name_ok(metrics, 128)) {
        s_reply_error(self, msg, "invalid_request", "metrics must be \"host:port\"");
        return;
    }
    const char *token = af_msg_str(msg, "token");
    const char *version = af_msg_str(msg, "version");
    uint64_t now = af_now_ns();
    af_agent_t *a = af_registry_get(self->reg, id);
    if (a && (a->state == AF_AGENT_DEAD || a->deleting)) {
        /* It was deleted or given up on: it must not come back. */
        s_reply_error(self, msg, "not_found", "this agent was removed; shutting it down");
        s_send_agent(self, id, "SHUTDOWN", NULL);
        return;
    }
    /* Who gets the Anthropic key: an agent that proved it is the one we
     * spawned (its one-time join token), or one CURVE authenticated with the
     * agentd key. Anyone else who can reach the port could say READY with a
     * made-up id; an agent we adopt in plaintext kept its key from the WELCOME
     * that spawned it. */
    bool key_ok = !strcmp(msg->peer_role, "agentd");
    if (a && a->token[0]) {
        if (!token || strcmp(token, a->token) != 0) {
            af_warn("event=join_token_mismatch agent_id=%s", id);
            s_reply_error(self, msg, "forbidden", "join token missing or wrong");
            return;
        }
        a->token[0] = '\0'; /* one-time */
        key_ok = true;
    }
    bool adopted = false;
    if (!a) {
        /* Soft state: an agent we do not know (we restarted) re-registers with
         * its owner, spec and sessions. */
        a = af_registry_add(self->reg, id, owner, &spec, AF_AGENT_SPAWNING, (int)cap, now);
        if (!a) {
            s_reply_error(self, msg, "internal", "cannot add agent to the registry");
            return;
        }
        a->heal = true;
        adopted = true;
        self->adopted++;
    }
    bool first = a->state == AF_AGENT_SPAWNING;
    af_registry_apply(self->reg, a, AF_AGENT_EV_REGISTER, now);
    a->last_seen_ns = now;
    a->capacity = (int)cap;
    a->sessions = sessions ? cJSON_GetArraySize(sessions) : 0;
    snprintf(a->metrics, sizeof a->metrics, "%s", metrics ? metrics : "");
    snprintf(a->version, sizeof a->version, "%s", version ? version : "");
    if (adopted) {
        /* A spawned agent keeps the manager's record of owner/spec; an adopted
         * one is what it says it is. */
        snprintf(a->owner, sizeof a->owner, "%s", owner);
        a->spec = spec;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "agent_id", id);
    cJSON_AddNumberToObject(body, "heartbeat_ms", self->cfg.heartbeat_ms);
    /* Who the agent is, by our record: an agent booted with only its id (a
     * Hypercore VM) learns its owner and spec here, so when it re-registers
     * with a restarted manager it says the truth instead of "pool". */
    cJSON_AddStringToObject(body, "owner", a->owner);
    cJSON_AddItemToObject(body, "spec", af_spec_to_json(&a->spec));
    s_add_gateways(self, body);
    if (self->api_key && key_ok)
        cJSON_AddStringToObject(body, "api_key", self->api_key);
    s_reply(self, msg->routing_id, msg->req, "WELCOME", body);
    if (first && !adopted && a->spawn_ns)
        s_sample(self, (double)(now - a->spawn_ns) / 1e9);
    af_info("event=agent_ready agent_id=%s owner=%s status=%s sessions=%d%s", id, a->owner,
            af_agent_state_name(a->state), a->sessions, adopted ? " adopted=1" : "");
    if (a->state == AF_AGENT_DRAINING)
        s_send_agent(self, id, "DRAIN", NULL);
    if (a->batch)
        s_spawn_progress(self, a);
    s_gauges(self);
}

void af_fleet_on_heartbeat(af_fleet_t *self, const af_msg_t *msg)
{
    char id[AF_AGENT_ID_MAX] = "";
    if (msg->routing_id && zframe_size(msg->routing_id) < sizeof id)
        memcpy(id, zframe_data(msg->routing_id), zframe_size(msg->routing_id));
    af_agent_t *a = af_registry_get(self->reg, id);
    if (!a) {
        for (s_gateway_t *g = self->gateways; g; g = g->next)
            if (!strcmp(g->id, id)) {
                g->last_seen_ns = af_now_ns();
                return;
            }
        s_reply_error(self, msg, "not_registered", "unknown agent: send READY");
        return;
    }
    if (a->state == AF_AGENT_DEAD)
        return; /* on its way out */
    if (a->state == AF_AGENT_SPAWNING) {
        s_reply_error(self, msg, "not_registered", "agent has not sent READY yet");
        return;
    }
    a->last_seen_ns = af_now_ns();
    /* Answer with our own heartbeat while the link is warm (the TCP ACK of its
     * heartbeat rides along) once half an interval has passed since our last
     * one; the tick covers agents we have not heard from. Either way each
     * agent hears from us every interval. */
    if (a->last_seen_ns - a->hb_sent_ns >= (uint64_t)self->cfg.heartbeat_ms * 500000ULL &&
        self->hb_len && s_send_raw(self, a->id, "HEARTBEAT", self->hb_buf, self->hb_len) == 0)
        a->hb_sent_ns = a->last_seen_ns;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(msg->body, "sessions");
    if (cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble <= 1e6)
        a->sessions = (int)n->valuedouble;
    if (af_msg_bool(msg, "draining", false) && a->state == AF_AGENT_READY) {
        af_registry_apply(self->reg, a, AF_AGENT_EV_DRAIN, a->last_seen_ns);
        s_gauges(self);
    }
}

void af_fleet_on_bye(af_fleet_t *self, const af_msg_t *msg)
{
    char id[AF_AGENT_ID_MAX] = "";
    if (msg->routing_id && zframe_size(msg->routing_id) < sizeof id)
        memcpy(id, zframe_data(msg->routing_id), zframe_size(msg->routing_id));
    af_agent_t *a = af_registry_get(self->reg, id);
    if (!a || a->state == AF_AGENT_DEAD)
        return;
    const char *reason = af_msg_str(msg, "reason");
    af_info("event=agent_bye agent_id=%s reason=%s", id, reason ? reason : "-");
    uint64_t batch = a->batch;
    a->heal = false;
    a->batch = 0;
    af_registry_apply(self->reg, a, AF_AGENT_EV_BYE, af_now_ns());
    s_destroy_agent(self, a);
    if (batch)
        s_fail_spawn(self, batch, "spawn_failed", "an agent left (BYE) before every agent was ready");
    s_gauges(self);
}

/* ---- control plane -------------------------------------------------------- */

int af_fleet_spawn(af_fleet_t *self, const af_msg_t *msg, const char *owner,
                   const af_spec_t *spec, int count, const char **code, char *err, size_t errlen)
{
    if (count < 1 || count > S_SPAWN_MAX) {
        *code = "invalid_request";
        snprintf(err, errlen, "count must be an integer in 1..%d", S_SPAWN_MAX);
        return -1;
    }
    if (af_quota_check(self->reg, owner, count, self->cfg.quota, err, errlen) < 0) {
        *code = "quota_exceeded";
        if (self->metrics)
            af_metric_inc(self->metrics->quota_rejections);
        return -1;
    }
    s_spawn_t *sp = calloc(1, sizeof *sp);
    if (!sp) {
        *code = "internal";
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sp->id = ++self->next_spawn_id;
    sp->rid = msg->routing_id ? zframe_dup(msg->routing_id) : NULL;
    snprintf(sp->req, sizeof sp->req, "%s", msg->req);
    sp->next = self->spawns;
    self->spawns = sp;
    uint64_t spawn_id = sp->id;
    for (int i = 0; i < count; i++) {
        af_agent_t *a = s_spawn_one(self, owner, spec, spawn_id, true, 0, err, errlen);
        if (!a) {
            /* Undo what started; nothing has been replied yet. */
            for (int j = 0; j < sp->n; j++) {
                af_agent_t *x = af_registry_get(self->reg, sp->ids[j]);
                if (x && x->state != AF_AGENT_DEAD) {
                    x->batch = 0;
                    x->heal = false;
                    x->deleting = true;
                    af_registry_apply(self->reg, x, AF_AGENT_EV_DESTROY, af_now_ns());
                    s_destroy_agent(self, x);
                }
            }
            s_spawn_free(self, sp);
            if (self->metrics)
                af_metric_inc(self->metrics->spawn_failures, "spawn_failed");
            *code = "spawn_failed";
            s_gauges(self);
            return -1;
        }
        if (!s_spawn_find(self, spawn_id, NULL))
            return 0; /* the provider failed synchronously: already replied */
        snprintf(sp->ids[sp->n++], AF_AGENT_ID_MAX, "%s", a->id);
    }
    af_info("event=spawn_started req=%s owner=%s count=%d cores=%d memory_mb=%d image=%s",
            msg->req, owner, count, spec->cores, spec->memory_mb, spec->image);
    return 0;
}

void af_fleet_delete(af_fleet_t *self, af_agent_t *a)
{
    uint64_t batch = a->batch;
    a->heal = false;
    a->deleting = true;
    a->batch = 0;
    if (a->state == AF_AGENT_READY || a->state == AF_AGENT_DRAINING)
        s_send_agent(self, a->id, "DRAIN", NULL);
    af_registry_apply(self->reg, a, AF_AGENT_EV_DRAIN, af_now_ns());
    af_info("event=agent_deleted agent_id=%s owner=%s", a->id, a->owner);
    s_destroy_agent(self, a);
    if (batch)
        s_fail_spawn(self, batch, "spawn_failed", "an agent was deleted while spawning");
    s_gauges(self);
}

/* Pool upkeep: spawn toward the target a batch at a time. */
static void s_on_pump(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_fleet_t *self = arg;
    uint64_t now = af_now_ns();
    if (now < self->pool_backoff_until_ns || !af_fleet_leads(self, NULL))
        return; /* a standby never spawns: the leader keeps the pool */
    if (self->warmup_until_ns) {
        if (now < self->warmup_until_ns && self->adopted < self->expect_adopt)
            return; /* the tick re-arms us */
        if (self->expect_adopt)
            af_info("event=warmup_done expected=%zu adopted=%zu", self->expect_adopt,
                    self->adopted);
        self->warmup_until_ns = 0;
    }
    af_scale_plan_t plan;
    af_scale_plan(self->reg, self->pool_target, self->cfg.min_agents, self->cfg.max_agents,
                  self->cfg.capacity, NULL, 0, &plan);
    int n = plan.spawn < S_PUMP_BATCH ? plan.spawn : S_PUMP_BATCH;
    for (int i = 0; i < n; i++) {
        char err[256];
        af_spec_t spec = {1, 512, ""};
        snprintf(spec.image, sizeof spec.image, "%s", self->cfg.limits.images[0]);
        if (!s_spawn_one(self, AF_POOL_OWNER, &spec, 0, true, 0, err, sizeof err)) {
            af_error("event=pool_spawn_failed error=\"%s\" backoff_s=5", err);
            if (self->metrics)
                af_metric_inc(self->metrics->spawn_failures, "spawn_failed");
            self->pool_backoff_until_ns = af_now_ns() + 5000000000ULL;
            return;
        }
    }
    if (plan.spawn > n)
        s_pump_soon(self);
}

void af_fleet_scale(af_fleet_t *self, int target, cJSON *reply)
{
    size_t cap = af_registry_size(self->reg) + 1;
    af_agent_t **drain = calloc(cap, sizeof *drain); // NOLINT(bugprone-sizeof-expression): array of pointers
    af_scale_plan_t plan;
    af_scale_plan(self->reg, target, self->cfg.min_agents, self->cfg.max_agents,
                  self->cfg.capacity, drain, drain ? cap : 0, &plan);
    self->pool_target = plan.target;
    for (size_t i = 0; drain && i < plan.ndrain; i++) {
        af_agent_t *a = drain[i];
        uint64_t batch = a->batch;
        a->heal = false;
        a->deleting = true;
        a->batch = 0;
        if (a->state == AF_AGENT_READY)
            s_send_agent(self, a->id, "DRAIN", NULL);
        af_registry_apply(self->reg, a, AF_AGENT_EV_DRAIN, af_now_ns());
        if (a->sessions == 0 || a->state == AF_AGENT_SPAWNING)
            s_destroy_agent(self, a); /* idle: nothing to finish */
        if (batch)
            s_fail_spawn(self, batch, "spawn_failed", "drained by scale-down");
    }
    free(drain);
    self->pool_backoff_until_ns = 0;
    s_pump_soon(self);
    af_info("event=scale target=%d current=%d spawn=%d drain=%zu", plan.target, plan.current,
            plan.spawn, plan.ndrain);
    cJSON_AddNumberToObject(reply, "target", plan.target);
    cJSON_AddNumberToObject(reply, "current", plan.current - (int)plan.ndrain);
    cJSON_AddNumberToObject(reply, "spawning", plan.spawn);
    cJSON_AddNumberToObject(reply, "draining", (double)plan.ndrain);
    s_gauges(self);
}

void af_fleet_placed(af_fleet_t *self, af_agent_t *a)
{
    a->sessions++;
    s_gauges(self);
}

static void s_broadcast_gateways(af_fleet_t *self)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "req", "gw");
    s_add_gateways(self, body);
    uint8_t *buf;
    size_t len;
    if (af_codec_encode(body, self->cfg.codec, &buf, &len) == 0) {
        for (af_agent_t *a = af_registry_first(self->reg); a; a = af_registry_next(a))
            if (a->state == AF_AGENT_READY || a->state == AF_AGENT_DRAINING)
                s_send_raw(self, a->id, "GATEWAYS", buf, len);
        free(buf);
        af_zev_kick(self->zev);
    }
    cJSON_Delete(body);
}

int af_fleet_gateway_hello(af_fleet_t *self, const char *gateway_id, const char *endpoint)
{
    s_gateway_t *g;
    int n = 0;
    for (g = self->gateways; g; g = g->next, n++)
        if (!strcmp(g->id, gateway_id))
            break;
    bool changed = false;
    if (!g && n >= S_GATEWAYS_MAX) {
        af_warn("event=gateway_refused gateway_id=%s reason=too_many max=%d", gateway_id,
                S_GATEWAYS_MAX);
        return -1;
    }
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g)
            return -1;
        snprintf(g->id, sizeof g->id, "%s", gateway_id);
        s_gateway_t **tail = &self->gateways;
        while (*tail)
            tail = &(*tail)->next;
        *tail = g;
        changed = true;
        af_info("event=gateway_joined gateway_id=%s endpoint=%s", gateway_id, endpoint);
    }
    if (strcmp(g->endpoint, endpoint) != 0) {
        snprintf(g->endpoint, sizeof g->endpoint, "%s", endpoint);
        changed = true;
    }
    g->last_seen_ns = af_now_ns();
    if (changed) {
        s_broadcast_gateways(self);
        if (self->metrics) {
            int n = 0;
            for (s_gateway_t *x = self->gateways; x; x = x->next)
                n++;
            af_metric_set(self->metrics->gateways, n);
        }
    }
    return 0;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void af_fleet_stats(af_fleet_t *self, cJSON *reply)
{
    cJSON *agents = cJSON_AddObjectToObject(reply, "agents");
    size_t total = 0;
    for (int s = 0; s < AF_AGENT_STATE_COUNT; s++) {
        size_t n = af_registry_count(self->reg, s);
        cJSON_AddNumberToObject(agents, af_agent_state_name(s), (double)n);
        total += n;
    }
    cJSON_AddNumberToObject(agents, "total", (double)total);
    int pool = 0;
    for (af_agent_t *a = af_registry_first(self->reg); a; a = af_registry_next(a))
        if (a->state != AF_AGENT_DEAD && !strcmp(a->owner, AF_POOL_OWNER) && !a->deleting)
            pool++;
    long capacity = af_registry_capacity(self->reg);
    long sessions = af_registry_sessions(self->reg);
    size_t ready = af_registry_count(self->reg, AF_AGENT_READY);
    cJSON_AddNumberToObject(reply, "pool", pool);
    cJSON_AddNumberToObject(reply, "pool_target", self->pool_target);
    cJSON_AddNumberToObject(reply, "sessions", (double)sessions);
    cJSON_AddNumberToObject(reply, "capacity", (double)capacity);
    double util = ready ? (double)sessions / ((double)ready * self->cfg.capacity) : 0;
    cJSON_AddNumberToObject(reply, "utilization", round(util * 10000) / 10000);
    cJSON *sp = cJSON_AddObjectToObject(reply, "spawn_seconds");
    cJSON_AddNumberToObject(sp, "count", (double)self->spawn_count);
    double p50 = 0, p99 = 0;
    if (self->nsamples) {
        double *v = malloc(self->nsamples * sizeof *v);
        if (v) {
            memcpy(v, self->samples, self->nsamples * sizeof *v);
            qsort(v, self->nsamples, sizeof *v, s_cmp_double);
            p50 = v[(self->nsamples - 1) / 2];
            p99 = v[(size_t)ceil(0.99 * (double)self->nsamples) - 1];
            free(v);
        }
    }
    cJSON_AddNumberToObject(sp, "p50", round(p50 * 1000) / 1000);
    cJSON_AddNumberToObject(sp, "p99", round(p99 * 1000) / 1000);
}

double af_fleet_active_count(void *fleet)
{
    af_fleet_t *self = fleet;
    return (double)(af_registry_size(self->reg) - af_registry_count(self->reg, AF_AGENT_DEAD));
}

/* ---- periodic work -------------------------------------------------------- */

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_fleet_t *self = arg;
    uint64_t now = af_now_ns();
    /* 1. Health: silent agents and spawns past their timeout (the leader's job). */
    size_t max = af_fleet_leads(self, NULL) ? af_registry_size(self->reg) : 0;
    if (max) {
        af_agent_t **over = calloc(max, sizeof *over); // NOLINT(bugprone-sizeof-expression): array of pointers
        af_health_t *why = calloc(max, sizeof *why);
        size_t n = (over && why) ? af_health_overdue(self->reg, now, self->cfg.heartbeat_ms,
                                                     self->cfg.spawn_timeout_ms, over, why, max)
                                 : 0;
        /* Acting may add replacements but never removes records, so the
         * pointers stay valid through the loop. */
        for (size_t i = 0; i < n; i++) {
            char cause[256];
            if (why[i] == AF_HEALTH_SPAWN_TIMEOUT) {
                snprintf(cause, sizeof cause, "did not report READY within %d ms (spawn timeout)",
                         self->cfg.spawn_timeout_ms);
                s_agent_died(self, over[i], "timeout", cause);
            } else {
                snprintf(cause, sizeof cause, "missed %d heartbeats (%d ms)", AF_HEALTH_MISSES,
                         AF_HEALTH_MISSES * self->cfg.heartbeat_ms);
                s_agent_died(self, over[i], "timeout", cause);
            }
        }
        free(over);
        free(why);
    }
    /* 2. Forget old tombstones. */
    uint64_t keep = (uint64_t)self->cfg.heartbeat_ms * S_TOMBSTONE_BEATS * 1000000ULL;
    af_agent_t *a = af_registry_first(self->reg);
    while (a) {
        af_agent_t *next = af_registry_next(a);
        if (a->state == AF_AGENT_DEAD && now - a->dead_ns > keep)
            af_registry_remove(self->reg, a);
        a = next;
    }
    /* 3. Gateways silent for 3 intervals leave the list agents get. */
    bool changed = false;
    for (s_gateway_t **p = &self->gateways; *p;) {
        if (now - (*p)->last_seen_ns >
            (uint64_t)self->cfg.heartbeat_ms * AF_HEALTH_MISSES * 1000000ULL) {
            s_gateway_t *g = *p;
            af_warn("event=gateway_lost gateway_id=%s endpoint=%s", g->id, g->endpoint);
            *p = g->next;
            free(g);
            changed = true;
        } else
            p = &(*p)->next;
    }
    if (self->gw_settle_ns && now >= self->gw_settle_ns) {
        self->gw_settle_ns = 0;
        changed = true; /* the first complete list: agents drop what is gone */
    }
    if (changed) {
        s_broadcast_gateways(self);
        int ng = 0;
        for (s_gateway_t *x = self->gateways; x; x = x->next)
            ng++;
        if (self->metrics)
            af_metric_set(self->metrics->gateways, ng);
    }
    /* 4. Our heartbeat to every registered agent that has not had one for most
     * of an interval (the others got it in answer to theirs): encoded once,
     * sent N times. 0.9: the tick itself jitters. */
    cJSON *body = cJSON_CreateObject();
    char req[32];
    s_next_req(self, req, sizeof req);
    cJSON_AddStringToObject(body, "req", req);
    if (self->lease)
        cJSON_AddNumberToObject(body, "fence", (double)af_lease_fence(self->lease));
    uint8_t *buf;
    size_t len;
    if (af_codec_encode(body, self->cfg.codec, &buf, &len) == 0) {
        free(self->hb_buf);
        self->hb_buf = buf;
        self->hb_len = len;
        uint64_t due = (uint64_t)self->cfg.heartbeat_ms * 900000ULL;
        for (a = af_registry_first(self->reg); a; a = af_registry_next(a))
            if ((a->state == AF_AGENT_READY || a->state == AF_AGENT_DRAINING) &&
                now - a->hb_sent_ns >= due && s_send_raw(self, a->id, "HEARTBEAT", buf, len) == 0)
                a->hb_sent_ns = now;
        af_zev_kick(self->zev);
    }
    cJSON_Delete(body);
    /* 5. Pool upkeep. */
    s_pump_soon(self);
    s_gauges(self);
}

/* ---- object --------------------------------------------------------------- */

af_fleet_t *af_fleet_new(struct event_base *base, const af_fleet_config_t *cfg,
                         af_mgr_metrics_t *metrics)
{
    af_fleet_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->cfg = *cfg;
    self->endpoint = strdup(cfg->endpoint ? cfg->endpoint : "");
    self->api_key = (cfg->api_key && *cfg->api_key) ? strdup(cfg->api_key) : NULL;
    self->cfg.endpoint = self->endpoint;
    self->cfg.api_key = self->api_key;
    self->metrics = metrics;
    self->pool_target = cfg->min_agents;
    self->reg = af_registry_new();
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    self->pump = event_new(base, -1, 0, s_on_pump, self);
    if (!self->endpoint || !self->reg || !self->tick || !self->pump) {
        af_fleet_destroy(&self);
        return NULL;
    }
    return self;
}

static void s_on_listed(void *arg, const af_provider_entry_t *entries, size_t n,
                        const char *err)
{
    (void)entries;
    af_fleet_t *self = arg;
    if (err) {
        af_warn("event=provider_list_failed error=\"%s\" warmup_ms=%d", err,
                AF_HEALTH_MISSES * self->cfg.heartbeat_ms);
        return; /* keep the timed warmup */
    }
    self->expect_adopt = n;
    if (n)
        af_info("event=warmup agents_running=%zu (waiting for them to re-register)", n);
    else
        self->warmup_until_ns = 0;
    s_pump_soon(self);
}

int af_fleet_start(af_fleet_t *self)
{
    int ms = self->cfg.heartbeat_ms;
    struct timeval tv = {ms / 1000, (long)(ms % 1000) * 1000};
    if (event_add(self->tick, &tv) < 0)
        return -1;
    self->warmup_until_ns = af_now_ns() + (uint64_t)AF_HEALTH_MISSES * (uint64_t)ms * 1000000ULL;
    self->gw_settle_ns = self->warmup_until_ns; /* a gateway silent that long is gone anyway */
    self->expect_adopt = SIZE_MAX; /* until the provider's list says otherwise */
    if (!self->provider || af_provider_list(self->provider, s_on_listed, self) < 0)
        af_warn("event=provider_list_failed warmup_ms=%d", AF_HEALTH_MISSES * ms);
    s_pump_soon(self);
    return 0;
}

void af_fleet_destroy(af_fleet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_fleet_t *self = *self_p;
    while (self->spawns) {
        s_spawn_t *n = self->spawns->next;
        zframe_destroy(&self->spawns->rid);
        free(self->spawns);
        self->spawns = n;
    }
    while (self->gateways) {
        s_gateway_t *n = self->gateways->next;
        free(self->gateways);
        self->gateways = n;
    }
    /* The provider stops what must not outlive us (process: every agentd), except
     * under HA, where the agents follow the next leader. */
    if (self->lease)
        af_provider_keep_agents(self->provider);
    af_provider_destroy(&self->provider);
    if (self->tick)
        event_free(self->tick);
    if (self->pump)
        event_free(self->pump);
    af_registry_destroy(&self->reg);
    free(self->endpoint);
    free(self->api_key);
    free(self->hb_buf);
    free(self);
    *self_p = NULL;
}

void af_fleet_set_provider(af_fleet_t *self, af_provider_t *provider)
{
    af_provider_destroy(&self->provider);
    self->provider = provider;
}

void af_fleet_set_socket(af_fleet_t *self, zsock_t *sock, af_zev_t *zev)
{
    self->sock = sock;
    self->zev = zev;
}

af_registry_t *af_fleet_registry(af_fleet_t *self) { return self->reg; }

void af_fleet_set_lease(af_fleet_t *self, const af_lease_t *lease) { self->lease = lease; }

bool af_fleet_leads(const af_fleet_t *self, uint64_t *fence)
{
    if (fence)
        *fence = af_lease_fence(self->lease);
    return !self->lease || af_lease_leader(self->lease);
}
const af_fleet_config_t *af_fleet_config(const af_fleet_t *self) { return &self->cfg; }
