/* gateway: the fleet's HTTP(S) API. main only parses the configuration and
 * wires modules: defaults -> config -> init -> listeners -> loop. A second
 * mode, `gateway --add-key USER ROLE --keys-file F`, adds an API key to a keys
 * file and prints the key once. */
#include "agent_link.h"
#include "audit.h"
#include "auth_jwt.h"
#include "auth_keys.h"
#include "codec.h"
#include "config.h"
#include "cost.h"
#include "curve.h"
#include "gateway.h"
#include "log.h"
#include "manager_link.h"
#include "metrics.h"
#include "overload.h"
#include "pool_cache.h"
#include "privdrop.h"
#include "ratelimit.h"
#include "request.h"
#include "route_store.h"
#include "server.h"
#include "shutdown.h"
#include "tls.h"
#include "util.h"

#include <czmq.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *o_curve_dir, *o_user; /* security: common/curve.h, common/privdrop.h */
static char *o_listen, *o_tls_listen, *o_tls_cert, *o_tls_key, *o_manager, *o_agent_listen,
    *o_agent_endpoint, *o_jwt_alg, *o_jwt_secret_file, *o_jwt_public_key_file, *o_keys_file,
    *o_default_model, *o_audit_log, *o_codec, *o_log_level, *o_gateway_id, *o_redis_url,
    *o_cost_config;
static long o_jwt_leeway, o_ip_rate, o_user_rate, o_rate_table_max, o_max_body,
    o_shutdown_grace_ms, o_request_timeout_ms, o_manager_timeout_ms, o_spawn_timeout_ms, o_heartbeat_ms,
    o_max_routes, o_route_ttl_s, o_max_inflight, o_agent_queue_max;
static bool o_tls_generate;

static af_opt_t s_opts[] = {
    {"listen", AF_OPT_STR, &o_listen, "127.0.0.1:8080", "HTTP host:port (port 0 picks one)", false},
    {"tls-listen", AF_OPT_STR, &o_tls_listen, NULL, "HTTPS host:port ('' = off)", false},
    {"tls-cert", AF_OPT_STR, &o_tls_cert, NULL, "PEM certificate (chain) for HTTPS", false},
    {"tls-key", AF_OPT_STR, &o_tls_key, NULL, "PEM private key for HTTPS", false},
    {"tls-generate", AF_OPT_BOOL, &o_tls_generate, "false",
     "make a self-signed cert/key pair at --tls-cert/--tls-key if they do not exist", false},
    {"manager", AF_OPT_STR, &o_manager, "tcp://127.0.0.1:5550", "manager control ROUTER", false},
    {"agent-listen", AF_OPT_STR, &o_agent_listen, "tcp://127.0.0.1:5560",
     "ZeroMQ endpoint the agent ROUTER binds", false},
    {"agent-endpoint", AF_OPT_STR, &o_agent_endpoint, NULL,
     "endpoint agents should connect to (default: the bound --agent-listen)", false},
    {"jwt-alg", AF_OPT_STR, &o_jwt_alg, "HS256", "the one JWT algorithm accepted: HS256|RS256|ES256",
     false},
    {"jwt-secret-file", AF_OPT_STR, &o_jwt_secret_file, NULL, "HS256 secret file", false},
    {"jwt-public-key-file", AF_OPT_STR, &o_jwt_public_key_file, NULL,
     "RS256/ES256 PEM public key file", false},
    {"jwt-leeway-s", AF_OPT_INT, &o_jwt_leeway, "30", "clock leeway for exp/nbf (s)", false},
    {"keys-file", AF_OPT_STR, &o_keys_file, NULL, "API keys file: lines \"sha256hex user role\"",
     false},
    {"ip-rate", AF_OPT_INT, &o_ip_rate, "100", "requests per minute per client IP (0 = off)",
     false},
    {"user-rate", AF_OPT_INT, &o_user_rate, "600", "requests per minute per user (0 = off)",
     false},
    {"rate-table-max", AF_OPT_INT, &o_rate_table_max, "100000",
     "most buckets kept per limiter (LRU beyond)", false},
    {"max-body", AF_OPT_INT, &o_max_body, "1048576", "largest request body (bytes)", false},
    {"max-routes", AF_OPT_INT, &o_max_routes, "1000000", "most session routes kept in memory",
     false},
    {"default-model", AF_OPT_STR, &o_default_model, "claude-3-5-sonnet-20241022",
     "model when a chat names none", false},
    {"shutdown-grace-ms", AF_OPT_INT, &o_shutdown_grace_ms, "10000",
     "on SIGTERM, requests in flight may finish for this long; then they get 503 (a 2nd signal: at once)",
     false},
    {"request-timeout-ms", AF_OPT_INT, &o_request_timeout_ms, "120000",
     "longest silence from an agent during a chat (ms)", false},
    {"manager-timeout-ms", AF_OPT_INT, &o_manager_timeout_ms, "5000",
     "manager request timeout (ms)", false},
    {"spawn-timeout-ms", AF_OPT_INT, &o_spawn_timeout_ms, "90000",
     "SPAWN/DELETE timeout (ms)", false},
    {"heartbeat-ms", AF_OPT_INT, &o_heartbeat_ms, "1000", "heartbeat interval (ms)", false},
    {"audit-log", AF_OPT_STR, &o_audit_log, NULL, "audit log file (JSON lines; '' = off)", false},
    {"codec", AF_OPT_STR, &o_codec, "cbor", "AF1 body codec we send: cbor or json", false},
    {"log-level", AF_OPT_STR, &o_log_level, "info", "debug, info, warn or error", false},
    {"gateway-id", AF_OPT_STR, &o_gateway_id, NULL, "gateway id (default gw-<pid>)", false},
    {"route-ttl-s", AF_OPT_INT, &o_route_ttl_s, "86400",
     "lifetime of a session route in Redis (s; with --redis-url)", false},
    {"max-inflight", AF_OPT_INT, &o_max_inflight, "10000",
     "HTTP requests in flight before new ones get 503 + Retry-After (0 = no limit)", false},
    {"agent-queue-max", AF_OPT_INT, &o_agent_queue_max, "256",
     "requests in flight to one agent before new ones get 503 + Retry-After (0 = no limit)",
     false},
    {"cost-config", AF_OPT_STR, &o_cost_config, NULL,
     "JSON file: token budgets, max_tokens ceilings, model allow-lists and routing, cache, "
     "prices ('' = defaults; see docs/gateway.md)", false},
    {"redis-url", AF_OPT_STR, &o_redis_url, NULL,
     "redis://host:port[/db] for shared state ('' = everything in memory)", false},
    {"curve-dir", AF_OPT_STR, &o_curve_dir, NULL,
     "CURVE certificate directory (scripts/make-certs.sh); empty: plaintext", false},
    {"user", AF_OPT_STR, &o_user, NULL, "when started as root, run as this user after binding",
     false},
    {0},
};

