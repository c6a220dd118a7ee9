/* A stand-in manager for the autoscaler's integration scenarios: binds a
 * control ROUTER, answers STATS from a small fleet model and records every
 * SCALE it gets (one line per request in --scale-log: "ms target reason").
 * Live sessions come from --sessions-file (an integer, re-read on every STATS
 * and scrape, so a scenario changes load by rewriting it); sessions beyond
 * capacity are refused, as a real fleet would. It also serves /metrics with
 * agent_active_sessions, hypercore_agent_active_count and agent_requests_total
 * (demand x --rps-per-session, refused included), for a real Prometheus to
 * scrape. A scale-up's agents are ready --spawn-delay-ms later. With
 * --ports-file it binds ephemeral ports and says which (no port races with
 * other tests running at the same time). */
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "proto.h"
#include "util.h"
#include "zev.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *bind, *metrics_listen, *sessions_file, *scale_log, *codec_name, *ports_file;
    long agents, spawn_delay_ms, spa;
    af_codec_t codec;
    zsock_t *sock;
    af_zev_t *zev;
    struct event_base *base;
    long ready;
    long pending;
    uint64_t pending_at_ns;
    long stats_served, scales;
    double rps_per_session; /* offered requests/s per demanded session */
    double requests;        /* agent_requests_total: offered requests so far */
    uint64_t requests_ns;
} s_harness_t;

static void s_tick_fleet(s_harness_t *h)
{
    if (h->pending > 0 && af_now_ns() >= h->pending_at_ns) {
        h->ready += h->pending;
        h->pending = 0;
    }
}

static double s_demand(s_harness_t *h)
{
    FILE *f = fopen(h->sessions_file, "r");
    char buf[64];
    double v = 0;
    if (f) {
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            v = strtod(buf, &end);
            if (end == buf)
                v = 0;
        }
        fclose(f);
    }
    return v < 0 ? 0 : v;
}

static double s_sessions(s_harness_t *h)
{
    s_tick_fleet(h);
    double cap = (double)(h->ready * h->spa), d = s_demand(h);
    return d < cap ? d : cap;
}

static double s_metric_sessions(void *arg)
{
    return s_sessions(arg);
}

/* Requests are counted where they arrive, refused ones too: demand x rate. */
static double s_metric_requests(void *arg)
{
    s_harness_t *h = arg;
    uint64_t now = af_now_ns();
    if (h->requests_ns)
        h->requests += s_demand(h) * h->rps_per_session * (double)(now - h->requests_ns) / 1e9;
    h->requests_ns = now;
    return h->requests;
}

static double s_metric_agents(void *arg)
{
    s_harness_t *h = arg;
    s_tick_fleet(h);
    return (double)h->ready;
}

