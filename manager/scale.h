/* Pool scaling decisions: how many pool agents to spawn and which to drain to
 * reach a target. Pure over the registry; the caller spawns and drains. */
#ifndef AF_MANAGER_SCALE_H
#define AF_MANAGER_SCALE_H

#include "registry.h"

typedef struct {
    int target;      /* the target after clamping to min..max and session needs */
    int current;     /* pool agents spawning or ready (draining ones are leaving) */
    int spawn;       /* how many to spawn now */
    size_t ndrain;   /* how many agents were put in drain[] */
} af_scale_plan_t;

/* Plans the pool toward `target`, clamped to [min, max] and never below what the
 * pool's live sessions need (ceil(sessions / capacity)). Scale-down picks idle
 * agents first, then the least loaded, and never drains more than the session
 * floor allows. drain[] receives at most max_drain agents. */
void af_scale_plan(af_registry_t *reg, int target, int min, int max, int capacity,
                   af_agent_t **drain, size_t max_drain, af_scale_plan_t *plan);

#endif
