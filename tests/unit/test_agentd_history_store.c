/* Session histories in Redis: the JSON form (encode/apply round trip, what a
 * malformed document is), and the store against a real redis-server on
 * loopback: save -> load, TTL set, SET NX for a session made while Redis was
 * down (a stored history is never replaced by a shorter one), loads of an
 * absent key, and fail-fast while Redis is down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "../../agentd/history_store.h"
#include "log.h"

#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static af_session_t *s_session(af_sessions_t *t, const char *id, const char *user, int turns)
{
    bool full;
    af_session_t *s = af_sessions_create(t, id, user, 1, 1795780000000ull, &full);
    assert_non_null(s);
    for (int i = 0; i < turns; i++) {
        char u[32], a[32];
        snprintf(u, sizeof u, "question %d", i + 1);
        snprintf(a, sizeof a, "answer %d", i + 1);
        assert_int_equal(af_session_add_turn(s, u, a), 0);
    }
    return s;
}

static void test_round_trip(void **state)
{
    (void)state;
    af_sessions_t *t = af_sessions_new(4, 60, 100);
    af_session_t *s = s_session(t, "se_1", "alice", 2);
    af_session_set_str(&s->system, "be brief");
    af_session_set_str(&s->model, "claude-3-5-haiku-20241022");
    s->max_tokens = 300;
    s->temperature = 0.25;
    s->input_tokens = 40;
    s->output_tokens = 9;
    cJSON *doc = af_history_encode(s);
    assert_non_null(doc);
    assert_string_equal(af_history_doc_user(doc), "alice");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "messages")), 4);
    af_session_t *b = s_session(t, "se_2", "alice", 0);
    assert_int_equal(af_history_apply(b, doc), 0);
    assert_int_equal(b->nturns, 4);
    assert_string_equal(b->turns[3], "answer 2");
    assert_string_equal(b->system, "be brief");
    assert_string_equal(b->model, "claude-3-5-haiku-20241022");
    assert_int_equal(b->max_tokens, 300);
    assert_true(b->temperature == 0.25);
    assert_int_equal(b->input_tokens, 40);
    assert_int_equal(b->output_tokens, 9);
    assert_int_equal(b->created_ms, 1795780000000ull);
    cJSON_Delete(doc);
    af_sessions_destroy(&t);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "[]",
        "{\"user\":\"a\",\"messages\":[]}",                       /* no version */
        "{\"v\":2,\"user\":\"a\",\"messages\":[]}",               /* another version */
        "{\"v\":1,\"messages\":[]}",                              /* no owner */
        "{\"v\":1,\"user\":\"a\",\"messages\":{}}",
        "{\"v\":1,\"user\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", /* odd */
        "{\"v\":1,\"user\":\"a\",\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"},"
        "{\"role\":\"user\",\"content\":\"y\"}]}",                 /* out of order */
        "{\"v\":1,\"user\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":1},"
        "{\"role\":\"assistant\",\"content\":\"y\"}]}",
    };
    af_sessions_t *t = af_sessions_new(16, 60, 100);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char id[16];
        snprintf(id, sizeof id, "se_%zu", i);
        af_session_t *s = s_session(t, id, "a", 0);
        cJSON *doc = cJSON_Parse(bad[i]);
        assert_int_equal(af_history_apply(s, doc), -1);
        cJSON_Delete(doc);
    }
    /* Out-of-range settings are dropped, not applied. */
    af_session_t *s = s_session(t, "se_ok", "a", 0);
    cJSON *doc = cJSON_Parse("{\"v\":1,\"user\":\"a\",\"messages\":[],\"max_tokens\":1e9,"
                             "\"temperature\":7,\"created_ms\":1e300}");
    assert_int_equal(af_history_apply(s, doc), 0);
    assert_int_equal(s->max_tokens, 0);
    assert_true(isnan(s->temperature));
    cJSON_Delete(doc);
    af_sessions_destroy(&t);
}

/* ---- against a real redis-server ------------------------------------------ */

typedef struct {
    struct event_base *base;
    int loads, saves;
    bool found, saved_ok;
    char err[64];
    uint32_t turns;
    char user[32];
} s_ctx_t;

