/* Gateway data links. See gateways.h. */
#include "gateways.h"

#include "log.h"
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
    bool is_static;
    bool mark; /* scratch for the diff */
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
};

static void s_on_readable(zsock_t *sock, void *arg)
{
    af_gateway_t *gw = arg;
    af_gateways_t *self = gw->owner;
    af_msg_t *msg = NULL;
    af_proto_err_t err;
    int rc = af_proto_recv(sock, false, self->max_body, true, self->codec, &msg, &err);
    if (rc < 0 && self->cb.on_refused)
        self->cb.on_refused(self->arg, err);
    if (rc == 0)
        self->cb.on_msg(self->arg, gw, msg); /* may not remove gw: links change only via set */
}

static void s_close(af_gateways_t *self, af_gateway_t *gw)
{
    if (self->cb.on_gone)
        self->cb.on_gone(self->arg, gw);
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
    if (zsock_connect(gw->sock, "%s", endpoint) < 0) {
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
                               size_t max_body, const af_gateways_cb_t *cb, void *arg)
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
    if (!self->agent_id) {
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

int af_gateways_set(af_gateways_t *self, const cJSON *endpoints)
{
    if (endpoints && !cJSON_IsArray(endpoints))
        return -1;
    for (af_gateway_t *gw = self->list; gw; gw = gw->next)
        gw->mark = gw->is_static;
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

int af_gateway_send(af_gateway_t *gw, af_msg_t **msg_p)
{
    int rc = af_proto_send(gw->sock, msg_p, gw->owner->codec);
    if (rc < 0)
        af_debug("event=gateway_send_failed endpoint=%s errno=%d", gw->endpoint, errno);
    /* A send can swallow the edge that announced input: look again. */
    af_zev_kick(gw->zev);
    return rc;
}

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
