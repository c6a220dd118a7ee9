/* Usage accounting (issue #10): per user and UTC day, tokens in/out, requests
 * and cache hits by model, tokens saved by the cache, and the budget counter
 * (tokens since the day began or an admin reset it). One Redis hash per user
 * and day (`af:usage:{user}:{day}`, kept 32 days) when Redis is up, so several
 * gateways agree; an in-memory table of the same shape otherwise. Reports are
 * built by a pure function (af_usage_report) from the fetched days.
 * With Redis configured, the memory table holds what Redis does not have yet
 * (counted while it was down, or a write that failed) and is written back
 * exactly once when Redis is up again (an idempotent script per user-day
 * batch), plus the hash as Redis last showed it: while Redis is down a fetch
 * (and so the budget) sees that last value plus this gateway's counts since. */
#ifndef AF_GW_USAGE_H
#define AF_GW_USAGE_H

#include "cost_config.h"
#include "redis.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#define AF_USAGE_DAYS 30

typedef struct af_usage_t af_usage_t;

/* What usage needs of Redis; tests substitute a fake. cmdargv has
 * af_redis_cmdargv's contract (0 and fn runs once later, or -1 when down). */
typedef struct {
    bool (*up)(void *arg);
    int (*cmdargv)(void *arg, af_redis_fn *fn, void *fn_arg, int argc, const char **argv,
                   const size_t *lens);
} af_usage_io_t;

/* redis may be NULL (memory only); not owned, and destroyed before usage
 * (pending replies end first and refer to it). */
af_usage_t *af_usage_new(af_redis_t *redis);
/* The same over io (copied; io_arg borrowed). */
af_usage_t *af_usage_new_io(const af_usage_io_t *io, void *io_arg);
void af_usage_destroy(af_usage_t **self_p);

/* Writes back what was counted while Redis was down, if it is up. Every
 * operation below does it first; call it also about once a second (it then
 * retries a write-back that Redis refused). Non-blocking. */
void af_usage_sync(af_usage_t *self);
/* User-days holding counts Redis does not have yet (0 without Redis). */
size_t af_usage_pending(const af_usage_t *self);

/* Counts one finished call. A cache hit counts as a hit and as tokens saved,
 * not as tokens used (it costs nothing from the budget). */
void af_usage_record(af_usage_t *self, const char *user, int64_t day, const char *model,
                     long long in, long long out, bool hit);
/* Zeroes the user's budget counter for day (the usage figures stay). */
void af_usage_budget_reset(af_usage_t *self, const char *user, int64_t day);

/* days: an array of ndays objects {field: count} for day_from, day_from-1,
 * ... (missing days are empty objects), borrowed for the call; NULL when out
 * of memory. degraded: Redis is configured but was down or failed on the way:
 * the figures are Redis' last known values plus this gateway's counts since
 * (other gateways' use meanwhile is missing). */
typedef void(af_usage_fn)(void *arg, const cJSON *days, bool degraded);
/* Fetches ndays days of user ending with day_from; fn runs once (at once
 * from memory, later from Redis). */
void af_usage_fetch(af_usage_t *self, const char *user, int64_t day_from, int ndays,
                    af_usage_fn *fn, void *arg);

/* The budget counter of a fetched day object. */
long long af_usage_budget_used(const cJSON *day);

/* Builds {today: {...}, last_30_days: {...}} from fetched days (days[0] is
 * today), each {input_tokens, output_tokens, requests, cache_hits,
 * tokens_saved, cost_usd, by_model: {model: {input_tokens, output_tokens,
 * requests, cache_hits, cost_usd}}}. Returns a new object. */
cJSON *af_usage_report(const af_cost_config_t *cfg, const cJSON *days, int64_t today);

#endif
