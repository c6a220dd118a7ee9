/* Request lifecycle and replies. See request.h.
 * Contract with evhttp: every request ends in exactly one evhttp_send_reply*
 * (or reply_end), or, when the client left, in evhttp_request_free of the
 * detached request. The close callback is cleared before any final send,
 * because a reply on a "Connection: close" request frees the connection
 * (and runs the callback) inside the send. */
#include "request.h"

#include "http.h"
#include "log.h"
#include "sse.h"
#include "util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/socket.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Spare request objects kept (af_gw_req_new). None under AddressSanitizer,
 * which could not see a use after free through a recycled object. */
#if defined(__SANITIZE_ADDRESS__)
#define AF_GW_SPARE_REQUESTS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AF_GW_SPARE_REQUESTS 0
#endif
#endif
#ifndef AF_GW_SPARE_REQUESTS
#define AF_GW_SPARE_REQUESTS 256
#endif

static void s_on_close(struct evhttp_connection *evcon, void *arg);

af_gw_req_t *af_gw_req_new(af_gw_t *gw, struct evhttp_request *ev)
{
    af_gw_req_t *r = gw->spare;
    if (r) {
        gw->spare = r->live_next;
        gw->nspare--;
        memset(r, 0, sizeof *r);
    } else if (!(r = calloc(1, sizeof *r)))
        return NULL;
    r->gw = gw;
    r->ev = ev;
    r->start_ns = af_now_ns();
    r->route = "unmatched";
    snprintf(r->id, sizeof r->id, "req_%.32s_%llu", gw->gateway_id, ++gw->seq);
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    if (evcon) {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evcon, &addr, &port);
        /* (TCP_NODELAY comes from the listening socket: server.c.) */
        snprintf(r->ip, sizeof r->ip, "%s", addr ? addr : "?");
        evhttp_connection_set_closecb(evcon, s_on_close, r);
    } else {
        snprintf(r->ip, sizeof r->ip, "?");
    }
    af_metric_add(gw->m_inflight, 1);
    r->live_next = gw->live;
    if (gw->live)
        gw->live->live_prev = r;
    gw->live = r;
    return r;
}

static const char *s_method(struct evhttp_request *ev)
{
    switch (evhttp_request_get_command(ev)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    default: return "OTHER";
    }
}

static void s_record(af_gw_req_t *r, int status)
{
    /* Every admin request is an admin action worth a line, unless its handler
     * already wrote a more specific one (spawn, delete, scale). */
    if (r->authed && r->who.role == AF_ROLE_ADMIN && !r->audited) {
        char detail[160];
        snprintf(detail, sizeof detail, "%s %s", s_method(r->ev), r->route);
        af_gw_audit(r, "admin_action", status, status < 400 ? "ok" : "error", detail);
    }
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    af_metric_inc(r->gw->m_requests, r->route, code);
    af_metric_observe(r->gw->m_duration, (double)(af_now_ns() - r->start_ns) / 1e9, r->route);
    af_metric_add(r->gw->m_inflight, -1);
}

static void s_free(af_gw_req_t *r)
{
    if (r->live_prev)
        r->live_prev->live_next = r->live_next;
    else if (r->gw->live == r)
        r->gw->live = r->live_next;
    if (r->live_next)
        r->live_next->live_prev = r->live_prev;
    if (r->watch)
        event_free(r->watch);
    if (r->timer)
        event_free(r->timer);
    cJSON_Delete(r->body);
    cJSON_Delete(r->chat);
    af_gw_t *gw = r->gw;
    if (gw->nspare < AF_GW_SPARE_REQUESTS) {
        r->live_next = gw->spare; /* the spare list reuses the live link */
        gw->spare = r;
        gw->nspare++;
    } else
        free(r);
}

void af_gw_req_pool_free(af_gw_t *gw)
{
    while (gw->spare) {
        af_gw_req_t *r = gw->spare;
        gw->spare = r->live_next;
        free(r);
    }
    gw->nspare = 0;
}

