/* The fleet: the manager's actions over the registry (spawn and reply once READY,
 * heal, delete, drain, gateways, heartbeats to agents). control.c checks request
 * shapes and calls in here. */
#ifndef AF_MANAGER_FLEET_H
#define AF_MANAGER_FLEET_H

#include "codec.h"
#include "lease.h"
#include "manager_metrics.h"
#include "proto.h"
#include "provider.h"
#include "registry.h"
#include "spec.h"
#include "zev.h"

#include <stdbool.h>

typedef struct {
    int quota;              /* agents per user */
    int min_agents, max_agents;
    int capacity;           /* sessions per agent */
    int heartbeat_ms;
    int spawn_timeout_ms;
    const char *endpoint;   /* the control endpoint agents connect to (copied) */
    const char *api_key;    /* sent in WELCOME only; NULL for none (copied) */
    af_codec_t codec;
    af_spec_limits_t limits;
} af_fleet_config_t;

typedef struct af_fleet_t af_fleet_t;

/* metrics not owned (may be NULL in tests). */
af_fleet_t *af_fleet_new(struct event_base *base, const af_fleet_config_t *cfg,
                         af_mgr_metrics_t *metrics);
void af_fleet_destroy(af_fleet_t **self_p);

/* The provider (ownership taken) and its event callback target. */
void af_fleet_set_provider(af_fleet_t *self, af_provider_t *provider);
/* HA (manager/lease.h): with a lease we act (pool upkeep, health, SPAWN, DELETE, ...)
 * only while we lead; a standby keeps its registry warm from READY and heartbeats.
 * The lease is not owned. af_fleet_leads sets *fence (may be NULL) to our token. */
void af_fleet_set_lease(af_fleet_t *self, const af_lease_t *lease);
bool af_fleet_leads(const af_fleet_t *self, uint64_t *fence);
/* For af_provider_*_new: pass af_fleet_provider_event with the fleet as arg. */
void af_fleet_provider_event(void *fleet, const char *agent_id, af_provider_event_t ev,
                             const char *detail);
/* The ROUTER to send on (not owned) and its adapter to kick after sends. */
void af_fleet_set_socket(af_fleet_t *self, zsock_t *sock, af_zev_t *zev);

af_registry_t *af_fleet_registry(af_fleet_t *self);
const af_fleet_config_t *af_fleet_config(const af_fleet_t *self);

/* Starts the periodic work (health, heartbeats, pool upkeep). */
int af_fleet_start(af_fleet_t *self);

/* ---- agent link --------------------------------------------------------- */
/* Each takes the decoded message (not owned) and replies itself. */
void af_fleet_on_ready(af_fleet_t *self, const af_msg_t *msg);
void af_fleet_on_heartbeat(af_fleet_t *self, const af_msg_t *msg);
void af_fleet_on_bye(af_fleet_t *self, const af_msg_t *msg);
/* Any message from a routing id that is a registered agent counts as life. */
void af_fleet_touch(af_fleet_t *self, const char *agent_id);

/* ---- control plane ------------------------------------------------------ */
/* Starts spawning count agents for owner; the reply (OK agents / ERROR) is sent
 * later to msg's routing id and req. Returns 0, or -1 with code+err set (nothing
 * sent, nothing started). */
int af_fleet_spawn(af_fleet_t *self, const af_msg_t *msg, const char *owner,
                   const af_spec_t *spec, int count, const char **code, char *err,
                   size_t errlen);
/* Drains and destroys the agent; it disappears from LIST at once. */
void af_fleet_delete(af_fleet_t *self, af_agent_t *agent);
/* Sets the pool target, spawns or drains; fills an OK body {target, current,
 * spawning, draining}. */
void af_fleet_scale(af_fleet_t *self, int target, cJSON *reply);
/* Counts a placed session on agent until its next heartbeat says otherwise. */
void af_fleet_placed(af_fleet_t *self, af_agent_t *agent);
/* Adds or refreshes a gateway; -1 when the list is full (64). */
int af_fleet_gateway_hello(af_fleet_t *self, const char *gateway_id, const char *endpoint);
/* Adds STATS fields to reply. */
void af_fleet_stats(af_fleet_t *self, cJSON *reply);
/* The protocol's agent object for a (new cJSON, caller owns). */
cJSON *af_fleet_agent_json(const af_agent_t *a);
/* True when a is visible to users (not dead, not being deleted). */
bool af_fleet_visible(const af_agent_t *a);

/* Agents not dead (hypercore_agent_active_count). */
double af_fleet_active_count(void *fleet);

#endif
