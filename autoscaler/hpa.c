/* Kubernetes-HPA-style baseline. See hpa.h. Follows the documented algorithm of
 * the HorizontalPodAutoscaler (ratio, tolerance, downscale stabilisation); no
 * code from it. */
#include "hpa.h"

#include <math.h>
#include <stdlib.h>

#define S_WINDOW 1024 /* recommendations kept; 300 s at 1 s steps fits */

struct af_hpa_t {
    af_hpa_config_t cfg;
    double t[S_WINDOW];
    long rec[S_WINDOW];
    int head, count;
};

void af_hpa_config_defaults(af_hpa_config_t *cfg)
{
    cfg->target = 0.8;
    cfg->tolerance = 0.1;
    cfg->stabilization_s = 300;
    cfg->min_agents = 10;
    cfg->max_agents = 1000;
    cfg->sessions_per_agent = 100;
}

af_hpa_t *af_hpa_new(const af_hpa_config_t *cfg)
{
    if (!(cfg->target > 0) || !(cfg->tolerance >= 0) || !(cfg->stabilization_s >= 0) ||
        cfg->sessions_per_agent < 1 || cfg->max_agents < cfg->min_agents || cfg->max_agents < 1)
        return NULL;
    af_hpa_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    return self;
}

void af_hpa_destroy(af_hpa_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static long s_clamp(const af_hpa_config_t *c, long v)
{
    if (v < c->min_agents)
        v = c->min_agents;
    if (v > c->max_agents)
        v = c->max_agents;
    return v;
}

long af_hpa_decide(af_hpa_t *self, double now_s, long current, double sessions)
{
    const af_hpa_config_t *c = &self->cfg;
    long desired = current;
    if (current <= 0) {
        desired = (long)ceil(sessions / (double)c->sessions_per_agent / c->target);
    } else {
        double util = sessions / ((double)current * (double)c->sessions_per_agent);
        double ratio = util / c->target;
        if (fabs(ratio - 1.0) > c->tolerance)
            desired = (long)ceil((double)current * ratio - 1e-9);
    }
    desired = s_clamp(c, desired);

    /* Window of recent recommendations; drop the expired ones. */
    while (self->count > 0) {
        int oldest = (self->head - self->count + S_WINDOW) % S_WINDOW;
        if (now_s - self->t[oldest] <= c->stabilization_s && self->count < S_WINDOW)
            break;
        self->count--;
    }
    self->t[self->head] = now_s;
    self->rec[self->head] = desired;
    self->head = (self->head + 1) % S_WINDOW;
    self->count++;

    if (desired >= current)
        return desired;
    long best = desired;
    for (int i = 0; i < self->count; i++) {
        int k = (self->head - 1 - i + S_WINDOW) % S_WINDOW;
        if (self->rec[k] > best)
            best = self->rec[k];
    }
    return best < current ? best : current;
}
