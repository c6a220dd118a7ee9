/* CURVE on every ZeroMQ link: the process's certificate, the servers' public keys and
 * a ZAP handler on the daemon's loop that admits only client keys listed in the
 * allow-list directory (refusals counted). Off, every call a no-op, until init. */
#ifndef AF_CURVE_H
#define AF_CURVE_H

#include "metrics.h"

#include <czmq.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

/* Certificate directory (scripts/make-certs.sh makes it):
 *   DIR/<role>.cert, DIR/<role>.cert_secret   one keypair per role (manager, gateway,
 *                                            agentd, autoscaler), zcert format
 *   DIR/allowed/<x>.cert                     public certs of clients servers admit;
 *                                            each admits its peer as the cert's
 *                                            `role` metadata (else <x>), which the
 *                                            peer's messages carry (af_msg_t.peer_role)
 * Process-wide like the zsys context: one certificate per process. */

/* Loads DIR/<name>.cert_secret as this process's keypair, every DIR/<role>.cert as a
 * server public key, and the allow-list; binds the ZAP handler on base. Everything is
 * read here, so the files need not stay readable after a privilege drop (except new
 * allow-list entries, picked up on a miss when still readable). dir NULL or "" leaves
 * CURVE off and returns 0. Returns -1 (logged) on a missing or unreadable cert. */
int af_curve_init(struct event_base *base, const char *dir, const char *name);

bool af_curve_enabled(void);

/* Call between zsock_new and bind/connect. Server: our keypair, curve_server, ZAP
 * domain; roles (comma list, NULL: any) are the peer roles the handshake admits,
 * any other allowed key is refused and counted like an unknown one. Client: our
 * keypair and the public key of role `server` ("manager", "gateway"). No-op
 * returning 0 when CURVE is off; -1 (logged) when the server's public key was
 * not found. */
int af_curve_server(zsock_t *sock, const char *roles);
int af_curve_client(zsock_t *sock, const char *server);

/* Handshakes the ZAP handler refused (unknown key, wrong mechanism) and admitted. */
uint64_t af_curve_refused(void);
uint64_t af_curve_admitted(void);

/* zmq_curve_refused_total / zmq_curve_admitted_total on m (a no-op when off). */
int af_curve_metrics(af_metrics_t *m);

/* Unbinds the ZAP handler and forgets the keys. Safe when off. */
void af_curve_shutdown(void);

#endif
