/* Chat placement and sending. See chat_dispatch.h. */
#include "chat_dispatch.h"

#include "api.h"
#include "cost.h"
#include "log.h"
#include "overload.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_ATTEMPTS 3
/* The manager named an agent this gateway saw die (the manager notices a death
 * up to 3 heartbeats later): ask again after a pause, for a while longer. */
#define GONE_PAUSE_MS 200
#define MAX_ATTEMPTS_GONE 30
/* A just-spawned or just-placed agent may not have dialled this gateway yet:
 * poll for it this often, this many times, before placing again. */
#define WAIT_MS 50
#define MAX_WAITS 60

static void s_place(af_gw_req_t *r);

/* r's handlers for the current dispatch (static tables, so a pointer is fine). */
static const af_alink_handlers_t *s_handlers(af_gw_req_t *r)
{
    return (const af_alink_handlers_t *)r->handlers;
}

static void s_on_gone(af_gw_req_t *r)
{
    af_alink_cancel(r->gw->agents, r->alink_handle, true);
    r->alink_handle = 0;
}

static void s_send(af_gw_req_t *r);

static void s_on_wait(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_gw_req_t *r = arg;
    if (!r->agent_id[0]) {
        s_place(r); /* s_place_later */
        return;
    }
    s_send(r);
}

/* PLACE again after GONE_PAUSE_MS. Returns false when no timer can be had. */
static bool s_place_later(af_gw_req_t *r)
{
    if (!af_gw_req_later(r, GONE_PAUSE_MS, s_on_wait))
        return false;
    r->agent_id[0] = 0;
    return true;
}

/* Returns true when a retry was scheduled. */
static bool s_wait_for_agent(af_gw_req_t *r)
{
    if (r->waits >= MAX_WAITS || af_alink_agent_alive(r->gw->agents, r->agent_id) ||
        af_alink_agent_gone(r->gw->agents, r->agent_id))
        return false;
    if (!af_gw_req_later(r, WAIT_MS, s_on_wait))
        return false;
    r->waits++;
    return true;
}

static void s_send(af_gw_req_t *r)
{
    if (!af_overload_agent_admit(r))
        return;
    cJSON *body = cJSON_Duplicate(r->chat, 1);
    cJSON_AddStringToObject(body, "session_id", r->session_id);
    cJSON_AddStringToObject(body, "user", r->owner[0] ? r->owner : r->who.user);
    r->alink_handle = af_alink_send(r->gw->agents, r->agent_id, "CHAT", body,
                                    r->gw->request_timeout_ms, s_handlers(r), r);
    if (r->alink_handle) {
        r->on_gone = s_on_gone;
        af_gw_req_watch_close(r);
        return;
    }
    if (errno == EAGAIN && af_alink_agent_alive(r->gw->agents, r->agent_id)) {
        /* Connected, but its pipe is at the high-water mark: shed, loudly. */
        af_metric_inc(r->gw->m_shed, "agent_hwm");
        af_gw_reply_retry(r, 503, "overloaded_error", 1,
                          "agent %s is not keeping up (queue full); retry later", r->agent_id);
        return;
    }
    /* The agent is not (or no longer) connected to this gateway. */
    if (s_wait_for_agent(r))
        return;
    af_info("event=agent_not_connected agent_id=%s session_id=%s attempt=%d", r->agent_id,
            r->session_id, r->attempts);
    if (r->session_id[0])
        af_route_store_del(r->gw->routes, r->session_id);
    if (r->gw->pool)
        af_pool_cache_drop(r->gw->pool, r->agent_id);
    if (r->attempts < MAX_ATTEMPTS && !r->path_agent) {
        s_place(r);
        return;
    }
    if (r->attempts < MAX_ATTEMPTS_GONE && !r->path_agent &&
        af_alink_agent_gone(r->gw->agents, r->agent_id) && s_place_later(r))
        return;
    af_gw_reply_retry(r, 503, "overloaded_error", 1,
                      "agent %s is not connected to this gateway yet", r->agent_id);
}

static bool s_stateless(const af_gw_req_t *r) { return !r->session_id[0] && !r->path_agent; }

/* PLACE refused a stateless call (e.g. capacity) while we still know a live
 * pool agent: use it rather than fail. */
static bool s_place_error(af_gw_req_t *r, const af_msg_t *err)
{
    (void)err;
    if (!s_stateless(r) || !r->gw->pool ||
        !af_pool_cache_any(r->gw->pool, af_now_ns(), r->agent_id))
        return false;
    r->mlink_handle = 0;
    r->on_gone = NULL;
    s_send(r);
    return true;
}

bool af_chat_placed_agent(af_gw_req_t *r, const af_msg_t *ok)
{
    const char *aid = af_msg_str(ok, "agent_id");
    if (!aid || !af_validate_id(aid)) {
        af_gw_reply_error(r, 502, "api_error", "the manager's PLACE reply has no agent_id");
        return false;
    }
    snprintf(r->agent_id, sizeof r->agent_id, "%.63s", aid);
    r->waits = 0;
    return true;
}

static void s_place_ok(af_gw_req_t *r, const af_msg_t *ok)
{
    if (!af_chat_placed_agent(r, ok))
        return;
    if (!r->owner[0])
        snprintf(r->owner, sizeof r->owner, "%.63s", r->who.user);
    if (r->session_id[0])
        af_route_store_put(r->gw->routes, r->session_id, r->agent_id, r->owner);
    r->placed = true;
    if (s_stateless(r) && r->gw->pool)
        af_pool_cache_add(r->gw->pool, r->agent_id, af_now_ns());
    s_send(r);
}

