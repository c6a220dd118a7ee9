/* Usage accounting. See usage.h.
 * Fields of a day: b (budget counter), i:<model>, o:<model>, r:<model>,
 * h:<model> (cache hits), si / so (input/output tokens saved by the cache).
 *
 * With Redis, every write is one script call (s_write_lua: HINCRBYs and the
 * EXPIRE, atomically) per record. A memory entry per user-day holds:
 *   fields  counts Redis does not have (a record while it was down, or whose
 *           write failed); without Redis, everything;
 *   reset   a budget reset Redis has not seen;
 *   flight  a write-back batch (fields + reset taken together) under a unique
 *           id; the script applies an id once (a marker key), so a batch whose
 *           reply was lost is resent as is and still counts once;
 *   seen    the hash as Redis last returned it, plus this gateway's writes
 *           acknowledged since: the base of the view while Redis is down.
 * The view of a day (s_compose) is base + flight + fields, where a pending
 * reset hides the budget counter of what came before it. A record whose
 * write fails after it was sent is counted again by the write-back: it may
 * count twice if Redis applied it and only the reply was lost (a token is
 * rather counted twice than not at all). */
#include "usage.h"

#include "budget.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define MEM_MAX_ENTRIES 200000
/* Snapshots (seen) are made only while the table is below these, so they
 * never crowd out counts; the latest day's (budgets) get more room than
 * history (30-day reads), and a new day drops the older ones. */
#define SEEN_MAX_LATEST 50000
#define SEEN_MAX_HISTORY 10000
#define KEEP_DAYS 32

/* KEYS: the day's hash [, the batch marker]. ARGV: ttl_s, reset (1/0), then
 * field, increment pairs. With a marker, a batch already applied is not
 * applied again (returns 0). */
static const char s_write_lua[] =
    "if #KEYS > 1 and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 0 end\n"
    "if ARGV[2] == '1' then redis.call('HDEL', KEYS[1], 'b') end\n"
    "for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return 1\n";

typedef struct s_day {
    struct s_day *chain;
    char user[64];
    int64_t day;
    cJSON *fields;        /* never NULL */
    cJSON *seen;          /* NULL: never read from Redis */
    cJSON *flight;        /* NULL: no batch */
    char flight_id[48];
    unsigned long long flight_sent; /* s_cmd's number of its last send */
    bool reset, flight_reset, in_air;
} s_day_t;

struct af_usage_t {
    af_usage_io_t io;
    void *io_arg;
    bool has_redis;
    s_day_t *slots[SLOTS];
    size_t count;
    bool dirty;           /* some entry may have something to write back */
    bool hold;            /* Redis refused a batch: retry from af_usage_sync only */
    char instance[40];    /* batch ids: instance-seq */
    unsigned long long seq;
    unsigned long long nsent; /* commands sent: replies come in this order */
    int64_t latest;           /* the latest day asked for */
};

static bool s_io_up(void *arg) { return af_redis_up(arg); }
static int s_io_cmd(void *arg, af_redis_fn *fn, void *fn_arg, int argc, const char **argv,
                    const size_t *lens)
{
    return af_redis_cmdargv(arg, fn, fn_arg, argc, argv, lens);
}

af_usage_t *af_usage_new_io(const af_usage_io_t *io, void *io_arg)
{
    af_usage_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (io) {
        self->io = *io;
        self->io_arg = io_arg;
        self->has_redis = true;
        if (af_id_new(self->instance, sizeof self->instance, "") < 0) {
            free(self);
            return NULL;
        }
    }
    return self;
}

af_usage_t *af_usage_new(af_redis_t *redis)
{
    static const af_usage_io_t io = {s_io_up, s_io_cmd};
    return af_usage_new_io(redis ? &io : NULL, redis);
}

static void s_free_day(s_day_t *d)
{
    cJSON_Delete(d->fields);
    cJSON_Delete(d->seen);
    cJSON_Delete(d->flight);
    free(d);
}

