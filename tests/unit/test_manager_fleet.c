/* Fleet actions against a recording provider (no sockets): SPAWN waits for
 * READY, join tokens are one-time, an unexpected death heals with the same
 * owner and spec, a failed spawn destroys its siblings, BYE and DELETE never
 * heal, re-registration after a restart rebuilds the registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/fleet.h"

#include <string.h>

#define MAXREC 64

typedef struct {
    int creates, destroys;
    char created[MAXREC][64];
    char tokens[MAXREC][48];
    char owners[MAXREC][64];
    af_spec_t specs[MAXREC];
    char destroyed[MAXREC][64];
    int fail_next; /* create returns -1 */
} s_rec_t;

static s_rec_t s_rec;

static int s_create(void *impl, const af_provider_spawn_t *req, char *err, size_t errlen)
{
    (void)impl;
    if (s_rec.fail_next) {
        s_rec.fail_next--;
        snprintf(err, errlen, "no more machines");
        return -1;
    }
    int i = s_rec.creates++;
    snprintf(s_rec.created[i], 64, "%s", req->agent_id);
    snprintf(s_rec.tokens[i], 48, "%s", req->token);
    snprintf(s_rec.owners[i], 64, "%s", req->owner);
    s_rec.specs[i] = *req->spec;
    return 0;
}

static int s_destroy(void *impl, const char *id)
{
    (void)impl;
    snprintf(s_rec.destroyed[s_rec.destroys++], 64, "%s", id);
    return 0;
}

static int s_list(void *impl, af_provider_list_fn *fn, void *arg)
{
    (void)impl;
    fn(arg, NULL, 0, NULL);
    return 0;
}

static void s_free(void *impl) { (void)impl; }

static const af_provider_ops_t s_ops = {"recording", s_create, s_destroy, s_list, s_free};

typedef struct {
    struct event_base *base;
    af_fleet_t *fleet;
} s_fix_t;

static int s_setup(void **state)
{
    memset(&s_rec, 0, sizeof s_rec);
    s_fix_t *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    af_fleet_config_t cfg = {.quota = 3, .min_agents = 0, .max_agents = 10, .capacity = 100,
                             .heartbeat_ms = 1000, .spawn_timeout_ms = 30000,
                             .endpoint = "tcp://127.0.0.1:1", .codec = AF_CODEC_JSON};
    af_spec_limits_init(&cfg.limits, NULL);
    f->fleet = af_fleet_new(f->base, &cfg, NULL);
    af_provider_t *p = calloc(1, sizeof *p);
    p->ops = &s_ops;
    af_fleet_set_provider(f->fleet, p);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    af_fleet_destroy(&f->fleet);
    event_base_free(f->base);
    free(f);
    return 0;
}

static af_msg_t *s_msg(const char *verb, const char *rid, const char *json)
{
    af_msg_t *m = af_msg_new(verb, "t1", cJSON_Parse(json));
    if (rid)
        m->routing_id = zframe_new(rid, strlen(rid));
    return m;
}

static void s_ready(af_fleet_t *fleet, const char *id, const char *owner, const char *token,
                    int sessions)
{
    char json[512], sess[128] = "";
    for (int i = 0; i < sessions; i++)
        snprintf(sess + strlen(sess), sizeof sess - strlen(sess), "%s\"se_%d\"", i ? "," : "", i);
    snprintf(json, sizeof json,
             "{\"agent_id\":\"%s\",\"owner\":\"%s\",\"spec\":{\"cores\":2,\"memory_mb\":1024},"
             "\"capacity\":100,\"sessions\":[%s],\"metrics\":\"127.0.0.1:9\",\"version\":\"t\"%s%s%s}",
             id, owner, sess, token ? ",\"token\":\"" : "", token ? token : "", token ? "\"" : "");
    af_msg_t *m = s_msg("READY", id, json);
    af_fleet_on_ready(fleet, m);
    af_msg_destroy(&m);
}

static void test_spawn_waits_for_ready_and_tokens(void **state)
{
    s_fix_t *f = *state;
    af_registry_t *reg = af_fleet_registry(f->fleet);
    af_msg_t *req = s_msg("SPAWN", "gw", "{}");
    af_spec_t spec = {2, 1024, "agentd:latest"};
    const char *code;
    char err[256];
    assert_int_equal(af_fleet_spawn(f->fleet, req, "alice", &spec, 2, &code, err, sizeof err), 0);
    assert_int_equal(s_rec.creates, 2);
    assert_int_equal(af_registry_count(reg, AF_AGENT_SPAWNING), 2);
    assert_string_equal(s_rec.owners[0], "alice");
    assert_int_equal(s_rec.specs[1].memory_mb, 1024);
    /* Wrong token: refused, still spawning. */
    s_ready(f->fleet, s_rec.created[0], "alice", "jt_wrong", 0);
    assert_int_equal(af_registry_get(reg, s_rec.created[0])->state, AF_AGENT_SPAWNING);
    s_ready(f->fleet, s_rec.created[0], "alice", s_rec.tokens[0], 0);
    assert_int_equal(af_registry_get(reg, s_rec.created[0])->state, AF_AGENT_READY);
    /* Quota of 3: two spawning/ready + 2 more is refused. */
    assert_int_equal(af_fleet_spawn(f->fleet, req, "alice", &spec, 2, &code, err, sizeof err), -1);
    assert_string_equal(code, "quota_exceeded");
    af_msg_destroy(&req);
}

