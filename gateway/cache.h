/* Response cache (issue #10): completed replies of stateless Messages API
 * calls under a SHA-256 of the canonical request. The key covers exactly the
 * fields that change the answer (model, system, messages, max_tokens,
 * temperature), rebuilt in a fixed order, so field order and whitespace in the
 * client's JSON do not matter; it also names the route and, unless the route
 * is shared, the user. Entries live in Redis (SET EX, shared by gateways) when
 * one is up, else in a bounded in-memory LRU with the same TTL.
 * Size accounting is exact in both: the memory store subtracts what it evicts,
 * overwrites or lets expire; in Redis a store script keeps an index of entries
 * by expiry, their sizes and the total (shared by every gateway on that Redis),
 * and a periodic sweep script drops expired entries from them. */
#ifndef AF_GW_CACHE_H
#define AF_GW_CACHE_H

#include "redis.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct af_cache_t af_cache_t;

/* Canonical text of a request (CHAT fields as validate.c makes them), for the
 * key and for tests. user NULL = shared. Returns malloc'd text or NULL. */
char *af_cache_canonical(const cJSON *chat, const char *route, const char *user);
/* SHA-256 hex of the canonical text. Returns 0 / -1. */
int af_cache_key(const cJSON *chat, const char *route, const char *user, char hex[65]);
/* Cacheable: temperature 0 (absent means the API's default 1.0), unless
 * any_temperature. */
bool af_cache_cacheable(const cJSON *chat, bool any_temperature);

/* redis may be NULL (memory only); not owned, and destroyed before the cache
 * (pending replies end first and refer to the cache). */
af_cache_t *af_cache_new(af_redis_t *redis, size_t memory_max_bytes, long ttl_s);
void af_cache_destroy(af_cache_t **self_p);

/* value NULL on a miss; valid during the call only. */
typedef void(af_cache_fn)(void *arg, const char *value, size_t len);
/* Looks key up; fn runs once (at once from memory, later from Redis). */
void af_cache_get(af_cache_t *self, const char *key, uint64_t now_ms, af_cache_fn *fn, void *arg);
/* Stores a copy (fire and forget). */
void af_cache_put(af_cache_t *self, const char *key, const char *value, size_t len,
                  uint64_t now_ms);
/* Periodic work, about once a second: drops expired memory entries, and with
 * Redis up sends the sweep when due (every min(10 s, TTL)), else reads the
 * shared total (other gateways store too). Non-blocking. */
void af_cache_tick(af_cache_t *self, uint64_t now_ms);
/* Current size of the cached replies: bytes in memory, plus (while Redis is
 * up) the shared Redis total as last read (at most a tick old). */
double af_cache_bytes(const af_cache_t *self);
size_t af_cache_count(const af_cache_t *self);

#endif
