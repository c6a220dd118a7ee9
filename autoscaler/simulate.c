/* Trace replay, report and plot. See simulate.h.
 *
 * Model (one step per simulated second):
 *   - demand (sessions, requests/s) is the trace, interpolated;
 *   - ready agents serve sessions_per_agent each; demand above that is refused
 *     and never reaches the manager, so the policy sees min(demand, capacity);
 *   - the request rate is counted where requests arrive (gateway), refused ones
 *     included, so it keeps showing demand while capacity is full;
 *   - every interval_s the policy sees current = ready + spawning agents;
 *   - a scale-up's agents become ready spawn_delay_s later; a scale-down first
 *     cancels pending spawns (newest first), then removes ready agents at once
 *     (the manager drains before it deletes: sessions are never dropped,
 *     because the policy never goes below what live sessions need);
 *   - cost = ready + spawning agents, integrated (a booting VM is paid for). */
#include "simulate.h"

#include "forecast.h"
#include "hpa.h"
#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_PENDING 4096
#define S_PLOT_POINTS 1200

void af_sim_config_defaults(af_sim_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    af_policy_config_defaults(&cfg->policy);
    cfg->interval_s = 30;
    cfg->spawn_delay_s = 60;
    cfg->lead_s = 60;
    cfg->alpha = 0.8;
    cfg->beta = 0.6;
    cfg->hpa_target = 0.8;
    cfg->hpa_tolerance = 0.1;
    cfg->hpa_stabilization_s = 300;
}

const char *af_sim_kind_name(af_sim_kind_t kind)
{
    switch (kind) {
    case AF_SIM_REACTIVE: return "reactive";
    case AF_SIM_PREDICTIVE: return "predictive";
    case AF_SIM_HPA: return "hpa";
    default: return "?";
    }
}

void af_sim_series_free(af_sim_series_t *s)
{
    if (!s)
        return;
    free(s->t);
    free(s->demand);
    free(s->capacity);
    memset(s, 0, sizeof *s);
}

/* ---- the fleet model ------------------------------------------------------ */

typedef struct {
    long ready;
    long pending_n[S_MAX_PENDING];
    double pending_at[S_MAX_PENDING];
    int head, count; /* FIFO of spawn batches, oldest at head */
    long pending;    /* sum of pending_n */
} s_fleet_t;

static void s_fleet_tick(s_fleet_t *f, double now)
{
    while (f->count > 0 && f->pending_at[f->head] <= now) {
        f->ready += f->pending_n[f->head];
        f->pending -= f->pending_n[f->head];
        f->head = (f->head + 1) % S_MAX_PENDING;
        f->count--;
    }
}

static void s_fleet_scale(s_fleet_t *f, long target, double now, double delay)
{
    long cur = f->ready + f->pending;
    if (target > cur) {
        if (f->count == S_MAX_PENDING) { /* cannot happen with sane settings; merge */
            int last = (f->head + f->count - 1) % S_MAX_PENDING;
            f->pending_n[last] += target - cur;
        } else {
            int slot = (f->head + f->count) % S_MAX_PENDING;
            f->pending_n[slot] = target - cur;
            f->pending_at[slot] = now + delay;
            f->count++;
        }
        f->pending += target - cur;
        return;
    }
    long drop = cur - target;
    while (drop > 0 && f->count > 0) {
        int last = (f->head + f->count - 1) % S_MAX_PENDING;
        long take = f->pending_n[last] < drop ? f->pending_n[last] : drop;
        f->pending_n[last] -= take;
        f->pending -= take;
        drop -= take;
        if (f->pending_n[last] == 0)
            f->count--;
    }
    f->ready -= drop;
    if (f->ready < 0)
        f->ready = 0;
}

/* ---- one run -------------------------------------------------------------- */

static int s_series_alloc(af_sim_series_t *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->t = calloc(n, sizeof *s->t);
    s->demand = calloc(n, sizeof *s->demand);
    s->capacity = calloc(n, sizeof *s->capacity);
    if (!s->t || !s->demand || !s->capacity) {
        af_sim_series_free(s);
        return -1;
    }
    return 0;
}

