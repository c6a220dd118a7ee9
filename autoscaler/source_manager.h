/* Metrics from the manager's STATS reply (the default source). The body parser
 * is pure so it is unit-tested on its own. */
#ifndef AF_AUTOSCALER_SOURCE_MANAGER_H
#define AF_AUTOSCALER_SOURCE_MANAGER_H

#include "mlink.h"
#include "source.h"

#include <stddef.h>

/* Reads an OK body of STATS ({agents:{spawning,ready,draining,...}, sessions,
 * utilization, ...}). 0, or -1 naming the missing/wrong field in err. */
int af_source_manager_parse(const cJSON *body, af_sample_t *out, char *err, size_t errlen);

/* Sends STATS over link; fn gets the sample (or why not) later. 0 / -1. */
int af_source_manager_fetch(af_mlink_t *link, af_sample_fn *fn, void *arg);

#endif
