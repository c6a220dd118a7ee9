/* Upstream retry policy: which failures are worth another try, how long to wait
 * (exponential backoff with jitter, honouring retry-after), and which Anthropic
 * error type a failure maps to. Pure: the caller supplies randomness. */
#ifndef AF_RETRY_H
#define AF_RETRY_H

#include <stdbool.h>

typedef enum {
    AF_RETRY_HTTP = 0,     /* the server answered with a status */
    AF_RETRY_CONNECT,      /* could not connect / connection reset before a reply */
    AF_RETRY_TIMEOUT,      /* connect or read timeout */
} af_retry_kind_t;

typedef struct {
    int max_retries;       /* retries after the first attempt (default 3) */
    double base_s;         /* first backoff (default 0.5 s) */
    double max_s;          /* cap of one backoff (default 8 s) */
    double max_after_s;    /* a retry-after beyond this is not waited for (default 60 s) */
} af_retry_policy_t;

void af_retry_policy_default(af_retry_policy_t *p);

/* True for 408, 409, 429, 5xx (529 included), connect errors and timeouts. */
bool af_retry_retryable(af_retry_kind_t kind, int status);

/* Seconds to wait before retry number `attempt` (0 for the first retry), or a
 * negative value when no retry should happen (attempt >= max_retries, or
 * retry_after_s above max_after_s). retry_after_s < 0 means the server gave
 * none; otherwise the wait is at least retry_after_s. rand01 in [0,1). */
double af_retry_delay(const af_retry_policy_t *p, int attempt, double retry_after_s,
                      double rand01);

/* Parses a retry-after header value in seconds ("2", "0.5"); -1 when absent or
 * not a number (HTTP-dates are not sent by the Messages API). */
double af_retry_parse_after(const char *value);

/* Anthropic error type for a status without a usable error body. */
const char *af_retry_error_type(af_retry_kind_t kind, int status);

#endif
