/* POST /v1/messages, Anthropic-compatible: the official SDKs work with their
 * base URL set to the gateway and their API key set to a gateway key. The
 * request is validated like the Messages API does, sent as a stateless CHAT
 * (`messages`) to a pool agent the manager places, and answered with exactly
 * the Messages API's JSON, or for stream:true its SSE sequence (message_start,
 * content_block_start, ping, content_block_delta*, content_block_stop,
 * message_delta, message_stop) built from START / DELTA / DONE. Errors are
 * {"type":"error","error":{type,message}} with Anthropic's statuses.
 * Contract: see api.h. */
#include "api.h"

#include "chat_dispatch.h"
#include "cost.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static cJSON *s_typed(const char *type)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", type);
    return j;
}

/* The Messages API message object. text NULL: empty content (message_start). */
static cJSON *s_message(af_gw_req_t *r, const char *model, const char *text,
                        const char *stop_reason, double in, double out)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", r->message_id);
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "model", model);
    cJSON *content = cJSON_AddArrayToObject(m, "content");
    if (text) {
        cJSON *b = s_typed("text");
        cJSON_AddStringToObject(b, "text", text);
        cJSON_AddItemToArray(content, b);
    }
    if (stop_reason)
        cJSON_AddStringToObject(m, "stop_reason", stop_reason);
    else
        cJSON_AddNullToObject(m, "stop_reason");
    cJSON_AddNullToObject(m, "stop_sequence");
    cJSON *u = cJSON_AddObjectToObject(m, "usage");
    cJSON_AddNumberToObject(u, "input_tokens", in);
    cJSON_AddNumberToObject(u, "output_tokens", out);
    return m;
}

static void s_set_message_id(af_gw_req_t *r, const char *mid)
{
    if (r->message_id[0])
        return;
    if (mid && *mid)
        snprintf(r->message_id, sizeof r->message_id, "%.63s", mid);
    else
        af_id_new(r->message_id, sizeof r->message_id, "msg_");
}

/* Opens the SSE reply with message_start, content_block_start and ping. */
static void s_open_stream(af_gw_req_t *r, const char *model)
{
    af_gw_stream_start(r);
    r->started = true;
    cJSON *start = s_typed("message_start");
    cJSON_AddItemToObject(start, "message",
                          s_message(r, model, NULL, NULL, (double)r->input_tokens, 1));
    af_gw_stream_event(r, "message_start", start);
    cJSON_Delete(start);
    cJSON *bs = s_typed("content_block_start");
    cJSON_AddNumberToObject(bs, "index", 0);
    cJSON *block = cJSON_AddObjectToObject(bs, "content_block");
    cJSON_AddStringToObject(block, "type", "text");
    cJSON_AddStringToObject(block, "text", "");
    af_gw_stream_event(r, "content_block_start", bs);
    cJSON_Delete(bs);
    cJSON *ping = s_typed("ping");
    af_gw_stream_event(r, "ping", ping);
    cJSON_Delete(ping);
}

static void s_event(const af_msg_t *msg, void *arg)
{
    af_gw_req_t *r = arg;
    if (!r->meta.stream)
        return;
    if (!strcmp(msg->verb, "START")) {
        s_set_message_id(r, af_msg_str(msg, "message_id"));
        r->input_tokens = (long)af_msg_num(msg, "input_tokens", 0);
        const char *model = af_msg_str(msg, "model");
        if (!r->started)
            s_open_stream(r, model ? model : r->meta.model);
        return;
    }
    if (!r->started) {
        s_set_message_id(r, NULL);
        s_open_stream(r, r->meta.model);
    }
    const char *text = af_msg_str(msg, "text");
    cJSON *ev = s_typed("content_block_delta");
    cJSON_AddNumberToObject(ev, "index", 0);
    cJSON *delta = cJSON_AddObjectToObject(ev, "delta");
    cJSON_AddStringToObject(delta, "type", "text_delta");
    cJSON_AddStringToObject(delta, "text", text ? text : "");
    af_gw_stream_event(r, "content_block_delta", ev);
    cJSON_Delete(ev);
}

