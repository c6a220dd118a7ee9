/* Gateway data links. See gateways.h. */
#include "gateways.h"

#include "curve.h"
#include "log.h"
#include "util.h"
#include "wire.h"
#include "zev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_gateway_t {
    af_gateway_t *next;
    af_gateways_t *owner;
    char *endpoint;
    zsock_t *sock;
    af_zev_t *zev;
    /* Encoded messages waiting for the next flush, back to back:
     * [u8 verb length][verb][u32 body length][body]. One buffer, so queueing a
     * message costs no allocation once it has grown. */
    uint8_t *queue;
    size_t qlen, qcap, nqueue;
    bool is_static;
    bool mark; /* scratch for the diff */
    unsigned long dropped; /* on this link: its chats in flight have a hole */
};

struct af_gateways_t {
    struct event_base *base;
    char *agent_id;
    af_codec_t codec;
    size_t max_body;
    af_gateways_cb_t cb;
    void *arg;
    af_gateway_t *list;
    size_t count;
    unsigned long hb_seq;
    long batch_us;
    struct event *flush_ev;
    bool flush_armed;
    unsigned long dropped;
};

/* ---- send batching ------------------------------------------------------------
 * Every zmq_send that finds the pipe idle wakes libzmq's I/O thread, which then
 * writes one small TCP segment. At 100 streams that is one wake-up and one
 * segment per token. Holding mid-stream DELTAs for batch_us (default 2 ms) and
 * sending them together lets the I/O thread pack many into one write. What a
 * client waits on leaves at once, with whatever is queued before it (order per
 * link is kept): a stream's first DELTA (time to first token), and every other
 * verb (START, DONE, ERROR, replies). A full queue flushes at once too. */

#define AF_GATEWAY_QUEUE_FLUSH 512

static void s_flush_one(af_gateway_t *gw)
{
    if (!gw->nqueue)
        return;
    void *handle = zsock_resolve(gw->sock);
    size_t at = 0;
    while (at < gw->qlen) {
        size_t vlen = gw->queue[at];
        const uint8_t *verb = gw->queue + at + 1;
        uint32_t blen;
        memcpy(&blen, verb + vlen, sizeof blen);
        const uint8_t *body = verb + vlen + sizeof blen;
        at += 1 + vlen + sizeof blen + blen;
        /* Frame by frame with DONTWAIT: at the high-water mark or with the
         * gateway gone, drop and count, never block the loop. A failure on the
         * first frame leaves nothing half-sent; later frames of a message
         * cannot fail once the first was accepted. */
        if (zmq_send(handle, AF_PROTO_TAG, 3, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
            zmq_send(handle, verb, vlen, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
            zmq_send(handle, body, blen, ZMQ_DONTWAIT) < 0) {
            gw->owner->dropped++;
            gw->dropped++;
            af_debug("event=gateway_send_failed endpoint=%s errno=%d", gw->endpoint, errno);
        }
    }
    gw->qlen = gw->nqueue = 0;
    /* A send can swallow the edge that announced input: look again. */
    af_zev_kick(gw->zev);
}

static void s_on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_gateways_t *self = arg;
    self->flush_armed = false;
    for (af_gateway_t *gw = self->list; gw; gw = gw->next)
        s_flush_one(gw);
}

static void s_on_readable(zsock_t *sock, void *arg)
{
    af_gateway_t *gw = arg;
    af_gateways_t *self = gw->owner;
    af_msg_t *msg = NULL;
    af_proto_err_t err;
    int rc = af_proto_recv(sock, false, self->max_body, true, self->codec, &msg, &err);
    (void)err; /* refusals are answered and counted (af_proto_count_refusals) */
    if (rc == 0)
        self->cb.on_msg(self->arg, gw, msg); /* may not remove gw: links change only via set */
}

static void s_close(af_gateways_t *self, af_gateway_t *gw)
{
    if (self->cb.on_gone)
        self->cb.on_gone(self->arg, gw);
    /* BYE: should the gateway still be alive, it fails the calls it waits for
     * from us now instead of at their timeout (their replies die with the link). */
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "reason", "gateway_dropped");
    af_msg_t *bye = af_msg_new("BYE", "bye", body);
    if (bye)
        af_gateway_send(gw, &bye);
    s_flush_one(gw); /* what was said before closing still goes out (linger) */
    free(gw->queue);
    af_zev_destroy(&gw->zev);
    zsock_destroy(&gw->sock);
    af_info("event=gateway_disconnected endpoint=%s", gw->endpoint);
    free(gw->endpoint);
    free(gw);
    self->count--;
}

