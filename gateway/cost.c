/* Cost controls on the chat path. See cost.h.
 * Contract: af_cost_admit ends in exactly one of go(r), hit(r, done) or a
 * reply (cache first, then the budget on a miss); while it waits on Redis, r->on_gone marks the wait abandoned so the
 * late callback frees it without touching r. */
#include "cost.h"

#include "budget.h"
#include "cache.h"
#include "log.h"
#include "model_route.h"
#include "usage.h"
#include "util.h"

#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct af_cost_t {
    af_gw_t *gw;
    af_cost_config_t cfg;
    af_usage_t *usage;
    af_cache_t *cache;
    af_metric_t *m_hits, *m_misses, *m_saved, *m_user_tokens, *m_budget_exceeded, *m_routed;
    struct event *tick;                 /* each second: usage write-back, cache sweep */
    char models[32][AF_COST_MODEL_LEN]; /* model label values seen; more are "other" */
    int nmodels;
};

/* Clients name models, so the label takes at most 32 distinct values. */
static const char *s_model_label(af_cost_t *self, const char *model)
{
    for (int i = 0; i < self->nmodels; i++)
        if (!strcmp(self->models[i], model))
            return self->models[i];
    if (self->nmodels >= 32 || strlen(model) >= AF_COST_MODEL_LEN)
        return "other";
    snprintf(self->models[self->nmodels], AF_COST_MODEL_LEN, "%s", model);
    return self->models[self->nmodels++];
}

static double s_cache_bytes(void *arg) { return af_cache_bytes(((af_cost_t *)arg)->cache); }

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    af_cost_t *self = arg;
    (void)fd;
    (void)what;
    af_usage_sync(self->usage);
    af_cache_tick(self->cache, af_wall_ms());
}

af_cost_t *af_cost_new(af_gw_t *gw, af_cost_config_t *cfg)
{
    af_cost_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->gw = gw;
    self->cfg = *cfg;
    cfg->users = NULL; /* taken */
    cfg->nusers = 0;
    self->usage = af_usage_new(gw->redis);
    self->cache = af_cache_new(gw->redis, self->cfg.cache_memory_max_bytes, self->cfg.cache_ttl_s);
    af_metrics_t *m = gw->metrics;
    self->m_hits = af_metrics_counter(m, "gateway_cache_hits_total",
                                      "Replies served from the response cache", NULL);
    self->m_misses = af_metrics_counter(m, "gateway_cache_misses_total",
                                        "Cacheable requests the cache could not answer", NULL);
    self->m_saved = af_metrics_counter(m, "gateway_cache_tokens_saved_total",
                                       "Tokens the cache saved by direction", "direction");
    /* Per-user series: two per user who used tokens (see docs/gateway.md). */
    self->m_user_tokens = af_metrics_counter(m, "gateway_user_tokens_total",
                                             "Tokens used by user and direction",
                                             "user,direction");
    self->m_budget_exceeded = af_metrics_counter(
        m, "gateway_budget_exceeded_total", "Requests refused over the daily budget", "user");
    self->m_routed = af_metrics_counter(m, "gateway_model_routed_total",
                                        "Model decisions by model and rule (named = the client's)",
                                        "model,rule");
    if (!self->usage || !self->cache || !self->m_hits || !self->m_misses || !self->m_saved ||
        !self->m_user_tokens || !self->m_budget_exceeded || !self->m_routed ||
        !af_metrics_callback(m, "gateway_cache_bytes",
                             "Bytes of cached replies now held: this gateway's memory, plus "
                             "the shared Redis total while Redis is up",
                             AF_METRIC_GAUGE, s_cache_bytes, self)) {
        af_cost_destroy(&self);
        return NULL;
    }
    const struct timeval second = {1, 0};
    if (gw->base && (!(self->tick = event_new(gw->base, -1, EV_PERSIST, s_on_tick, self)) ||
                     event_add(self->tick, &second) < 0)) {
        af_cost_destroy(&self);
        return NULL;
    }
    return self;
}

