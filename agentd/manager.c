/* Manager link. See manager.h.
 *
 *   state        event                      action                      next
 *   REGISTERING  tick, READY due            send READY, backoff x2      REGISTERING
 *   REGISTERING  WELCOME                    apply, reset backoff        REGISTERED
 *   REGISTERED   tick                       send HEARTBEAT              REGISTERED
 *   REGISTERED   silent 3 intervals         send READY, backoff = 1 s   REGISTERING
 *   any          ERROR not_registered       send READY at once          REGISTERING
 *   any          GATEWAYS/DRAIN/SHUTDOWN    hand to the agent           same
 *
 * The DEALER has ZMQ_IMMEDIATE set: while the manager is away a READY fails
 * instead of queueing, so a restarted manager does not receive a pile of stale
 * READYs. A READY that could not be sent is retried after 100 ms. */
#include "manager.h"

#include "curve.h"
#include "log.h"
#include "util.h"
#include "zev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AF_MANAGER_TICK_MS 100
#define AF_MANAGER_BACKOFF_MIN_MS 1000
#define AF_MANAGER_BACKOFF_MAX_MS 30000

struct af_manager_t {
    struct event_base *base;
    zsock_t *sock;
    af_zev_t *zev;
    struct event *tick;
    char *endpoint;
    char *agent_id;
    af_codec_t codec;
    size_t max_body;
    af_manager_cb_t cb;
    void *arg;
    af_manager_state_t state;
    long hb_ms;
    uint64_t last_heard_ns, last_sent_ns, next_ready_ns;
    long backoff_ms;
    unsigned long seq;
    int nmanagers; /* HA: endpoints in the list; the DEALER round-robins between them */
    double fence;  /* HA: newest leader token seen from any manager */
};

static uint64_t s_ms(long ms) { return (uint64_t)ms * 1000000ull; }

static int s_send(af_manager_t *self, af_msg_t **m)
{
    int rc = af_proto_send(self->sock, m, self->codec);
    af_zev_kick(self->zev);
    if (rc == 0)
        self->last_sent_ns = af_now_ns();
    return rc;
}

static void s_send_ready(af_manager_t *self)
{
    char req[32];
    snprintf(req, sizeof req, "r%lu", ++self->seq);
    /* HA: one READY per manager (the DEALER round-robins between them), so a standby's
     * registry knows us too; with one manager up, it gets them all (READY is idempotent). */
    for (int i = 1; i < self->nmanagers; i++) {
        cJSON *extra = cJSON_CreateObject();
        self->cb.ready_body(self->arg, extra);
        af_msg_t *x = af_msg_new("READY", req, extra);
        if (x)
            s_send(self, &x);
    }
    cJSON *body = cJSON_CreateObject();
    self->cb.ready_body(self->arg, body);
    af_msg_t *m = af_msg_new("READY", req, body);
    uint64_t now = af_now_ns();
    if (m && s_send(self, &m) == 0) {
        af_info("event=ready_sent endpoint=%s backoff_ms=%ld", self->endpoint, self->backoff_ms);
        self->next_ready_ns = now + s_ms(self->backoff_ms);
        self->backoff_ms *= 2;
        if (self->backoff_ms > AF_MANAGER_BACKOFF_MAX_MS)
            self->backoff_ms = AF_MANAGER_BACKOFF_MAX_MS;
    } else {
        self->next_ready_ns = now + s_ms(AF_MANAGER_TICK_MS); /* not connected yet */
    }
}

static void s_register(af_manager_t *self, bool now)
{
    if (self->state == AF_MANAGER_REGISTERED)
        af_warn("event=manager_lost endpoint=%s", self->endpoint);
    self->state = AF_MANAGER_REGISTERING;
    self->backoff_ms = AF_MANAGER_BACKOFF_MIN_MS;
    if (now)
        s_send_ready(self);
    else
        self->next_ready_ns = 0;
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_manager_t *self = arg;
    uint64_t now = af_now_ns();
    if (self->state == AF_MANAGER_REGISTERED) {
        if (now - self->last_heard_ns > 3 * s_ms(self->hb_ms)) {
            s_register(self, true);
            return;
        }
        /* HA: heartbeats alternate between managers; each must hear one per interval. */
        if (now - self->last_sent_ns >= s_ms(self->hb_ms) / (uint64_t)self->nmanagers) {
            char req[32];
            snprintf(req, sizeof req, "h%lu", ++self->seq);
            cJSON *body = cJSON_CreateObject();
            self->cb.heartbeat_body(self->arg, body);
            af_msg_t *m = af_msg_new("HEARTBEAT", req, body);
            if (m && s_send(self, &m) < 0)
                self->last_sent_ns = now; /* try again next interval, not every tick */
        }
    } else if (now >= self->next_ready_ns) {
        s_send_ready(self);
    }
}

