/* The Redis route store against a real redis-server on loopback, as two
 * gateways would use it (two stores, each with its own connection): a route
 * one stores is the one the other finds, a delete or a move by one is seen by
 * the other, a cancelled lookup never calls back, and while Redis is down each
 * answers from its own memory copy (degraded) and comes back by itself, writing
 * back the routes it made meanwhile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "../../gateway/route_store.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int calls;
    bool found;
    char agent[64], user[64];
} s_seen_t;

static void s_cb(bool found, const char *agent_id, const char *user, void *arg)
{
    s_seen_t *s = arg;
    s->calls++;
    s->found = found;
    snprintf(s->agent, sizeof s->agent, "%s", found ? agent_id : "");
    snprintf(s->user, sizeof s->user, "%s", found ? user : "");
}

static struct event_base *s_base;

static void s_run(int ms, bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < ms / 5 && !(cond && cond(arg)); i++) {
        event_base_loop(s_base, EVLOOP_NONBLOCK);
        usleep(5000);
    }
}

static bool s_called(void *arg) { return ((s_seen_t *)arg)->calls > 0; }
static bool s_up(void *arg) { return af_redis_up(arg); }
static bool s_down(void *arg) { return !af_redis_up(arg); }

static s_seen_t s_get(af_route_store_t *rs, const char *sid)
{
    s_seen_t s = {0};
    af_route_store_get(rs, sid, s_cb, &s);
    s_run(2000, s_called, &s);
    assert_int_equal(s.calls, 1);
    return s;
}

static void test_shared_routes(void **state)
{
    (void)state;
    int port = af_test_free_port();
    pid_t pid = af_test_redis_start(port);
    s_base = event_base_new();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    af_redis_t *ra = af_redis_new(s_base, url), *rb = af_redis_new(s_base, url);
    af_metrics_t *ma = af_metrics_new(), *mb = af_metrics_new();
    af_route_store_t *a = af_route_store_new_redis(ra, 100, 60, ma);
    af_route_store_t *b = af_route_store_new_redis(rb, 100, 60, mb);
    assert_non_null(a);
    assert_non_null(b);
    s_run(5000, s_up, ra);
    s_run(5000, s_up, rb);
    assert_true(af_redis_up(ra) && af_redis_up(rb));

    /* Gateway A places the session; gateway B follows the same route. */
    assert_int_equal(af_route_store_put(a, "se_1", "ag_one", "alice"), 0);
    s_seen_t s = s_get(b, "se_1");
    assert_true(s.found);
    assert_string_equal(s.agent, "ag_one");
    assert_string_equal(s.user, "alice");
    /* B moves it (its agent died); A sees the move, not its own memory. */
    af_route_store_put(b, "se_1", "ag_two", "alice");
    assert_string_equal(s_get(a, "se_1").agent, "ag_two");
    /* B drops it; A no longer finds it either. */
    af_route_store_del(b, "se_1");
    assert_false(s_get(a, "se_1").found);
    assert_false(s_get(b, "se_unknown").found);

    /* A cancelled lookup never calls back (the request went away). */
    af_route_store_put(a, "se_2", "ag_one", "bob");
    s_seen_t gone = {0};
    af_route_store_get(a, "se_2", s_cb, &gone);
    af_route_store_cancel(a, &gone);
    s_run(200, NULL, NULL);
    assert_int_equal(gone.calls, 0);

    /* Redis down: each gateway answers from its memory copy (degraded). */
    af_test_redis_stop(pid);
    s_run(5000, s_down, ra);
    assert_false(af_redis_up(ra));
    s = s_get(a, "se_2"); /* answers at once from memory */
    assert_true(s.found);
    assert_string_equal(s.user, "bob");
    assert_int_equal(af_route_store_put(a, "se_3", "ag_one", "carol"), 0);
    assert_true(s_get(a, "se_3").found);
    assert_false(s_get(b, "se_3").found); /* not shared while down */

    /* Back: writes reach Redis again and are shared. */
    pid = af_test_redis_start(port);
    s_run(8000, s_up, ra);
    s_run(8000, s_up, rb);
    assert_true(af_redis_up(ra) && af_redis_up(rb));
    af_route_store_put(a, "se_4", "ag_one", "dave");
    assert_string_equal(s_get(b, "se_4").user, "dave");
    /* ...and the route A made while Redis was down was written back (NX). */
    s = s_get(b, "se_3");
    assert_true(s.found);
    assert_string_equal(s.user, "carol");

    af_route_store_destroy(&a);
    af_route_store_destroy(&b);
    af_redis_destroy(&ra);
    af_redis_destroy(&rb);
    af_metrics_destroy(&ma);
    af_metrics_destroy(&mb);
    af_test_redis_stop(pid);
    event_base_free(s_base);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_routes),
    };
    return cmocka_run_group_tests_name("route_store_redis", tests, NULL, NULL);
}
