/* Token bucket: burst, refill over (driven) time, retry_after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "bucket.h"

#define SEC 1000000000ULL

static void test_burst_then_refuse(void **state)
{
    (void)state;
    af_bucket_t b;
    af_bucket_init(&b, 100, 0, 0); /* 100/min, burst 100 */
    for (int i = 0; i < 100; i++)
        assert_true(af_bucket_take(&b, 1, 0, NULL));
    double retry = 0;
    assert_false(af_bucket_take(&b, 1, 0, &retry));
    assert_true(retry > 0.59 && retry < 0.61); /* one token every 0.6 s */
}

static void test_refill(void **state)
{
    (void)state;
    af_bucket_t b;
    af_bucket_init(&b, 60, 10, 0); /* 1/s, burst 10 */
    for (int i = 0; i < 10; i++)
        assert_true(af_bucket_take(&b, 1, 0, NULL));
    assert_false(af_bucket_take(&b, 1, SEC / 2, NULL));
    assert_true(af_bucket_take(&b, 1, SEC, NULL));
    assert_false(af_bucket_take(&b, 1, SEC, NULL));
    /* A long idle never overfills past the burst. */
    int n = 0;
    while (af_bucket_take(&b, 1, 1000 * SEC, NULL))
        n++;
    assert_int_equal(n, 10);
    /* Time going backwards (clock misuse) grants nothing. */
    assert_false(af_bucket_take(&b, 1, 999 * SEC, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refuse),
        cmocka_unit_test(test_refill),
    };
    return cmocka_run_group_tests_name("bucket", tests, NULL, NULL);
}
