/* HTTP request → manager request glue. See api.h. */
#include "api.h"

#include "log.h"

#include <string.h>

static void s_on_gone(af_gw_req_t *r)
{
    af_mlink_forget(r->gw->manager, r->mlink_handle);
    r->mlink_handle = 0;
}

static void s_on_reply(const af_msg_t *reply, void *arg)
{
    af_gw_req_t *r = arg;
    r->mlink_handle = 0;
    r->on_gone = NULL;
    if (!reply) {
        if (r->audit_event)
            af_gw_audit(r, r->audit_event, 504, "timeout", NULL);
        af_warn("event=manager_timeout request_id=%s route=%s", r->id, r->route);
        af_gw_reply_error(r, 504, "timeout_error", "the manager did not answer in time");
        return;
    }
    if (!strcmp(reply->verb, "ERROR")) {
        if (r->on_manager_error && r->on_manager_error(r, reply))
            return;
        if (r->audit_event)
            af_gw_audit(r, r->audit_event, af_gw_af1_status(af_msg_str(reply, "code"), NULL),
                        af_msg_str(reply, "code"), af_msg_str(reply, "message"));
        af_gw_reply_af1_error(r, reply);
        return;
    }
    r->on_manager_ok(r, reply);
}

void af_manager_principal(const af_gw_req_t *r, cJSON *body)
{
    cJSON_DeleteItemFromObjectCaseSensitive(body, "user");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "role");
    cJSON_AddStringToObject(body, "user", r->who.user);
    cJSON_AddStringToObject(body, "role", af_role_name(r->who.role));
}

void af_manager_call(af_gw_req_t *r, const char *verb, cJSON *body, long timeout_ms)
{
    af_manager_principal(r, body);
    if (!af_mlink_usable(r->gw->manager)) {
        cJSON_Delete(body);
        if (r->audit_event)
            af_gw_audit(r, r->audit_event, 503, "manager_unreachable", NULL);
        af_gw_reply_retry(r, 503, "overloaded_error", 1, "the manager is unreachable");
        return;
    }
    r->mlink_handle = af_mlink_request(r->gw->manager, verb, body,
                                       timeout_ms > 0 ? timeout_ms : r->gw->manager_timeout_ms,
                                       s_on_reply, r);
    if (!r->mlink_handle) {
        if (r->audit_event)
            af_gw_audit(r, r->audit_event, 503, "manager_unreachable", NULL);
        af_gw_reply_retry(r, 503, "overloaded_error", 1, "the manager is unreachable");
        return;
    }
    r->on_gone = s_on_gone;
    af_gw_req_watch_close(r);
}
