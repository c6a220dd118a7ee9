/* Metrics from Prometheus' HTTP query API (GET /api/v1/query) with the design's
 * queries, run concurrently over common/http_client.c. The response parser is pure
 * and fuzzed.
 *
 * Queries: live sessions (agent_active_sessions), agents
 * (hypercore_agent_active_count, else the number of agents reporting
 * sessions), request rate (rate(agent_requests_total[5m])), fleet CPU and
 * memory (logged only, not used by the policy). */
#ifndef AF_AUTOSCALER_SOURCE_PROMETHEUS_H
#define AF_AUTOSCALER_SOURCE_PROMETHEUS_H

#include "http_client.h"
#include "source.h"

#include <stddef.h>

#define AF_PROM_Q_SESSIONS "sum(agent_active_sessions)"
#define AF_PROM_Q_AGENTS "sum(hypercore_agent_active_count) or count(agent_active_sessions)"
#define AF_PROM_Q_RPS "sum(rate(agent_requests_total[5m]))"
#define AF_PROM_Q_CPU "sum(rate(process_cpu_seconds_total[5m]))"
#define AF_PROM_Q_MEMORY "sum(process_resident_memory_bytes)"

/* Parses a /api/v1/query response. Returns 0 with *value (the sum of a
 * vector's samples, or a scalar), 1 when the result is an empty vector, -1
 * with a reason in err (status "error", malformed JSON, non-finite value...). */
int af_prom_parse(const char *body, size_t len, double *value, char *err, size_t errlen);

/* Writes base + "/api/v1/query?query=" + percent-encoded query into out.
 * 0, or -1 when out is too small. */
int af_prom_url(const char *base, const char *query, char *out, size_t outlen);

typedef struct af_source_prom_t af_source_prom_t;

/* base_url e.g. http://127.0.0.1:9090 (copied). http not owned. */
af_source_prom_t *af_source_prom_new(af_http_client_t *http, const char *base_url, double timeout_s);
void af_source_prom_destroy(af_source_prom_t **self_p);
/* Drops the pending fetch's callback (before the http client is destroyed,
 * which ends pending queries through their callbacks). */
void af_source_prom_cancel(af_source_prom_t *self);

/* Runs the queries concurrently; fn is called once with the sample when they
 * are all back (sessions and agents required). -1 when a fetch is already in
 * flight or cannot start. */
int af_source_prom_fetch(af_source_prom_t *self, af_sample_fn *fn, void *arg);

#endif
