/* Scaling policy. See policy.h.
 *
 * Rules, in order (every number is a setting):
 *   need       = ceil(sessions / sessions_per_agent)           the design's "target"
 *   above up:  stepped    -> ceil(current * (1 + step_up))     (at least +1)
 *              aggressive -> max(need, that step)              straight to the target
 *   below down: stepped    -> max(down_target, floor(current * (1 - step_down)))
 *               aggressive -> down_target
 *              where down_target = ceil(sessions / (spa * up_threshold)): the
 *              smallest fleet that does not trip the up threshold next round,
 *              so a scale-down never causes the next scale-up.
 *   safety:    a scale-down never goes below need (live sessions keep a seat).
 *   clamps:    min_agents..max_agents; a fleet outside them is moved back at
 *              once (below_min / above_max), cooldown or not.
 *   cooldowns: a scale-up waits cooldown_up_s after the last action, a
 *              scale-down waits cooldown_down_s after the last action (the
 *              scale-out / scale-in cooldown pair of cloud autoscalers).
 *   predictive: forecast demand F one lead time ahead and H one hold time
 *              ahead (af_policy_hold_s). When F would leave the band or H
 *              would overflow the fleet, the forecast target is the larger of
 *              ceil(F / (spa * up_threshold)) (F lands on the up threshold)
 *              and ceil(H / spa) (the fleet still holds H when the next
 *              scale-up could land: a scale-up starts the cooldown, so what
 *              it adds must last until then); otherwise it holds the current
 *              size. The larger of that and the reactive target wins, so
 *              predictive is never below reactive. */
#include "policy.h"

#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_policy_t {
    af_policy_config_t cfg;
    bool acted;
    double last_action_s;
    bool last_by_forecast; /* the last action went beyond what the rules wanted */
};

typedef struct {
    long target;
    const char *reason;
} s_move_t;

void af_policy_config_defaults(af_policy_config_t *cfg)
{
    cfg->up_threshold = 0.8;
    cfg->down_threshold = 0.3;
    cfg->cooldown_up_s = 120;
    cfg->cooldown_down_s = 300;
    cfg->min_agents = 10;
    cfg->max_agents = 1000;
    cfg->sessions_per_agent = 100;
    cfg->aggressive = false;
    cfg->step_up = 0.5;
    cfg->step_down = 0.1;
}

int af_policy_config_check(const af_policy_config_t *c, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (!(c->up_threshold > 0 && c->up_threshold <= 10))
        bad = "up-threshold must be in (0, 10]";
    else if (!(c->down_threshold >= 0 && c->down_threshold < c->up_threshold))
        bad = "down-threshold must be >= 0 and below up-threshold";
    else if (!(c->cooldown_up_s >= 0) || !(c->cooldown_down_s >= 0))
        bad = "cooldowns must be >= 0";
    else if (c->min_agents < 0)
        bad = "min-agents must be >= 0";
    else if (c->max_agents < 1 || c->max_agents < c->min_agents)
        bad = "max-agents must be >= 1 and >= min-agents";
    else if (c->sessions_per_agent < 1)
        bad = "sessions-per-agent must be >= 1";
    else if (!(c->step_up > 0 && c->step_up <= 100))
        bad = "step-up must be in (0, 100]";
    else if (!(c->step_down > 0 && c->step_down < 1))
        bad = "step-down must be in (0, 1)";
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return -1;
    }
    return 0;
}

const char *af_scale_dir_name(af_scale_dir_t dir)
{
    return dir == AF_SCALE_UP ? "up" : dir == AF_SCALE_DOWN ? "down" : "none";
}

af_policy_t *af_policy_new(const af_policy_config_t *cfg)
{
    char err[128];
    if (af_policy_config_check(cfg, err, sizeof err) < 0) {
        af_error("invalid policy: %s", err);
        return NULL;
    }
    af_policy_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    return self;
}

