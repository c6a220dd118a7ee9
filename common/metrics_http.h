/* Serves a metrics registry at GET /metrics (and /healthz) over evhttp. Daemons
 * without an HTTP server of their own get one; the gateway mounts the handler on
 * its existing server. */
#ifndef AF_METRICS_HTTP_H
#define AF_METRICS_HTTP_H

#include "metrics.h"

#include <event2/event.h>
#include <event2/http.h>

typedef struct af_metrics_http_t af_metrics_http_t;

/* Binds listen ("host:port"; port 0 picks a free one). Registry not owned.
 * Returns NULL (and logs) when the address cannot be bound. */
af_metrics_http_t *af_metrics_http_new(struct event_base *base, af_metrics_t *registry,
                                       const char *listen);
void af_metrics_http_destroy(af_metrics_http_t **self_p);
/* The port actually bound. */
int af_metrics_http_port(const af_metrics_http_t *self);
/* The server, to add more routes (e.g. manager's service discovery). */
struct evhttp *af_metrics_http_server(af_metrics_http_t *self);

/* Mounts GET /metrics for registry on an existing server. */
void af_metrics_http_attach(struct evhttp *http, af_metrics_t *registry);

#endif