int af_sim_run(const af_trace_t *trace, const af_sim_config_t *cfg, af_sim_kind_t kind,
               af_sim_result_t *out, af_sim_series_t *series)
{
    memset(out, 0, sizeof *out);
    const af_policy_config_t *pc = &cfg->policy;
    if (!(cfg->interval_s >= 1) || !(cfg->spawn_delay_s >= 0) || !(cfg->lead_s >= 0)) {
        af_error("simulate: interval must be >= 1 s, spawn delay and lead >= 0");
        return -1;
    }
    af_policy_t *policy = af_policy_new(pc);
    af_predictor_t *pred = af_predictor_new(cfg->alpha, cfg->beta);
    af_hpa_config_t hc;
    af_hpa_config_defaults(&hc);
    hc.target = cfg->hpa_target;
    hc.tolerance = cfg->hpa_tolerance;
    hc.stabilization_s = cfg->hpa_stabilization_s;
    hc.min_agents = pc->min_agents;
    hc.max_agents = pc->max_agents;
    hc.sessions_per_agent = pc->sessions_per_agent;
    af_hpa_t *hpa = af_hpa_new(&hc);
    s_fleet_t *fleet = calloc(1, sizeof *fleet);
    int rc = -1;
    if (!policy || !pred || !hpa || !fleet) {
        af_error("simulate: bad settings or out of memory");
        goto done;
    }

    double spa = (double)pc->sessions_per_agent;
    double t0 = af_trace_start(trace), t1 = af_trace_end(trace);
    long steps = (long)floor(t1 - t0); /* [t0, t1): an hour of trace is an hour */
    if (steps < 1)
        steps = 1;
    long every = (long)llround(cfg->interval_s);
    long plot_every = steps / S_PLOT_POINTS + 1;
    if (series && s_series_alloc(series, (size_t)(steps / plot_every + 2)) < 0) {
        af_error("simulate: out of memory");
        goto done;
    }

    double d0, r0;
    af_trace_at(trace, t0, &d0, &r0);
    long init = (long)ceil(d0 / (spa * (pc->up_threshold + pc->down_threshold) / 2));
    if (init < pc->min_agents)
        init = pc->min_agents;
    if (init > pc->max_agents)
        init = pc->max_agents;
    fleet->ready = init;

    double agent_s = 0, over_s = 0, under_s = 0, refused_peak = 0;
    long peak = init;
    for (long i = 0; i < steps; i++) {
        double now = t0 + (double)i, demand, rps;
        af_trace_at(trace, now, &demand, &rps);
        s_fleet_tick(fleet, now);
        double cap = (double)fleet->ready * spa;
        double served = demand < cap ? demand : cap;

        if (i % every == 0) {
            long cur = fleet->ready + fleet->pending;
            long target;
            if (kind == AF_SIM_HPA) {
                target = af_hpa_decide(hpa, now, cur, served);
            } else {
                af_policy_input_t in = {.now_s = now, .current = cur, .sessions = served,
                                        .forecast = -1, .forecast_hold = -1};
                if (kind == AF_SIM_PREDICTIVE) {
                    af_predictor_observe(pred, now, served, rps, demand > cap);
                    in.forecast = af_predictor_forecast(pred, cfg->lead_s);
                    in.forecast_hold = af_predictor_forecast(
                        pred, af_policy_hold_s(pc, cfg->interval_s, cfg->lead_s));
                }
                af_decision_t d;
                af_policy_decide(policy, &in, &d);
                target = d.target;
                af_policy_record(policy, &d, now);
            }
            if (target != cur) {
                s_fleet_scale(fleet, target, now, cfg->spawn_delay_s);
                out->actions++;
                if (cfg->spawn_delay_s == 0)
                    s_fleet_tick(fleet, now);
                cap = (double)fleet->ready * spa;
                served = demand < cap ? demand : cap;
            }
        }

        long provisioned = fleet->ready + fleet->pending;
        if (provisioned > peak)
            peak = provisioned;
        agent_s += (double)provisioned;
        if (demand > cap + 1e-9) {
            over_s += 1;
            if (demand - cap > refused_peak)
                refused_peak = demand - cap;
        }
        if (cap > 0 && served / cap < pc->down_threshold)
            under_s += 1;
        if (series && i % plot_every == 0) {
            series->t[series->n] = now - t0;
            series->demand[series->n] = demand;
            series->capacity[series->n] = cap;
            series->n++;
        }
    }
    out->agent_hours = agent_s / 3600.0;
    out->overload_minutes = over_s / 60.0;
    out->underutilized_minutes = under_s / 60.0;
    out->refused_peak = refused_peak > 1e-9 ? ceil(refused_peak - 1e-9) : 0;
    out->peak_agents = peak;
    rc = 0;
done:
    free(fleet);
    af_hpa_destroy(&hpa);
    af_predictor_destroy(&pred);
    af_policy_destroy(&policy);
    return rc;
}

