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
    /* gw is about to be closed (removed from the list): drop references to it. */
    void (*on_gone)(void *arg, af_gateway_t *gw);
} af_gateways_cb_t;

/* batch_us: outgoing messages wait at most this long to be sent together (0:
 * send each at once). */
af_gateways_t *af_gateways_new(struct event_base *base, const char *agent_id, af_codec_t codec,
                               size_t max_body, long batch_us, const af_gateways_cb_t *cb,
                               void *arg);
void af_gateways_destroy(af_gateways_t **self_p);

/* Makes the connected set equal to `endpoints` (array of strings, may be NULL)
 * plus the static endpoint; with partial, only adds (a manager that has just
 * started does not know every gateway yet). A link closed here first tells its
 * gateway BYE, so the gateway fails what it still waits for from us at once.
 * Returns the number of links, or -1 on a bad list. */
int af_gateways_set(af_gateways_t *self, const cJSON *endpoints, bool partial);
/* An endpoint that is always kept (--gateway). Connects it now. */
int af_gateways_add_static(af_gateways_t *self, const char *endpoint);
size_t af_gateways_count(const af_gateways_t *self);

/* Sends (and destroys) *msg_p to gw now, after whatever is queued for it, in
 * order, without blocking (dropped and counted at the high-water mark).
 * Returns 0, or -1 when it could not be encoded. */
int af_gateway_send(af_gateway_t *gw, af_msg_t **msg_p);
/* The body {req, key: text} (text_len bytes, need not be NUL-terminated),
 * encoded without building a tree: the DELTA fast path. It waits up to
 * batch_us to leave with others unless urgent (a stream's first token). */
int af_gateway_send_pair(af_gateway_t *gw, const char *verb, const char *req, const char *key,
                         const char *text, size_t text_len, bool urgent);
const char *af_gateway_endpoint(const af_gateway_t *gw);
/* Messages dropped because a gateway was unreachable or full. */
unsigned long af_gateways_dropped(const af_gateways_t *self);
/* The same for one link. */
unsigned long af_gateway_dropped(const af_gateway_t *gw);

/* Sends HEARTBEAT {sessions, draining} on every link. */
void af_gateways_heartbeat(af_gateways_t *self, size_t sessions, bool draining);

#endif
