/* HTTP load generator for bench/gateway.sh: POSTs one JSON body to one URL
 * either open-loop at a fixed rate (latency from each request's send; a
 * request that finds every connection busy counts as backlog) or closed-loop with N
 * connections (max throughput). With --stream it also records the time to
 * the first chunk that carries a text delta (TTFT). Keep-alive connections,
 * one libevent loop. Prints one line:
 *   sent=N ok=N errors=N rps=X p50_ms=X p99_ms=X ttft_p50_ms=X ttft_p99_ms=X
 *
 * usage: bench_gateway_load --port P [--host H] [--path /v1/messages]
 *        [--header "k: v"]... --body JSON [--rate N | --closed C]
 *        [--duration S] [--warmup S] [--conns N] [--stream] */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 512
#define MAX_HEADERS 8

typedef struct conn_t conn_t;
struct conn_t {
    struct evhttp_connection *evcon;
    bool busy;
    double start;   /* scheduled start (s) */
    double ttft;    /* -1 until the first delta chunk */
    bool measure;
};

static struct event_base *s_base;
static const char *s_host = "127.0.0.1", *s_path = "/v1/messages", *s_body;
static int s_port, s_nheaders, s_closed, s_nconns = 64;
static char *s_headers[MAX_HEADERS];
static double s_rate, s_duration = 5, s_warmup = 1, s_t0, s_measure_from, s_end;
static bool s_stream, s_stopping;
static conn_t s_conns[MAX_CONNS];
static double *s_lat, *s_ttft;
static size_t s_nlat, s_nttft, s_cap;
static uint64_t s_sent, s_ok, s_errors, s_backlog;
static double s_next_due;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_issue(conn_t *c, double start);

static void s_on_chunk(struct evhttp_request *req, void *arg)
{
    conn_t *c = arg;
    if (c->ttft >= 0)
        return;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *p = (char *)evbuffer_pullup(in, (ev_ssize_t)n);
    if (p && n && memmem(p, n, "text_delta", 10))
        c->ttft = s_now() - c->start;
    /* Keep the body: the completion callback counts bytes, not content. */
}

static void s_record(conn_t *c, bool ok)
{
    double now = s_now();
    if (c->measure && now <= s_end) {
        if (ok) {
            s_ok++;
            if (s_nlat < s_cap)
                s_lat[s_nlat++] = now - c->start;
            if (s_stream && c->ttft >= 0 && s_nttft < s_cap)
                s_ttft[s_nttft++] = c->ttft;
        } else {
            s_errors++;
        }
    }
}

static void s_on_done(struct evhttp_request *req, void *arg)
{
    conn_t *c = arg;
    bool ok = req && evhttp_request_get_response_code(req) == 200;
    s_record(c, ok);
    c->busy = false;
    if (s_closed && !s_stopping)
        s_issue(c, s_now());
}

static void s_issue(conn_t *c, double start)
{
    if (!c->evcon) {
        c->evcon = evhttp_connection_base_new(s_base, NULL, s_host, (ev_uint16_t)s_port);
        evhttp_connection_set_timeout(c->evcon, 30);
    }
    struct evhttp_request *req = evhttp_request_new(s_on_done, c);
    if (s_stream)
        evhttp_request_set_chunked_cb(req, s_on_chunk);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", s_host, s_port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "anthropic-version", "2023-06-01");
    for (int i = 0; i < s_nheaders; i++) {
        char *colon = strchr(s_headers[i], ':');
        if (!colon)
            continue;
        *colon = 0;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        evhttp_add_header(h, s_headers[i], v);
        *colon = ':';
    }
    /* "{seq}" in the body becomes a per-request number (unique requests, e.g.
     * response-cache misses in bench/cache.sh). */
    const char *seq = strstr(s_body, "{seq}");
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    if (seq) {
        evbuffer_add(out, s_body, (size_t)(seq - s_body));
        evbuffer_add_printf(out, "%llu", (unsigned long long)s_sent);
        evbuffer_add(out, seq + 5, strlen(seq + 5));
    } else {
        evbuffer_add(out, s_body, strlen(s_body));
    }
    c->busy = true;
    c->start = start;
    c->ttft = -1;
    c->measure = start >= s_measure_from;
    s_sent++;
    if (evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, s_path) < 0) {
        c->busy = false;
        s_errors++;
    }
}

