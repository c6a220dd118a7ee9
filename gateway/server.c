/* HTTP dispatcher. See server.h.
 * Contract with evhttp: s_on_request answers every request exactly once,
 * directly or through the handler it calls (api.h). */
#include "server.h"

#include "api.h"
#include "api_usage.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "overload.h"
#include "proto.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum {
    F_PUBLIC = 1 << 0,   /* no auth, no rate limit */
    F_BODY = 1 << 1,     /* a JSON body is required */
    F_BODY_OPT = 1 << 2, /* a JSON body is optional */
};

typedef struct {
    af_gw_req_fn *fn;
    unsigned flags;
} s_handler_t;

enum {
    R_AGENTS_CREATE, R_AGENTS_SPAWN, R_AGENTS_LIST, R_AGENTS_DELETE_ALIAS, R_AGENTS_GET,
    R_AGENTS_DELETE, R_AGENT_CHAT, R_CHAT, R_SESSION_GET, R_SESSION_DELETE, R_STATS, R_SCALE,
    R_MESSAGES, R_HEALTHZ, R_READYZ, R_METRICS, R_USAGE, R_BUDGET_RESET, R_COUNT
};

/* Literal patterns before captures: /v1/agents/spawn must not read as an id. */
static const af_route_t s_routes[] = {
    {"/v1/agents", AF_M_POST, R_AGENTS_CREATE},
    {"/v1/agents", AF_M_GET, R_AGENTS_LIST},
    {"/v1/agents/spawn", AF_M_POST, R_AGENTS_SPAWN},
    {"/v1/agents/delete", AF_M_DELETE, R_AGENTS_DELETE_ALIAS},
    {"/v1/agents/{id}", AF_M_GET, R_AGENTS_GET},
    {"/v1/agents/{id}", AF_M_DELETE, R_AGENTS_DELETE},
    {"/v1/agents/{id}/chat", AF_M_POST, R_AGENT_CHAT},
    {"/v1/chat", AF_M_POST, R_CHAT},
    {"/v1/sessions/{id}", AF_M_GET, R_SESSION_GET},
    {"/v1/sessions/{id}", AF_M_DELETE, R_SESSION_DELETE},
    {"/v1/stats", AF_M_GET, R_STATS},
    {"/v1/scale", AF_M_POST, R_SCALE},
    {"/v1/messages", AF_M_POST, R_MESSAGES},
    {"/healthz", AF_M_GET, R_HEALTHZ},
    {"/readyz", AF_M_GET, R_READYZ},
    {"/metrics", AF_M_GET, R_METRICS},
    {"/v1/usage", AF_M_GET, R_USAGE},
    {"/v1/budgets/{id}/reset", AF_M_POST, R_BUDGET_RESET},
    {NULL, 0, 0},
};

static const s_handler_t s_handlers[R_COUNT] = {
    [R_AGENTS_CREATE] = {af_api_agents_create, F_BODY_OPT},
    [R_AGENTS_SPAWN] = {af_api_agents_create, F_BODY_OPT},
    [R_AGENTS_LIST] = {af_api_agents_list, 0},
    [R_AGENTS_DELETE_ALIAS] = {af_api_agents_delete_alias, F_BODY},
    [R_AGENTS_GET] = {af_api_agents_get, 0},
    [R_AGENTS_DELETE] = {af_api_agents_delete, 0},
    [R_AGENT_CHAT] = {af_api_chat_agent, F_BODY},
    [R_CHAT] = {af_api_chat_pool, F_BODY},
    [R_SESSION_GET] = {af_api_session_get, 0},
    [R_SESSION_DELETE] = {af_api_session_delete, 0},
    [R_STATS] = {af_api_stats, 0},
    [R_SCALE] = {af_api_scale, F_BODY},
    [R_MESSAGES] = {af_api_messages, F_BODY},
    [R_HEALTHZ] = {af_api_healthz, F_PUBLIC},
    [R_READYZ] = {af_api_readyz, F_PUBLIC},
    [R_METRICS] = {af_api_metrics, F_PUBLIC},
    [R_USAGE] = {af_api_usage, 0},
    [R_BUDGET_RESET] = {af_api_budget_reset, 0},
};

struct af_gw_server_t {
    af_gw_t *gw;
    struct evhttp *http, *https;
    struct evhttp_bound_socket *bound, *tls_bound;
    int port, tls_port;
};

static double s_ip_buckets(void *arg)
{
    af_gw_t *gw = arg;
    return gw->ip_limit ? (double)af_ratelimit_size(gw->ip_limit) : 0;
}

static double s_user_buckets(void *arg)
{
    af_gw_t *gw = arg;
    return gw->user_limit ? (double)af_ratelimit_size(gw->user_limit) : 0;
}

