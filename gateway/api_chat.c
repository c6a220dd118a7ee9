/* Chat and session endpoints: POST /v1/agents/{id}/chat, POST /v1/chat,
 * GET/DELETE /v1/sessions/{id}. Non-streaming replies are one JSON object;
 * streaming replies are SSE: `delta` events {text} then one `done` event with
 * the same object a non-streaming call returns. The HTTP status stays open
 * until the agent's first event, so failures before generation get a real
 * status. Contract: see api.h. */
#include "api.h"

#include "chat_dispatch.h"
#include "cost.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* ---- chat ------------------------------------------------------------- */

static cJSON *s_result(af_gw_req_t *r, const af_msg_t *done)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "session_id", r->session_id);
    cJSON_AddStringToObject(out, "agent_id", r->agent_id);
    const char *content = af_msg_str(done, "content");
    cJSON_AddStringToObject(out, "content", content ? content : "");
    const char *model = af_msg_str(done, "model");
    cJSON_AddStringToObject(out, "model", model ? model : r->meta.model);
    const char *mid = af_msg_str(done, "message_id");
    if (mid)
        cJSON_AddStringToObject(out, "message_id", mid);
    const char *stop = af_msg_str(done, "stop_reason");
    if (stop)
        cJSON_AddStringToObject(out, "stop_reason", stop);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(done->body, "usage");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
    const cJSON *outt = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
    double ni = cJSON_IsNumber(in) ? in->valuedouble : 0;
    double no = cJSON_IsNumber(outt) ? outt->valuedouble : 0;
    cJSON *usage = cJSON_AddObjectToObject(out, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", ni);
    cJSON_AddNumberToObject(usage, "output_tokens", no);
    cJSON_AddNumberToObject(usage, "tokens", ni + no);
    cJSON_AddStringToObject(out, "status", "completed");
    return out;
}

static void s_chat_event(const af_msg_t *msg, void *arg)
{
    af_gw_req_t *r = arg;
    if (!r->meta.stream)
        return;
    if (!r->streaming)
        af_gw_stream_start(r);
    if (!strcmp(msg->verb, "DELTA")) {
        const char *text = af_msg_str(msg, "text");
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "text", text ? text : "");
        af_gw_stream_event(r, "delta", d);
        cJSON_Delete(d);
    }
}

static void s_chat_final(const af_msg_t *msg, af_alink_end_t why, void *arg);
static const af_alink_handlers_t s_chat_handlers = {s_chat_event, s_chat_final};

static void s_chat_final(const af_msg_t *msg, af_alink_end_t why, void *arg)
{
    af_gw_req_t *r = arg;
    if (why != AF_ALINK_REPLY || strcmp(msg->verb, "DONE") != 0) {
        if (msg && strcmp(msg->verb, "ERROR") != 0 && why == AF_ALINK_REPLY) {
            r->alink_handle = 0;
            r->on_gone = NULL;
            af_gw_reply_error(r, 502, "api_error", "agent answered CHAT with %s", msg->verb);
            return;
        }
        af_chat_handle_failure(r, msg, why, &s_chat_handlers);
        return;
    }
    r->alink_handle = 0;
    r->on_gone = NULL;
    af_cost_done(r, msg);
    cJSON *out = s_result(r, msg);
    if (r->meta.stream) {
        if (!r->streaming)
            af_gw_stream_start(r);
        af_gw_stream_event(r, "done", out);
        cJSON_Delete(out);
        af_gw_stream_end(r);
        return;
    }
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}

static void s_chat_go(af_gw_req_t *r) { af_chat_dispatch(r, &s_chat_handlers); }

static void s_chat(af_gw_req_t *r, const char *agent_id)
{
    char err[256];
    if (af_cost_prepare(r, false) < 0)
        return;
    r->chat = af_validate_chat(r->body, r->gw->default_model, &r->meta, err, sizeof err);
    if (!r->chat) {
        af_gw_reply_error(r, 400, "invalid_request_error", "%s", err);
        return;
    }
    if (agent_id)
        snprintf(r->agent_id, sizeof r->agent_id, "%.63s", agent_id);
    if (r->meta.session_id[0])
        snprintf(r->session_id, sizeof r->session_id, "%.63s", r->meta.session_id);
    else if (af_id_new(r->session_id, sizeof r->session_id, "se_") < 0) {
        af_gw_reply_error(r, 500, "api_error", "cannot make a session id");
        return;
    }
    /* Session turns are never cached (their history is part of the request). */
    af_cost_admit(r, s_chat_go, NULL);
}

void af_api_chat_agent(af_gw_req_t *r)
{
    if (!af_validate_id(r->match.params[0])) {
        af_gw_reply_error(r, 404, "not_found_error", "no such agent");
        return;
    }
    s_chat(r, r->match.params[0]);
}

void af_api_chat_pool(af_gw_req_t *r) { s_chat(r, NULL); }

/* ---- sessions --------------------------------------------------------- */

static void s_session_gone(af_gw_req_t *r)
{
    af_alink_cancel(r->gw->agents, r->alink_handle, false);
    r->alink_handle = 0;
}

