/* Usage accounting in memory: calls add to the user's day by model, cache
 * hits count as hits and tokens saved but not against the budget, a reset
 * zeroes only the budget counter, users and days are kept apart, and the
 * report sums today and 30 days with costs from the price table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/usage.h"

#include <math.h>
#include <string.h>

static cJSON *s_days;
static void s_on_days(void *arg, const cJSON *days, bool degraded)
{
    (void)arg;
    assert_false(degraded);
    cJSON_Delete(s_days);
    s_days = cJSON_Duplicate(days, 1);
}

static double s_num(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path1);
    if (path2)
        x = cJSON_GetObjectItemCaseSensitive(x, path2);
    assert_true(cJSON_IsNumber(x));
    return x->valuedouble;
}

static void test_record_budget_report(void **state)
{
    (void)state;
    af_usage_t *u = af_usage_new(NULL);
    const int64_t today = 20000;
    af_usage_record(u, "alice", today, "claude-3-5-haiku-20241022", 1000, 200, false);
    af_usage_record(u, "alice", today, "claude-3-5-haiku-20241022", 500, 100, false);
    af_usage_record(u, "alice", today, "claude-3-5-sonnet-20241022", 1000000, 0, false);
    af_usage_record(u, "alice", today, "claude-3-5-haiku-20241022", 1000, 200, true); /* hit */
    af_usage_record(u, "alice", today - 3, "claude-3-5-haiku-20241022", 10, 10, false);
    af_usage_record(u, "alice", today - 40, "claude-3-5-haiku-20241022", 99, 99, false);
    af_usage_record(u, "bob", today, "claude-3-5-haiku-20241022", 7, 7, false);

    af_usage_fetch(u, "alice", today, AF_USAGE_DAYS, s_on_days, NULL);
    assert_int_equal(cJSON_GetArraySize(s_days), AF_USAGE_DAYS);
    /* Budget: 1200 + 600 + 1000000, not the hit. */
    assert_int_equal(af_usage_budget_used(cJSON_GetArrayItem(s_days, 0)), 1001800);
    assert_int_equal(af_usage_budget_used(cJSON_GetArrayItem(s_days, 3)), 20);

    af_cost_config_t cfg;
    af_cost_config_defaults(&cfg);
    cJSON *rep = af_usage_report(&cfg, s_days, today);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rep, "today");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rep, "last_30_days");
    assert_int_equal((long)s_num(t, "input_tokens", NULL), 1001500);
    assert_int_equal((long)s_num(t, "output_tokens", NULL), 300);
    assert_int_equal((long)s_num(t, "requests", NULL), 3);
    assert_int_equal((long)s_num(t, "cache_hits", NULL), 1);
    assert_int_equal((long)s_num(t, "tokens_saved", NULL), 1200);
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(t, "by_model");
    const cJSON *haiku = cJSON_GetObjectItemCaseSensitive(by, "claude-3-5-haiku-20241022");
    assert_int_equal((long)s_num(haiku, "requests", NULL), 2);
    assert_int_equal((long)s_num(haiku, "cache_hits", NULL), 1);
    /* haiku: 1500 in x 0.80 + 300 out x 4.00 per MTok; sonnet: 1M in x 3.00. */
    assert_true(fabs(s_num(haiku, "cost_usd", NULL) - (1500 * 0.8 + 300 * 4.0) / 1e6) < 1e-9);
    assert_true(fabs(s_num(t, "cost_usd", NULL) - (3.0 + (1500 * 0.8 + 300 * 4.0) / 1e6)) < 1e-9);
    /* 30 days: today + 3 days ago; 40 days ago is outside. */
    assert_int_equal((long)s_num(m, "input_tokens", NULL), 1001510);
    assert_int_equal((long)s_num(m, "requests", NULL), 4);
    cJSON_Delete(rep);

    /* A reset zeroes the budget, not the figures; other users are apart. */
    af_usage_budget_reset(u, "alice", today);
    af_usage_fetch(u, "alice", today, 1, s_on_days, NULL);
    assert_int_equal(af_usage_budget_used(cJSON_GetArrayItem(s_days, 0)), 0);
    rep = af_usage_report(&cfg, s_days, today);
    assert_int_equal((long)s_num(rep, "today", "requests"), 3);
    cJSON_Delete(rep);
    af_usage_record(u, "alice", today, "claude-3-5-haiku-20241022", 5, 5, false);
    af_usage_fetch(u, "alice", today, 1, s_on_days, NULL);
    assert_int_equal(af_usage_budget_used(cJSON_GetArrayItem(s_days, 0)), 10);
    af_usage_fetch(u, "bob", today, 1, s_on_days, NULL);
    assert_int_equal(af_usage_budget_used(cJSON_GetArrayItem(s_days, 0)), 14);
    af_usage_fetch(u, "nobody", today, 2, s_on_days, NULL);
    assert_int_equal(af_usage_budget_used(cJSON_GetArrayItem(s_days, 0)), 0);

    cJSON_Delete(s_days);
    s_days = NULL;
    af_usage_destroy(&u);
    assert_null(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_budget_report),
    };
    return cmocka_run_group_tests_name("gateway_usage", tests, NULL, NULL);
}