void af_usage_destroy(af_usage_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_usage_t *self = *self_p;
    size_t lost = 0;
    for (int i = 0; i < SLOTS; i++)
        for (s_day_t *d = self->slots[i], *n; d; d = n) {
            n = d->chain;
            lost += self->has_redis && (d->flight || d->reset || d->fields->child);
            s_free_day(d);
        }
    if (lost)
        af_warn("event=usage_unsynced user_days=%zu effect=\"counts not written to Redis\"",
                lost);
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

/* Drops days older than KEEP_DAYS before day from one slot chain (Redis
 * drops them too). */
static void s_prune(af_usage_t *self, unsigned slot, int64_t day)
{
    s_day_t **pp = &self->slots[slot];
    while (*pp) {
        s_day_t *d = *pp;
        if (d->day + KEEP_DAYS < day) {
            *pp = d->chain;
            s_free_day(d);
            self->count--;
        } else {
            pp = &d->chain;
        }
    }
}

/* The entry of user's day; create: up to limit entries. */
static s_day_t *s_mem(af_usage_t *self, const char *user, int64_t day, size_t limit)
{
    unsigned slot = s_slot(user, day);
    for (s_day_t *d = self->slots[slot]; d; d = d->chain)
        if (d->day == day && !strcmp(d->user, user))
            return d;
    if (!limit)
        return NULL;
    s_prune(self, slot, day);
    if (self->count >= limit) {
        if (limit == MEM_MAX_ENTRIES)
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

/* Frees an entry that holds nothing any more. */
static void s_drop_if_empty(af_usage_t *self, s_day_t *d)
{
    if (d->fields->child || (d->seen && d->seen->child) || d->flight || d->reset)
        return;
    s_day_t **pp = &self->slots[s_slot(d->user, d->day)];
    while (*pp && *pp != d)
        pp = &(*pp)->chain;
    if (*pp) {
        *pp = d->chain;
        s_free_day(d);
        self->count--;
    }
}

static void s_mem_add(cJSON *fields, const char *field, double n)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, field);
    if (v)
        cJSON_SetNumberValue(v, v->valuedouble + n);
    else
        cJSON_AddNumberToObject(fields, field, n);
}

/* to += from, without the budget counter when skip_b. */
static void s_merge(cJSON *to, const cJSON *from, bool skip_b)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, from)
    {
        if (skip_b && !strcmp(f->string, "b"))
            continue;
        s_mem_add(to, f->string, f->valuedouble);
    }
}

/* The day as this gateway knows it: base (Redis' value, or NULL) plus what
 * Redis has not applied. with_flight: the batch is not in base. */
static void s_compose(cJSON *out, const cJSON *base, const s_day_t *d, bool with_flight)
{
    if (!d) {
        s_merge(out, base, false);
        return;
    }
    bool reset_before = d->reset || (with_flight && d->flight && d->flight_reset);
    s_merge(out, base, reset_before);
    if (with_flight && d->flight)
        s_merge(out, d->flight, d->reset);
    s_merge(out, d->fields, false);
}

static bool s_up(af_usage_t *self) { return self->has_redis && self->io.up(self->io_arg); }

static void s_key(char *buf, size_t len, const char *user, int64_t day)
{
    snprintf(buf, len, "af:usage:%s:%lld", user, (long long)day);
}

/* Every command goes through here, numbered, so a read knows which writes
 * were ahead of it on the connection. */
static int s_cmd(af_usage_t *self, af_redis_fn *fn, void *arg, int argc, const char **argv,
                 const size_t *lens)
{
    if (self->io.cmdargv(self->io_arg, fn, arg, argc, argv, lens) < 0)
        return -1;
    self->nsent++;
    return 0;
}

/* A write in flight: what it carries, to mirror into seen or take back. */
typedef struct {
    af_usage_t *self;
    char user[64];
    int64_t day;
    cJSON *delta;         /* a record's counts; NULL for a batch (it stays in d->flight) or a reset */
} s_write_t;

/* A write for user's day, delta NULL; free()d by its reply handler. */
static s_write_t *s_write_new(af_usage_t *self, const char *user, int64_t day)
{
    s_write_t *w = calloc(1, sizeof *w);
    if (w) {
        w->self = self;
        snprintf(w->user, sizeof w->user, "%s", user);
        w->day = day;
    }
    return w;
}

