/* HTTP routes of the fake Anthropic API. See server.h.
 * Contract: every request handed to s_route ends in exactly one reply, sent here
 * for checks that fail, or by the exchange it starts. */
#include "server.h"

#include "config.h"
#include "exchange.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "util.h"
#include "wire.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The real API's request size limit, answered with its JSON 413; evhttp itself
 * refuses (with a bare 413) only bodies past twice that, so memory stays bounded. */
#define S_MAX_BODY (32L * 1024 * 1024)
#define S_MAX_READ (2 * S_MAX_BODY)
/* Hung requests and slow streams stay open until the client goes away; evhttp's
 * default 50 s read timeout would cut them. */
#define S_IDLE_TIMEOUT_S 3600
/* GET /_last keeps at most this much of the last request body. */
#define S_LAST_MAX (1024UL * 1024)

struct fa_server_t {
    struct event_base *base;
    struct evhttp *http;
    int port;
    char listen[300];
    fa_knobs_t knobs;
    fa_stats_t stats;
    fa_env_t env;
    cJSON *last; /* what GET /_last shows: the last authenticated API request */
};

static const char *s_method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

static void s_log(struct evhttp_request *req, const char *path, int status, uint64_t t0)
{
    af_info("method=%s path=%s status=%d stream=0 words=0 ms=%.1f outcome=checked",
            s_method_name(evhttp_request_get_command(req)), path, status,
            (double)(af_now_ns() - t0) / 1e6);
}

/* An API error reply that the exchange never sees: counted, logged, sent. */
static void s_api_error(fa_server_t *self, struct evhttp_request *req, const char *path,
                        uint64_t t0, int status, const char *message)
{
    fa_stats_status(&self->stats, status);
    self->stats.completed++;
    af_http_reply_error(req, status, fa_wire_error_type(status), "%s", message);
    s_log(req, path, status, t0);
}

/* ---- POST /v1/messages ------------------------------------------------------ */

/* The key from x-api-key, else from "Authorization: Bearer"; NULL when neither. */
static const char *s_api_key(struct evkeyvalq *in)
{
    const char *key = evhttp_find_header(in, "x-api-key");
    if (key && *key)
        return key;
    const char *auth = evhttp_find_header(in, "authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7) && auth[7])
        return auth + 7;
    return NULL;
}

/* Remembers an authenticated API request for GET /_last (the key is left out). */
static void s_remember(fa_server_t *self, struct evkeyvalq *in, const char *path, const char *data,
                       size_t len)
{
    static const char *const names[] = {"anthropic-version", "anthropic-beta", "content-type",
                                        "user-agent", NULL};
    cJSON *last = cJSON_CreateObject();
    if (!last)
        return;
    cJSON_AddStringToObject(last, "path", path);
    cJSON *headers = cJSON_AddObjectToObject(last, "headers");
    for (const char *const *n = names; *n; n++) {
        const char *v = evhttp_find_header(in, *n);
        if (v)
            cJSON_AddStringToObject(headers, *n, v);
    }
    cJSON *body = len <= S_LAST_MAX ? cJSON_ParseWithLength(data, len) : NULL;
    if (body)
        cJSON_AddItemToObject(last, "body", body);
    else
        cJSON_AddNullToObject(last, "body");
    cJSON_AddNumberToObject(last, "body_bytes", (double)len);
    cJSON_Delete(self->last);
    self->last = last;
}

static void s_messages(fa_server_t *self, struct evhttp_request *req, const char *path, uint64_t t0)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *key = s_api_key(in);
    if (!key) {
        s_api_error(self, req, path, t0, 401, "x-api-key header is required");
        return;
    }
    if (self->knobs.api_key[0] && strcmp(key, self->knobs.api_key) != 0) {
        s_api_error(self, req, path, t0, 401, "invalid x-api-key");
        return;
    }
    const char *version = evhttp_find_header(in, "anthropic-version");
    if (!version || !*version) {
        s_api_error(self, req, path, t0, 400, "anthropic-version: header is required");
        return;
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    const char *data = len ? (const char *)evbuffer_pullup(body, -1) : "";
    s_remember(self, in, path, data, len);
    char err[512];
    fa_request_t *r = NULL;
    if (len > (size_t)S_MAX_BODY) {
        s_api_error(self, req, path, t0, 413,
                    "Request exceeds the maximum allowed number of bytes.");
        return;
    }
    if (len == 0)
        snprintf(err, sizeof err, "request body is empty; expected a JSON object");
    else
        r = fa_request_decode(data, len, err, sizeof err);
    if (!r) {
        s_api_error(self, req, path, t0, 400, err);
        return;
    }
    fa_fault_t fault = r->fault;
    if (fault.kind == FA_FAULT_NONE)
        fault = fa_knobs_take_fault(&self->knobs);
    if (fault.kind != FA_FAULT_NONE)
        self->stats.errors_injected++;
    fa_exchange_start(&self->env, req, &r, fault, t0);
}

/* ---- admin endpoints ----------------------------------------------------- */

static void s_config(fa_server_t *self, struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        int status = 400;
        char err[256];
        cJSON *j = af_http_read_json(req, 65536, &status, err, sizeof err);
        if (!j || fa_knobs_apply_json(&self->knobs, j, err, sizeof err) < 0) {
            cJSON_Delete(j);
            af_http_reply_error(req, status, "invalid_request_error", "%s", err);
            return;
        }
        cJSON_Delete(j);
        if (self->knobs.api_key[0])
            af_log_add_secret(self->knobs.api_key);
        char fault[32];
        af_info("knobs changed fault=%s fault_count=%ld latency_ms=%ld tokens_per_sec=%ld "
                "reply_words=%ld retry_after=%ld",
                fa_fault_name(self->knobs.fault, fault, sizeof fault), self->knobs.fault_count,
                self->knobs.latency_ms, self->knobs.tokens_per_sec, self->knobs.reply_words,
                self->knobs.retry_after);
    }
    cJSON *out = fa_knobs_to_json(&self->knobs);
    cJSON_AddStringToObject(out, "listen", self->listen);
    cJSON_AddNumberToObject(out, "port", self->port);
    af_http_reply_json(req, 200, out);
    cJSON_Delete(out);
}

