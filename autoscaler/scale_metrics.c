/* Autoscaler metrics. See scale_metrics.h. */
#include "scale_metrics.h"
#include "proto.h"

#include <string.h>

int af_scale_metrics_init(af_scale_metrics_t *m)
{
    memset(m, 0, sizeof *m);
    m->registry = af_metrics_new();
    if (!m->registry)
        return -1;
    af_metrics_t *r = m->registry;
    m->desired = af_metrics_gauge(r, "autoscaler_desired_agents",
                                  "Agents the last evaluation decided on", NULL);
    m->current = af_metrics_gauge(r, "autoscaler_current_agents",
                                  "Agents ready or spawning at the last evaluation", NULL);
    m->utilization = af_metrics_gauge(r, "autoscaler_utilization_ratio",
                                      "Sessions / (current agents x sessions per agent)", NULL);
    m->decisions = af_metrics_counter(r, "autoscaler_decisions_total",
                                      "Evaluations by outcome", "direction,reason");
    m->last_eval = af_metrics_gauge(r, "autoscaler_last_evaluation_timestamp_seconds",
                                    "Wall-clock time of the last completed evaluation", NULL);
    m->sessions = af_metrics_gauge(r, "autoscaler_observed_sessions",
                                   "Live sessions at the last evaluation", NULL);
    m->forecast = af_metrics_gauge(r, "autoscaler_forecast_sessions",
                                   "Forecast sessions one lead time ahead (-1: none)", NULL);
    m->source_errors = af_metrics_counter(r, "autoscaler_source_errors_total",
                                          "Evaluations skipped: metrics source failed", "source");
    m->scale_requests = af_metrics_counter(r, "autoscaler_scale_requests_total",
                                           "SCALE requests sent to the manager", "result");
    if (!m->desired || !m->current || !m->utilization || !m->decisions || !m->last_eval ||
        !m->sessions || !m->forecast || !m->source_errors || !m->scale_requests ||
        !af_proto_metrics_add(r) || af_metrics_add_process(r) < 0) {
        af_scale_metrics_fini(m);
        return -1;
    }
    return 0;
}

void af_scale_metrics_fini(af_scale_metrics_t *m)
{
    af_proto_count_refusals(NULL);
    af_metrics_destroy(&m->registry);
    memset(m, 0, sizeof *m);
}
