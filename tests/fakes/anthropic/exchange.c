/* One /v1/messages exchange. See exchange.h.
 * Lifecycle: WAITING (latency timer) -> one of
 *   done at once (JSON message or error status),
 *   STREAMING (timer per delta when paced) -> done,
 *   HANGING (no timer; only the close callback ends it).
 * The close callback may fire in any phase until we hand the final reply to
 * evhttp; we unhook it right before that, so after the hand-over evhttp alone
 * owns the request.
 * evhttp stops reading a connection once it has the request, so it only notices
 * a client that left when a write fails. A hung request never writes, so we
 * watch the socket ourselves: readable with nothing to read means the client
 * closed, and we free the connection, which runs the close callback. */
#include "exchange.h"

#include "http.h"
#include "log.h"
#include "reply.h"
#include "util.h"
#include "wire.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef enum { S_WAITING, S_STREAMING, S_HANGING } s_phase_t;

struct fa_exchange_t {
    fa_env_t *env;
    struct evhttp_request *req; /* evhttp's; ours only once detached by a close */
    struct evhttp_connection *evcon;
    struct event *timer;
    struct event *watch; /* readable socket: did the client leave? */
    fa_request_t *request;
    fa_reply_t *reply;
    fa_fault_t fault;
    s_phase_t phase;
    size_t sent;    /* segments streamed so far */
    size_t stop_at; /* segments to stream before ending (midstream: before the error) */
    long interval_us;
    int status;
    uint64_t t0;
    char id[40];
    fa_exchange_t *prev, *next;
};

/* ---- lifecycle ------------------------------------------------------------ */

static void s_free(fa_exchange_t *ex)
{
    fa_env_t *env = ex->env;
    if (ex->prev)
        ex->prev->next = ex->next;
    else
        env->live = ex->next;
    if (ex->next)
        ex->next->prev = ex->prev;
    if (env->stats->in_flight)
        env->stats->in_flight--;
    if (ex->timer)
        event_free(ex->timer);
    if (ex->watch)
        event_free(ex->watch);
    fa_request_destroy(&ex->request);
    fa_reply_destroy(&ex->reply);
    free(ex);
}

static void s_log(const fa_exchange_t *ex, const char *outcome)
{
    double ms = (double)(af_now_ns() - ex->t0) / 1e6;
    af_info("method=POST path=/v1/messages status=%d stream=%d words=%zu ms=%.1f outcome=%s",
            ex->status, ex->request->stream ? 1 : 0, ex->sent, ms, outcome);
}

/* Called right before the final reply goes to evhttp: from then on evhttp owns
 * the request and the close callback must not reach us. */
static void s_release(fa_exchange_t *ex)
{
    evhttp_connection_set_closecb(ex->evcon, NULL, NULL);
    ex->env->stats->completed++;
}

static void s_on_close(struct evhttp_connection *evcon, void *arg)
{
    fa_exchange_t *ex = arg;
    (void)evcon;
    ex->env->stats->aborted++;
    s_log(ex, "aborted");
    /* On a client EOF evhttp detaches the unfinished request from the connection
     * and leaves it to us; otherwise the connection frees it. */
    if (evhttp_request_get_connection(ex->req) == NULL)
        evhttp_request_free(ex->req);
    s_free(ex);
}

static void s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    fa_exchange_t *ex = arg;
    char c;
    (void)what;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        event_add(ex->watch, NULL);
        return;
    }
    if (n > 0)
        return; /* the client sent more (a pipelined request): stop watching */
    /* EOF or reset: runs s_on_close, which frees ex; evhttp frees the request. */
    evhttp_connection_free(ex->evcon);
}

/* ---- replies -------------------------------------------------------------- */

static void s_finish_error(fa_exchange_t *ex, int status, const char *message)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(ex->req);
    long ra = ex->env->knobs->retry_after;
    if ((status == 429 || status == 529) && ra > 0) {
        char v[24];
        snprintf(v, sizeof v, "%ld", ra);
        evhttp_add_header(h, "retry-after", v);
    }
    ex->status = status;
    fa_stats_status(ex->env->stats, status);
    s_release(ex);
    af_http_reply_error(ex->req, status, fa_wire_error_type(status), "%s", message);
    s_log(ex, "error");
    s_free(ex);
}

