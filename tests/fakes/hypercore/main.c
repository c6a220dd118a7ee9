/* fake-hypercore: a local stand-in for Hypercore's HTTP API (see vms.h) whose
 * "VMs" are agent processes. Only parses configuration and wires. */
#include "config.h"
#include "log.h"
#include "vms.h"

#include <event2/http.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    af_info("event=signal signal=%d action=shutdown", (int)sig);
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    char *listen = NULL, *agentd = NULL, *log_level = NULL;
    long boot_delay = 0, fail_spawn = 0, die_after = 0, grace = 2000;
    af_opt_t opts[] = {
        {"listen", AF_OPT_STR, &listen, "127.0.0.1:8700", "HTTP host:port", false},
        {"agentd-path", AF_OPT_STR, &agentd, NULL, "agent binary each VM runs (default: agentd next to us)", false},
        {"boot-delay-ms", AF_OPT_INT, &boot_delay, "0", "delay before a VM's agent starts", false},
        {"fail-spawn", AF_OPT_INT, &fail_spawn, "0", "answer the next N POST /spawn with 500", false},
        {"die-after-ms", AF_OPT_INT, &die_after, "0", "VMs die (SIGKILL) this long after boot; 0 never", false},
        {"kill-grace-ms", AF_OPT_INT, &grace, "2000", "SIGTERM to SIGKILL delay on delete", false},
        {"log-level", AF_OPT_STR, &log_level, "info", "debug | info | warn | error", false},
        {0},
    };
    af_log_init("fake-hypercore", AF_LOG_INFO);
    int rc = af_config_load(opts, "fake_hypercore", "fake Hypercore API: POST /spawn, DELETE /delete/{id}, GET /list", argc, argv);
    if (rc != AF_CONFIG_RUN && rc != AF_CONFIG_CHECK) {
        af_config_free(opts);
        return rc < 0 ? 2 : 0;
    }
    char path[PATH_MAX];
    if (agentd && *agentd)
        snprintf(path, sizeof path, "%s", agentd);
    else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(self, '/');
        snprintf(path, sizeof path, "%.*s/agentd", slash ? (int)(slash - self) : 1, slash ? self : ".");
    }
    af_log_level_t lvl;
    char host[256];
    int port;
    if (af_log_level_parse(log_level, &lvl) < 0 || af_config_hostport(listen, host, sizeof host, &port) < 0 ||
        access(path, X_OK) < 0) {
        fprintf(stderr, "error: need a valid --log-level, --listen HOST:PORT and an executable --agentd-path (%s)\n", path);
        af_config_free(opts);
        return 2;
    }
    if (rc == AF_CONFIG_CHECK) {
        printf("configuration OK\n");
        af_config_free(opts);
        return 0;
    }
    af_log_set_level(lvl);
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    af_hc_config_t cfg = {path, boot_delay, fail_spawn, die_after, grace};
    af_hc_t *hc = af_hc_new(base, &cfg);
    struct evhttp *http = evhttp_new(base);
    int code = 1;
    if (!hc || !http || evhttp_bind_socket(http, host, (ev_uint16_t)port) < 0) {
        af_error("event=startup_failed listen=%s", listen);
        goto done;
    }
    af_hc_attach(hc, http);
    struct event *st = evsignal_new(base, SIGTERM, s_on_signal, base);
    struct event *si = evsignal_new(base, SIGINT, s_on_signal, base);
    evsignal_add(st, NULL);
    evsignal_add(si, NULL);
    af_info("event=started listen=%s agentd=%s boot_delay_ms=%ld fail_spawn=%ld die_after_ms=%ld", listen, path,
            boot_delay, fail_spawn, die_after);
    event_base_dispatch(base);
    event_free(st);
    event_free(si);
    code = 0;
done:
    if (http)
        evhttp_free(http);
    af_hc_destroy(&hc);
    event_base_free(base);
    af_config_free(opts);
    return code;
}
