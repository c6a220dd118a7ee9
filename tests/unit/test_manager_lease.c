/* The manager lease against a real redis-server: one of two contenders leads with
 * fencing token 1; when the leader stops (its loop paused, as under SIGSTOP or a cut
 * link) it stops claiming leadership by its own clock before the standby takes over
 * with a higher token; when it comes back, its renewal fails and it steps down. A
 * clean destroy hands over at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../manager/lease.h"
#include "log.h"
#include "testutil.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TTL_MS 600

typedef struct {
    int ups, downs;
    uint64_t fence;
} s_seen_t;

static void s_on_change(void *arg, bool leader, uint64_t fence)
{
    s_seen_t *s = arg;
    if (leader) {
        s->ups++;
        s->fence = fence;
    } else {
        s->downs++;
    }
}

/* Runs both loops (a NULL base is paused) until cond or ms. */
#define RUN2(ba, bb, cond, ms)                                                        \
    do {                                                                              \
        uint64_t until_ = af_now_ns() + (uint64_t)(ms) * 1000000ULL;                  \
        struct event_base *a_ = (ba), *b_ = (bb);                                     \
        while (!(cond) && af_now_ns() < until_) {                                     \
            if (a_)                                                                   \
                event_base_loop(a_, EVLOOP_NONBLOCK);                                 \
            if (b_)                                                                   \
                event_base_loop(b_, EVLOOP_NONBLOCK);                                 \
            usleep(2000);                                                             \
        }                                                                             \
    } while (0)

static void test_failover_and_fencing(void **state)
{
    (void)state;
    int port = af_test_free_port();
    pid_t pid = af_test_redis_start(port);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    struct event_base *ba = event_base_new(), *bb = event_base_new();
    af_redis_t *ra = af_redis_new(ba, url), *rb = af_redis_new(bb, url);
    RUN2(ba, bb, af_redis_up(ra) && af_redis_up(rb), 5000);
    assert_true(af_redis_up(ra) && af_redis_up(rb));

    s_seen_t sa = {0}, sb = {0};
    af_lease_t *a = af_lease_new(ba, ra, "test:leader", "mgr-a", TTL_MS, s_on_change, &sa);
    assert_non_null(a);
    RUN2(ba, NULL, af_lease_leader(a), 2000); /* a starts first */
    af_lease_t *b = af_lease_new(bb, rb, "test:leader", "mgr-b", TTL_MS, s_on_change, &sb);
    assert_non_null(b);
    RUN2(ba, bb, false, 3 * TTL_MS); /* several renewals: a keeps it, b waits */
    assert_true(af_lease_leader(a));
    assert_false(af_lease_leader(b));
    assert_int_equal(af_lease_fence(a), 1);
    assert_int_equal(sa.ups, 1);
    assert_int_equal(sb.ups, 0);
    assert_string_equal(af_lease_holder(b), "mgr-a");

    /* a pauses: b must lead within ttl + a tick; a must not think it leads by then. */
    uint64_t t0 = af_now_ns();
    RUN2(NULL, bb, af_lease_leader(b), 3 * TTL_MS);
    double took_ms = (double)(af_now_ns() - t0) / 1e6;
    assert_true(af_lease_leader(b));
    assert_true(took_ms < TTL_MS + TTL_MS / 3 + 200);
    assert_false(af_lease_leader(a)); /* by its own clock, before any loop turn */
    assert_true(af_lease_fence(b) > af_lease_fence(a));
    assert_int_equal(af_lease_fence(b), 2);

    /* a resumes: its renewal is refused, it steps down; b keeps leading. */
    RUN2(ba, bb, sa.downs == 1, 2000);
    assert_int_equal(sa.downs, 1);
    RUN2(ba, bb, false, TTL_MS);
    assert_false(af_lease_leader(a));
    assert_true(af_lease_leader(b));
    assert_string_equal(af_lease_holder(a), "mgr-b");

    /* A clean stop of the leader hands over without waiting for the TTL. */
    af_lease_destroy(&b);
    assert_null(b);
    t0 = af_now_ns();
    RUN2(ba, bb, af_lease_leader(a), 2000);
    assert_true(af_lease_leader(a));
    assert_int_equal(af_lease_fence(a), 3);
    assert_true((double)(af_now_ns() - t0) / 1e6 < TTL_MS / 3 + 300);

    af_lease_destroy(&a);
    af_redis_destroy(&ra);
    af_redis_destroy(&rb);
    af_test_redis_stop(pid);
    event_base_free(ba);
    event_base_free(bb);
}

static void test_redis_down_steps_down(void **state)
{
    (void)state;
    int port = af_test_free_port();
    pid_t pid = af_test_redis_start(port);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    struct event_base *base = event_base_new();
    af_redis_t *r = af_redis_new(base, url);
    s_seen_t s = {0};
    af_lease_t *l = af_lease_new(base, r, "test:leader2", "solo", TTL_MS, s_on_change, &s);
    RUN2(base, NULL, af_lease_leader(l), 5000);
    assert_true(af_lease_leader(l));
    af_test_redis_stop(pid);
    /* Nobody can renew: the leader stops acting within its TTL. */
    RUN2(base, NULL, s.downs == 1, 2 * TTL_MS);
    assert_int_equal(s.downs, 1);
    assert_false(af_lease_leader(l));
    /* Destroy with a command possibly in flight, then the redis: no leak, no crash. */
    af_lease_destroy(&l);
    af_redis_destroy(&r);
    event_base_free(base);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    af_redis_t *r = af_redis_new(base, "redis://127.0.0.1:1/0");
    assert_null(af_lease_new(base, NULL, "k", "id", 1000, NULL, NULL));
    assert_null(af_lease_new(base, r, "", "id", 1000, NULL, NULL));
    assert_null(af_lease_new(base, r, "k", "", 1000, NULL, NULL));
    assert_null(af_lease_new(base, r, "k", "id", 10, NULL, NULL));
    assert_false(af_lease_leader(NULL));
    af_redis_destroy(&r);
    event_base_free(base);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_failover_and_fencing),
        cmocka_unit_test(test_redis_down_steps_down),
    };
    return cmocka_run_group_tests_name("manager_lease", tests, NULL, NULL);
}