#define RUN_UNTIL(c, cond, ms)                                                        \
    for (int _i = 0; _i < (ms) / 10 && !(cond); _i++) {                              \
        event_base_loop((c)->base, EVLOOP_NONBLOCK);                                  \
        usleep(10000);                                                                \
    }

static void s_loaded(void *arg, const cJSON *doc, const char *err)
{
    s_ctx_t *c = arg;
    c->loads++;
    c->found = doc != NULL;
    snprintf(c->err, sizeof c->err, "%s", err ? err : "");
    if (doc) {
        c->turns = (uint32_t)cJSON_GetArraySize(cJSON_GetObjectItem(doc, "messages"));
        snprintf(c->user, sizeof c->user, "%s", af_history_doc_user(doc));
    }
}

static void s_saved(void *arg, bool ok)
{
    s_ctx_t *c = arg;
    c->saves++;
    c->saved_ok = ok;
}

static void test_store(void **state)
{
    (void)state;
    int port = af_test_free_port();
    pid_t pid = af_test_redis_start(port);
    s_ctx_t c = {.base = event_base_new()};
    af_metrics_t *reg = af_metrics_new();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    af_history_t *h = af_history_new(c.base, url, 120, reg);
    assert_non_null(h);
    RUN_UNTIL(&c, af_history_up(h), 5000);
    assert_true(af_history_up(h));
    af_sessions_t *t = af_sessions_new(8, 60, 100);

    /* Absent: loads answer "none", not an error. */
    assert_int_equal(af_history_load(h, "se_absent", s_loaded, &c), 0);
    RUN_UNTIL(&c, c.loads == 1, 2000);
    assert_false(c.found);
    assert_string_equal(c.err, "");

    /* A session known to Redis (stored) is written with SET: it replaces. */
    af_session_t *s = s_session(t, "se_x", "alice", 3);
    s->stored = true;
    assert_int_equal(af_history_save(h, s, s_saved, &c), 0);
    RUN_UNTIL(&c, c.saves == 1, 2000);
    assert_true(c.saved_ok);
    assert_int_equal(af_history_load(h, "se_x", s_loaded, &c), 0);
    RUN_UNTIL(&c, c.loads == 2, 2000);
    assert_true(c.found);
    assert_int_equal(c.turns, 6);
    assert_string_equal(c.user, "alice");

    /* A session made while Redis was down (not stored) must not replace the
     * longer history another agent wrote: SET NX refuses it. */
    af_session_t *late = s_session(t, "se_x2", "alice", 1);
    free(late->id);
    late->id = strdup("se_x"); /* same id, as on another agent */
    late->stored = false;
    assert_int_equal(af_history_save(h, late, s_saved, &c), 0);
    RUN_UNTIL(&c, c.saves == 2, 2000);
    assert_false(c.saved_ok);
    assert_int_equal(af_history_load(h, "se_x", s_loaded, &c), 0);
    RUN_UNTIL(&c, c.loads == 3, 2000);
    assert_int_equal(c.turns, 6);
    /* ...but it is written when no history exists. */
    free(late->id);
    late->id = strdup("se_new");
    assert_int_equal(af_history_save(h, late, s_saved, &c), 0);
    RUN_UNTIL(&c, c.saves == 3, 2000);
    assert_true(c.saved_ok);
    free(late->id);
    late->id = strdup("se_x2"); /* back to its table key before the table frees it */

    /* Redis gone: saves and loads fail at once (the caller degrades). */
    af_test_redis_stop(pid);
    RUN_UNTIL(&c, !af_history_up(h), 5000);
    assert_false(af_history_up(h));
    assert_int_equal(af_history_save(h, s, s_saved, &c), -1);
    assert_int_equal(af_history_load(h, "se_x", s_loaded, &c), -1);
    assert_int_equal(c.saves, 3);
    af_history_destroy(&h);
    assert_null(h);
    af_sessions_destroy(&t);
    af_metrics_destroy(&reg);
    event_base_free(c.base);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests_name("history_store", tests, NULL, NULL);
}