/* Detaches from the connection so a close during the send cannot reach us. */
static void s_detach(af_gw_req_t *r)
{
    if (r->watch) {
        event_free(r->watch);
        r->watch = NULL;
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (evcon)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
}

static void s_on_close(struct evhttp_connection *evcon, void *arg)
{
    af_gw_req_t *r = arg;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    af_debug("event=client_gone request_id=%s route=%s", r->id, r->route);
    if (r->on_gone)
        r->on_gone(r);
    s_record(r, 499);
    /* A request evhttp detached from the dying connection is ours to free; one
     * still attached (server shutdown) is freed by evhttp right after us. */
    if (evhttp_request_get_connection(r->ev) == NULL)
        evhttp_request_free(r->ev);
    s_free(r);
}

/* The socket became readable while we wait: EOF or an error means the client
 * left, so the connection is freed (which runs s_on_close). Bytes of a
 * pipelined request are left for evhttp, and we stop watching. */
static void s_on_watch(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    af_gw_req_t *r = arg;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) {
        event_free(r->watch);
        r->watch = NULL;
        return;
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (evcon)
        evhttp_connection_free(evcon);
}

static void s_timer_gone(af_gw_req_t *r)
{
    if (r->timer)
        event_del(r->timer);
}

bool af_gw_req_later(af_gw_req_t *r, long ms, event_callback_fn cb)
{
    if (r->timer)
        event_del(r->timer);
    else if (!(r->timer = event_new(r->gw->base, -1, 0, cb, r)))
        return false;
    event_assign(r->timer, r->gw->base, -1, 0, cb, r);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(r->timer, &tv);
    r->on_gone = s_timer_gone;
    af_gw_req_watch_close(r);
    return true;
}

/* The request has waited AF_GW_WATCH_DELAY_MS: watch its socket from now on
 * (the same event, re-aimed; it is not pending inside its own callback). */
static void s_on_watch_due(evutil_socket_t fd_, short what, void *arg)
{
    (void)fd_, (void)what;
    af_gw_req_t *r = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0 || event_assign(r->watch, r->gw->base, fd, EV_READ, s_on_watch, r) < 0 ||
        event_add(r->watch, NULL) < 0) {
        event_free(r->watch);
        r->watch = NULL;
    }
}

void af_gw_req_watch_close(af_gw_req_t *r)
{
    if (r->watch)
        return;
    r->watch = evtimer_new(r->gw->base, s_on_watch_due, r);
    if (!r->watch)
        return;
    /* One shared timeout queue (O(1) per add) instead of the timer heap. */
    if (!r->gw->watch_delay) {
        struct timeval tv = {0, (suseconds_t)AF_GW_WATCH_DELAY_MS * 1000};
        r->gw->watch_delay = event_base_init_common_timeout(r->gw->base, &tv);
    }
    if (!r->gw->watch_delay || evtimer_add(r->watch, r->gw->watch_delay) < 0) {
        event_free(r->watch);
        r->watch = NULL;
    }
}

static void s_headers(af_gw_req_t *r)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_add_header(h, "request-id", r->id);
}

void af_gw_reply_json(af_gw_req_t *r, int status, const cJSON *body)
{
    s_detach(r);
    s_headers(r);
    s_record(r, status);
    af_http_reply_json(r->ev, status, body);
    s_free(r);
}

void af_gw_reply_text(af_gw_req_t *r, int status, const char *content_type, const char *text)
{
    s_detach(r);
    s_headers(r);
    s_record(r, status);
    struct evbuffer *out = evbuffer_new();
    if (out)
        evbuffer_add(out, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Content-Type", content_type);
    evhttp_send_reply(r->ev, status, af_http_reason(status), out);
    if (out)
        evbuffer_free(out);
    s_free(r);
}

const char *af_gw_error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 405: return "invalid_request_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return "api_error";
    }
}

static void s_error(af_gw_req_t *r, int status, const char *type, const char *msg)
{
    if (r->streaming) {
        /* Headers are gone: the error becomes the stream's last event. */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", "error");
        cJSON *inner = cJSON_AddObjectToObject(e, "error");
        cJSON_AddStringToObject(inner, "type", type ? type : af_gw_error_type(status));
        cJSON_AddStringToObject(inner, "message", msg);
        af_gw_stream_event(r, "error", e);
        cJSON_Delete(e);
        r->status = status;
        af_gw_stream_end(r);
        return;
    }
    s_detach(r);
    s_headers(r);
    s_record(r, status);
    af_http_reply_error(r->ev, status, type ? type : af_gw_error_type(status), "%s", msg);
    s_free(r);
}

void af_gw_reply_error(af_gw_req_t *r, int status, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    /* The analyzer loses track of va_start once czmq's headers are in. */
    vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    s_error(r, status, type, msg);
}

