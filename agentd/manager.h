/* The agent's control link to the manager: a DEALER (routing id = agent id) that
 * registers with READY, heartbeats both ways, notices a silent or restarted
 * manager and re-registers with backoff (1 s doubling to 30 s), and hands
 * WELCOME / GATEWAYS / DRAIN / SHUTDOWN to the agent. The link state machine is
 * the table in manager.c. */
#ifndef AF_MANAGER_H
#define AF_MANAGER_H

#include "proto.h"

#include <event2/event.h>
#include <stdbool.h>

typedef struct af_manager_t af_manager_t;

typedef struct {
    /* Fills a READY body (agent_id, owner, spec, sessions, ...); req is set by the link. */
    void (*ready_body)(void *arg, cJSON *body);
    /* Fills the agent's HEARTBEAT fields (sessions, draining). */
    void (*heartbeat_body)(void *arg, cJSON *body);
    void (*on_welcome)(void *arg, const af_msg_t *msg);
    void (*on_gateways)(void *arg, const cJSON *gateways, bool partial);
    void (*on_drain)(void *arg);
    void (*on_shutdown)(void *arg);
    void (*on_refused)(void *arg, af_proto_err_t err);
} af_manager_cb_t;

typedef enum {
    AF_MANAGER_REGISTERING = 0, /* sending READY with backoff, waiting for WELCOME */
    AF_MANAGER_REGISTERED,      /* heartbeating */
} af_manager_state_t;

af_manager_t *af_manager_new(struct event_base *base, const char *endpoint, const char *agent_id,
                             long heartbeat_ms, af_codec_t codec, size_t max_body,
                             const af_manager_cb_t *cb, void *arg);
void af_manager_destroy(af_manager_t **self_p);

af_manager_state_t af_manager_state(const af_manager_t *self);
long af_manager_heartbeat_ms(const af_manager_t *self);
/* Sends BYE {reason} (best effort, no reply expected). */
void af_manager_bye(af_manager_t *self, const char *reason);
/* Sends a reply/event on the link (takes *msg_p). */
int af_manager_send(af_manager_t *self, af_msg_t **msg_p);

#endif
