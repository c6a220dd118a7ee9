/* agentd: holds up to 100 Claude sessions for the fleet. main only parses the
 * configuration and wires modules: defaults -> config -> init -> listeners ->
 * loop. The API key comes from ANTHROPIC_API_KEY (never a flag: argv is visible
 * in ps) or from the manager's WELCOME. */
#include "agent.h"
#include "codec.h"
#include "config.h"
#include "curve.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "util.h"

#include <curl/curl.h>
#include <czmq.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *o_id, *o_owner, *o_image, *o_manager, *o_gateway, *o_metrics_listen,
    *o_metrics_advertise, *o_base_url, *o_version, *o_model, *o_codec, *o_log_level,
    *o_join_token, *o_redis_url;
static long o_cores, o_memory_mb, o_capacity, o_heartbeat_ms, o_max_tokens, o_max_retries,
    o_timeout_ms, o_max_body, o_batch_us, o_max_inflight, o_idle_conns;
static double o_ttl, o_rate, o_retry_base;
static char *o_curve_dir, *o_user; /* security: common/curve.h, common/privdrop.h */
static bool o_delayed_ack;

static af_opt_t s_opts[] = {
    {"id", AF_OPT_STR, &o_id, NULL, "agent id (default: a random ag_...)", false},
    {"owner", AF_OPT_STR, &o_owner, "pool", "owning user, or pool", false},
    {"cores", AF_OPT_INT, &o_cores, "1", "cores of this agent's spec", false},
    {"memory-mb", AF_OPT_INT, &o_memory_mb, "512", "memory (MiB) of this agent's spec", false},
    {"image", AF_OPT_STR, &o_image, "agentd:latest", "image of this agent's spec", false},
    {"manager", AF_OPT_STR, &o_manager, "tcp://127.0.0.1:5550",
     "manager control ROUTER ('' to run without one)", false},
    {"gateway", AF_OPT_STR, &o_gateway, NULL, "extra static gateway data endpoint", false},
    {"capacity", AF_OPT_INT, &o_capacity, "100", "most live sessions", false},
    {"session-ttl", AF_OPT_DOUBLE, &o_ttl, "1800", "idle session lifetime (s)", false},
    {"rate-limit", AF_OPT_DOUBLE, &o_rate, "100", "requests per minute per session", false},
    {"heartbeat-ms", AF_OPT_INT, &o_heartbeat_ms, "1000", "heartbeat interval until WELCOME says",
     false},
    {"metrics-listen", AF_OPT_STR, &o_metrics_listen, "127.0.0.1:0",
     "host:port of /metrics (port 0: pick a free one)", false},
    {"metrics-advertise", AF_OPT_STR, &o_metrics_advertise, NULL,
     "host:port scrapers reach /metrics at, sent in READY for the manager's /sd "
     "(empty: the bound address)",
     false},
    {"anthropic-base-url", AF_OPT_STR, &o_base_url, NULL,
     "Messages API base URL (else env ANTHROPIC_BASE_URL, else https://api.anthropic.com)",
     false},
    {"anthropic-version", AF_OPT_STR, &o_version, "2023-06-01", "anthropic-version header", false},
    {"default-model", AF_OPT_STR, &o_model, "claude-3-5-sonnet-20241022",
     "model when the request names none", false},
    {"default-max-tokens", AF_OPT_INT, &o_max_tokens, "1024", "max_tokens when none is given",
     false},
    {"max-retries", AF_OPT_INT, &o_max_retries, "3", "retries of a failed upstream call", false},
    {"retry-base", AF_OPT_DOUBLE, &o_retry_base, "0.5", "first retry backoff (s), doubling",
     false},
    {"upstream-timeout-ms", AF_OPT_INT, &o_timeout_ms, "60000",
     "upstream connect timeout, and read timeout (no byte for this long)", false},
    {"max-body", AF_OPT_INT, &o_max_body, "1048576", "largest AF1 body accepted (bytes)", false},
    {"upstream-idle-connections", AF_OPT_INT, &o_idle_conns, "100",
     "idle upstream connections kept for reuse (HTTP/1.1 needs one per concurrent call)", false},
    {"upstream-delayed-ack", AF_OPT_BOOL, &o_delayed_ack, "false",
     "delayed TCP ACKs on streaming upstream connections (see docs/agentd.md)", false},
    {"send-batch-us", AF_OPT_INT, &o_batch_us, "2000",
     "mid-stream tokens wait at most this long to leave together (0: at once)", false},
    {"codec", AF_OPT_STR, &o_codec, "cbor", "AF1 body codec we send: cbor or json", false},
    {"log-level", AF_OPT_STR, &o_log_level, "info", "debug, info, warn or error", false},
    {"join-token", AF_OPT_STR, &o_join_token, NULL, "one-time join token sent in READY", true},
    {"redis-url", AF_OPT_STR, &o_redis_url, NULL,
     "keep session histories in Redis (redis://host:port[/db]; '' = memory only)", false},
    {"max-inflight", AF_OPT_INT, &o_max_inflight, "400",
     "CHATs in flight before new ones are refused with 'capacity' + retry_after (0 = no bound)",
     false},
    {"curve-dir", AF_OPT_STR, &o_curve_dir, NULL,
     "CURVE certificate directory (scripts/make-certs.sh); empty: plaintext", false},
    {"user", AF_OPT_STR, &o_user, NULL, "when started as root, run as this user after binding",
     false},
    {0},
};

/* An advertised address is for others to dial: a named host (no wildcard, not
 * empty) and a real port. */
