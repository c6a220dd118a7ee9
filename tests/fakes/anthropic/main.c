/* fake-anthropic: a stand-in for Anthropic's Messages API (POST /v1/messages,
 * JSON and SSE) with deterministic replies, latency, pacing and fault injection,
 * for tests of agentd, the gateway and the official SDK. main only parses the
 * configuration and wires: defaults -> config -> init -> listener -> loop. */
#include "config.h"
#include "knobs.h"
#include "log.h"
#include "server.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char s_summary[] =
    "Fake Anthropic Messages API for tests. POST /v1/messages answers \"You said: \" + the\n"
    "last user text + N filler words (w0 w1 ...); a token is a whitespace-separated word.\n"
    "Markers in the last user message act per request: "
    "[[fault:429|529|500|403|...|midstream|hang]],\n"
    "[[words:N]], [[tps:N]], [[latency:N]]. Knobs change at run time with POST /_config\n"
    "{\"fault\":\"529\",\"fault_count\":2,...}; GET /_config shows them; GET /_stats counts,\n"
    "POST /_reset zeroes the counters.";

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    af_info("signal=%d shutting down", (int)sig);
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    char *listen = NULL, *fault = NULL, *api_key = NULL, *log_level = NULL;
    fa_knobs_t knobs;
    fa_knobs_defaults(&knobs);
    af_opt_t opts[] = {
        {"listen", AF_OPT_STR, &listen, "127.0.0.1:8090", "address to serve on (port 0: any)",
         false},
        {"latency-ms", AF_OPT_INT, &knobs.latency_ms, "0", "delay before the first byte of a reply",
         false},
        {"tokens-per-sec", AF_OPT_INT, &knobs.tokens_per_sec, "0",
         "stream pacing, deltas per second (0: no pacing)", false},
        {"reply-words", AF_OPT_INT, &knobs.reply_words, "0", "filler words appended to each reply",
         false},
        {"fault", AF_OPT_STR, &fault, "none", "none|400|401|403|404|413|429|500|529|midstream|hang",
         false},
        {"fault-count", AF_OPT_INT, &knobs.fault_count, "0",
         "requests that get the fault, then none (0: all)", false},
        {"retry-after", AF_OPT_INT, &knobs.retry_after, "1",
         "retry-after seconds on 429/529 (0: no header)", false},
        {"api-key", AF_OPT_STR, &api_key, NULL, "the only key accepted (empty: any non-empty key)",
         true},
        {"log-level", AF_OPT_STR, &log_level, "info", "debug|info|warn|error", false},
        {0},
    };
    af_log_init("fake-anthropic", AF_LOG_INFO);
    int rc = af_config_load(opts, "fake_anthropic", s_summary, argc, argv);
    if (rc < 0 || rc == AF_CONFIG_EXIT_OK) {
        af_config_free(opts);
        return rc < 0 ? 2 : 0;
    }

    char err[256];
    af_log_level_t level;
    int bad = 0;
    if (af_log_level_parse(log_level, &level) < 0) {
        fprintf(stderr, "error: --log-level: '%s' is not debug|info|warn|error\n", log_level);
        bad = 1;
    } else
        af_log_set_level(level);
    if (fa_fault_parse(fault, &knobs.fault) < 0) {
        fprintf(stderr,
                "error: --fault: '%s' is not none|400|401|403|404|413|429|500|529|"
                "midstream|hang\n",
                fault);
        bad = 1;
    }
    knobs.fault_left = knobs.fault_count;
    if (strlen(api_key) >= sizeof knobs.api_key) {
        fprintf(stderr, "error: --api-key: longer than %zu bytes\n", sizeof knobs.api_key - 1);
        bad = 1;
    } else
        snprintf(knobs.api_key, sizeof knobs.api_key, "%s", api_key);
    if (fa_knobs_check(&knobs, err, sizeof err) < 0) {
        fprintf(stderr, "error: %s\n", err);
        bad = 1;
    }
    if (bad || rc == AF_CONFIG_CHECK) {
        if (!bad)
            printf("configuration OK\n");
        af_config_free(opts);
        return bad ? 2 : 0;
    }

    /* A client that vanishes mid-write must cost a connection, not the process. */
    signal(SIGPIPE, SIG_IGN);
    int exit_code = 1;
    struct event_base *base = event_base_new();
    struct event *sigterm = NULL, *sigint = NULL;
    fa_server_t *server = NULL;
    if (!base)
        goto done;
    server = fa_server_new(base, listen, &knobs);
    if (!server)
        goto done;
    sigterm = evsignal_new(base, SIGTERM, s_on_signal, base);
    sigint = evsignal_new(base, SIGINT, s_on_signal, base);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0)
        goto done;
    af_info("listen=%s port=%d fault=%s latency_ms=%ld tokens_per_sec=%ld reply_words=%ld", listen,
            fa_server_port(server), fault, knobs.latency_ms, knobs.tokens_per_sec,
            knobs.reply_words);
    event_base_dispatch(base);
    exit_code = 0;
done:
    fa_server_destroy(&server);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (base)
        event_base_free(base);
    af_config_free(opts);
    af_log_clear_secrets();
    return exit_code;
}
