/* The agent's data links: one ZeroMQ DEALER per gateway endpoint (routing id =
 * agent id), joined to the loop with common/zev.h. Endpoints come from the
 * manager (WELCOME, GATEWAYS) plus an optional static one; the set is diffed so
 * an unchanged gateway keeps its connection. Knows the envelope, not the verbs. */
#ifndef AF_GATEWAYS_H
#define AF_GATEWAYS_H

#include "proto.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdbool.h>

typedef struct af_gateways_t af_gateways_t;
typedef struct af_gateway_t af_gateway_t;

typedef struct {
    /* A decoded message from gw; the handler takes ownership of msg. */
    void (*on_msg)(void *arg, af_gateway_t *gw, af_msg_t *msg);
    /* A frame set refused by the envelope decoder (already answered). */
    void (*on_refused)(void *arg, af_proto_err_t err);
    /* gw is about to be closed (removed from the list): drop references to it. */
    void (*on_gone)(void *arg, af_gateway_t *gw);
} af_gateways_cb_t;

af_gateways_t *af_gateways_new(struct event_base *base, const char *agent_id, af_codec_t codec,
                               size_t max_body, const af_gateways_cb_t *cb, void *arg);
void af_gateways_destroy(af_gateways_t **self_p);

/* Makes the connected set equal to `endpoints` (array of strings, may be NULL)
 * plus the static endpoint. Returns the number of links, or -1 on a bad list. */
int af_gateways_set(af_gateways_t *self, const cJSON *endpoints);
/* An endpoint that is always kept (--gateway). Connects it now. */
int af_gateways_add_static(af_gateways_t *self, const char *endpoint);
size_t af_gateways_count(const af_gateways_t *self);

/* Sends (and destroys) *msg_p on gw without blocking. Returns 0 / -1. */
int af_gateway_send(af_gateway_t *gw, af_msg_t **msg_p);
const char *af_gateway_endpoint(const af_gateway_t *gw);

/* Sends HEARTBEAT {sessions, draining} on every link. */
void af_gateways_heartbeat(af_gateways_t *self, size_t sessions, bool draining);

#endif
