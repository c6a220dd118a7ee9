/* Unauthenticated probes: GET /healthz (the process answers), GET /readyz
 * (manager reachable and at least one agent connected and not draining), GET
 * /metrics (Prometheus text). Contract: see api.h. */
#include "api.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

void af_api_healthz(af_gw_req_t *r)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "ok");
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}

void af_api_readyz(af_gw_req_t *r)
{
    bool manager = af_mlink_reachable(r->gw->manager);
    size_t agents = af_alink_ready_agents(r->gw->agents);
    bool ready = manager && agents > 0 && !r->gw->draining;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", ready ? "ready" : "not_ready");
    cJSON_AddBoolToObject(out, "manager", manager);
    cJSON_AddNumberToObject(out, "agents", (double)agents);
    if (!ready) {
        cJSON *e = cJSON_AddObjectToObject(out, "error");
        cJSON_AddStringToObject(e, "type", "overloaded_error");
        cJSON_AddStringToObject(e, "message", r->gw->draining ? "shutting down"
                                              : !manager     ? "manager unreachable"
                                                             : "no agent connected and ready");
    }
    af_gw_reply_json(r, ready ? 200 : 503, out);
    cJSON_Delete(out);
}

void af_api_metrics(af_gw_req_t *r)
{
    char *text = af_metrics_render(r->gw->metrics);
    if (!text) {
        af_gw_reply_error(r, 500, "api_error", "metrics rendering failed");
        return;
    }
    /* Plain text, so not af_gw_reply_json: finish by hand, counting it first. */
    af_gw_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text);
    free(text);
}
