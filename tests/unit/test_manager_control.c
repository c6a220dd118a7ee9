/* The control dispatch end to end on an inproc ROUTER: every verb's shape is
 * checked before anything happens, refusals carry the right code and are
 * counted in manager_requests_total{verb,code}, ownership is enforced
 * (another user's agent is not_found), SPAWN replies only once its agents are
 * READY, unknown verbs and broken frames never crash the dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/control.h"

#include <string.h>

typedef struct {
    int creates;
    char ids[16][64];
    char tokens[16][48];
} s_rec_t;

static s_rec_t s_rec;

static int s_create(void *impl, const af_provider_spawn_t *req, char *err, size_t errlen)
{
    (void)impl;
    (void)err;
    (void)errlen;
    snprintf(s_rec.ids[s_rec.creates], 64, "%s", req->agent_id);
    snprintf(s_rec.tokens[s_rec.creates++], 48, "%s", req->token);
    return 0;
}
static int s_destroy(void *impl, const char *id) { (void)impl; (void)id; return 0; }
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
    af_mgr_metrics_t metrics;
    af_fleet_t *fleet;
    af_control_t *control;
    zsock_t *client;   /* a gateway */
    zsock_t *agent[4]; /* DEALERs with agent routing ids */
    char ep[64];
} s_fix_t;

static double s_active(void *arg)
{
    af_fleet_t *const *fleet = arg;
    return *fleet ? af_fleet_active_count(*fleet) : 0;
}

