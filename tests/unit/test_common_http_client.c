/* The libcurl-on-libevent client against an evhttp server on the same loop:
 * success, HTTP errors, timeouts, refused connections, oversized bodies,
 * many concurrent requests, and pending requests at shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "http_client.h"
#include "log.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    struct event_base *base;
    struct evhttp *http;
    int port;
    int done, expected;
    long statuses[300];
    char bodies[4][256];
    char errs[4][256];
} s_ctx_t;

static void s_on_ok(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"method\":%d,\"len\":%zu}", (int)evhttp_request_get_command(req),
                        evbuffer_get_length(in));
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void s_on_fail(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_send_error(req, 503, "busy");
}

static void s_on_hang(struct evhttp_request *req, void *arg)
{
    (void)req;
    (void)arg; /* never answers: the client's timeout must fire */
}

static void s_on_big(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 20 * 16; i++) /* 20 MiB > the 16 MiB cap */
        evbuffer_add(out, chunk, sizeof chunk);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static s_ctx_t *g_ctx;

static void s_cb(void *arg, long status, const char *body, const char *err)
{
    long slot = (long)(intptr_t)arg;
    s_ctx_t *c = g_ctx;
    c->statuses[slot] = status;
    if (slot < 4) {
        snprintf(c->bodies[slot], sizeof c->bodies[slot], "%s", body);
        snprintf(c->errs[slot], sizeof c->errs[slot], "%s", err ? err : "");
    }
    if (++c->done == c->expected)
        event_base_loopexit(c->base, NULL);
}

static void test_requests(void **state)
{
    (void)state;
    s_ctx_t c = {0};
    g_ctx = &c;
    c.base = event_base_new();
    c.http = evhttp_new(c.base);
    evhttp_set_cb(c.http, "/ok", s_on_ok, NULL);
    evhttp_set_cb(c.http, "/fail", s_on_fail, NULL);
    evhttp_set_cb(c.http, "/hang", s_on_hang, NULL);
    evhttp_set_cb(c.http, "/big", s_on_big, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(c.http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    c.port = ntohs(sin.sin_port);
    af_http_client_t *hc = af_http_client_new(c.base);
    char url[128];
    c.expected = 4 + 200;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", c.port);
    assert_int_equal(af_http_client_request(hc, "POST", url, "{\"a\":1}", 5000, s_cb, (void *)0), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/fail", c.port);
    assert_int_equal(af_http_client_request(hc, "GET", url, NULL, 5000, s_cb, (void *)1), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hang", c.port);
    assert_int_equal(af_http_client_request(hc, "GET", url, NULL, 300, s_cb, (void *)2), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", c.port);
    assert_int_equal(af_http_client_request(hc, "GET", url, NULL, 5000, s_cb, (void *)3), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", c.port);
    for (long i = 4; i < 204; i++)
        assert_int_equal(af_http_client_request(hc, "GET", url, NULL, 5000, s_cb, (void *)i), 0);
    assert_int_equal(af_http_client_pending(hc), 204);
    event_base_dispatch(c.base);
    assert_int_equal(c.done, 204);
    if (c.statuses[0] != 200) fail_msg("slot0 status=%ld err=%s body=%s", c.statuses[0], c.errs[0], c.bodies[0]);
    assert_string_equal(c.bodies[0], "{\"method\":2,\"len\":7}");
    assert_string_equal(c.errs[0], "");
    assert_int_equal(c.statuses[1], 503);
    assert_int_equal(c.statuses[2], 0);
    assert_string_equal(c.errs[2], "timeout after 300 ms");
    assert_int_equal(c.statuses[3], 0);
    assert_non_null(strstr(c.errs[3], "larger than"));
    for (int i = 4; i < 204; i++)
        assert_int_equal(c.statuses[i], 200);
    assert_int_equal(af_http_client_pending(hc), 0);
    af_http_client_destroy(&hc);
    assert_null(hc);
    evhttp_free(c.http);
    event_base_free(c.base);
}

static void test_refused_and_shutdown(void **state)
{
    (void)state;
    s_ctx_t c = {0};
    g_ctx = &c;
    c.base = event_base_new();
    af_http_client_t *hc = af_http_client_new(c.base);
    c.expected = 1;
    /* A port we bound and closed: nothing listens, the connection is refused. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    close(fd);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(sin.sin_port));
    assert_int_equal(af_http_client_request(hc, "GET", url, NULL, 2000, s_cb, (void *)0), 0);
    event_base_dispatch(c.base);
    assert_int_equal(c.statuses[0], 0);
    assert_true(strlen(c.errs[0]) > 0);
    /* A request still pending at shutdown ends with a clear error, exactly once. */
    c.done = 0;
    c.expected = 100;
    assert_int_equal(af_http_client_request(hc, "GET", url, NULL, 2000, s_cb, (void *)1), 0);
    af_http_client_destroy(&hc);
    assert_int_equal(c.done, 1);
    assert_string_equal(c.errs[1], "client shut down");
    event_base_free(c.base);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_refused_and_shutdown),
    };
    return cmocka_run_group_tests_name("http_client", tests, NULL, NULL);
}