void af_cost_destroy(af_cost_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_cost_t *self = *self_p;
    if (self->tick)
        event_free(self->tick);
    af_usage_destroy(&self->usage);
    af_cache_destroy(&self->cache);
    af_cost_config_clear(&self->cfg);
    free(self);
    *self_p = NULL;
}

const af_cost_config_t *af_cost_config(const af_cost_t *self) { return &self->cfg; }
struct af_usage_t *af_cost_usage(af_cost_t *self) { return self->usage; }

/* ---- before validation ------------------------------------------------------ */

int af_cost_prepare(af_gw_req_t *r, bool messages_api)
{
    af_cost_t *self = r->gw->cost;
    if (!self || !cJSON_IsObject(r->body))
        return 0;
    cJSON *body = r->body;
    /* Cache opt-in: body field `cache` (bool) or header x-agentfleet-cache: on|off. */
    int want = -1;
    cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "cache");
    if (c) {
        if (!messages_api) {
            af_gw_reply_error(r, 400, "invalid_request_error",
                              "cache: session turns are not cached (only POST /v1/messages)");
            return -1;
        }
        if (!cJSON_IsBool(c)) {
            af_gw_reply_error(r, 400, "invalid_request_error", "cache: must be true or false");
            return -1;
        }
        want = cJSON_IsTrue(c);
        cJSON_DeleteItemFromObjectCaseSensitive(body, "cache");
    }
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "x-agentfleet-cache");
    if (h && want < 0 && messages_api) {
        if (!strcasecmp(h, "on"))
            want = 1;
        else if (!strcasecmp(h, "off"))
            want = 0;
        else {
            af_gw_reply_error(r, 400, "invalid_request_error",
                              "x-agentfleet-cache: must be on or off");
            return -1;
        }
    }
    r->cache_on = messages_api && (want < 0 ? self->cfg.cache_messages.enabled : want == 1);

    /* Model: routed when none is named, else checked against the role. */
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    const char *name;
    const char *rule = "named";
    if (!model || cJSON_IsNull(model)) {
        af_route_in_t in;
        af_model_route_measure(body, &in);
        name = af_model_route_pick(&self->cfg, r->gw->default_model, &in, &rule);
        cJSON_DeleteItemFromObjectCaseSensitive(body, "model");
        cJSON_AddStringToObject(body, "model", name);
        af_info("event=model_routed request_id=%s user=%s model=%s rule=%s prompt_chars=%ld "
                "max_tokens=%ld",
                r->id, r->who.user, name, rule, in.prompt_chars, in.max_tokens);
    } else if (cJSON_IsString(model)) {
        name = model->valuestring;
    } else {
        return 0; /* validation names the bad field */
    }
    if (!af_cost_config_model_allowed(&self->cfg, r->who.role, name)) {
        af_gw_reply_error(r, 403, "permission_error", "model: %.96s is not allowed for role %s",
                          name, af_role_name(r->who.role));
        return -1;
    }
    af_metric_inc(self->m_routed, s_model_label(self, name), rule);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    long ceiling = self->cfg.max_tokens_ceiling[r->who.role];
    if (cJSON_IsNumber(mt) && mt->valuedouble > (double)ceiling) {
        af_gw_reply_error(r, 400, "invalid_request_error",
                          "max_tokens: %.0f is above the ceiling of %ld for role %s",
                          mt->valuedouble, ceiling, af_role_name(r->who.role));
        return -1;
    }
    return 0;
}

/* ---- admission: budget, then cache ----------------------------------------- */

typedef struct {
    af_gw_req_t *r;           /* NULL: the client left */
    af_gw_req_fn *go;
    af_cost_hit_fn *hit;
} s_wait_t;

static void s_wait_gone(af_gw_req_t *r)
{
    s_wait_t *w = r->cost_wait;
    if (w)
        w->r = NULL;
    r->cost_wait = NULL;
}

/* Leaves the waiting state; returns r or NULL (and frees w) when gone. */
static af_gw_req_t *s_resume(s_wait_t *w)
{
    af_gw_req_t *r = w->r;
    if (r) {
        r->on_gone = NULL;
        r->cost_wait = NULL;
    }
    free(w);
    return r;
}

static void s_header(af_gw_req_t *r, const char *v)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_remove_header(h, "x-agentfleet-cache");
    evhttp_add_header(h, "x-agentfleet-cache", v);
}