void af_policy_destroy(af_policy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const af_policy_config_t *af_policy_config(const af_policy_t *self)
{
    return &self->cfg;
}

/* ceil(a / b) for non-negative a, robust to 7500/100 landing on 75.0000001. */
static long s_ceil_div(double a, double b)
{
    if (a <= 0)
        return 0;
    double q = a / b;
    double r = round(q);
    if (fabs(q - r) < 1e-9)
        return (long)r;
    return (long)ceil(q);
}

/* The threshold rules for one demand figure, before clamps and cooldowns. */
static s_move_t s_rules(const af_policy_config_t *c, long cur, double sessions)
{
    double spa = (double)c->sessions_per_agent;
    long need = s_ceil_div(sessions, spa);
    if (cur <= 0)
        return (s_move_t){need, "no_agents"};
    double util = sessions / ((double)cur * spa);
    if (util > c->up_threshold) {
        long step = (long)ceil((double)cur * (1.0 + c->step_up) - 1e-9);
        if (step < cur + 1)
            step = cur + 1;
        long t = c->aggressive && need > step ? need : step;
        return (s_move_t){t, "utilization_high"};
    }
    if (util < c->down_threshold) {
        long down_target = s_ceil_div(sessions, spa * c->up_threshold);
        long t = down_target;
        if (!c->aggressive) {
            long step = (long)floor((double)cur * (1.0 - c->step_down) + 1e-9);
            if (step > cur - 1)
                step = cur - 1;
            t = step > down_target ? step : down_target;
        }
        return (s_move_t){t, "utilization_low"};
    }
    return (s_move_t){cur, "in_band"};
}

/* The forecast's own move: provision so that the forecast demand sits at the
 * up threshold. No step bound: the forecast is already smoothed, and a step
 * would only repeat the reactive move it is meant to get ahead of. */
static s_move_t s_forecast_rule(const af_policy_config_t *c, long cur, double forecast,
                                double hold)
{
    double spa = (double)c->sessions_per_agent;
    long want = s_ceil_div(forecast, spa * c->up_threshold);
    long hold_want = hold >= 0 ? s_ceil_div(hold, spa) : 0;
    double util = cur > 0 ? forecast / ((double)cur * spa) : 1e9;
    if (hold_want > cur)
        return (s_move_t){want > hold_want ? want : hold_want, "forecast"};
    if (util > c->up_threshold || util < c->down_threshold)
        return (s_move_t){want, "forecast"};
    return (s_move_t){cur, "forecast"};
}

double af_policy_hold_s(const af_policy_config_t *cfg, double interval_s, double lead_s)
{
    /* the first evaluation at or after the cooldown ends */
    double wait = interval_s > 0 ? ceil(cfg->cooldown_up_s / interval_s - 1e-9) * interval_s
                                 : cfg->cooldown_up_s;
    return wait + lead_s;
}

/* Applies safety floor, clamps and cooldowns; fills out. urgent_up: a
 * scale-up here is not held back by the up cooldown (see af_policy_decide). */
static void s_finish(const af_policy_t *self, const af_policy_input_t *in, s_move_t m,
                     bool urgent_up, af_decision_t *out)
{
    const af_policy_config_t *c = &self->cfg;
    long cur = in->current;
    long need = s_ceil_div(in->sessions, (double)c->sessions_per_agent);
    long t = m.target;
    const char *reason = m.reason;

    if (t < cur && t < need) {
        t = need < cur ? need : cur;
        if (t == cur)
            reason = "session_floor";
    }
    if (t < c->min_agents)
        t = c->min_agents;
    if (t > c->max_agents)
        t = c->max_agents;

    if (cur < c->min_agents) {
        reason = "below_min";
    } else if (cur > c->max_agents) {
        reason = "above_max";
    } else if (t == cur && m.target != cur) {
        if (strcmp(reason, "session_floor") != 0)
            reason = "at_limit";
    } else if (t != cur && self->acted && !(t > cur && urgent_up)) {
        double since = in->now_s - self->last_action_s;
        double wait = t > cur ? c->cooldown_up_s : c->cooldown_down_s;
        if (since < wait) {
            t = cur;
            reason = "cooldown";
        }
    }
    out->target = t;
    out->direction = t > cur ? AF_SCALE_UP : t < cur ? AF_SCALE_DOWN : AF_SCALE_NONE;
    out->reason = reason;
}

void af_policy_decide(const af_policy_t *self, const af_policy_input_t *in, af_decision_t *out)
{
    const af_policy_config_t *c = &self->cfg;
    long cur = in->current < 0 ? 0 : in->current;
    af_policy_input_t norm = *in;
    norm.current = cur;
    if (!(norm.sessions >= 0))
        norm.sessions = 0;

    s_move_t r = s_rules(c, cur, norm.sessions);
    /* The up cooldown lets a scale-up's effect show before the next; two
     * cases where waiting can only hurt skip it. (1) The rules want a
     * scale-up after a forecast-led one: that came early on a guess whose
     * capacity `current` already counts, so the rules firing anyway means the
     * guess was short (without this, predictive lags reactive exactly when a
     * ramp steepens). (2) The forecast overflows the whole fleet within one
     * lead time: any later action lands too late. Reactive alone never
     * forecasts and never acts on one, so its cooldowns are the design's. */
    bool urgent = r.target > cur && self->last_by_forecast;
    af_decision_t reactive;
    s_finish(self, &norm, r, urgent, &reactive);

    s_move_t m = r;
    if (norm.forecast >= 0) {
        s_move_t f = s_forecast_rule(c, cur, norm.forecast, norm.forecast_hold);
        if (f.target > m.target)
            m = (s_move_t){f.target, "forecast"};
    }
    if (norm.forecast > (double)cur * (double)c->sessions_per_agent)
        urgent = true;
    s_finish(self, &norm, m, urgent, out);
    /* The invariant the tests hold us to; cannot fail by construction, but a
     * later edit to s_finish must not break it silently. */
    if (out->target < reactive.target)
        *out = reactive;
    out->reactive_target = reactive.target;
    out->need = s_ceil_div(norm.sessions, (double)c->sessions_per_agent);
    out->utilization =
        cur > 0 ? norm.sessions / ((double)cur * (double)c->sessions_per_agent) : 0.0;
}

void af_policy_record(af_policy_t *self, const af_decision_t *d, double now_s)
{
    if (d->direction == AF_SCALE_NONE)
        return;
    self->acted = true;
    self->last_action_s = now_s;
    self->last_by_forecast = d->target > d->reactive_target;
}
