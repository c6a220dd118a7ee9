/* Load shedding: a request beyond the gateway's in-flight limit, or for an
 * agent whose queue (requests in flight to it) is full, gets 503 with
 * Retry-After at once instead of waiting, counted in gateway_shed_total{reason}.
 * Both limits are checked per request, so the gateway recovers by itself. */
#ifndef AF_GW_OVERLOAD_H
#define AF_GW_OVERLOAD_H

#include "request.h"

#include <stdbool.h>

/* Registers gateway_shed_total in gw->metrics. Returns 0 / -1. */
int af_overload_init(af_gw_t *gw);
/* Before a non-public handler: false = shed (r answered and freed). */
bool af_overload_admit(af_gw_req_t *r);
/* Before a request goes to agent r->agent_id: false = shed (r answered and freed). */
bool af_overload_agent_admit(af_gw_req_t *r);

#endif
