/* Usage accounting. See usage.h.
 * Fields of a day: b (budget counter), i:<model>, o:<model>, r:<model>,
 * h:<model> (cache hits), si / so (input/output tokens saved by the cache). */
#include "usage.h"

#include "budget.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define MEM_MAX_ENTRIES 200000
#define KEEP_DAYS 32

typedef struct s_day {
    struct s_day *chain;
    char user[64];
    int64_t day;
    cJSON *fields;
} s_day_t;

struct af_usage_t {
    af_redis_t *redis;
    s_day_t *slots[SLOTS];
    size_t count;
};

af_usage_t *af_usage_new(af_redis_t *redis)
{
    af_usage_t *self = calloc(1, sizeof *self);
    if (self)
        self->redis = redis;
    return self;
}

void af_usage_destroy(af_usage_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_usage_t *self = *self_p;
    for (int i = 0; i < SLOTS; i++)
        for (s_day_t *d = self->slots[i], *n; d; d = n) {
            n = d->chain;
            cJSON_Delete(d->fields);
            free(d);
        }
    free(self);
    *self_p = NULL;
}

static unsigned s_slot(const char *user, int64_t day)
{
    unsigned h = 2166136261u ^ (unsigned)day;
    for (; *user; user++)
        h = (h ^ (unsigned char)*user) * 16777619u;
    return h % SLOTS;
}

/* Drops days older than KEEP_DAYS before day from one slot chain. */
static void s_prune(af_usage_t *self, unsigned slot, int64_t day)
{
    s_day_t **pp = &self->slots[slot];
    while (*pp) {
        s_day_t *d = *pp;
        if (d->day + KEEP_DAYS < day) {
            *pp = d->chain;
            cJSON_Delete(d->fields);
            free(d);
            self->count--;
        } else {
            pp = &d->chain;
        }
    }
}

static s_day_t *s_mem(af_usage_t *self, const char *user, int64_t day, bool create)
{
    unsigned slot = s_slot(user, day);
    for (s_day_t *d = self->slots[slot]; d; d = d->chain)
        if (d->day == day && !strcmp(d->user, user))
            return d;
    if (!create)
        return NULL;
    s_prune(self, slot, day);
    if (self->count >= MEM_MAX_ENTRIES) {
        af_warn("event=usage_table_full entries=%zu", self->count);
        return NULL;
    }
    s_day_t *d = calloc(1, sizeof *d);
    if (!d || !(d->fields = cJSON_CreateObject())) {
        free(d);
        return NULL;
    }
    snprintf(d->user, sizeof d->user, "%s", user);
    d->day = day;
    d->chain = self->slots[slot];
    self->slots[slot] = d;
    self->count++;
    return d;
}

static void s_mem_add(cJSON *fields, const char *field, long long n)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, field);
    if (v)
        cJSON_SetNumberValue(v, v->valuedouble + (double)n);
    else
        cJSON_AddNumberToObject(fields, field, (double)n);
}

static bool s_redis(af_usage_t *self) { return self->redis && af_redis_up(self->redis); }

static void s_key(char *buf, size_t len, const char *user, int64_t day)
{
    snprintf(buf, len, "af:usage:%s:%lld", user, (long long)day);
}

static void s_add(af_usage_t *self, const char *user, int64_t day, const char *field, long long n)
{
    if (n == 0)
        return;
    if (s_redis(self)) {
        char key[128];
        s_key(key, sizeof key, user, day);
        if (af_redis_cmd(self->redis, NULL, NULL, "HINCRBY %s %s %lld", key, field, n) == 0)
            return;
    }
    s_day_t *d = s_mem(self, user, day, true);
    if (d)
        s_mem_add(d->fields, field, n);
}

/* One EXPIRE per record (the HINCRBYs before it are pipelined on the same
 * connection): the hash outlives its last write by KEEP_DAYS. */
static void s_expire(af_usage_t *self, const char *user, int64_t day)
{
    if (!s_redis(self))
        return;
    char key[128];
    s_key(key, sizeof key, user, day);
    af_redis_cmd(self->redis, NULL, NULL, "EXPIRE %s %d", key, KEEP_DAYS * 86400);
}

void af_usage_record(af_usage_t *self, const char *user, int64_t day, const char *model,
                     long long in, long long out, bool hit)
{
    char f[128];
    if (hit) {
        snprintf(f, sizeof f, "h:%s", model);
        s_add(self, user, day, f, 1);
        s_add(self, user, day, "si", in);
        s_add(self, user, day, "so", out);
        s_expire(self, user, day);
        return;
    }
    snprintf(f, sizeof f, "r:%s", model);
    s_add(self, user, day, f, 1);
    snprintf(f, sizeof f, "i:%s", model);
    s_add(self, user, day, f, in);
    snprintf(f, sizeof f, "o:%s", model);
    s_add(self, user, day, f, out);
    s_add(self, user, day, "b", in + out);
    s_expire(self, user, day);
}

void af_usage_budget_reset(af_usage_t *self, const char *user, int64_t day)
{
    if (s_redis(self)) {
        char key[128];
        s_key(key, sizeof key, user, day);
        if (af_redis_cmd(self->redis, NULL, NULL, "HDEL %s b", key) == 0)
            return;
    }
    s_day_t *d = s_mem(self, user, day, false);
    if (d)
        cJSON_DeleteItemFromObjectCaseSensitive(d->fields, "b");
}

/* ---- fetch ---------------------------------------------------------------- */

typedef struct {
    af_usage_fn *fn;
    void *arg;
    cJSON *days;
    int left;
    bool degraded;
} s_fetch_t;

typedef struct {
    s_fetch_t *f;
    int index;
} s_fetch_part_t;