static const char *s_fault_message(int status)
{
    switch (status) {
    case 400:
        return "Injected fault: invalid request";
    case 401:
        return "invalid x-api-key";
    case 403:
        return "Your API key does not have permission to use the specified resource.";
    case 404:
        return "The requested resource could not be found.";
    case 413:
        return "Request exceeds the maximum allowed number of bytes.";
    case 429:
        return "Number of request tokens has exceeded your per-minute rate limit";
    case 529:
        return "Overloaded";
    case 500:
    default:
        return "Internal server error";
    }
}

static long s_reply_words(const fa_exchange_t *ex)
{
    return ex->request->words >= 0 ? ex->request->words : ex->env->knobs->reply_words;
}

static void s_finish_message(fa_exchange_t *ex)
{
    const fa_request_t *r = ex->request;
    cJSON *msg = fa_wire_message(ex->id, r->model, fa_reply_text(ex->reply),
                                 fa_reply_len(ex->reply), fa_reply_stop_reason(ex->reply),
                                 r->input_tokens, (long)fa_reply_words(ex->reply));
    if (!msg) {
        s_finish_error(ex, 500, "out of memory");
        return;
    }
    ex->status = 200;
    ex->sent = fa_reply_words(ex->reply);
    fa_stats_t *st = ex->env->stats;
    fa_stats_status(st, 200);
    st->input_tokens += (uint64_t)r->input_tokens;
    st->output_tokens += ex->sent;
    s_release(ex);
    af_http_reply_json(ex->req, 200, msg);
    cJSON_Delete(msg);
    s_log(ex, "message");
    s_free(ex);
}

/* ---- streaming ------------------------------------------------------------ */

/* Appends deltas up to `upto` segments to out. */
static void s_add_deltas(fa_exchange_t *ex, struct evbuffer *out, size_t upto)
{
    for (; ex->sent < upto; ex->sent++) {
        const char *p;
        size_t n;
        fa_reply_segment(ex->reply, ex->sent, &p, &n);
        fa_wire_stream_delta(out, p, n);
        ex->env->stats->output_tokens++;
    }
}

/* Sends the stream's ending (normal or the midstream error) and finishes. */
static void s_stream_end(fa_exchange_t *ex, struct evbuffer *out)
{
    const char *outcome = "stream";
    if (ex->fault.kind == FA_FAULT_MIDSTREAM) {
        fa_wire_stream_error(out, "overloaded_error", "Overloaded");
        outcome = "midstream-error";
    } else
        fa_wire_stream_close(out, fa_reply_stop_reason(ex->reply), (long)ex->sent);
    evhttp_send_reply_chunk(ex->req, out);
    s_release(ex);
    evhttp_send_reply_end(ex->req);
    s_log(ex, outcome);
    s_free(ex);
}

static void s_stream_tick(fa_exchange_t *ex)
{
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return; /* the connection's close or the next tick will end it */
    s_add_deltas(ex, out, ex->sent + 1);
    if (ex->sent >= ex->stop_at) {
        s_stream_end(ex, out);
    } else {
        evhttp_send_reply_chunk(ex->req, out);
        struct timeval tv = {ex->interval_us / 1000000, ex->interval_us % 1000000};
        evtimer_add(ex->timer, &tv);
    }
    evbuffer_free(out);
}

