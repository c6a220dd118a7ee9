/* Retry policy: what is retried, the backoff (exponential, jittered, capped,
 * bounded in count), retry-after honoured, error types per status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../agentd/retry.h"

#include <string.h>

static void test_retryable(void **state)
{
    (void)state;
    int yes[] = {429, 500, 502, 503, 504, 529, 408};
    int no[] = {400, 401, 403, 404, 413, 422};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(af_retry_retryable(AF_RETRY_HTTP, yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(af_retry_retryable(AF_RETRY_HTTP, no[i]));
    assert_true(af_retry_retryable(AF_RETRY_TIMEOUT, 0));
    assert_true(af_retry_retryable(AF_RETRY_CONNECT, 0));
}

static void test_backoff(void **state)
{
    (void)state;
    af_retry_policy_t p;
    af_retry_policy_default(&p);
    assert_int_equal(p.max_retries, 3);
    /* Attempt k waits between base*2^k/2 and base*2^k. */
    for (int k = 0; k < 3; k++) {
        double full = p.base_s * (1 << k);
        assert_true(af_retry_delay(&p, k, -1, 0.0) >= full / 2 - 1e-9);
        assert_true(af_retry_delay(&p, k, -1, 0.999) <= full + 1e-9);
        assert_true(af_retry_delay(&p, k, -1, 0.999) > af_retry_delay(&p, k, -1, 0.0));
    }
    /* Bounded in count. */
    assert_true(af_retry_delay(&p, 3, -1, 0.5) < 0);
    /* Capped in size. */
    p.max_retries = 20;
    assert_true(af_retry_delay(&p, 15, -1, 0.999) <= p.max_s + 1e-9);
    p.max_retries = 0;
    assert_true(af_retry_delay(&p, 0, -1, 0.5) < 0);
}

static void test_retry_after(void **state)
{
    (void)state;
    af_retry_policy_t p;
    af_retry_policy_default(&p);
    assert_true(af_retry_delay(&p, 0, 5, 0.0) >= 5.0);
    /* A short retry-after does not shorten the backoff. */
    assert_true(af_retry_delay(&p, 2, 0.1, 0.0) >= 1.0);
    /* Too long to wait: give up and let the client see it. */
    assert_true(af_retry_delay(&p, 0, 120, 0.0) < 0);
    assert_true(af_retry_parse_after("2") == 2.0);
    assert_true(af_retry_parse_after(" 0.5 ") == 0.5);
    assert_true(af_retry_parse_after("soon") < 0);
    assert_true(af_retry_parse_after("-3") < 0);
    assert_true(af_retry_parse_after("Wed, 21 Oct 2015 07:28:00 GMT") < 0);
    assert_true(af_retry_parse_after(NULL) < 0);
}

static void test_error_types(void **state)
{
    (void)state;
    assert_string_equal(af_retry_error_type(AF_RETRY_HTTP, 400), "invalid_request_error");
    assert_string_equal(af_retry_error_type(AF_RETRY_HTTP, 401), "authentication_error");
    assert_string_equal(af_retry_error_type(AF_RETRY_HTTP, 403), "permission_error");
    assert_string_equal(af_retry_error_type(AF_RETRY_HTTP, 404), "not_found_error");
    assert_string_equal(af_retry_error_type(AF_RETRY_HTTP, 429), "rate_limit_error");
    assert_string_equal(af_retry_error_type(AF_RETRY_HTTP, 500), "api_error");
    assert_string_equal(af_retry_error_type(AF_RETRY_HTTP, 529), "overloaded_error");
    assert_string_equal(af_retry_error_type(AF_RETRY_TIMEOUT, 0), "timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_error_types),
    };
    return cmocka_run_group_tests_name("agentd_retry", tests, NULL, NULL);
}
