/* manager: the agentfleet control plane. Only parses configuration and wires
 * modules: defaults -> config -> init -> listeners -> loop. */
#include "config.h"
#include "control.h"
#include "curve.h"
#include "fleet.h"
#include "lease.h"
#include "log.h"
#include "manager_metrics.h"
#include "metrics_http.h"
#include "privdrop.h"
#include "provider.h"
#include "secretbox.h"
#include "sd.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *s_summary =
    "agentfleet manager: agent registry, spawn/delete/list/stats, quotas, health and "
    "auto-heal, session placement; drives a provider (process | hypercore).";

typedef struct {
    char *listen, *advertise, *metrics_listen, *provider, *agentd_path, *hypercore_url;
    char *images, *codec, *log_level, *anthropic_key_file;
    char *curve_dir, *user; /* security: common/curve.h, common/privdrop.h */
    char *master_key_file;  /* common/secretbox.h */
    char *redis_url, *manager_id, *cluster; /* HA: manager/lease.h */
    long lease_ttl_ms;
    bool seal_secret, pin_cpus;
    long quota, min_agents, max_agents, capacity, heartbeat_ms, spawn_timeout_ms;
    long hypercore_timeout_ms, kill_grace_ms, max_body, batch_ms;
} s_opts_t;

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    af_info("event=signal signal=%d action=shutdown", (int)sig);
    event_base_loopexit(arg, NULL);
}

/* The endpoint agents are told: the first of the listen list, with a wildcard
 * host (star or 0.0.0.0) made 127.0.0.1 for local agents. */
static void s_advertise(const char *listen, char *out, size_t len)
{
    char first[512];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(listen, ","), listen);
    const char *p;
    if ((p = strstr(first, "://*:")))
        snprintf(out, len, "%.*s://127.0.0.1:%s", (int)(p - first), first, p + 5);
    else if ((p = strstr(first, "://0.0.0.0:")))
        snprintf(out, len, "%.*s://127.0.0.1:%s", (int)(p - first), first, p + 11);
    else
        snprintf(out, len, "%s", first);
}

static double s_active_count(void *arg)
{
    af_fleet_t *const *fleet = arg;
    return *fleet ? af_fleet_active_count(*fleet) : 0;
}

/* Reads the Anthropic key (first line, trimmed) and registers it as a secret. */
static char *s_read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: --anthropic-key-file %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char buf[1024] = "";
    char *ok = fgets(buf, sizeof buf, f);
    fclose(f);
    size_t n = ok ? strlen(buf) : 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (!n) {
        fprintf(stderr, "error: --anthropic-key-file %s is empty\n", path);
        return NULL;
    }
    af_log_add_secret(buf);
    return strdup(buf);
}

/* agentd next to our own binary. */
static void s_default_agentd(const char *argv0, char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0)
        self[n] = '\0';
    else
        snprintf(self, sizeof self, "%s", argv0);
    char *slash = strrchr(self, '/');
    if (slash)
        snprintf(out, len, "%.*s/agentd", (int)(slash - self), self);
    else
        snprintf(out, len, "./agentd");
}

