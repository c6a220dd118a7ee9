/* The agent registry: every agent the manager knows, its owner, spec, state and
 * load. The lifecycle (spawning -> ready -> draining -> dead) is one transition
 * table; nothing else changes an agent's state. Pure: no sockets, no provider. */
#ifndef AF_MANAGER_REGISTRY_H
#define AF_MANAGER_REGISTRY_H

#include "spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_AGENT_ID_MAX 64
#define AF_OWNER_MAX 64
#define AF_POOL_OWNER "pool"

typedef enum {
    AF_AGENT_SPAWNING = 0,
    AF_AGENT_READY,
    AF_AGENT_DRAINING,
    AF_AGENT_DEAD,
    AF_AGENT_STATE_COUNT
} af_agent_state_t;

typedef enum {
    AF_AGENT_EV_REGISTER = 0, /* READY received */
    AF_AGENT_EV_DRAIN,        /* drain asked (DELETE, scale-down) or reported */
    AF_AGENT_EV_EXPIRE,       /* missed heartbeats, spawn timeout, process died */
    AF_AGENT_EV_BYE,          /* the agent left on purpose */
    AF_AGENT_EV_DESTROY,      /* deleted / spawn abandoned */
    AF_AGENT_EV_COUNT
} af_agent_event_t;

/* One agent. A plain record owned by the registry; pointers stay valid until
 * af_registry_remove (or the registry's destruction). */
typedef struct af_agent_t {
    char id[AF_AGENT_ID_MAX];
    char owner[AF_OWNER_MAX];
    af_spec_t spec;
    af_agent_state_t state;
    int sessions;            /* last reported + placed since */
    int capacity;
    char metrics[128];       /* "host:port" of its /metrics */
    char token[48];          /* one-time join token; cleared once used */
    char version[32];
    uint64_t created_ms;     /* wall clock */
    uint64_t spawn_ns;       /* when its spawn began; 0 when adopted */
    uint64_t last_seen_ns;   /* last message from it (or spawn start) */
    uint64_t dead_ns;        /* when it became dead (tombstone age) */
    uint64_t hb_sent_ns;     /* our last HEARTBEAT to it */
    uint64_t batch;          /* pending SPAWN request waiting on it; 0 = none */
    bool heal;               /* replace it if it dies unexpectedly */
    bool deleting;           /* deleted by a user/admin or drained by scale-down */
    bool destroyed;          /* the provider was told to destroy it (or it is gone) */
    int attempts;            /* failed heal spawns in a row */
    struct af_agent_t *next, *prev; /* registry order (insertion) */
} af_agent_t;

typedef struct af_registry_t af_registry_t;

af_registry_t *af_registry_new(void);
void af_registry_destroy(af_registry_t **self_p);

const char *af_agent_state_name(af_agent_state_t state);
/* Parses "spawning|ready|draining|dead"; -1 otherwise. */
int af_agent_state_parse(const char *name, af_agent_state_t *out);

/* Adds an agent in `state` (spawning for a spawn, ready for a re-registration).
 * Returns the registry-owned record, or NULL when the id exists or is invalid. */
af_agent_t *af_registry_add(af_registry_t *self, const char *id, const char *owner,
                            const af_spec_t *spec, af_agent_state_t state, int capacity,
                            uint64_t now_ns);
af_agent_t *af_registry_get(af_registry_t *self, const char *id);
/* Frees the record; agent is invalid afterwards. */
void af_registry_remove(af_registry_t *self, af_agent_t *agent);

/* The state `event` leads to from `state`, or -1 when the table forbids it. */
int af_agent_next_state(af_agent_state_t state, af_agent_event_t event);
/* Applies event to agent through the table. Returns 0 (state updated, counts
 * kept), or -1 when the transition is not allowed (agent unchanged). */
int af_registry_apply(af_registry_t *self, af_agent_t *agent, af_agent_event_t event,
                      uint64_t now_ns);

/* Iteration in insertion order. */
af_agent_t *af_registry_first(af_registry_t *self);
af_agent_t *af_registry_next(af_agent_t *agent);

size_t af_registry_size(const af_registry_t *self);
size_t af_registry_count(const af_registry_t *self, af_agent_state_t state);
/* Agents of owner that are not dead (what counts against a quota). */
size_t af_registry_count_owner(const af_registry_t *self, const char *owner);
/* Sum of sessions over ready and draining agents. */
long af_registry_sessions(const af_registry_t *self);

/* Sessions the ready agents can hold: the sum of their capacity. */
long af_registry_capacity(const af_registry_t *self);

#endif
