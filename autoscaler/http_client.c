/* libcurl multi on libevent. See http_client.h.
 *
 * libcurl tells us which sockets to watch (socket callback) and when to call
 * back for timeouts (timer callback); we tell it what happened with
 * curl_multi_socket_action and then collect finished transfers. */
#include "http_client.h"

#include "log.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct af_httpc_t {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    int running;
    struct s_xfer *xfers; /* in flight, to free them on destroy */
};

typedef struct s_xfer {
    struct s_xfer *next, **prevp;
    CURL *easy;
    af_httpc_fn *fn;
    void *arg;
    char *buf;
    size_t len, cap;
    int too_big;
    char errbuf[CURL_ERROR_SIZE];
} s_xfer_t;

typedef struct {
    struct event *ev;
} s_sock_t;

static void s_check_done(af_httpc_t *self)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(self->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result;
        s_xfer_t *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(self->multi, easy);
        *x->prevp = x->next;
        if (x->next)
            x->next->prevp = x->prevp;
        long status = -1;
        const char *err = NULL;
        if (x->too_big)
            err = "response too large";
        else if (res != CURLE_OK)
            err = x->errbuf[0] ? x->errbuf : curl_easy_strerror(res);
        else
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        x->fn(err ? -1 : (int)status, x->buf ? x->buf : "", x->len, err, x->arg);
        curl_easy_cleanup(easy);
        free(x->buf);
        free(x);
    }
}

static void s_on_event(evutil_socket_t fd, short what, void *arg)
{
    af_httpc_t *self = arg;
    int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(self->multi, fd, flags, &self->running);
    s_check_done(self);
    if (self->running <= 0)
        evtimer_del(self->timer);
}

static void s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_httpc_t *self = arg;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &self->running);
    s_check_done(self);
}

static int s_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    af_httpc_t *self = userp;
    s_sock_t *ss = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ss) {
            event_free(ss->ev);
            free(ss);
            curl_multi_assign(self->multi, s, NULL);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (!ss) {
        ss = calloc(1, sizeof *ss);
        if (!ss)
            return -1;
        curl_multi_assign(self->multi, s, ss);
    } else {
        event_free(ss->ev);
    }
    ss->ev = event_new(self->base, s, kind, s_on_event, self);
    if (!ss->ev)
        return -1;
    event_add(ss->ev, NULL);
    return 0;
}

static int s_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    af_httpc_t *self = userp;
    if (timeout_ms < 0) {
        evtimer_del(self->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(self->timer, &tv);
    return 0;
}

static size_t s_write(char *data, size_t size, size_t n, void *userp)
{
    s_xfer_t *x = userp;
    size_t add = size * n;
    if (x->len + add > AF_HTTPC_MAX_BODY) {
        x->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (x->len + add + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + add + 1)
            cap *= 2;
        char *nb = realloc(x->buf, cap);
        if (!nb)
            return 0;
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, add);
    x->len += add;
    x->buf[x->len] = '\0';
    return add;
}

af_httpc_t *af_httpc_new(struct event_base *base)
{
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        global_done = 1;
    }
    af_httpc_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->multi = curl_multi_init();
    self->timer = evtimer_new(base, s_on_timeout, self);
    if (!self->multi || !self->timer) {
        af_httpc_destroy(&self);
        return NULL;
    }
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, s_socket_cb);
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, s_timer_cb);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
    return self;
}

void af_httpc_destroy(af_httpc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_httpc_t *self = *self_p;
    if (self->multi) {
        while (self->xfers) {
            s_xfer_t *x = self->xfers;
            self->xfers = x->next;
            curl_multi_remove_handle(self->multi, x->easy);
            curl_easy_cleanup(x->easy);
            free(x->buf);
            free(x);
        }
        curl_multi_cleanup(self->multi);
    }
    if (self->timer)
        event_free(self->timer);
    free(self);
    *self_p = NULL;
}

int af_httpc_get(af_httpc_t *self, const char *url, double timeout_s, af_httpc_fn *fn, void *arg)
{
    s_xfer_t *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->fn = fn;
    x->arg = arg;
    x->easy = curl_easy_init();
    if (!x->easy) {
        free(x);
        return -1;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "agentfleet-autoscaler");
    if (curl_multi_add_handle(self->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        free(x);
        return -1;
    }
    x->next = self->xfers;
    x->prevp = &self->xfers;
    if (x->next)
        x->next->prevp = &x->next;
    self->xfers = x;
    return 0;
}
