/* Metrics registry: exact exposition text, escaping, histograms, removal,
 * promtool's verdict on the output, and /metrics served over real HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"
#include "metrics.h"
#include "metrics_http.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static double s_answer(void *arg) { return *(double *)arg; }

static af_metrics_t *s_sample(double *cb)
{
    af_metrics_t *r = af_metrics_new();
    af_metric_t *req = af_metrics_counter(r, "agent_requests_total", "Requests by status.", "status");
    af_metric_t *act = af_metrics_gauge(r, "agent_active_sessions", "Live sessions.", NULL);
    const double b[] = {0.1, 1};
    af_metric_t *lat = af_metrics_histogram(r, "agent_upstream_request_duration_seconds",
                                            "Upstream latency.", "model", b, 2);
    af_metrics_callback(r, "agent_answer", "Computed at scrape.", AF_METRIC_GAUGE, s_answer, cb);
    af_metric_inc(req, "ok");
    af_metric_add(req, 2, "ok");
    af_metric_inc(req, "err\"or\\\n");
    af_metric_add(req, -5, "ok"); /* ignored: counters never go down */
    af_metric_set(act, 7);
    af_metric_observe(lat, 0.05, "m");
    af_metric_observe(lat, 0.5, "m");
    af_metric_observe(lat, 5, "m");
    return r;
}

static void test_render_exact(void **state)
{
    (void)state;
    double cb = 42;
    af_metrics_t *r = s_sample(&cb);
    char *text = af_metrics_render(r);
    const char *want =
        "# HELP agent_requests_total Requests by status.\n"
        "# TYPE agent_requests_total counter\n"
        "agent_requests_total{status=\"ok\"} 3\n"
        "agent_requests_total{status=\"err\\\"or\\\\\\n\"} 1\n"
        "# HELP agent_active_sessions Live sessions.\n"
        "# TYPE agent_active_sessions gauge\n"
        "agent_active_sessions 7\n"
        "# HELP agent_upstream_request_duration_seconds Upstream latency.\n"
        "# TYPE agent_upstream_request_duration_seconds histogram\n"
        "agent_upstream_request_duration_seconds_bucket{model=\"m\",le=\"0.1\"} 1\n"
        "agent_upstream_request_duration_seconds_bucket{model=\"m\",le=\"1\"} 2\n"
        "agent_upstream_request_duration_seconds_bucket{model=\"m\",le=\"+Inf\"} 3\n"
        "agent_upstream_request_duration_seconds_sum{model=\"m\"} 5.55\n"
        "agent_upstream_request_duration_seconds_count{model=\"m\"} 3\n"
        "# HELP agent_answer Computed at scrape.\n"
        "# TYPE agent_answer gauge\n"
        "agent_answer 42\n";
    assert_string_equal(text, want);
    free(text);
    af_metrics_destroy(&r);
    assert_null(r);
}

static void test_values_and_remove(void **state)
{
    (void)state;
    af_metrics_t *r = af_metrics_new();
    af_metric_t *c = af_metrics_counter(r, "x_total", "x", "a,b");
    for (int i = 0; i < 1000; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        af_metric_add(c, i, v, "z");
    }
    assert_true(af_metric_value(c, "999", "z") == 999);
    assert_true(af_metric_value(c, "5", "z") == 5);
    af_metric_remove(c, "5", "z");
    assert_true(af_metric_value(c, "5", "z") == 0);
    assert_true(af_metric_value(c, "6", "z") == 6);
    char *text = af_metrics_render(r);
    assert_null(strstr(text, "a=\"5\","));
    assert_non_null(strstr(text, "x_total{a=\"6\",b=\"z\"} 6\n"));
    free(text);
    /* Invalid names and duplicates are refused. */
    assert_null(af_metrics_counter(r, "x_total", "dup", NULL));
    assert_null(af_metrics_gauge(r, "9bad", "", NULL));
    assert_null(af_metrics_gauge(r, "ok_name", "", "le"));
    assert_null(af_metrics_gauge(r, "ok_name2", "", "bad-label"));
    af_metrics_destroy(&r);
}

static void test_promtool_accepts(void **state)
{
    (void)state;
    double cb = 1.5;
    af_metrics_t *r = s_sample(&cb);
    assert_int_equal(af_metrics_add_process(r), 0);
    char *text = af_metrics_render(r);
    assert_non_null(strstr(text, "process_resident_memory_bytes "));
    char path[] = "/tmp/af-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    if (rc != 0 || n > 0)
        fail_msg("promtool check metrics rc=%d: %s", rc, out);
    unlink(path);
    free(text);
    af_metrics_destroy(&r);
}

/* ---- /metrics over HTTP ------------------------------------------------------ */

static void test_http_serves_metrics(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    double cb = 3;
    af_metrics_t *r = s_sample(&cb);
    af_metrics_http_t *h = af_metrics_http_new(base, r, "127.0.0.1:0");
    assert_non_null(h);
    int port = af_metrics_http_port(h);
    assert_true(port > 0);
    int sv[2];
    assert_int_equal(pipe(sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: a plain HTTP client; writes what it got to the pipe. */
        char cmd[256];
        snprintf(cmd, sizeof cmd,
                 "curl -s -i http://127.0.0.1:%d/metrics; echo; curl -s -o /dev/null -w '%%{http_code}' "
                 "http://127.0.0.1:%d/nope; curl -s -o /dev/null -w ' %%{http_code}' -X POST "
                 "http://127.0.0.1:%d/metrics",
                 port, port, port);
        dup2(sv[1], 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    /* Serve until the child is done: run the loop in slices. */
    char out[65536];
    size_t n = 0;
    int status = 0;
    for (int i = 0; i < 500; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(10000);
    }
    ssize_t k;
    while ((k = read(sv[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(sv[0]);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(out, "agent_active_sessions 7\n"));
    assert_non_null(strstr(out, "404 405"));
    af_metrics_http_destroy(&h);
    af_metrics_destroy(&r);
    event_base_free(base);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_values_and_remove),
        cmocka_unit_test(test_promtool_accepts),
        cmocka_unit_test(test_http_serves_metrics),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
