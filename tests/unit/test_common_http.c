/* The evhttp JSON helpers over real HTTP: an evhttp server on 127.0.0.1:<free>
 * and an evhttp client on the same loop. Error replies carry the exact
 * {"type":"error","error":{"type","message"}} body, the status and its reason
 * phrase; JSON replies are what was given; af_http_read_json accepts an object
 * and refuses empty, oversized, broken, trailing and non-object bodies with the
 * status and message a client sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "http.h"
#include "log.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define S_READ_MAX 64 /* /read accepts bodies up to this many bytes */

typedef struct {
    struct event_base *base;
    struct evhttp *http;
    int port;
    /* the last response */
    int done;
    int status;
    char reason[64];
    char content_type[64];
    char body[2048];
} s_ctx_t;

/* ---- server routes ------------------------------------------------------- */

/* /error/<status>: an error reply with a message holding characters JSON must
 * escape, so the body proves the message went through a real encoder. */
static void s_on_error(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    int status = atoi(uri + strlen("/error/"));
    af_http_reply_error(req, status, "not_found_error", "no route \"%s\"\n(%d)", "/v1/x", 7);
}

/* /long: a message longer than the helper's buffer. */
static void s_on_long(struct evhttp_request *req, void *arg)
{
    (void)arg;
    char big[2000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    af_http_reply_error(req, 400, "invalid_request_error", "%s", big);
}

/* /json: a given object, verbatim. */
static void s_on_json(struct evhttp_request *req, void *arg)
{
    (void)arg;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "id", "ag_1");
    cJSON_AddNumberToObject(b, "n", 3);
    af_http_reply_json(req, 201, b);
    cJSON_Delete(b);
}

/* /read: the body read with af_http_read_json; echoed back, or refused the
 * way every HTTP surface of the fleet refuses it. */
static void s_on_read(struct evhttp_request *req, void *arg)
{
    (void)arg;
    int status = 0;
    char err[256] = "";
    cJSON *j = af_http_read_json(req, S_READ_MAX, &status, err, sizeof err);
    if (!j) {
        af_http_reply_error(req, status, "invalid_request_error", "%s", err);
        return;
    }
    af_http_reply_json(req, 200, j);
    cJSON_Delete(j);
}

static void s_route(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    if (!strncmp(uri, "/error/", 7))
        s_on_error(req, arg);
    else if (!strcmp(uri, "/long"))
        s_on_long(req, arg);
    else if (!strcmp(uri, "/json"))
        s_on_json(req, arg);
    else if (!strcmp(uri, "/read"))
        s_on_read(req, arg);
    else
        evhttp_send_error(req, 500, "unrouted");
}

/* ---- client ------------------------------------------------------------- */

static void s_on_response(struct evhttp_request *req, void *arg)
{
    s_ctx_t *c = arg;
    c->done = 1;
    event_base_loopbreak(c->base);
    if (!req) {
        c->status = -1;
        return;
    }
    c->status = evhttp_request_get_response_code(req);
    const char *line = evhttp_request_get_response_code_line(req);
    snprintf(c->reason, sizeof c->reason, "%s", line ? line : "");
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    snprintf(c->content_type, sizeof c->content_type, "%s", ct ? ct : "");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n >= sizeof c->body)
        n = sizeof c->body - 1;
    evbuffer_remove(in, c->body, n);
    c->body[n] = '\0';
}

/* One request on a fresh connection; runs the loop until the answer is in. */
static void s_fetch(s_ctx_t *c, enum evhttp_cmd_type cmd, const char *path, const char *body,
                    size_t blen)
{
    c->done = 0;
    c->status = 0;
    c->reason[0] = c->content_type[0] = c->body[0] = '\0';
    struct evhttp_connection *conn =
        evhttp_connection_base_new(c->base, NULL, "127.0.0.1", (unsigned short)c->port);
    assert_non_null(conn);
    evhttp_connection_set_timeout(conn, 5);
    struct evhttp_request *req = evhttp_request_new(s_on_response, c);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    if (body)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, blen);
    assert_int_equal(evhttp_make_request(conn, req, cmd, path), 0);
    while (!c->done)
        event_base_dispatch(c->base);
    evhttp_connection_free(conn);
    assert_int_not_equal(c->status, -1);
}

static int s_setup(void **state)
{
    s_ctx_t *c = calloc(1, sizeof *c);
    c->base = event_base_new();
    c->http = evhttp_new(c->base);
    evhttp_set_gencb(c->http, s_route, c);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(c->http, "127.0.0.1", 0);
    if (!bs)
        return -1;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    c->port = ntohs(sa.sin_port);
    *state = c;
    return 0;
}

static int s_teardown(void **state)
{
    s_ctx_t *c = *state;
    evhttp_free(c->http);
    event_base_free(c->base);
    free(c);
    return 0;
}

/* The error message as the client reads it back out of the body. */
static void s_expect_error(const s_ctx_t *c, int status, const char *type, const char *message)
{
    assert_int_equal(c->status, status);
    assert_string_equal(c->content_type, "application/json");
    cJSON *j = cJSON_Parse(c->body);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(j), 2); /* "type" and "error", nothing else */
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "error");
    cJSON *e = cJSON_GetObjectItem(j, "error");
    assert_non_null(e);
    assert_int_equal(cJSON_GetArraySize(e), 2);
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, type);
    assert_string_equal(cJSON_GetObjectItem(e, "message")->valuestring, message);
    cJSON_Delete(j);
}

/* ---- tests -------------------------------------------------------------- */

