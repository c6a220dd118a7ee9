/* The Redis wrapper against a real redis-server on loopback: commands, state
 * transitions when the server dies (fail fast, degraded) and automatic
 * reconnection when it comes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"
#include "redis.h"
#include "testutil.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct {
    struct event_base *base;
    int ups, downs;
    char got[64];
    int replies, failures;
} s_ctx_t;

static void s_state(void *arg, bool up)
{
    s_ctx_t *c = arg;
    if (up)
        c->ups++;
    else
        c->downs++;
}

static void s_reply(void *arg, redisReply *r, const char *err)
{
    s_ctx_t *c = arg;
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(c->got, sizeof c->got, "%s", r->str);
    if (r)
        c->replies++;
    else {
        c->failures++;
        snprintf(c->got, sizeof c->got, "err:%s", err ? err : "");
    }
}

/* Runs the loop until cond or ms pass. */
#define RUN_UNTIL(c, cond, ms)                                                        \
    for (int _i = 0; _i < (ms) / 10 && !(cond); _i++) {                              \
        event_base_loop((c)->base, EVLOOP_NONBLOCK);                                  \
        usleep(10000);                                                                \
    }

static void test_redis_lifecycle(void **state)
{
    (void)state;
    int port = af_test_free_port();
    pid_t pid = af_test_redis_start(port);
    s_ctx_t c = {.base = event_base_new()};
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    af_redis_t *r = af_redis_new(c.base, url);
    assert_non_null(r);
    af_redis_on_state(r, s_state, &c);
    RUN_UNTIL(&c, af_redis_up(r), 5000);
    assert_true(af_redis_up(r));
    assert_int_equal(c.ups, 1);
    assert_int_equal(af_redis_cmd(r, NULL, NULL, "SET %s %s", "k", "v1"), 0);
    assert_int_equal(af_redis_cmd(r, s_reply, &c, "GET %s", "k"), 0);
    RUN_UNTIL(&c, c.replies == 1, 2000);
    assert_string_equal(c.got, "v1");
    /* A Redis error reply reaches the callback as an error, not a crash. */
    assert_int_equal(af_redis_cmd(r, s_reply, &c, "INCR %s", "k"), 0);
    RUN_UNTIL(&c, c.failures == 1, 2000);
    assert_non_null(strstr(c.got, "err:"));
    /* Binary-safe argv. */
    const char *argv[] = {"SET", "bin", "a\0b"};
    size_t lens[] = {3, 3, 3};
    assert_int_equal(af_redis_cmdargv(r, NULL, NULL, 3, argv, lens), 0);
    /* Redis dies: state goes down, commands fail at once. */
    af_test_redis_stop(pid);
    RUN_UNTIL(&c, !af_redis_up(r), 5000);
    assert_false(af_redis_up(r));
    assert_int_equal(c.downs, 1);
    assert_int_equal(af_redis_cmd(r, s_reply, &c, "GET %s", "k"), -1);
    /* It comes back on the same port: reconnects by itself. */
    pid = af_test_redis_start(port);
    RUN_UNTIL(&c, af_redis_up(r), 8000);
    assert_true(af_redis_up(r));
    assert_int_equal(c.ups, 2);
    assert_int_equal(af_redis_cmd(r, s_reply, &c, "SET %s %s", "k", "v2"), 0);
    assert_int_equal(af_redis_cmd(r, s_reply, &c, "GET %s", "k"), 0);
    RUN_UNTIL(&c, c.replies == 3, 2000);
    assert_string_equal(c.got, "v2");
    af_redis_destroy(&r);
    assert_null(r);
    af_test_redis_stop(pid);
    event_base_free(c.base);
}

static void test_bad_urls(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_null(af_redis_new(base, ""));
    assert_null(af_redis_new(base, "redis://:6379"));
    assert_null(af_redis_new(base, "redis://host:notaport"));
    assert_null(af_redis_new(base, "host:70000"));
    assert_null(af_redis_new(base, "redis://host:6379/x"));
    event_base_free(base);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_lifecycle),
        cmocka_unit_test(test_bad_urls),
    };
    return cmocka_run_group_tests_name("redis", tests, NULL, NULL);
}
