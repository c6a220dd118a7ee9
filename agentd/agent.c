/* The agent. See agent.h.
 *
 * A CHAT becomes an af_chat_t (in the `chats` list) holding the gateway link and
 * req to answer on, the session it belongs to (busy while the call runs) and the
 * upstream call. The chat ends in s_chat_end, the only place that frees it. */
#include "agent.h"

#include "agent_metrics.h"
#include "anthropic.h"
#include "config.h"
#include "gateways.h"
#include "history_store.h"
#include "log.h"
#include "manager.h"
#include "message.h"
#include "metrics_http.h"
#include "session.h"
#include "util.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AF_AGENT_TICK_MS 100
#define AF_AGENT_MAX_TOKENS_LIMIT 200000

typedef struct af_chat_t {
    struct af_chat_t *prev, *next;
    af_agent_t *agent;
    af_gateway_t *gw;
    char req[AF_PROTO_REQ_MAX];
    af_session_t *session;   /* NULL: stateless */
    char *session_id;        /* echoed in DONE */
    char *user_text;         /* enters the history with the reply */
    af_call_t *call;
    bool stream;
    bool got_token;
    char *model;             /* asked of the upstream: agent_requests_total{model} */
    char *user;              /* echoed with the usage of a cancelled call */
    long in_tokens;          /* from message_start (streams), -1 before it */
    long deltas;             /* text deltas so far: the output estimate of a cancel */
    uint64_t t0;
    struct s_save_t *save;   /* set while the turn is written to Redis before DONE */
    unsigned long drops0;    /* af_gateway_dropped(gw) when the chat began */
} af_chat_t;

/* A completed turn waiting for its Redis write; DONE leaves when it lands. */
typedef struct s_save_t {
    af_chat_t *chat;         /* NULL: the chat ended meanwhile (cancel, shutdown) */
    cJSON *done;             /* the DONE body */
} s_save_t;

/* A CHAT for a session this agent does not hold, waiting for its history. */
typedef struct s_load_t {
    struct s_load_t *prev, *next;
    af_agent_t *agent;
    af_gateway_t *gw;        /* NULL: that gateway went away meanwhile */
    af_msg_t *msg;           /* a copy of the CHAT */
} s_load_t;

struct af_agent_t {
    struct event_base *base;
    char *id, *owner, *image, *default_model, *join_token;
    long cores, memory_mb, default_max_tokens, heartbeat_ms;
    af_codec_t codec;
    af_metrics_t *registry;
    af_metrics_http_t *http;
    char metrics_addr[300];      /* as bound */
    char metrics_advertise[300]; /* what READY says: --metrics-advertise, else metrics_addr */
    af_agent_metrics_t m;
    af_sessions_t *sessions;
    af_anthropic_t *client;
    af_gateways_t *gateways;
    af_manager_t *manager;
    struct event *tick;
    uint64_t last_expire_ns, last_gw_hb_ns;
    bool busy_since_trim;   /* a call ran since the heap was last trimmed */
    af_chat_t *chats;
    size_t nchats;
    af_history_t *history;  /* NULL: no Redis configured */
    s_load_t *loads;
    size_t nloads;
    long max_inflight;          /* 0: no bound */
    int skip_load;          /* s_on_chat re-entered after a load: 1 read ok, 2 read failed */
    bool draining, finished;
    char drain_reason[32];
};

/* ---- replies --------------------------------------------------------------- */

static void s_send(af_gateway_t *gw, const char *verb, const char *req, cJSON *body)
{
    af_msg_t *m = af_msg_new(verb, req, body);
    if (m && af_gateway_send(gw, &m) < 0)
        af_warn("event=reply_dropped verb=%s req=%s endpoint=%s", verb, req,
                af_gateway_endpoint(gw));
}

static void s_send_error(af_gateway_t *gw, const char *req, const char *code, const char *message,
                         double retry_after)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "message", message);
    if (retry_after >= 0)
        cJSON_AddNumberToObject(body, "retry_after", retry_after);
    s_send(gw, "ERROR", req, body);
}

/* ---- chats ----------------------------------------------------------------- */

static void s_maybe_finish(af_agent_t *self);

/* Unlinks and frees a chat (its call must be gone already). */
static void s_chat_end(af_chat_t *c)
{
    af_agent_t *self = c->agent;
    if (c->save)
        c->save->chat = NULL;
    if (c->session && c->session->busy)
        c->session->busy--;
    if (c->prev)
        c->prev->next = c->next;
    else
        self->chats = c->next;
    if (c->next)
        c->next->prev = c->prev;
    self->nchats--;
    free(c->session_id);
    free(c->user_text);
    free(c->model);
    free(c->user);
    free(c);
    s_maybe_finish(self);
}

/* ERROR for a chat whose upstream call began (text arrived): its tokens are
 * billed, so the ERROR carries them (output estimated by the deltas seen)
 * with model and user, and the gateway counts them even when its request is
 * gone. Before that point it is a plain ERROR. */