static void s_place(af_gw_req_t *r)
{
    r->attempts++;
    cJSON *body = cJSON_CreateObject();
    if (r->path_agent)
        cJSON_AddStringToObject(body, "agent_id", r->agent_id);
    if (r->session_id[0])
        cJSON_AddStringToObject(body, "session_id", r->session_id);
    r->on_manager_ok = s_place_ok;
    r->on_manager_error = s_place_error;
    af_manager_call(r, "PLACE", body, 0);
}

static void s_on_route(bool found, const char *agent_id, const char *user, void *arg)
{
    af_gw_req_t *r = arg;
    r->on_gone = NULL;
    if (!found) {
        s_place(r);
        return;
    }
    /* Another user's session answers exactly like a missing one. */
    if (!af_rbac_owns(&r->who, user) || (r->path_agent && strcmp(agent_id, r->agent_id) != 0)) {
        af_gw_reply_error(r, 404, "not_found_error", "session %s not found", r->session_id);
        return;
    }
    snprintf(r->agent_id, sizeof r->agent_id, "%.63s", agent_id);
    snprintf(r->owner, sizeof r->owner, "%.63s", user);
    r->attempts++;
    s_send(r);
}

static void s_on_refresh(const af_msg_t *reply, void *arg)
{
    af_gw_t *gw = arg;
    const char *aid = reply && !strcmp(reply->verb, "OK") ? af_msg_str(reply, "agent_id") : NULL;
    if (aid && af_validate_id(aid) && gw->pool)
        af_pool_cache_add(gw->pool, aid, af_now_ns());
    else
        af_debug("event=pool_refresh_failed reason=%s",
                 !reply ? "timeout" : af_msg_str(reply, "code") ? af_msg_str(reply, "code") : "no_agent_id");
}

/* The pool cache's periodic PLACE, off the request's path: before, the one
 * request in each refresh interval that found the refresh due waited a
 * manager round trip (at low traffic, that was nearly every request). Its
 * answer only feeds the cache; a failure leaves the cache to expire on its
 * own, and the next call PLACEs in the foreground then. Returns false when it
 * could not be sent (the caller then PLACEs in the foreground). */
static bool s_refresh_pool(af_gw_req_t *r)
{
    if (!af_mlink_usable(r->gw->manager))
        return false;
    cJSON *body = cJSON_CreateObject();
    af_manager_principal(r, body);
    return af_mlink_request(r->gw->manager, "PLACE", body, r->gw->manager_timeout_ms, s_on_refresh,
                            r->gw) != 0;
}

static void s_on_route_gone(af_gw_req_t *r) { af_route_store_cancel(r->gw->routes, r); }

void af_chat_dispatch(af_gw_req_t *r, const af_alink_handlers_t *h)
{
    r->handlers = h;
    r->path_agent = r->agent_id[0] != 0;
    if (r->session_id[0]) {
        r->on_gone = s_on_route_gone; /* a Redis lookup answers later */
        af_route_store_get(r->gw->routes, r->session_id, s_on_route, r);
        return;
    }
    if (s_stateless(r) && r->gw->pool) {
        uint64_t now = af_now_ns();
        bool fresh = af_pool_cache_pick(r->gw->pool, now, r->agent_id);
        /* A refresh is due but a cached agent still lives: this call goes to
         * it, and the PLACE that lets the manager steer runs beside it. */
        if (fresh || (af_pool_cache_any(r->gw->pool, now, r->agent_id) && s_refresh_pool(r))) {
            r->attempts++;
            s_send(r);
            return;
        }
    }
    s_place(r);
}

int af_chat_handle_failure(af_gw_req_t *r, const af_msg_t *msg, af_alink_end_t why,
                           const af_alink_handlers_t *h)
{
    r->alink_handle = 0;
    r->on_gone = NULL;
    r->handlers = h;
    af_cost_failed(r, msg); /* an upstream failure after START still used tokens */
    if (r->gw->pool && (why == AF_ALINK_AGENT_GONE ||
                        (msg && af_msg_str(msg, "code") &&
                         (!strcmp(af_msg_str(msg, "code"), "draining") ||
                          !strcmp(af_msg_str(msg, "code"), "capacity")))))
        af_pool_cache_drop(r->gw->pool, r->agent_id);
    if (why == AF_ALINK_AGENT_GONE) {
        if (r->session_id[0])
            af_route_store_del(r->gw->routes, r->session_id);
        af_metric_inc(r->gw->m_upstream_errors, "agent_gone");
        af_gw_reply_error(r, 502, "api_error", "agent %s went away during the request",
                          r->agent_id);
        return 0;
    }
    if (why == AF_ALINK_TIMEOUT) {
        af_metric_inc(r->gw->m_upstream_errors, "timeout");
        af_gw_reply_error(r, 504, "timeout_error", "agent %s did not answer in time",
                          r->agent_id);
        return 0;
    }
    const char *code = af_msg_str(msg, "code");
    if (code && !strcmp(code, "draining") && !r->streaming && !r->path_agent &&
        r->attempts < MAX_ATTEMPTS) {
        if (r->session_id[0])
            af_route_store_del(r->gw->routes, r->session_id);
        s_place(r);
        return 1;
    }
    af_gw_reply_af1_error(r, msg);
    return 0;
}
