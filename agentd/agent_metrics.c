/* Agent metric families. See agent_metrics.h. */
#include "agent_metrics.h"
#include "proto.h"

#include <stdio.h>
#include <string.h>

int af_agent_metrics_init(af_agent_metrics_t *m, af_metrics_t *r, af_metric_fn *sessions_fn,
                          af_metric_fn *inflight_fn, void *arg)
{
    static const double ttft_bounds[] = {0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30};
    static const double dur_bounds[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300};
    m->active_sessions = af_metrics_callback(r, "agent_active_sessions", "Live chat sessions.",
                                             AF_METRIC_GAUGE, sessions_fn, arg);
    m->inflight = af_metrics_callback(r, "agent_inflight_requests",
                                      "CHAT requests waiting on the upstream API.",
                                      AF_METRIC_GAUGE, inflight_fn, arg);
    m->requests_by_model = af_metrics_counter(
        r, "agent_requests_total", "CHAT requests by model and outcome (ok, cancelled or error code).",
        "model,status");
    m->tokens = af_metrics_counter(r, "agent_tokens_total", "Tokens used by completed turns.",
                                   "direction");
    m->upstream_duration = af_metrics_histogram(
        r, "agent_upstream_request_duration_seconds",
        "Duration of one upstream Messages API attempt.", "", dur_bounds,
        sizeof dur_bounds / sizeof dur_bounds[0]);
    m->ttft = af_metrics_histogram(r, "agent_time_to_first_token_seconds",
                                   "From CHAT received to the first text delta.", "", ttft_bounds,
                                   sizeof ttft_bounds / sizeof ttft_bounds[0]);
    m->upstream_errors = af_metrics_counter(r, "agent_upstream_errors_total",
                                            "Failed upstream attempts by error type.", "type");
    m->rate_limited = af_metrics_counter(r, "agent_rate_limited_total",
                                         "CHATs refused by the per-session rate limit.", "");
    m->refused = af_proto_metrics_add(r);
    if (!m->active_sessions || !m->inflight || !m->requests_by_model || !m->tokens ||
        !m->upstream_duration || !m->ttft || !m->upstream_errors || !m->rate_limited ||
        !m->refused)
        return -1;
    return af_metrics_add_process(r);
}

void af_agent_metrics_request(af_agent_metrics_t *m, const char *model, const char *status)
{
    const char *label = "other";
    if (!model || !*model)
        label = "none";
    else if (strlen(model) < sizeof m->models[0]) {
        for (int i = 0; i < m->nmodels; i++)
            if (!strcmp(m->models[i], model))
                label = m->models[i];
        if (!strcmp(label, "other") && m->nmodels < 16) {
            snprintf(m->models[m->nmodels], sizeof m->models[0], "%s", model);
            label = m->models[m->nmodels++];
        }
    }
    af_metric_inc(m->requests_by_model, label, status);
}
