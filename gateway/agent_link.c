/* Agent link. See agent_link.h.
 * Agents live in a small hash table by id; each holds the list of its in-flight
 * requests so a dead agent fails them in one sweep. Requests live in the pending
 * table by numeric id (req = "<gateway_id>-a<id>"). */
#include "agent_link.h"

#include "curve.h"
#include "log.h"
#include "pending.h"
#include "util.h"
#include "zev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_SLOTS 1024
#define GONE_RING 256

typedef struct s_agent_t s_agent_t;
typedef struct s_call_t s_call_t;

struct s_call_t {
    uint64_t id;
    s_agent_t *agent;
    const af_alink_handlers_t *h;
    void *arg;
    long timeout_ms;
    s_call_t *prev, *next; /* in agent->calls */
};

struct s_agent_t {
    char id[64];
    uint64_t last_ns;
    long sessions;
    bool draining;
    s_call_t *calls;
    size_t ncalls;           /* length of calls: the agent's queue at this gateway */
    s_agent_t *chain;
};

struct af_alink_t {
    zsock_t *sock;
    af_zev_t *zev;
    af_pending_t *pending;
    void (*on_late)(void *arg, const af_msg_t *msg);
    void *on_late_arg;
    struct event *timer;
    af_codec_t codec;
    long heartbeat_ms;
    char prefix[40];
    char endpoint[256];
    s_agent_t *agents[AGENT_SLOTS];
    size_t nagents;
    uint64_t hb_seq;
    char gone[GONE_RING][64];
    size_t gone_next;
};

static uint32_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static s_agent_t *s_agent_find(af_alink_t *self, const char *id)
{
    s_agent_t *a = self->agents[s_hash(id) % AGENT_SLOTS];
    while (a && strcmp(a->id, id) != 0)
        a = a->chain;
    return a;
}

static void s_call_unlink(s_call_t *c)
{
    if (!c->agent)
        return;
    c->agent->ncalls--;
    if (c->prev) c->prev->next = c->next; else c->agent->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->agent = NULL;
}

/* Ends a call with no reply: callback then free. */
static void s_call_fail(af_alink_t *self, s_call_t *c, af_alink_end_t why)
{
    af_pending_take(self->pending, c->id);
    s_call_unlink(c);
    const af_alink_handlers_t *h = c->h;
    void *arg = c->arg;
    free(c);
    if (h && h->on_final)
        h->on_final(NULL, why, arg);
}

static void s_agent_remove(af_alink_t *self, s_agent_t *a, const char *why)
{
    s_agent_t **pp = &self->agents[s_hash(a->id) % AGENT_SLOTS];
    while (*pp && *pp != a)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = a->chain;
    self->nagents--;
    memcpy(self->gone[self->gone_next++ % GONE_RING], a->id, sizeof a->id);
    af_info("event=agent_gone agent_id=%s reason=%s inflight_failed=%d", a->id, why,
            a->calls ? 1 : 0);
    s_call_t *calls = a->calls;
    a->calls = NULL;
    free(a);
    /* Detached first, so a callback cannot reach the freed agent. */
    for (s_call_t *c = calls; c; c = calls) {
        calls = c->next;
        c->agent = NULL;
        c->prev = c->next = NULL;
        s_call_fail(self, c, AF_ALINK_AGENT_GONE);
    }
}

static void s_send_to(af_alink_t *self, const char *agent_id, af_msg_t *msg);

static void s_on_timeout(uint64_t id, void *data, void *arg)
{
    af_alink_t *self = arg;
    s_call_t *c = data;
    if (c->agent) {
        /* Nobody waits any more: let the agent stop paying for the call. */
        char req[AF_PROTO_REQ_MAX];
        snprintf(req, sizeof req, "%s%llu", self->prefix, (unsigned long long)id);
        s_send_to(self, c->agent->id, af_msg_new("CANCEL", req, NULL));
        af_zev_kick(self->zev);
    }
    s_call_unlink(c);
    const af_alink_handlers_t *h = c->h;
    void *cbarg = c->arg;
    free(c);
    if (h && h->on_final)
        h->on_final(NULL, AF_ALINK_TIMEOUT, cbarg);
}

