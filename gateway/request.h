/* One HTTP request's life in the gateway: created by server.c when evhttp
 * hands us a request, finished by exactly one reply function below (JSON,
 * error, or the end of an SSE stream), which also records metrics and frees
 * it. If the client goes away first, the request's on_gone hook runs (to
 * forget a manager wait or CANCEL an agent chat) and the request is freed
 * without a reply. Handlers keep their continuation state in it. */
#ifndef AF_GW_REQUEST_H
#define AF_GW_REQUEST_H

#include "gateway.h"
#include "rbac.h"
#include "routes.h"
#include "validate.h"

#include <cjson/cJSON.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct af_gw_req_t af_gw_req_t;
typedef void(af_gw_req_fn)(af_gw_req_t *r);

struct af_gw_req_t {
    af_gw_t *gw;
    af_gw_req_t *live_prev, *live_next; /* gw->live */
    struct evhttp_request *ev;
    char id[48];                 /* request id, sent back as request-id */
    char ip[64];
    const char *route;           /* route pattern for metrics ("unmatched" if none) */
    af_route_match_t match;
    af_principal_t who;
    bool authed;
    bool audited;                /* an audit line was written for it */
    cJSON *body;                 /* parsed JSON body (owned) or NULL */
    uint64_t start_ns;
    bool streaming;              /* SSE reply started */
    int status;                  /* status sent (for metrics) */
    af_gw_req_fn *on_gone;       /* client left: drop pending work */
    struct event *watch;         /* notices the client closing while we wait (a timer
                                    for AF_GW_WATCH_DELAY_MS, then the socket) */
    struct event *timer;         /* handler's retry timer (freed with the request) */
    int waits;                   /* chat_dispatch: polls for a connecting agent */
    /* continuation for a manager reply (manager_call.c) */
    void (*on_manager_ok)(af_gw_req_t *r, const af_msg_t *ok);
    const char *audit_event;     /* set: manager failures are audited under it */
    /* optional: sees a manager ERROR first; true = handled (request lives on) */
    bool (*on_manager_error)(af_gw_req_t *r, const af_msg_t *err);
    /* pending work, for on_gone */
    uint64_t mlink_handle;
    uint64_t alink_handle;
    /* handler continuation state */
    af_chat_meta_t meta;
    cJSON *chat;                 /* CHAT body being sent (owned) */
    char agent_id[64];
    char session_id[64];
    char owner[64];
    int attempts;
    bool path_agent;             /* the client named the agent */
    const void *handlers;        /* chat_dispatch: the af_alink_handlers_t in use */
    int kind;                    /* handler-specific */
    bool placed;                 /* route made by PLACE in this request */
    bool started;                /* /v1/messages stream: message_start sent */
    char message_id[64];
    long input_tokens;
    /* cost.c (issue #10): response cache and the budget/cache wait */
    bool cache_on;               /* look this reply up and store it */
    bool cache_hit;              /* answered from the cache */
    char cache_key[65];
    void *cost_wait;             /* cost.c's pending lookup (it frees it) */
};

/* Made by server.c (takes nothing; ev borrowed until the reply). A finisher
 * frees it, into gw's spares: a request object is a kilobyte, and allocating
 * one per request made glibc consolidate its fast bins on every call. */
af_gw_req_t *af_gw_req_new(af_gw_t *gw, struct evhttp_request *ev);
/* Frees gw's spare request objects (at exit, after the last request). */
void af_gw_req_pool_free(af_gw_t *gw);

/* Starts noticing a client that closes its connection while the request
 * waits on another daemon (evhttp does not read the socket then). Idempotent;
 * call it before waiting. The socket is watched only once the request has
 * waited AF_GW_WATCH_DELAY_MS: watching costs two epoll_ctl calls, more than
 * the whole of a short request's other system calls, and a client that leaves
 * is noticed that much later at most. */
void af_gw_req_watch_close(af_gw_req_t *r);
#define AF_GW_WATCH_DELAY_MS 50

/* Runs cb (arg r) after ms on the request's own timer, which handlers of
 * several modules share: it is re-aimed at cb each time. The wait ends if the
 * client goes away. Returns false when no timer can be had. */
bool af_gw_req_later(af_gw_req_t *r, long ms, event_callback_fn cb);

/* Finishers: exactly one per request; each frees r. */
void af_gw_reply_json(af_gw_req_t *r, int status, const cJSON *body);
void af_gw_reply_error(af_gw_req_t *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Error with Retry-After (seconds, rounded up, at least 1). */
void af_gw_reply_retry(af_gw_req_t *r, int status, const char *type, double retry_after_s,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void af_gw_stream_end(af_gw_req_t *r);
/* Ends a request that is still waiting (graceful stop ran out of time): its
 * pending work is dropped as if the client had left, and the client gets
 * 503 overloaded_error with why (as the last SSE event if streaming). */
void af_gw_req_abort(af_gw_req_t *r, const char *why);
/* A non-JSON body (metrics). */
void af_gw_reply_text(af_gw_req_t *r, int status, const char *content_type, const char *text);

/* SSE: start (status 200) and events; the request stays open. */
void af_gw_stream_start(af_gw_req_t *r);
void af_gw_stream_event(af_gw_req_t *r, const char *event, const cJSON *data);

/* Anthropic error type for an HTTP status ("invalid_request_error", ...). */
const char *af_gw_error_type(int status);

/* Maps an AF1 ERROR reply to a status/type and replies (with Retry-After where
 * the code calls for it). Logs upstream credential errors for the operator. */
void af_gw_reply_af1_error(af_gw_req_t *r, const af_msg_t *err);
/* Status an AF1 ERROR code maps to. */
int af_gw_af1_status(const char *code, const char **type);

/* Audit one event for this request. */
void af_gw_audit(af_gw_req_t *r, const char *event, int status, const char *result,
                 const char *detail);

#endif
