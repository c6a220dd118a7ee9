/* Session histories in Redis. See history_store.h.
 * One SET of the whole document per turn keeps the write atomic (a reader never
 * sees half a turn) and the format trivial; histories are small next to the
 * model's context window, so the rewrite costs little. */
#include "history_store.h"

#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_history_t {
    af_redis_t *redis;
    long ttl_s;
    af_redis_state_fn *state_fn;
    void *state_arg;
    af_metric_t *m_up, *m_writes, *m_loads;
};

typedef struct {
    af_history_t *self;
    af_history_load_fn *load_fn;
    af_history_save_fn *save_fn;
    void *arg;
    char session_id[64];
} s_op_t;

static void s_on_state(void *arg, bool up)
{
    af_history_t *self = arg;
    af_metric_set(self->m_up, up ? 1 : 0);
    if (!up)
        af_warn("event=history_degraded effect=\"sessions kept in memory only until Redis returns\"");
    if (self->state_fn)
        self->state_fn(self->state_arg, up);
}

af_history_t *af_history_new(struct event_base *base, const char *url, double ttl_s,
                             af_metrics_t *registry)
{
    af_history_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ttl_s = ttl_s >= 1 ? (long)ceil(ttl_s) : 1;
    self->m_up = af_metrics_gauge(registry, "agent_redis_up",
                                  "1 while Redis (session histories) is reachable, 0 = degraded to memory", "");
    self->m_writes = af_metrics_counter(registry, "agent_history_writes_total",
                                        "session history writes to Redis by result (ok, failed, conflict, skipped while down)",
                                        "result");
    self->m_loads = af_metrics_counter(registry, "agent_history_loads_total",
                                       "session history reads from Redis by result (found, none, failed)",
                                       "result");
    self->redis = af_redis_new(base, url);
    if (!self->m_up || !self->m_writes || !self->m_loads || !self->redis) {
        af_history_destroy(&self);
        return NULL;
    }
    af_metric_set(self->m_up, 0);
    af_redis_on_state(self->redis, s_on_state, self);
    return self;
}

void af_history_destroy(af_history_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_redis_destroy(&(*self_p)->redis);
    free(*self_p);
    *self_p = NULL;
}

void af_history_on_state(af_history_t *self, af_redis_state_fn *fn, void *arg)
{
    self->state_fn = fn;
    self->state_arg = arg;
}

bool af_history_up(const af_history_t *self) { return self && af_redis_up(self->redis); }

/* ---- load ------------------------------------------------------------------ */

static void s_on_get(void *arg, redisReply *reply, const char *err)
{
    s_op_t *op = arg;
    af_history_t *self = op->self;
    cJSON *doc = NULL;
    const char *why = err;
    if (!err && reply->type == REDIS_REPLY_STRING) {
        doc = cJSON_ParseWithLength(reply->str, reply->len);
        if (!doc || !af_history_doc_user(doc)) {
            af_warn("event=history_corrupt session=%s", op->session_id);
            cJSON_Delete(doc);
            doc = NULL;
            why = "stored history is malformed";
        }
    } else if (!err && reply->type != REDIS_REPLY_NIL) {
        why = "unexpected reply type";
    }
    af_metric_inc(self->m_loads, doc ? "found" : why ? "failed" : "none");
    if (why)
        af_warn("event=history_load_failed session=%s err=\"%s\"", op->session_id, why);
    op->load_fn(op->arg, doc, why);
    cJSON_Delete(doc);
    free(op);
}

