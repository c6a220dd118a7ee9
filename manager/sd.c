/* Service discovery document and route. See sd.h.
 * Contract: every request gets exactly one reply. */
#include "sd.h"

#include "http.h"

#include <string.h>

cJSON *af_sd_document(af_registry_t *reg)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (af_agent_t *a = af_registry_first(reg); a; a = af_registry_next(a)) {
        if (a->state == AF_AGENT_DEAD || a->deleting || !a->metrics[0])
            continue;
        cJSON *g = cJSON_CreateObject();
        cJSON *t = cJSON_AddArrayToObject(g, "targets");
        cJSON_AddItemToArray(t, cJSON_CreateString(a->metrics));
        cJSON *l = cJSON_AddObjectToObject(g, "labels");
        cJSON_AddStringToObject(l, "agent_id", a->id);
        cJSON_AddStringToObject(l, "owner", a->owner);
        cJSON_AddStringToObject(l, "status", af_agent_state_name(a->state));
        cJSON_AddItemToArray(arr, g);
    }
    return arr;
}

static void s_on_sd(struct evhttp_request *req, void *arg)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        af_http_reply_error(req, 405, "invalid_request_error", "use GET");
        return;
    }
    cJSON *doc = af_sd_document(arg);
    if (!doc) {
        af_http_reply_error(req, 500, "api_error", "out of memory");
        return;
    }
    af_http_reply_json(req, 200, doc);
    cJSON_Delete(doc);
}

void af_sd_attach(struct evhttp *http, af_registry_t *reg)
{
    evhttp_set_cb(http, "/sd", s_on_sd, reg);
}