static double s_routes_count(void *arg)
{
    af_gw_t *gw = arg;
    return gw->routes ? (double)af_route_store_count(gw->routes) : 0;
}

static double s_agents_connected(void *arg)
{
    af_gw_t *gw = arg;
    return gw->agents ? (double)af_alink_ready_agents(gw->agents) : 0;
}

int af_gw_metrics_register(af_gw_t *gw)
{
    static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,   0.5,   1,      2.5,   5,    10,    30,    60};
    af_metrics_t *m = gw->metrics;
    gw->m_requests = af_metrics_counter(m, "gateway_requests_total",
                                        "HTTP requests by route pattern and status", "route,code");
    gw->m_duration = af_metrics_histogram(m, "gateway_request_duration_seconds",
                                          "HTTP request time to the last byte", "route", bounds,
                                          sizeof bounds / sizeof bounds[0]);
    gw->m_inflight = af_metrics_gauge(m, "gateway_inflight_requests",
                                      "HTTP requests being served", NULL);
    gw->m_rate_limited = af_metrics_counter(m, "gateway_rate_limited_total",
                                            "Requests refused with 429 by scope", "scope");
    gw->m_auth_failures = af_metrics_counter(m, "gateway_auth_failures_total",
                                             "Requests refused with 401 by reason", "reason");
    gw->m_upstream_errors = af_metrics_counter(
        m, "gateway_upstream_errors_total", "Failed manager/agent calls by code", "code");
    if (!gw->m_requests || !gw->m_duration || !gw->m_inflight || !gw->m_rate_limited ||
        !gw->m_auth_failures || !gw->m_upstream_errors || !af_proto_metrics_add(m))
        return -1;
    /* Bounded tables are only believable if their size can be watched. */
    if (!af_metrics_callback(m, "gateway_rate_buckets_ip", "Per-IP token buckets held",
                             AF_METRIC_GAUGE, s_ip_buckets, gw) ||
        !af_metrics_callback(m, "gateway_rate_buckets_user", "Per-user token buckets held",
                             AF_METRIC_GAUGE, s_user_buckets, gw) ||
        !af_metrics_callback(m, "gateway_session_routes", "Session routes held in memory",
                             AF_METRIC_GAUGE, s_routes_count, gw) ||
        !af_metrics_callback(m, "gateway_agents_ready", "Agents connected and not draining",
                             AF_METRIC_GAUGE, s_agents_connected, gw))
        return -1;
    return 0;
}

static int s_method_bit(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return AF_M_GET;
    case EVHTTP_REQ_POST: return AF_M_POST;
    case EVHTTP_REQ_HEAD: return AF_M_HEAD;
    case EVHTTP_REQ_PUT: return AF_M_PUT;
    case EVHTTP_REQ_DELETE: return AF_M_DELETE;
    case EVHTTP_REQ_OPTIONS: return AF_M_OPTIONS;
    default: return 0;
    }
}

static bool s_rate_ok(af_gw_req_t *r, af_ratelimit_t *lim, const char *key, const char *scope)
{
    double retry = 0;
    if (!lim || af_ratelimit_take(lim, key, af_now_ns(), &retry))
        return true;
    af_metric_inc(r->gw->m_rate_limited, scope);
    af_gw_reply_retry(r, 429, "rate_limit_error", retry,
                      "rate limit exceeded (%s); retry after %.1f s", scope, retry);
    return false;
}