static void s_chat_error(af_chat_t *c, const char *code, const char *message, double retry_after)
{
    if (c->in_tokens < 0) {
        s_send_error(c->gw, c->req, code, message, retry_after);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "message", message);
    if (retry_after >= 0)
        cJSON_AddNumberToObject(body, "retry_after", retry_after);
    cJSON_AddStringToObject(body, "model", c->model ? c->model : "");
    cJSON_AddStringToObject(body, "user", c->user ? c->user : "");
    cJSON *usage = cJSON_AddObjectToObject(body, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", (double)c->in_tokens);
    cJSON_AddNumberToObject(usage, "output_tokens", (double)c->deltas);
    af_metric_add(c->agent->m.tokens, (double)c->in_tokens, "input");
    af_metric_add(c->agent->m.tokens, (double)c->deltas, "output");
    s_send(c->gw, "ERROR", c->req, body);
}

static void s_chat_cancel(af_chat_t *c, bool reply)
{
    af_anthropic_cancel(&c->call);
    af_agent_metrics_request(&c->agent->m, c->model, "cancelled");
    if (reply)
        s_chat_error(c, "cancelled", "the CHAT was cancelled", -1);
    s_chat_end(c);
}

static void s_on_start(void *arg, const af_message_t *m)
{
    af_chat_t *c = arg;
    c->in_tokens = m->input_tokens;
    if (!c->stream)
        return;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "message_id", m->id);
    cJSON_AddStringToObject(body, "model", m->model);
    cJSON_AddNumberToObject(body, "input_tokens", (double)m->input_tokens);
    s_send(c->gw, "START", c->req, body);
}

static void s_on_delta(void *arg, const char *text, size_t len)
{
    af_chat_t *c = arg;
    c->deltas++;
    if (!c->got_token) {
        c->got_token = true;
        af_metric_observe(c->agent->m.ttft, (double)(af_now_ns() - c->t0) / 1e9);
    }
    if (!c->stream)
        return;
    if (af_gateway_send_pair(c->gw, "DELTA", c->req, "text", text, len, c->deltas == 1) < 0)
        af_warn("event=reply_dropped verb=DELTA req=%s", c->req);
}

static void s_on_saved(void *arg, bool ok)
{
    s_save_t *sv = arg;
    af_chat_t *c = sv->chat;
    if (!c) {
        cJSON_Delete(sv->done);
        free(sv);
        return;
    }
    c->save = NULL;
    if (ok)
        c->session->stored = true;
    else
        af_warn("event=history_not_written session=%s effect=\"turn kept in memory only\"",
                c->session->id);
    s_send(c->gw, "DONE", c->req, sv->done);
    free(sv);
    s_chat_end(c);
}

static void s_on_done(void *arg, const af_message_t *m)
{
    af_chat_t *c = arg;
    af_agent_t *self = c->agent;
    c->call = NULL;
    const char *content = m->text ? m->text : "";
    if (c->session) {
        if (af_session_add_turn(c->session, c->user_text, content) < 0)
            af_error("event=history_append_failed session=%s", c->session->id);
        c->session->input_tokens += (uint64_t)m->input_tokens;
        c->session->output_tokens += (uint64_t)m->output_tokens;
        c->session->last_used_ns = af_now_ns();
    }
    af_metric_add(self->m.tokens, (double)m->input_tokens, "input");
    af_metric_add(self->m.tokens, (double)m->output_tokens, "output");
    af_agent_metrics_request(&self->m, c->model, "ok");
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "session_id", c->session_id ? c->session_id : "");
    cJSON_AddStringToObject(body, "message_id", m->id);
    cJSON_AddStringToObject(body, "model", m->model);
    cJSON_AddStringToObject(body, "content", content);
    cJSON_AddStringToObject(body, "stop_reason", m->stop_reason[0] ? m->stop_reason : "end_turn");
    cJSON *usage = cJSON_AddObjectToObject(body, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", (double)m->input_tokens);
    cJSON_AddNumberToObject(usage, "output_tokens", (double)m->output_tokens);
    /* Durability: DONE means "in the history", so with Redis the turn is
     * written first; DONE leaves when Redis confirms (or fails: degraded). */
    if (c->session && self->history) { /* down: counted as skipped, DONE at once */
        s_save_t *sv = calloc(1, sizeof *sv);
        if (sv) {
            sv->chat = c;
            sv->done = body;
            c->save = sv;
            if (af_history_save(self->history, c->session, s_on_saved, sv) == 0)
                return;
            c->save = NULL;
            free(sv);
        }
    }
    s_send(c->gw, "DONE", c->req, body);
    s_chat_end(c);
}

static void s_on_error(void *arg, const char *type, const char *message, int status,
                       double retry_after)
{
    af_chat_t *c = arg;
    c->call = NULL;
    af_agent_metrics_request(&c->agent->m, c->model, type);
    af_info("event=chat_failed req=%s type=%s status=%d", c->req, type, status);
    s_chat_error(c, type, message, retry_after);
    s_chat_end(c);
}

static const af_call_cb_t s_call_cb = {s_on_start, s_on_delta, s_on_done, s_on_error};

