/* Response cache. See cache.h. */
#include "cache.h"

#include "log.h"

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

typedef struct s_entry {
    struct s_entry *chain;             /* hash slot */
    struct s_entry *older, *newer;     /* LRU list */
    char key[65];
    uint64_t expires_ms;
    size_t len;
    char *value;
} s_entry_t;

struct af_cache_t {
    af_redis_t *redis;
    size_t max_bytes, bytes, count;
    double redis_bytes;
    long ttl_s;
    s_entry_t *slots[SLOTS];
    s_entry_t *oldest, *newest;
};

af_cache_t *af_cache_new(af_redis_t *redis, size_t memory_max_bytes, long ttl_s)
{
    af_cache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->max_bytes = memory_max_bytes;
    self->ttl_s = ttl_s > 0 ? ttl_s : 3600;
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

void af_cache_get(af_cache_t *self, const char *key, uint64_t now_ms, af_cache_fn *fn, void *arg)
{
    if (self->redis && af_redis_up(self->redis)) {
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

void af_cache_put(af_cache_t *self, const char *key, const char *value, size_t len,
                  uint64_t now_ms)
{
    if (self->redis && af_redis_up(self->redis)) {
        char ttl[24];
        snprintf(ttl, sizeof ttl, "%ld", self->ttl_s);
        char k[80];
        snprintf(k, sizeof k, KEY_PREFIX "%s", key);
        const char *argv[] = {"SET", k, value, "EX", ttl};
        const size_t lens[] = {3, strlen(k), len, 2, strlen(ttl)};
        if (af_redis_cmdargv(self->redis, NULL, NULL, 5, argv, lens) == 0) {
            self->redis_bytes += (double)len;
            return;
        }
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
    self->bytes += len;
    self->count++;
}

double af_cache_bytes(const af_cache_t *self) { return (double)self->bytes + self->redis_bytes; }
size_t af_cache_count(const af_cache_t *self) { return self->count; }