/* Sends s_write_lua for user's day. marker: batch id or NULL. Returns 0 or -1. */
static int s_send(af_usage_t *self, const char *user, int64_t day, const cJSON *counts,
                  bool reset, const char *marker, af_redis_fn *fn, s_write_t *w)
{
    char key[128], mkey[80], ttl[16];
    size_t pairs = (size_t)cJSON_GetArraySize(counts);
    const char **argv = calloc(7 + 2 * pairs, sizeof *argv);
    size_t *lens = calloc(7 + 2 * pairs, sizeof *lens);
    char (*nums)[24] = calloc(pairs + 1, sizeof *nums);
    int n = 0, rc = -1;
    if (!argv || !lens || !nums)
        goto done;
    s_key(key, sizeof key, user, day);
    snprintf(ttl, sizeof ttl, "%d", KEEP_DAYS * 86400);
    argv[n++] = "EVAL";
    argv[n++] = s_write_lua;
    argv[n++] = marker ? "2" : "1";
    argv[n++] = key;
    if (marker) {
        snprintf(mkey, sizeof mkey, "af:usage_batch:%s", marker);
        argv[n++] = mkey;
    }
    argv[n++] = ttl;
    argv[n++] = reset ? "1" : "0";
    int i = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, counts)
    {
        snprintf(nums[i], sizeof nums[0], "%lld", (long long)f->valuedouble);
        argv[n++] = f->string;
        argv[n++] = nums[i++];
    }
    for (int k = 0; k < n; k++)
        lens[k] = strlen(argv[k]);
    rc = s_cmd(self, fn, w, n, argv, lens);
done:
    free(argv);
    free(lens);
    free(nums);
    return rc;
}

/* ---- write-back ----------------------------------------------------------- */

static void s_sync(af_usage_t *self);

static void s_on_batch(void *arg, redisReply *reply, const char *err)
{
    s_write_t *w = arg;
    af_usage_t *self = w->self;
    s_day_t *d = s_mem(self, w->user, w->day, 0);
    free(w);
    if (!d || !d->flight)
        return;
    d->in_air = false;
    if (!reply) {
        /* Kept under the same id: resent as is, applied once. */
        self->dirty = true;
        if (err && strcmp(err, "disconnected") != 0)
            self->hold = true;
        af_warn("event=usage_writeback_failed user=%s day=%lld err=\"%s\"", d->user,
                (long long)d->day, err ? err : "?");
        return;
    }
    if (d->seen) {
        if (d->flight_reset)
            cJSON_DeleteItemFromObjectCaseSensitive(d->seen, "b");
        s_merge(d->seen, d->flight, false);
    }
    cJSON_Delete(d->flight);
    d->flight = NULL;
    d->flight_reset = false;
    if (d->fields->child || d->reset) {
        self->dirty = true;
        s_sync(self); /* what came while this batch was out */
        return;
    }
    s_drop_if_empty(self, d);
}

static int s_send_flight(af_usage_t *self, s_day_t *d)
{
    s_write_t *w = s_write_new(self, d->user, d->day);
    if (!w)
        return -1;
    if (s_send(self, d->user, d->day, d->flight, d->flight_reset, d->flight_id, s_on_batch, w) <
        0) {
        free(w);
        return -1;
    }
    d->in_air = true;
    d->flight_sent = self->nsent;
    return 0;
}

/* Sends what Redis lacks, one batch per user-day at a time. */
static void s_sync(af_usage_t *self)
{
    if (!self->dirty || self->hold || !s_up(self))
        return;
    size_t sent = 0;
    bool left = false;
    for (int i = 0; i < SLOTS; i++)
        for (s_day_t *d = self->slots[i]; d; d = d->chain) {
            if (d->in_air)
                continue; /* its reply syncs what came meanwhile */
            if (!d->flight) {
                if (!d->fields->child && !d->reset)
                    continue;
                cJSON *fresh = cJSON_CreateObject();
                if (!fresh) {
                    left = true;
                    continue;
                }
                d->flight = d->fields;
                d->fields = fresh;
                d->flight_reset = d->reset;
                d->reset = false;
                snprintf(d->flight_id, sizeof d->flight_id, "%s-%llu", self->instance,
                         ++self->seq);
            }
            if (s_send_flight(self, d) < 0) {
                left = true; /* Redis went down again: the batch keeps its id */
                goto out;
            }
            sent++;
        }
out:
    self->dirty = left;
    if (sent)
        af_info("event=usage_writeback user_days=%zu", sent);
}

void af_usage_sync(af_usage_t *self)
{
    self->hold = false;
    s_sync(self);
}

size_t af_usage_pending(const af_usage_t *self)
{
    size_t n = 0;
    if (!self->has_redis)
        return 0;
    for (int i = 0; i < SLOTS; i++)
        for (const s_day_t *d = self->slots[i]; d; d = d->chain)
            n += d->flight || d->reset || d->fields->child;
    return n;
}