/* ---- report --------------------------------------------------------------- */

void af_sim_report_text(FILE *f, const char *title, const af_sim_result_t res[AF_SIM_KINDS])
{
    fprintf(f, "%s\n", title);
    fprintf(f, "%-28s %12s %12s %12s\n", "", "reactive", "predictive", "hpa");
    fprintf(f, "%-28s %12.1f %12.1f %12.1f\n", "agent-hours", res[0].agent_hours,
            res[1].agent_hours, res[2].agent_hours);
    fprintf(f, "%-28s %12.1f %12.1f %12.1f\n", "minutes over capacity", res[0].overload_minutes,
            res[1].overload_minutes, res[2].overload_minutes);
    fprintf(f, "%-28s %12.0f %12.0f %12.0f\n", "peak sessions refused", res[0].refused_peak,
            res[1].refused_peak, res[2].refused_peak);
    fprintf(f, "%-28s %12.1f %12.1f %12.1f\n", "minutes below 30% util.",
            res[0].underutilized_minutes, res[1].underutilized_minutes,
            res[2].underutilized_minutes);
    fprintf(f, "%-28s %12ld %12ld %12ld\n", "scaling actions", res[0].actions, res[1].actions,
            res[2].actions);
    fprintf(f, "%-28s %12ld %12ld %12ld\n", "peak agents", res[0].peak_agents,
            res[1].peak_agents, res[2].peak_agents);
}

static double s_round(double v, double scale)
{
    return round(v * scale) / scale;
}

cJSON *af_sim_report_json(const af_sim_result_t res[AF_SIM_KINDS])
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    for (int k = 0; k < AF_SIM_KINDS; k++) {
        cJSON *o = cJSON_AddObjectToObject(root, af_sim_kind_name((af_sim_kind_t)k));
        if (!o) {
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddNumberToObject(o, "agent_hours", s_round(res[k].agent_hours, 1000));
        cJSON_AddNumberToObject(o, "overload_minutes", s_round(res[k].overload_minutes, 1000));
        cJSON_AddNumberToObject(o, "refused_peak", res[k].refused_peak);
        cJSON_AddNumberToObject(o, "underutilized_minutes",
                                s_round(res[k].underutilized_minutes, 1000));
        cJSON_AddNumberToObject(o, "actions", (double)res[k].actions);
        cJSON_AddNumberToObject(o, "peak_agents", (double)res[k].peak_agents);
    }
    return root;
}

/* ---- plot ----------------------------------------------------------------- */

static void s_xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

