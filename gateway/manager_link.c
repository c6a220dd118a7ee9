/* Manager link. See manager_link.h. */
#include "manager_link.h"

#include "curve.h"
#include "log.h"
#include "pending.h"
#include "util.h"
#include "zev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    af_mlink_fn *cb;
    void *arg;
    /* HA: kept to ask again when a standby answers not_leader. */
    char verb[AF_PROTO_VERB_MAX];
    cJSON *body;
    int retries;
} s_wait_t;

#define S_NOT_LEADER_RETRIES 40 /* x S_RETRY_MS: covers a lease TTL of failover */
#define S_RETRY_MS 150

struct af_mlink_t {
    zsock_t *sock;
    af_zev_t *zev;
    af_pending_t *pending;
    struct event *hello_timer;
    af_codec_t codec;
    long heartbeat_ms;
    char prefix[40];
    char gateway_id[64];
    char data_endpoint[256];
    uint64_t last_heard_ns;
    uint64_t started_ns;
    struct event_base *base;
    int nmanagers;  /* HA: endpoints in the list */
    double fence;   /* HA: newest leader token seen, sent in SPAWN/DELETE */
};

static void s_wait_free(s_wait_t *w)
{
    if (w)
        cJSON_Delete(w->body);
    free(w);
}

static void s_finish(af_mlink_t *self, uint64_t id, const af_msg_t *reply)
{
    s_wait_t *w = af_pending_take(self->pending, id);
    if (!w)
        return; /* forgotten or late */
    af_mlink_fn *cb = w->cb;
    void *arg = w->arg;
    s_wait_free(w);
    if (cb)
        cb(reply, arg);
}

static void s_on_timeout(uint64_t id, void *data, void *arg)
{
    (void)id;
    (void)arg;
    s_wait_t *w = data;
    af_mlink_fn *cb = w->cb;
    void *cbarg = w->arg;
    s_wait_free(w);
    if (cb)
        cb(NULL, cbarg);
}

static int s_send_req(af_mlink_t *self, uint64_t id, const char *verb, const cJSON *body)
{
    char req[AF_PROTO_REQ_MAX];
    snprintf(req, sizeof req, "%s%llu", self->prefix, (unsigned long long)id);
    cJSON *copy = body ? cJSON_Duplicate(body, 1) : cJSON_CreateObject();
    if (copy && self->fence > 0 && (!strcmp(verb, "SPAWN") || !strcmp(verb, "DELETE"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "fence");
        cJSON_AddNumberToObject(copy, "fence", self->fence);
    }
    af_msg_t *msg = af_msg_new(verb, req, copy);
    if (!msg || af_proto_send(self->sock, &msg, self->codec) < 0) {
        af_msg_destroy(&msg);
        return -1;
    }
    af_zev_kick(self->zev);
    return 0;
}

typedef struct {
    af_mlink_t *link;
    uint64_t id;
} s_retry_t;

static void s_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_retry_t *r = arg;
    s_wait_t *w = af_pending_get(r->link->pending, r->id);
    if (w && s_send_req(r->link, r->id, w->verb, w->body) < 0)
        af_warn("event=manager_send_failed verb=%s", w->verb);
    free(r);
}

/* HA: a standby (or a stale leader) refused with not_leader, so nothing was done:
 * ask again shortly (the DEALER round-robins to the other manager; during a
 * failover the new leader needs up to a lease TTL). Returns true when retried. */
static bool s_not_leader(af_mlink_t *self, uint64_t id, const af_msg_t *msg)
{
    const char *code = af_msg_str(msg, "code");
    if (strcmp(msg->verb, "ERROR") != 0 || !code || strcmp(code, "not_leader") != 0)
        return false;
    s_wait_t *w = af_pending_get(self->pending, id);
    if (!w || !w->verb[0] || w->retries >= S_NOT_LEADER_RETRIES)
        return false;
    s_retry_t *r = malloc(sizeof *r);
    if (!r)
        return false;
    w->retries++;
    r->link = self;
    r->id = id;
    /* A round of one retry per other manager at once (the rotation reaches the
     * leader), then a pause with jitter: a fixed period could keep step with the
     * HELLO timer on the same DEALER and always land on the same manager. */
    long us = w->retries % self->nmanagers ? 0 : (S_RETRY_MS / 2 + rand() % S_RETRY_MS) * 1000L;
    struct timeval tv = {0, us};
    if (event_base_once(self->base, -1, EV_TIMEOUT, s_on_retry, r, &tv) < 0) {
        free(r);
        return false;
    }
    af_debug("event=not_leader_retry req=%s verb=%s retry=%d", msg->req, w->verb, w->retries);
    return true;
}

static void s_on_msg(zsock_t *sock, void *arg)
{
    af_mlink_t *self = arg;
    af_msg_t *msg = NULL;
    af_proto_err_t perr;
    int rc = af_proto_recv(sock, false, (size_t)AF_PROTO_MAX_BODY_DEFAULT, true, self->codec, &msg, &perr);
    if (rc != 0)
        return;
    self->last_heard_ns = af_now_ns();
    double fence = af_msg_num(msg, "fence", 0);
    if (fence > self->fence)
        self->fence = fence;
    if (!strcmp(msg->verb, "OK") || !strcmp(msg->verb, "ERROR")) {
        uint64_t id = af_pending_parse(msg->req, self->prefix);
        if (id && s_not_leader(self, id, msg))
            ; /* asked again: the next send goes to the other manager */
        else if (id)
            s_finish(self, id, msg);
        else if (!strcmp(msg->verb, "ERROR"))
            af_warn("event=manager_error req=%s code=%s message=\"%s\"", msg->req,
                    af_msg_str(msg, "code") ? af_msg_str(msg, "code") : "",
                    af_msg_str(msg, "message") ? af_msg_str(msg, "message") : "");
    } else if (strcmp(msg->verb, "HEARTBEAT") != 0) {
        af_warn("event=manager_unexpected_verb verb=%s", msg->verb);
    }
    af_msg_destroy(&msg);
}

