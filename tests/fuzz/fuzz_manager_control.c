/* libFuzzer: the manager's control dispatch with outside input. Byte 0 picks
 * the verb, byte 1 the sender (none, a gateway, an unknown agent, the last
 * spawned agent), the rest is the body as it comes off the wire (CBOR or JSON).
 * Invariants: no crash or leak, and the registry's per-state counts always add
 * up to its size. Replies go to an inproc ROUTER nobody reads. */
#include "../../manager/control.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static char s_last[64] = "ag_none";

static int s_create(void *impl, const af_provider_spawn_t *req, char *err, size_t errlen)
{
    (void)impl;
    if (req->spec->cores == 7) { /* some spawns fail, as a provider may */
        snprintf(err, errlen, "no capacity");
        return -1;
    }
    snprintf(s_last, sizeof s_last, "%s", req->agent_id);
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
static const af_provider_ops_t s_ops = {"fuzz", s_create, s_destroy, s_list, s_free};

static struct event_base *s_base;
static af_mgr_metrics_t s_metrics;
static af_fleet_t *s_fleet;
static af_control_t *s_control;
static int s_runs;

static double s_active(void *arg)
{
    af_fleet_t *const *fleet = arg;
    return *fleet ? af_fleet_active_count(*fleet) : 0;
}

static void s_fixture_down(void)
{
    af_control_destroy(&s_control);
    af_fleet_destroy(&s_fleet);
    af_mgr_metrics_fini(&s_metrics);
}

static void s_fixture_up(void)
{
    static int n;
    af_fleet_config_t cfg = {.quota = 3, .min_agents = 0, .max_agents = 4, .capacity = 2,
                             .heartbeat_ms = 1000, .spawn_timeout_ms = 30000,
                             .endpoint = "inproc://fuzz", .codec = AF_CODEC_CBOR};
    af_spec_limits_init(&cfg.limits, "agentd:latest,agentd:big");
    af_mgr_metrics_init(&s_metrics, s_active, &s_fleet);
    s_fleet = af_fleet_new(s_base, &cfg, &s_metrics);
    af_provider_t *p = calloc(1, sizeof *p);
    p->ops = &s_ops;
    af_fleet_set_provider(s_fleet, p);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://fuzz-control-%d", n++);
    s_control = af_control_new(s_base, ep, s_fleet, &s_metrics, 1 << 20, 0);
}

static const char *s_verbs[] = {"READY", "HEARTBEAT", "BYE",   "GATEWAY_HELLO", "SPAWN",
                                "DELETE", "LIST",     "GET",   "STATS",         "SCALE",
                                "PLACE",  "OK",       "ERROR", "CHAT"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_base) {
        af_log_init("fuzz", AF_LOG_ERROR);
        zsys_init();
        zsys_handler_set(NULL);
        s_base = event_base_new();
        s_fixture_up();
    }
    if (size < 2)
        return 0;
    /* A fresh registry now and then keeps memory bounded across millions of runs. */
    if (++s_runs % 512 == 0) {
        s_fixture_down();
        s_fixture_up();
    }
    char err[200];
    af_codec_t codec;
    cJSON *body = af_codec_decode(data + 2, size - 2, &codec, err, sizeof err);
    if (!body)
        return 0;
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(body, "req");
    af_msg_t *m = af_msg_new(s_verbs[data[0] % (sizeof s_verbs / sizeof s_verbs[0])],
                             cJSON_IsString(req) && strlen(req->valuestring) < AF_PROTO_REQ_MAX
                                 ? req->valuestring
                                 : "f1",
                             body);
    if (!m)
        return 0;
    m->codec = codec;
    const char *senders[] = {NULL, "gw-1", "ag_fuzz1", s_last};
    const char *rid = senders[data[1] % 4];
    if (rid)
        m->routing_id = zframe_new(rid, strlen(rid));
    af_control_dispatch(s_control, m);
    af_msg_destroy(&m);
    af_registry_t *reg = af_fleet_registry(s_fleet);
    size_t sum = 0;
    for (int st = 0; st < AF_AGENT_STATE_COUNT; st++)
        sum += af_registry_count(reg, (af_agent_state_t)st);
    if (sum != af_registry_size(reg))
        abort();
    if (s_runs % 64 == 0)
        free(af_metrics_render(s_metrics.registry));
    return 0;
}