static af_gateway_t *s_open(af_gateways_t *self, const char *endpoint, bool is_static)
{
    af_gateway_t *gw = calloc(1, sizeof *gw);
    if (!gw)
        return NULL;
    gw->owner = self;
    gw->is_static = is_static;
    gw->endpoint = strdup(endpoint);
    gw->sock = zsock_new(ZMQ_DEALER);
    if (!gw->endpoint || !gw->sock) {
        free(gw->endpoint);
        zsock_destroy(&gw->sock);
        free(gw);
        return NULL;
    }
    /* The gateway's ROUTER addresses us by agent id. */
    zsock_set_identity(gw->sock, self->agent_id);
    zsock_set_linger(gw->sock, 500);
    zsock_set_sndhwm(gw->sock, 100000);
    zsock_set_rcvhwm(gw->sock, 100000);
    zsock_set_immediate(gw->sock, 1);
    if (af_curve_client(gw->sock, "gateway") < 0 || zsock_connect(gw->sock, "%s", endpoint) < 0) {
        af_warn("event=gateway_connect_failed endpoint=%s", endpoint);
        zsock_destroy(&gw->sock);
        free(gw->endpoint);
        free(gw);
        return NULL;
    }
    gw->zev = af_zev_new(self->base, gw->sock, s_on_readable, gw, 0);
    if (!gw->zev) {
        zsock_destroy(&gw->sock);
        free(gw->endpoint);
        free(gw);
        return NULL;
    }
    gw->next = self->list;
    self->list = gw;
    self->count++;
    af_info("event=gateway_connected endpoint=%s", endpoint);
    return gw;
}

af_gateways_t *af_gateways_new(struct event_base *base, const char *agent_id, af_codec_t codec,
                               size_t max_body, long batch_us, const af_gateways_cb_t *cb,
                               void *arg)
{
    af_gateways_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->agent_id = strdup(agent_id);
    self->codec = codec;
    self->max_body = max_body;
    self->cb = *cb;
    self->arg = arg;
    self->batch_us = batch_us > 0 ? batch_us : 0;
    self->flush_ev = evtimer_new(base, s_on_flush, self);
    if (!self->agent_id || !self->flush_ev) {
        free(self->agent_id);
        if (self->flush_ev)
            event_free(self->flush_ev);
        free(self);
        return NULL;
    }
    return self;
}

void af_gateways_destroy(af_gateways_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_gateways_t *self = *self_p;
    while (self->list) {
        af_gateway_t *gw = self->list;
        self->list = gw->next;
        s_close(self, gw);
    }
    if (self->flush_ev)
        event_free(self->flush_ev);
    free(self->agent_id);
    free(self);
    *self_p = NULL;
}

static af_gateway_t *s_find(af_gateways_t *self, const char *endpoint)
{
    for (af_gateway_t *gw = self->list; gw; gw = gw->next)
        if (!strcmp(gw->endpoint, endpoint))
            return gw;
    return NULL;
}

int af_gateways_add_static(af_gateways_t *self, const char *endpoint)
{
    af_gateway_t *gw = s_find(self, endpoint);
    if (gw) {
        gw->is_static = true;
        return 0;
    }
    return s_open(self, endpoint, true) ? 0 : -1;
}

int af_gateways_set(af_gateways_t *self, const cJSON *endpoints, bool partial)
{
    if (endpoints && !cJSON_IsArray(endpoints))
        return -1;
    for (af_gateway_t *gw = self->list; gw; gw = gw->next)
        gw->mark = gw->is_static || partial;
    const cJSON *e;
    cJSON_ArrayForEach(e, endpoints)
    {
        if (!cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) > 255) {
            af_warn("event=gateway_bad_endpoint");
            continue;
        }
        af_gateway_t *gw = s_find(self, e->valuestring);
        if (!gw)
            gw = s_open(self, e->valuestring, false);
        if (gw)
            gw->mark = true;
    }
    for (af_gateway_t **pp = &self->list; *pp;) {
        af_gateway_t *gw = *pp;
        if (!gw->mark) {
            *pp = gw->next;
            s_close(self, gw);
        } else {
            pp = &gw->next;
        }
    }
    return (int)self->count;
}