static void s_fetch_done(s_fetch_t *f)
{
    f->fn(f->arg, f->days, f->degraded);
    cJSON_Delete(f->days);
    free(f);
}

static void s_on_hgetall(void *arg, redisReply *reply, const char *err)
{
    s_fetch_part_t *p = arg;
    s_fetch_t *f = p->f;
    cJSON *day = cJSON_GetArrayItem(f->days, p->index);
    if (!reply) {
        f->degraded = true;
        af_warn("event=usage_fetch_failed err=\"%s\"", err ? err : "?");
    } else if (reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < reply->elements; i += 2) {
            redisReply *k = reply->element[i], *v = reply->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            cJSON_AddNumberToObject(day, k->str, strtod(v->str, NULL));
        }
    }
    free(p);
    if (--f->left == 0)
        s_fetch_done(f);
}

void af_usage_fetch(af_usage_t *self, const char *user, int64_t day_from, int ndays,
                    af_usage_fn *fn, void *arg)
{
    s_fetch_t *f = calloc(1, sizeof *f);
    cJSON *days = cJSON_CreateArray();
    if (!f || !days) {
        free(f);
        cJSON_Delete(days);
        fn(arg, NULL, true);
        return;
    }
    f->fn = fn;
    f->arg = arg;
    f->days = days;
    for (int i = 0; i < ndays; i++)
        cJSON_AddItemToArray(days, cJSON_CreateObject());
    if (s_redis(self)) {
        f->left = 1; /* held until every command is sent */
        for (int i = 0; i < ndays; i++) {
            char key[128];
            s_key(key, sizeof key, user, day_from - i);
            s_fetch_part_t *p = malloc(sizeof *p);
            if (!p) {
                f->degraded = true;
                continue;
            }
            p->f = f;
            p->index = i;
            f->left++;
            if (af_redis_cmd(self->redis, s_on_hgetall, p, "HGETALL %s", key) < 0) {
                f->left--;
                f->degraded = true;
                free(p);
            }
        }
        if (--f->left == 0)
            s_fetch_done(f);
        return;
    }
    for (int i = 0; i < ndays; i++) {
        s_day_t *d = s_mem(self, user, day_from - i, false);
        if (d)
            cJSON_ReplaceItemInArray(days, i, cJSON_Duplicate(d->fields, 1));
    }
    s_fetch_done(f);
}

long long af_usage_budget_used(const cJSON *day)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(day, "b");
    return cJSON_IsNumber(b) ? (long long)b->valuedouble : 0;
}

/* ---- report --------------------------------------------------------------- */

static void s_bump(cJSON *o, const char *name, double v)
{
    cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (x)
        cJSON_SetNumberValue(x, x->valuedouble + v);
    else
        cJSON_AddNumberToObject(o, name, v);
}

static cJSON *s_period(void)
{
    cJSON *p = cJSON_CreateObject();
    static const char *const names[] = {"input_tokens", "output_tokens", "requests",
                                        "cache_hits",   "tokens_saved",  "cost_usd"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cJSON_AddNumberToObject(p, names[i], 0);
    cJSON_AddObjectToObject(p, "by_model");
    return p;
}

/* Adds one day's fields to a period. */
static void s_fold(const af_cost_config_t *cfg, cJSON *period, const cJSON *day)
{
    cJSON *by = cJSON_GetObjectItemCaseSensitive(period, "by_model");
    const cJSON *f;
    cJSON_ArrayForEach(f, day)
    {
        const char *k = f->string;
        double v = f->valuedouble;
        if (!strcmp(k, "si") || !strcmp(k, "so")) {
            s_bump(period, "tokens_saved", v);
            continue;
        }
        if (strlen(k) < 3 || k[1] != ':')
            continue;
        const char *model = k + 2;
        cJSON *m = cJSON_GetObjectItemCaseSensitive(by, model);
        if (!m) {
            m = cJSON_AddObjectToObject(by, model);
            cJSON_AddNumberToObject(m, "input_tokens", 0);
            cJSON_AddNumberToObject(m, "output_tokens", 0);
            cJSON_AddNumberToObject(m, "requests", 0);
            cJSON_AddNumberToObject(m, "cache_hits", 0);
            cJSON_AddNumberToObject(m, "cost_usd", 0);
        }
        const af_cost_price_t *price = af_cost_config_price(cfg, model);
        double cost = 0;
        const char *name = NULL;
        switch (k[0]) {
        case 'i':
            name = "input_tokens";
            cost = price ? v * price->input_per_mtok / 1e6 : 0;
            break;
        case 'o':
            name = "output_tokens";
            cost = price ? v * price->output_per_mtok / 1e6 : 0;
            break;
        case 'r': name = "requests"; break;
        case 'h': name = "cache_hits"; break;
        default: continue;
        }
        s_bump(m, name, v);
        s_bump(period, name, v);
        if (cost > 0) {
            s_bump(m, "cost_usd", cost);
            s_bump(period, "cost_usd", cost);
        }
    }
}

cJSON *af_usage_report(const af_cost_config_t *cfg, const cJSON *days, int64_t today)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *t = s_period();
    cJSON *month = s_period();
    char date[16];
    af_budget_date(today, date, sizeof date);
    cJSON_AddStringToObject(t, "date", date);
    af_budget_date(today - AF_USAGE_DAYS + 1, date, sizeof date);
    cJSON_AddStringToObject(month, "from", date);
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, days)
    {
        if (i == 0)
            s_fold(cfg, t, d);
        if (i < AF_USAGE_DAYS)
            s_fold(cfg, month, d);
        i++;
    }
    cJSON_AddItemToObject(out, "today", t);
    cJSON_AddItemToObject(out, "last_30_days", month);
    return out;
}