static void s_check_budget(af_gw_req_t *r, af_gw_req_fn *go);

static void s_on_cache(void *arg, const char *value, size_t len)
{
    s_wait_t *w = arg;
    af_gw_req_fn *go = w->go;
    af_cost_hit_fn *hit = w->hit;
    af_gw_req_t *r = s_resume(w);
    if (!r)
        return;
    af_cost_t *self = r->gw->cost;
    cJSON *body = value ? cJSON_ParseWithLength(value, len) : NULL;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "usage");
    if (!cJSON_IsObject(body) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body, "content"))) {
        cJSON_Delete(body);
        af_metric_inc(self->m_misses);
        s_header(r, "miss");
        s_check_budget(r, go);
        return;
    }
    af_metric_inc(self->m_hits);
    r->cache_hit = true;
    s_header(r, "hit");
    double in = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "input_tokens"));
    double out = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "output_tokens"));
    in = in == in ? in : 0; /* NaN when absent */
    out = out == out ? out : 0;
    af_metric_add(self->m_saved, in, "input");
    af_metric_add(self->m_saved, out, "output");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    af_usage_record(self->usage, r->who.user, af_budget_day(af_wall_ms()),
                    cJSON_IsString(model) ? model->valuestring : r->meta.model, (long long)in,
                    (long long)out, true);
    af_info("event=cache_hit request_id=%s user=%s key=%.16s", r->id, r->who.user, r->cache_key);
    af_msg_t *done = af_msg_new("DONE", "cache", body);
    if (!done) {
        af_gw_reply_error(r, 500, "api_error", "out of memory");
        return;
    }
    hit(r, done);
    af_msg_destroy(&done);
}

static void s_lookup(af_gw_req_t *r, af_gw_req_fn *go, af_cost_hit_fn *hit)
{
    af_cost_t *self = r->gw->cost;
    if (!r->cache_on || !af_cache_cacheable(r->chat, self->cfg.cache_any_temperature) ||
        af_cache_key(r->chat, "/v1/messages",
                     self->cfg.cache_messages.shared ? NULL : r->who.user, r->cache_key) < 0) {
        r->cache_on = false;
        s_check_budget(r, go);
        return;
    }
    s_wait_t *w = calloc(1, sizeof *w);
    if (!w) {
        r->cache_on = false;
        s_check_budget(r, go);
        return;
    }
    w->r = r;
    w->go = go;
    w->hit = hit;
    r->cost_wait = w;
    r->on_gone = s_wait_gone;
    af_gw_req_watch_close(r);
    af_cache_get(self->cache, r->cache_key, af_wall_ms(), s_on_cache, w);
}

static void s_refuse_budget(af_gw_req_t *r, const af_budget_state_t *st)
{
    af_cost_t *self = r->gw->cost;
    char reset[32], ra[24], msg[256];
    af_budget_iso(st->reset_ms, reset, sizeof reset);
    uint64_t now = af_wall_ms();
    snprintf(ra, sizeof ra, "%llu",
             (unsigned long long)((st->reset_ms > now ? st->reset_ms - now : 0) + 999) / 1000);
    snprintf(msg, sizeof msg, "daily token budget of %lld exhausted (%lld used); resets at %s",
             st->limit, st->used, reset);
    af_metric_inc(self->m_budget_exceeded, r->who.user);
    af_info("event=budget_exceeded request_id=%s user=%s used=%lld budget=%lld", r->id,
            r->who.user, st->used, st->limit);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "error");
    cJSON *in = cJSON_AddObjectToObject(e, "error");
    cJSON_AddStringToObject(in, "type", "budget_exceeded");
    cJSON_AddStringToObject(in, "message", msg);
    cJSON_AddNumberToObject(in, "budget", (double)st->limit);
    cJSON_AddNumberToObject(in, "used", (double)st->used);
    cJSON_AddStringToObject(in, "reset_at", reset);
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", ra);
    af_gw_reply_json(r, 429, e);
    cJSON_Delete(e);
}

