/* Prometheus HTTP service discovery: GET /sd lists every live agent's metrics
 * target as [{"targets":["host:port"],"labels":{"agent_id","owner"}}], so one
 * scrape config follows the fleet as it grows and shrinks. */
#ifndef AF_MANAGER_SD_H
#define AF_MANAGER_SD_H

#include "registry.h"

#include <cjson/cJSON.h>
#include <event2/http.h>

/* The SD document for reg (new cJSON array, caller owns). Agents without a
 * metrics address and dead or deleted agents are left out. */
cJSON *af_sd_document(af_registry_t *reg);

/* Mounts GET /sd on http; reg not owned and must outlive http. */
void af_sd_attach(struct evhttp *http, af_registry_t *reg);

#endif
