/* Trace replay: the policy code (reactive, predictive) and the HPA-style
 * baseline over a load trace with a modelled spawn delay, scored side by side,
 * plus the report and an SVG plot. Deterministic: no clock, no randomness.
 *
 * Scores: agent-hours, overload minutes, peak refused sessions, under-utilized
 * minutes, scaling actions. */
#ifndef AF_AUTOSCALER_SIMULATE_H
#define AF_AUTOSCALER_SIMULATE_H

#include "policy.h"
#include "trace.h"

#include <cjson/cJSON.h>
#include <stdio.h>

typedef struct {
    af_policy_config_t policy; /* reactive and predictive both use it */
    double interval_s;         /* evaluation period (30) */
    double spawn_delay_s;      /* a new agent serves this long after the decision (60) */
    double lead_s;             /* forecast horizon of the predictive policy (60) */
    double alpha, beta;        /* Holt smoothing (0.5, 0.3) */
    double hpa_target;         /* HPA target utilization (0.8) */
    double hpa_tolerance;      /* 0.1 */
    double hpa_stabilization_s;/* 300 */
} af_sim_config_t;

void af_sim_config_defaults(af_sim_config_t *cfg);

typedef enum { AF_SIM_REACTIVE = 0, AF_SIM_PREDICTIVE, AF_SIM_HPA, AF_SIM_KINDS } af_sim_kind_t;

/* "reactive", "predictive", "hpa" (the JSON keys). */
const char *af_sim_kind_name(af_sim_kind_t kind);

typedef struct {
    double agent_hours;           /* ready + spawning agents, integrated */
    double overload_minutes;      /* demand above ready capacity */
    double refused_peak;          /* largest demand - capacity */
    double underutilized_minutes; /* served / capacity below the down threshold */
    long actions;                 /* scaling actions sent */
    long peak_agents;
} af_sim_result_t;

/* Demand and ready capacity (sessions) sampled for plotting. */
typedef struct {
    size_t n;
    double *t, *demand, *capacity;
} af_sim_series_t;

void af_sim_series_free(af_sim_series_t *s);

/* Runs one policy over the trace. series may be NULL; when given it is filled
 * (free with af_sim_series_free). Returns 0, or -1 on bad settings (logged). */
int af_sim_run(const af_trace_t *trace, const af_sim_config_t *cfg, af_sim_kind_t kind,
               af_sim_result_t *out, af_sim_series_t *series);

/* The side-by-side table, one column per policy. */
void af_sim_report_text(FILE *f, const char *title, const af_sim_result_t res[AF_SIM_KINDS]);
/* {"reactive":{...},"predictive":{...},"hpa":{...}}; caller owns. */
cJSON *af_sim_report_json(const af_sim_result_t res[AF_SIM_KINDS]);

/* Writes an SVG with one panel per policy: demand vs ready capacity. 0 / -1
 * (reason logged). */
int af_sim_plot_svg(const char *path, const char *title, const af_sim_series_t s[AF_SIM_KINDS],
                    const af_sim_result_t res[AF_SIM_KINDS]);

/* The --simulate command: loads the trace at path, runs the three policies,
 * prints the table (or JSON with json) to out, writes the SVG when plot is
 * set. 0 / -1 (reason logged). */
int af_sim_compare(const char *path, const af_sim_config_t *cfg, bool json, const char *plot,
                   FILE *out);

#endif
