/* hiredis async on libevent with reconnect. See redis.h.
 *
 * States: connecting -> up -> (disconnect) -> waiting -> connecting ... The
 * reconnect delay doubles from 100 ms to 5 s and resets once connected. */
#include "redis.h"

#include "log.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_redis_t {
    struct event_base *base;
    char host[256];
    int port, db;
    redisAsyncContext *ac;
    bool up;
    bool closing;
    long backoff_ms;
    struct event *retry;
    af_redis_state_fn *state_fn;
    void *state_arg;
};

typedef struct {
    af_redis_fn *fn;
    void *arg;
} s_pending_t;

static void s_connect(af_redis_t *self);

static void s_set_up(af_redis_t *self, bool up)
{
    if (self->up == up)
        return;
    self->up = up;
    if (up)
        af_info("event=redis_up host=%s port=%d", self->host, self->port);
    else
        af_warn("event=redis_down host=%s port=%d mode=degraded", self->host, self->port);
    if (self->state_fn)
        self->state_fn(self->state_arg, up);
}

static void s_schedule(af_redis_t *self)
{
    if (self->closing)
        return;
    struct timeval tv = {self->backoff_ms / 1000, (self->backoff_ms % 1000) * 1000};
    evtimer_add(self->retry, &tv);
    self->backoff_ms = self->backoff_ms * 2 > 5000 ? 5000 : self->backoff_ms * 2;
}

static void s_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_connect(arg);
}

static void s_on_connect(const redisAsyncContext *ac, int status)
{
    af_redis_t *self = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        af_debug("event=redis_connect_failed host=%s port=%d err=\"%s\"", self->host, self->port,
                 ac->errstr);
        self->ac = NULL;
        s_set_up(self, false);
        s_schedule(self);
        return;
    }
    self->backoff_ms = 100;
    if (self->db > 0)
        redisAsyncCommand(self->ac, NULL, NULL, "SELECT %d", self->db);
    s_set_up(self, true);
}

static void s_on_disconnect(const redisAsyncContext *ac, int status)
{
    af_redis_t *self = ac->data;
    (void)status;
    self->ac = NULL;
    s_set_up(self, false);
    s_schedule(self);
}

static void s_connect(af_redis_t *self)
{
    redisAsyncContext *ac = redisAsyncConnect(self->host, self->port);
    if (!ac || ac->err) {
        af_debug("event=redis_connect_failed host=%s port=%d err=\"%s\"", self->host, self->port,
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        s_schedule(self);
        return;
    }
    ac->data = self;
    self->ac = ac;
    redisLibeventAttach(ac, self->base);
    redisAsyncSetConnectCallback(ac, s_on_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
}

af_redis_t *af_redis_new(struct event_base *base, const char *url)
{
    if (!url || !*url)
        return NULL;
    const char *p = strncmp(url, "redis://", 8) == 0 ? url + 8 : url;
    af_redis_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->port = 6379;
    const char *colon = strrchr(p, ':');
    const char *slash = strchr(p, '/');
    size_t hl = colon ? (size_t)(colon - p) : slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof self->host) {
        af_error("event=redis_bad_url url=%s", url);
        free(self);
        return NULL;
    }
    memcpy(self->host, p, hl);
    self->host[hl] = '\0';
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || port <= 0 || port > 65535 || (*end && *end != '/')) {
            af_error("event=redis_bad_url url=%s", url);
            free(self);
            return NULL;
        }
        self->port = (int)port;
        slash = *end == '/' ? end : NULL;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000000) {
            af_error("event=redis_bad_url url=%s", url);
            free(self);
            return NULL;
        }
        self->db = (int)db;
    }
    self->backoff_ms = 100;
    self->retry = evtimer_new(base, s_on_retry, self);
    if (!self->retry) {
        free(self);
        return NULL;
    }
    s_connect(self);
    return self;
}

void af_redis_destroy(af_redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_redis_t *self = *self_p;
    self->closing = true;
    self->state_fn = NULL;
    if (self->ac) {
        redisAsyncContext *ac = self->ac;
        self->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks run with a NULL reply */
    }
    event_free(self->retry);
    free(self);
    *self_p = NULL;
}

void af_redis_on_state(af_redis_t *self, af_redis_state_fn *fn, void *arg)
{
    self->state_fn = fn;
    self->state_arg = arg;
}

bool af_redis_up(const af_redis_t *self) { return self && self->up && self->ac; }

static void s_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    s_pending_t *p = privdata;
    redisReply *reply = r;
    if (p->fn) {
        if (!reply)
            p->fn(p->arg, NULL, "disconnected");
        else if (reply->type == REDIS_REPLY_ERROR)
            p->fn(p->arg, NULL, reply->str);
        else
            p->fn(p->arg, reply, NULL);
    }
    free(p);
}

int af_redis_cmdargv(af_redis_t *self, af_redis_fn *fn, void *arg, int argc, const char **argv,
                     const size_t *lens)
{
    if (!af_redis_up(self))
        return -1;
    s_pending_t *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->fn = fn;
    p->arg = arg;
    if (redisAsyncCommandArgv(self->ac, s_on_reply, p, argc, argv, lens) != REDIS_OK) {
        free(p);
        return -1;
    }
    return 0;
}

int af_redis_cmd(af_redis_t *self, af_redis_fn *fn, void *arg, const char *fmt, ...)
{
    if (!af_redis_up(self))
        return -1;
    s_pending_t *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->fn = fn;
    p->arg = arg;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(self->ac, s_on_reply, p, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(p);
        return -1;
    }
    return 0;
}
