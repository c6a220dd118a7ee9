/* curl_loop's socket hook names the transfer on the socket (agentd keys its
 * per-stream socket options on it): two concurrent transfers against an
 * evhttp server on the same loop, and every read the hook sees carries the
 * arg of a live transfer, each transfer's at least once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "curl_loop.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    struct event_base *base;
    int done;
    int reads[2];   /* hook calls with EV_READ per transfer */
    int strangers;  /* hook calls naming neither transfer */
    long codes[2];
} s_ctx_t;

static s_ctx_t g;
static int s_tag[2]; /* the transfers' args: &s_tag[0], &s_tag[1] */

static void s_on_hello(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "hello");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void s_hook(int fd, short what, void *xfer_arg, void *arg)
{
    (void)fd;
    assert_ptr_equal(arg, &g);
    if (!(what & EV_READ))
        return;
    if (xfer_arg == &s_tag[0])
        g.reads[0]++;
    else if (xfer_arg == &s_tag[1])
        g.reads[1]++;
    else
        g.strangers++;
}

static size_t s_sink(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static void s_done(CURL *easy, CURLcode res, void *arg)
{
    assert_int_equal(res, CURLE_OK);
    int i = arg == &s_tag[0] ? 0 : 1;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &g.codes[i]);
    if (++g.done == 2)
        event_base_loopexit(g.base, NULL);
}

static void test_hook_names_transfer(void **state)
{
    (void)state;
    memset(&g, 0, sizeof g);
    g.base = event_base_new();
    struct evhttp *http = evhttp_new(g.base);
    evhttp_set_cb(http, "/hello", s_on_hello, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", ntohs(sin.sin_port));

    af_curl_loop_t *loop = af_curl_loop_new(g.base);
    assert_non_null(loop);
    af_curl_loop_set_socket_hook(loop, s_hook, &g);
    CURL *e[2];
    for (int i = 0; i < 2; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, s_sink);
        assert_int_equal(af_curl_loop_add(loop, e[i], s_done, &s_tag[i]), 0);
    }
    assert_int_equal(af_curl_loop_running(loop), 2);
    event_base_dispatch(g.base);
    assert_int_equal(g.codes[0], 200);
    assert_int_equal(g.codes[1], 200);
    assert_true(g.reads[0] >= 1);
    assert_true(g.reads[1] >= 1);
    assert_int_equal(g.strangers, 0);
    for (int i = 0; i < 2; i++)
        curl_easy_cleanup(e[i]);
    af_curl_loop_destroy(&loop);
    assert_null(loop);
    evhttp_free(http);
    event_base_free(g.base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_names_transfer),
    };
    return cmocka_run_group_tests_name("common_curl_loop", tests, NULL, NULL);
}
