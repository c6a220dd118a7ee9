/* Session placement: which agent takes a new session. Pure over the registry. */
#ifndef AF_MANAGER_PLACEMENT_H
#define AF_MANAGER_PLACEMENT_H

#include "registry.h"

#include <stdbool.h>

/* Picks an agent for a new session of `user`. With agent_id: that agent if the
 * user owns it (or is_admin) and it has room. Without: the least-loaded ready
 * pool agent with room (ties: oldest first, so load concentrates predictably).
 * Returns the agent, or NULL with *code set to a protocol error code
 * (not_found, draining, capacity) and a message in err. Does not change load:
 * the caller counts the placed session. */
af_agent_t *af_placement_pick(af_registry_t *reg, const char *user, bool is_admin,
                              const char *agent_id, const char **code, char *err,
                              size_t errlen);

#endif
