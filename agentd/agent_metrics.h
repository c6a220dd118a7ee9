/* The agent's Prometheus families, registered once on a registry the caller
 * owns. Plain struct of family pointers: modules update them directly. */
#ifndef AF_AGENT_METRICS_H
#define AF_AGENT_METRICS_H

#include "metrics.h"
#include "proto.h"

typedef struct {
    af_metric_t *active_sessions;   /* callback gauge */
    af_metric_t *inflight;          /* callback gauge */
    /* agent_requests_total{model,status}: count through af_agent_metrics_request */
    af_metric_t *requests_by_model;
    char models[16][64];            /* model label values seen; more become "other" */
    int nmodels;
    af_metric_t *tokens;            /* {direction}: input, output */
    af_metric_t *upstream_duration; /* per attempt */
    af_metric_t *ttft;
    af_metric_t *upstream_errors;   /* {type} per failed attempt */
    af_metric_t *rate_limited;
    af_metric_t *refused;           /* af_protocol_refused_total{reason} */
} af_agent_metrics_t;

/* Registers every family (and the process ones). sessions_fn/inflight_fn give
 * the gauges' values. Returns 0 / -1. */
int af_agent_metrics_init(af_agent_metrics_t *m, af_metrics_t *registry, af_metric_fn *sessions_fn,
                          af_metric_fn *inflight_fn, void *arg);

/* Counts one CHAT outcome (ok, cancelled, or the error code) for model. The
 * model label takes at most 16 distinct values (then "other"), since models
 * come from clients. */
void af_agent_metrics_request(af_agent_metrics_t *m, const char *model, const char *status);

#endif
