/* The autoscaler's Prometheus metrics: one registry and the handles the
 * controller updates. */
#ifndef AF_AUTOSCALER_SCALE_METRICS_H
#define AF_AUTOSCALER_SCALE_METRICS_H

#include "metrics.h"

typedef struct {
    af_metrics_t *registry;
    af_metric_t *desired;        /* autoscaler_desired_agents */
    af_metric_t *current;        /* autoscaler_current_agents */
    af_metric_t *utilization;    /* autoscaler_utilization_ratio */
    af_metric_t *decisions;      /* autoscaler_decisions_total{direction,reason} */
    af_metric_t *last_eval;      /* autoscaler_last_evaluation_timestamp_seconds */
    af_metric_t *sessions;       /* autoscaler_observed_sessions */
    af_metric_t *forecast;       /* autoscaler_forecast_sessions */
    af_metric_t *source_errors;  /* autoscaler_source_errors_total{source} */
    af_metric_t *scale_requests; /* autoscaler_scale_requests_total{result} */
} af_scale_metrics_t;

/* Creates the registry and every family (plus process metrics). 0 / -1. */
int af_scale_metrics_init(af_scale_metrics_t *m);
void af_scale_metrics_fini(af_scale_metrics_t *m);

#endif
