/* Token bucket. See bucket.h. */
#include "bucket.h"

void af_bucket_init(af_bucket_t *b, double per_minute, double burst, uint64_t now_ns)
{
    b->rate = per_minute / 60.0;
    b->burst = burst > 0 ? burst : per_minute;
    b->tokens = b->burst;
    b->last_ns = now_ns;
}

bool af_bucket_take(af_bucket_t *b, double n, uint64_t now_ns, double *retry_after_s)
{
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) / 1e9 * b->rate;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ns = now_ns;
    }
    if (b->tokens >= n) {
        b->tokens -= n;
        return true;
    }
    if (retry_after_s)
        *retry_after_s = b->rate > 0 ? (n - b->tokens) / b->rate : 1e9;
    return false;
}
