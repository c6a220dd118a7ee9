/* Messages API client on common/curl_loop (libcurl multi on the daemon's
 * libevent loop). See anthropic.h. Finished transfers come back outside curl's
 * callbacks, so callbacks from here may start new calls or cancel others. */
#include "anthropic.h"

#include "curl_loop.h"

#include "log.h"
#include "sse.h"
#include "util.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AF_ANTHROPIC_MAX_BODY ((size_t)8 * 1024 * 1024)
#define AF_ANTHROPIC_SPARE_EASY 32

struct af_anthropic_t {
    struct event_base *base;
    af_curl_loop_t *loop;
    char *url;
    char *version_hdr;
    char *key_hdr;
    long connect_timeout_ms, read_timeout_ms;
    bool delayed_ack;
    af_retry_policy_t retry;
    void (*on_attempt)(void *ctx, double seconds, const char *error_type);
    void *ctx;
    af_call_t *calls; /* live calls, doubly linked */
    size_t ncalls;
    unsigned long attempts;
    /* Finished easy handles kept for the next attempt: curl_easy_init and
     * cleanup allocate and free some 10 KiB of state per call, a visible share
     * of a short call's CPU; a reset handle also keeps its DNS cache. */
    CURL *spare[AF_ANTHROPIC_SPARE_EASY];
    int nspare;
};

struct af_call_t {
    af_anthropic_t *client;
    af_call_t *prev, *next;
    CURL *easy;                   /* only during an attempt */
    struct curl_slist *headers;
    struct event *retry_timer;    /* only between attempts */
    struct event *idle_timer;     /* read timeout during an attempt */
    uint64_t last_rx;             /* when the last byte arrived */
    char *body;
    bool stream;
    int attempt;
    long status;
    double retry_after;
    af_sse_t *sse;
    char *buf;                    /* error body or whole response */
    size_t len, cap;
    af_message_t msg;
    bool start_sent;              /* on_start/on_delta reached the caller: no retry */
    bool bad_stream;              /* our parser refused the stream */
    uint64_t t_attempt;
    af_call_cb_t cb;
    void *arg;
};

/* ---- call lifetime --------------------------------------------------------- */

/* Returns a handle with default options: a spare one reset, or a new one. */
static CURL *s_easy_get(af_anthropic_t *self)
{
    if (self->nspare == 0)
        return curl_easy_init();
    CURL *e = self->spare[--self->nspare];
    curl_easy_reset(e);
    return e;
}

/* Takes e (already out of the multi handle) back as a spare, or frees it. */
static void s_easy_put(af_anthropic_t *self, CURL *e)
{
    if (self->nspare < AF_ANTHROPIC_SPARE_EASY)
        self->spare[self->nspare++] = e;
    else
        curl_easy_cleanup(e);
}

static void s_attempt_cleanup(af_call_t *c)
{
    if (c->easy) {
        af_curl_loop_remove(c->client->loop, c->easy);
        s_easy_put(c->client, c->easy);
        c->easy = NULL;
    }
    if (c->idle_timer)
        evtimer_del(c->idle_timer);
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    af_sse_destroy(&c->sse);
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    af_message_clear(&c->msg);
    c->status = 0;
    c->retry_after = -1;
    c->bad_stream = false;
}

static void s_call_free(af_call_t *c)
{
    af_anthropic_t *self = c->client;
    s_attempt_cleanup(c);
    if (c->retry_timer)
        event_free(c->retry_timer);
    if (c->idle_timer)
        event_free(c->idle_timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        self->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    self->ncalls--;
    free(c->body);
    free(c);
}

/* ---- curl callbacks -------------------------------------------------------- */

static int s_on_sse(const char *event, const char *data, size_t len, void *arg)
{
    af_call_t *c = arg;
    const char *delta;
    size_t dlen;
    af_message_ev_t ev = af_message_apply(&c->msg, event, data, len, &delta, &dlen);
    if (ev == AF_MESSAGE_EV_BAD) {
        af_warn("event=upstream_bad_event name=%s", event);
        c->bad_stream = true;
        return -1;
    }
    if (ev == AF_MESSAGE_EV_DELTA && dlen > 0) {
        if (!c->start_sent) {
            c->start_sent = true;
            if (c->cb.on_start)
                c->cb.on_start(c->arg, &c->msg);
        }
        if (c->cb.on_delta)
            c->cb.on_delta(c->arg, delta, dlen);
    }
    if (ev == AF_MESSAGE_EV_ERROR)
        return -1; /* the stream is over: stop reading */
    return 0;
}

/* An SSE stream is one-way: Linux then ACKs every small pushed segment as soon
 * as we read it (tcp_cleanup_rbuf), one extra packet per token. Asking for
 * delayed ACKs before each read (the kernel drops the mode when its delayed-ACK
 * timer fires) lets one ACK cover several events. Streaming connections only:
 * on request/response traffic a delayed ACK cost a 40 ms stall at the p99
 * (bench/gateway: stack p99 55 ms with it, 3 ms without). */
static void s_before_read(int fd, short what, void *xfer_arg, void *arg)
{
    (void)arg;
    const af_call_t *c = xfer_arg;
    if ((what & EV_READ) && c && c->sse) {
        int zero = 0;
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof zero);
    }
}