static af_chat_t *s_chat_find(af_agent_t *self, af_gateway_t *gw, const char *req)
{
    for (af_chat_t *c = self->chats; c; c = c->next)
        if (c->gw == gw && !strcmp(c->req, req))
            return c;
    return NULL;
}

/* Refuses a CHAT before any chat state exists. */
static void s_refuse(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg, const char *code,
                     const char *message, double retry_after)
{
    const char *model = af_msg_str(msg, "model");
    af_agent_metrics_request(&self->m, model ? model : self->default_model, code);
    s_send_error(gw, msg->req, code, message, retry_after);
}

/* Validates the optional per-call settings. Returns NULL or the offending field. */
static const char *s_check_settings(const af_msg_t *msg)
{
    const cJSON *b = msg->body, *v;
    v = cJSON_GetObjectItemCaseSensitive(b, "model");
    if (v && (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > 95))
        return "model";
    v = cJSON_GetObjectItemCaseSensitive(b, "max_tokens");
    if (v && (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > AF_AGENT_MAX_TOKENS_LIMIT ||
              v->valuedouble != floor(v->valuedouble)))
        return "max_tokens";
    v = cJSON_GetObjectItemCaseSensitive(b, "temperature");
    if (v && (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1))
        return "temperature";
    v = cJSON_GetObjectItemCaseSensitive(b, "stream");
    if (v && !cJSON_IsBool(v))
        return "stream";
    return NULL;
}

static bool s_load_start(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg,
                         const char *session_id);

static void s_on_chat(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg)
{
    char why[128];
    if (self->draining) {
        s_refuse(self, gw, msg, "draining", "the agent accepts no new requests", -1);
        return;
    }
    if (self->max_inflight > 0 && !self->skip_load &&
        self->nchats + self->nloads >= (size_t)self->max_inflight) {
        af_agent_metrics_request(&self->m, af_msg_str(msg, "model") ? af_msg_str(msg, "model")
                                                                  : self->default_model,
                                 "capacity");
        snprintf(why, sizeof why, "agent has %zu requests in flight (its limit)",
                 self->nchats + self->nloads);
        s_send_error(gw, msg->req, "capacity", why, 1);
        return;
    }
    if (s_chat_find(self, gw, msg->req)) {
        s_refuse(self, gw, msg, "invalid_request", "req is already in flight", -1);
        return;
    }
    const char *field = s_check_settings(msg);
    if (field) {
        snprintf(why, sizeof why, "field '%s' is invalid", field);
        s_refuse(self, gw, msg, "invalid_request", why, -1);
        return;
    }
    const cJSON *b = msg->body;
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(b, "message");
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(b, "messages");
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(b, "system");
    const char *session_id = af_msg_str(msg, "session_id");
    const char *user = af_msg_str(msg, "user");
    const char *model = af_msg_str(msg, "model");
    long max_tokens = (long)af_msg_num(msg, "max_tokens", 0);
    double temperature = af_msg_num(msg, "temperature", NAN);
    bool stream = af_msg_bool(msg, "stream", false);
    af_session_t *s = NULL;
    cJSON *history = NULL;

    if (cJSON_IsString(message)) {
        if (!*message->valuestring) {
            s_refuse(self, gw, msg, "invalid_request", "field 'message' is empty", -1);
            return;
        }
        if (!session_id || !af_id_valid(session_id, AF_PROTO_REQ_MAX - 1)) {
            s_refuse(self, gw, msg, "invalid_request", "field 'session_id' is missing or invalid", -1);
            return;
        }
        if (!user || !*user) {
            s_refuse(self, gw, msg, "invalid_request", "field 'user' is missing", -1);
            return;
        }
        if (system && !cJSON_IsString(system)) {
            s_refuse(self, gw, msg, "invalid_request", "field 'system' must be a string", -1);
            return;
        }
        uint64_t now = af_now_ns();
        s = af_sessions_get(self->sessions, session_id);
        if (s && strcmp(s->user, user) != 0) {
            s_refuse(self, gw, msg, "not_found", "no such session", -1);
            return;
        }
        if (!s && !self->skip_load && s_load_start(self, gw, msg, session_id))
            return; /* s_on_loaded continues this CHAT */
        if (!s) {
            bool full;
            s = af_sessions_create(self->sessions, session_id, user, now, af_wall_ms(), &full);
            if (!s) {
                snprintf(why, sizeof why, "agent has %zu sessions (its capacity)",
                         af_sessions_capacity(self->sessions));
                s_refuse(self, gw, msg, full ? "capacity" : "internal",
                         full ? why : "out of memory", -1);
                return;
            }
            /* Created after the store said "none": writes may replace. */
            s->stored = self->skip_load == 1;
            af_info("event=session_created session=%s user=%s", session_id, user);
        }
        if (s->busy) {
            s_refuse(self, gw, msg, "invalid_request", "a turn is already in flight on this session",
                     -1);
            return;
        }
        double retry_after;
        if (!af_session_admit(self->sessions, s, now, &retry_after)) {
            af_metric_inc(self->m.rate_limited);
            snprintf(why, sizeof why, "session over %.0f requests/min",
                     s->bucket.rate * 60.0);
            s_refuse(self, gw, msg, "rate_limited", why, ceil(retry_after * 10) / 10);
            return;
        }
        /* Settings given on a turn stick to the session. */
        if ((system && af_session_set_str(&s->system, system->valuestring) < 0) ||
            (model && af_session_set_str(&s->model, model) < 0)) {
            s_refuse(self, gw, msg, "internal", "out of memory", -1);
            return;
        }
        if (max_tokens > 0)
            s->max_tokens = (uint32_t)max_tokens;
        if (!isnan(temperature))
            s->temperature = temperature;
        history = af_session_messages(s, message->valuestring);
    } else if (cJSON_IsArray(messages) && cJSON_GetArraySize(messages) > 0) {
        if (system && !cJSON_IsString(system) && !cJSON_IsArray(system)) {
            s_refuse(self, gw, msg, "invalid_request", "field 'system' must be a string or array", -1);
            return;
        }
    } else {
        s_refuse(self, gw, msg, "invalid_request",
                 "one of 'message' (string) or 'messages' (non-empty array) is required", -1);
        return;
    }

    /* Build the upstream request. */
    cJSON *sys_str = NULL;
    af_message_params_t p = {0};
    p.stream = stream;
    if (s) {
        p.model = s->model ? s->model : self->default_model;
        p.max_tokens = s->max_tokens ? s->max_tokens : self->default_max_tokens;
        p.temperature = s->temperature;
        if (s->system)
            sys_str = cJSON_CreateString(s->system);
        p.system = sys_str;
        p.messages = history;
    } else {
        p.model = model ? model : self->default_model;
        p.max_tokens = max_tokens > 0 ? max_tokens : self->default_max_tokens;
        p.temperature = temperature;
        p.system = system;
        p.messages = messages;
    }
    char *body = af_message_request(&p);
    cJSON_Delete(sys_str);
    cJSON_Delete(history);
    af_chat_t *c = calloc(1, sizeof *c);
    if (!body || !c) {
        free(body);
        free(c);
        s_refuse(self, gw, msg, "internal", "out of memory", -1);
        return;
    }
    c->agent = self;
    c->gw = gw;
    snprintf(c->req, sizeof c->req, "%s", msg->req);
    c->session = s;
    c->session_id = strdup(session_id ? session_id : "");
    c->user_text = s ? strdup(message->valuestring) : NULL;
    c->stream = stream;
    c->drops0 = af_gateway_dropped(gw);
    c->model = strdup(p.model ? p.model : "");
    c->user = strdup(user ? user : "");
    c->in_tokens = -1;
    c->t0 = af_now_ns();
    c->next = self->chats;
    if (self->chats)
        self->chats->prev = c;
    self->chats = c;
    self->nchats++;
    if (s)
        s->busy++;
    self->busy_since_trim = true;
    c->call = af_anthropic_call(self->client, body, stream, &s_call_cb, c);
    if (!c->call) {
        af_agent_metrics_request(&self->m, c->model, "internal");
        s_send_error(gw, c->req, "internal", "could not start the upstream request", -1);
        s_chat_end(c);
    }
}

