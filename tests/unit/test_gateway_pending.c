/* Pending requests: ids round-trip through the `req` text, take removes,
 * timeouts fire once on the loop with the entry already gone, touch
 * postpones, and foreign reqs are not ours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/pending.h"

#include <stdio.h>

static int s_fired;
static uint64_t s_fired_id;
static af_pending_t *s_p;

static void s_timeout(uint64_t id, void *data, void *arg)
{
    (void)arg;
    af_pending_t *p = s_p;
    s_fired++;
    s_fired_id = id;
    assert_null(af_pending_get(p, id)); /* removed before the callback */
    assert_non_null(data);
}

static void test_add_get_take_parse(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    af_pending_t *p = af_pending_new(base, NULL, NULL);
    int a = 1, b = 2;
    uint64_t ia = af_pending_add(p, &a, 0), ib = af_pending_add(p, &b, 0);
    assert_true(ia > 0 && ib > 0 && ia != ib);
    assert_ptr_equal(af_pending_get(p, ia), &a);
    char req[64];
    snprintf(req, sizeof req, "gw-1-a%llu", (unsigned long long)ib);
    assert_int_equal(af_pending_parse(req, "gw-1-a"), ib);
    assert_int_equal(af_pending_parse(req, "gw-1-m"), 0);
    assert_int_equal(af_pending_parse("gw-1-a", "gw-1-a"), 0);
    assert_int_equal(af_pending_parse("gw-1-a12x", "gw-1-a"), 0);
    assert_int_equal(af_pending_parse("gw-1-a99999999999999999999999", "gw-1-a"), 0);
    assert_ptr_equal(af_pending_take(p, ib), &b);
    assert_null(af_pending_take(p, ib));
    assert_int_equal(af_pending_count(p), 1);
    af_pending_destroy(&p);
    assert_null(p);
    event_base_free(base);
}

static void test_timeouts_fire_once_and_touch_postpones(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    af_pending_t *p = af_pending_new(base, s_timeout, NULL);
    s_p = p; /* the callback checks the table */
    int x = 1, y = 2;
    uint64_t ix = af_pending_add(p, &x, 20);
    uint64_t iy = af_pending_add(p, &y, 20);
    af_pending_touch(p, iy, 200);
    s_fired = 0;
    struct timeval tv = {0, 100000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_int_equal(s_fired, 1);
    assert_int_equal(s_fired_id, ix);
    assert_ptr_equal(af_pending_get(p, iy), &y); /* postponed, still waiting */
    af_pending_destroy(&p);                      /* drops y without a callback */
    event_base_free(base);
    assert_int_equal(s_fired, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_get_take_parse),
        cmocka_unit_test(test_timeouts_fire_once_and_touch_postpones),
    };
    return cmocka_run_group_tests_name("gateway_pending", tests, NULL, NULL);
}