void af_gw_req_abort(af_gw_req_t *r, const char *why)
{
    af_gw_req_fn *gone = r->on_gone;
    r->on_gone = NULL;
    if (gone)
        gone(r); /* forget the manager wait, CANCEL the agent chat */
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Connection", "close");
    s_error(r, 503, "overloaded_error", why);
}

void af_gw_reply_retry(af_gw_req_t *r, int status, const char *type, double retry_after_s,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    /* The analyzer loses track of va_start once czmq's headers are in. */
    vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    if (!r->streaming) {
        char ra[32];
        long secs = (long)ceil(retry_after_s > 0 ? retry_after_s : 1);
        if (secs < 1)
            secs = 1;
        snprintf(ra, sizeof ra, "%ld", secs);
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", ra);
    }
    s_error(r, status, type, msg);
}

void af_gw_stream_start(af_gw_req_t *r)
{
    s_headers(r);
    r->streaming = true;
    r->status = 200;
    af_sse_start(r->ev);
}

void af_gw_stream_event(af_gw_req_t *r, const char *event, const cJSON *data)
{
    af_sse_send_json(r->ev, event, data);
}

void af_gw_stream_end(af_gw_req_t *r)
{
    s_detach(r);
    s_record(r, r->status ? r->status : 200);
    af_sse_end(r->ev);
    s_free(r);
}

int af_gw_af1_status(const char *code, const char **type)
{
    static const struct {
        const char *code;
        int status;
        const char *type;
    } map[] = {
        {"invalid_request", 400, "invalid_request_error"},
        {"not_found", 404, "not_found_error"},
        {"forbidden", 403, "permission_error"},
        {"quota_exceeded", 403, "permission_error"},
        {"capacity", 503, "overloaded_error"},
        {"draining", 503, "overloaded_error"},
        {"rate_limited", 429, "rate_limit_error"},
        {"timeout", 504, "timeout_error"},
        {"cancelled", 499, "api_error"},
        {"spawn_failed", 502, "api_error"},
        {"invalid_request_error", 400, "invalid_request_error"},
        {"authentication_error", 502, "api_error"},
        {"permission_error", 502, "api_error"},
        {"not_found_error", 404, "not_found_error"},
        {"request_too_large", 413, "request_too_large"},
        {"rate_limit_error", 429, "rate_limit_error"},
        {"overloaded_error", 529, "overloaded_error"},
        {"api_error", 502, "api_error"},
        {"timeout_error", 504, "timeout_error"},
    };
    for (size_t i = 0; code && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(code, map[i].code)) {
            if (type)
                *type = map[i].type;
            return map[i].status;
        }
    if (type)
        *type = "api_error";
    return 502;
}

void af_gw_reply_af1_error(af_gw_req_t *r, const af_msg_t *err)
{
    const char *code = af_msg_str(err, "code");
    const char *message = af_msg_str(err, "message");
    const char *type = NULL;
    int status = af_gw_af1_status(code, &type);
    if (code && (!strcmp(code, "authentication_error") || !strcmp(code, "permission_error"))) {
        /* The upstream refused the operator's credentials: not the caller's
         * fault, so they get a 502 and the operator gets the log line. */
        af_error("event=upstream_credentials_refused code=%s request_id=%s message=\"%s\"", code,
                 r->id, message ? message : "");
        af_metric_inc(r->gw->m_upstream_errors, code);
        af_gw_reply_error(r, 502, "api_error", "upstream refused the gateway's credentials");
        return;
    }
    if (status >= 500 || status == 429)
        af_metric_inc(r->gw->m_upstream_errors, code ? code : "unknown");
    if (status == 429 || status == 503) {
        double ra = af_msg_num(err, "retry_after", 1.0);
        af_gw_reply_retry(r, status, type, ra, "%s", message ? message : (code ? code : "error"));
        return;
    }
    af_gw_reply_error(r, status, type, "%s", message ? message : (code ? code : "error"));
}

void af_gw_audit(af_gw_req_t *r, const char *event, int status, const char *result,
                 const char *detail)
{
    r->audited = true;
    af_audit_write(r->gw->audit, event, r->who.user[0] ? r->who.user : NULL,
                   r->authed ? af_role_name(r->who.role) : NULL, r->ip, r->id, status, result,
                   detail);
}