/* Reads a whole small file; trims trailing whitespace when trim. */
static unsigned char *s_slurp(const char *path, size_t *len, bool trim)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    while (trim && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = 0;
    *len = n;
    return buf;
}

static int s_add_key(int argc, char **argv)
{
    const char *user = NULL, *role = NULL, *file = getenv("AF_GATEWAY_KEYS_FILE");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--add-key") && i + 2 < argc) {
            user = argv[++i];
            role = argv[++i];
        } else if (!strcmp(argv[i], "--keys-file") && i + 1 < argc) {
            file = argv[++i];
        } else {
            fprintf(stderr, "usage: gateway --add-key USER ROLE --keys-file FILE\n");
            return 2;
        }
    }
    if (!user || !role || !file || !*file) {
        fprintf(stderr, "usage: gateway --add-key USER ROLE --keys-file FILE\n");
        return 2;
    }
    char key[96], err[256];
    if (af_keys_add(file, user, role, key, sizeof key, err, sizeof err) < 0) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    printf("%s\n", key);
    return 0;
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    af_gw_shutdown_signal(arg, (int)sig);
}

static const char *s_check(af_log_level_t *level, af_codec_t *codec)
{
    char host[256];
    int port;
    if (af_log_level_parse(o_log_level, level) < 0) return "log-level";
    if (af_codec_parse(o_codec, codec) < 0) return "codec";
    if (af_config_hostport(o_listen, host, sizeof host, &port) < 0) return "listen";
    if (*o_tls_listen && af_config_hostport(o_tls_listen, host, sizeof host, &port) < 0)
        return "tls-listen";
    if (*o_tls_listen && (!*o_tls_cert || !*o_tls_key)) return "tls-cert";
    if (strcmp(o_jwt_alg, "HS256") != 0 && strcmp(o_jwt_alg, "RS256") != 0 &&
        strcmp(o_jwt_alg, "ES256") != 0)
        return "jwt-alg";
    if (o_jwt_leeway < 0 || o_jwt_leeway > 600) return "jwt-leeway-s";
    if (o_ip_rate < 0) return "ip-rate";
    if (o_user_rate < 0) return "user-rate";
    if (o_rate_table_max < 1) return "rate-table-max";
    if (o_max_body < 1024) return "max-body";
    if (o_max_routes < 1) return "max-routes";
    if (o_route_ttl_s < 1) return "route-ttl-s";
    if (o_max_inflight < 0) return "max-inflight";
    if (o_agent_queue_max < 0) return "agent-queue-max";
    if (o_request_timeout_ms < 100) return "request-timeout-ms";
    if (o_shutdown_grace_ms < 0 || o_shutdown_grace_ms > 3600000) return "shutdown-grace-ms";
    if (o_manager_timeout_ms < 10) return "manager-timeout-ms";
    if (o_spawn_timeout_ms < 100) return "spawn-timeout-ms";
    if (o_heartbeat_ms < 10) return "heartbeat-ms";
    if (*o_gateway_id && (!af_id_valid(o_gateway_id, 32))) return "gateway-id";
    if (!*o_default_model) return "default-model";
    return NULL;
}