static void s_stats(fa_server_t *self, struct evhttp_request *req)
{
    cJSON *out = fa_stats_to_json(&self->stats);
    af_http_reply_json(req, 200, out);
    cJSON_Delete(out);
}

/* ---- routing -------------------------------------------------------------- */

typedef enum { S_API, S_ADMIN } s_kind_t;

typedef struct {
    const char *path;
    enum evhttp_cmd_type method; /* the only one allowed (plus GET for /_config) */
    s_kind_t kind;
} s_route_t;

static const s_route_t s_routes[] = {
    {"/v1/messages", EVHTTP_REQ_POST, S_API}, {"/_config", EVHTTP_REQ_POST, S_ADMIN},
    {"/_stats", EVHTTP_REQ_GET, S_ADMIN},     {"/_reset", EVHTTP_REQ_POST, S_ADMIN},
    {"/_last", EVHTTP_REQ_GET, S_ADMIN},
};

/* Like the real API's front ends, answer without Nagle: a response or an SSE
 * event written in pieces must not wait for the client's delayed ACK. */
static void s_nodelay(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void s_route(struct evhttp_request *req, void *arg)
{
    fa_server_t *self = arg;
    uint64_t t0 = af_now_ns();
    s_nodelay(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    int is_admin = path[0] == '/' && path[1] == '_';
    char rid[40];
    if (!is_admin) {
        self->stats.requests++;
        if (fa_wire_id(rid, sizeof rid, "req_") == 0)
            evhttp_add_header(evhttp_request_get_output_headers(req), "request-id", rid);
    }

    const s_route_t *route = NULL;
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++)
        if (!strcmp(path, s_routes[i].path))
            route = &s_routes[i];
    if (!route) {
        if (is_admin)
            af_http_reply_error(req, 404, "not_found_error", "no admin endpoint %.100s", path);
        else
            s_api_error(self, req, path, t0, 404, "Not found");
        return;
    }
    int config_get = !strcmp(route->path, "/_config") && method == EVHTTP_REQ_GET;
    if (method != route->method && !config_get) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          strcmp(route->path, "/_config") == 0 ? "GET, POST"
                                                               : s_method_name(route->method));
        if (is_admin)
            af_http_reply_error(req, 405, "invalid_request_error", "method not allowed");
        else
            s_api_error(self, req, path, t0, 405, "Method Not Allowed");
        return;
    }
    if (is_admin)
        af_debug("method=%s path=%s", s_method_name(method), path);
    if (route->kind == S_API)
        s_messages(self, req, path, t0);
    else if (!strcmp(route->path, "/_config"))
        s_config(self, req);
    else if (!strcmp(route->path, "/_stats"))
        s_stats(self, req);
    else if (!strcmp(route->path, "/_last")) {
        if (self->last)
            af_http_reply_json(req, 200, self->last);
        else
            af_http_reply_error(req, 404, "not_found_error", "no API request yet");
    } else {
        fa_stats_reset(&self->stats);
        cJSON_Delete(self->last);
        self->last = NULL;
        af_info("stats reset");
        s_stats(self, req);
    }
}

/* ---- lifecycle -------------------------------------------------------------- */

fa_server_t *fa_server_new(struct event_base *base, const char *listen, const fa_knobs_t *knobs)
{
    char host[256];
    int port = 0;
    if (af_config_hostport(listen, host, sizeof host, &port) < 0) {
        af_error("listen=%s error=\"expected host:port\"", listen);
        return NULL;
    }
    fa_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    snprintf(self->listen, sizeof self->listen, "%s", listen);
    self->knobs = *knobs;
    self->env = (fa_env_t){.base = base, .knobs = &self->knobs, .stats = &self->stats};
    self->http = evhttp_new(base);
    if (!self->http)
        goto fail;
    evhttp_set_max_body_size(self->http, S_MAX_READ);
    evhttp_set_timeout(self->http, S_IDLE_TIMEOUT_S);
    evhttp_set_allowed_methods(self->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                               EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(self->http, s_route, self);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(self->http, host, (ev_uint16_t)port);
    if (!bound) {
        af_error("listen=%s error=\"cannot bind\"", listen);
        goto fail;
    }
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    memset(&addr, 0, sizeof addr);
    socklen_t sl = sizeof addr;
    if (getsockname(evhttp_bound_socket_get_fd(bound), &addr.sa, &sl) == 0)
        self->port = ntohs(addr.sa.sa_family == AF_INET6 ? addr.in6.sin6_port : addr.in4.sin_port);
    return self;
fail:
    fa_server_destroy(&self);
    return NULL;
}

void fa_server_destroy(fa_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fa_server_t *self = *self_p;
    fa_exchange_close_all(&self->env);
    if (self->http)
        evhttp_free(self->http);
    cJSON_Delete(self->last);
    free(self);
    *self_p = NULL;
}

int fa_server_port(const fa_server_t *self)
{
    return self->port;
}

const fa_stats_t *fa_server_stats(const fa_server_t *self)
{
    return &self->stats;
}

fa_knobs_t *fa_server_knobs(fa_server_t *self)
{
    return &self->knobs;
}