/* ---- history loads (Redis) ------------------------------------------------ */

typedef struct {
    af_agent_t *agent;
    char id[64];
} s_resync_t;

/* Looks the session up again: it may be gone by the reply. */
static void s_on_resynced(void *arg, bool ok)
{
    s_resync_t *rs = arg;
    af_session_t *s = ok ? af_sessions_get(rs->agent->sessions, rs->id) : NULL;
    if (s)
        s->stored = true;
    free(rs);
}

static void s_load_free(s_load_t *l)
{
    af_agent_t *self = l->agent;
    if (l->prev)
        l->prev->next = l->next;
    else
        self->loads = l->next;
    if (l->next)
        l->next->prev = l->prev;
    af_msg_destroy(&l->msg);
    free(l);
    self->nloads--;
}

static void s_on_session_get(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg);
static void s_on_session_delete(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg);

/* The read is done: the verb that waited for it runs again (skip_load set). */
static void s_on_loaded(void *arg, const cJSON *doc, const char *err)
{
    s_load_t *l = arg;
    af_agent_t *self = l->agent;
    if (!l->gw || self->finished) {
        s_load_free(l);
        return;
    }
    const char *sid = af_msg_str(l->msg, "session_id");
    const char *user = af_msg_str(l->msg, "user");
    if (doc && !af_sessions_get(self->sessions, sid)) {
        if (strcmp(af_history_doc_user(doc), user) != 0) {
            s_refuse(self, l->gw, l->msg, "not_found", "no such session", -1);
            s_load_free(l);
            return;
        }
        bool full;
        af_session_t *s =
            af_sessions_create(self->sessions, sid, user, af_now_ns(), af_wall_ms(), &full);
        if (s && af_history_apply(s, doc) < 0) {
            af_warn("event=history_corrupt session=%s", sid);
            af_sessions_delete(self->sessions, sid);
            s = NULL;
            err = "malformed";
        } else if (s) {
            s->stored = true;
            af_info("event=session_loaded session=%s user=%s turns=%u", sid, user,
                    s->nturns / 2);
        }
        /* s NULL on capacity: s_on_chat refuses it with the right code. */
    }
    self->skip_load = err ? 2 : 1;
    if (!strcmp(l->msg->verb, "SESSION_GET"))
        s_on_session_get(self, l->gw, l->msg);
    else if (!strcmp(l->msg->verb, "SESSION_DELETE"))
        s_on_session_delete(self, l->gw, l->msg);
    else
        s_on_chat(self, l->gw, l->msg);
    self->skip_load = 0;
    s_load_free(l);
}

