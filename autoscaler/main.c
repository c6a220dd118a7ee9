/* autoscaler: keeps the fleet between min and max agents by the policy in
 * policy.c, reading load from the manager's STATS or Prometheus and acting
 * through the manager's SCALE; or, with --simulate, replays a load trace through
 * the same policy code and prints a comparison. main only parses the
 * configuration and wires modules: defaults -> config -> init -> listeners -> loop. */
#include "config.h"
#include "controller.h"
#include "curve.h"
#include "log.h"
#include "privdrop.h"
#include "simulate.h"

#include <event2/event.h>
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *manager, *metrics_listen, *source, *prometheus_url, *simulate, *plot, *codec,
        *log_level;
    double interval_s, up, down, cooldown_up_s, cooldown_down_s, step_up, step_down;
    double spawn_lead_s, spawn_delay_s, alpha, beta, hpa_target, request_timeout_s;
    long min_agents, max_agents, sessions_per_agent;
    bool aggressive, predictive, json, dry_run;
    char *curve_dir, *user; /* security: common/curve.h, common/privdrop.h */
} s_opts_t;

static int s_check_simulate(const s_opts_t *o, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (!(o->spawn_delay_s >= 0 && o->spawn_delay_s <= 86400))
        bad = "--spawn-delay must be in [0, 86400]";
    else if (!(o->hpa_target > 0 && o->hpa_target <= 10))
        bad = "--hpa-target must be in (0, 10]";
    else if (*o->simulate && !(o->interval_s >= 1))
        bad = "--interval-s must be >= 1 with --simulate (it steps whole seconds)";
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return -1;
    }
    return 0;
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    af_info("signal %d: shutting down", (int)sig);
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    /* A peer (HTTP client, log pipe, upstream) that goes away must cost an
     * EPIPE on that write, not the whole daemon. */
    signal(SIGPIPE, SIG_IGN);
    s_opts_t o;
    memset(&o, 0, sizeof o);
    af_opt_t opts[] = {
        {"manager", AF_OPT_STR, &o.manager, "tcp://127.0.0.1:5550", "manager control endpoint", false},
        {"metrics-listen", AF_OPT_STR, &o.metrics_listen, "127.0.0.1:9102", "serve /metrics on host:port", false},
        {"interval-s", AF_OPT_DOUBLE, &o.interval_s, "30", "evaluation period in seconds", false},
        {"up-threshold", AF_OPT_DOUBLE, &o.up, "0.8", "scale up above this utilization", false},
        {"down-threshold", AF_OPT_DOUBLE, &o.down, "0.3", "scale down below this utilization", false},
        {"cooldown-up-s", AF_OPT_DOUBLE, &o.cooldown_up_s, "120", "a scale-up waits this long after any action", false},
        {"cooldown-down-s", AF_OPT_DOUBLE, &o.cooldown_down_s, "300", "a scale-down waits this long after any action", false},
        {"min-agents", AF_OPT_INT, &o.min_agents, "10", "never fewer agents", false},
        {"max-agents", AF_OPT_INT, &o.max_agents, "1000", "never more agents", false},
        {"sessions-per-agent", AF_OPT_INT, &o.sessions_per_agent, "100", "sessions one agent holds", false},
        {"aggressive", AF_OPT_BOOL, &o.aggressive, "false", "jump straight to the target instead of bounded steps", false},
        {"predictive", AF_OPT_BOOL, &o.predictive, "false", "also scale on forecast demand one spawn lead ahead (never below reactive)", false},
        {"step-up", AF_OPT_DOUBLE, &o.step_up, "0.5", "bounded step up, fraction of current", false},
        {"step-down", AF_OPT_DOUBLE, &o.step_down, "0.1", "bounded step down, fraction of current", false},
        {"spawn-lead-s", AF_OPT_DOUBLE, &o.spawn_lead_s, "60", "forecast horizon: how long an agent takes to be ready", false},
        {"holt-alpha", AF_OPT_DOUBLE, &o.alpha, "0.8", "forecast level smoothing (0..1]", false},
        {"holt-beta", AF_OPT_DOUBLE, &o.beta, "0.6", "forecast trend smoothing (0..1]", false},
        {"source", AF_OPT_STR, &o.source, "manager", "metrics source: manager | prometheus", false},
        {"prometheus-url", AF_OPT_STR, &o.prometheus_url, "http://127.0.0.1:9090", "Prometheus base URL", false},
        {"request-timeout-s", AF_OPT_DOUBLE, &o.request_timeout_s, "5", "STATS/SCALE/Prometheus timeout", false},
        {"dry-run", AF_OPT_BOOL, &o.dry_run, "false", "decide and log, but send no SCALE", false},
        {"simulate", AF_OPT_STR, &o.simulate, NULL, "replay this trace CSV (seconds,sessions[,rps]) and exit", false},
        {"json", AF_OPT_BOOL, &o.json, "false", "simulate: print the report as JSON", false},
        {"spawn-delay", AF_OPT_DOUBLE, &o.spawn_delay_s, "60", "simulate: seconds from SCALE to a ready agent", false},
        {"hpa-target", AF_OPT_DOUBLE, &o.hpa_target, "0.8", "simulate: HPA baseline's target utilization", false},
        {"plot", AF_OPT_STR, &o.plot, NULL, "simulate: write an SVG of demand vs capacity here", false},
        {"codec", AF_OPT_STR, &o.codec, "cbor", "wire codec: cbor | json", false},
        {"log-level", AF_OPT_STR, &o.log_level, "info", "debug | info | warn | error", false},
        {"curve-dir", AF_OPT_STR, &o.curve_dir, NULL,
         "CURVE certificate directory (scripts/make-certs.sh); empty: plaintext", false},
        {"user", AF_OPT_STR, &o.user, NULL, "when started as root, run as this user after binding",
         false},
        {NULL, 0, NULL, NULL, NULL, false},
    };
    int rc = af_config_load(opts, "autoscaler",
                            "Scales the agent fleet on load (reactive, aggressive, predictive); "
                            "--simulate replays a trace.",
                            argc, argv);
    if (rc == AF_CONFIG_EXIT_OK || rc < 0) {
        af_config_free(opts);
        return rc < 0 ? 2 : 0;
    }
    bool check = rc == AF_CONFIG_CHECK;

    af_log_level_t level;
    if (af_log_level_parse(o.log_level, &level) < 0) {
        fprintf(stderr, "error: --log-level: '%s' is not debug|info|warn|error\n", o.log_level);
        af_config_free(opts);
        return 2;
    }
    af_log_init("autoscaler", level);

    af_policy_config_t pc;
    af_policy_config_defaults(&pc);
    pc.up_threshold = o.up;
    pc.down_threshold = o.down;
    pc.cooldown_up_s = o.cooldown_up_s;
    pc.cooldown_down_s = o.cooldown_down_s;
    pc.min_agents = o.min_agents;
    pc.max_agents = o.max_agents;
    pc.sessions_per_agent = o.sessions_per_agent;
    pc.aggressive = o.aggressive;
    pc.step_up = o.step_up;
    pc.step_down = o.step_down;

    af_controller_config_t cc = {
        .policy = pc,
        .manager = o.manager,
        .metrics_listen = o.metrics_listen,
        .prometheus_url = o.prometheus_url,
        .interval_s = o.interval_s,
        .timeout_s = o.request_timeout_s,
        .predictive = o.predictive,
        .lead_s = o.spawn_lead_s,
        .alpha = o.alpha,
        .beta = o.beta,
        .dry_run = o.dry_run,
    };
    char err[256];
    if (af_controller_config_parse(&cc, o.source, o.codec, err, sizeof err) < 0 ||
        af_controller_config_check(&cc, err, sizeof err) < 0 ||
        s_check_simulate(&o, err, sizeof err) < 0) {
        fprintf(stderr, "error: %s\n", err);
        af_config_free(opts);
        return 2;
    }
    if (check) {
        printf("configuration OK\n");
        af_config_free(opts);
        return 0;
    }

    if (*o.simulate) {
        af_sim_config_t sc;
        af_sim_config_defaults(&sc);
        sc.policy = pc;
        sc.interval_s = o.interval_s;
        sc.spawn_delay_s = o.spawn_delay_s;
        sc.lead_s = o.spawn_lead_s;
        sc.alpha = o.alpha;
        sc.beta = o.beta;
        sc.hpa_target = o.hpa_target;
        rc = af_sim_compare(o.simulate, &sc, o.json, o.plot, stdout) < 0 ? 1 : 0;
        af_config_free(opts);
        return rc;
    }

    /* init -> listeners -> loop */
    struct event_base *base = event_base_new();
    af_controller_t *ctl =
        base && af_curve_init(base, o.curve_dir, "autoscaler") == 0 ? af_controller_new(base, &cc)
                                                                     : NULL;
    if (ctl && af_privdrop(o.user) < 0)
        af_controller_destroy(&ctl);
    struct event *sigterm = NULL, *sigint = NULL;
    rc = 1;
    if (ctl) {
        sigterm = evsignal_new(base, SIGTERM, s_on_signal, base);
        sigint = evsignal_new(base, SIGINT, s_on_signal, base);
        if (sigterm && sigint && evsignal_add(sigterm, NULL) == 0 &&
            evsignal_add(sigint, NULL) == 0 && event_base_dispatch(base) >= 0)
            rc = 0;
        af_info("autoscaler stopped");
    }
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    af_controller_destroy(&ctl);
    af_curve_shutdown();
    if (base)
        event_base_free(base);
    af_config_free(opts);
    return rc;
}
