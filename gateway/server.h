/* The gateway's HTTP surfaces: one evhttp on the plain listener and, when
 * configured, one on the TLS listener, sharing one dispatcher: route match
 * (404/405), per-IP limit, auth (401), per-user limit (429), body read
 * (413/400), then the route's handler (api.h). Registers the gateway_*
 * request metrics into gw->metrics. */
#ifndef AF_GW_SERVER_H
#define AF_GW_SERVER_H

#include "gateway.h"
#include "tls.h"

typedef struct af_gw_server_t af_gw_server_t;

/* listen: "host:port" (port 0 picks one); tls_listen NULL/"" = off, else tls
 * must be set. gw and tls are not owned. Returns NULL (and logs) on a bind
 * failure. */
af_gw_server_t *af_gw_server_new(af_gw_t *gw, const char *listen, const char *tls_listen,
                                 af_tls_t *tls);
/* Frees the servers; open requests see their client go away (on_gone). */
void af_gw_server_destroy(af_gw_server_t **self_p);

/* Closes the listening sockets (graceful stop): new connections are refused
 * while open ones are served. */
void af_gw_server_stop_accepting(af_gw_server_t *self);

int af_gw_server_port(const af_gw_server_t *self);
int af_gw_server_tls_port(const af_gw_server_t *self);

/* Registers the gateway_* metric families in gw (called by af_gw_server_new;
 * exposed for tests that drive handlers without a server). */
int af_gw_metrics_register(af_gw_t *gw);

#endif