/* A CHAT (or SESSION_GET/DELETE) for an unknown session: its history may be in
 * Redis (the session was on an agent that died). Returns true when the request
 * now waits for the read. */
static bool s_load_start(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg,
                         const char *session_id)
{
    if (!self->history || !af_history_up(self->history))
        return false;
    s_load_t *l = calloc(1, sizeof *l);
    cJSON *body = cJSON_Duplicate(msg->body, 1);
    if (l && body)
        l->msg = af_msg_new(msg->verb, msg->req, body);
    else
        cJSON_Delete(body);
    if (!l || !l->msg) {
        free(l);
        return false;
    }
    l->agent = self;
    l->gw = gw;
    self->nloads++;
    l->next = self->loads;
    if (self->loads)
        self->loads->prev = l;
    self->loads = l;
    if (af_history_load(self->history, session_id, s_on_loaded, l) < 0) {
        s_load_free(l);
        return false;
    }
    return true;
}

/* Redis came back: write the sessions it missed (a session made while it was
 * down goes in only if no other history exists; see history_store.h). */
static void s_resync_one(af_session_t *s, void *arg)
{
    af_agent_t *self = arg;
    s_resync_t *rs = s->nturns > 0 && !s->busy ? calloc(1, sizeof *rs) : NULL;
    if (!rs)
        return;
    rs->agent = self;
    snprintf(rs->id, sizeof rs->id, "%s", s->id);
    if (af_history_save(self->history, s, s_on_resynced, rs) < 0)
        free(rs);
}

static void s_on_history_state(void *arg, bool up)
{
    af_agent_t *self = arg;
    if (!up)
        return;
    af_info("event=history_resync sessions=%zu", af_sessions_count(self->sessions));
    af_sessions_each(self->sessions, s_resync_one, self);
}

static void s_on_cancel(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg)
{
    af_chat_t *c = s_chat_find(self, gw, msg->req);
    if (c && c->save) {
        af_debug("event=cancel_after_done req=%s", msg->req);
        return; /* the turn is complete; its DONE leaves once written */
    }
    if (!c) {
        af_debug("event=cancel_unknown req=%s", msg->req);
        return; /* already over: CANCEL gets no reply */
    }
    af_info("event=chat_cancelled req=%s", msg->req);
    s_chat_cancel(c, true);
}

/* NULL when the request is answered (not found) or waits for a history read. */
static af_session_t *s_owned_session(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg)
{
    const char *id = af_msg_str(msg, "session_id");
    const char *user = af_msg_str(msg, "user");
    if (!id || !user) {
        s_send_error(gw, msg->req, "invalid_request", "fields 'session_id' and 'user' are required",
                     -1);
        return NULL;
    }
    af_session_t *s = af_sessions_get(self->sessions, id);
    if (!s && !self->skip_load && s_load_start(self, gw, msg, id))
        return NULL; /* s_on_loaded runs the verb again */
    if (!s || strcmp(s->user, user) != 0) {
        s_send_error(gw, msg->req, "not_found", "no such session", -1);
        return NULL;
    }
    return s;
}

static void s_on_session_get(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg)
{
    af_session_t *s = s_owned_session(self, gw, msg);
    if (!s)
        return;
    cJSON *body = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(body, "session");
    cJSON_AddStringToObject(o, "session_id", s->id);
    cJSON_AddStringToObject(o, "user", s->user);
    cJSON_AddStringToObject(o, "model", s->model ? s->model : self->default_model);
    if (s->system)
        cJSON_AddStringToObject(o, "system", s->system);
    else
        cJSON_AddNullToObject(o, "system");
    cJSON_AddNumberToObject(o, "created_ms", (double)s->created_ms);
    cJSON *usage = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", (double)s->input_tokens);
    cJSON_AddNumberToObject(usage, "output_tokens", (double)s->output_tokens);
    cJSON_AddItemToObject(o, "messages", af_session_messages(s, NULL));
    s_send(gw, "OK", msg->req, body);
}

static void s_on_session_delete(af_agent_t *self, af_gateway_t *gw, const af_msg_t *msg)
{
    af_session_t *s = s_owned_session(self, gw, msg);
    if (!s)
        return;
    /* A turn in flight on it has nowhere to go: cancel it first. */
    for (af_chat_t *c = self->chats, *n; c; c = n) {
        n = c->next;
        if (c->session == s)
            s_chat_cancel(c, true);
    }
    char *id = strdup(s->id);
    if (self->history)
        af_history_delete(self->history, s->id);
    af_sessions_delete(self->sessions, s->id);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "session_id", id ? id : "");
    free(id);
    s_send(gw, "OK", msg->req, body);
}

