/* Scaling policy: the design's reactive rules plus the predictive rule (a
 * forecast-sized target, never below the reactive one). Pure: no sockets, no
 * clock; tests, the simulator and the daemon drive the same code.
 *
 * Reactive: thresholds, stepped or aggressive moves, cooldowns, min/max clamps
 * and scale-down safety; the rules are spelled out at the top of policy.c. */
#ifndef AF_AUTOSCALER_POLICY_H
#define AF_AUTOSCALER_POLICY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    double up_threshold;      /* scale up above this utilization (0.8) */
    double down_threshold;    /* scale down below this utilization (0.3) */
    double cooldown_up_s;     /* a scale-up waits this long after any action (120) */
    double cooldown_down_s;   /* a scale-down waits this long after any action (300) */
    long min_agents;          /* 10 */
    long max_agents;          /* 1000 */
    long sessions_per_agent;  /* 100 */
    bool aggressive;          /* jump straight to the target instead of a step */
    double step_up;           /* stepped mode: +50 % of current per scale-up */
    double step_down;         /* stepped mode: -10 % of current per scale-down */
} af_policy_config_t;

/* The design's defaults (see the table in the header comment of each field). */
void af_policy_config_defaults(af_policy_config_t *cfg);

/* 0 when the settings make sense; -1 with a message naming the field otherwise. */
int af_policy_config_check(const af_policy_config_t *cfg, char *err, size_t errlen);

typedef enum { AF_SCALE_NONE = 0, AF_SCALE_UP, AF_SCALE_DOWN } af_scale_dir_t;

/* "none", "up", "down" (metric label values). */
const char *af_scale_dir_name(af_scale_dir_t dir);

typedef struct {
    double now_s;     /* any monotonic seconds; only differences matter */
    long current;     /* agents that are or will be capacity: ready + spawning */
    double sessions;  /* live sessions now */
    double forecast;  /* forecast sessions one lead time ahead; < 0: reactive only */
    /* Forecast sessions af_policy_hold_s() ahead: when the capacity of the
     * next possible scale-up could be ready at the earliest. < 0: not used. */
    double forecast_hold;
} af_policy_input_t;

/* How far ahead the capacity chosen now must last: a scale-up now starts the
 * up cooldown, so the next one is sent at the first evaluation (every
 * interval_s) once cooldown_up_s has passed, and is ready lead_s after that. */
double af_policy_hold_s(const af_policy_config_t *cfg, double interval_s, double lead_s);

typedef struct {
    af_scale_dir_t direction;
    long target;          /* agents wanted; == current when direction is NONE */
    long reactive_target; /* what the reactive rules alone want (predictive >= this) */
    long need;            /* ceil(sessions / sessions_per_agent): the design's target */
    double utilization;   /* sessions / (current * sessions_per_agent) */
    /* Stable label for metrics and logs: utilization_high, utilization_low,
     * in_band, forecast, cooldown, below_min, above_max, at_limit,
     * session_floor, no_agents. */
    const char *reason;
} af_decision_t;

typedef struct af_policy_t af_policy_t;

/* cfg is copied. Returns NULL when it fails af_policy_config_check (logged). */
af_policy_t *af_policy_new(const af_policy_config_t *cfg);
void af_policy_destroy(af_policy_t **self_p);
const af_policy_config_t *af_policy_config(const af_policy_t *self);

/* Decides without changing state (no cooldown starts here). */
void af_policy_decide(const af_policy_t *self, const af_policy_input_t *in, af_decision_t *out);

/* Records that a decision was carried out at now_s: starts the cooldowns. Call
 * only once the action was actually sent, so a failed SCALE does not block the
 * retry. A NONE decision is ignored. */
void af_policy_record(af_policy_t *self, const af_decision_t *d, double now_s);

#endif
