/* Manager metrics registration. See manager_metrics.h. */
#include "manager_metrics.h"
#include "proto.h"

#include <string.h>

int af_mgr_metrics_init(af_mgr_metrics_t *m, af_metric_fn *active_fn, void *arg)
{
    memset(m, 0, sizeof *m);
    m->registry = af_metrics_new();
    if (!m->registry)
        return -1;
    static const double spawn_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
    m->agents = af_metrics_gauge(m->registry, "manager_agents", "Agents by lifecycle state.",
                                 "state");
    m->spawn_seconds = af_metrics_histogram(
        m->registry, "manager_spawn_duration_seconds",
        "Time from spawn request to the agent's READY.", "", spawn_bounds,
        sizeof spawn_bounds / sizeof spawn_bounds[0]);
    m->requests = af_metrics_counter(m->registry, "manager_requests_total",
                                     "Control requests by verb and result code.", "verb,code");
    m->quota_rejections = af_metrics_counter(m->registry, "manager_quota_rejections_total",
                                             "SPAWN requests refused by the per-user quota.", "");
    m->heals = af_metrics_counter(m->registry, "manager_heals_total",
                                  "Dead agents replaced by auto-heal.", "");
    m->spawn_failures = af_metrics_counter(m->registry, "manager_spawn_failures_total",
                                           "Agent spawns that failed, by reason.", "reason");
    m->gateways = af_metrics_gauge(m->registry, "manager_gateways",
                                   "Gateways currently announcing a data endpoint.", "");
    m->sessions = af_metrics_gauge(m->registry, "manager_sessions",
                                   "Live sessions reported by agents.", "");
    m->capacity = af_metrics_gauge(m->registry, "manager_session_capacity",
                                   "Sessions the ready agents can hold (sum of their capacity).",
                                   "");
    m->refused = af_proto_metrics_add(m->registry);
    af_metric_t *active = af_metrics_callback(
        m->registry, "hypercore_agent_active_count",
        "Agents alive (spawning, ready or draining) under this manager.", AF_METRIC_GAUGE,
        active_fn, arg);
    if (!m->agents || !m->spawn_seconds || !m->requests || !m->quota_rejections || !m->heals ||
        !m->spawn_failures || !m->gateways || !m->sessions || !m->capacity || !m->refused || !active ||
        af_metrics_add_process(m->registry) < 0) {
        af_metrics_destroy(&m->registry);
        return -1;
    }
    static const char *states[] = {"spawning", "ready", "draining", "dead"};
    for (int i = 0; i < 4; i++)
        af_metric_set(m->agents, 0, states[i]);
    af_metric_add(m->quota_rejections, 0);
    af_metric_add(m->heals, 0);
    return 0;
}

void af_mgr_metrics_fini(af_mgr_metrics_t *m)
{
    af_proto_count_refusals(NULL);
    af_metrics_destroy(&m->registry);
}
