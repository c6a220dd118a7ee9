/* Retry policy. See retry.h. */
#include "retry.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

void af_retry_policy_default(af_retry_policy_t *p)
{
    p->max_retries = 3;
    p->base_s = 0.5;
    p->max_s = 8.0;
    p->max_after_s = 60.0;
}

bool af_retry_retryable(af_retry_kind_t kind, int status)
{
    if (kind != AF_RETRY_HTTP)
        return true;
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

double af_retry_delay(const af_retry_policy_t *p, int attempt, double retry_after_s,
                      double rand01)
{
    if (attempt < 0 || attempt >= p->max_retries)
        return -1;
    if (retry_after_s > p->max_after_s)
        return -1;
    double exp = p->base_s * pow(2.0, attempt);
    if (exp > p->max_s)
        exp = p->max_s;
    /* "Equal jitter": half fixed, half random, so retries of many sessions hit
     * by the same overload spread out but never fire at once. */
    double d = exp / 2 + exp / 2 * rand01;
    if (retry_after_s >= 0 && d < retry_after_s)
        d = retry_after_s;
    return d;
}

double af_retry_parse_after(const char *value)
{
    if (!value)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    char *end;
    double v = strtod(value, &end);
    if (end == value || isnan(v) || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    return *end ? -1 : v;
}

const char *af_retry_error_type(af_retry_kind_t kind, int status)
{
    if (kind == AF_RETRY_TIMEOUT)
        return "timeout";
    if (kind == AF_RETRY_CONNECT)
        return "api_error";
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}
