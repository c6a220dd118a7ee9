/* Holt's linear trend and the demand predictor. See forecast.h.
 *
 * Samples come every evaluation interval but may be late or skipped (a STATS
 * timeout), so the trend is kept per second and the level is advanced by the
 * real gap between samples. */
#include "forecast.h"

#include <math.h>
#include <stdlib.h>

struct af_holt_t {
    double alpha, beta;
    double level, trend; /* trend in units per second */
    double last_t;
    int n;
};

af_holt_t *af_holt_new(double alpha, double beta)
{
    if (!(alpha > 0 && alpha <= 1) || !(beta > 0 && beta <= 1))
        return NULL;
    af_holt_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->alpha = alpha;
    self->beta = beta;
    return self;
}

void af_holt_destroy(af_holt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void af_holt_observe(af_holt_t *self, double t_s, double value)
{
    if (!isfinite(value) || !isfinite(t_s))
        return;
    if (self->n == 0) {
        self->level = value;
        self->trend = 0;
        self->last_t = t_s;
        self->n = 1;
        return;
    }
    double dt = t_s - self->last_t;
    if (!(dt > 0))
        return;
    if (self->n == 1) {
        /* Second sample: the first slope is the best trend estimate we have. */
        self->trend = (value - self->level) / dt;
        self->level = value;
    } else {
        double prev = self->level;
        self->level = self->alpha * value + (1 - self->alpha) * (prev + self->trend * dt);
        self->trend =
            self->beta * (self->level - prev) / dt + (1 - self->beta) * self->trend;
    }
    self->last_t = t_s;
    self->n++;
}

double af_holt_forecast(const af_holt_t *self, double horizon_s)
{
    if (self->n < 2)
        return -1;
    double f = self->level + self->trend * horizon_s;
    return f > 0 ? f : 0;
}

double af_holt_trend(const af_holt_t *self)
{
    return self->n < 2 ? 0 : self->trend;
}

int af_holt_samples(const af_holt_t *self)
{
    return self->n;
}

/* ---- predictor ------------------------------------------------------------ */

struct af_predictor_t {
    af_holt_t *sessions;
    af_holt_t *rps;
    double ratio; /* sessions per request/s, learned while unsaturated */
    bool have_ratio;
    int ratio_samples;
    bool saturated; /* the last sample's */
};

#define S_MIN_RATIO_SAMPLES 5

af_predictor_t *af_predictor_new(double alpha, double beta)
{
    af_predictor_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sessions = af_holt_new(alpha, beta);
    self->rps = af_holt_new(alpha, beta);
    if (!self->sessions || !self->rps) {
        af_predictor_destroy(&self);
        return NULL;
    }
    return self;
}

void af_predictor_destroy(af_predictor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_holt_destroy(&(*self_p)->sessions);
    af_holt_destroy(&(*self_p)->rps);
    free(*self_p);
    *self_p = NULL;
}

void af_predictor_observe(af_predictor_t *self, double t_s, double sessions, double rps,
                          bool saturated)
{
    af_holt_observe(self->sessions, t_s, sessions);
    self->saturated = saturated;
    if (!(rps > 0))
        return;
    af_holt_observe(self->rps, t_s, rps);
    if (!saturated && sessions > 0) {
        double r = sessions / rps;
        /* Slow EWMA: the ratio is a property of the workload, not of the minute. */
        self->ratio = self->have_ratio ? 0.9 * self->ratio + 0.1 * r : r;
        self->have_ratio = true;
        self->ratio_samples++;
    }
}

double af_predictor_forecast(const af_predictor_t *self, double horizon_s)
{
    double f = af_holt_forecast(self->sessions, horizon_s);
    /* The request rate only speaks when the session count cannot: while
     * capacity is full. Elsewhere sessions are the demand itself, and a rate
     * that lags or warms up (Prometheus' rate() over a window that is still
     * filling) would only add noise. The ratio needs a few unsaturated
     * samples before it is trusted. */
    if (self->saturated && self->ratio_samples >= S_MIN_RATIO_SAMPLES) {
        double fr = af_holt_forecast(self->rps, horizon_s);
        if (fr >= 0 && fr * self->ratio > f)
            f = fr * self->ratio;
    }
    return f;
}
