/* Per-user agent quotas. Pool agents are bounded by --max-agents instead. Pure. */
#ifndef AF_MANAGER_QUOTA_H
#define AF_MANAGER_QUOTA_H

#include "registry.h"

/* 0 when owner may add `count` more agents under `quota` (agents not dead count,
 * spawning included); -1 with a message in err otherwise. */
int af_quota_check(const af_registry_t *reg, const char *owner, int count, int quota, char *err,
                   size_t errlen);

#endif