static bool s_advertise_ok(const char *spec)
{
    char host[256];
    int port;
    return spec[0] != ':' && af_config_hostport(spec, host, sizeof host, &port) == 0 && *host &&
           port > 0 && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0;
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    af_info("event=signal signal=%d", (int)sig);
    af_agent_drain(arg, "sigterm");
}

int main(int argc, char **argv)
{
    /* A peer (HTTP client, log pipe, upstream) that goes away must cost an
     * EPIPE on that write, not the whole daemon. */
    signal(SIGPIPE, SIG_IGN);
    af_log_init("agentd", AF_LOG_INFO);
    int cr = af_config_load(s_opts, "agentd", "agentd: an agent daemon holding Claude sessions.",
                            argc, argv);
    if (cr < 0 || cr == AF_CONFIG_EXIT_OK) {
        af_config_free(s_opts);
        return cr < 0 ? 2 : 0;
    }
    af_log_level_t level;
    af_codec_t codec;
    char host[256];
    int port, rc = 1;
    const char *bad = NULL;
    if (af_log_level_parse(o_log_level, &level) < 0)
        bad = "log-level";
    else if (af_codec_parse(o_codec, &codec) < 0)
        bad = "codec";
    else if (o_capacity < 1 || o_capacity > 100000)
        bad = "capacity";
    else if (o_ttl <= 0)
        bad = "session-ttl";
    else if (o_rate <= 0)
        bad = "rate-limit";
    else if (o_heartbeat_ms < 10)
        bad = "heartbeat-ms";
    else if (af_config_hostport(o_metrics_listen, host, sizeof host, &port) < 0)
        bad = "metrics-listen";
    else if (*o_metrics_advertise && !s_advertise_ok(o_metrics_advertise))
        bad = "metrics-advertise";
    else if (o_max_tokens < 1)
        bad = "default-max-tokens";
    else if (o_max_retries < 0 || o_max_retries > 10)
        bad = "max-retries";
    else if (o_timeout_ms < 1)
        bad = "upstream-timeout-ms";
    else if (o_idle_conns < 1 || o_idle_conns > 10000)
        bad = "upstream-idle-connections";
    else if (o_max_body < 256)
        bad = "max-body";
    else if (o_batch_us < 0 || o_batch_us > 100000)
        bad = "send-batch-us";
    else if (o_max_inflight < 0)
        bad = "max-inflight";
    else if (*o_id && !af_id_valid(o_id, 63))
        bad = "id";
    if (bad) {
        fprintf(stderr, "error: option --%s is invalid (see --help)\n", bad);
        af_config_free(s_opts);
        return 2;
    }
    if (cr == AF_CONFIG_CHECK) {
        printf("configuration OK\n");
        af_config_free(s_opts);
        return 0;
    }
    af_log_set_level(level);

    char id[64];
    if (*o_id)
        snprintf(id, sizeof id, "%s", o_id);
    else if (af_id_new(id, sizeof id, "ag_") < 0) {
        af_config_free(s_opts);
        return 1;
    }
    const char *base_url = *o_base_url ? o_base_url : getenv("ANTHROPIC_BASE_URL");
    const char *key = getenv("ANTHROPIC_API_KEY");
    if (key && *key)
        af_log_add_secret(key);

    /* czmq must not install its own SIGINT/SIGTERM handlers: libevent owns them. */
    zsys_handler_set(NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct event_base *base = event_base_new();
    af_agent_opts_t ao = {
        .id = id, .owner = o_owner, .cores = o_cores, .memory_mb = o_memory_mb, .image = o_image,
        .manager = o_manager, .gateway = o_gateway, .capacity = o_capacity,
        .session_ttl_s = o_ttl, .rate_limit = o_rate, .heartbeat_ms = o_heartbeat_ms,
        .metrics_listen = o_metrics_listen, .metrics_advertise = o_metrics_advertise,
        .base_url = base_url && *base_url ? base_url : "https://api.anthropic.com",
        .anthropic_version = o_version, .default_model = o_model,
        .default_max_tokens = o_max_tokens, .max_retries = o_max_retries,
        .upstream_timeout_ms = o_timeout_ms, .retry_base_s = o_retry_base, .codec = codec,
        .max_body = (size_t)o_max_body, .send_batch_us = o_batch_us,
        .upstream_delayed_ack = o_delayed_ack, .upstream_idle_conns = o_idle_conns, .api_key = key, .join_token = o_join_token,
        .redis_url = o_redis_url, .max_inflight = o_max_inflight,
    };
    af_agent_t *agent =
        base && af_curve_init(base, o_curve_dir, "agentd") == 0 ? af_agent_new(base, &ao) : NULL;
    if (agent && af_privdrop(o_user) < 0)
        af_agent_destroy(&agent);
    struct event *sigterm = NULL, *sigint = NULL;
    if (agent) {
        sigterm = evsignal_new(base, SIGTERM, s_on_signal, agent);
        sigint = evsignal_new(base, SIGINT, s_on_signal, agent);
        if (sigterm && sigint && evsignal_add(sigterm, NULL) == 0 && evsignal_add(sigint, NULL) == 0) {
            event_base_dispatch(base);
            rc = 0;
        }
    }
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    af_agent_destroy(&agent);
    af_curve_shutdown();
    if (base)
        event_base_free(base);
    curl_global_cleanup();
    af_config_free(s_opts);
    af_log_clear_secrets();
    af_info("event=exit rc=%d", rc);
    return rc;
}
