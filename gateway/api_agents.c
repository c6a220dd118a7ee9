/* Agent lifecycle endpoints: spawn, list, get, delete, stats, scale. All go to
 * the manager, which enforces ownership (another user's agent → not_found →
 * 404); the gateway only adds who is asking. Contract: see api.h. */
#include "api.h"

#include "log.h"

#include <stdio.h>
#include <string.h>

/* The manager's reply minus its req, as a new object. */
static cJSON *s_strip(const af_msg_t *ok)
{
    cJSON *out = cJSON_Duplicate(ok->body, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(out, "req");
    return out;
}

/* ---- spawn ------------------------------------------------------------ */

static void s_spawn_ok(af_gw_req_t *r, const af_msg_t *ok)
{
    const cJSON *agents = cJSON_GetObjectItemCaseSensitive(ok->body, "agents");
    const cJSON *first = cJSON_IsArray(agents) ? cJSON_GetArrayItem(agents, 0) : NULL;
    const cJSON *id = first ? cJSON_GetObjectItemCaseSensitive(first, "agent_id") : NULL;
    if (!id || !cJSON_IsString(id)) {
        af_gw_audit(r, "spawn", 502, "bad_manager_reply", NULL);
        af_gw_reply_error(r, 502, "api_error", "the manager's SPAWN reply has no agent");
        return;
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(first, "status");
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "agent_id", id->valuestring);
    char url[128];
    snprintf(url, sizeof url, "/v1/agents/%.64s", id->valuestring);
    cJSON_AddStringToObject(out, "url", url);
    cJSON_AddStringToObject(out, "status", cJSON_IsString(status) ? status->valuestring : "ready");
    if (cJSON_GetArraySize(agents) > 1)
        cJSON_AddItemToObject(out, "agents", cJSON_Duplicate(agents, 1));
    af_gw_audit(r, "spawn", 201, "ok", id->valuestring);
    af_gw_reply_json(r, 201, out);
    cJSON_Delete(out);
}

void af_api_agents_create(af_gw_req_t *r)
{
    char err[256];
    cJSON *body = af_validate_spawn(r->body, err, sizeof err);
    if (!body) {
        af_gw_audit(r, "spawn", 400, "invalid_request", err);
        af_gw_reply_error(r, 400, "invalid_request_error", "%s", err);
        return;
    }
    r->on_manager_ok = s_spawn_ok;
    r->audit_event = "spawn";
    af_manager_call(r, "SPAWN", body, r->gw->spawn_timeout_ms);
}

/* ---- list / get ------------------------------------------------------- */

static void s_list_ok(af_gw_req_t *r, const af_msg_t *ok)
{
    cJSON *out = s_strip(ok);
    const cJSON *agents = cJSON_GetObjectItemCaseSensitive(out, "agents");
    if (!cJSON_IsArray(agents))
        cJSON_AddItemToObject(out, "agents", cJSON_CreateArray());
    else
        cJSON_AddNumberToObject(out, "count", cJSON_GetArraySize(agents));
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}

void af_api_agents_list(af_gw_req_t *r)
{
    cJSON *body = cJSON_CreateObject();
    if (r->who.role == AF_ROLE_ADMIN)
        cJSON_AddBoolToObject(body, "all", true);
    r->on_manager_ok = s_list_ok;
    af_manager_call(r, "LIST", body, 0);
}

static void s_get_ok(af_gw_req_t *r, const af_msg_t *ok)
{
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(ok->body, "agent");
    if (!cJSON_IsObject(agent)) {
        af_gw_reply_error(r, 502, "api_error", "the manager's GET reply has no agent");
        return;
    }
    af_gw_reply_json(r, 200, agent);
}

void af_api_agents_get(af_gw_req_t *r)
{
    const char *id = r->match.params[0];
    if (!af_validate_id(id)) {
        af_gw_reply_error(r, 404, "not_found_error", "no such agent");
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "agent_id", id);
    r->on_manager_ok = s_get_ok;
    af_manager_call(r, "GET", body, 0);
}

/* ---- delete ----------------------------------------------------------- */

static void s_delete_ok(af_gw_req_t *r, const af_msg_t *ok)
{
    (void)ok;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "agent_id", r->agent_id);
    cJSON_AddStringToObject(out, "status", "deleted");
    af_gw_audit(r, "delete", 200, "ok", r->agent_id);
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}

static void s_delete(af_gw_req_t *r)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "agent_id", r->agent_id);
    r->on_manager_ok = s_delete_ok;
    r->audit_event = "delete";
    af_manager_call(r, "DELETE", body, r->gw->spawn_timeout_ms);
}

void af_api_agents_delete(af_gw_req_t *r)
{
    const char *id = r->match.params[0];
    if (!af_validate_id(id)) {
        af_gw_reply_error(r, 404, "not_found_error", "no such agent");
        return;
    }
    snprintf(r->agent_id, sizeof r->agent_id, "%.63s", id);
    s_delete(r);
}

void af_api_agents_delete_alias(af_gw_req_t *r)
{
    char err[256];
    if (af_validate_agent_ref(r->body, r->agent_id, err, sizeof err) < 0) {
        af_gw_audit(r, "delete", 400, "invalid_request", err);
        af_gw_reply_error(r, 400, "invalid_request_error", "%s", err);
        return;
    }
    s_delete(r);
}

/* ---- stats / scale ---------------------------------------------------- */

static void s_passthrough_ok(af_gw_req_t *r, const af_msg_t *ok)
{
    cJSON *out = s_strip(ok);
    if (r->kind == 2) {
        char detail[64];
        snprintf(detail, sizeof detail, "target=%ld", (long)af_msg_num(ok, "target", -1));
        af_gw_audit(r, "scale", 200, "ok", detail);
    }
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}

void af_api_stats(af_gw_req_t *r)
{
    r->on_manager_ok = s_passthrough_ok;
    af_manager_call(r, "STATS", cJSON_CreateObject(), 0);
}

void af_api_scale(af_gw_req_t *r)
{
    if (!af_rbac_allows(&r->who, AF_ACT_SCALE)) {
        af_gw_audit(r, "scale", 403, "forbidden", NULL);
        af_gw_reply_error(r, 403, "permission_error", "scaling needs the admin role");
        return;
    }
    long target = 0;
    char err[256];
    if (af_validate_scale(r->body, &target, err, sizeof err) < 0) {
        af_gw_audit(r, "scale", 400, "invalid_request", err);
        af_gw_reply_error(r, 400, "invalid_request_error", "%s", err);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "target", (double)target);
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(r->body, "reason");
    cJSON_AddStringToObject(body, "reason",
                            cJSON_IsString(reason) ? reason->valuestring : "admin request");
    r->kind = 2;
    r->audit_event = "scale";
    r->on_manager_ok = s_passthrough_ok;
    af_manager_call(r, "SCALE", body, 0);
}