static void s_stream_begin(fa_exchange_t *ex)
{
    const fa_request_t *r = ex->request;
    size_t words = fa_reply_words(ex->reply);
    ex->stop_at = words;
    if (ex->fault.kind == FA_FAULT_MIDSTREAM)
        ex->stop_at = words / 2 ? words / 2 : 1;
    long tps = r->tps >= 0 ? r->tps : ex->env->knobs->tokens_per_sec;
    ex->interval_us = tps > 0 ? 1000000L / tps : 0;

    struct evkeyvalq *h = evhttp_request_get_output_headers(ex->req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    if (ex->fault.kind == FA_FAULT_MIDSTREAM)
        evhttp_add_header(h, "Connection", "close");
    ex->status = 200;
    fa_stats_t *st = ex->env->stats;
    fa_stats_status(st, 200);
    st->streams++;
    st->input_tokens += (uint64_t)r->input_tokens;
    evhttp_send_reply_start(ex->req, 200, "OK");

    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    fa_wire_stream_open(out, ex->id, r->model, r->input_tokens);
    ex->phase = S_STREAMING;
    if (ex->interval_us == 0) {
        s_add_deltas(ex, out, ex->stop_at);
        s_stream_end(ex, out);
    } else {
        s_add_deltas(ex, out, 1);
        if (ex->sent >= ex->stop_at)
            s_stream_end(ex, out);
        else {
            evhttp_send_reply_chunk(ex->req, out);
            struct timeval tv = {ex->interval_us / 1000000, ex->interval_us % 1000000};
            evtimer_add(ex->timer, &tv);
        }
    }
    evbuffer_free(out);
}

/* ---- dispatch ------------------------------------------------------------- */

static void s_begin(fa_exchange_t *ex)
{
    switch (ex->fault.kind) {
    case FA_FAULT_STATUS:
        s_finish_error(ex, ex->fault.status, s_fault_message(ex->fault.status));
        return;
    case FA_FAULT_HANG:
        ex->phase = S_HANGING;
        af_debug("id=%s hanging until the client goes away", ex->id);
        return;
    case FA_FAULT_MIDSTREAM:
        if (!ex->request->stream) {
            s_finish_error(ex, 500, s_fault_message(500));
            return;
        }
        break;
    case FA_FAULT_NONE:
    default:
        break;
    }
    ex->reply =
        fa_reply_new(ex->request->last_user_text, s_reply_words(ex), ex->request->max_tokens);
    if (!ex->reply) {
        s_finish_error(ex, 500, "out of memory");
        return;
    }
    if (ex->request->stream)
        s_stream_begin(ex);
    else
        s_finish_message(ex);
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    fa_exchange_t *ex = arg;
    (void)fd;
    (void)what;
    if (ex->phase == S_WAITING)
        s_begin(ex);
    else if (ex->phase == S_STREAMING)
        s_stream_tick(ex);
}

int fa_exchange_start(fa_env_t *env, struct evhttp_request *req, fa_request_t **request_p,
                      fa_fault_t fault, uint64_t t0)
{
    fa_exchange_t *ex = calloc(1, sizeof *ex);
    if (ex)
        ex->timer = evtimer_new(env->base, s_on_timer, ex);
    if (!ex || !ex->timer || fa_wire_id(ex->id, sizeof ex->id, "msg_") < 0) {
        if (ex && ex->timer)
            event_free(ex->timer);
        free(ex);
        fa_request_destroy(request_p);
        fa_stats_status(env->stats, 500);
        env->stats->completed++;
        af_http_reply_error(req, 500, "api_error", "out of memory");
        af_error("out of memory starting an exchange");
        return -1;
    }
    ex->env = env;
    ex->req = req;
    ex->evcon = evhttp_request_get_connection(req);
    ex->request = *request_p;
    *request_p = NULL;
    ex->fault = fault;
    ex->t0 = t0;
    ex->phase = S_WAITING;
    ex->next = env->live;
    if (env->live)
        env->live->prev = ex;
    env->live = ex;
    env->stats->in_flight++;
    evhttp_connection_set_closecb(ex->evcon, s_on_close, ex);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(ex->evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        ex->watch = event_new(env->base, fd, EV_READ, s_on_readable, ex);
        if (ex->watch)
            event_add(ex->watch, NULL);
    }

    long latency = ex->request->latency_ms >= 0 ? ex->request->latency_ms : env->knobs->latency_ms;
    struct timeval tv = {latency / 1000, (latency % 1000) * 1000};
    evtimer_add(ex->timer, &tv);
    return 0;
}

void fa_exchange_close_all(fa_env_t *env)
{
    fa_exchange_t *next;
    for (fa_exchange_t *ex = env->live; ex; ex = next) {
        next = ex->next;
        evhttp_connection_set_closecb(ex->evcon, NULL, NULL);
        s_free(ex);
    }
}
