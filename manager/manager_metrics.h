/* The manager's Prometheus metrics: one struct of handles over a registry, so
 * modules update series without looking names up. */
#ifndef AF_MANAGER_MANAGER_METRICS_H
#define AF_MANAGER_MANAGER_METRICS_H

#include "metrics.h"

typedef struct {
    af_metrics_t *registry;          /* owned */
    af_metric_t *agents;             /* manager_agents{state} */
    af_metric_t *spawn_seconds;      /* manager_spawn_duration_seconds */
    af_metric_t *requests;           /* manager_requests_total{verb,code} */
    af_metric_t *quota_rejections;   /* manager_quota_rejections_total */
    af_metric_t *heals;              /* manager_heals_total */
    af_metric_t *spawn_failures;     /* manager_spawn_failures_total{reason} */
    af_metric_t *gateways;           /* manager_gateways */
    af_metric_t *sessions;           /* manager_sessions */
    af_metric_t *capacity;           /* manager_session_capacity */
    af_metric_t *refused;            /* af_protocol_refused_total{reason} */
} af_mgr_metrics_t;

/* Registers every family. active_fn/arg back hypercore_agent_active_count (agents
 * not dead). Returns 0 / -1. */
int af_mgr_metrics_init(af_mgr_metrics_t *m, af_metric_fn *active_fn, void *arg);
void af_mgr_metrics_fini(af_mgr_metrics_t *m);

#endif
