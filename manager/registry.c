/* Agent registry and lifecycle table. See registry.h. */
#include "registry.h"

#include "util.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct af_registry_t {
    zhashx_t *index;      /* id -> af_agent_t* (not owning) */
    af_agent_t *first, *last;
    size_t count[AF_AGENT_STATE_COUNT];
};

static const char *s_state_names[AF_AGENT_STATE_COUNT] = {"spawning", "ready", "draining",
                                                           "dead"};

/* The lifecycle. Rows: current state; columns: event; -1: not allowed.
 * A draining agent that re-registers stays draining (it still finishes work);
 * a dead agent never comes back under the same id. */
#define X (-1)
static const int s_table[AF_AGENT_STATE_COUNT][AF_AGENT_EV_COUNT] = {
    /*               REGISTER           DRAIN              EXPIRE         BYE            DESTROY */
    /* spawning */ {AF_AGENT_READY,    AF_AGENT_DRAINING, AF_AGENT_DEAD, AF_AGENT_DEAD, AF_AGENT_DEAD},
    /* ready    */ {AF_AGENT_READY,    AF_AGENT_DRAINING, AF_AGENT_DEAD, AF_AGENT_DEAD, AF_AGENT_DEAD},
    /* draining */ {AF_AGENT_DRAINING, AF_AGENT_DRAINING, AF_AGENT_DEAD, AF_AGENT_DEAD, AF_AGENT_DEAD},
    /* dead     */ {X,                 X,                 X,             X,             X},
};
#undef X

const char *af_agent_state_name(af_agent_state_t state)
{
    return (state >= 0 && state < AF_AGENT_STATE_COUNT) ? s_state_names[state] : "unknown";
}

int af_agent_state_parse(const char *name, af_agent_state_t *out)
{
    for (int i = 0; name && i < AF_AGENT_STATE_COUNT; i++)
        if (!strcmp(name, s_state_names[i])) {
            *out = (af_agent_state_t)i;
            return 0;
        }
    return -1;
}

int af_agent_next_state(af_agent_state_t state, af_agent_event_t event)
{
    if (state < 0 || state >= AF_AGENT_STATE_COUNT || event < 0 || event >= AF_AGENT_EV_COUNT)
        return -1;
    return s_table[state][event];
}

af_registry_t *af_registry_new(void)
{
    af_registry_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->index = zhashx_new();
    if (!self->index) {
        free(self);
        return NULL;
    }
    return self;
}

void af_registry_destroy(af_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_registry_t *self = *self_p;
    af_agent_t *a = self->first;
    while (a) {
        af_agent_t *n = a->next;
        free(a);
        a = n;
    }
    zhashx_destroy(&self->index);
    free(self);
    *self_p = NULL;
}

af_agent_t *af_registry_add(af_registry_t *self, const char *id, const char *owner,
                            const af_spec_t *spec, af_agent_state_t state, int capacity,
                            uint64_t now_ns)
{
    if (!af_id_valid(id, AF_AGENT_ID_MAX - 1) || !owner || !*owner ||
        strlen(owner) >= AF_OWNER_MAX || state == AF_AGENT_DEAD || zhashx_lookup(self->index, id))
        return NULL;
    af_agent_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->owner, sizeof a->owner, "%s", owner);
    a->spec = *spec;
    a->state = state;
    a->capacity = capacity;
    a->created_ms = af_wall_ms();
    a->last_seen_ns = now_ns;
    if (zhashx_insert(self->index, a->id, a) < 0) {
        free(a);
        return NULL;
    }
    a->prev = self->last;
    if (self->last)
        self->last->next = a;
    else
        self->first = a;
    self->last = a;
    self->count[state]++;
    return a;
}

af_agent_t *af_registry_get(af_registry_t *self, const char *id)
{
    return id ? zhashx_lookup(self->index, id) : NULL;
}

void af_registry_remove(af_registry_t *self, af_agent_t *a)
{
    if (!a)
        return;
    zhashx_delete(self->index, a->id);
    if (a->prev)
        a->prev->next = a->next;
    else
        self->first = a->next;
    if (a->next)
        a->next->prev = a->prev;
    else
        self->last = a->prev;
    self->count[a->state]--;
    free(a);
}

int af_registry_apply(af_registry_t *self, af_agent_t *a, af_agent_event_t event, uint64_t now_ns)
{
    int next = af_agent_next_state(a->state, event);
    if (next < 0)
        return -1;
    self->count[a->state]--;
    self->count[next]++;
    a->state = (af_agent_state_t)next;
    if (next == AF_AGENT_DEAD)
        a->dead_ns = now_ns;
    return 0;
}

af_agent_t *af_registry_first(af_registry_t *self) { return self->first; }
af_agent_t *af_registry_next(af_agent_t *agent) { return agent ? agent->next : NULL; }
size_t af_registry_size(const af_registry_t *self) { return zhashx_size(self->index); }

size_t af_registry_count(const af_registry_t *self, af_agent_state_t state)
{
    return (state >= 0 && state < AF_AGENT_STATE_COUNT) ? self->count[state] : 0;
}

size_t af_registry_count_owner(const af_registry_t *self, const char *owner)
{
    size_t n = 0;
    for (const af_agent_t *a = self->first; a; a = a->next)
        if (a->state != AF_AGENT_DEAD && !strcmp(a->owner, owner))
            n++;
    return n;
}

long af_registry_sessions(const af_registry_t *self)
{
    long n = 0;
    for (const af_agent_t *a = self->first; a; a = a->next)
        if (a->state == AF_AGENT_READY || a->state == AF_AGENT_DRAINING)
            n += a->sessions;
    return n;
}

long af_registry_capacity(const af_registry_t *self)
{
    long n = 0;
    for (const af_agent_t *a = self->first; a; a = a->next)
        if (a->state == AF_AGENT_READY)
            n += a->capacity;
    return n;
}