static void s_on_msg(zsock_t *sock, void *arg)
{
    af_alink_t *self = arg;
    af_msg_t *msg = NULL;
    af_proto_err_t perr;
    if (af_proto_recv(sock, true, (size_t)AF_PROTO_MAX_BODY_DEFAULT, true, self->codec, &msg, &perr) != 0)
        return;
    char aid[64] = "";
    if (msg->routing_id) {
        size_t n = zframe_size(msg->routing_id);
        if (n > 0 && n < sizeof aid) {
            memcpy(aid, zframe_data(msg->routing_id), n);
            aid[n] = 0;
        }
    }
    if (!af_id_valid(aid, 63)) {
        af_warn("event=agent_bad_routing_id");
        af_msg_destroy(&msg);
        return;
    }
    s_agent_t *a = s_agent_find(self, aid);
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a) {
            af_msg_destroy(&msg);
            return;
        }
        memcpy(a->id, aid, sizeof a->id);
        uint32_t slot = s_hash(aid) % AGENT_SLOTS;
        a->chain = self->agents[slot];
        self->agents[slot] = a;
        self->nagents++;
        af_info("event=agent_connected agent_id=%s", aid);
    }
    a->last_ns = af_now_ns();

    if (!strcmp(msg->verb, "HEARTBEAT")) {
        a->sessions = (long)af_msg_num(msg, "sessions", (double)a->sessions);
        a->draining = af_msg_bool(msg, "draining", false);
    } else if (!strcmp(msg->verb, "BYE")) {
        s_agent_remove(self, a, "bye");
    } else {
        uint64_t id = af_pending_parse(msg->req, self->prefix);
        s_call_t *c = id ? af_pending_get(self->pending, id) : NULL;
        if (!c) {
            af_debug("event=late_reply verb=%s req=%s agent_id=%s", msg->verb, msg->req, aid);
            if (self->on_late && id)
                self->on_late(self->on_late_arg, msg);
        } else if (!strcmp(msg->verb, "START") || !strcmp(msg->verb, "DELTA")) {
            af_pending_touch(self->pending, id, c->timeout_ms);
            if (c->h->on_event)
                c->h->on_event(msg, c->arg);
        } else if (!strcmp(msg->verb, "DONE") || !strcmp(msg->verb, "OK") ||
                   !strcmp(msg->verb, "ERROR")) {
            af_pending_take(self->pending, id);
            s_call_unlink(c);
            const af_alink_handlers_t *h = c->h;
            void *cbarg = c->arg;
            free(c);
            if (h->on_final)
                h->on_final(msg, AF_ALINK_REPLY, cbarg);
        } else {
            af_warn("event=agent_unexpected_verb verb=%s agent_id=%s", msg->verb, aid);
        }
    }
    af_msg_destroy(&msg);
}

static void s_send_to(af_alink_t *self, const char *agent_id, af_msg_t *msg)
{
    msg->routing_id = zframe_new(agent_id, strlen(agent_id));
    af_proto_send(self->sock, &msg, self->codec);
}

/* Every interval: heartbeat every agent, drop the silent ones. */
static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_alink_t *self = arg;
    uint64_t now = af_now_ns(), dead_after = (uint64_t)self->heartbeat_ms * 3 * 1000000ull;
    for (size_t i = 0; i < AGENT_SLOTS; i++) {
        s_agent_t *a = self->agents[i];
        while (a) {
            s_agent_t *next = a->chain;
            if (now - a->last_ns > dead_after) {
                s_agent_remove(self, a, "silent");
            } else {
                char req[32];
                snprintf(req, sizeof req, "h%llu", (unsigned long long)++self->hb_seq);
                s_send_to(self, a->id, af_msg_new("HEARTBEAT", req, NULL));
            }
            a = next;
        }
    }
    af_zev_kick(self->zev);
}

af_alink_t *af_alink_new(struct event_base *base, const char *endpoint, const char *gateway_id,
                         af_codec_t codec, long heartbeat_ms)
{
    af_alink_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->codec = codec;
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 1000;
    snprintf(self->prefix, sizeof self->prefix, "%.32s-a", gateway_id);
    self->sock = zsock_new(ZMQ_ROUTER);
    if (!self->sock)
        goto fail;
    zsock_set_router_mandatory(self->sock, 1);
    zsock_set_router_handover(self->sock, 1);
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 100000);
    zsock_set_rcvhwm(self->sock, 100000);
    af_curve_server(self->sock, "agentd"); /* only agents speak for an agent here */
    if (zsock_bind(self->sock, "%s", endpoint) < 0) {
        af_error("event=agent_bind_failed endpoint=%s err=\"%s\"", endpoint, zmq_strerror(errno));
        goto fail;
    }
    char *last = zsock_last_endpoint(self->sock);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", last ? last : endpoint);
    zstr_free(&last);
    self->pending = af_pending_new(base, s_on_timeout, self);
    self->zev = af_zev_new(base, self->sock, s_on_msg, self, 0);
    self->timer = event_new(base, -1, EV_PERSIST, s_on_timer, self);
    if (!self->pending || !self->zev || !self->timer)
        goto fail;
    struct timeval tv = {self->heartbeat_ms / 1000, (self->heartbeat_ms % 1000) * 1000};
    event_add(self->timer, &tv);
    af_info("event=agent_link endpoint=%s", self->endpoint);
    return self;