static size_t s_on_write(char *data, size_t size, size_t n, void *arg)
{
    af_call_t *c = arg;
    size_t len = size * n;
    c->last_rx = af_now_ns();
    if (c->status == 0)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
    if (c->stream && c->status >= 200 && c->status < 300) {
        if (!c->sse && !(c->sse = af_sse_new(s_on_sse, c, 0)))
            return 0;
        if (af_sse_feed(c->sse, data, len) < 0)
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        return len;
    }
    if (c->len + len > AF_ANTHROPIC_MAX_BODY)
        return 0;
    char *p = af_grow(c->buf, &c->cap, c->len + len + 1, 4096);
    if (!p)
        return 0;
    c->buf = p;
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->buf[c->len] = '\0';
    return len;
}

static size_t s_on_header(char *data, size_t size, size_t n, void *arg)
{
    af_call_t *c = arg;
    size_t len = size * n;
    c->last_rx = af_now_ns();
    if (len > 5 && !strncmp(data, "HTTP/", 5)) {
        c->retry_after = -1; /* a new response (after a 100 Continue, say) */
        return len;
    }
    if (len > 12 && !strncasecmp(data, "retry-after:", 12)) {
        char v[64];
        size_t vl = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, data + 12, vl);
        v[vl] = '\0';
        c->retry_after = af_retry_parse_after(v);
    }
    return len;
}

/* ---- attempts and completion ----------------------------------------------- */

static int s_attempt(af_call_t *c);

static void s_on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_call_t *c = arg;
    if (s_attempt(c) < 0) {
        af_call_cb_t cb = c->cb;
        void *cbarg = c->arg;
        s_call_free(c);
        if (cb.on_error)
            cb.on_error(cbarg, "api_error", "could not start the upstream request", 0, -1);
    }
}

/* Ends a failed attempt: retries when the policy allows it and no text reached
 * the caller yet, else reports the error and frees the call. */
static void s_fail(af_call_t *c, af_retry_kind_t kind, const char *type, const char *message)
{
    af_anthropic_t *self = c->client;
    double secs = (double)(af_now_ns() - c->t_attempt) / 1e9;
    if (self->on_attempt)
        self->on_attempt(self->ctx, secs, type);
    int status = (int)c->status;
    double retry_after = c->retry_after;
    bool retryable = !c->start_sent && !c->bad_stream && af_retry_retryable(kind, status);
    if (retryable && kind == AF_RETRY_HTTP && status >= 200 && status < 300) {
        /* An error event inside a 200 stream: retry the transient kinds only. */
        retryable = !strcmp(type, "overloaded_error") || !strcmp(type, "api_error");
    }
    double delay = retryable ? af_retry_delay(&self->retry, c->attempt, retry_after,
                                              (double)(random() % 1000000) / 1e6)
                             : -1;
    if (delay >= 0) {
        af_info("event=upstream_retry attempt=%d status=%d type=%s delay_ms=%.0f", c->attempt + 1,
                status, type, delay * 1000);
        s_attempt_cleanup(c);
        c->attempt++;
        if (!c->retry_timer)
            c->retry_timer = evtimer_new(self->base, s_on_retry_timer, c);
        /* A server's retry-after is a minimum, but a libevent timer may fire a
         * little early: it counts from the loop's cached clock (taken before
         * this callback's work) on a clock of 1 ms resolution. Hence the fresh
         * clock and 5 ms of slack. */
        delay += 0.005;
        struct timeval tv = {(time_t)delay, (suseconds_t)((delay - (double)(time_t)delay) * 1e6)};
        event_base_update_cache_time(self->base);
        if (c->retry_timer && evtimer_add(c->retry_timer, &tv) == 0)
            return;
    }
    af_info("event=upstream_failed attempts=%d status=%d type=%s", c->attempt + 1, status, type);
    /* type and message may point into the call: copy them before freeing it. */
    char t[48];
    snprintf(t, sizeof t, "%s", type);
    char *msg = strdup(message ? message : t);
    af_call_cb_t cb = c->cb;
    void *cbarg = c->arg;
    s_call_free(c);
    if (cb.on_error)
        cb.on_error(cbarg, t, msg ? msg : t, status, retry_after);
    free(msg);
}

/* scheme://host[:port] of url without any user:password@, for error
 * messages that tell the operator which upstream failed. */