static int s_setup(void **state)
{
    static int n;
    memset(&s_rec, 0, sizeof s_rec);
    s_fix_t *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    af_fleet_config_t cfg = {.quota = 2, .min_agents = 0, .max_agents = 5, .capacity = 100,
                             .heartbeat_ms = 1000, .spawn_timeout_ms = 30000,
                             .endpoint = "inproc://unused", .codec = AF_CODEC_JSON,
                             .api_key = "sk-ant-test-0123456789"};
    af_spec_limits_init(&cfg.limits, NULL);
    assert_int_equal(af_mgr_metrics_init(&f->metrics, s_active, &f->fleet), 0);
    f->fleet = af_fleet_new(f->base, &cfg, &f->metrics);
    af_provider_t *p = calloc(1, sizeof *p);
    p->ops = &s_ops;
    af_fleet_set_provider(f->fleet, p);
    snprintf(f->ep, sizeof f->ep, "inproc://test-control-%d", n++);
    f->control = af_control_new(f->base, f->ep, f->fleet, &f->metrics, 4096, 0);
    assert_non_null(f->control);
    f->client = zsock_new(ZMQ_DEALER);
    zsock_set_identity(f->client, "gw-test");
    zsock_connect(f->client, "%s", f->ep);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    for (int i = 0; i < 4; i++)
        zsock_destroy(&f->agent[i]);
    zsock_destroy(&f->client);
    af_control_destroy(&f->control);
    af_fleet_destroy(&f->fleet);
    af_mgr_metrics_fini(&f->metrics);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* Sends verb+json on sock, runs the loop until a reply arrives (or 2 s). */
static af_msg_t *s_call(s_fix_t *f, zsock_t *sock, const char *verb, const char *json)
{
    af_msg_t *m = af_msg_new(verb, "t1", cJSON_Parse(json));
    assert_int_equal(af_proto_send(sock, &m, AF_CODEC_CBOR), 0);
    for (int i = 0; i < 400; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (zsock_events(sock) & ZMQ_POLLIN) {
            af_msg_t *in = NULL;
            af_proto_err_t err;
            if (af_proto_recv(sock, false, 1 << 20, false, AF_CODEC_JSON, &in, &err) == 0)
                return in;
        }
        zclock_sleep(5);
    }
    return NULL;
}

/* The next message waiting on sock (or NULL after 2 s). */
static af_msg_t *s_next(s_fix_t *f, zsock_t *sock)
{
    for (int i = 0; i < 400; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        af_msg_t *in = NULL;
        af_proto_err_t err;
        if ((zsock_events(sock) & ZMQ_POLLIN) &&
            af_proto_recv(sock, false, 1 << 20, false, AF_CODEC_JSON, &in, &err) == 0)
            return in;
        zclock_sleep(5);
    }
    return NULL;
}

static void s_expect_error(s_fix_t *f, const char *verb, const char *json, const char *code,
                           const char *in_message)
{
    af_msg_t *r = s_call(f, f->client, verb, json);
    assert_non_null(r);
    assert_string_equal(r->verb, "ERROR");
    assert_string_equal(af_msg_str(r, "code"), code);
    if (in_message)
        assert_non_null(strstr(af_msg_str(r, "message"), in_message));
    assert_string_equal(r->req, "t1");
    af_msg_destroy(&r);
}

static void test_shape_checks_and_counters(void **state)
{
    s_fix_t *f = *state;
    s_expect_error(f, "SPAWN", "{}", "invalid_request", "user");
    s_expect_error(f, "SPAWN", "{\"user\":\"a b\"}", "invalid_request", "user");
    s_expect_error(f, "SPAWN", "{\"user\":\"pool\"}", "invalid_request", "reserved");
    s_expect_error(f, "SPAWN", "{\"user\":\"al\",\"count\":51}", "invalid_request", "count");
    s_expect_error(f, "SPAWN", "{\"user\":\"al\",\"count\":\"2\"}", "invalid_request", "count");
    s_expect_error(f, "SPAWN", "{\"user\":\"al\",\"role\":\"root\"}", "invalid_request", "role");
    s_expect_error(f, "SPAWN", "{\"user\":\"al\",\"spec\":{\"memory_mb\":99999}}",
                   "invalid_request", "spec.memory_mb");
    s_expect_error(f, "SPAWN", "{\"user\":\"al\",\"count\":3}", "quota_exceeded", "quota of 2");
    s_expect_error(f, "DELETE", "{\"user\":\"al\"}", "invalid_request", "agent_id");
    s_expect_error(f, "DELETE", "{\"agent_id\":\"ag_x\"}", "invalid_request", "user");
    s_expect_error(f, "GET", "{\"agent_id\":\"../etc\",\"user\":\"al\"}", "invalid_request", NULL);
    s_expect_error(f, "GET", "{\"agent_id\":\"ag_none\",\"user\":\"al\"}", "not_found", NULL);
    s_expect_error(f, "LIST", "{}", "invalid_request", "user");
    s_expect_error(f, "LIST", "{\"all\":true,\"user\":\"al\"}", "forbidden", NULL);
    s_expect_error(f, "SCALE", "{\"target\":3}", "forbidden", NULL);
    s_expect_error(f, "SCALE", "{\"target\":-1,\"role\":\"admin\"}", "invalid_request", "target");
    s_expect_error(f, "PLACE", "{\"user\":\"al\"}", "capacity", NULL);
    s_expect_error(f, "PLACE", "{\"user\":\"al\",\"session_id\":7}", "invalid_request", "session_id");
    s_expect_error(f, "GATEWAY_HELLO", "{\"gateway_id\":\"g1\"}", "invalid_request", "endpoint");
    s_expect_error(f, "CHAT", "{\"session_id\":\"s\"}", "unknown_verb", "not served");
    assert_int_equal(af_metric_value(f->metrics.requests, "SPAWN", "invalid_request"), 7);
    assert_int_equal(af_metric_value(f->metrics.requests, "SPAWN", "quota_exceeded"), 1);
    assert_int_equal(af_metric_value(f->metrics.quota_rejections), 1);
    assert_int_equal(af_metric_value(f->metrics.requests, "CHAT", "unknown_verb"), 1);
    char *text = af_metrics_render(f->metrics.registry); /* callbacks read the live fleet */
    assert_non_null(strstr(text, "hypercore_agent_active_count 0"));
    free(text);
    assert_int_equal(af_metric_value(f->metrics.refused, "unknown_verb"), 1);
    assert_int_equal(s_rec.creates, 0); /* nothing was started by a refused request */
    /* Broken frames: a 2-frame message and a non-map body are refused with
     * ERROR and counted, and the dispatch keeps serving. */
    zstr_sendm(f->client, "AF1");
    zstr_send(f->client, "STATS");
    af_msg_t *r = s_call(f, f->client, "STATS", "{}");
    assert_non_null(r);
    assert_string_equal(r->verb, "ERROR");
    assert_string_equal(af_msg_str(r, "code"), "bad_frames");
    af_msg_destroy(&r);
    r = s_next(f, f->client); /* then the STATS reply itself */
    assert_non_null(r);
    assert_string_equal(r->verb, "OK");
    assert_non_null(cJSON_GetObjectItem(r->body, "spawn_seconds"));
    af_msg_destroy(&r);
    assert_true(af_metric_value(f->metrics.refused, "bad_frames") >= 1);
}

static void test_spawn_replies_when_ready_and_ownership(void **state)
{
    s_fix_t *f = *state;
    /* SPAWN: no reply until the agents are READY. */
    af_msg_t *m = af_msg_new("SPAWN", "sp1", cJSON_Parse("{\"user\":\"al\",\"count\":2}"));
    af_proto_send(f->client, &m, AF_CODEC_JSON);
    for (int i = 0; i < 20; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        zclock_sleep(2);
    }
    assert_int_equal(s_rec.creates, 2);
    assert_false(zsock_events(f->client) & ZMQ_POLLIN);
    char json[512];
    for (int i = 0; i < 2; i++) {
        /* Agents are DEALERs whose routing id is their agent id. */
        f->agent[i] = zsock_new(ZMQ_DEALER);
        zsock_set_identity(f->agent[i], s_rec.ids[i]);
        zsock_connect(f->agent[i], "%s", f->ep);
        snprintf(json, sizeof json,
                 "{\"agent_id\":\"%s\",\"owner\":\"al\",\"capacity\":100,\"sessions\":[],"
                 "\"metrics\":\"127.0.0.1:1\",\"version\":\"t\",\"token\":\"%s\"}",
                 s_rec.ids[i], s_rec.tokens[i]);
        af_msg_t *w = s_call(f, f->agent[i], "READY", json);
        assert_non_null(w);
        assert_string_equal(w->verb, "WELCOME");
        assert_int_equal((int)af_msg_num(w, "heartbeat_ms", 0), 1000);
        /* The key reaches agents in WELCOME (and only there). */
        assert_string_equal(af_msg_str(w, "api_key"), "sk-ant-test-0123456789");
        af_msg_destroy(&w);
    }
    af_msg_t *r = NULL;
    for (int i = 0; i < 100 && !r; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        af_proto_err_t err;
        if (zsock_events(f->client) & ZMQ_POLLIN)
            af_proto_recv(f->client, false, 1 << 20, false, AF_CODEC_JSON, &r, &err);
        zclock_sleep(2);
    }
    assert_non_null(r);
    assert_string_equal(r->verb, "OK");
    assert_string_equal(r->req, "sp1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r->body, "agents")), 2);
    af_msg_destroy(&r);
    /* Another user sees nothing; the owner and an admin do. */
    snprintf(json, sizeof json, "{\"agent_id\":\"%s\",\"user\":\"bo\"}", s_rec.ids[0]);
    s_expect_error(f, "GET", json, "not_found", NULL);
    s_expect_error(f, "DELETE", json, "not_found", NULL);
    snprintf(json, sizeof json, "{\"agent_id\":\"%s\",\"user\":\"root\",\"role\":\"admin\"}",
             s_rec.ids[0]);
    r = s_call(f, f->client, "GET", json);
    assert_string_equal(r->verb, "OK");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r->body, "agent"), "owner")->valuestring, "al");
    af_msg_destroy(&r);
    snprintf(json, sizeof json, "{\"agent_id\":\"%s\",\"user\":\"al\"}", s_rec.ids[1]);
    r = s_call(f, f->client, "PLACE", json);
    assert_string_equal(r->verb, "OK");
    assert_string_equal(af_msg_str(r, "agent_id"), s_rec.ids[1]);
    af_msg_destroy(&r);
    r = s_call(f, f->client, "DELETE", json);
    assert_string_equal(r->verb, "OK");
    assert_string_equal(af_msg_str(r, "status"), "deleted");
    af_msg_destroy(&r);
    r = s_call(f, f->client, "LIST", "{\"user\":\"al\"}");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r->body, "agents")), 1);
    af_msg_destroy(&r);
    /* An unknown agent's heartbeat is answered not_registered. */
    zsock_t *stranger = zsock_new(ZMQ_DEALER);
    zsock_set_identity(stranger, "ag_stranger");
    zsock_connect(stranger, "%s", f->ep);
    r = s_call(f, stranger, "HEARTBEAT", "{\"sessions\":0}");
    assert_non_null(r);
    assert_string_equal(af_msg_str(r, "code"), "not_registered");
    af_msg_destroy(&r);
    zsock_destroy(&stranger);
}

