/* libcurl multi on libevent. See curl_loop.h. */
#include "curl_loop.h"

#include "log.h"

#include <stdlib.h>

typedef struct s_xfer {
    struct s_xfer *next, *prev;
    CURL *easy;
    af_curl_done_fn *fn;
    void *arg;
} s_xfer_t;

struct af_curl_loop_t {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    s_xfer_t *xfers;
    int count;
    af_curl_socket_hook_fn *hook;
    void *hook_arg;
};

/* One socket curl asked us to watch (curl_multi_assign's socketp). */
typedef struct {
    af_curl_loop_t *loop;
    struct event *ev;
    CURL *easy; /* the transfer curl last watched this socket for */
} s_sock_t;

static void s_sock_free(s_sock_t *k)
{
    if (k->ev)
        event_free(k->ev);
    free(k);
}

static void s_unlink(af_curl_loop_t *self, s_xfer_t *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        self->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    self->count--;
    free(x);
}

static void s_check_done(af_curl_loop_t *self)
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
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL); /* a later remove is a no-op */
        if (!x)
            continue;
        af_curl_done_fn *fn = x->fn;
        void *arg = x->arg;
        s_unlink(self, x);
        fn(easy, res, arg); /* may add or remove transfers: m is stale now */
    }
}

/* The caller's arg of the transfer on this socket, or NULL. */
static void *s_xfer_arg(const s_sock_t *k)
{
    s_xfer_t *x = NULL;
    if (!k->easy || curl_easy_getinfo(k->easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || !x)
        return NULL;
    return x->arg;
}

static void s_on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    s_sock_t *k = arg;
    af_curl_loop_t *self = k->loop;
    if (self->hook)
        self->hook((int)fd, what, s_xfer_arg(k), self->hook_arg);
    int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(self->multi, fd, flags, &running);
    s_check_done(self); /* may free k: curl removes sockets here */
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_curl_loop_t *self = arg;
    int running;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done(self);
}

static int s_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    af_curl_loop_t *self = userp;
    s_sock_t *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            s_sock_free(k);
            curl_multi_assign(self->multi, fd, NULL);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (k) {
        k->easy = easy;
        event_del(k->ev);
        event_assign(k->ev, self->base, fd, kind, s_on_socket_event, k);
    } else {
        k = calloc(1, sizeof *k);
        if (!k)
            return -1;
        k->loop = self;
        k->easy = easy;
        k->ev = event_new(self->base, fd, kind, s_on_socket_event, k);
        if (!k->ev) {
            free(k);
            return -1;
        }
        curl_multi_assign(self->multi, fd, k);
    }
    return event_add(k->ev, NULL);
}

static int s_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    af_curl_loop_t *self = userp;
    if (timeout_ms < 0)
        return evtimer_del(self->timer);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(self->timer, &tv);
}

af_curl_loop_t *af_curl_loop_new(struct event_base *base)
{
    static int s_global;
    if (!s_global) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            af_error("event=curl_global_init_failed");
            return NULL;
        }
        s_global = 1;
    }
    af_curl_loop_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->multi = curl_multi_init();
    self->timer = evtimer_new(base, s_on_timer, self);
    if (!self->multi || !self->timer) {
        af_curl_loop_destroy(&self);
        return NULL;
    }
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, s_socket_cb);
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, s_timer_cb);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
    return self;
}

void af_curl_loop_destroy(af_curl_loop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_curl_loop_t *self = *self_p;
    for (s_xfer_t *x = self->xfers, *next; x; x = next) {
        next = x->next;
        if (self->multi)
            curl_multi_remove_handle(self->multi, x->easy);
        s_unlink(self, x);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi);
    if (self->timer)
        event_free(self->timer);
    free(self);
    *self_p = NULL;
}

int af_curl_loop_add(af_curl_loop_t *self, CURL *easy, af_curl_done_fn *fn, void *arg)
{
    s_xfer_t *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->easy = easy;
    x->fn = fn;
    x->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    x->next = self->xfers;
    if (self->xfers)
        self->xfers->prev = x;
    self->xfers = x;
    self->count++;
    if (curl_multi_add_handle(self->multi, easy) != CURLM_OK) {
        s_unlink(self, x);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        return -1;
    }
    return 0;
}

void af_curl_loop_remove(af_curl_loop_t *self, CURL *easy)
{
    s_xfer_t *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(self->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    if (x)
        s_unlink(self, x);
}

int af_curl_loop_running(const af_curl_loop_t *self) { return self->count; }
CURLM *af_curl_loop_multi(af_curl_loop_t *self) { return self->multi; }

void af_curl_loop_set_socket_hook(af_curl_loop_t *self, af_curl_socket_hook_fn *fn, void *arg)
{
    self->hook = fn;
    self->hook_arg = arg;
}
