/* Health rules: an agent silent for 3 x heartbeat_ms is overdue, and so is one
 * still spawning after the spawn timeout. Pure: the caller acts on the verdict. */
#ifndef AF_MANAGER_HEALTH_H
#define AF_MANAGER_HEALTH_H

#include "registry.h"

#include <stdint.h>

#define AF_HEALTH_MISSES 3

typedef enum { AF_HEALTH_OK = 0, AF_HEALTH_SILENT, AF_HEALTH_SPAWN_TIMEOUT } af_health_t;

/* The verdict on one agent at now_ns. Dead agents are always OK (nothing to do). */
af_health_t af_health_check(const af_agent_t *agent, uint64_t now_ns, int heartbeat_ms,
                            int spawn_timeout_ms);

/* Fills out[] (up to max) with the overdue agents, returns how many. */
size_t af_health_overdue(af_registry_t *reg, uint64_t now_ns, int heartbeat_ms,
                         int spawn_timeout_ms, af_agent_t **out, af_health_t *why, size_t max);

#endif