static void s_final(const af_msg_t *msg, af_alink_end_t why, void *arg);
static const af_alink_handlers_t s_handlers = {s_event, s_final};

static void s_final(const af_msg_t *msg, af_alink_end_t why, void *arg)
{
    af_gw_req_t *r = arg;
    if (why != AF_ALINK_REPLY || strcmp(msg->verb, "DONE") != 0) {
        if (why == AF_ALINK_REPLY && strcmp(msg->verb, "ERROR") != 0) {
            r->alink_handle = 0;
            r->on_gone = NULL;
            af_gw_reply_error(r, 502, "api_error", "agent answered CHAT with %s", msg->verb);
            return;
        }
        af_chat_handle_failure(r, msg, why, &s_handlers);
        return;
    }
    r->alink_handle = 0;
    r->on_gone = NULL;
    af_cost_done(r, msg);
    s_set_message_id(r, af_msg_str(msg, "message_id"));
    const char *model = af_msg_str(msg, "model");
    if (!model)
        model = r->meta.model;
    const char *content = af_msg_str(msg, "content");
    const char *stop = af_msg_str(msg, "stop_reason");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(msg->body, "usage");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
    double ni = cJSON_IsNumber(in) ? in->valuedouble : (double)r->input_tokens;
    double no = cJSON_IsNumber(out) ? out->valuedouble : 0;
    if (!r->meta.stream) {
        cJSON *m = s_message(r, model, content ? content : "", stop ? stop : "end_turn", ni, no);
        af_gw_reply_json(r, 200, m);
        cJSON_Delete(m);
        return;
    }
    if (!r->started) {
        r->input_tokens = (long)ni;
        s_open_stream(r, model);
        /* No DELTA came (agent did not stream): the text goes as one delta. */
        if (content && *content) {
            cJSON *ev = s_typed("content_block_delta");
            cJSON_AddNumberToObject(ev, "index", 0);
            cJSON *delta = cJSON_AddObjectToObject(ev, "delta");
            cJSON_AddStringToObject(delta, "type", "text_delta");
            cJSON_AddStringToObject(delta, "text", content);
            af_gw_stream_event(r, "content_block_delta", ev);
            cJSON_Delete(ev);
        }
    }
    cJSON *stop_ev = s_typed("content_block_stop");
    cJSON_AddNumberToObject(stop_ev, "index", 0);
    af_gw_stream_event(r, "content_block_stop", stop_ev);
    cJSON_Delete(stop_ev);
    cJSON *md = s_typed("message_delta");
    cJSON *delta = cJSON_AddObjectToObject(md, "delta");
    cJSON_AddStringToObject(delta, "stop_reason", stop ? stop : "end_turn");
    cJSON_AddNullToObject(delta, "stop_sequence");
    cJSON *usage = cJSON_AddObjectToObject(md, "usage");
    cJSON_AddNumberToObject(usage, "output_tokens", no);
    af_gw_stream_event(r, "message_delta", md);
    cJSON_Delete(md);
    cJSON *ms = s_typed("message_stop");
    af_gw_stream_event(r, "message_stop", ms);
    cJSON_Delete(ms);
    af_gw_stream_end(r);
}

static void s_go(af_gw_req_t *r) { af_chat_dispatch(r, &s_handlers); }

/* A cached reply is answered exactly like the agent's DONE (JSON or SSE). */
static void s_hit(af_gw_req_t *r, const af_msg_t *done) { s_final(done, AF_ALINK_REPLY, r); }

void af_api_messages(af_gw_req_t *r)
{
    char err[256];
    if (af_cost_prepare(r, true) < 0)
        return;
    r->chat = af_validate_messages(r->body, &r->meta, err, sizeof err);
    if (!r->chat) {
        af_gw_reply_error(r, 400, "invalid_request_error", "%s", err);
        return;
    }
    r->session_id[0] = 0; /* stateless */
    af_cost_admit(r, s_go, s_hit);
}
