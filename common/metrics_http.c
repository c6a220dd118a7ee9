/* /metrics over evhttp. Contract: every request gets exactly one reply. */
#include "metrics_http.h"

#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct af_metrics_http_t {
    struct evhttp *http;
    int port;
};

static void s_on_metrics(struct evhttp_request *req, void *arg)
{
    af_metrics_t *registry = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
        evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    char *text = af_metrics_render(registry);
    if (!text) {
        evhttp_send_error(req, 500, "render failed");
        return;
    }
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, text, strlen(text));
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void s_on_healthz(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"status\":\"ok\"}\n");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void s_on_other(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"error\":{\"type\":\"not_found_error\",\"message\":\"no such route\"}}\n");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 404, "Not Found", out);
    evbuffer_free(out);
}

void af_metrics_http_attach(struct evhttp *http, af_metrics_t *registry)
{
    evhttp_set_cb(http, "/metrics", s_on_metrics, registry);
}

af_metrics_http_t *af_metrics_http_new(struct event_base *base, af_metrics_t *registry,
                                       const char *listen)
{
    char host[256];
    int port;
    if (af_config_hostport(listen, host, sizeof host, &port) < 0) {
        af_error("event=metrics_bad_listen listen=%s", listen ? listen : "");
        return NULL;
    }
    af_metrics_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->http = evhttp_new(base);
    struct evhttp_bound_socket *bs =
        self->http ? evhttp_bind_socket_with_handle(self->http, host, (ev_uint16_t)port) : NULL;
    if (!bs) {
        af_error("event=metrics_bind_failed listen=%s", listen);
        af_metrics_http_destroy(&self);
        return NULL;
    }
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
    memset(&addr, 0, sizeof addr);
    socklen_t sl = sizeof addr;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
    if (getsockname(fd, &addr.sa, &sl) == 0)
        self->port = addr.sa.sa_family == AF_INET6 ? ntohs(addr.in6.sin6_port) : ntohs(addr.in.sin_port);
    evhttp_set_allowed_methods(self->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    af_metrics_http_attach(self->http, registry);
    evhttp_set_cb(self->http, "/healthz", s_on_healthz, NULL);
    evhttp_set_gencb(self->http, s_on_other, NULL);
    return self;
}

void af_metrics_http_destroy(af_metrics_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->http)
        evhttp_free((*self_p)->http);
    free(*self_p);
    *self_p = NULL;
}

int af_metrics_http_port(const af_metrics_http_t *self) { return self->port; }
struct evhttp *af_metrics_http_server(af_metrics_http_t *self) { return self->http; }