static void s_origin(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    const char *end = host + strcspn(host, "/");
    for (const char *at = host; at < end; at++)
        if (*at == '@')
            host = at + 1;
    snprintf(out, len, "%.*s%.*s", p ? (int)(p + 3 - url) : 0, url, (int)(end - host), host);
}

static void s_finish(af_call_t *c, CURLcode res)
{
    af_anthropic_t *self = c->client;
    if (c->status == 0 && c->easy)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
    long status = c->status;
    if (res != CURLE_OK && !(res == CURLE_WRITE_ERROR && c->msg.error_type[0])) {
        if (c->bad_stream) {
            s_fail(c, AF_RETRY_HTTP, "api_error", "malformed event stream from upstream");
            return;
        }
        af_retry_kind_t kind = res == CURLE_OPERATION_TIMEDOUT ? AF_RETRY_TIMEOUT : AF_RETRY_CONNECT;
        char m[384], origin[256];
        s_origin(self->url, origin, sizeof origin);
        snprintf(m, sizeof m, "upstream %s %s: %s", origin,
                 status ? "transfer failed" : "unreachable", curl_easy_strerror(res));
        s_fail(c, kind, af_retry_error_type(kind, 0), m);
        return;
    }
    if (status >= 200 && status < 300) {
        if (!c->stream && af_message_parse_response(&c->msg, c->buf ? c->buf : "", c->len) < 0 &&
            !c->msg.error_type[0])
            snprintf(c->msg.error_type, sizeof c->msg.error_type, "api_error");
        if (c->msg.error_type[0]) {
            s_fail(c, AF_RETRY_HTTP, c->msg.error_type,
                   c->msg.error_message ? c->msg.error_message : "upstream error");
            return;
        }
        if (!c->msg.stopped) {
            s_fail(c, AF_RETRY_CONNECT, "api_error", "upstream stream ended before message_stop");
            return;
        }
        if (self->on_attempt)
            self->on_attempt(self->ctx, (double)(af_now_ns() - c->t_attempt) / 1e9, NULL);
        if (c->stream && !c->start_sent && c->cb.on_start) {
            c->start_sent = true;
            c->cb.on_start(c->arg, &c->msg);
        }
        af_call_cb_t cb = c->cb;
        void *cbarg = c->arg;
        af_message_t msg = c->msg;
        memset(&c->msg, 0, sizeof c->msg); /* moved out: survives the free */
        s_call_free(c);
        if (cb.on_done)
            cb.on_done(cbarg, &msg);
        af_message_clear(&msg);
        return;
    }
    af_message_t err = {0};
    const char *type = af_retry_error_type(AF_RETRY_HTTP, (int)status);
    char m[96];
    snprintf(m, sizeof m, "upstream returned HTTP %ld", status);
    const char *message = m;
    if (c->buf && af_message_parse_error(&err, c->buf, c->len) == 0) {
        type = err.error_type;
        if (err.error_message && *err.error_message)
            message = err.error_message;
    }
    s_fail(c, AF_RETRY_HTTP, type, message);
    af_message_clear(&err);
}

static void s_on_done(CURL *easy, CURLcode res, void *arg)
{
    (void)easy;
    s_finish(arg, res); /* may free the call or start a retry */
}

/* ---- public ---------------------------------------------------------------- */

/* Read timeout: no byte for read_timeout_ms. The timer is not re-armed per
 * chunk (that would cost an event_add per delta); it checks last_rx when it
 * fires and sleeps again for the rest. */
static void s_on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_call_t *c = arg;
    af_anthropic_t *self = c->client;
    if (!c->easy)
        return;
    uint64_t idle_ms = (af_now_ns() - c->last_rx) / 1000000u;
    if (idle_ms < (uint64_t)self->read_timeout_ms) {
        long left = self->read_timeout_ms - (long)idle_ms;
        struct timeval tv = {left / 1000, (left % 1000) * 1000};
        evtimer_add(c->idle_timer, &tv);
        return;
    }
    if (c->status == 0)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
    af_curl_loop_remove(self->loop, c->easy);
    s_easy_put(self, c->easy);
    c->easy = NULL;
    char m[96];
    snprintf(m, sizeof m, "no data from upstream for %ld ms", self->read_timeout_ms);
    s_fail(c, AF_RETRY_TIMEOUT, "timeout", m);
}

