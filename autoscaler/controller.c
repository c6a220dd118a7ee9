/* Evaluation cycle. See controller.h.
 *
 * Contract: every tick ends in exactly one of: skipped (busy), source error
 * (counted, logged), or a decision (counted, logged), which for an up/down
 * decision outside dry-run is followed by exactly one SCALE whose outcome is
 * logged and counted. The cooldown starts only once the manager accepted the
 * SCALE, so a refused or lost SCALE is retried at the next tick. */
#include "controller.h"

#include "actuator.h"
#include "forecast.h"
#include "http_client.h"
#include "log.h"
#include "metrics_http.h"
#include "mlink.h"
#include "scale_metrics.h"
#include "source_manager.h"
#include "source_prometheus.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_controller_t {
    af_controller_config_t cfg;
    struct event_base *base;
    af_policy_t *policy;
    af_predictor_t *predictor;
    af_mlink_t *link;
    af_http_client_t *http;
    af_source_prom_t *prom;
    af_scale_metrics_t metrics;
    af_metrics_http_t *metrics_http;
    struct event *tick;
    struct event *first; /* one-shot first evaluation */
    bool busy;
    bool stopping;       /* destroy: late callbacks (why "shutdown") do nothing */
    af_decision_t pending;   /* decision whose SCALE is in flight */
    double pending_now;
};

int af_controller_config_parse(af_controller_config_t *cfg, const char *source,
                               const char *codec, char *err, size_t errlen)
{
    if (!strcmp(source, "manager"))
        cfg->source = AF_SOURCE_MANAGER;
    else if (!strcmp(source, "prometheus"))
        cfg->source = AF_SOURCE_PROMETHEUS;
    else {
        snprintf(err, errlen, "--source: '%s' is not manager|prometheus", source);
        return -1;
    }
    if (af_codec_parse(codec, &cfg->codec) < 0) {
        snprintf(err, errlen, "--codec: '%s' is not cbor|json", codec);
        return -1;
    }
    return 0;
}

int af_controller_config_check(const af_controller_config_t *cfg, char *err, size_t errlen)
{
    if (af_policy_config_check(&cfg->policy, err, errlen) < 0)
        return -1;
    const char *bad = NULL;
    if (!(cfg->interval_s >= 0.05 && cfg->interval_s <= 86400))
        bad = "--interval-s must be in [0.05, 86400]";
    else if (!(cfg->timeout_s > 0 && cfg->timeout_s <= 600))
        bad = "--request-timeout-s must be in (0, 600]";
    else if (!(cfg->lead_s >= 0))
        bad = "--spawn-lead-s must be >= 0";
    else if (!(cfg->alpha > 0 && cfg->alpha <= 1) || !(cfg->beta > 0 && cfg->beta <= 1))
        bad = "--holt-alpha and --holt-beta must be in (0, 1]";
    else if (!cfg->manager || !*cfg->manager)
        bad = "--manager is empty";
    else if (cfg->source == AF_SOURCE_PROMETHEUS &&
             (!cfg->prometheus_url || strncmp(cfg->prometheus_url, "http", 4) != 0))
        bad = "--prometheus-url must be an http(s) URL";
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return -1;
    }
    char host[256];
    int port;
    if (af_config_hostport(cfg->metrics_listen, host, sizeof host, &port) < 0) {
        snprintf(err, errlen, "--metrics-listen: '%s' is not host:port", cfg->metrics_listen);
        return -1;
    }
    return 0;
}

static double s_now(void)
{
    return (double)af_now_ns() / 1e9;
}

static void s_done(af_controller_t *self)
{
    self->busy = false;
    af_metric_set(self->metrics.last_eval, (double)af_wall_ms() / 1000.0);
}

static void s_on_scaled(const af_scale_reply_t *reply, const char *why, void *arg)
{
    af_controller_t *self = arg;
    const af_decision_t *d = &self->pending;
    if (self->stopping)
        return;
    if (!reply) {
        af_metric_inc(self->metrics.scale_requests, "error");
        af_warn("scale failed target=%ld direction=%s why=\"%s\"", d->target,
                af_scale_dir_name(d->direction), why ? why : "?");
    } else {
        af_metric_inc(self->metrics.scale_requests, "ok");
        af_policy_record(self->policy, d, self->pending_now);
        af_info("scaled target=%ld manager_target=%ld current=%ld spawning=%ld draining=%ld",
                d->target, reply->target, reply->current, reply->spawning, reply->draining);
    }
    s_done(self);
}

