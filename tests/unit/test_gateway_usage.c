/* Usage accounting in memory: calls add to the user's day by model, cache
 * hits count as hits and tokens saved but not against the budget, a reset
 * zeroes only the budget counter, users and days are kept apart, and the
 * report sums today and 30 days with costs from the price table.
 * Over a fake Redis (it runs the same commands on a table, and the test says
 * when it is up, answers, drops or loses a reply): counts made while Redis was
 * down are written back once it returns, exactly once even when a reply is
 * lost, a fetch sees them, the budget while down is Redis' last value plus the
 * local counts, and a reset made while down reaches Redis in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/usage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- fake Redis ----------------------------------------------------------- */

typedef struct s_cmd {
    struct s_cmd *next;
    af_redis_fn *fn;
    void *arg;
    int argc;
    char **argv;
} s_cmd_t;

static struct {
    bool up;
    cJSON *hashes;  /* key -> {field: n} */
    cJSON *markers; /* key -> true */
    s_cmd_t *queue, **tail;
    int evals, markers_refused;
} F;

static bool s_fake_up(void *arg)
{
    (void)arg;
    return F.up;
}

static int s_fake_cmd(void *arg, af_redis_fn *fn, void *fn_arg, int argc, const char **argv,
                      const size_t *lens)
{
    (void)arg;
    if (!F.up)
        return -1;
    s_cmd_t *c = calloc(1, sizeof *c);
    c->fn = fn;
    c->arg = fn_arg;
    c->argc = argc;
    c->argv = calloc((size_t)argc, sizeof *c->argv);
    for (int i = 0; i < argc; i++)
        c->argv[i] = strndup(argv[i], lens[i]);
    *F.tail = c;
    F.tail = &c->next;
    return 0;
}

static const af_usage_io_t s_fake_io = {s_fake_up, s_fake_cmd};

static void s_fake_reset(void)
{
    cJSON_Delete(F.hashes);
    cJSON_Delete(F.markers);
    memset(&F, 0, sizeof F);
    F.hashes = cJSON_CreateObject();
    F.markers = cJSON_CreateObject();
    F.tail = &F.queue;
    F.up = true;
}

static cJSON *s_hash(const char *key)
{
    cJSON *h = cJSON_GetObjectItemCaseSensitive(F.hashes, key);
    return h ? h : cJSON_AddObjectToObject(F.hashes, key);
}

/* What the real commands do to the table; the reply to give. */
static redisReply *s_apply(const s_cmd_t *c)
{
    redisReply *r = calloc(1, sizeof *r);
    if (!strcmp(c->argv[0], "EVAL")) {
        F.evals++;
        int nkeys = atoi(c->argv[2]);
        const char *key = c->argv[3];
        char **av = c->argv + 3 + nkeys; /* ttl, reset, pairs */
        int nav = c->argc - 3 - nkeys;
        r->type = REDIS_REPLY_INTEGER;
        if (nkeys == 2) {
            if (cJSON_GetObjectItemCaseSensitive(F.markers, c->argv[4])) {
                F.markers_refused++;
                return r; /* 0: already applied */
            }
            cJSON_AddTrueToObject(F.markers, c->argv[4]);
        }
        cJSON *h = s_hash(key);
        if (!strcmp(av[1], "1"))
            cJSON_DeleteItemFromObjectCaseSensitive(h, "b");
        for (int i = 2; i + 1 < nav; i += 2) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(h, av[i]);
            if (v)
                cJSON_SetNumberValue(v, v->valuedouble + atof(av[i + 1]));
            else
                cJSON_AddNumberToObject(h, av[i], atof(av[i + 1]));
        }
        r->integer = 1;
    } else if (!strcmp(c->argv[0], "HDEL")) {
        cJSON_DeleteItemFromObjectCaseSensitive(s_hash(c->argv[1]), c->argv[2]);
        r->type = REDIS_REPLY_INTEGER;
    } else if (!strcmp(c->argv[0], "HGETALL")) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(F.hashes, c->argv[1]);
        r->type = REDIS_REPLY_ARRAY;
        r->elements = 2 * (size_t)cJSON_GetArraySize(h);
        r->element = calloc(r->elements + 1, sizeof *r->element);
        size_t k = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, h)
        {
            char num[32];
            snprintf(num, sizeof num, "%.0f", f->valuedouble);
            for (int j = 0; j < 2; j++) {
                redisReply *e = calloc(1, sizeof *e);
                e->type = REDIS_REPLY_STRING;
                e->str = strdup(j ? num : f->string);
                e->len = strlen(e->str);
                r->element[k++] = e;
            }
        }
    } else {
        fail_msg("unexpected command %s", c->argv[0]);
    }
    return r;
}