int main(int argc, char **argv)
{
    /* 1. defaults */
    s_opts_t o = {0};
    af_opt_t opts[] = {
        {"listen", AF_OPT_STR, &o.listen, "tcp://127.0.0.1:5550",
         "control ROUTER endpoint (comma list to bind several)", false},
        {"advertise", AF_OPT_STR, &o.advertise, NULL,
         "endpoint agents connect to (default: --listen, wildcard host -> 127.0.0.1)", false},
        {"metrics-listen", AF_OPT_STR, &o.metrics_listen, "127.0.0.1:9101",
         "HTTP host:port for /metrics and /sd (service discovery)", false},
        {"provider", AF_OPT_STR, &o.provider, "process", "process | hypercore", false},
        {"agentd-path", AF_OPT_STR, &o.agentd_path, NULL,
         "agentd binary for the process provider (default: next to manager)", false},
        {"hypercore-url", AF_OPT_STR, &o.hypercore_url, NULL,
         "Hypercore API base URL (env HYPERCORE_URL)", false},
        {"hypercore-timeout-ms", AF_OPT_INT, &o.hypercore_timeout_ms, "10000",
         "timeout of each Hypercore API call", false},
        {"quota", AF_OPT_INT, &o.quota, "50", "agents per user", false},
        {"min-agents", AF_OPT_INT, &o.min_agents, "10", "pool agents kept at least", false},
        {"max-agents", AF_OPT_INT, &o.max_agents, "1000", "pool agents at most", false},
        {"capacity", AF_OPT_INT, &o.capacity, "100", "sessions per agent", false},
        {"heartbeat-ms", AF_OPT_INT, &o.heartbeat_ms, "1000", "heartbeat interval", false},
        {"spawn-timeout-ms", AF_OPT_INT, &o.spawn_timeout_ms, "30000",
         "an agent not READY by then is destroyed and its spawn fails", false},
        {"kill-grace-ms", AF_OPT_INT, &o.kill_grace_ms, "3000",
         "SIGTERM to SIGKILL delay when destroying a process agent", false},
        {"pin-cpus", AF_OPT_BOOL, &o.pin_cpus, "false",
         "pin each process agent to spec.cores CPUs (enforces cores; costs latency on a busy host)",
         false},
        {"images", AF_OPT_STR, &o.images, "agentd:latest", "allowed images (comma list)", false},
        {"codec", AF_OPT_STR, &o.codec, "cbor", "reply codec: cbor | json", false},
        {"max-body", AF_OPT_INT, &o.max_body, "1048576", "largest accepted body in bytes", false},
        {"batch-ms", AF_OPT_INT, &o.batch_ms, "20",
         "drain the control socket every N ms instead of per message (0: per message)", false},
        {"log-level", AF_OPT_STR, &o.log_level, "info", "debug | info | warn | error", false},
        {"anthropic-key-file", AF_OPT_STR, &o.anthropic_key_file, NULL,
         "file holding the Anthropic API key, handed to agents in WELCOME", true},
        {"curve-dir", AF_OPT_STR, &o.curve_dir, NULL,
         "CURVE certificate directory (scripts/make-certs.sh); empty: plaintext", false},
        {"user", AF_OPT_STR, &o.user, NULL, "when started as root, run as this user after binding",
         false},
        {"master-key-file", AF_OPT_STR, &o.master_key_file, NULL,
         "AES-256-GCM master key (64 hex digits, mode 0600) opening a sealed --anthropic-key-file",
         false},
        {"redis-url", AF_OPT_STR, &o.redis_url, NULL,
         "HA: redis://host:port[/db] holding the leader lease ('' = one manager, always leads)",
         false},
        {"lease-ttl-ms", AF_OPT_INT, &o.lease_ttl_ms, "3000",
         "HA: lease lifetime; a standby takes over within it after the leader dies", false},
        {"manager-id", AF_OPT_STR, &o.manager_id, NULL, "HA: name in the lease (default host-pid)",
         false},
        {"cluster", AF_OPT_STR, &o.cluster, NULL,
         "HA: every manager's control endpoint (comma list), handed to agents we spawn", false},
        {"seal-secret", AF_OPT_BOOL, &o.seal_secret, "false",
         "tool: seal the line on stdin under --master-key-file, print it, exit", false},
        {0},
    };
    af_log_init("manager", AF_LOG_INFO);

    /* 2. config */
    int rc = af_config_load(opts, "manager", s_summary, argc, argv);
    if (rc == AF_CONFIG_EXIT_OK || rc < 0) {
        af_config_free(opts);
        return rc < 0 ? 2 : 0;
    }
    const char *hc_url =
        (o.hypercore_url && *o.hypercore_url) ? o.hypercore_url : getenv("HYPERCORE_URL");
    af_log_level_t level;
    af_codec_t codec;
    af_fleet_config_t fc = {0};
    const char *bad = NULL;
    if (af_log_level_parse(o.log_level, &level) < 0)
        bad = "--log-level must be debug|info|warn|error";
    else if (af_codec_parse(o.codec, &codec) < 0)
        bad = "--codec must be cbor|json";
    else if (strcmp(o.provider, "process") != 0 && strcmp(o.provider, "hypercore") != 0)
        bad = "--provider must be process|hypercore";
    else if (strcmp(o.provider, "hypercore") == 0 && (!hc_url || !*hc_url))
        bad = "--provider hypercore needs --hypercore-url (or HYPERCORE_URL)";
    else if (o.quota < 0 || o.min_agents < 0 || o.max_agents < o.min_agents ||
             o.max_agents > 100000)
        bad = "need 0 <= --min-agents <= --max-agents <= 100000 and --quota >= 0";
    else if (o.capacity < 1 || o.heartbeat_ms < 10 || o.spawn_timeout_ms < 100)
        bad = "need --capacity >= 1, --heartbeat-ms >= 10, --spawn-timeout-ms >= 100";
    else if (af_spec_limits_init(&fc.limits, o.images) < 0)
        bad = "--images must be a comma list of 1..16 names under 128 bytes";
    if (bad) {
        fprintf(stderr, "error: %s\n", bad);
        af_config_free(opts);
        return 2;
    }
    char agentd[PATH_MAX];
    if (o.agentd_path && *o.agentd_path)
        snprintf(agentd, sizeof agentd, "%s", o.agentd_path);
    else
        s_default_agentd(argv[0], agentd, sizeof agentd);
    if (!strcmp(o.provider, "process") && access(agentd, X_OK) < 0) {
        fprintf(stderr, "error: --agentd-path %s is not an executable: %s\n", agentd,
                strerror(errno));
        af_config_free(opts);
        return 2;
    }
    char *key = NULL;
    if (o.seal_secret) {
        rc = af_secretbox_seal_stream(stdin, stdout, o.master_key_file);
        af_config_free(opts);
        return rc < 0 ? 1 : 0;
    }
    if (o.anthropic_key_file && *o.anthropic_key_file &&
        (!(key = s_read_key(o.anthropic_key_file)) ||
         af_secretbox_unseal_inplace(&key, o.master_key_file) < 0)) {
        free(key);
        af_config_free(opts);
        return 2;
    }
    if (rc == AF_CONFIG_CHECK) {
        printf("configuration OK\n");
        free(key);
        af_config_free(opts);
        return 0;
    }
    af_log_set_level(level);
    char endpoint[512];
    s_advertise((o.advertise && *o.advertise) ? o.advertise : o.listen, endpoint, sizeof endpoint);
    fc.quota = (int)o.quota;
    fc.min_agents = (int)o.min_agents;
    fc.max_agents = (int)o.max_agents;
    fc.capacity = (int)o.capacity;
    fc.heartbeat_ms = (int)o.heartbeat_ms;
    fc.spawn_timeout_ms = (int)o.spawn_timeout_ms;
    fc.endpoint = o.cluster && *o.cluster ? o.cluster : endpoint; /* what our agents dial */
    fc.api_key = key;
    fc.codec = codec;

    /* 3. init: a fleet of 1000 agents needs more descriptors than the default. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    zsys_init();
    zsys_set_max_sockets(0);
    zsys_handler_set(NULL); /* libevent handles signals, not czmq */
    int exit_code = 1;
    struct event_base *base = event_base_new();
    af_mgr_metrics_t metrics;
    bool metrics_ok = false;
    af_fleet_t *fleet = NULL;
    af_control_t *control = NULL;
    af_redis_t *redis = NULL;
    af_lease_t *lease = NULL;
    af_metrics_http_t *http = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    if (!base)
        goto done;
    /* The metrics need the fleet (active count) and the fleet the metrics: the
     * callback reads the fleet through this variable, set just below. */
    if (af_mgr_metrics_init(&metrics, s_active_count, &fleet) < 0)
        goto done;
    metrics_ok = true;
    if (af_curve_init(base, o.curve_dir, "manager") < 0 || af_curve_metrics(metrics.registry) < 0)
        goto done;
    if (o.redis_url && *o.redis_url) { /* HA: lead only while holding the lease */
        char mid[128];
        if (o.manager_id && *o.manager_id)
            snprintf(mid, sizeof mid, "%s", o.manager_id);
        else {
            char host[64] = "manager";
            gethostname(host, sizeof host - 1);
            snprintf(mid, sizeof mid, "%s-%d", host, (int)getpid());
        }
        redis = af_redis_new(base, o.redis_url);
        lease = redis ? af_lease_new(base, redis, "agentfleet:manager:leader", mid,
                                     (int)o.lease_ttl_ms, NULL, NULL)
                      : NULL;
        if (!lease || af_lease_metrics(lease, metrics.registry) < 0) {
            af_error("event=lease_failed redis_url=%s", o.redis_url);
            goto done;
        }
    }
    if (af_curve_enabled())
        setenv("AF_AGENTD_CURVE_DIR", o.curve_dir, 1); /* our agents inherit it */
    fleet = af_fleet_new(base, &fc, &metrics);
    if (!fleet)
        goto done;
    af_fleet_set_lease(fleet, lease);
    af_provider_t *provider =
        !strcmp(o.provider, "process")
            ? af_provider_process_new(base, agentd, fc.endpoint, (int)o.kill_grace_ms,
                                      o.pin_cpus, af_fleet_provider_event, fleet)
            : af_provider_hypercore_new(base, hc_url, (int)o.hypercore_timeout_ms,
                                        af_fleet_provider_event, fleet);
    if (!provider)
        goto done;
    af_fleet_set_provider(fleet, provider);

    /* 4. listeners */
    control = af_control_new(base, o.listen, fleet, &metrics, (size_t)o.max_body, (int)o.batch_ms);
    if (!control)
        goto done;
    http = af_metrics_http_new(base, metrics.registry, o.metrics_listen);
    if (!http)
        goto done;
    af_sd_attach(af_metrics_http_server(http), af_fleet_registry(fleet));
    if (af_privdrop(o.user) < 0)
        goto done;
    sigterm = evsignal_new(base, SIGTERM, s_on_signal, base);
    sigint = evsignal_new(base, SIGINT, s_on_signal, base);
    signal(SIGPIPE, SIG_IGN);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0 ||
        af_fleet_start(fleet) < 0)
        goto done;
    af_info("event=started version=%s listen=%s advertise=%s metrics=%s:%d provider=%s "
            "min_agents=%ld max_agents=%ld quota=%ld heartbeat_ms=%ld",
            AF_VERSION, o.listen, endpoint, o.metrics_listen, af_metrics_http_port(http),
            o.provider, o.min_agents, o.max_agents, o.quota, o.heartbeat_ms);

    /* 5. loop */
    event_base_dispatch(base);
    exit_code = 0;

done:
    if (exit_code)
        af_error("event=startup_failed");
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    af_metrics_http_destroy(&http);
    af_control_destroy(&control);
    af_fleet_destroy(&fleet); /* stops every agent the provider owns */
    af_curve_shutdown();
    af_lease_destroy(&lease);
    af_redis_destroy(&redis); /* after the lease: its pending replies end here */
    if (metrics_ok)
        af_mgr_metrics_fini(&metrics);
    if (base)
        event_base_free(base);
    free(key);
    af_log_clear_secrets();
    af_config_free(opts);
    zsys_shutdown();
    af_info("event=stopped");
    return exit_code;
}