static void s_on_request(struct evhttp_request *ev, void *arg)
{
    af_gw_t *gw = arg;
    if (!evhttp_request_get_uri(ev)) {
        /* evhttp's error path for a broken request: it expects one reply. */
        evhttp_send_error(ev, 400, "Bad Request");
        return;
    }
    af_gw_req_t *r = af_gw_req_new(gw, ev);
    if (!r) {
        evhttp_send_error(ev, 503, "Service Unavailable");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    if (gw->draining && strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
        af_gw_reply_retry(r, 503, "overloaded_error", 1, AF_GW_DRAINING_MSG);
        return;
    }
    int method = s_method_bit(evhttp_request_get_command(ev));
    switch (af_routes_match(s_routes, path, method, &r->match)) {
    case AF_ROUTE_NOT_FOUND:
        af_gw_reply_error(r, 404, "not_found_error", "no route for %.200s", path);
        return;
    case AF_ROUTE_BAD_METHOD:
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow", r->match.allow);
        af_gw_reply_error(r, 405, "invalid_request_error", "method not allowed on %.200s; allowed: %s",
                          path, r->match.allow);
        return;
    case AF_ROUTE_FOUND:
        break;
    }
    r->route = r->match.route->pattern;
    const s_handler_t *h = &s_handlers[r->match.route->id];
    if (h->flags & F_PUBLIC) {
        h->fn(r);
        return;
    }
    if (!af_overload_admit(r))
        return;
    if (!s_rate_ok(r, gw->ip_limit, r->ip, "ip"))
        return;

    struct evkeyvalq *in = evhttp_request_get_input_headers(ev);
    char reason[256];
    af_auth_result_t ar = af_auth_check(gw->jwt, gw->keys, evhttp_find_header(in, "Authorization"),
                                        evhttp_find_header(in, "x-api-key"), (int64_t)time(NULL),
                                        &r->who, reason, sizeof reason);
    if (ar != AF_AUTH_OK) {
        af_metric_inc(gw->m_auth_failures, af_auth_result_name(ar));
        af_gw_audit(r, "auth_failure", 401, af_auth_result_name(ar), reason);
        af_info("event=auth_failure ip=%s request_id=%s reason=\"%s\"", r->ip, r->id, reason);
        evhttp_add_header(evhttp_request_get_output_headers(ev), "WWW-Authenticate",
                          ar == AF_AUTH_MISSING
                              ? "Bearer realm=\"agentfleet\""
                              : "Bearer realm=\"agentfleet\", error=\"invalid_token\"");
        af_gw_reply_error(r, 401, "authentication_error", "%s", reason);
        return;
    }
    r->authed = true;
    if (!s_rate_ok(r, gw->user_limit, r->who.user, "user"))
        return;

    if (h->flags & (F_BODY | F_BODY_OPT)) {
        size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(ev));
        if (len == 0 && (h->flags & F_BODY_OPT)) {
            r->body = NULL;
        } else {
            int status = 400;
            char err[256];
            r->body = af_http_read_json(ev, gw->max_body, &status, err, sizeof err);
            if (!r->body) {
                af_gw_reply_error(r, status, status == 413 ? "request_too_large"
                                                           : "invalid_request_error",
                                  "%s", err);
                return;
            }
        }
    }
    h->fn(r);
}

static struct evhttp *s_listen(af_gw_server_t *self, const char *listen, int *port_out,
                              struct evhttp_bound_socket **bound_out)
{
    char host[256];
    int port;
    if (af_config_hostport(listen, host, sizeof host, &port) < 0) {
        af_error("event=bad_listen listen=%s", listen);
        return NULL;
    }
    struct evhttp *http = evhttp_new(self->gw->base);
    if (!http)
        return NULL;
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
    *bound_out = bs;
    if (!bs) {
        af_error("event=bind_failed listen=%s", listen);
        evhttp_free(http);
        return NULL;
    }
    /* SSE events are small separate writes: without TCP_NODELAY, Nagle holds
     * each one for the client's delayed ACK (~40 ms). Set once here: Linux
     * gives accepted sockets the listener's TCP_NODELAY. */
    int one = 1;
    if (setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        af_warn("event=nodelay_failed listen=%s errno=%d", listen, errno);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
        *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                         EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(http, (ev_ssize_t)16 * 1024);
    /* Bodies up to 4x the limit reach us and get our JSON 413; beyond that
     * evhttp refuses on its own (also 413) without buffering them. */
    evhttp_set_max_body_size(http, (ev_ssize_t)(self->gw->max_body * 4 + 4096));
    evhttp_set_timeout(http, 120);
    evhttp_set_gencb(http, s_on_request, self->gw);
    return http;
}

af_gw_server_t *af_gw_server_new(af_gw_t *gw, const char *listen, const char *tls_listen,
                                 af_tls_t *tls)
{
    af_gw_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->gw = gw;
    self->http = s_listen(self, listen, &self->port, &self->bound);
    if (!self->http)
        goto fail;
    if (tls_listen && *tls_listen) {
        if (!tls) {
            af_error("event=tls_not_configured tls_listen=%s", tls_listen);
            goto fail;
        }
        self->https = s_listen(self, tls_listen, &self->tls_port, &self->tls_bound);
        if (!self->https)
            goto fail;
        af_tls_attach(tls, self->https);
    }
    af_info("event=listening http=%d https=%d", self->port, self->tls_port);
    return self;
fail:
    af_gw_server_destroy(&self);
    return NULL;
}

void af_gw_server_destroy(af_gw_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->http)
        evhttp_free((*self_p)->http);
    if ((*self_p)->https)
        evhttp_free((*self_p)->https);
    free(*self_p);
    *self_p = NULL;
}

void af_gw_server_stop_accepting(af_gw_server_t *self)
{
    if (self->http && self->bound)
        evhttp_del_accept_socket(self->http, self->bound);
    if (self->https && self->tls_bound)
        evhttp_del_accept_socket(self->https, self->tls_bound);
    self->bound = self->tls_bound = NULL;
}

int af_gw_server_port(const af_gw_server_t *self) { return self->port; }
int af_gw_server_tls_port(const af_gw_server_t *self) { return self->tls_port; }