/* ---- record and reset ----------------------------------------------------- */

/* Counts what Redis could not take into the day's pending fields. */
static void s_keep(af_usage_t *self, const char *user, int64_t day, const cJSON *delta)
{
    s_day_t *d = s_mem(self, user, day, MEM_MAX_ENTRIES);
    if (!d)
        return;
    s_merge(d->fields, delta, false);
    self->dirty = true;
}

static void s_on_record(void *arg, redisReply *reply, const char *err)
{
    s_write_t *w = arg;
    af_usage_t *self = w->self;
    if (reply) {
        s_day_t *d = s_mem(self, w->user, w->day, 0);
        if (d && d->seen)
            s_merge(d->seen, w->delta, false);
    } else {
        af_warn("event=usage_write_failed user=%s day=%lld err=\"%s\" effect=\"kept for write-back\"",
                w->user, (long long)w->day, err ? err : "?");
        s_keep(self, w->user, w->day, w->delta);
        if (err && strcmp(err, "disconnected") != 0)
            self->hold = true;
    }
    cJSON_Delete(w->delta);
    free(w);
}

void af_usage_record(af_usage_t *self, const char *user, int64_t day, const char *model,
                     long long in, long long out, bool hit)
{
    cJSON *delta = cJSON_CreateObject();
    if (!delta)
        return;
    char f[128];
    if (hit) {
        snprintf(f, sizeof f, "h:%s", model);
        cJSON_AddNumberToObject(delta, f, 1);
        if (in)
            cJSON_AddNumberToObject(delta, "si", (double)in);
        if (out)
            cJSON_AddNumberToObject(delta, "so", (double)out);
    } else {
        snprintf(f, sizeof f, "r:%s", model);
        cJSON_AddNumberToObject(delta, f, 1);
        snprintf(f, sizeof f, "i:%s", model);
        if (in)
            cJSON_AddNumberToObject(delta, f, (double)in);
        snprintf(f, sizeof f, "o:%s", model);
        if (out)
            cJSON_AddNumberToObject(delta, f, (double)out);
        if (in + out)
            cJSON_AddNumberToObject(delta, "b", (double)(in + out));
    }
    s_sync(self);
    if (s_up(self)) {
        s_write_t *w = s_write_new(self, user, day);
        if (w) {
            w->delta = delta;
            if (s_send(self, user, day, delta, false, NULL, s_on_record, w) == 0)
                return;
            free(w);
        }
    }
    s_keep(self, user, day, delta);
    cJSON_Delete(delta);
}

/* Resets user's day in memory; pending: Redis still has to apply it. */
static void s_reset_mem(af_usage_t *self, const char *user, int64_t day, bool pending)
{
    s_day_t *d = s_mem(self, user, day, pending ? MEM_MAX_ENTRIES : 0);
    if (!d)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(d->fields, "b");
    if (pending) {
        d->reset = true;
        self->dirty = true;
    } else if (d->seen) {
        cJSON_DeleteItemFromObjectCaseSensitive(d->seen, "b");
    }
}

static void s_on_reset(void *arg, redisReply *reply, const char *err)
{
    s_write_t *t = arg;
    if (reply) {
        s_day_t *d = s_mem(t->self, t->user, t->day, 0);
        if (d && d->seen)
            cJSON_DeleteItemFromObjectCaseSensitive(d->seen, "b");
    } else {
        af_warn("event=budget_reset_failed user=%s err=\"%s\" effect=\"kept for write-back\"",
                t->user, err ? err : "?");
        s_reset_mem(t->self, t->user, t->day, true);
    }
    free(t);
}

void af_usage_budget_reset(af_usage_t *self, const char *user, int64_t day)
{
    s_sync(self);
    if (s_up(self)) {
        s_write_t *t = s_write_new(self, user, day);
        if (t) {
            char key[128];
            s_key(key, sizeof key, user, day);
            const char *argv[] = {"HDEL", key, "b"};
            const size_t lens[] = {4, strlen(key), 1};
            if (s_cmd(self, s_on_reset, t, 3, argv, lens) == 0) {
                /* Counts Redis lacks for this day came before the reset. */
                s_day_t *d = s_mem(self, user, day, 0);
                if (d)
                    cJSON_DeleteItemFromObjectCaseSensitive(d->fields, "b");
                return;
            }
            free(t);
        }
    }
    s_reset_mem(self, user, day, self->has_redis);
}

