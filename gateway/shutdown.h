/* Graceful stop: on the first SIGTERM/SIGINT the gateway stops accepting
 * connections, answers new requests on open ones 503 (and /readyz 503, so a
 * load balancer moves on), lets the requests in flight finish for a grace
 * period, then ends the rest with a clear error and leaves the loop. A second
 * signal ends them at once. */
#ifndef AF_GW_SHUTDOWN_H
#define AF_GW_SHUTDOWN_H

#include "gateway.h"
#include "server.h"

typedef struct af_gw_shutdown_t af_gw_shutdown_t;

/* gw and server are borrowed. grace_ms: how long requests in flight may run
 * on after the signal. Returns NULL when out of memory. */
af_gw_shutdown_t *af_gw_shutdown_new(af_gw_t *gw, af_gw_server_t *server, long grace_ms);
void af_gw_shutdown_destroy(af_gw_shutdown_t **self_p);

/* A stop signal: the first starts the drain, the next ends it now. */
void af_gw_shutdown_signal(af_gw_shutdown_t *self, int sig);

#endif
