/* Session table: create/get/delete, capacity, ownership data, history as the
 * Messages API array, TTL expiry on a driven clock (busy sessions survive), and
 * the per-session token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../agentd/session.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000000ull

static void test_create_get_delete(void **state)
{
    (void)state;
    af_sessions_t *t = af_sessions_new(100, 1800, 100);
    bool full;
    af_session_t *s = af_sessions_create(t, "se_a", "alice", 5 * SEC, 1234, &full);
    assert_non_null(s);
    assert_false(full);
    assert_string_equal(s->id, "se_a");
    assert_string_equal(s->user, "alice");
    assert_int_equal(s->created_ms, 1234);
    assert_true(isnan(s->temperature));
    assert_ptr_equal(af_sessions_get(t, "se_a"), s);
    assert_null(af_sessions_get(t, "se_b"));
    assert_int_equal(af_sessions_count(t), 1);
    assert_int_equal(af_sessions_delete(t, "se_a"), 0);
    assert_int_equal(af_sessions_delete(t, "se_a"), -1);
    assert_null(af_sessions_get(t, "se_a"));
    assert_int_equal(af_sessions_count(t), 0);
    af_sessions_destroy(&t);
    assert_null(t);
    af_sessions_destroy(&t);
}

static void test_capacity(void **state)
{
    (void)state;
    af_sessions_t *t = af_sessions_new(100, 1800, 100);
    char id[32];
    bool full;
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "se_%d", i);
        assert_non_null(af_sessions_create(t, id, "u", 0, 0, &full));
    }
    assert_null(af_sessions_create(t, "se_100", "u", 0, 0, &full));
    assert_true(full);
    /* Every one is still found (hash chains intact). */
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "se_%d", i);
        assert_non_null(af_sessions_get(t, id));
    }
    cJSON *ids = af_sessions_ids(t);
    assert_int_equal(cJSON_GetArraySize(ids), 100);
    cJSON_Delete(ids);
    /* Room again after a delete. */
    assert_int_equal(af_sessions_delete(t, "se_42"), 0);
    assert_non_null(af_sessions_create(t, "se_100", "u", 0, 0, &full));
    af_sessions_destroy(&t);
}

static void test_history_messages(void **state)
{
    (void)state;
    af_sessions_t *t = af_sessions_new(10, 1800, 100);
    bool full;
    af_session_t *s = af_sessions_create(t, "se_h", "bob", 0, 0, &full);
    cJSON *m = af_session_messages(s, "first");
    assert_int_equal(cJSON_GetArraySize(m), 1);
    cJSON_Delete(m);
    for (int i = 0; i < 5; i++) {
        char u[16], a[16];
        snprintf(u, sizeof u, "q%d", i);
        snprintf(a, sizeof a, "a%d", i);
        assert_int_equal(af_session_add_turn(s, u, a), 0);
    }
    m = af_session_messages(s, "next");
    assert_int_equal(cJSON_GetArraySize(m), 11);
    const cJSON *first = cJSON_GetArrayItem(m, 0), *second = cJSON_GetArrayItem(m, 1),
                *last = cJSON_GetArrayItem(m, 10);
    assert_string_equal(cJSON_GetObjectItem(first, "role")->valuestring, "user");
    assert_string_equal(cJSON_GetObjectItem(first, "content")->valuestring, "q0");
    assert_string_equal(cJSON_GetObjectItem(second, "role")->valuestring, "assistant");
    assert_string_equal(cJSON_GetObjectItem(second, "content")->valuestring, "a0");
    assert_string_equal(cJSON_GetObjectItem(last, "content")->valuestring, "next");
    cJSON_Delete(m);
    m = af_session_messages(s, NULL);
    assert_int_equal(cJSON_GetArraySize(m), 10);
    cJSON_Delete(m);
    assert_int_equal(af_session_set_str(&s->system, "be brief"), 0);
    assert_string_equal(s->system, "be brief");
    assert_int_equal(af_session_set_str(&s->system, NULL), 0);
    assert_null(s->system);
    af_sessions_destroy(&t);
}

static void test_expiry(void **state)
{
    (void)state;
    af_sessions_t *t = af_sessions_new(10, 60, 100);
    bool full;
    af_session_t *a = af_sessions_create(t, "se_a", "u", 0, 0, &full);
    af_session_t *b = af_sessions_create(t, "se_b", "u", 0, 0, &full);
    af_sessions_create(t, "se_c", "u", 0, 0, &full);
    (void)a;
    assert_int_equal(af_sessions_expire(t, 59 * SEC), 0);
    /* se_a used at 30 s; se_b busy (a CHAT in flight). */
    double ra;
    assert_true(af_session_admit(t, af_sessions_get(t, "se_a"), 30 * SEC, &ra));
    b->busy = 1;
    assert_int_equal(af_sessions_expire(t, 61 * SEC), 1); /* only se_c */
    assert_null(af_sessions_get(t, "se_c"));
    assert_non_null(af_sessions_get(t, "se_a"));
    assert_non_null(af_sessions_get(t, "se_b"));
    assert_int_equal(af_sessions_expire(t, 91 * SEC), 1); /* se_a now */
    assert_null(af_sessions_get(t, "se_a"));
    b->busy = 0;
    assert_int_equal(af_sessions_expire(t, 91 * SEC), 1);
    assert_int_equal(af_sessions_count(t), 0);
    af_sessions_destroy(&t);
}

static void test_rate_limit(void **state)
{
    (void)state;
    af_sessions_t *t = af_sessions_new(10, 1800, 100);
    bool full;
    af_session_t *s = af_sessions_create(t, "se_r", "u", 0, 0, &full);
    double ra = 0;
    for (int i = 0; i < 100; i++)
        assert_true(af_session_admit(t, s, 0, &ra));
    assert_false(af_session_admit(t, s, 0, &ra));
    /* 100/min refills one token every 0.6 s. */
    assert_true(ra > 0.59 && ra < 0.61);
    assert_false(af_session_admit(t, s, SEC / 2, &ra));
    assert_true(af_session_admit(t, s, SEC * 6 / 10 + 1000, &ra));
    /* Another session has its own bucket. */
    af_session_t *o = af_sessions_create(t, "se_o", "u", 0, 0, &full);
    assert_true(af_session_admit(t, o, SEC, &ra));
    af_sessions_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_get_delete), cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_history_messages),  cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests_name("agentd_session", tests, NULL, NULL);
}
