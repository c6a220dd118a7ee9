/* HTTP handlers, one per route. Contract: a handler is called with an
 * authenticated (unless public) and rate-checked request whose JSON body, if
 * the route takes one, is parsed into r->body; it must end the request with
 * exactly one af_gw_reply_* / af_gw_stream_end, now or from a callback, and
 * set r->on_gone while it waits on another daemon. */
#ifndef AF_GW_API_H
#define AF_GW_API_H

#include "request.h"

/* api_agents.c */
void af_api_agents_create(af_gw_req_t *r);
void af_api_agents_list(af_gw_req_t *r);
void af_api_agents_get(af_gw_req_t *r);
void af_api_agents_delete(af_gw_req_t *r);
void af_api_agents_delete_alias(af_gw_req_t *r);
void af_api_stats(af_gw_req_t *r);
void af_api_scale(af_gw_req_t *r);
/* api_chat.c */
void af_api_chat_agent(af_gw_req_t *r);
void af_api_chat_pool(af_gw_req_t *r);
void af_api_session_get(af_gw_req_t *r);
void af_api_session_delete(af_gw_req_t *r);
/* api_messages.c */
void af_api_messages(af_gw_req_t *r);
/* api_health.c */
void af_api_healthz(af_gw_req_t *r);
void af_api_readyz(af_gw_req_t *r);
void af_api_metrics(af_gw_req_t *r);

/* manager_call.c: sends verb/body (taken) to the manager; on OK calls
 * r->on_manager_ok (set it first), on ERROR / timeout / unreachable replies
 * with the mapped error. `user` and `role` are added from r->who. */
void af_manager_call(af_gw_req_t *r, const char *verb, cJSON *body, long timeout_ms);
/* Sets body's `user` and `role` to r->who's (replacing any the client sent):
 * who asks, as every request to the manager names it. */
void af_manager_principal(const af_gw_req_t *r, cJSON *body);

#endif
