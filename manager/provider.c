/* Provider dispatch through the ops table. See provider.h. */
#include "provider.h"

#include <stdlib.h>

int af_provider_create(af_provider_t *self, const af_provider_spawn_t *req, char *err,
                       size_t errlen)
{
    return self->ops->create(self->impl, req, err, errlen);
}

int af_provider_destroy_agent(af_provider_t *self, const char *agent_id)
{
    return self->ops->destroy(self->impl, agent_id);
}

int af_provider_list(af_provider_t *self, af_provider_list_fn *fn, void *arg)
{
    return self->ops->list(self->impl, fn, arg);
}

void af_provider_destroy(af_provider_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_provider_t *self = *self_p;
    if (self->ops && self->ops->free)
        self->ops->free(self->impl);
    free(self);
    *self_p = NULL;
}
