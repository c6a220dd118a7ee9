/* Placement. See placement.h. */
#include "placement.h"

#include <stdio.h>
#include <string.h>

af_agent_t *af_placement_pick(af_registry_t *reg, const char *user, bool is_admin,
                              const char *agent_id, const char **code, char *err, size_t errlen)
{
    if (agent_id && *agent_id) {
        af_agent_t *a = af_registry_get(reg, agent_id);
        if (!a || a->state == AF_AGENT_DEAD || (!is_admin && strcmp(a->owner, user ? user : "") != 0)) {
            *code = "not_found";
            snprintf(err, errlen, "no agent %.63s", agent_id);
            return NULL;
        }
        if (a->state == AF_AGENT_DRAINING) {
            *code = "draining";
            snprintf(err, errlen, "agent %s is draining and accepts no new sessions", a->id);
            return NULL;
        }
        if (a->state != AF_AGENT_READY) {
            *code = "capacity";
            snprintf(err, errlen, "agent %s is still %s", a->id, af_agent_state_name(a->state));
            return NULL;
        }
        if (a->sessions >= a->capacity) {
            *code = "capacity";
            snprintf(err, errlen, "agent %s has %d sessions (capacity %d)", a->id, a->sessions,
                     a->capacity);
            return NULL;
        }
        return a;
    }
    af_agent_t *best = NULL;
    for (af_agent_t *a = af_registry_first(reg); a; a = af_registry_next(a)) {
        if (a->state != AF_AGENT_READY || strcmp(a->owner, AF_POOL_OWNER) != 0 ||
            a->sessions >= a->capacity)
            continue;
        if (!best || a->sessions < best->sessions)
            best = a;
    }
    if (!best) {
        *code = "capacity";
        snprintf(err, errlen, "no ready pool agent has room for a new session");
    }
    return best;
}