static void s_reply_free(redisReply *r)
{
    for (size_t i = 0; i < r->elements; i++) {
        free(r->element[i]->str);
        free(r->element[i]);
    }
    free(r->element);
    free(r);
}

/* How the queued commands end. */
enum { ANSWER, DROP, LOSE_REPLY, REFUSE };

static int s_fake_run(int how)
{
    int n = 0;
    while (F.queue) {
        s_cmd_t *c = F.queue;
        F.queue = c->next;
        if (!F.queue)
            F.tail = &F.queue;
        redisReply *r = how == DROP || how == REFUSE ? NULL : s_apply(c);
        if (c->fn) {
            if (how == ANSWER)
                c->fn(c->arg, r, NULL);
            else
                c->fn(c->arg, NULL, how == REFUSE ? "OOM command not allowed" : "disconnected");
        }
        if (r)
            s_reply_free(r);
        for (int i = 0; i < c->argc; i++)
            free(c->argv[i]);
        free(c->argv);
        free(c);
        n++;
    }
    return n;
}

static double s_redis_field(const char *user, int64_t day, const char *field)
{
    char key[96];
    snprintf(key, sizeof key, "af:usage:%s:%lld", user, (long long)day);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(F.hashes, key), field);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool s_degraded;
static void s_on_days_any(void *arg, const cJSON *days, bool degraded)
{
    (void)arg;
    s_degraded = degraded;
    cJSON_Delete(s_days);
    s_days = cJSON_Duplicate(days, 1);
}

/* Today's view of user: fetch, let the fake answer, return field of day 0. */
static double s_view(af_usage_t *u, const char *user, int64_t day, const char *field)
{
    cJSON_Delete(s_days);
    s_days = NULL;
    af_usage_fetch(u, user, day, 1, s_on_days_any, NULL);
    if (F.up)
        s_fake_run(ANSWER);
    assert_non_null(s_days);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(s_days, 0), field);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

#define M "claude-3-5-haiku-20241022"
#define IM "i:" M
#define RM "r:" M

static void test_outage_counts_written_back_once(void **state)
{
    (void)state;
    s_fake_reset();
    const int64_t day = 20000;
    af_usage_t *u = af_usage_new_io(&s_fake_io, NULL);
    af_usage_record(u, "alice", day, M, 100, 20, false);
    assert_int_equal(s_fake_run(ANSWER), 1);
    assert_int_equal(s_view(u, "alice", day, "b"), 120); /* Redis read: seen = 120 */
    assert_false(s_degraded);

    F.up = false; /* the outage */
    af_usage_record(u, "alice", day, M, 30, 5, false);
    af_usage_record(u, "alice", day, M, 10, 5, false);
    af_usage_record(u, "alice", day, M, 7, 3, true); /* a hit: not the budget */
    assert_int_equal(af_usage_pending(u), 1);
    /* The budget while down: what Redis last said plus the local counts. */
    assert_int_equal(s_view(u, "alice", day, "b"), 170);
    assert_true(s_degraded);
    assert_int_equal(s_redis_field("alice", day, "b"), 120);

    F.up = true;
    af_usage_sync(u);
    assert_int_equal(s_fake_run(ANSWER), 1); /* one batch for the user-day */
    assert_int_equal(af_usage_pending(u), 0);
    assert_int_equal(s_redis_field("alice", day, "b"), 170);
    assert_int_equal(s_redis_field("alice", day, IM), 140);
    assert_int_equal(s_redis_field("alice", day, RM), 3);
    assert_int_equal(s_redis_field("alice", day, "h:" M), 1);
    assert_int_equal(s_redis_field("alice", day, "si"), 7);
    assert_int_equal(s_view(u, "alice", day, "b"), 170);
    assert_false(s_degraded);
    /* Nothing is written twice. */
    af_usage_sync(u);
    af_usage_record(u, "alice", day, M, 1, 1, false);
    assert_int_equal(s_fake_run(ANSWER), 1);
    assert_int_equal(s_redis_field("alice", day, "b"), 172);
    /* While down again, the base is Redis' last value plus acknowledged writes. */
    F.up = false;
    assert_int_equal(s_view(u, "alice", day, "b"), 172);
    af_usage_destroy(&u);
    s_fake_reset();
}

