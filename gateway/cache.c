/* Response cache. See cache.h. */
#include "cache.h"

#include "log.h"

#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define KEY_PREFIX "af:cache:"

/* ---- canonical key ------------------------------------------------------ */

/* Content as text blocks: a string and one text block mean the same. */
static cJSON *s_blocks(const cJSON *c)
{
    cJSON *out = cJSON_CreateArray();
    if (cJSON_IsString(c)) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "text");
        cJSON_AddStringToObject(b, "text", c->valuestring);
        cJSON_AddItemToArray(out, b);
        return out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, c)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(it, "text");
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", cJSON_IsString(type) ? type->valuestring : "");
        cJSON_AddStringToObject(b, "text", cJSON_IsString(text) ? text->valuestring : "");
        cJSON_AddItemToArray(out, b);
    }
    return out;
}

char *af_cache_canonical(const cJSON *chat, const char *route, const char *user)
{
    cJSON *k = cJSON_CreateObject();
    if (!k)
        return NULL;
    cJSON_AddStringToObject(k, "route", route ? route : "");
    cJSON_AddStringToObject(k, "scope", user ? user : "*shared*");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(chat, "model");
    cJSON_AddStringToObject(k, "model", cJSON_IsString(model) ? model->valuestring : "");
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(chat, "system");
    if (cJSON_IsString(sys) && sys->valuestring[0])
        cJSON_AddStringToObject(k, "system", sys->valuestring);
    else
        cJSON_AddNullToObject(k, "system");
    cJSON *msgs = cJSON_AddArrayToObject(k, "messages");
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(chat, "messages"))
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "role", cJSON_IsString(role) ? role->valuestring : "");
        cJSON_AddItemToObject(o, "content", s_blocks(cJSON_GetObjectItemCaseSensitive(m, "content")));
        cJSON_AddItemToArray(msgs, o);
    }
    /* A chat turn (`message`) is canonicalised as one user message. */
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(chat, "message");
    if (cJSON_IsString(one)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "role", "user");
        cJSON_AddItemToObject(o, "content", s_blocks(one));
        cJSON_AddItemToArray(msgs, o);
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(chat, "max_tokens");
    cJSON_AddNumberToObject(k, "max_tokens", cJSON_IsNumber(mt) ? mt->valuedouble : 0);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(chat, "temperature");
    cJSON_AddNumberToObject(k, "temperature", cJSON_IsNumber(t) ? t->valuedouble : 1.0);
    char *text = cJSON_PrintUnformatted(k);
    cJSON_Delete(k);
    return text;
}

int af_cache_key(const cJSON *chat, const char *route, const char *user, char hex[65])
{
    char *text = af_cache_canonical(chat, route, user);
    if (!text)
        return -1;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), md);
    free(text);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + (size_t)2 * i, 3, "%02x", md[i]);
    return 0;
}

bool af_cache_cacheable(const cJSON *chat, bool any_temperature)
{
    if (any_temperature)
        return true;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(chat, "temperature");
    return cJSON_IsNumber(t) && t->valuedouble == 0.0;
}

/* ---- store -------------------------------------------------------------- */

/* Redis side of the size accounting, one writer per entry at a time (each
 * script is atomic): INDEX is a ZSET hex -> expiry (ms, Redis' clock), SIZES a
 * hash hex -> bytes, TOTAL their sum. */
#define INDEX_KEY "af:cache_index"
#define SIZES_KEY "af:cache_sizes"
#define TOTAL_KEY "af:cache_bytes"
#define SWEEP_MAX 1000           /* entries per sweep; a full sweep is followed by another */
#define SWEEP_PERIOD_MS 10000

/* KEYS: entry, index, sizes, total. ARGV: hex, value, ttl_s. An overwrite
 * replaces the old size. Returns the new total. */
static const char s_store_lua[] =
    "local old = tonumber(redis.call('HGET', KEYS[3], ARGV[1])) or 0\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local exp = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3]) * 1000\n"
    "redis.call('ZADD', KEYS[2], exp, ARGV[1])\n"
    "redis.call('HSET', KEYS[3], ARGV[1], #ARGV[2])\n"
    "return redis.call('INCRBY', KEYS[4], #ARGV[2] - old)\n";

/* KEYS: index, sizes, total. ARGV: max entries. Drops entries whose expiry
 * passed from the index and sizes and subtracts them. Returns {total, n}. */
static const char s_sweep_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))\n"
    "local sub = 0\n"
    "for _, k in ipairs(gone) do\n"
    "  sub = sub + (tonumber(redis.call('HGET', KEYS[2], k)) or 0)\n"
    "  redis.call('HDEL', KEYS[2], k)\n"
    "  redis.call('ZREM', KEYS[1], k)\n"
    "end\n"
    "local total = tonumber(redis.call('GET', KEYS[3])) or 0\n"
    "if sub > 0 or total < 0 then\n"
    "  total = total - sub\n"
    "  if total < 0 then total = 0 end\n"
    "  redis.call('SET', KEYS[3], total)\n"
    "end\n"
    "return {total, #gone}\n";