size_t af_gateways_count(const af_gateways_t *self) { return self->count; }

/* Reserves room for one message in gw's queue; returns where its body goes. */
static uint8_t *s_reserve(af_gateway_t *gw, const char *verb, size_t body_max)
{
    size_t vlen = strlen(verb);
    size_t need = gw->qlen + 1 + vlen + sizeof(uint32_t) + body_max;
    if (vlen > 255 || body_max > UINT32_MAX)
        return NULL;
    uint8_t *q = af_grow(gw->queue, &gw->qcap, need, 4096);
    if (!q)
        return NULL;
    gw->queue = q;
    uint8_t *p = gw->queue + gw->qlen;
    p[0] = (uint8_t)vlen;
    memcpy(p + 1, verb, vlen); // NOLINT(bugprone-not-null-terminated-result): length-prefixed
    return p + 1 + vlen + sizeof(uint32_t);
}

/* Commits a reserved message of blen body bytes and flushes now (urgent) or
 * schedules the flush. */
static void s_commit(af_gateway_t *gw, size_t blen, bool urgent)
{
    af_gateways_t *self = gw->owner;
    uint8_t *p = gw->queue + gw->qlen;
    uint32_t b = (uint32_t)blen;
    memcpy(p + 1 + p[0], &b, sizeof b);
    gw->qlen += 1 + p[0] + sizeof b + blen;
    gw->nqueue++;
    if (urgent || self->batch_us == 0 || gw->nqueue >= AF_GATEWAY_QUEUE_FLUSH) {
        s_flush_one(gw);
    } else if (!self->flush_armed) {
        struct timeval tv = {self->batch_us / 1000000, self->batch_us % 1000000};
        if (evtimer_add(self->flush_ev, &tv) == 0)
            self->flush_armed = true;
        else
            s_flush_one(gw);
    }
}

int af_gateway_send(af_gateway_t *gw, af_msg_t **msg_p)
{
    af_msg_t *msg = *msg_p;
    if (!msg)
        return -1;
    uint8_t *buf;
    size_t len;
    int rc = af_codec_encode(msg->body, gw->owner->codec, &buf, &len);
    if (rc == 0) {
        uint8_t *at = s_reserve(gw, msg->verb, len);
        if (at) {
            memcpy(at, buf, len);
            s_commit(gw, len, true);
        } else {
            rc = -1;
        }
        free(buf);
    }
    af_msg_destroy(msg_p);
    return rc;
}

int af_gateway_send_pair(af_gateway_t *gw, const char *verb, const char *req, const char *key,
                         const char *text, size_t text_len, bool urgent)
{
    if (gw->owner->codec != AF_CODEC_CBOR) {
        char *t = strndup(text, text_len);
        cJSON *body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, key, t ? t : "");
        free(t);
        af_msg_t *m = af_msg_new(verb, req, body);
        return m ? af_gateway_send(gw, &m) : -1;
    }
    size_t rl = strlen(req), kl = strlen(key);
    uint8_t *at = s_reserve(gw, verb, af_wire_pair_size(rl, kl, text_len));
    if (!at)
        return -1;
    s_commit(gw, af_wire_pair_cbor(at, req, rl, key, kl, text, text_len), urgent);
    return 0;
}

unsigned long af_gateways_dropped(const af_gateways_t *self) { return self->dropped; }
unsigned long af_gateway_dropped(const af_gateway_t *gw) { return gw->dropped; }

const char *af_gateway_endpoint(const af_gateway_t *gw) { return gw->endpoint; }

void af_gateways_heartbeat(af_gateways_t *self, size_t sessions, bool draining)
{
    for (af_gateway_t *gw = self->list; gw; gw = gw->next) {
        char req[32];
        snprintf(req, sizeof req, "h%lu", ++self->hb_seq);
        cJSON *body = cJSON_CreateObject();
        cJSON_AddNumberToObject(body, "sessions", (double)sessions);
        cJSON_AddBoolToObject(body, "draining", draining);
        af_msg_t *m = af_msg_new("HEARTBEAT", req, body);
        if (m)
            af_gateway_send(gw, &m);
    }
}
