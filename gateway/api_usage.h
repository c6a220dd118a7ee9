/* Usage and budget endpoints (issue #10): GET /v1/usage (own; ?user=U for
 * admins) and POST /v1/budgets/{user}/reset (admins). Contract: see api.h. */
#ifndef AF_GW_API_USAGE_H
#define AF_GW_API_USAGE_H

#include "request.h"

void af_api_usage(af_gw_req_t *r);
void af_api_budget_reset(af_gw_req_t *r);

#endif
