/* HTTP GETs with libcurl's multi interface on the daemon's libevent loop
 * (curl_multi_socket_action): no threads, no blocking. Bodies are capped. */
#ifndef AF_AUTOSCALER_HTTP_CLIENT_H
#define AF_AUTOSCALER_HTTP_CLIENT_H

#include <event2/event.h>
#include <stddef.h>

#define AF_HTTPC_MAX_BODY ((size_t)4 << 20)

/* status: the HTTP status, or -1 on a transport failure (err says which).
 * body is NUL-terminated and borrowed for the call. */
typedef void(af_httpc_fn)(int status, const char *body, size_t len, const char *err, void *arg);

typedef struct af_httpc_t af_httpc_t;

af_httpc_t *af_httpc_new(struct event_base *base);
/* Aborts transfers in flight without calling their callbacks. */
void af_httpc_destroy(af_httpc_t **self_p);

/* Starts a GET; fn is called exactly once, from the loop. 0 / -1. */
int af_httpc_get(af_httpc_t *self, const char *url, double timeout_s, af_httpc_fn *fn, void *arg);

#endif