int main(int argc, char **argv)
{
    /* A peer (HTTP client, log pipe, upstream) that goes away must cost an
     * EPIPE on that write, not the whole daemon. */
    signal(SIGPIPE, SIG_IGN);
    af_log_init("gateway", AF_LOG_INFO);
    if (argc > 1 && !strcmp(argv[1], "--add-key"))
        return s_add_key(argc, argv);
    int cr = af_config_load(s_opts, "gateway", "gateway: the agentfleet HTTP(S) API.", argc, argv);
    if (cr < 0 || cr == AF_CONFIG_EXIT_OK) {
        af_config_free(s_opts);
        return cr < 0 ? 2 : 0;
    }
    af_log_level_t level;
    af_codec_t codec;
    const char *bad = s_check(&level, &codec);
    if (bad) {
        fprintf(stderr, "error: option --%s is invalid (see --help)\n", bad);
        af_config_free(s_opts);
        return 2;
    }
    af_log_set_level(level);

    /* ---- init ---- */
    int rc = 1;
    char gwid[40];
    if (*o_gateway_id)
        snprintf(gwid, sizeof gwid, "%s", o_gateway_id);
    else
        snprintf(gwid, sizeof gwid, "gw-%d", (int)getpid());
    af_gw_t gw = {
        .gateway_id = gwid, .default_model = o_default_model, .max_body = (size_t)o_max_body,
        .request_timeout_ms = o_request_timeout_ms, .spawn_timeout_ms = o_spawn_timeout_ms,
        .manager_timeout_ms = o_manager_timeout_ms, .max_inflight = o_max_inflight,
        .agent_queue_max = o_agent_queue_max,
    };
    af_tls_t *tls = NULL;
    af_cost_config_t cost_cfg;
    af_cost_config_defaults(&cost_cfg);
    af_gw_server_t *server = NULL;
    af_gw_shutdown_t *stop = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    unsigned char *jwt_key = NULL;
    size_t jwt_key_len = 0;

    if (*o_jwt_secret_file || *o_jwt_public_key_file) {
        bool hs = !strcmp(o_jwt_alg, "HS256");
        const char *path = hs ? o_jwt_secret_file : o_jwt_public_key_file;
        if (!*path) {
            fprintf(stderr, "error: --jwt-alg %s needs --%s\n", o_jwt_alg,
                    hs ? "jwt-secret-file" : "jwt-public-key-file");
            goto done;
        }
        jwt_key = s_slurp(path, &jwt_key_len, hs);
        if (!jwt_key || jwt_key_len == 0) {
            fprintf(stderr, "error: cannot read JWT key file %s\n", path);
            goto done;
        }
        if (hs)
            af_log_add_secret((const char *)jwt_key);
        gw.jwt = af_jwt_verifier_new(o_jwt_alg, jwt_key, jwt_key_len, o_jwt_leeway);
        if (!gw.jwt)
            goto done;
    }
    if (*o_keys_file) {
        char err[256];
        gw.keys = af_keys_new();
        if (!gw.keys || af_keys_load(gw.keys, o_keys_file, err, sizeof err) < 0) {
            fprintf(stderr, "error: --keys-file: %s\n", gw.keys ? err : "out of memory");
            goto done;
        }
    }
    if (!gw.jwt && !gw.keys)
        af_warn("event=no_auth_configured effect=\"every authenticated route answers 401\"");
    if (*o_tls_listen) {
        struct stat st;
        if (o_tls_generate && stat(o_tls_cert, &st) < 0 && stat(o_tls_key, &st) < 0 &&
            af_tls_make_self_signed(o_tls_cert, o_tls_key) < 0)
            goto done;
        tls = af_tls_new(o_tls_cert, o_tls_key);
        if (!tls)
            goto done;
    }
    if (*o_cost_config) {
        char err[256];
        if (af_cost_config_load(&cost_cfg, o_cost_config, err, sizeof err) < 0) {
            fprintf(stderr, "error: --cost-config: %s\n", err);
            goto done;
        }
    }
    if (cr == AF_CONFIG_CHECK) {
        printf("configuration OK\n");
        rc = 0;
        goto done;
    }

    zsys_handler_set(NULL); /* libevent owns SIGINT/SIGTERM */
    gw.base = event_base_new();
    gw.metrics = af_metrics_new();
    if (*o_redis_url && !(gw.redis = af_redis_new(gw.base, o_redis_url))) {
        fprintf(stderr, "error: --redis-url %s is not a redis URL\n", o_redis_url);
        goto done;
    }
    gw.audit = af_audit_open(o_audit_log);
    gw.routes = gw.redis && gw.metrics
                    ? af_route_store_new_redis(gw.redis, (size_t)o_max_routes, o_route_ttl_s,
                                               gw.metrics)
                    : af_route_store_new_memory((size_t)o_max_routes);
    gw.pool = af_pool_cache_new(8, 2000000000ull, 100000000ull);
    gw.ip_limit = o_ip_rate > 0 ? af_ratelimit_new((double)o_ip_rate, 0, (size_t)o_rate_table_max)
                                : NULL;
    gw.user_limit = o_user_rate > 0
                        ? af_ratelimit_new((double)o_user_rate, 0, (size_t)o_rate_table_max)
                        : NULL;
    if (!gw.base || !gw.metrics || !gw.audit || !gw.routes || !gw.pool || (o_ip_rate > 0 && !gw.ip_limit) ||
        (o_user_rate > 0 && !gw.user_limit) || af_metrics_add_process(gw.metrics) < 0 ||
        af_gw_metrics_register(&gw) < 0 || af_overload_init(&gw) < 0 ||
        af_curve_init(gw.base, o_curve_dir, "gateway") < 0 || af_curve_metrics(gw.metrics) < 0 ||
        !(gw.cost = af_cost_new(&gw, &cost_cfg)))
        goto done;

    /* ---- listeners ---- */
    gw.agents = af_alink_new(gw.base, o_agent_listen, gwid, codec, o_heartbeat_ms);
    if (!gw.agents)
        goto done;
    af_alink_on_late(gw.agents, af_cost_late, gw.cost);
    gw.manager = af_mlink_new(gw.base, o_manager, gwid,
                              *o_agent_endpoint ? o_agent_endpoint : af_alink_endpoint(gw.agents),
                              codec, o_heartbeat_ms);
    if (!gw.manager)
        goto done;
    server = af_gw_server_new(&gw, o_listen, o_tls_listen, tls);
    if (!server || af_privdrop(o_user) < 0)
        goto done;
    stop = af_gw_shutdown_new(&gw, server, o_shutdown_grace_ms);
    sigterm = evsignal_new(gw.base, SIGTERM, s_on_signal, stop);
    sigint = evsignal_new(gw.base, SIGINT, s_on_signal, stop);
    if (!stop || !sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0)
        goto done;
    af_info("event=started gateway_id=%s http=%d https=%d agents=%s manager=%s", gwid,
            af_gw_server_port(server), af_gw_server_tls_port(server), af_alink_endpoint(gw.agents),
            o_manager);

    /* ---- loop ---- */
    event_base_dispatch(gw.base);
    rc = 0;
    af_info("event=stopped");
done:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    af_gw_shutdown_destroy(&stop);
    af_gw_server_destroy(&server); /* first: open requests drop their link work */
    af_mlink_destroy(&gw.manager);
    af_alink_destroy(&gw.agents);
    af_curve_shutdown();
    af_ratelimit_destroy(&gw.user_limit);
    af_ratelimit_destroy(&gw.ip_limit);
    af_pool_cache_destroy(&gw.pool);
    af_route_store_destroy(&gw.routes);
    af_audit_destroy(&gw.audit);
    af_redis_destroy(&gw.redis); /* before cost: pending lookups end with "shutdown" */
    af_cost_destroy(&gw.cost);
    af_cost_config_clear(&cost_cfg);
    af_proto_count_refusals(NULL);
    af_metrics_destroy(&gw.metrics);
    af_tls_destroy(&tls);
    af_keys_destroy(&gw.keys);
    af_jwt_verifier_destroy(&gw.jwt);
    if (jwt_key) {
        OPENSSL_cleanse(jwt_key, jwt_key_len);
        free(jwt_key);
    }
    af_gw_req_pool_free(&gw); /* last: finishers above may still free requests */
    if (gw.base)
        event_base_free(gw.base);
    af_config_free(s_opts);
    return rc;
}