static void s_session_final(const af_msg_t *msg, af_alink_end_t why, void *arg)
{
    af_gw_req_t *r = arg;
    r->alink_handle = 0;
    r->on_gone = NULL;
    if (why == AF_ALINK_AGENT_GONE) {
        af_route_store_del(r->gw->routes, r->session_id);
        af_gw_reply_error(r, 502, "api_error", "agent %s went away during the request",
                          r->agent_id);
        return;
    }
    if (why == AF_ALINK_TIMEOUT) {
        af_gw_reply_error(r, 504, "timeout_error", "agent %s did not answer in time", r->agent_id);
        return;
    }
    if (!strcmp(msg->verb, "ERROR")) {
        const char *code = af_msg_str(msg, "code");
        if (code && !strcmp(code, "not_found"))
            af_route_store_del(r->gw->routes, r->session_id);
        af_gw_reply_af1_error(r, msg);
        return;
    }
    if (r->kind == 'D') {
        af_route_store_del(r->gw->routes, r->session_id);
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "session_id", r->session_id);
        cJSON_AddStringToObject(out, "status", "deleted");
        af_gw_reply_json(r, 200, out);
        cJSON_Delete(out);
        return;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(msg->body, "session");
    if (!cJSON_IsObject(s)) {
        af_gw_reply_error(r, 502, "api_error", "agent's SESSION_GET reply has no session");
        return;
    }
    cJSON *out = cJSON_Duplicate(s, 1);
    if (!cJSON_GetObjectItemCaseSensitive(out, "agent_id"))
        cJSON_AddStringToObject(out, "agent_id", r->agent_id);
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}

static const af_alink_handlers_t s_session_handlers = {NULL, s_session_final};

/* Sends SESSION_GET/DELETE for r->session_id, owned by r->owner, to
 * r->agent_id. false: that agent is not connected to this gateway. */
static bool s_session_send(af_gw_req_t *r)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "session_id", r->session_id);
    cJSON_AddStringToObject(body, "user", r->owner);
    r->alink_handle = af_alink_send(r->gw->agents, r->agent_id,
                                    r->kind == 'D' ? "SESSION_DELETE" : "SESSION_GET", body,
                                    r->gw->request_timeout_ms, &s_session_handlers, r);
    if (!r->alink_handle)
        return false;
    r->on_gone = s_session_gone;
    af_gw_req_watch_close(r);
    return true;
}

static void s_session_place(af_gw_req_t *r);

static void s_session_placed_send(af_gw_req_t *r);

/* agent_id empty: PLACE again; set: the agent may have dialled in since. */
static void s_on_session_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_gw_req_t *r = arg;
    if (r->agent_id[0])
        s_session_placed_send(r);
    else
        s_session_place(r);
}

static bool s_session_later(af_gw_req_t *r, long ms)
{
    return af_gw_req_later(r, ms, s_on_session_retry);
}

/* A session whose agent is gone (or that no route names) may still have its
 * history in Redis: the placed agent loads it (docs/agentd.md). The manager
 * may still name an agent this gateway saw die (it notices 3 heartbeats
 * later): then ask again every 200 ms, up to 30 times; a just-spawned agent
 * that has not dialled this gateway yet is waited for (50 ms, up to 3 s). */
static void s_session_placed_send(af_gw_req_t *r)
{
    if (s_session_send(r)) {
        if (r->kind != 'D')
            af_route_store_put(r->gw->routes, r->session_id, r->agent_id, r->owner);
        return;
    }
    if (af_alink_agent_gone(r->gw->agents, r->agent_id)) {
        r->agent_id[0] = 0;
        if (r->attempts++ < 30 && s_session_later(r, 200))
            return;
    } else if (r->waits++ < 60 && s_session_later(r, 50)) {
        return;
    }
    af_gw_reply_retry(r, 503, "overloaded_error", 1, "no agent for session %s is connected yet",
                      r->session_id);
}

static void s_session_placed(af_gw_req_t *r, const af_msg_t *ok)
{
    if (af_chat_placed_agent(r, ok))
        s_session_placed_send(r);
}

static void s_session_place(af_gw_req_t *r)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "session_id", r->session_id);
    r->placed = true;
    r->on_manager_ok = s_session_placed;
    af_manager_call(r, "PLACE", body, 0);
}

static void s_on_session_route(bool found, const char *agent_id, const char *user, void *arg)
{
    af_gw_req_t *r = arg;
    r->on_gone = NULL;
    if (found && !af_rbac_owns(&r->who, user)) {
        af_gw_reply_error(r, 404, "not_found_error", "session %s not found", r->session_id);
        return;
    }
    snprintf(r->owner, sizeof r->owner, "%.63s", found ? user : r->who.user);
    if (found) {
        snprintf(r->agent_id, sizeof r->agent_id, "%.63s", agent_id);
        if (s_session_send(r))
            return;
        af_route_store_del(r->gw->routes, r->session_id);
    }
    if (r->gw->redis && af_redis_up(r->gw->redis)) {
        s_session_place(r);
        return;
    }
    /* Without Redis the history lived only on that agent. */
    af_gw_reply_error(r, 404, "not_found_error", found ? "session %s not found (its agent is gone)"
                                                       : "session %s not found",
                      r->session_id);
}

static void s_session_route_gone(af_gw_req_t *r) { af_route_store_cancel(r->gw->routes, r); }

static void s_session(af_gw_req_t *r, int kind)
{
    const char *sid = r->match.params[0];
    if (!af_validate_id(sid)) {
        af_gw_reply_error(r, 404, "not_found_error", "no such session");
        return;
    }
    snprintf(r->session_id, sizeof r->session_id, "%.63s", sid);
    r->kind = kind;
    r->on_gone = s_session_route_gone; /* a Redis lookup answers later */
    af_route_store_get(r->gw->routes, r->session_id, s_on_session_route, r);
}

void af_api_session_get(af_gw_req_t *r) { s_session(r, 'G'); }
void af_api_session_delete(af_gw_req_t *r) { s_session(r, 'D'); }