int af_history_load(af_history_t *self, const char *session_id, af_history_load_fn *fn, void *arg)
{
    if (!af_history_up(self))
        return -1;
    s_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return -1;
    op->self = self;
    op->load_fn = fn;
    op->arg = arg;
    snprintf(op->session_id, sizeof op->session_id, "%s", session_id);
    if (af_redis_cmd(self->redis, s_on_get, op, "GET session:%s", session_id) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* ---- save ------------------------------------------------------------------ */

static void s_on_set(void *arg, redisReply *reply, const char *err)
{
    s_op_t *op = arg;
    /* SET NX answers nil when the key exists: another agent's history wins. */
    bool conflict = !err && reply->type == REDIS_REPLY_NIL;
    if (err)
        af_warn("event=history_write_failed session=%s err=\"%s\"", op->session_id, err);
    if (conflict)
        af_warn("event=history_conflict session=%s effect=\"stored history kept; this agent's copy "
                "(made while Redis was down) is not written\"", op->session_id);
    af_metric_inc(op->self->m_writes, err ? "failed" : conflict ? "conflict" : "ok");
    if (op->save_fn)
        op->save_fn(op->arg, !err && !conflict);
    free(op);
}

int af_history_save(af_history_t *self, const af_session_t *s, af_history_save_fn *fn, void *arg)
{
    if (!af_history_up(self)) {
        if (self)
            af_metric_inc(self->m_writes, "skipped");
        return -1;
    }
    cJSON *doc = af_history_encode(s);
    char *json = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    s_op_t *op = json ? calloc(1, sizeof *op) : NULL;
    if (!op) {
        free(json);
        af_metric_inc(self->m_writes, "failed");
        return -1;
    }
    op->self = self;
    op->save_fn = fn;
    op->arg = arg;
    snprintf(op->session_id, sizeof op->session_id, "%s", s->id);
    char key[80], ttl[24];
    snprintf(key, sizeof key, "session:%s", s->id);
    snprintf(ttl, sizeof ttl, "%ld", self->ttl_s);
    const char *argv[] = {"SET", key, json, "EX", ttl, "NX"};
    size_t lens[] = {3, strlen(key), strlen(json), 2, strlen(ttl), 2};
    int rc = af_redis_cmdargv(self->redis, s_on_set, op, s->stored ? 5 : 6, argv, lens);
    free(json);
    if (rc < 0) {
        free(op);
        af_metric_inc(self->m_writes, "skipped");
        return -1;
    }
    return 0;
}

int af_history_delete(af_history_t *self, const char *session_id)
{
    if (!af_history_up(self))
        return -1;
    return af_redis_cmd(self->redis, NULL, NULL, "DEL session:%s", session_id);
}

/* ---- JSON form ------------------------------------------------------------- */

cJSON *af_history_encode(const af_session_t *s)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return NULL;
    cJSON_AddNumberToObject(doc, "v", 1);
    cJSON_AddStringToObject(doc, "session_id", s->id);
    cJSON_AddStringToObject(doc, "user", s->user);
    if (s->system)
        cJSON_AddStringToObject(doc, "system", s->system);
    if (s->model)
        cJSON_AddStringToObject(doc, "model", s->model);
    if (s->max_tokens)
        cJSON_AddNumberToObject(doc, "max_tokens", s->max_tokens);
    if (!isnan(s->temperature))
        cJSON_AddNumberToObject(doc, "temperature", s->temperature);
    cJSON_AddNumberToObject(doc, "created_ms", (double)s->created_ms);
    cJSON *usage = cJSON_AddObjectToObject(doc, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", (double)s->input_tokens);
    cJSON_AddNumberToObject(usage, "output_tokens", (double)s->output_tokens);
    cJSON_AddItemToObject(doc, "messages", af_session_messages(s, NULL));
    return doc;
}

const char *af_history_doc_user(const cJSON *doc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "v");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "user");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "messages");
    if (!cJSON_IsObject(doc) || !cJSON_IsNumber(v) || v->valuedouble != 1 || !cJSON_IsString(u) ||
        !cJSON_IsArray(m))
        return NULL;
    return u->valuestring;
}

static const char *s_str(const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double s_num(const cJSON *obj, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int af_history_apply(af_session_t *s, const cJSON *doc)
{
    if (!af_history_doc_user(doc))
        return -1;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(doc, "messages");
    /* Strict alternation user, assistant: anything else is not ours. */
    int n = cJSON_GetArraySize(msgs);
    if (n % 2)
        return -1;
    for (int i = 0; i < n; i += 2) {
        const cJSON *u = cJSON_GetArrayItem(msgs, i), *a = cJSON_GetArrayItem(msgs, i + 1);
        const char *ur = s_str(u, "role"), *uc = s_str(u, "content");
        const char *ar = s_str(a, "role"), *ac = s_str(a, "content");
        if (!ur || !uc || !ar || !ac || strcmp(ur, "user") != 0 || strcmp(ar, "assistant") != 0)
            return -1;
        if (af_session_add_turn(s, uc, ac) < 0)
            return -1;
    }
    if (af_session_set_str(&s->system, s_str(doc, "system")) < 0 ||
        af_session_set_str(&s->model, s_str(doc, "model")) < 0)
        return -1;
    double mt = s_num(doc, "max_tokens", 0);
    s->max_tokens = mt >= 1 && mt <= 200000 ? (uint32_t)mt : 0;
    double t = s_num(doc, "temperature", NAN);
    s->temperature = t >= 0 && t <= 1 ? t : NAN;
    /* Bounded before the casts: a double past 2^64 does not convert. */
    double c = s_num(doc, "created_ms", 0);
    if (c > 0 && c < 1e15)
        s->created_ms = (uint64_t)c;
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(doc, "usage");
    double in = s_num(usage, "input_tokens", 0), out = s_num(usage, "output_tokens", 0);
    s->input_tokens = in > 0 && in < 1e15 ? (uint64_t)in : 0;
    s->output_tokens = out > 0 && out < 1e15 ? (uint64_t)out : 0;
    return 0;
}