static void test_unexpected_death_heals(void **state)
{
    s_fix_t *f = *state;
    af_registry_t *reg = af_fleet_registry(f->fleet);
    af_msg_t *req = s_msg("SPAWN", "gw", "{}");
    af_spec_t spec = {4, 2048, "agentd:latest"};
    const char *code;
    char err[256];
    assert_int_equal(af_fleet_spawn(f->fleet, req, "bob", &spec, 1, &code, err, sizeof err), 0);
    s_ready(f->fleet, s_rec.created[0], "bob", s_rec.tokens[0], 0);
    af_fleet_provider_event(f->fleet, s_rec.created[0], AF_PROVIDER_EV_EXITED, "killed by signal 9");
    assert_int_equal(af_registry_get(reg, s_rec.created[0])->state, AF_AGENT_DEAD);
    assert_int_equal(s_rec.creates, 2); /* the replacement */
    assert_string_equal(s_rec.owners[1], "bob");
    assert_int_equal(s_rec.specs[1].cores, 4);
    assert_int_equal(s_rec.specs[1].memory_mb, 2048);
    assert_int_equal(af_registry_count_owner(reg, "bob"), 1);
    /* A BYE is on purpose: no heal. */
    s_ready(f->fleet, s_rec.created[1], "bob", s_rec.tokens[1], 0);
    af_msg_t *bye = s_msg("BYE", s_rec.created[1], "{\"reason\":\"sigterm\"}");
    af_fleet_on_bye(f->fleet, bye);
    af_msg_destroy(&bye);
    assert_int_equal(s_rec.creates, 2);
    assert_int_equal(af_registry_count_owner(reg, "bob"), 0);
    af_msg_destroy(&req);
}

static void test_failed_spawn_destroys_siblings(void **state)
{
    s_fix_t *f = *state;
    af_registry_t *reg = af_fleet_registry(f->fleet);
    af_msg_t *req = s_msg("SPAWN", "gw", "{}");
    af_spec_t spec = {1, 512, "agentd:latest"};
    const char *code;
    char err[256];
    assert_int_equal(af_fleet_spawn(f->fleet, req, "carol", &spec, 3, &code, err, sizeof err), 0);
    s_ready(f->fleet, s_rec.created[0], "carol", s_rec.tokens[0], 0);
    af_fleet_provider_event(f->fleet, s_rec.created[1], AF_PROVIDER_EV_FAILED, "HTTP 500: boom");
    /* All three are gone and none healed. */
    assert_int_equal(s_rec.creates, 3);
    assert_int_equal(af_registry_count_owner(reg, "carol"), 0);
    assert_int_equal(s_rec.destroys, 2); /* the ready one and the spawning one */
    /* A synchronous provider refusal fails the SPAWN at once. */
    s_rec.fail_next = 1;
    assert_int_equal(af_fleet_spawn(f->fleet, req, "carol", &spec, 1, &code, err, sizeof err), -1);
    assert_string_equal(code, "spawn_failed");
    assert_non_null(strstr(err, "no more machines"));
    af_msg_destroy(&req);
}

static void test_delete_and_readopt(void **state)
{
    s_fix_t *f = *state;
    af_registry_t *reg = af_fleet_registry(f->fleet);
    /* After a restart, unknown agents re-register with owner, spec, sessions. */
    s_ready(f->fleet, "ag_old1", "dave", NULL, 3);
    s_ready(f->fleet, "ag_old2", "pool", NULL, 0);
    af_agent_t *a = af_registry_get(reg, "ag_old1");
    assert_non_null(a);
    assert_int_equal(a->state, AF_AGENT_READY);
    assert_string_equal(a->owner, "dave");
    assert_int_equal(a->spec.cores, 2);
    assert_int_equal(a->sessions, 3);
    /* Unknown heartbeat keeps nothing; a known one updates sessions. */
    af_msg_t *hb = s_msg("HEARTBEAT", "ag_old1", "{\"sessions\":5,\"draining\":false}");
    af_fleet_on_heartbeat(f->fleet, hb);
    af_msg_destroy(&hb);
    assert_int_equal(a->sessions, 5);
    af_fleet_delete(f->fleet, a);
    assert_false(af_fleet_visible(a));
    assert_int_equal(s_rec.destroys, 1);
    assert_string_equal(s_rec.destroyed[0], "ag_old1");
    af_fleet_provider_event(f->fleet, "ag_old1", AF_PROVIDER_EV_EXITED, "exit 0");
    assert_int_equal(a->state, AF_AGENT_DEAD);
    assert_int_equal(s_rec.creates, 0); /* deleted: never healed */
    /* A deleted agent that tries to come back is refused. */
    s_ready(f->fleet, "ag_old1", "dave", NULL, 0);
    assert_int_equal(af_registry_get(reg, "ag_old1")->state, AF_AGENT_DEAD);
    /* READY whose routing id differs from agent_id is refused. */
    af_msg_t *m = s_msg("READY", "someone-else",
                        "{\"agent_id\":\"ag_x\",\"owner\":\"eve\",\"capacity\":100}");
    af_fleet_on_ready(f->fleet, m);
    af_msg_destroy(&m);
    assert_null(af_registry_get(reg, "ag_x"));
    cJSON *stats = cJSON_CreateObject();
    af_fleet_stats(f->fleet, stats);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(stats, "agents"), "ready")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(stats, "pool")->valueint, 1);
    cJSON_Delete(stats);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spawn_waits_for_ready_and_tokens, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unexpected_death_heals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_failed_spawn_destroys_siblings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_readopt, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("manager_fleet", tests, NULL, NULL);
}
