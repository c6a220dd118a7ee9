/* A tiny stand-in agent for manager tests and bench/fleet: speaks the agent side
 * of AF1 with the manager exactly like agentd (READY with owner/spec/sessions/
 * metrics/token, WELCOME, HEARTBEAT both ways, ERROR not_registered -> READY at
 * once, silence -> READY with backoff, DRAIN -> OK + BYE + exit, SHUTDOWN ->
 * exit, SIGTERM -> BYE + exit) but holds no sessions and calls no API, so a
 * thousand of them fit on a laptop. Flags and env (AF_AGENTD_*) as agentd's.
 * Extra: --sessions N reports N live sessions. */
#include "codec.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "proto.h"
#include "util.h"
#include "zev.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *id, *owner, *image, *manager, *metrics_listen, *join_token, *codec_name, *log_level;
    long cores, memory_mb, heartbeat_ms, capacity, sessions;
    struct event_base *base;
    zsock_t *sock;
    af_zev_t *zev;
    struct event *tick;
    af_metrics_http_t *http;
    af_metrics_t *metrics;
    af_codec_t codec;
    char metrics_addr[64];
    int registered;
    uint64_t last_heard_ns, next_ready_ns, backoff_ms;
    unsigned long seq;
    int token_sent;
} s_agent_t;

static void s_send(s_agent_t *a, const char *verb, cJSON *body)
{
    char req[32];
    snprintf(req, sizeof req, "a%lu", ++a->seq);
    af_msg_t *m = af_msg_new(verb, req, body);
    af_proto_send(a->sock, &m, a->codec);
    af_zev_kick(a->zev);
}

static void s_ready(s_agent_t *a)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "agent_id", a->id);
    cJSON_AddStringToObject(b, "owner", a->owner);
    cJSON *spec = cJSON_AddObjectToObject(b, "spec");
    cJSON_AddNumberToObject(spec, "cores", (double)a->cores);
    cJSON_AddNumberToObject(spec, "memory_mb", (double)a->memory_mb);
    cJSON_AddStringToObject(spec, "image", a->image);
    cJSON_AddNumberToObject(b, "capacity", (double)a->capacity);
    cJSON *ss = cJSON_AddArrayToObject(b, "sessions");
    for (long i = 0; i < a->sessions; i++) {
        char sid[32];
        snprintf(sid, sizeof sid, "se_h%ld", i);
        cJSON_AddItemToArray(ss, cJSON_CreateString(sid));
    }
    cJSON_AddStringToObject(b, "metrics", a->metrics_addr);
    cJSON_AddStringToObject(b, "version", AF_VERSION);
    if (a->join_token && *a->join_token && !a->token_sent)
        cJSON_AddStringToObject(b, "token", a->join_token);
    s_send(a, "READY", b);
}

static void s_leave(s_agent_t *a, const char *reason)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "reason", reason);
    s_send(a, "BYE", b);
    event_base_loopexit(a->base, NULL);
}

static void s_on_msg(zsock_t *sock, void *arg)
{
    s_agent_t *a = arg;
    af_msg_t *m = NULL;
    af_proto_err_t err;
    if (af_proto_recv(sock, false, AF_PROTO_MAX_BODY_DEFAULT, false, a->codec, &m, &err) != 0)
        return;
    a->last_heard_ns = af_now_ns();
    if (!strcmp(m->verb, "WELCOME")) {
        a->registered = 1;
        a->backoff_ms = 1000;
        if (a->join_token && *a->join_token)
            a->token_sent = 1; /* one-time */
        long hb = (long)af_msg_num(m, "heartbeat_ms", (double)a->heartbeat_ms);
        if (hb != a->heartbeat_ms && hb >= 10) {
            a->heartbeat_ms = hb;
            struct timeval tv = {hb / 1000, (hb % 1000) * 1000};
            event_add(a->tick, &tv);
        }
        af_info("event=welcome agent_id=%s", a->id);
    } else if (!strcmp(m->verb, "ERROR")) {
        const char *code = af_msg_str(m, "code");
        if (code && !strcmp(code, "not_registered")) {
            a->registered = 0;
            s_ready(a);
        } else
            af_warn("event=manager_error code=%s message=\"%s\"", code ? code : "-",
                    af_msg_str(m, "message") ? af_msg_str(m, "message") : "");
    } else if (!strcmp(m->verb, "DRAIN")) {
        af_msg_t *ok = af_msg_reply(m, "OK", NULL);
        af_proto_send(a->sock, &ok, a->codec);
        s_leave(a, "drained");
    } else if (!strcmp(m->verb, "SHUTDOWN")) {
        event_base_loopexit(a->base, NULL);
    }
    af_msg_destroy(&m);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_agent_t *a = arg;
    uint64_t now = af_now_ns();
    if (a->registered && now - a->last_heard_ns > 3ULL * (uint64_t)a->heartbeat_ms * 1000000ULL) {
        a->registered = 0; /* manager silent: register again, with backoff */
        a->backoff_ms = 1000;
        a->next_ready_ns = 0;
    }
    if (a->registered) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "sessions", (double)a->sessions);
        cJSON_AddBoolToObject(b, "draining", 0);
        s_send(a, "HEARTBEAT", b);
    } else if (now >= a->next_ready_ns) {
        s_ready(a);
        a->next_ready_ns = now + a->backoff_ms * 1000000ULL;
        a->backoff_ms = a->backoff_ms * 2 > 30000 ? 30000 : a->backoff_ms * 2;
    }
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    s_leave(arg, "sigterm");
}

