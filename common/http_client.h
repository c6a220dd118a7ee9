/* A small asynchronous HTTP/JSON client on the daemon's loop (over curl_loop.h):
 * one callback per request with status, body and a transport error. For
 * control-plane calls (Hypercore, Prometheus), not for streaming. */
#ifndef AF_HTTP_CLIENT_H
#define AF_HTTP_CLIENT_H

#include <event2/event.h>
#include <stddef.h>

typedef struct af_http_client_t af_http_client_t;

/* status: HTTP status, 0 when the transfer failed (err then says why, e.g.
 * "timeout after 10000 ms"). body: NUL-terminated response body (may be empty),
 * valid only during the call. */
typedef void(af_http_client_fn)(void *arg, long status, const char *body, const char *err);

af_http_client_t *af_http_client_new(struct event_base *base);
/* Requests still pending end with err "client shut down". */
void af_http_client_destroy(af_http_client_t **self_p);

/* Starts method url with an optional JSON body (copied). Returns 0 and fn runs
 * exactly once later from the loop; -1 when the request cannot start. Responses
 * larger than 16 MiB fail. */
int af_http_client_request(af_http_client_t *self, const char *method, const char *url,
                           const char *json_body, long timeout_ms, af_http_client_fn *fn,
                           void *arg);

/* Requests in flight. */
int af_http_client_pending(const af_http_client_t *self);

#endif
