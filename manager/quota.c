/* Quota check. See quota.h. */
#include "quota.h"

#include <stdio.h>

int af_quota_check(const af_registry_t *reg, const char *owner, int count, int quota, char *err,
                   size_t errlen)
{
    size_t have = af_registry_count_owner(reg, owner);
    if (count < 0 || have + (size_t)count > (size_t)(quota < 0 ? 0 : quota)) {
        snprintf(err, errlen, "user %.63s has %zu agents; %d more would exceed the quota of %d",
                 owner, have, count, quota);
        return -1;
    }
    return 0;
}