static void s_on_hello_reply(const af_msg_t *reply, void *arg)
{
    af_mlink_t *self = arg;
    if (!reply) {
        af_debug("event=hello_timeout");
        return;
    }
    if (!strcmp(reply->verb, "ERROR"))
        af_warn("event=hello_refused code=%s", af_msg_str(reply, "code") ? af_msg_str(reply, "code") : "");
    (void)self;
}

static void s_send_hello(af_mlink_t *self)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "gateway_id", self->gateway_id);
    cJSON_AddStringToObject(b, "endpoint", self->data_endpoint);
    af_mlink_request(self, "GATEWAY_HELLO", b, self->heartbeat_ms * 3, s_on_hello_reply, self);
}

static void s_on_hello_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_send_hello(arg);
}

af_mlink_t *af_mlink_new(struct event_base *base, const char *endpoint, const char *gateway_id,
                         const char *data_endpoint, af_codec_t codec, long heartbeat_ms)
{
    af_mlink_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->codec = codec;
    self->base = base;
    self->nmanagers = 1;
    for (const char *c = endpoint; *c; c++)
        self->nmanagers += *c == ',';
    self->started_ns = af_now_ns();
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 1000;
    snprintf(self->gateway_id, sizeof self->gateway_id, "%s", gateway_id);
    snprintf(self->data_endpoint, sizeof self->data_endpoint, "%s", data_endpoint);
    snprintf(self->prefix, sizeof self->prefix, "%.32s-m", gateway_id);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    zsock_set_identity(self->sock, gateway_id);
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 100000);
    zsock_set_rcvhwm(self->sock, 100000);
    if (self->nmanagers > 1) /* HA: a dead manager leaves the DEALER's rotation at once */
        zsock_set_immediate(self->sock, 1);
    if (af_curve_client(self->sock, "manager") < 0 ||
        zsock_attach(self->sock, endpoint, false) < 0) {
        af_error("event=manager_connect_failed endpoint=%s", endpoint);
        goto fail;
    }
    self->pending = af_pending_new(base, s_on_timeout, self);
    self->zev = af_zev_new(base, self->sock, s_on_msg, self, 0);
    self->hello_timer = event_new(base, -1, EV_PERSIST, s_on_hello_timer, self);
    if (!self->pending || !self->zev || !self->hello_timer)
        goto fail;
    /* HA: HELLOs alternate between managers; each must hear one per interval. */
    long every = self->heartbeat_ms / self->nmanagers;
    struct timeval tv = {every / 1000, (every % 1000) * 1000};
    event_add(self->hello_timer, &tv);
    s_send_hello(self);
    af_info("event=manager_link endpoint=%s gateway_id=%s data_endpoint=%s", endpoint, gateway_id,
            data_endpoint);
    return self;
fail:
    af_mlink_destroy(&self);
    return NULL;
}

void af_mlink_destroy(af_mlink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_mlink_t *self = *self_p;
    if (self->hello_timer)
        event_free(self->hello_timer);
    af_zev_destroy(&self->zev);
    if (self->pending) {
        /* Drop waiters without calling back: the HTTP side is shutting down too. */
        af_pending_destroy(&self->pending);
    }
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}

uint64_t af_mlink_request(af_mlink_t *self, const char *verb, cJSON *body, long timeout_ms,
                          af_mlink_fn *cb, void *arg)
{
    s_wait_t *w = calloc(1, sizeof *w);
    if (!w) {
        cJSON_Delete(body);
        return 0;
    }
    w->cb = cb;
    w->arg = arg;
    w->body = body;
    /* HELLO is not retried (it repeats anyway); everything else may meet a standby. */
    if (self->nmanagers > 1 && strcmp(verb, "GATEWAY_HELLO") != 0)
        snprintf(w->verb, sizeof w->verb, "%s", verb);
    uint64_t id = af_pending_add(self->pending, w, timeout_ms);
    if (!id) {
        s_wait_free(w);
        return 0;
    }
    if (s_send_req(self, id, verb, body) < 0) {
        s_wait_free(af_pending_take(self->pending, id));
        af_warn("event=manager_send_failed verb=%s", verb);
        return 0;
    }
    return id;
}

void af_mlink_forget(af_mlink_t *self, uint64_t handle)
{
    if (self && handle)
        s_wait_free(af_pending_take(self->pending, handle));
}

bool af_mlink_reachable(const af_mlink_t *self)
{
    return self->last_heard_ns &&
           af_now_ns() - self->last_heard_ns < (uint64_t)self->heartbeat_ms * 3 * 1000000ull;
}

bool af_mlink_usable(const af_mlink_t *self)
{
    uint64_t grace = (uint64_t)self->heartbeat_ms * 3 * 1000000ull;
    return af_mlink_reachable(self) || af_now_ns() - self->started_ns < grace;
}

size_t af_mlink_pending(const af_mlink_t *self) { return af_pending_count(self->pending); }
