/* In-memory route store: a chained hash table plus an insertion-ordered list so
 * the oldest route goes first when the bound is reached. See route_store.h. */
#include "route_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_route_t {
    char session_id[64];
    char agent_id[64];
    char user[64];
    uint32_t hash;
    struct s_route_t *chain, *older, *newer;
} s_route_t;

typedef struct {
    s_route_t **slots;
    size_t nslots, count, max;
    s_route_t *oldest, *newest;
} s_mem_t;

static uint32_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static s_route_t *s_find(s_mem_t *m, const char *sid, s_route_t ***pp_out)
{
    uint32_t h = s_hash(sid);
    s_route_t **pp = &m->slots[h & (m->nslots - 1)];
    while (*pp && !((*pp)->hash == h && !strcmp((*pp)->session_id, sid)))
        pp = &(*pp)->chain;
    if (pp_out)
        *pp_out = pp;
    return *pp;
}

static void s_unlink(s_mem_t *m, s_route_t *r)
{
    s_route_t **pp;
    s_find(m, r->session_id, &pp);
    if (*pp == r)
        *pp = r->chain;
    if (r->older) r->older->newer = r->newer; else m->oldest = r->newer;
    if (r->newer) r->newer->older = r->older; else m->newest = r->older;
    m->count--;
    free(r);
}

static void s_get(void *impl, const char *sid, af_route_store_fn *cb, void *arg)
{
    s_route_t *r = s_find(impl, sid, NULL);
    cb(r != NULL, r ? r->agent_id : NULL, r ? r->user : NULL, arg);
}

static void s_copy(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n > 63)
        n = 63;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int s_put(void *impl, const char *sid, const char *agent_id, const char *user)
{
    s_mem_t *m = impl;
    s_route_t *r = s_find(m, sid, NULL);
    if (r) {
        s_copy(r->agent_id, agent_id);
        s_copy(r->user, user);
        return 0;
    }
    if (m->count >= m->max && m->oldest)
        s_unlink(m, m->oldest);
    r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    s_copy(r->session_id, sid);
    s_copy(r->agent_id, agent_id);
    s_copy(r->user, user);
    r->hash = s_hash(r->session_id);
    s_route_t **slot = &m->slots[r->hash & (m->nslots - 1)];
    r->chain = *slot;
    *slot = r;
    r->older = m->newest;
    if (m->newest) m->newest->newer = r; else m->oldest = r;
    m->newest = r;
    m->count++;
    return 0;
}

static int s_del(void *impl, const char *sid)
{
    s_route_t *r = s_find(impl, sid, NULL);
    if (!r)
        return -1;
    s_unlink(impl, r);
    return 0;
}

static size_t s_count(void *impl) { return ((s_mem_t *)impl)->count; }

static void s_destroy(void *impl)
{
    s_mem_t *m = impl;
    for (s_route_t *r = m->oldest, *next; r; r = next) {
        next = r->newer;
        free(r);
    }
    free(m->slots);
    free(m);
}

static const af_route_store_ops_t s_ops = {s_get, s_put, s_del, s_count, s_destroy, NULL};

af_route_store_t *af_route_store_new_memory(size_t max_routes)
{
    s_mem_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->max = max_routes ? max_routes : 1;
    m->nslots = 1024;
    while (m->nslots < m->max && m->nslots < (1u << 20))
        m->nslots <<= 1;
    m->slots = calloc(m->nslots, sizeof(s_route_t *));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return af_route_store_new(&s_ops, m);
}