static void test_reason_phrases(void **state)
{
    (void)state;
    assert_string_equal(af_http_reason(200), "OK");
    assert_string_equal(af_http_reason(201), "Created");
    assert_string_equal(af_http_reason(400), "Bad Request");
    assert_string_equal(af_http_reason(404), "Not Found");
    assert_string_equal(af_http_reason(413), "Payload Too Large");
    assert_string_equal(af_http_reason(429), "Too Many Requests");
    assert_string_equal(af_http_reason(503), "Service Unavailable");
    assert_string_equal(af_http_reason(529), "Overloaded");
    assert_string_equal(af_http_reason(418), "Unknown");
}

static void test_error_reply_exact_body(void **state)
{
    s_ctx_t *c = *state;
    s_fetch(c, EVHTTP_REQ_GET, "/error/404", NULL, 0);
    assert_int_equal(c->status, 404);
    assert_string_equal(c->reason, "Not Found");
    assert_string_equal(c->content_type, "application/json");
    assert_string_equal(c->body, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
                                 "\"message\":\"no route \\\"/v1/x\\\"\\n(7)\"}}\n");
    s_expect_error(c, 404, "not_found_error", "no route \"/v1/x\"\n(7)");
}

static void test_error_reply_statuses(void **state)
{
    s_ctx_t *c = *state;
    static const struct {
        int status;
        const char *reason;
    } cases[] = {{400, "Bad Request"},
                 {401, "Unauthorized"},
                 {429, "Too Many Requests"},
                 {503, "Service Unavailable"},
                 {529, "Overloaded"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[32];
        snprintf(path, sizeof path, "/error/%d", cases[i].status);
        s_fetch(c, EVHTTP_REQ_GET, path, NULL, 0);
        assert_string_equal(c->reason, cases[i].reason);
        s_expect_error(c, cases[i].status, "not_found_error", "no route \"/v1/x\"\n(7)");
    }
}

static void test_error_long_message_truncated_still_json(void **state)
{
    s_ctx_t *c = *state;
    s_fetch(c, EVHTTP_REQ_GET, "/long", NULL, 0);
    assert_int_equal(c->status, 400);
    cJSON *j = cJSON_Parse(c->body);
    assert_non_null(j);
    const char *msg = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "message")->valuestring;
    /* Bounded by the helper's 512-byte buffer, and all of it the message. */
    assert_int_equal(strlen(msg), 511);
    assert_int_equal(strspn(msg, "m"), 511);
    cJSON_Delete(j);
}

static void test_reply_json(void **state)
{
    s_ctx_t *c = *state;
    s_fetch(c, EVHTTP_REQ_GET, "/json", NULL, 0);
    assert_int_equal(c->status, 201);
    assert_string_equal(c->reason, "Created");
    assert_string_equal(c->content_type, "application/json");
    assert_string_equal(c->body, "{\"id\":\"ag_1\",\"n\":3}\n");
}

static void test_read_json_accepts_object(void **state)
{
    s_ctx_t *c = *state;
    const char *b = " {\"model\":\"m\",\"max_tokens\":8}\r\n\t ";
    s_fetch(c, EVHTTP_REQ_POST, "/read", b, strlen(b));
    assert_int_equal(c->status, 200);
    assert_string_equal(c->body, "{\"model\":\"m\",\"max_tokens\":8}\n");
    /* Exactly at the limit is still accepted. */
    char at[S_READ_MAX + 1];
    memset(at, ' ', S_READ_MAX);
    memcpy(at, "{\"a\":1}", 7);
    s_fetch(c, EVHTTP_REQ_POST, "/read", at, S_READ_MAX);
    assert_int_equal(c->status, 200);
    assert_string_equal(c->body, "{\"a\":1}\n");
}

static void test_read_json_refusals(void **state)
{
    s_ctx_t *c = *state;
    s_fetch(c, EVHTTP_REQ_POST, "/read", NULL, 0);
    s_expect_error(c, 400, "invalid_request_error",
                   "request body is empty; expected a JSON object");

    char big[S_READ_MAX + 2];
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"a\":1}", 7);
    s_fetch(c, EVHTTP_REQ_POST, "/read", big, S_READ_MAX + 1);
    assert_string_equal(c->reason, "Payload Too Large");
    s_expect_error(c, 413, "invalid_request_error",
                   "request body of 65 bytes exceeds the limit of 64");

    /* The break is on line 2, column 2: the client is told where. */
    const char *broken = "{\"a\":\n tru}";
    s_fetch(c, EVHTTP_REQ_POST, "/read", broken, strlen(broken));
    s_expect_error(c, 400, "invalid_request_error", "invalid JSON at byte 7 (line 2, column 2)");

    const char *trailing = "{\"a\":1} x";
    s_fetch(c, EVHTTP_REQ_POST, "/read", trailing, strlen(trailing));
    s_expect_error(c, 400, "invalid_request_error", "invalid JSON: trailing data at byte 8");

    const char *two = "{}{}";
    s_fetch(c, EVHTTP_REQ_POST, "/read", two, strlen(two));
    s_expect_error(c, 400, "invalid_request_error", "invalid JSON: trailing data at byte 2");

    const char *array = "[1,2]";
    s_fetch(c, EVHTTP_REQ_POST, "/read", array, strlen(array));
    s_expect_error(c, 400, "invalid_request_error", "request body must be a JSON object");

    /* A NUL inside the body does not end it early: the rest is trailing data. */
    const char nul[] = "{\"a\":1}\0{}";
    s_fetch(c, EVHTTP_REQ_POST, "/read", nul, sizeof nul - 1);
    s_expect_error(c, 400, "invalid_request_error", "invalid JSON: trailing data at byte 7");
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_phrases),
        cmocka_unit_test_setup_teardown(test_error_reply_exact_body, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_error_reply_statuses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_error_long_message_truncated_still_json, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_reply_json, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_read_json_accepts_object, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_read_json_refusals, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