static int s_attempt(af_call_t *c)
{
    af_anthropic_t *self = c->client;
    CURL *e = s_easy_get(self);
    if (!e)
        return -1;
    c->easy = e;
    c->retry_after = -1;
    struct curl_slist *h = NULL;
    if (self->key_hdr)
        h = curl_slist_append(h, self->key_hdr);
    h = curl_slist_append(h, self->version_hdr);
    h = curl_slist_append(h, "content-type: application/json");
    h = curl_slist_append(h, c->stream ? "accept: text/event-stream" : "accept: application/json");
    h = curl_slist_append(h, "Expect:");
    c->headers = h;
    curl_easy_setopt(e, CURLOPT_URL, self->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, self->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "agentfleet-agentd/" "0.1.0");
    c->t_attempt = c->last_rx = af_now_ns();
    self->attempts++;
    if (!c->idle_timer)
        c->idle_timer = evtimer_new(self->base, s_on_idle_timer, c);
    struct timeval tv = {self->read_timeout_ms / 1000, (self->read_timeout_ms % 1000) * 1000};
    if (!c->idle_timer || evtimer_add(c->idle_timer, &tv) < 0) {
        s_attempt_cleanup(c);
        return -1;
    }
    if (af_curl_loop_add(self->loop, e, s_on_done, c) < 0) {
        s_attempt_cleanup(c);
        return -1;
    }
    return 0;
}

af_anthropic_t *af_anthropic_new(struct event_base *base, const af_anthropic_opts_t *opts)
{
    af_anthropic_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    const char *b = opts->base_url && *opts->base_url ? opts->base_url : "https://api.anthropic.com";
    size_t bl = strlen(b);
    while (bl > 0 && b[bl - 1] == '/')
        bl--;
    if (asprintf(&self->url, "%.*s/v1/messages", (int)bl, b) < 0 ||
        asprintf(&self->version_hdr, "anthropic-version: %s",
                 opts->version && *opts->version ? opts->version : "2023-06-01") < 0) {
        self->url = self->version_hdr = NULL;
        af_anthropic_destroy(&self);
        return NULL;
    }
    self->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    self->read_timeout_ms = opts->read_timeout_ms > 0 ? opts->read_timeout_ms : 600000;
    self->delayed_ack = opts->delayed_ack;
    self->retry = opts->retry;
    self->on_attempt = opts->on_attempt;
    self->ctx = opts->ctx;
    self->loop = af_curl_loop_new(base);
    if (!self->loop) {
        af_anthropic_destroy(&self);
        return NULL;
    }
    /* Idle connections kept for reuse. HTTP/2 to the real API needs one (it
     * carries every stream), but an HTTP/1.1 upstream (a proxy, a gateway in
     * between, the fake) needs one per concurrent call: with 8 kept, 32
     * concurrent calls opened a new TCP connection for ~60 % of requests (a
     * TLS handshake each on https), which cost more CPU than the call. An idle
     * connection costs a socket and a few KiB. */
    long idle = opts->idle_connections > 0 ? opts->idle_connections : 100;
    curl_multi_setopt(af_curl_loop_multi(self->loop), CURLMOPT_MAXCONNECTS, idle);
    if (self->delayed_ack)
        af_curl_loop_set_socket_hook(self->loop, s_before_read, self);
    return self;
}

void af_anthropic_destroy(af_anthropic_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_anthropic_t *self = *self_p;
    for (af_call_t *c = self->calls, *n; c; c = n) {
        n = c->next;
        s_call_free(c);
    }
    af_curl_loop_destroy(&self->loop);
    while (self->nspare > 0)
        curl_easy_cleanup(self->spare[--self->nspare]);
    free(self->url);
    free(self->version_hdr);
    free(self->key_hdr);
    free(self);
    *self_p = NULL;
}

int af_anthropic_set_key(af_anthropic_t *self, const char *key)
{
    free(self->key_hdr);
    self->key_hdr = NULL;
    if (!key || !*key)
        return 0;
    af_log_add_secret(key);
    return asprintf(&self->key_hdr, "x-api-key: %s", key) < 0 ? (self->key_hdr = NULL, -1) : 0;
}

bool af_anthropic_has_key(const af_anthropic_t *self) { return self->key_hdr != NULL; }

af_call_t *af_anthropic_call(af_anthropic_t *self, char *body, bool stream,
                             const af_call_cb_t *cb, void *arg)
{
    af_call_t *c = calloc(1, sizeof *c);
    if (!c) {
        free(body);
        return NULL;
    }
    c->client = self;
    c->body = body;
    c->stream = stream;
    c->cb = *cb;
    c->arg = arg;
    c->retry_after = -1;
    c->next = self->calls;
    if (self->calls)
        self->calls->prev = c;
    self->calls = c;
    self->ncalls++;
    if (s_attempt(c) < 0) {
        s_call_free(c);
        return NULL;
    }
    return c;
}

void af_anthropic_cancel(af_call_t **call_p)
{
    if (!call_p || !*call_p)
        return;
    s_call_free(*call_p);
    *call_p = NULL;
}

size_t af_anthropic_inflight(const af_anthropic_t *self) { return self->ncalls; }
unsigned long af_anthropic_attempts(const af_anthropic_t *self) { return self->attempts; }