static void s_dispatch(af_manager_t *self, af_msg_t *msg)
{
    const char *v = msg->verb;
    /* HA fencing: a DRAIN or SHUTDOWN from a leader older than one we have heard from
     * is a stale leader acting; refuse it. Every other message only raises the mark. */
    double fence = af_msg_num(msg, "fence", 0);
    if ((!strcmp(v, "DRAIN") || !strcmp(v, "SHUTDOWN")) && fence < self->fence) {
        af_warn("event=stale_leader_refused verb=%s fence=%.0f newest=%.0f", v, fence, self->fence);
        af_proto_send_error(self->sock, NULL, msg->req, "not_leader",
                            "stale leader: a newer fencing token was seen", self->codec);
        af_zev_kick(self->zev);
        return;
    }
    if (fence > self->fence)
        self->fence = fence;
    if (!strcmp(v, "WELCOME")) {
        double hb = af_msg_num(msg, "heartbeat_ms", (double)self->hb_ms);
        if (hb >= 10 && hb <= 60000) /* checked as a double: the cast is then defined */
            self->hb_ms = (long)hb;
        if (self->state != AF_MANAGER_REGISTERED)
            af_info("event=registered endpoint=%s heartbeat_ms=%ld", self->endpoint, self->hb_ms);
        self->state = AF_MANAGER_REGISTERED;
        self->backoff_ms = AF_MANAGER_BACKOFF_MIN_MS;
        self->cb.on_welcome(self->arg, msg);
    } else if (!strcmp(v, "HEARTBEAT") || !strcmp(v, "OK")) {
        /* sign of life only */
    } else if (!strcmp(v, "GATEWAYS")) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(msg->body, "gateways");
        if (cJSON_IsArray(g))
            self->cb.on_gateways(self->arg, g, af_msg_bool(msg, "partial", false));
        else
            af_warn("event=manager_bad_gateways req=%s", msg->req);
    } else if (!strcmp(v, "DRAIN")) {
        af_msg_t *ok = af_msg_reply(msg, "OK", NULL);
        if (ok)
            s_send(self, &ok);
        self->cb.on_drain(self->arg);
    } else if (!strcmp(v, "SHUTDOWN")) {
        self->cb.on_shutdown(self->arg);
    } else if (!strcmp(v, "ERROR")) {
        const char *code = af_msg_str(msg, "code");
        af_warn("event=manager_error req=%s code=%s", msg->req, code ? code : "-");
        if (code && !strcmp(code, "not_registered"))
            s_register(self, true);
    } else {
        af_warn("event=manager_unexpected_verb verb=%s", v);
        af_proto_send_error(self->sock, NULL, msg->req, "unknown_verb",
                            "verb not accepted on the agent's manager link", self->codec);
        af_zev_kick(self->zev);
        if (self->cb.on_refused)
            self->cb.on_refused(self->arg, AF_PROTO_UNKNOWN_VERB);
    }
}

static void s_on_readable(zsock_t *sock, void *arg)
{
    af_manager_t *self = arg;
    af_msg_t *msg = NULL;
    af_proto_err_t err;
    int rc = af_proto_recv(sock, false, self->max_body, true, self->codec, &msg, &err);
    if (rc == 1)
        return;
    self->last_heard_ns = af_now_ns(); /* any message is a sign of life */
    if (rc < 0)
        return; /* answered and counted (af_proto_count_refusals) */
    s_dispatch(self, msg);
    af_msg_destroy(&msg);
}

af_manager_t *af_manager_new(struct event_base *base, const char *endpoint, const char *agent_id,
                             long heartbeat_ms, af_codec_t codec, size_t max_body,
                             const af_manager_cb_t *cb, void *arg)
{
    af_manager_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->endpoint = strdup(endpoint);
    self->agent_id = strdup(agent_id);
    self->codec = codec;
    self->max_body = max_body;
    self->cb = *cb;
    self->arg = arg;
    self->hb_ms = heartbeat_ms > 0 ? heartbeat_ms : 1000;
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->endpoint || !self->agent_id || !self->sock) {
        af_manager_destroy(&self);
        return NULL;
    }
    zsock_set_identity(self->sock, agent_id);
    zsock_set_linger(self->sock, 1000); /* BYE must get out at exit */
    zsock_set_immediate(self->sock, 1);
    /* "a,b": HA managers; with ZMQ_IMMEDIATE a dead one leaves the rotation at once. */
    self->nmanagers = 1;
    for (const char *c = endpoint; *c; c++)
        self->nmanagers += *c == ',';
    if (af_curve_client(self->sock, "manager") < 0 || zsock_attach(self->sock, endpoint, false) < 0) {
        af_error("event=manager_connect_failed endpoint=%s", endpoint);
        af_manager_destroy(&self);
        return NULL;
    }
    self->zev = af_zev_new(base, self->sock, s_on_readable, self, 0);
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    struct timeval tv = {0, AF_MANAGER_TICK_MS * 1000L};
    if (!self->zev || !self->tick || event_add(self->tick, &tv) < 0) {
        af_manager_destroy(&self);
        return NULL;
    }
    self->last_heard_ns = af_now_ns();
    s_register(self, false);
    return self;
}

void af_manager_destroy(af_manager_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_manager_t *self = *self_p;
    if (self->tick)
        event_free(self->tick);
    af_zev_destroy(&self->zev);
    zsock_destroy(&self->sock);
    free(self->endpoint);
    free(self->agent_id);
    free(self);
    *self_p = NULL;
}

af_manager_state_t af_manager_state(const af_manager_t *self) { return self->state; }
long af_manager_heartbeat_ms(const af_manager_t *self) { return self->hb_ms; }

void af_manager_bye(af_manager_t *self, const char *reason)
{
    char req[32];
    snprintf(req, sizeof req, "b%lu", ++self->seq);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "reason", reason);
    af_msg_t *m = af_msg_new("BYE", req, body);
    if (m && s_send(self, &m) < 0)
        af_warn("event=bye_not_sent reason=%s", reason);
}

int af_manager_send(af_manager_t *self, af_msg_t **msg_p) { return s_send(self, msg_p); }
