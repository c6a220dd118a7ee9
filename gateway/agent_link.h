/* The gateway's data link: a ROUTER that agents' DEALERs connect to (routing
 * id = agent id). Tracks agent liveness by heartbeat (any message counts; 3
 * silent intervals = gone), sends CHAT / SESSION_GET / SESSION_DELETE / CANCEL,
 * and routes the replies (START, DELTA, DONE, OK, ERROR) by `req` to the
 * request's handlers. In-flight requests of an agent that goes away fail at
 * once. Knows nothing of HTTP. */
#ifndef AF_GW_AGENT_LINK_H
#define AF_GW_AGENT_LINK_H

#include "codec.h"
#include "proto.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct af_alink_t af_alink_t;

/* Why a request ended without a reply from the agent. */
typedef enum { AF_ALINK_REPLY = 0, AF_ALINK_AGENT_GONE, AF_ALINK_TIMEOUT } af_alink_end_t;

typedef struct {
    /* START and DELTA (streams); may be NULL. msg borrowed for the call. */
    void (*on_event)(const af_msg_t *msg, void *arg);
    /* Exactly once: DONE / OK / ERROR (msg set, why REPLY) or no reply (msg
     * NULL, why AGENT_GONE or TIMEOUT). The request is finished afterwards. */
    void (*on_final)(const af_msg_t *msg, af_alink_end_t why, void *arg);
} af_alink_handlers_t;

af_alink_t *af_alink_new(struct event_base *base, const char *endpoint, const char *gateway_id,
                         af_codec_t codec, long heartbeat_ms);
void af_alink_destroy(af_alink_t **self_p);

/* Sends verb/body (taken; req set here) to agent_id. Returns a handle (> 0), or
 * 0 when the agent is not connected or the send failed (no callback then;
 * errno EAGAIN: the agent is connected but its pipe is at the high-water mark).
 * timeout_ms is an idle timeout, restarted by every event of the request.
 * handlers must outlive the request (use static tables). */
uint64_t af_alink_send(af_alink_t *self, const char *agent_id, const char *verb, cJSON *body,
                       long timeout_ms, const af_alink_handlers_t *handlers, void *arg);
/* Drops the request (no more callbacks); with send_cancel, tells the agent
 * CANCEL {req} so it aborts the upstream call. */
void af_alink_cancel(af_alink_t *self, uint64_t handle, bool send_cancel);

bool af_alink_agent_alive(af_alink_t *self, const char *agent_id);
/* True when agent_id was connected and went away recently (the last 256 gone
 * agents are remembered), so callers need not wait for it to connect. */
bool af_alink_agent_gone(const af_alink_t *self, const char *agent_id);
/* Agents connected and not draining. */
size_t af_alink_ready_agents(const af_alink_t *self);
size_t af_alink_inflight(const af_alink_t *self);
/* Requests in flight to one agent (its queue at this gateway); 0 when unknown. */
size_t af_alink_agent_inflight(af_alink_t *self, const char *agent_id);
/* Called with every DONE / ERROR whose request is already over (client gone,
 * CANCEL sent, timed out): the usage it reports is still counted (cost.h). */
void af_alink_on_late(af_alink_t *self, void (*fn)(void *arg, const af_msg_t *msg), void *arg);
/* The endpoint actually bound (port resolved when "*" or 0 was asked). */
const char *af_alink_endpoint(const af_alink_t *self);

#endif