static void s_on_sample(const af_sample_t *s, const char *why, void *arg)
{
    af_controller_t *self = arg;
    const char *src = self->cfg.source == AF_SOURCE_PROMETHEUS ? "prometheus" : "manager";
    if (self->stopping)
        return;
    if (!s) {
        af_metric_inc(self->metrics.source_errors, src);
        af_warn("no sample, evaluation skipped source=%s why=\"%s\"", src, why ? why : "?");
        self->busy = false;
        return;
    }
    const af_policy_config_t *pc = &self->cfg.policy;
    double now = s_now();
    long current = s->ready + s->spawning;
    bool saturated =
        s->saturated || (s->ready > 0 && s->sessions >= (double)s->ready * (double)pc->sessions_per_agent);
    af_policy_input_t in = {.now_s = now, .current = current, .sessions = s->sessions,
                            .forecast = -1, .forecast_hold = -1};
    if (self->predictor) {
        af_predictor_observe(self->predictor, now, s->sessions, s->rps, saturated);
        in.forecast = af_predictor_forecast(self->predictor, self->cfg.lead_s);
        in.forecast_hold = af_predictor_forecast(
            self->predictor, af_policy_hold_s(pc, self->cfg.interval_s, self->cfg.lead_s));
    }
    af_decision_t d;
    af_policy_decide(self->policy, &in, &d);

    af_metric_set(self->metrics.current, (double)current);
    af_metric_set(self->metrics.desired, (double)d.target);
    af_metric_set(self->metrics.utilization, d.utilization);
    af_metric_set(self->metrics.sessions, s->sessions);
    af_metric_set(self->metrics.forecast, in.forecast);
    af_metric_inc(self->metrics.decisions, af_scale_dir_name(d.direction), d.reason);
    af_info("decision direction=%s reason=%s target=%ld current=%ld ready=%ld spawning=%ld "
            "draining=%ld sessions=%.0f utilization=%.3f need=%ld reactive_target=%ld "
            "forecast=%.0f rps=%.2f saturated=%d cpu_cores=%.2f memory_bytes=%.0f pool=%ld source=%s%s",
            af_scale_dir_name(d.direction), d.reason, d.target, current, s->ready, s->spawning,
            s->draining, s->sessions, d.utilization, d.need, d.reactive_target, in.forecast,
            s->rps, saturated, s->cpu_cores, s->memory_bytes, s->pool, src,
            self->cfg.dry_run ? " dry_run=1" : "");

    if (d.direction == AF_SCALE_NONE) {
        s_done(self);
        return;
    }
    if (self->cfg.dry_run) {
        af_policy_record(self->policy, &d, now);
        s_done(self);
        return;
    }
    /* The policy sizes the whole fleet; SCALE moves pool agents only, so
     * agents users spawned themselves (counted in current, holding sessions)
     * are taken off the target. */
    long scale_target = d.target;
    if (s->pool >= 0 && current > s->pool) {
        scale_target = d.target - (current - s->pool);
        if (scale_target < 0)
            scale_target = 0;
    }
    char reason[200];
    snprintf(reason, sizeof reason, "%s: utilization %.2f, sessions %.0f, agents %ld -> %ld%s",
             d.reason, d.utilization, s->sessions, current, d.target,
             in.forecast >= 0 ? " (predictive)" : "");
    if (scale_target != d.target)
        af_info("scale pool target=%ld (fleet target %ld, %ld agents outside the pool)",
                scale_target, d.target, current - s->pool);
    self->pending = d;
    self->pending_now = now;
    if (af_actuator_scale(self->link, scale_target, reason, s_on_scaled, self) < 0) {
        af_metric_inc(self->metrics.scale_requests, "error");
        af_warn("cannot send SCALE target=%ld", d.target);
        s_done(self);
    }
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_controller_t *self = arg;
    if (self->busy) {
        af_debug("previous evaluation still running, tick skipped");
        return;
    }
    self->busy = true;
    int rc = self->cfg.source == AF_SOURCE_PROMETHEUS
                 ? af_source_prom_fetch(self->prom, s_on_sample, self)
                 : af_source_manager_fetch(self->link, s_on_sample, self);
    if (rc < 0) {
        self->busy = false;
        af_metric_inc(self->metrics.source_errors,
                      self->cfg.source == AF_SOURCE_PROMETHEUS ? "prometheus" : "manager");
        af_warn("cannot start a fetch, evaluation skipped");
    }
}

