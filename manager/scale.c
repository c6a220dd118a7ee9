/* Pool scaling plan. See scale.h. */
#include "scale.h"

#include <stdlib.h>
#include <string.h>

static int s_by_load(const void *a, const void *b)
{
    const af_agent_t *x = *(af_agent_t *const *)a, *y = *(af_agent_t *const *)b;
    /* Idle first, then fewer sessions; spawning (no work yet) before ready. */
    if (x->sessions != y->sessions)
        return x->sessions < y->sessions ? -1 : 1;
    if (x->state != y->state)
        return x->state == AF_AGENT_SPAWNING ? -1 : 1;
    return 0;
}

void af_scale_plan(af_registry_t *reg, int target, int min, int max, int capacity,
                   af_agent_t **drain, size_t max_drain, af_scale_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    if (capacity < 1)
        capacity = 1;
    long sessions = 0;
    int current = 0;
    for (af_agent_t *a = af_registry_first(reg); a; a = af_registry_next(a)) {
        if (strcmp(a->owner, AF_POOL_OWNER) != 0)
            continue;
        if (a->state == AF_AGENT_SPAWNING || a->state == AF_AGENT_READY) {
            current++;
            sessions += a->sessions;
        }
    }
    int need = (int)((sessions + capacity - 1) / capacity);
    if (target > max)
        target = max;
    if (target < min)
        target = min;
    if (target < need)
        target = need;
    plan->target = target;
    plan->current = current;
    if (current < target) {
        plan->spawn = target - current;
        return;
    }
    int excess = current - target;
    if (excess <= 0 || !drain || !max_drain || current <= 0)
        return;
    af_agent_t **cand = calloc((size_t)current, sizeof *cand); // NOLINT(bugprone-sizeof-expression): array of pointers
    if (!cand)
        return;
    size_t n = 0;
    for (af_agent_t *a = af_registry_first(reg); a; a = af_registry_next(a))
        if (!strcmp(a->owner, AF_POOL_OWNER) &&
            (a->state == AF_AGENT_SPAWNING || a->state == AF_AGENT_READY))
            cand[n++] = a;
    /* Stable order on ties: qsort is not stable, so the insertion order breaks
     * ties through the pointer list we built in order; acceptable either way. */
    qsort(cand, n, sizeof *cand, s_by_load); // NOLINT(bugprone-sizeof-expression): array of pointers
    long remaining_sessions = sessions;
    int remaining = current;
    for (size_t i = 0; i < n && plan->ndrain < max_drain && excess > 0; i++) {
        /* Draining this agent moves its sessions nowhere until they end, but the
         * agents left must be able to hold the live sessions. */
        long left_cap = (long)(remaining - 1) * capacity;
        if (left_cap < remaining_sessions)
            break;
        drain[plan->ndrain++] = cand[i];
        remaining_sessions -= cand[i]->sessions;
        remaining--;
        excess--;
    }
    free(cand);
}
