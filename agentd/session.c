/* Session table: a chained hash on the id (power-of-two buckets, about two per
 * session at capacity), no preallocation per session. See session.h. */
#include "session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct af_sessions_t {
    af_session_t **buckets;
    size_t nbuckets; /* power of two */
    size_t count, capacity;
    uint64_t ttl_ns;
    double rate;
};

static uint32_t s_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void s_free(af_session_t *s)
{
    for (uint32_t i = 0; i < s->nturns; i++)
        free(s->turns[i]);
    free(s->turns);
    free(s->id);
    free(s->user);
    free(s->system);
    free(s->model);
    free(s);
}

af_sessions_t *af_sessions_new(size_t capacity, double ttl_s, double rate_per_min)
{
    af_sessions_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nbuckets = 16;
    while (self->nbuckets < capacity * 2 && self->nbuckets < (1u << 20))
        self->nbuckets *= 2;
    self->buckets = calloc(self->nbuckets, sizeof(af_session_t *));
    if (!self->buckets) {
        free(self);
        return NULL;
    }
    self->capacity = capacity;
    self->ttl_ns = (uint64_t)(ttl_s * 1e9);
    self->rate = rate_per_min;
    return self;
}

void af_sessions_destroy(af_sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_sessions_t *self = *self_p;
    for (size_t i = 0; i < self->nbuckets; i++)
        for (af_session_t *s = self->buckets[i], *n; s; s = n) {
            n = s->next;
            s_free(s);
        }
    free(self->buckets);
    free(self);
    *self_p = NULL;
}

af_session_t *af_sessions_get(af_sessions_t *self, const char *id)
{
    for (af_session_t *s = self->buckets[s_hash(id) & (self->nbuckets - 1)]; s; s = s->next)
        if (!strcmp(s->id, id))
            return s;
    return NULL;
}

af_session_t *af_sessions_create(af_sessions_t *self, const char *id, const char *user,
                                 uint64_t now_ns, uint64_t wall_ms, bool *full)
{
    *full = false;
    if (self->count >= self->capacity) {
        *full = true;
        return NULL;
    }
    af_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = strdup(id);
    s->user = strdup(user ? user : "");
    if (!s->id || !s->user) {
        s_free(s);
        return NULL;
    }
    s->temperature = NAN;
    s->created_ms = wall_ms;
    s->last_used_ns = now_ns;
    af_bucket_init(&s->bucket, self->rate, self->rate, now_ns);
    af_session_t **head = &self->buckets[s_hash(id) & (self->nbuckets - 1)];
    s->next = *head;
    *head = s;
    self->count++;
    return s;
}

int af_sessions_delete(af_sessions_t *self, const char *id)
{
    for (af_session_t **pp = &self->buckets[s_hash(id) & (self->nbuckets - 1)]; *pp;
         pp = &(*pp)->next)
        if (!strcmp((*pp)->id, id)) {
            af_session_t *s = *pp;
            *pp = s->next;
            s_free(s);
            self->count--;
            return 0;
        }
    return -1;
}

size_t af_sessions_count(const af_sessions_t *self) { return self->count; }
size_t af_sessions_capacity(const af_sessions_t *self) { return self->capacity; }

size_t af_sessions_expire(af_sessions_t *self, uint64_t now_ns)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nbuckets; i++)
        for (af_session_t **pp = &self->buckets[i]; *pp;) {
            af_session_t *s = *pp;
            if (!s->busy && now_ns > s->last_used_ns && now_ns - s->last_used_ns > self->ttl_ns) {
                *pp = s->next;
                s_free(s);
                self->count--;
                n++;
            } else {
                pp = &s->next;
            }
        }
    return n;
}

void af_sessions_each(af_sessions_t *self, void (*fn)(af_session_t *s, void *arg), void *arg)
{
    for (size_t i = 0; i < self->nbuckets; i++)
        for (af_session_t *s = self->buckets[i]; s; s = s->next)
            fn(s, arg);
}

cJSON *af_sessions_ids(af_sessions_t *self)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < self->nbuckets; i++)
        for (af_session_t *s = self->buckets[i]; s; s = s->next)
            cJSON_AddItemToArray(arr, cJSON_CreateString(s->id));
    return arr;
}

bool af_session_admit(af_sessions_t *self, af_session_t *s, uint64_t now_ns,
                      double *retry_after_s)
{
    (void)self;
    s->last_used_ns = now_ns;
    return af_bucket_take(&s->bucket, 1, now_ns, retry_after_s);
}

int af_session_set_str(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

int af_session_add_turn(af_session_t *s, const char *user, const char *assistant)
{
    if (s->nturns + 2 > s->turns_cap) {
        uint32_t cap = s->turns_cap ? s->turns_cap * 2 : 4;
        char **t = realloc(s->turns, cap * sizeof *t);
        if (!t)
            return -1;
        s->turns = t;
        s->turns_cap = cap;
    }
    char *u = strdup(user), *a = strdup(assistant);
    if (!u || !a) {
        free(u);
        free(a);
        return -1;
    }
    s->turns[s->nturns++] = u;
    s->turns[s->nturns++] = a;
    return 0;
}

static cJSON *s_turn(const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    return m;
}

cJSON *af_session_messages(const af_session_t *s, const char *next_user)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (uint32_t i = 0; i < s->nturns; i++)
        cJSON_AddItemToArray(arr, s_turn(i % 2 ? "assistant" : "user", s->turns[i]));
    if (next_user)
        cJSON_AddItemToArray(arr, s_turn("user", next_user));
    return arr;
}