af_controller_t *af_controller_new(struct event_base *base, const af_controller_config_t *cfg)
{
    af_controller_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->base = base;
    if (af_scale_metrics_init(&self->metrics) < 0)
        goto fail;
    self->policy = af_policy_new(&cfg->policy);
    if (!self->policy)
        goto fail;
    if (cfg->predictive && !(self->predictor = af_predictor_new(cfg->alpha, cfg->beta)))
        goto fail;
    self->link = af_mlink_new(base, cfg->manager, cfg->codec, cfg->timeout_s);
    if (!self->link)
        goto fail;
    if (cfg->source == AF_SOURCE_PROMETHEUS) {
        self->http = af_http_client_new(base);
        if (!self->http ||
            !(self->prom = af_source_prom_new(self->http, cfg->prometheus_url, cfg->timeout_s)))
            goto fail;
    }
    self->metrics_http = af_metrics_http_new(base, self->metrics.registry, cfg->metrics_listen);
    if (!self->metrics_http)
        goto fail;
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    if (!self->tick)
        goto fail;
    struct timeval tv = {(time_t)cfg->interval_s,
                         (suseconds_t)((cfg->interval_s - floor(cfg->interval_s)) * 1e6)};
    event_add(self->tick, &tv);
    /* First evaluation soon, not at once: the DEALER's connect is still in
     * flight and ZMQ_IMMEDIATE would refuse the first STATS. */
    self->first = evtimer_new(base, s_on_tick, self);
    if (!self->first)
        goto fail;
    struct timeval soon = {0, 200000};
    if (cfg->interval_s < 0.2)
        soon = tv;
    evtimer_add(self->first, &soon);
    af_info("autoscaler started source=%s manager=%s metrics_port=%d interval_s=%.2f mode=%s%s%s "
            "min=%ld max=%ld up=%.2f down=%.2f cooldown_up_s=%.1f cooldown_down_s=%.1f",
            cfg->source == AF_SOURCE_PROMETHEUS ? "prometheus" : "manager", cfg->manager,
            af_metrics_http_port(self->metrics_http), cfg->interval_s,
            cfg->policy.aggressive ? "aggressive" : "stepped",
            cfg->predictive ? "+predictive" : "", cfg->dry_run ? " dry_run=1" : "",
            cfg->policy.min_agents, cfg->policy.max_agents, cfg->policy.up_threshold,
            cfg->policy.down_threshold, cfg->policy.cooldown_up_s, cfg->policy.cooldown_down_s);
    return self;
fail:
    af_error("autoscaler init failed");
    af_controller_destroy(&self);
    return NULL;
}

void af_controller_destroy(af_controller_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_controller_t *self = *self_p;
    self->stopping = true;
    if (self->tick)
        event_free(self->tick);
    if (self->first)
        event_free(self->first);
    af_metrics_http_destroy(&self->metrics_http);
    /* The client ends pending queries through their callbacks: cancel first so
     * no sample reaches a controller that is going away. */
    af_source_prom_cancel(self->prom);
    af_http_client_destroy(&self->http);
    af_source_prom_destroy(&self->prom);
    af_mlink_destroy(&self->link);
    af_predictor_destroy(&self->predictor);
    af_policy_destroy(&self->policy);
    af_scale_metrics_fini(&self->metrics);
    free(self);
    *self_p = NULL;
}

int af_controller_metrics_port(const af_controller_t *self)
{
    return af_metrics_http_port(self->metrics_http);
}