typedef struct s_entry {
    struct s_entry *chain;             /* hash slot */
    struct s_entry *older, *newer;     /* LRU list */
    struct s_entry *next_exp, *prev_exp; /* by expiry (= by store: one TTL for all) */
    char key[65];
    uint64_t expires_ms;
    size_t len;
    char *value;
} s_entry_t;

struct af_cache_t {
    af_redis_t *redis;
    size_t max_bytes, bytes, count;
    double redis_bytes;                /* TOTAL as the last script reply said */
    long ttl_s;
    uint64_t sweep_period_ms, next_sweep_ms;
    bool sweeping, sweep_again, was_up;
    s_entry_t *slots[SLOTS];
    s_entry_t *oldest, *newest;        /* LRU ends */
    s_entry_t *first_exp, *last_exp;   /* expiry order */
};

af_cache_t *af_cache_new(af_redis_t *redis, size_t memory_max_bytes, long ttl_s)
{
    af_cache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->max_bytes = memory_max_bytes;
    self->ttl_s = ttl_s > 0 ? ttl_s : 3600;
    /* A short TTL is swept as often, so the size follows it closely. */
    self->sweep_period_ms = (uint64_t)self->ttl_s * 1000 < SWEEP_PERIOD_MS
                                ? (uint64_t)self->ttl_s * 1000
                                : SWEEP_PERIOD_MS;
    return self;
}

static unsigned s_slot(const char *key)
{
    unsigned h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % SLOTS;
}

