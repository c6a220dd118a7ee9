/* The autoscaler's manager link: a request still pending when the link is
 * destroyed ends through its callback (reply NULL, why "shutdown") exactly
 * once, so callers can free what they passed (they leaked before); and no
 * callback runs from inside af_mlink_request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../autoscaler/mlink.h"

#include <event2/event.h>
#include <string.h>

static int s_calls;
static char s_why[64];

static void s_fn(const af_msg_t *reply, const char *why, void *arg)
{
    assert_null(reply);
    assert_ptr_equal(arg, &s_calls);
    s_calls++;
    snprintf(s_why, sizeof s_why, "%s", why ? why : "");
}

static void test_pending_at_destroy(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    /* Nobody listens there: the request stays pending. */
    af_mlink_t *link = af_mlink_new(base, "tcp://127.0.0.1:9", AF_CODEC_JSON, 30);
    assert_non_null(link);
    s_calls = 0;
    assert_int_equal(af_mlink_request(link, "STATS", cJSON_CreateObject(), s_fn, &s_calls), 0);
    assert_int_equal(s_calls, 0);
    af_mlink_destroy(&link);
    assert_null(link);
    assert_int_equal(s_calls, 1);
    assert_string_equal(s_why, "shutdown");
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_at_destroy),
    };
    return cmocka_run_group_tests_name("autoscaler_mlink", tests, NULL, NULL);
}