int af_sim_plot_svg(const char *path, const char *title, const af_sim_series_t s[AF_SIM_KINDS],
                    const af_sim_result_t res[AF_SIM_KINDS])
{
    FILE *f = fopen(path, "w");
    if (!f) {
        af_error("plot: cannot write path=%s err=%s", path, strerror(errno));
        return -1;
    }
    const double W = 960, PH = 230, L = 70, R = 20, T = 40, GAP = 30;
    double ymax = 1, xmax = 1;
    for (int k = 0; k < AF_SIM_KINDS; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            if (s[k].demand[i] > ymax) ymax = s[k].demand[i];
            if (s[k].capacity[i] > ymax) ymax = s[k].capacity[i];
            if (s[k].t[i] > xmax) xmax = s[k].t[i];
        }
    ymax *= 1.08;
    double H = T + AF_SIM_KINDS * (PH + GAP) + 20;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"16\">", L);
    s_xml_text(f, title);
    fprintf(f, ": demand (black) vs ready capacity (colour), sessions</text>\n");
    const char *colour[AF_SIM_KINDS] = {"#d62728", "#2ca02c", "#1f77b4"};
    bool hours = xmax > 3 * 3600;
    for (int k = 0; k < AF_SIM_KINDS; k++) {
        double y0 = T + k * (PH + GAP), pw = W - L - R;
        fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                   "stroke=\"#999\"/>\n", L, y0, pw, PH);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s: %.1f agent-h, %.1f min over "
                   "capacity, peak refused %.0f, %ld actions</text>\n",
                L + 8, y0 + 16, colour[k], af_sim_kind_name((af_sim_kind_t)k),
                res[k].agent_hours, res[k].overload_minutes, res[k].refused_peak,
                res[k].actions);
        for (int g = 0; g <= 4; g++) {
            double v = ymax * g / 4, y = y0 + PH - PH * g / 4;
            fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.0f</text>\n", L - 6,
                    y + 4, v);
            fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                    L, L + pw, y, y);
        }
        for (int g = 0; g <= 6; g++) {
            double x = L + pw * g / 6, v = xmax * g / 6;
            fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.1f%s</text>\n", x,
                    y0 + PH + 14, hours ? v / 3600 : v / 60, hours ? " h" : " min");
        }
        const double *series[2] = {s[k].demand, s[k].capacity};
        const char *stroke[2] = {"#000", colour[k]};
        for (int j = 0; j < 2; j++) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"",
                    stroke[j], j ? "1.6" : "1.2");
            for (size_t i = 0; i < s[k].n; i++)
                fprintf(f, "%.1f,%.1f ", L + pw * s[k].t[i] / xmax,
                        y0 + PH - PH * series[j][i] / ymax);
            fprintf(f, "\"/>\n");
        }
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        af_error("plot: write failed path=%s", path);
        return -1;
    }
    return 0;
}

/* ---- the --simulate command ------------------------------------------------ */

int af_sim_compare(const char *path, const af_sim_config_t *cfg, bool json, const char *plot,
                   FILE *out)
{
    char err[300];
    af_trace_t *trace = af_trace_load(path, err, sizeof err);
    if (!trace) {
        af_error("simulate: %s", err);
        return -1;
    }
    af_sim_result_t res[AF_SIM_KINDS];
    af_sim_series_t series[AF_SIM_KINDS];
    memset(series, 0, sizeof series);
    bool want_plot = plot && *plot;
    int rc = 0;
    for (int k = 0; k < AF_SIM_KINDS && rc == 0; k++)
        rc = af_sim_run(trace, cfg, (af_sim_kind_t)k, &res[k], want_plot ? &series[k] : NULL);
    if (rc == 0 && json) {
        cJSON *j = af_sim_report_json(res);
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;
        if (s)
            fprintf(out, "%s\n", s);
        else
            rc = -1;
        free(s);
        cJSON_Delete(j);
    } else if (rc == 0) {
        char title[600];
        snprintf(title, sizeof title,
                 "trace %s: %zu rows, %.1f h, peak %.0f sessions%s; every %.0f s, spawn delay "
                 "%.0f s, forecast lead %.0f s, %s steps, HPA target %.2f",
                 path, af_trace_rows(trace),
                 (af_trace_end(trace) - af_trace_start(trace)) / 3600.0, af_trace_peak(trace),
                 af_trace_has_rps(trace) ? " (with requests/s)" : "", cfg->interval_s,
                 cfg->spawn_delay_s, cfg->lead_s, cfg->policy.aggressive ? "aggressive" : "bounded",
                 cfg->hpa_target);
        af_sim_report_text(out, title, res);
    }
    if (rc == 0 && want_plot) {
        const char *base = strrchr(path, '/');
        rc = af_sim_plot_svg(plot, base ? base + 1 : path, series, res);
    }
    for (int k = 0; k < AF_SIM_KINDS; k++)
        af_sim_series_free(&series[k]);
    af_trace_destroy(&trace);
    return rc;
}