static void s_unlink(af_cache_t *self, s_entry_t *e)
{
    s_entry_t **pp = &self->slots[s_slot(e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        self->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        self->newest = e->older;
    if (e->prev_exp)
        e->prev_exp->next_exp = e->next_exp;
    else
        self->first_exp = e->next_exp;
    if (e->next_exp)
        e->next_exp->prev_exp = e->prev_exp;
    else
        self->last_exp = e->prev_exp;
    self->bytes -= e->len;
    self->count--;
    free(e->value);
    free(e);
}

void af_cache_destroy(af_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_cache_t *self = *self_p;
    while (self->oldest)
        s_unlink(self, self->oldest);
    free(self);
    *self_p = NULL;
}

static s_entry_t *s_find(af_cache_t *self, const char *key)
{
    for (s_entry_t *e = self->slots[s_slot(key)]; e; e = e->chain)
        if (!strcmp(e->key, key))
            return e;
    return NULL;
}

typedef struct {
    af_cache_fn *fn;
    void *arg;
} s_get_t;

static void s_on_redis_get(void *arg, redisReply *reply, const char *err)
{
    s_get_t *g = arg;
    if (reply && reply->type == REDIS_REPLY_STRING)
        g->fn(g->arg, reply->str, reply->len);
    else {
        if (err)
            af_debug("event=cache_get_failed err=\"%s\"", err);
        g->fn(g->arg, NULL, 0);
    }
    free(g);
}

static bool s_redis(const af_cache_t *self) { return self->redis && af_redis_up(self->redis); }

void af_cache_get(af_cache_t *self, const char *key, uint64_t now_ms, af_cache_fn *fn, void *arg)
{
    if (s_redis(self)) {
        s_get_t *g = malloc(sizeof *g);
        if (g) {
            g->fn = fn;
            g->arg = arg;
            if (af_redis_cmd(self->redis, s_on_redis_get, g, "GET " KEY_PREFIX "%s", key) == 0)
                return;
            free(g);
        }
    }
    s_entry_t *e = s_find(self, key);
    if (e && e->expires_ms <= now_ms) {
        s_unlink(self, e);
        e = NULL;
    }
    if (!e) {
        fn(arg, NULL, 0);
        return;
    }
    /* Most recently used goes to the new end. */
    if (e != self->newest) {
        if (e->older)
            e->older->newer = e->newer;
        else
            self->oldest = e->newer;
        e->newer->older = e->older;
        e->older = self->newest;
        e->newer = NULL;
        self->newest->newer = e;
        self->newest = e;
    }
    fn(arg, e->value, e->len);
}

/* A store or sweep reply: the shared total as Redis now has it. */
static void s_on_total(void *arg, redisReply *reply, const char *err)
{
    af_cache_t *self = arg;
    if (!reply) {
        af_debug("event=cache_size_failed err=\"%s\"", err ? err : "?");
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER)
        self->redis_bytes = reply->integer > 0 ? (double)reply->integer : 0;
    else if (reply->type == REDIS_REPLY_STRING)
        self->redis_bytes = reply->len ? fmax(strtod(reply->str, NULL), 0) : 0;
    else if (reply->type == REDIS_REPLY_NIL)
        self->redis_bytes = 0;
}

static void s_on_sweep(void *arg, redisReply *reply, const char *err)
{
    af_cache_t *self = arg;
    self->sweeping = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        af_warn("event=cache_sweep_failed err=\"%s\"", err ? err : "unexpected reply");
        return;
    }
    self->redis_bytes = reply->element[0]->integer > 0 ? (double)reply->element[0]->integer : 0;
    self->sweep_again = reply->element[1]->integer >= SWEEP_MAX;
    if (reply->element[1]->integer > 0)
        af_debug("event=cache_swept entries=%lld bytes=%.0f", reply->element[1]->integer,
                 self->redis_bytes);
}

void af_cache_put(af_cache_t *self, const char *key, const char *value, size_t len,
                  uint64_t now_ms)
{
    if (s_redis(self)) {
        char ttl[24];
        snprintf(ttl, sizeof ttl, "%ld", self->ttl_s);
        char k[80];
        snprintf(k, sizeof k, KEY_PREFIX "%s", key);
        const char *argv[] = {"EVAL",    s_store_lua, "4", k, INDEX_KEY, SIZES_KEY,
                              TOTAL_KEY, key,         value, ttl};
        const size_t lens[] = {4,
                               sizeof s_store_lua - 1,
                               1,
                               strlen(k),
                               sizeof INDEX_KEY - 1,
                               sizeof SIZES_KEY - 1,
                               sizeof TOTAL_KEY - 1,
                               strlen(key),
                               len,
                               strlen(ttl)};
        if (af_redis_cmdargv(self->redis, s_on_total, self, 10, argv, lens) == 0)
            return;
    }
    if (len > self->max_bytes)
        return;
    s_entry_t *old = s_find(self, key);
    if (old)
        s_unlink(self, old);
    /* s_unlink keeps oldest/newest in step with the list; the analyzer
     * cannot follow that through the hash chain. */
    while (self->oldest && self->bytes + len > self->max_bytes)
        s_unlink(self, self->oldest); // NOLINT(clang-analyzer-unix.Malloc)
    s_entry_t *e = calloc(1, sizeof *e);
    char *v = malloc(len + 1);
    if (!e || !v) {
        free(e);
        free(v);
        return;
    }
    memcpy(v, value, len);
    v[len] = 0;
    snprintf(e->key, sizeof e->key, "%s", key);
    e->value = v;
    e->len = len;
    e->expires_ms = now_ms + (uint64_t)self->ttl_s * 1000;
    unsigned slot = s_slot(key);
    e->chain = self->slots[slot];
    self->slots[slot] = e;
    e->older = self->newest;
    if (self->newest)
        self->newest->newer = e;
    else
        self->oldest = e;
    self->newest = e;
    /* One TTL for all: the newest expires last (a wall clock stepping back
     * only delays an entry's sweep until those before it expire). */
    e->prev_exp = self->last_exp;
    if (self->last_exp)
        self->last_exp->next_exp = e;
    else
        self->first_exp = e;
    self->last_exp = e;
    self->bytes += len;
    self->count++;
}

void af_cache_tick(af_cache_t *self, uint64_t now_ms)
{
    /* As in af_cache_put: s_unlink keeps first_exp in step with the list. */
    while (self->first_exp && self->first_exp->expires_ms <= now_ms) // NOLINT(clang-analyzer-unix.Malloc)
        s_unlink(self, self->first_exp);
    bool up = s_redis(self);
    if (up && !self->was_up)
        self->sweep_again = true; /* the total may have moved meanwhile */
    self->was_up = up;
    if (!up || self->sweeping)
        return;
    if (now_ms < self->next_sweep_ms && !self->sweep_again) {
        /* Other gateways store too: read the shared total between sweeps. */
        af_redis_cmd(self->redis, s_on_total, self, "GET " TOTAL_KEY);
        return;
    }
    char max[16];
    snprintf(max, sizeof max, "%d", SWEEP_MAX);
    const char *argv[] = {"EVAL", s_sweep_lua, "3", INDEX_KEY, SIZES_KEY, TOTAL_KEY, max};
    const size_t lens[] = {4, sizeof s_sweep_lua - 1, 1, sizeof INDEX_KEY - 1,
                           sizeof SIZES_KEY - 1, sizeof TOTAL_KEY - 1, strlen(max)};
    self->next_sweep_ms = now_ms + self->sweep_period_ms;
    self->sweep_again = false;
    if (af_redis_cmdargv(self->redis, s_on_sweep, self, 7, argv, lens) == 0)
        self->sweeping = true;
}

double af_cache_bytes(const af_cache_t *self)
{
    return (double)self->bytes + (s_redis(self) ? self->redis_bytes : 0);
}
size_t af_cache_count(const af_cache_t *self) { return self->count; }
