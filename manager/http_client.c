/* libcurl multi on libevent. See http_client.h.
 * Contract: each started request calls its callback exactly once (unless the
 * client is destroyed first). */
#include "http_client.h"

#include "log.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct af_http_client_t {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    int running;
    struct s_req *reqs;  /* in flight, for destroy */
};

typedef struct s_req {
    af_http_client_t *client;
    struct s_req *next, *prev;
    CURL *easy;
    struct curl_slist *headers;
    char *body;          /* request body */
    char *resp;          /* response body */
    size_t len, cap;
    long timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    af_http_client_fn *fn;
    void *arg;
} s_req_t;

typedef struct {
    struct event *ev;
} s_sock_t;

static size_t s_on_write(char *ptr, size_t size, size_t n, void *arg)
{
    s_req_t *r = arg;
    size_t add = size * n;
    if (r->len + add + 1 > r->cap) {
        size_t cap = (r->len + add + 1) * 2;
        if (cap > (size_t)16 * 1024 * 1024)
            return 0; /* far too large for this API: abort the transfer */
        char *p = realloc(r->resp, cap);
        if (!p)
            return 0;
        r->resp = p;
        r->cap = cap;
    }
    memcpy(r->resp + r->len, ptr, add);
    r->len += add;
    r->resp[r->len] = '\0';
    return add;
}

static void s_req_unlink(s_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (r->client->reqs == r)
        r->client->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
}

/* Frees a request already unlinked from its client. */
static void s_req_release(s_req_t *r)
{
    curl_slist_free_all(r->headers);
    curl_easy_cleanup(r->easy);
    free(r->body);
    free(r->resp);
    free(r);
}

static void s_check_done(af_http_client_t *self)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(self->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        s_req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode res = m->data.result;
        curl_multi_remove_handle(self->multi, m->easy_handle);
        long status = 0;
        char err[CURL_ERROR_SIZE + 64] = "";
        if (res == CURLE_OK)
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        else if (res == CURLE_OPERATION_TIMEDOUT)
            snprintf(err, sizeof err, "timeout after %ld ms", r->timeout_ms);
        else
            snprintf(err, sizeof err, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
        r->fn(r->arg, status, r->resp ? r->resp : "", res == CURLE_OK ? NULL : err);
        s_req_unlink(r);
        s_req_release(r);
    }
}

static void s_on_event(evutil_socket_t fd, short what, void *arg)
{
    af_http_client_t *self = arg;
    int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(self->multi, fd, flags, &self->running);
    s_check_done(self);
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_http_client_t *self = arg;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &self->running);
    s_check_done(self);
}

static int s_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    (void)easy;
    af_http_client_t *self = arg;
    s_sock_t *s = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            event_free(s->ev);
            free(s);
            curl_multi_assign(self->multi, fd, NULL);
        }
        return 0;
    }
    short ev = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
               ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        curl_multi_assign(self->multi, fd, s);
    } else {
        event_del(s->ev);
        event_free(s->ev);
    }
    s->ev = event_new(self->base, fd, ev, s_on_event, self);
    return s->ev ? event_add(s->ev, NULL) : -1;
}

static int s_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    (void)multi;
    af_http_client_t *self = arg;
    if (timeout_ms < 0) {
        evtimer_del(self->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(self->timer, &tv);
    return 0;
}

af_http_client_t *af_http_client_new(struct event_base *base)
{
    static int s_global;
    if (!s_global) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        s_global = 1;
    }
    af_http_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->multi = curl_multi_init();
    self->timer = evtimer_new(base, s_on_timer, self);
    if (!self->multi || !self->timer) {
        af_http_client_destroy(&self);
        return NULL;
    }
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, s_socket_cb);
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, s_timer_cb);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
    return self;
}

void af_http_client_destroy(af_http_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_http_client_t *self = *self_p;
    if (self->multi) {
        while (self->reqs) {
            s_req_t *r = self->reqs;
            self->reqs = r->next; /* pop the head */
            if (self->reqs)
                self->reqs->prev = NULL;
            curl_multi_remove_handle(self->multi, r->easy);
            r->fn(r->arg, 0, "", "client shut down");
            s_req_release(r);
        }
        curl_multi_cleanup(self->multi);
    }
    if (self->timer)
        event_free(self->timer);
    free(self);
    *self_p = NULL;
}

int af_http_client_request(af_http_client_t *self, const char *method, const char *url,
                           const char *json_body, long timeout_ms, af_http_client_fn *fn,
                           void *arg)
{
    s_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->client = self;
    r->fn = fn;
    r->arg = arg;
    r->timeout_ms = timeout_ms;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return -1;
    }
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    r->headers = curl_slist_append(NULL, "Accept: application/json");
    if (json_body) {
        r->body = strdup(json_body);
        r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    r->next = self->reqs;
    if (self->reqs)
        self->reqs->prev = r;
    self->reqs = r;
    if (curl_multi_add_handle(self->multi, r->easy) != CURLM_OK) {
        s_req_unlink(r);
        s_req_release(r);
        return -1;
    }
    return 0;
}
