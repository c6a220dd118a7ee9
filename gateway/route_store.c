/* Route store interface. See route_store.h. */
#include "route_store.h"

#include <stdlib.h>

struct af_route_store_t {
    const af_route_store_ops_t *ops;
    void *impl;
};

af_route_store_t *af_route_store_new(const af_route_store_ops_t *ops, void *impl)
{
    af_route_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        if (ops && impl)
            ops->destroy(impl);
        return NULL;
    }
    self->ops = ops;
    self->impl = impl;
    return self;
}

void af_route_store_destroy(af_route_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    (*self_p)->ops->destroy((*self_p)->impl);
    free(*self_p);
    *self_p = NULL;
}

void af_route_store_get(af_route_store_t *self, const char *session_id, af_route_store_fn *cb,
                        void *arg)
{
    self->ops->get(self->impl, session_id, cb, arg);
}

int af_route_store_put(af_route_store_t *self, const char *session_id, const char *agent_id,
                       const char *user)
{
    return self->ops->put(self->impl, session_id, agent_id, user);
}

int af_route_store_del(af_route_store_t *self, const char *session_id)
{
    return self->ops->del(self->impl, session_id);
}

size_t af_route_store_count(af_route_store_t *self) { return self->ops->count(self->impl); }

void af_route_store_cancel(af_route_store_t *self, void *arg)
{
    if (self && self->ops->cancel)
        self->ops->cancel(self->impl, arg);
}