static void s_on_message(zsock_t *sock, void *arg)
{
    s_harness_t *h = arg;
    af_msg_t *msg = NULL;
    af_proto_err_t err;
    if (af_proto_recv(sock, true, (size_t)AF_PROTO_MAX_BODY_DEFAULT, true, h->codec, &msg, &err) != 0)
        return;
    cJSON *body = cJSON_CreateObject();
    const char *verb = "OK";
    if (!strcmp(msg->verb, "STATS")) {
        double sessions = s_sessions(h);
        cJSON *agents = cJSON_AddObjectToObject(body, "agents");
        cJSON_AddNumberToObject(agents, "spawning", (double)h->pending);
        cJSON_AddNumberToObject(agents, "ready", (double)h->ready);
        cJSON_AddNumberToObject(agents, "draining", 0);
        cJSON_AddNumberToObject(agents, "dead", 0);
        cJSON_AddNumberToObject(agents, "total", (double)(h->ready + h->pending));
        cJSON_AddNumberToObject(body, "pool", (double)(h->ready + h->pending));
        cJSON_AddNumberToObject(body, "sessions", sessions);
        cJSON_AddNumberToObject(body, "capacity", (double)(h->ready * h->spa));
        cJSON_AddNumberToObject(body, "utilization",
                                h->ready ? sessions / (double)(h->ready * h->spa) : 0);
        cJSON *sp = cJSON_AddObjectToObject(body, "spawn_seconds");
        cJSON_AddNumberToObject(sp, "count", 0);
        cJSON_AddNumberToObject(sp, "p50", 0);
        cJSON_AddNumberToObject(sp, "p99", 0);
        h->stats_served++;
    } else if (!strcmp(msg->verb, "SCALE")) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg->body, "target");
        const char *role = af_msg_str(msg, "role");
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || !role || strcmp(role, "admin") != 0) {
            verb = "ERROR";
            cJSON_AddStringToObject(body, "code", "invalid_request");
            cJSON_AddStringToObject(body, "message", "target (number) and role admin required");
        } else {
            long target = (long)t->valuedouble;
            s_tick_fleet(h);
            long cur = h->ready + h->pending;
            if (target > cur) {
                h->pending += target - cur;
                h->pending_at_ns = af_now_ns() + (uint64_t)h->spawn_delay_ms * 1000000ull;
            } else {
                long drop = cur - target;
                long from_pending = drop < h->pending ? drop : h->pending;
                h->pending -= from_pending;
                h->ready -= drop - from_pending;
            }
            h->scales++;
            FILE *f = fopen(h->scale_log, "a");
            if (f) {
                const char *reason = af_msg_str(msg, "reason");
                fprintf(f, "%llu %ld %s\n", (unsigned long long)af_wall_ms(), target,
                        reason ? reason : "");
                fclose(f);
            }
            cJSON_AddNumberToObject(body, "target", (double)target);
            cJSON_AddNumberToObject(body, "current", (double)h->ready);
            cJSON_AddNumberToObject(body, "spawning", (double)h->pending);
            cJSON_AddNumberToObject(body, "draining", 0);
        }
    } else {
        verb = "ERROR";
        cJSON_AddStringToObject(body, "code", "unknown_verb");
        cJSON_AddStringToObject(body, "message", "harness knows STATS and SCALE");
    }
    af_msg_t *reply = af_msg_reply(msg, verb, body);
    af_proto_send(sock, &reply, h->codec);
    af_msg_destroy(&msg);
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    s_harness_t h;
    memset(&h, 0, sizeof h);
    af_opt_t opts[] = {
        {"bind", AF_OPT_STR, &h.bind, "tcp://127.0.0.1:5550", "control ROUTER endpoint", false},
        {"metrics-listen", AF_OPT_STR, &h.metrics_listen, "127.0.0.1:0", "/metrics host:port", false},
        {"sessions-file", AF_OPT_STR, &h.sessions_file, NULL, "file holding the demand", false},
        {"scale-log", AF_OPT_STR, &h.scale_log, NULL, "append SCALE requests here", false},
        {"agents", AF_OPT_INT, &h.agents, "10", "ready agents at start", false},
        {"spawn-delay-ms", AF_OPT_INT, &h.spawn_delay_ms, "200", "scale-up to ready", false},
        {"sessions-per-agent", AF_OPT_INT, &h.spa, "100", "capacity per agent", false},
        {"codec", AF_OPT_STR, &h.codec_name, "cbor", "cbor | json", false},
        {"ports-file", AF_OPT_STR, &h.ports_file, NULL, "write \"control-port metrics-port\" here once bound (use --bind tcp://127.0.0.1:* and --metrics-listen 127.0.0.1:0)", false},
        {"rps-per-session", AF_OPT_DOUBLE, &h.rps_per_session, "0.05", "requests/s per session", false},
        {NULL, 0, NULL, NULL, NULL, false},
    };
    int rc = af_config_load(opts, "harness", "autoscaler test manager", argc, argv);
    if (rc != AF_CONFIG_RUN || !*h.sessions_file || !*h.scale_log ||
        af_codec_parse(h.codec_name, &h.codec) < 0) {
        if (rc == AF_CONFIG_RUN)
            fprintf(stderr, "harness: --sessions-file and --scale-log are required\n");
        af_config_free(opts);
        return rc == AF_CONFIG_EXIT_OK ? 0 : 2;
    }
    af_log_init("harness", AF_LOG_INFO);
    h.ready = h.agents;
    h.base = event_base_new();
    h.sock = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(h.sock, 1);
    zsock_set_linger(h.sock, 0);
    int ctl_port = zsock_bind(h.sock, "%s", h.bind);
    if (ctl_port < 0) {
        af_error("cannot bind %s", h.bind);
        zsock_destroy(&h.sock);
        event_base_free(h.base);
        af_config_free(opts);
        return 1;
    }
    h.zev = af_zev_new(h.base, h.sock, s_on_message, &h, 0);
    af_metrics_t *reg = af_metrics_new();
    af_metrics_callback(reg, "agent_active_sessions", "live sessions (harness fleet)",
                        AF_METRIC_GAUGE, s_metric_sessions, &h);
    af_metrics_callback(reg, "hypercore_agent_active_count", "ready agents (harness fleet)",
                        AF_METRIC_GAUGE, s_metric_agents, &h);
    af_metrics_callback(reg, "agent_requests_total", "offered requests (harness fleet)",
                        AF_METRIC_COUNTER, s_metric_requests, &h);
    af_metrics_add_process(reg);
    af_metrics_http_t *mh = af_metrics_http_new(h.base, reg, h.metrics_listen);
    if (!mh) {
        af_metrics_destroy(&reg);
        af_zev_destroy(&h.zev);
        zsock_destroy(&h.sock);
        event_base_free(h.base);
        af_config_free(opts);
        return 1;
    }
    if (*h.ports_file) {
        /* Written then renamed: a scenario polling for it never reads half. */
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp", h.ports_file);
        FILE *pf = fopen(tmp, "w");
        if (pf) {
            fprintf(pf, "%d %d\n", ctl_port, af_metrics_http_port(mh));
            fclose(pf);
            rename(tmp, h.ports_file);
        }
    }
    struct event *sig = evsignal_new(h.base, SIGTERM, s_on_signal, h.base);
    struct event *sig2 = evsignal_new(h.base, SIGINT, s_on_signal, h.base);
    evsignal_add(sig, NULL);
    evsignal_add(sig2, NULL);
    af_info("harness ready bind=%s metrics_port=%d agents=%ld", h.bind,
            af_metrics_http_port(mh), h.ready);
    event_base_dispatch(h.base);
    af_info("harness done stats=%ld scales=%ld", h.stats_served, h.scales);
    event_free(sig);
    event_free(sig2);
    af_metrics_http_destroy(&mh);
    af_metrics_destroy(&reg);
    af_zev_destroy(&h.zev);
    zsock_destroy(&h.sock);
    event_base_free(h.base);
    af_config_free(opts);
    return 0;
}
