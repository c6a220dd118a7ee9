/* Stateless placement cache. See pool_cache.h. */
#include "pool_cache.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char id[64];
    uint64_t added_ns;
} s_entry_t;

struct af_pool_cache_t {
    s_entry_t *e;
    size_t n, max, rr;
    uint64_t ttl_ns, refresh_ns, last_place_ns;
    bool placed_once;
};

af_pool_cache_t *af_pool_cache_new(size_t max_agents, uint64_t ttl_ns, uint64_t refresh_ns)
{
    af_pool_cache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max_agents ? max_agents : 1;
    self->e = calloc(self->max, sizeof *self->e);
    if (!self->e) {
        free(self);
        return NULL;
    }
    self->ttl_ns = ttl_ns;
    self->refresh_ns = refresh_ns;
    return self;
}

void af_pool_cache_destroy(af_pool_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->e);
    free(*self_p);
    *self_p = NULL;
}

static void s_remove(af_pool_cache_t *self, size_t i)
{
    self->e[i] = self->e[--self->n];
}

static void s_expire(af_pool_cache_t *self, uint64_t now)
{
    for (size_t i = 0; i < self->n;)
        if (now - self->e[i].added_ns > self->ttl_ns)
            s_remove(self, i);
        else
            i++;
}

bool af_pool_cache_any(af_pool_cache_t *self, uint64_t now_ns, char *out)
{
    s_expire(self, now_ns);
    if (!self->n)
        return false;
    memcpy(out, self->e[self->rr++ % self->n].id, 64);
    return true;
}

bool af_pool_cache_pick(af_pool_cache_t *self, uint64_t now_ns, char *out)
{
    s_expire(self, now_ns);
    if (!self->n || !self->placed_once || now_ns - self->last_place_ns >= self->refresh_ns) {
        self->placed_once = true;
        self->last_place_ns = now_ns;
        return false;
    }
    return af_pool_cache_any(self, now_ns, out);
}

void af_pool_cache_add(af_pool_cache_t *self, const char *agent_id, uint64_t now_ns)
{
    for (size_t i = 0; i < self->n; i++)
        if (!strcmp(self->e[i].id, agent_id)) {
            self->e[i].added_ns = now_ns;
            return;
        }
    size_t slot = self->n < self->max ? self->n++ : 0;
    if (slot == 0 && self->n == self->max) {
        /* Full: replace the oldest. */
        for (size_t i = 1; i < self->n; i++)
            if (self->e[i].added_ns < self->e[slot].added_ns)
                slot = i;
    }
    size_t len = strlen(agent_id);
    if (len > 63)
        len = 63;
    memcpy(self->e[slot].id, agent_id, len);
    self->e[slot].id[len] = 0;
    self->e[slot].added_ns = now_ns;
}

void af_pool_cache_drop(af_pool_cache_t *self, const char *agent_id)
{
    for (size_t i = 0; i < self->n; i++)
        if (!strcmp(self->e[i].id, agent_id)) {
            s_remove(self, i);
            return;
        }
}

size_t af_pool_cache_size(const af_pool_cache_t *self) { return self->n; }
