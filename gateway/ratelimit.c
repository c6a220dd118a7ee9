/* Bounded bucket table. See ratelimit.h.
 * A chained hash table for lookup plus an intrusive LRU list (head = most
 * recent). Entries are preallocated in one array so the bound is hard. */
#include "ratelimit.h"

#include "bucket.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_entry_t {
    char key[AF_RATELIMIT_KEY_MAX];
    af_bucket_t bucket;
    uint32_t hash;
    struct s_entry_t *chain;            /* next in hash slot */
    struct s_entry_t *prev, *next;      /* LRU list */
    bool used;
} s_entry_t;

struct af_ratelimit_t {
    double per_minute, burst;
    size_t max, size;
    s_entry_t *pool;
    s_entry_t *free_list;               /* via chain */
    s_entry_t **slots;
    size_t nslots;                      /* power of two */
    s_entry_t *head, *tail;
    uint64_t evictions;
    uint64_t refill_ns;                 /* idle time after which a bucket is full again */
};

static uint32_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

af_ratelimit_t *af_ratelimit_new(double per_minute, double burst, size_t max_entries)
{
    af_ratelimit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->per_minute = per_minute;
    self->burst = burst > 0 ? burst : per_minute;
    self->max = max_entries ? max_entries : 1;
    if (per_minute > 0) {
        self->nslots = 16;
        while (self->nslots < self->max)
            self->nslots <<= 1;
        self->pool = calloc(self->max, sizeof *self->pool);
        self->slots = calloc(self->nslots, sizeof(s_entry_t *));
        if (!self->pool || !self->slots) {
            af_ratelimit_destroy(&self);
            return NULL;
        }
        for (size_t i = 0; i < self->max; i++) {
            self->pool[i].chain = self->free_list;
            self->free_list = &self->pool[i];
        }
        self->refill_ns = (uint64_t)(self->burst / (per_minute / 60.0) * 1e9);
    }
    return self;
}

void af_ratelimit_destroy(af_ratelimit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->pool);
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static void s_lru_unlink(af_ratelimit_t *self, s_entry_t *e)
{
    if (e->prev) e->prev->next = e->next; else self->head = e->next;
    if (e->next) e->next->prev = e->prev; else self->tail = e->prev;
    e->prev = e->next = NULL;
}

static void s_lru_push(af_ratelimit_t *self, s_entry_t *e)
{
    e->prev = NULL;
    e->next = self->head;
    if (self->head) self->head->prev = e;
    self->head = e;
    if (!self->tail) self->tail = e;
}

static void s_remove(af_ratelimit_t *self, s_entry_t *e)
{
    s_entry_t **pp = &self->slots[e->hash & (self->nslots - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = e->chain;
    s_lru_unlink(self, e);
    e->used = false;
    e->chain = self->free_list;
    self->free_list = e;
    self->size--;
}

bool af_ratelimit_take(af_ratelimit_t *self, const char *key, uint64_t now_ns,
                       double *retry_after_s)
{
    if (self->per_minute <= 0)
        return true;
    /* Expire a couple of refilled buckets per call: forgetting them changes
     * nothing (a new bucket starts full) and keeps the table small. */
    for (int i = 0; i < 2 && self->tail; i++) {
        s_entry_t *t = self->tail;
        if (now_ns > t->bucket.last_ns && now_ns - t->bucket.last_ns >= self->refill_ns)
            s_remove(self, t);
        else
            break;
    }
    char k[AF_RATELIMIT_KEY_MAX];
    size_t kl = strlen(key);
    if (kl >= sizeof k)
        kl = sizeof k - 1;
    memcpy(k, key, kl);
    k[kl] = 0;
    uint32_t h = s_hash(k);
    s_entry_t *e = self->slots[h & (self->nslots - 1)];
    while (e && !(e->hash == h && !strcmp(e->key, k)))
        e = e->chain;
    if (e) {
        s_lru_unlink(self, e);
    } else {
        if (!self->free_list && self->tail) {
            s_remove(self, self->tail);
            self->evictions++;
        }
        e = self->free_list;
        if (!e)
            return true; /* cannot happen: max >= 1 */
        self->free_list = e->chain;
        memcpy(e->key, k, kl + 1);
        e->hash = h;
        e->used = true;
        af_bucket_init(&e->bucket, self->per_minute, self->burst, now_ns);
        e->chain = self->slots[h & (self->nslots - 1)];
        self->slots[h & (self->nslots - 1)] = e;
        self->size++;
    }
    s_lru_push(self, e);
    return af_bucket_take(&e->bucket, 1, now_ns, retry_after_s);
}

size_t af_ratelimit_size(const af_ratelimit_t *self) { return self->size; }
uint64_t af_ratelimit_evictions(const af_ratelimit_t *self) { return self->evictions; }
