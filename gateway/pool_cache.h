/* Recent pool placements for stateless calls (/v1/messages). A stateless call
 * opens no session, so any ready pool agent serves it; asking the manager to
 * PLACE each one would cost a round trip per request and count a session per
 * request in the manager's books. The cache keeps the last few agents PLACE
 * named (each for ttl), hands them out round-robin, and asks the caller to
 * PLACE again at most every refresh interval, so the manager still steers the
 * load. Pure (clock is a parameter). */
#ifndef AF_GW_POOL_CACHE_H
#define AF_GW_POOL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct af_pool_cache_t af_pool_cache_t;

af_pool_cache_t *af_pool_cache_new(size_t max_agents, uint64_t ttl_ns, uint64_t refresh_ns);
void af_pool_cache_destroy(af_pool_cache_t **self_p);

/* Copies a cached agent id (64 bytes) into out and returns true, or returns
 * false when the caller should PLACE (cache empty, or refresh due: the
 * refresh clock restarts here so only one caller PLACEs). */
bool af_pool_cache_pick(af_pool_cache_t *self, uint64_t now_ns, char *out);
/* Like pick, but never asks for a PLACE (fallback when PLACE failed). */
bool af_pool_cache_any(af_pool_cache_t *self, uint64_t now_ns, char *out);
/* Remembers (or refreshes) an agent PLACE named. */
void af_pool_cache_add(af_pool_cache_t *self, const char *agent_id, uint64_t now_ns);
/* Forgets an agent (gone, draining, full). */
void af_pool_cache_drop(af_pool_cache_t *self, const char *agent_id);
size_t af_pool_cache_size(const af_pool_cache_t *self);

#endif