/* Which CURVE-authenticated role may send which verb: agents register and
 * heartbeat but never act for a user; only gateways place and spawn; the
 * autoscaler reads STATS and SCALEs; a key of any other role may send
 * nothing; plaintext carries no role and is not checked. */
static void test_peer_roles(void **state)
{
    (void)state;
    assert_true(af_control_peer_may("agentd", "READY"));
    assert_true(af_control_peer_may("agentd", "HEARTBEAT"));
    assert_false(af_control_peer_may("agentd", "SCALE"));
    assert_false(af_control_peer_may("agentd", "LIST"));
    assert_false(af_control_peer_may("agentd", "SPAWN"));
    assert_false(af_control_peer_may("agentd", "PLACE"));
    assert_true(af_control_peer_may("gateway", "SPAWN"));
    assert_true(af_control_peer_may("gateway", "PLACE"));
    assert_false(af_control_peer_may("gateway", "READY"));
    assert_true(af_control_peer_may("autoscaler", "SCALE"));
    assert_true(af_control_peer_may("autoscaler", "STATS"));
    assert_false(af_control_peer_may("autoscaler", "DELETE"));
    assert_false(af_control_peer_may("autoscaler", "READY"));
    assert_false(af_control_peer_may("late-agent", "HEARTBEAT"));
    assert_true(af_control_peer_may("", "SCALE"));
    assert_true(af_control_peer_may("gateway", "CHAT")); /* answered unknown_verb instead */
}

int main(void)
{
    zsys_init();
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_roles),
        cmocka_unit_test_setup_teardown(test_shape_checks_and_counters, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_replies_when_ready_and_ownership, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests_name("manager_control", tests, NULL, NULL);
}
