/* The provider interface: one table of function pointers (create, destroy, list)
 * per implementation (process, hypercore), reporting back through one event
 * callback (created, failed with the cause, exited). */
#ifndef AF_MANAGER_PROVIDER_H
#define AF_MANAGER_PROVIDER_H

#include "spec.h"

#include <stddef.h>

typedef enum {
    AF_PROVIDER_EV_CREATED = 0, /* the machine/process exists (not yet READY) */
    AF_PROVIDER_EV_FAILED,      /* create failed; detail is the cause */
    AF_PROVIDER_EV_EXITED       /* it is gone (exited, killed, destroyed) */
} af_provider_event_t;

/* detail: human-readable cause, never NULL. Called from the event loop. */
typedef void(af_provider_event_fn)(void *arg, const char *agent_id, af_provider_event_t ev,
                                   const char *detail);

/* What an agent needs to boot. Never holds the Anthropic key: agents get it in
 * WELCOME. */
typedef struct {
    const char *agent_id;
    const char *owner;
    const af_spec_t *spec;
    const char *manager_endpoint; /* where the agent sends READY */
    const char *token;            /* one-time join token */
    int heartbeat_ms;
} af_provider_spawn_t;

typedef struct {
    char id[64];      /* agent id (process) or VM id (hypercore) */
    char agent_id[64];
    char url[256];
    char status[32];
    long pid;         /* process provider; 0 otherwise */
} af_provider_entry_t;

/* Result of list: entries valid only during the call; err non-NULL on failure. */
typedef void(af_provider_list_fn)(void *arg, const af_provider_entry_t *entries, size_t n,
                                  const char *err);

typedef struct {
    const char *name;
    /* Starts creating; returns 0 (the outcome follows as CREATED/FAILED events,
     * possibly before returning) or -1 with the cause in err. */
    int (*create)(void *impl, const af_provider_spawn_t *req, char *err, size_t errlen);
    /* Starts destroying; EXITED follows. Unknown ids return -1. */
    int (*destroy)(void *impl, const char *agent_id);
    /* Lists what exists; fn runs once (possibly later, from the loop). */
    int (*list)(void *impl, af_provider_list_fn *fn, void *arg);
    /* Clean shutdown: whatever the provider must not leave behind is stopped. */
    void (*free)(void *impl);
} af_provider_ops_t;

typedef struct af_provider_t {
    const af_provider_ops_t *ops;
    void *impl;
} af_provider_t;

int af_provider_create(af_provider_t *self, const af_provider_spawn_t *req, char *err,
                       size_t errlen);
int af_provider_destroy_agent(af_provider_t *self, const char *agent_id);
int af_provider_list(af_provider_t *self, af_provider_list_fn *fn, void *arg);
/* Frees the provider (ops->free) and NULLs the pointer. */
void af_provider_destroy(af_provider_t **self_p);
/* HA: with several managers the agents outlive any one of them; after this, destroy
 * frees the provider without stopping them (process provider; a no-op for others). */
void af_provider_keep_agents(af_provider_t *self);



/* ---- implementations ---------------------------------------------------- */
#include <event2/event.h>

/* Local processes: fork/exec agentd_path (own process group, rlimits per spec,
 * reaped on SIGCHLD; SIGTERM then SIGKILL after grace_ms on destroy). Agents
 * adopted after a manager restart are found in /proc by their --id and
 * --manager arguments. Its free() stops every agentd it can find that reports
 * to manager_endpoint, so no orphan outlives a clean exit. Returns NULL (and
 * logs) when agentd_path is not executable or SIGCHLD cannot be watched. */
af_provider_t *af_provider_process_new(struct event_base *base, const char *agentd_path,
                                       const char *manager_endpoint, int grace_ms,
                                       bool pin_cpus, af_provider_event_fn *fn, void *arg);

/* Hypercore MicroVMs through Hypercore's HTTP API at url (POST /spawn,
 * DELETE /delete/{id}, GET /list), with libcurl on the loop. timeout_ms bounds
 * every HTTP call. */
af_provider_t *af_provider_hypercore_new(struct event_base *base, const char *url,
                                         int timeout_ms, af_provider_event_fn *fn, void *arg);
#endif
