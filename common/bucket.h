/* Token bucket rate limiter on a caller-supplied monotonic clock (so tests can
 * drive time). Plain struct: embed it, no allocation. */
#ifndef AF_BUCKET_H
#define AF_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double tokens;   /* available now */
    double burst;    /* capacity */
    double rate;     /* tokens per second */
    uint64_t last_ns;
} af_bucket_t;

/* A full bucket allowing `per_minute` requests a minute with bursts of `burst`. */
void af_bucket_init(af_bucket_t *b, double per_minute, double burst, uint64_t now_ns);

/* Takes n tokens if available and returns true; otherwise returns false and sets
 * *retry_after_s (if non-NULL) to the seconds until n tokens will be there. */
bool af_bucket_take(af_bucket_t *b, double n, uint64_t now_ns, double *retry_after_s);

#endif