/* One switch per peer: the gateway link. */
static void s_on_gateway_msg(void *arg, af_gateway_t *gw, af_msg_t *msg)
{
    af_agent_t *self = arg;
    const char *v = msg->verb;
    if (!strcmp(v, "CHAT"))
        s_on_chat(self, gw, msg);
    else if (!strcmp(v, "CANCEL"))
        s_on_cancel(self, gw, msg);
    else if (!strcmp(v, "SESSION_GET"))
        s_on_session_get(self, gw, msg);
    else if (!strcmp(v, "SESSION_DELETE"))
        s_on_session_delete(self, gw, msg);
    else if (!strcmp(v, "HEARTBEAT") || !strcmp(v, "OK"))
        ; /* sign of life */
    else if (!strcmp(v, "ERROR"))
        af_debug("event=gateway_error req=%s code=%s", msg->req, af_msg_str(msg, "code"));
    else {
        af_warn("event=gateway_unexpected_verb verb=%s req=%s", v, msg->req);
        af_metric_inc(self->m.refused, "unknown_verb");
        s_send_error(gw, msg->req, "unknown_verb", "verb not accepted on the agent's data link", -1);
    }
    af_msg_destroy(&msg);
}

static void s_on_gateway_gone(void *arg, af_gateway_t *gw)
{
    af_agent_t *self = arg;
    for (af_chat_t *c = self->chats, *n; c; c = n) {
        n = c->next;
        if (c->gw == gw)
            s_chat_cancel(c, false);
    }
    for (s_load_t *l = self->loads; l; l = l->next)
        if (l->gw == gw)
            l->gw = NULL;
}

/* Frames the decoder refused are counted by af_proto_recv itself; this is
 * the dispatch-level refusal (a verb the manager link does not serve). */
static void s_on_refused(void *arg, af_proto_err_t err)
{
    af_agent_t *self = arg;
    af_metric_inc(self->m.refused, af_proto_err_name(err));
}

/* ---- manager link ---------------------------------------------------------- */

static void s_ready_body(void *arg, cJSON *body)
{
    af_agent_t *self = arg;
    cJSON_AddStringToObject(body, "agent_id", self->id);
    cJSON_AddStringToObject(body, "owner", self->owner);
    cJSON *spec = cJSON_AddObjectToObject(body, "spec");
    cJSON_AddNumberToObject(spec, "cores", (double)self->cores);
    cJSON_AddNumberToObject(spec, "memory_mb", (double)self->memory_mb);
    cJSON_AddStringToObject(spec, "image", self->image);
    cJSON_AddNumberToObject(body, "capacity", (double)af_sessions_capacity(self->sessions));
    cJSON_AddItemToObject(body, "sessions", af_sessions_ids(self->sessions));
    cJSON_AddStringToObject(body, "metrics", self->metrics_advertise);
    cJSON_AddStringToObject(body, "version", AF_VERSION);
    if (self->join_token && *self->join_token)
        cJSON_AddStringToObject(body, "token", self->join_token);
}

static void s_heartbeat_body(void *arg, cJSON *body)
{
    af_agent_t *self = arg;
    cJSON_AddNumberToObject(body, "sessions", (double)af_sessions_count(self->sessions));
    cJSON_AddBoolToObject(body, "draining", self->draining);
}

/* The manager's record of our owner and spec (WELCOME): what we announce in
 * every later READY. A VM booted with only its id and join token starts as
 * "pool"; without this, a manager restart would adopt a user's agent into the
 * pool. Values that do not fit are ignored (the manager validated them). */
static void s_adopt_identity(af_agent_t *self, const af_msg_t *msg)
{
    const char *owner = af_msg_str(msg, "owner");
    if (owner && *owner && strlen(owner) < 128 && strcmp(owner, self->owner) != 0) {
        char *dup = strdup(owner);
        if (dup) {
            af_info("event=owner_from_manager owner=%s was=%s", dup, self->owner);
            free(self->owner);
            self->owner = dup;
        }
    }
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(msg->body, "spec");
    if (!cJSON_IsObject(spec))
        return;
    const cJSON *cores = cJSON_GetObjectItemCaseSensitive(spec, "cores");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(spec, "memory_mb");
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(spec, "image");
    if (cJSON_IsNumber(cores) && cores->valuedouble >= 1 && cores->valuedouble <= 1024)
        self->cores = (long)cores->valuedouble;
    if (cJSON_IsNumber(mem) && mem->valuedouble >= 1 && mem->valuedouble <= 1 << 24)
        self->memory_mb = (long)mem->valuedouble;
    if (cJSON_IsString(image) && strlen(image->valuestring) < 256 &&
        strcmp(image->valuestring, self->image) != 0) {
        char *dup = strdup(image->valuestring);
        if (dup) {
            free(self->image);
            self->image = dup;
        }
    }
}