/* Open loop: every tick, issue every request whose scheduled time has come. */
static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    double now = s_now();
    if (now >= s_end) {
        s_stopping = true;
        event_base_loopexit(s_base, &(struct timeval){2, 0});
        return;
    }
    while (s_next_due <= now) {
        conn_t *idle = NULL;
        for (int i = 0; i < s_nconns && !idle; i++)
            if (!s_conns[i].busy)
                idle = &s_conns[i];
        if (!idle) {
            s_backlog++;
            break; /* every connection busy: the request waits (its latency grows) */
        }
        /* Timed from the actual send: the loop's timer jitter would otherwise
         * dominate sub-millisecond figures. Stalls show up as backlog. */
        s_issue(idle, s_now());
        s_next_due += 1.0 / s_rate;
    }
}

static void s_on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    s_stopping = true;
    event_base_loopexit(s_base, &(struct timeval){2, 0});
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(double *v, size_t n, double p)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, s_cmp);
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i >= n ? n - 1 : i] * 1000.0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--stream")) { s_stream = true; continue; }
        if (!v) { fprintf(stderr, "missing value for %s\n", a); return 2; }
        i++;
        if (!strcmp(a, "--port")) s_port = atoi(v);
        else if (!strcmp(a, "--host")) s_host = v;
        else if (!strcmp(a, "--path")) s_path = v;
        else if (!strcmp(a, "--body")) s_body = v;
        else if (!strcmp(a, "--header") && s_nheaders < MAX_HEADERS) s_headers[s_nheaders++] = strdup(v);
        else if (!strcmp(a, "--rate")) s_rate = atof(v);
        else if (!strcmp(a, "--closed")) s_closed = atoi(v);
        else if (!strcmp(a, "--duration")) s_duration = atof(v);
        else if (!strcmp(a, "--warmup")) s_warmup = atof(v);
        else if (!strcmp(a, "--conns")) s_nconns = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (!s_port || !s_body || (s_rate <= 0 && s_closed <= 0)) {
        fprintf(stderr, "usage: bench_gateway_load --port P --body JSON (--rate N | --closed C)\n");
        return 2;
    }
    if (s_closed > 0)
        s_nconns = s_closed;
    if (s_nconns > MAX_CONNS)
        s_nconns = MAX_CONNS;
    s_cap = 10000000;
    s_lat = malloc(s_cap * sizeof *s_lat);
    s_ttft = malloc(s_cap * sizeof *s_ttft);
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    s_base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    s_t0 = s_now();
    s_measure_from = s_t0 + s_warmup;
    s_end = s_measure_from + s_duration;
    struct event *tick = NULL, *stop = NULL;
    if (s_closed > 0) {
        for (int i = 0; i < s_nconns; i++)
            s_issue(&s_conns[i], s_now());
        stop = evtimer_new(s_base, s_on_stop, NULL);
        struct timeval tv = {(long)(s_warmup + s_duration),
                             (long)(fmod(s_warmup + s_duration, 1.0) * 1e6)};
        evtimer_add(stop, &tv);
    } else {
        s_next_due = s_t0;
        tick = event_new(s_base, -1, EV_PERSIST, s_on_tick, NULL);
        struct timeval tv = {0, 200};
        event_add(tick, &tv);
    }
    event_base_dispatch(s_base);
    double secs = s_duration;
    printf("sent=%llu ok=%llu errors=%llu backlog=%llu rps=%.1f p50_ms=%.3f p99_ms=%.3f "
           "ttft_p50_ms=%.3f ttft_p99_ms=%.3f\n",
           (unsigned long long)s_sent, (unsigned long long)s_ok, (unsigned long long)s_errors,
           (unsigned long long)s_backlog, (double)s_ok / secs, s_pct(s_lat, s_nlat, 0.50),
           s_pct(s_lat, s_nlat, 0.99), s_pct(s_ttft, s_nttft, 0.50), s_pct(s_ttft, s_nttft, 0.99));
    for (int i = 0; i < s_nconns; i++)
        if (s_conns[i].evcon)
            evhttp_connection_free(s_conns[i].evcon);
    if (tick)
        event_free(tick);
    if (stop)
        event_free(stop);
    event_base_free(s_base);
    free(s_lat);
    free(s_ttft);
    for (int i = 0; i < s_nheaders; i++)
        free(s_headers[i]);
    return 0;
}
