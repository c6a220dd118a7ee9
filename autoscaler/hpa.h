/* A Kubernetes-HPA-style baseline for the simulator's comparison. Pure; the
 * caller passes time.
 *
 * desired = ceil(current * utilization / target), no change while the ratio is
 * within the tolerance, scale-up at once, scale-down only to the highest
 * recommendation of the stabilisation window. */
#ifndef AF_AUTOSCALER_HPA_H
#define AF_AUTOSCALER_HPA_H

typedef struct {
    double target;          /* target utilization (0.8) */
    double tolerance;       /* 0.1: |ratio - 1| <= tolerance means no change */
    double stabilization_s; /* 300: scale-down window */
    long min_agents, max_agents;
    long sessions_per_agent;
} af_hpa_config_t;

void af_hpa_config_defaults(af_hpa_config_t *cfg);

typedef struct af_hpa_t af_hpa_t;

/* cfg copied; NULL on nonsense settings. */
af_hpa_t *af_hpa_new(const af_hpa_config_t *cfg);
void af_hpa_destroy(af_hpa_t **self_p);

/* The replica count the HPA would set now. Records the recommendation in the
 * stabilisation window (call once per evaluation, times non-decreasing). */
long af_hpa_decide(af_hpa_t *self, double now_s, long current, double sessions);

#endif
