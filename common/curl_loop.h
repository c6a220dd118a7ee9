/* libcurl's multi interface on a libevent loop (curl_multi_socket_action): curl
 * says which sockets to watch and when its timer is due; finished transfers are
 * handed back outside curl's own callbacks, so a done callback may start,
 * cancel or free transfers. Knows nothing of HTTP APIs; see http_client.h. */
#ifndef AF_CURL_LOOP_H
#define AF_CURL_LOOP_H

#include <curl/curl.h>
#include <event2/event.h>

typedef struct af_curl_loop_t af_curl_loop_t;

/* A transfer finished (result CURLE_OK or why not). The easy handle has already
 * left the multi handle; the caller still owns it. */
typedef void(af_curl_done_fn)(CURL *easy, CURLcode result, void *arg);

af_curl_loop_t *af_curl_loop_new(struct event_base *base);
/* Removes transfers still running without calling their callbacks (their owners
 * keep their easy handles). */
void af_curl_loop_destroy(af_curl_loop_t **self_p);

/* Starts a transfer. easy is not taken; this module uses CURLOPT_PRIVATE, so
 * callers keep their context in arg. fn runs exactly once unless the transfer is
 * removed first. Returns 0 / -1. */
int af_curl_loop_add(af_curl_loop_t *self, CURL *easy, af_curl_done_fn *fn, void *arg);
/* Aborts a transfer at once (closing its connection): no callback. Safe on a
 * handle that already finished or was never added. */
void af_curl_loop_remove(af_curl_loop_t *self, CURL *easy);
/* Transfers in flight. */
int af_curl_loop_running(const af_curl_loop_t *self);
/* Called with a transfer socket just before curl reads from (EV_READ) or
 * writes to it: the place for per-read socket options such as TCP_QUICKACK.
 * xfer_arg: the arg of the transfer on it (af_curl_loop_add), or NULL. */
typedef void(af_curl_socket_hook_fn)(int fd, short what, void *xfer_arg, void *arg);
void af_curl_loop_set_socket_hook(af_curl_loop_t *self, af_curl_socket_hook_fn *fn, void *arg);

/* The multi handle, for tuning options (e.g. CURLMOPT_MAXCONNECTS) only: the
 * socket and timer callbacks belong to this module. */
CURLM *af_curl_loop_multi(af_curl_loop_t *self);

#endif
