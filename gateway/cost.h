/* Cost controls on the chat path (issue #10), the glue between the handlers
 * and the pure modules: before validation, the model is routed (when the
 * request names none) and checked against the role's allow-list, and
 * max_tokens against the role's ceiling; before dispatch, the daily budget is
 * checked (429 budget_exceeded) and the response cache looked up (a hit
 * answers without an agent); when the agent answers, usage is counted and the
 * reply cached. Late replies (client gone, CANCEL) still count their usage.
 * gw->cost may be NULL (tests driving handlers): every hook is then a no-op. */
#ifndef AF_GW_COST_H
#define AF_GW_COST_H

#include "cost_config.h"
#include "request.h"

typedef struct af_cost_t af_cost_t;

/* cfg is copied (its users array taken: cfg is left cleared). Registers the
 * gateway_cache_*, gateway_user_tokens_total, gateway_budget_exceeded_total
 * and gateway_model_routed_total families. gw->redis may be NULL. */
af_cost_t *af_cost_new(af_gw_t *gw, af_cost_config_t *cfg);
void af_cost_destroy(af_cost_t **self_p);
const af_cost_config_t *af_cost_config(const af_cost_t *self);

/* Before validation. messages_api: POST /v1/messages (the only cacheable
 * route). Takes the `cache` field out of r->body, fills a routed `model` when
 * none is named. Returns 0, or -1 after replying (400 / 403). */
int af_cost_prepare(af_gw_req_t *r, bool messages_api);

/* A cache hit: done is a DONE message rebuilt from the cache; the hook
 * answers r exactly as for an agent's DONE. */
typedef void(af_cost_hit_fn)(af_gw_req_t *r, const af_msg_t *done);
/* After validation (r->chat set): budget, then cache. Calls go(r), or
 * hit(r, done), or replies 429 itself. */
void af_cost_admit(af_gw_req_t *r, af_gw_req_fn *go, af_cost_hit_fn *hit);

/* The agent's DONE for r (before the reply): counts usage, stores the reply. */
void af_cost_done(af_gw_req_t *r, const af_msg_t *done);
/* An ERROR for r (msg may be NULL): counts the usage it carries, if any. */
void af_cost_failed(af_gw_req_t *r, const af_msg_t *msg);
/* A DONE/ERROR whose request is gone (agent_link's late hook; arg: af_cost_t). */
void af_cost_late(void *arg, const af_msg_t *msg);

/* Usage store (api_usage.c). */
struct af_usage_t *af_cost_usage(af_cost_t *self);

#endif