fail:
    af_alink_destroy(&self);
    return NULL;
}

void af_alink_destroy(af_alink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_alink_t *self = *self_p;
    for (size_t i = 0; i < AGENT_SLOTS; i++)
        while (self->agents[i]) {
            s_agent_t *a = self->agents[i];
            self->agents[i] = a->chain;
            for (s_call_t *c = a->calls, *next; c; c = next) {
                next = c->next;
                if (self->pending)
                    af_pending_take(self->pending, c->id);
                free(c);
            }
            free(a);
        }
    if (self->timer)
        event_free(self->timer);
    af_zev_destroy(&self->zev);
    af_pending_destroy(&self->pending);
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}

uint64_t af_alink_send(af_alink_t *self, const char *agent_id, const char *verb, cJSON *body,
                       long timeout_ms, const af_alink_handlers_t *handlers, void *arg)
{
    s_agent_t *a = s_agent_find(self, agent_id);
    if (!a) {
        cJSON_Delete(body);
        errno = ENOTCONN;
        return 0;
    }
    s_call_t *c = calloc(1, sizeof *c);
    if (!c) {
        cJSON_Delete(body);
        return 0;
    }
    c->h = handlers;
    c->arg = arg;
    c->timeout_ms = timeout_ms;
    c->id = af_pending_add(self->pending, c, timeout_ms);
    if (!c->id) {
        free(c);
        cJSON_Delete(body);
        return 0;
    }
    char req[AF_PROTO_REQ_MAX];
    snprintf(req, sizeof req, "%s%llu", self->prefix, (unsigned long long)c->id);
    af_msg_t *msg = af_msg_new(verb, req, body);
    if (!msg) {
        af_pending_take(self->pending, c->id);
        free(c);
        return 0;
    }
    msg->routing_id = zframe_new(agent_id, strlen(agent_id));
    if (af_proto_send(self->sock, &msg, self->codec) < 0) {
        int e = errno;
        af_pending_take(self->pending, c->id);
        free(c);
        af_warn("event=agent_send_failed agent_id=%s verb=%s err=\"%s\"", agent_id, verb,
                zmq_strerror(e));
        if (e == EHOSTUNREACH)
            s_agent_remove(self, a, "unreachable");
        errno = e; /* EAGAIN: the agent's pipe is at its high-water mark */
        return 0;
    }
    af_zev_kick(self->zev);
    c->agent = a;
    a->ncalls++;
    c->next = a->calls;
    if (a->calls)
        a->calls->prev = c;
    a->calls = c;
    return c->id;
}

void af_alink_cancel(af_alink_t *self, uint64_t handle, bool send_cancel)
{
    if (!self || !handle)
        return;
    s_call_t *c = af_pending_take(self->pending, handle);
    if (!c)
        return;
    if (send_cancel && c->agent) {
        char req[AF_PROTO_REQ_MAX];
        snprintf(req, sizeof req, "%s%llu", self->prefix, (unsigned long long)c->id);
        s_send_to(self, c->agent->id, af_msg_new("CANCEL", req, NULL));
        af_zev_kick(self->zev);
    }
    s_call_unlink(c);
    free(c);
}

bool af_alink_agent_alive(af_alink_t *self, const char *agent_id)
{
    return s_agent_find(self, agent_id) != NULL;
}

bool af_alink_agent_gone(const af_alink_t *self, const char *agent_id)
{
    for (size_t i = 0; i < GONE_RING; i++)
        if (self->gone[i][0] && !strcmp(self->gone[i], agent_id))
            return true;
    return false;
}

size_t af_alink_ready_agents(const af_alink_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < AGENT_SLOTS; i++)
        for (const s_agent_t *a = self->agents[i]; a; a = a->chain)
            if (!a->draining)
                n++;
    return n;
}

size_t af_alink_inflight(const af_alink_t *self) { return af_pending_count(self->pending); }

size_t af_alink_agent_inflight(af_alink_t *self, const char *agent_id)
{
    const s_agent_t *a = s_agent_find(self, agent_id);
    return a ? a->ncalls : 0;
}
const char *af_alink_endpoint(const af_alink_t *self) { return self->endpoint; }

void af_alink_on_late(af_alink_t *self, void (*fn)(void *arg, const af_msg_t *msg), void *arg)
{
    self->on_late = fn;
    self->on_late_arg = arg;
}
