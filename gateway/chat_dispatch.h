/* Where a chat goes: a known session's agent (from the route store), or the
 * agent the manager PLACEs (then remembered for the session). Sends the CHAT
 * over the agent link and re-places once when the agent is not connected or
 * is draining. Shared by /v1/chat, /v1/agents/{id}/chat and /v1/messages. */
#ifndef AF_GW_CHAT_DISPATCH_H
#define AF_GW_CHAT_DISPATCH_H

#include "agent_link.h"
#include "request.h"

/* Uses r->chat (CHAT fields), r->session_id ("" = stateless, never stored),
 * r->agent_id ("" = pool). h->on_final must first offer non-DONE endings to
 * af_chat_handle_failure. */
void af_chat_dispatch(af_gw_req_t *r, const af_alink_handlers_t *h);

/* Takes the agent a PLACE reply names into r->agent_id (and restarts the
 * connect waits). Returns false after replying 502 when the reply names none
 * (the request is finished then). */
bool af_chat_placed_agent(af_gw_req_t *r, const af_msg_t *ok);

/* Handles an ERROR reply or a missing reply (agent gone, timeout): re-places
 * and resends when that can help (returns 1: the request lives on), otherwise
 * replies with the mapped error (returns 0: the request is finished). */
int af_chat_handle_failure(af_gw_req_t *r, const af_msg_t *msg, af_alink_end_t why,
                           const af_alink_handlers_t *h);

#endif