static void s_on_welcome(void *arg, const af_msg_t *msg)
{
    af_agent_t *self = arg;
    const char *key = af_msg_str(msg, "api_key");
    if (key && *key) {
        af_anthropic_set_key(self->client, key); /* registers it as a secret */
        af_info("event=api_key_from_manager");
    }
    self->heartbeat_ms = af_manager_heartbeat_ms(self->manager);
    s_adopt_identity(self, msg);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(msg->body, "gateways");
    if (cJSON_IsArray(g))
        af_gateways_set(self->gateways, g, af_msg_bool(msg, "partial", false));
}

static void s_on_gateways(void *arg, const cJSON *gateways, bool partial)
{
    af_agent_t *self = arg;
    af_gateways_set(self->gateways, gateways, partial);
}

static void s_on_drain(void *arg) { af_agent_drain(arg, "drained"); }
static void s_on_shutdown(void *arg) { af_agent_shutdown(arg, "shutdown"); }

/* ---- lifecycle ------------------------------------------------------------- */

static void s_maybe_finish(af_agent_t *self)
{
    if (!self->draining || self->finished || self->nchats > 0)
        return;
    af_info("event=drained reason=%s", self->drain_reason);
    if (self->manager)
        af_manager_bye(self->manager, self->drain_reason);
    self->finished = true;
    event_base_loopbreak(self->base);
}

void af_agent_drain(af_agent_t *self, const char *reason)
{
    if (self->draining) {
        af_agent_shutdown(self, reason);
        return;
    }
    af_info("event=draining reason=%s inflight=%zu", reason, self->nchats);
    self->draining = true;
    snprintf(self->drain_reason, sizeof self->drain_reason, "%s", reason);
    af_gateways_heartbeat(self->gateways, af_sessions_count(self->sessions), true);
    s_maybe_finish(self);
}

void af_agent_shutdown(af_agent_t *self, const char *reason)
{
    af_info("event=shutdown reason=%s inflight=%zu", reason, self->nchats);
    self->draining = true;
    snprintf(self->drain_reason, sizeof self->drain_reason, "%s", reason);
    for (af_chat_t *c = self->chats, *n; c; c = n) {
        n = c->next;
        s_chat_cancel(c, true); /* the last one finishes via s_maybe_finish */
    }
    s_maybe_finish(self);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_agent_t *self = arg;
    uint64_t now = af_now_ns();
    if (now - self->last_expire_ns >= 1000000000ull) {
        self->last_expire_ns = now;
        size_t n = af_sessions_expire(self->sessions, now);
        if (n)
            af_info("event=sessions_expired count=%zu live=%zu", n,
                    af_sessions_count(self->sessions));
        /* After a burst of calls the heap holds freed transfer buffers; give
         * them back so an idle agent stays small (the VM budget is per agent). */
        if ((n || self->busy_since_trim) && self->nchats == 0) {
            malloc_trim(0);
            self->busy_since_trim = false;
            struct mallinfo2 mi = mallinfo2();
            af_debug("event=heap_trimmed heap_kib=%zu used_kib=%zu free_kib=%zu mmap_kib=%zu",
                     mi.arena / 1024, mi.uordblks / 1024, mi.fordblks / 1024, mi.hblkhd / 1024);
        }
    }
    /* A message dropped on a gateway link (its peer gone, or at the high-water
     * mark) may have left a hole in a reply: end the chats in flight on that
     * link with an error rather than let a stream go on with a silent gap (if
     * the ERROR is dropped too, the gateway's idle timeout ends the request). */
    for (af_chat_t *c = self->chats, *n; c; c = n) {
        n = c->next;
        if (c->save || af_gateway_dropped(c->gw) == c->drops0)
            continue; /* a complete turn's DONE is on its way */
        af_warn("event=reply_dropped_chat_failed req=%s endpoint=%s", c->req,
                af_gateway_endpoint(c->gw));
        af_anthropic_cancel(&c->call);
        af_agent_metrics_request(&self->m, c->model, "internal");
        s_send_error(c->gw, c->req, "internal",
                     "a reply was dropped on the gateway link (peer gone or high-water mark)", -1);
        s_chat_end(c);
    }
    if (now - self->last_gw_hb_ns >= (uint64_t)self->heartbeat_ms * 1000000ull) {
        self->last_gw_hb_ns = now;
        af_gateways_heartbeat(self->gateways, af_sessions_count(self->sessions), self->draining);
    }
}

static double s_sessions_value(void *arg)
{
    return (double)af_sessions_count(((af_agent_t *)arg)->sessions);
}

static double s_inflight_value(void *arg) { return (double)((af_agent_t *)arg)->nchats; }

static void s_on_attempt(void *ctx, double seconds, const char *error_type)
{
    af_agent_t *self = ctx;
    af_metric_observe(self->m.upstream_duration, seconds);
    if (error_type)
        af_metric_inc(self->m.upstream_errors, error_type);
}

