/* Token buckets keyed by a string (client IP, user), in a bounded table: at most
 * max_entries buckets; the least recently used one is evicted when full, and
 * buckets idle long enough to have refilled are expired as we go, so a flood of
 * distinct keys costs bounded memory. Clock is a parameter (tests drive time). */
#ifndef AF_GW_RATELIMIT_H
#define AF_GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_RATELIMIT_KEY_MAX 80

typedef struct af_ratelimit_t af_ratelimit_t;

/* per_minute tokens a minute, bursts of `burst` (<= 0: per_minute). A per_minute
 * of 0 or less disables the limiter (take always succeeds). */
af_ratelimit_t *af_ratelimit_new(double per_minute, double burst, size_t max_entries);
void af_ratelimit_destroy(af_ratelimit_t **self_p);

/* Takes one token from key's bucket. False (and *retry_after_s) when empty. */
bool af_ratelimit_take(af_ratelimit_t *self, const char *key, uint64_t now_ns,
                       double *retry_after_s);

size_t af_ratelimit_size(const af_ratelimit_t *self);
uint64_t af_ratelimit_evictions(const af_ratelimit_t *self);

#endif