static void s_on_budget(void *arg, const cJSON *days, bool degraded)
{
    s_wait_t *w = arg;
    af_gw_req_fn *go = w->go;
    af_gw_req_t *r = s_resume(w);
    if (!r)
        return;
    af_cost_t *self = r->gw->cost;
    af_budget_state_t st;
    uint64_t now = af_wall_ms();
    af_budget_eval(af_cost_config_budget(&self->cfg, r->who.user),
                   af_usage_budget_used(cJSON_GetArrayItem(days, 0)), now, &st);
    /* Degraded: Redis' last value plus this gateway's counts since (usage.h). */
    if (degraded)
        af_debug("event=budget_degraded request_id=%s user=%s used=%lld", r->id, r->who.user,
                 st.used);
    if (st.over) {
        s_refuse_budget(r, &st);
        return;
    }
    go(r);
}

/* Budget after the cache: a hit costs nothing, so it is served even to a
 * user over budget; only a call that would reach Anthropic is refused. */
static void s_check_budget(af_gw_req_t *r, af_gw_req_fn *go)
{
    af_cost_t *self = r->gw->cost;
    if (af_cost_config_budget(&self->cfg, r->who.user) <= 0) {
        go(r);
        return;
    }
    s_wait_t *w = calloc(1, sizeof *w);
    if (!w) {
        af_gw_reply_error(r, 500, "api_error", "out of memory");
        return;
    }
    w->r = r;
    w->go = go;
    r->cost_wait = w;
    r->on_gone = s_wait_gone;
    af_gw_req_watch_close(r);
    af_usage_fetch(self->usage, r->who.user, af_budget_day(af_wall_ms()), 1, s_on_budget, w);
}

void af_cost_admit(af_gw_req_t *r, af_gw_req_fn *go, af_cost_hit_fn *hit)
{
    if (!r->gw->cost) {
        go(r);
        return;
    }
    s_lookup(r, go, hit);
}

/* ---- after the agent ---------------------------------------------------------- */

/* Counts usage found in a DONE / ERROR body. Returns true when there was some. */
static bool s_count(af_cost_t *self, const char *user, const char *model, const cJSON *body)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "usage");
    if (!cJSON_IsObject(u) || !user || !*user)
        return false;
    double in = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "input_tokens"));
    double out = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "output_tokens"));
    in = in == in && in > 0 ? in : 0;
    out = out == out && out > 0 ? out : 0;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (cJSON_IsString(m) && m->valuestring[0])
        model = m->valuestring;
    af_usage_record(self->usage, user, af_budget_day(af_wall_ms()), model && *model ? model : "unknown",
                    (long long)in, (long long)out, false);
    af_metric_add(self->m_user_tokens, in, user, "input");
    af_metric_add(self->m_user_tokens, out, user, "output");
    return true;
}

void af_cost_done(af_gw_req_t *r, const af_msg_t *done)
{
    af_cost_t *self = r->gw->cost;
    if (!self || r->cache_hit)
        return;
    s_count(self, r->who.user, r->meta.model, done->body);
    if (!r->cache_on)
        return;
    cJSON *v = cJSON_CreateObject();
    static const char *const keep[] = {"message_id", "model", "content", "stop_reason", "usage"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(done->body, keep[i]);
        if (f)
            cJSON_AddItemToObject(v, keep[i], cJSON_Duplicate(f, 1));
    }
    char *text = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (text) {
        af_cache_put(self->cache, r->cache_key, text, strlen(text), af_wall_ms());
        free(text);
    }
}

void af_cost_failed(af_gw_req_t *r, const af_msg_t *msg)
{
    af_cost_t *self = r->gw->cost;
    if (self && msg)
        s_count(self, r->who.user, r->meta.model, msg->body);
}

void af_cost_late(void *arg, const af_msg_t *msg)
{
    af_cost_t *self = arg;
    if (!self || !msg || (strcmp(msg->verb, "DONE") != 0 && strcmp(msg->verb, "ERROR") != 0))
        return;
    const char *user = af_msg_str(msg, "user");
    if (user && s_count(self, user, NULL, msg->body))
        af_info("event=late_usage_counted user=%s verb=%s req=%s", user, msg->verb, msg->req);
}