int main(int argc, char **argv)
{
    s_agent_t a = {0};
    af_opt_t opts[] = {
        {"id", AF_OPT_STR, &a.id, NULL, "agent id", false},
        {"owner", AF_OPT_STR, &a.owner, "pool", "owner", false},
        {"cores", AF_OPT_INT, &a.cores, "1", "cores", false},
        {"memory-mb", AF_OPT_INT, &a.memory_mb, "512", "memory", false},
        {"image", AF_OPT_STR, &a.image, "agentd:latest", "image", false},
        {"manager", AF_OPT_STR, &a.manager, "tcp://127.0.0.1:5550", "manager endpoint", false},
        {"heartbeat-ms", AF_OPT_INT, &a.heartbeat_ms, "1000", "heartbeat", false},
        {"metrics-listen", AF_OPT_STR, &a.metrics_listen, "127.0.0.1:0", "metrics", false},
        {"join-token", AF_OPT_STR, &a.join_token, NULL, "join token", true},
        {"capacity", AF_OPT_INT, &a.capacity, "100", "capacity", false},
        {"sessions", AF_OPT_INT, &a.sessions, "0", "sessions to report", false},
        {"codec", AF_OPT_STR, &a.codec_name, "cbor", "codec", false},
        {"log-level", AF_OPT_STR, &a.log_level, "warn", "log level", false},
        {0},
    };
    af_log_init("harness-agent", AF_LOG_WARN);
    int rc = af_config_load(opts, "agentd", "manager test agent", argc, argv);
    if (rc != AF_CONFIG_RUN) {
        af_config_free(opts);
        return rc < 0 ? 2 : 0;
    }
    af_log_level_t lvl;
    if (af_log_level_parse(a.log_level, &lvl) == 0)
        af_log_set_level(lvl);
    af_codec_parse(a.codec_name, &a.codec);
    char idbuf[64];
    if (!a.id || !*a.id) {
        af_id_new(idbuf, sizeof idbuf, "ag_");
        free(a.id);
        a.id = strdup(idbuf);
    }
    zsys_init();
    zsys_handler_set(NULL);
    a.base = event_base_new();
    a.metrics = af_metrics_new();
    a.http = af_metrics_http_new(a.base, a.metrics, a.metrics_listen);
    snprintf(a.metrics_addr, sizeof a.metrics_addr, "127.0.0.1:%d",
             a.http ? af_metrics_http_port(a.http) : 0);
    a.sock = zsock_new(ZMQ_DEALER);
    zsock_set_identity(a.sock, a.id);
    zsock_set_linger(a.sock, 500);
    if (zsock_connect(a.sock, "%s", a.manager) < 0) {
        fprintf(stderr, "cannot connect %s\n", a.manager);
        return 1;
    }
    a.zev = af_zev_new(a.base, a.sock, s_on_msg, &a, 0);
    a.backoff_ms = 1000;
    a.tick = event_new(a.base, -1, EV_PERSIST, s_on_tick, &a);
    struct timeval tv = {a.heartbeat_ms / 1000, (a.heartbeat_ms % 1000) * 1000};
    event_add(a.tick, &tv);
    struct event *st = evsignal_new(a.base, SIGTERM, s_on_signal, &a);
    struct event *si = evsignal_new(a.base, SIGINT, s_on_signal, &a);
    evsignal_add(st, NULL);
    evsignal_add(si, NULL);
    s_ready(&a);
    a.next_ready_ns = af_now_ns() + 1000000000ULL;
    event_base_dispatch(a.base);
    event_free(st);
    event_free(si);
    event_free(a.tick);
    af_zev_destroy(&a.zev);
    zsock_destroy(&a.sock);
    af_metrics_http_destroy(&a.http);
    af_metrics_destroy(&a.metrics);
    event_base_free(a.base);
    af_config_free(opts);
    zsys_shutdown();
    return 0;
}