static void test_lost_reply_resent_and_applied_once(void **state)
{
    (void)state;
    s_fake_reset();
    const int64_t day = 20001;
    af_usage_t *u = af_usage_new_io(&s_fake_io, NULL);
    F.up = false;
    af_usage_record(u, "bob", day, M, 50, 0, false);
    F.up = true;
    af_usage_sync(u);
    /* Redis applies the batch, the connection drops before the reply. */
    assert_int_equal(s_fake_run(LOSE_REPLY), 1);
    assert_int_equal(s_redis_field("bob", day, "b"), 50);
    assert_int_equal(af_usage_pending(u), 1);
    F.up = false;
    assert_int_equal(s_view(u, "bob", day, "b"), 50); /* counted once in the view too */
    af_usage_record(u, "bob", day, M, 4, 0, false);
    F.up = true;
    /* The fetch writes back first (the old batch under its id, then the new
     * counts) and its read comes after them on the connection. */
    assert_int_equal(s_view(u, "bob", day, "b"), 54);
    assert_int_equal(F.markers_refused, 1);
    assert_int_equal(s_redis_field("bob", day, "b"), 54);
    assert_int_equal(af_usage_pending(u), 0);

    /* A batch that never reached Redis is sent again. */
    F.up = false;
    af_usage_record(u, "bob", day, M, 6, 0, false);
    F.up = true;
    af_usage_sync(u);
    assert_int_equal(s_fake_run(DROP), 1);
    assert_int_equal(s_redis_field("bob", day, "b"), 54);
    af_usage_sync(u);
    assert_int_equal(s_fake_run(ANSWER), 1);
    assert_int_equal(s_redis_field("bob", day, "b"), 60);
    assert_int_equal(s_redis_field("bob", day, RM), 3);
    /* A record whose write is dropped is kept and written back. */
    af_usage_record(u, "bob", day, M, 9, 1, false);
    assert_int_equal(s_fake_run(DROP), 1);
    assert_int_equal(af_usage_pending(u), 1);
    af_usage_sync(u);
    assert_int_equal(s_fake_run(ANSWER), 1);
    assert_int_equal(s_redis_field("bob", day, "b"), 70);
    assert_int_equal(af_usage_pending(u), 0);
    /* A batch Redis refuses is retried by the periodic sync, not by every
     * operation (each would resend it at once). */
    F.up = false;
    af_usage_record(u, "bob", day, M, 10, 0, false);
    F.up = true;
    af_usage_sync(u);
    assert_int_equal(s_fake_run(REFUSE), 1);
    assert_int_equal(s_view(u, "bob", day, "b"), 80); /* the read still counts it */
    assert_int_equal(F.evals, 5); /* applied so far: no resend came before the read */
    assert_int_equal(af_usage_pending(u), 1);
    af_usage_sync(u);
    assert_int_equal(s_fake_run(ANSWER), 1);
    assert_int_equal(s_redis_field("bob", day, "b"), 80);
    assert_int_equal(af_usage_pending(u), 0);
    af_usage_destroy(&u);
    s_fake_reset();
}

static void test_reset_while_down_reaches_redis(void **state)
{
    (void)state;
    s_fake_reset();
    const int64_t day = 20002;
    af_usage_t *u = af_usage_new_io(&s_fake_io, NULL);
    af_usage_record(u, "carol", day, M, 100, 0, false);
    s_fake_run(ANSWER);
    assert_int_equal(s_view(u, "carol", day, "b"), 100);
    F.up = false;
    af_usage_record(u, "carol", day, M, 10, 0, false);
    af_usage_budget_reset(u, "carol", day);
    assert_int_equal(s_view(u, "carol", day, "b"), 0);
    af_usage_record(u, "carol", day, M, 5, 0, false);
    assert_int_equal(s_view(u, "carol", day, "b"), 5);
    assert_int_equal(s_view(u, "carol", day, IM), 115); /* figures stay */
    F.up = true;
    af_usage_sync(u);
    assert_int_equal(s_fake_run(ANSWER), 1);
    assert_int_equal(s_redis_field("carol", day, "b"), 5);
    assert_int_equal(s_redis_field("carol", day, IM), 115);
    /* A reset with Redis up goes straight to it. */
    af_usage_budget_reset(u, "carol", day);
    s_fake_run(ANSWER);
    assert_int_equal(s_redis_field("carol", day, "b"), 0);
    assert_int_equal(s_view(u, "carol", day, "b"), 0);
    af_usage_destroy(&u);
    s_fake_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_budget_report),
        cmocka_unit_test(test_outage_counts_written_back_once),
        cmocka_unit_test(test_lost_reply_resent_and_applied_once),
        cmocka_unit_test(test_reset_while_down_reaches_redis),
    };
    return cmocka_run_group_tests_name("gateway_usage", tests, NULL, NULL);
}