/* ---- fetch ---------------------------------------------------------------- */

/* A new day: snapshots of earlier days go (reads make them again). Once a day. */
static void s_new_day(af_usage_t *self, int64_t day)
{
    if (day <= self->latest)
        return;
    self->latest = day;
    for (int i = 0; i < SLOTS; i++)
        for (s_day_t *d = self->slots[i], *n; d; d = n) {
            n = d->chain;
            if (d->day < day && d->seen) {
                cJSON_Delete(d->seen);
                d->seen = NULL;
                s_drop_if_empty(self, d);
            }
        }
}

typedef struct {
    af_usage_t *self;
    af_usage_fn *fn;
    void *arg;
    cJSON *days;
    char user[64];
    int64_t day_from;
    int left;
    bool degraded;
} s_fetch_t;

typedef struct {
    s_fetch_t *f;
    int index;
    unsigned long long sent; /* its number in s_cmd's order */
} s_fetch_part_t;

static void s_fetch_done(s_fetch_t *f)
{
    f->fn(f->arg, f->days, f->degraded);
    cJSON_Delete(f->days);
    free(f);
}

/* Day i from memory alone: what Redis last said plus what it lacks. */
static void s_fill_mem(s_fetch_t *f, int i)
{
    s_day_t *d = s_mem(f->self, f->user, f->day_from - i, 0);
    if (d)
        s_compose(cJSON_GetArrayItem(f->days, i), d->seen, d, true);
}

static void s_on_hgetall(void *arg, redisReply *reply, const char *err)
{
    s_fetch_part_t *p = arg;
    s_fetch_t *f = p->f;
    int i = p->index;
    unsigned long long sent = p->sent;
    free(p);
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        f->degraded = true;
        af_warn("event=usage_fetch_failed user=%s err=\"%s\" fallback=memory", f->user,
                err ? err : "unexpected reply");
        s_fill_mem(f, i);
    } else {
        cJSON *got = cJSON_CreateObject();
        for (size_t k = 0; got && k + 1 < reply->elements; k += 2) {
            redisReply *n = reply->element[k], *v = reply->element[k + 1];
            if (n->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
                cJSON_AddNumberToObject(got, n->str, strtod(v->str, NULL));
        }
        int64_t day = f->day_from - i;
        size_t room = day == f->self->latest ? SEEN_MAX_LATEST : SEEN_MAX_HISTORY;
        s_day_t *d = s_mem(f->self, f->user, day, got && got->child ? room : 0);
        /* A batch in the air sent before this read is in Redis' answer. */
        s_compose(cJSON_GetArrayItem(f->days, i), got, d,
                  d && (!d->in_air || d->flight_sent > sent));
        if (d) {
            cJSON_Delete(d->seen);
            d->seen = got;
            got = NULL;
            s_drop_if_empty(f->self, d);
        }
        cJSON_Delete(got);
    }
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
    f->self = self;
    f->fn = fn;
    f->arg = arg;
    f->days = days;
    snprintf(f->user, sizeof f->user, "%s", user);
    f->day_from = day_from;
    s_new_day(self, day_from);
    for (int i = 0; i < ndays; i++)
        cJSON_AddItemToArray(days, cJSON_CreateObject());
    s_sync(self); /* write-backs go first on the connection: the reads see them */
    if (!s_up(self)) {
        f->degraded = self->has_redis;
        for (int i = 0; i < ndays; i++)
            s_fill_mem(f, i);
        s_fetch_done(f);
        return;
    }
    f->left = 1; /* held until every command is sent */
    for (int i = 0; i < ndays; i++) {
        char key[128];
        s_key(key, sizeof key, user, day_from - i);
        s_fetch_part_t *p = malloc(sizeof *p);
        const char *argv[] = {"HGETALL", key};
        const size_t lens[] = {7, strlen(key)};
        if (p) {
            p->f = f;
            p->index = i;
            f->left++;
            if (s_cmd(self, s_on_hgetall, p, 2, argv, lens) == 0) {
                p->sent = self->nsent;
                continue;
            }
            f->left--;
            free(p);
        }
        f->degraded = true;
        s_fill_mem(f, i);
    }
    if (--f->left == 0)
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
