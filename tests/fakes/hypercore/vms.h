/* fake-hypercore's VM table and HTTP API: POST /spawn, DELETE /delete/{id} and
 * GET /list as the manager's hypercore provider uses them; each VM is a local
 * agent process started with exactly the env it was given. */
#ifndef AF_FAKE_HYPERCORE_VMS_H
#define AF_FAKE_HYPERCORE_VMS_H

#include <event2/event.h>
#include <event2/http.h>

/* JSON errors are {"error":{"type","message"}}; the knobs below inject slow
 * boots, 500s on spawn and VMs that die on their own. */
typedef struct {
    const char *agentd_path;
    long boot_delay_ms;   /* before the VM's process starts */
    long fail_spawn;      /* the next N POST /spawn answer 500 */
    long die_after_ms;    /* VMs SIGKILL themselves this long after boot (0: never) */
    long kill_grace_ms;
} af_hc_config_t;

typedef struct af_hc_t af_hc_t;

af_hc_t *af_hc_new(struct event_base *base, const af_hc_config_t *cfg);
/* Stops every VM (SIGTERM, grace, SIGKILL, reap) and frees. */
void af_hc_destroy(af_hc_t **self_p);
/* Mounts the routes on http. */
void af_hc_attach(af_hc_t *self, struct evhttp *http);

#endif