af_agent_t *af_agent_new(struct event_base *base, const af_agent_opts_t *o)
{
    af_agent_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->id = strdup(o->id);
    self->owner = strdup(o->owner && *o->owner ? o->owner : "pool");
    self->image = strdup(o->image ? o->image : "");
    self->default_model = strdup(o->default_model);
    self->join_token = o->join_token ? strdup(o->join_token) : NULL;
    self->cores = o->cores;
    self->memory_mb = o->memory_mb;
    self->default_max_tokens = o->default_max_tokens;
    self->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : 1000;
    self->max_inflight = o->max_inflight;
    self->codec = o->codec;
    self->registry = af_metrics_new();
    self->sessions = af_sessions_new((size_t)o->capacity, o->session_ttl_s, o->rate_limit);
    if (!self->id || !self->owner || !self->image || !self->default_model || !self->registry ||
        !self->sessions)
        goto fail;
    if (af_agent_metrics_init(&self->m, self->registry, s_sessions_value, s_inflight_value, self) < 0)
        goto fail;
    self->http = af_metrics_http_new(base, self->registry, o->metrics_listen);
    if (!self->http)
        goto fail;
    {
        char host[256];
        int port;
        if (af_config_hostport(o->metrics_listen, host, sizeof host, &port) < 0)
            goto fail;
        snprintf(self->metrics_addr, sizeof self->metrics_addr, "%s:%d", host,
                 af_metrics_http_port(self->http));
        snprintf(self->metrics_advertise, sizeof self->metrics_advertise, "%s",
                 o->metrics_advertise && *o->metrics_advertise ? o->metrics_advertise
                                                               : self->metrics_addr);
    }
    af_anthropic_opts_t ao = {0};
    ao.base_url = o->base_url;
    ao.version = o->anthropic_version;
    ao.connect_timeout_ms = o->upstream_timeout_ms;
    ao.read_timeout_ms = o->upstream_timeout_ms;
    ao.delayed_ack = o->upstream_delayed_ack;
    ao.idle_connections = o->upstream_idle_conns;
    af_retry_policy_default(&ao.retry);
    ao.retry.max_retries = (int)o->max_retries;
    if (o->retry_base_s > 0)
        ao.retry.base_s = o->retry_base_s;
    ao.on_attempt = s_on_attempt;
    ao.ctx = self;
    self->client = af_anthropic_new(base, &ao);
    if (!self->client || af_anthropic_set_key(self->client, o->api_key) < 0)
        goto fail;
    af_gateways_cb_t gcb = {s_on_gateway_msg, s_on_gateway_gone};
    self->gateways = af_gateways_new(base, self->id, o->codec, o->max_body, o->send_batch_us, &gcb,
                                     self);
    if (!self->gateways)
        goto fail;
    if (o->gateway && *o->gateway && af_gateways_add_static(self->gateways, o->gateway) < 0)
        goto fail;
    if (o->manager && *o->manager) {
        af_manager_cb_t mcb = {s_ready_body, s_heartbeat_body, s_on_welcome, s_on_gateways,
                               s_on_drain,   s_on_shutdown,    s_on_refused};
        self->manager = af_manager_new(base, o->manager, self->id, self->heartbeat_ms, o->codec,
                                       o->max_body, &mcb, self);
        if (!self->manager)
            goto fail;
    }
    if (o->redis_url && *o->redis_url) {
        self->history = af_history_new(base, o->redis_url, o->session_ttl_s, self->registry);
        if (!self->history)
            goto fail;
        af_history_on_state(self->history, s_on_history_state, self);
    }
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    struct timeval tv = {0, AF_AGENT_TICK_MS * 1000L};
    if (!self->tick || event_add(self->tick, &tv) < 0)
        goto fail;
    self->last_expire_ns = self->last_gw_hb_ns = af_now_ns();
    af_info("event=agent_started id=%s owner=%s capacity=%zu metrics=%s metrics_advertised=%s "
            "manager=%s",
            self->id, self->owner, af_sessions_capacity(self->sessions), self->metrics_addr,
            self->metrics_advertise, o->manager && *o->manager ? o->manager : "-");
    return self;
fail:
    af_error("event=agent_init_failed id=%s", o->id ? o->id : "-");
    af_agent_destroy(&self);
    return NULL;
}

void af_agent_destroy(af_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_agent_t *self = *self_p;
    self->draining = true;
    self->finished = true; /* no BYE from here */
    for (af_chat_t *c = self->chats, *n; c; c = n) {
        n = c->next;
        af_anthropic_cancel(&c->call);
        s_chat_end(c);
    }
    /* Pending reads and writes end here (their chats are gone: nothing is sent). */
    af_history_destroy(&self->history);
    for (s_load_t *l = self->loads, *next; l; l = next) {
        next = l->next;
        s_load_free(l);
    }
    if (self->tick)
        event_free(self->tick);
    af_manager_destroy(&self->manager);
    af_gateways_destroy(&self->gateways);
    af_anthropic_destroy(&self->client);
    af_metrics_http_destroy(&self->http);
    af_sessions_destroy(&self->sessions);
    af_proto_count_refusals(NULL);
    af_metrics_destroy(&self->registry);
    free(self->id);
    free(self->owner);
    free(self->image);
    free(self->default_model);
    free(self->join_token);
    free(self);
    *self_p = NULL;
}

const char *af_agent_id(const af_agent_t *self) { return self->id; }
const char *af_agent_metrics_addr(const af_agent_t *self) { return self->metrics_addr; }
bool af_agent_finished(const af_agent_t *self) { return self->finished; }
