/* fleetctl's SSE parser: the gateway's chat stream split at every byte
 * boundary gives the same events; CRLF/CR line ends, multi-line data,
 * comments, default event name, oversize events and a stopping callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../cli/sse.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    char log[4096];
    int n;
    int stop_after;
} rec_t;

static int s_rec(const char *event, const char *data, void *arg)
{
    rec_t *r = arg;
    size_t l = strlen(r->log);
    snprintf(r->log + l, sizeof r->log - l, "[%s|%s]", event, data);
    r->n++;
    return r->stop_after && r->n >= r->stop_after;
}

static const char *STREAM =
    "event: delta\ndata: {\"text\":\"Hel\"}\n\n"
    ": keep-alive comment\n\n"
    "event: delta\ndata: {\"text\":\"lo\"}\n\n"
    "event: done\ndata: {\"session_id\":\"se_1\",\"usage\":{\"input_tokens\":3}}\n\n";
static const char *WANT = "[delta|{\"text\":\"Hel\"}][delta|{\"text\":\"lo\"}]"
                          "[done|{\"session_id\":\"se_1\",\"usage\":{\"input_tokens\":3}}]";

static void test_every_split(void **state)
{
    (void)state;
    size_t len = strlen(STREAM);
    for (size_t cut = 0; cut <= len; cut++) {
        rec_t r = {0};
        af_cli_sse_t *p = af_cli_sse_new(s_rec, &r, 0);
        assert_non_null(p);
        assert_int_equal(af_cli_sse_feed(p, STREAM, cut), 0);
        assert_int_equal(af_cli_sse_feed(p, STREAM + cut, len - cut), 0);
        assert_string_equal(r.log, WANT);
        assert_int_equal(af_cli_sse_events(p), 3);
        af_cli_sse_destroy(&p);
        assert_null(p);
    }
    /* one byte at a time */
    rec_t r = {0};
    af_cli_sse_t *p = af_cli_sse_new(s_rec, &r, 0);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(af_cli_sse_feed(p, STREAM + i, 1), 0);
    assert_string_equal(r.log, WANT);
    af_cli_sse_destroy(&p);
}

static void test_line_ends_and_fields(void **state)
{
    (void)state;
    rec_t r = {0};
    af_cli_sse_t *p = af_cli_sse_new(s_rec, &r, 0);
    const char *s = "data: a\r\ndata:b\r\n\r\n"      /* CRLF, no space after colon */
                    "event: x\rdata: c\r\r"          /* bare CR */
                    "id: 7\nretry: 10\ndata\n\n"     /* field without value = empty data */
                    "event: lonely\n\n";            /* no data: no event */
    assert_int_equal(af_cli_sse_feed(p, s, strlen(s)), 0);
    assert_string_equal(r.log, "[message|a\nb][x|c][message|]");
    af_cli_sse_destroy(&p);
}

static void test_oversize_refused(void **state)
{
    (void)state;
    rec_t r = {0};
    af_cli_sse_t *p = af_cli_sse_new(s_rec, &r, 16);
    const char *ok = "data: 0123456789\n\n";
    assert_int_equal(af_cli_sse_feed(p, ok, strlen(ok)), 0);
    const char *big = "data: 0123456789abcdefXYZ\n\n";
    assert_int_equal(af_cli_sse_feed(p, big, strlen(big)), -1);
    assert_int_equal(r.n, 1);
    af_cli_sse_destroy(&p);
    /* data lines that add up past the limit */
    rec_t r2 = {0};
    p = af_cli_sse_new(s_rec, &r2, 16);
    const char *many = "data: 01234567\ndata: 01234567\n\n";
    assert_int_equal(af_cli_sse_feed(p, many, strlen(many)), -1);
    assert_int_equal(r2.n, 0);
    af_cli_sse_destroy(&p);
}

static void test_callback_stops(void **state)
{
    (void)state;
    rec_t r = {.stop_after = 1};
    af_cli_sse_t *p = af_cli_sse_new(s_rec, &r, 0);
    assert_int_equal(af_cli_sse_feed(p, STREAM, strlen(STREAM)), -1);
    assert_int_equal(r.n, 1);
    af_cli_sse_destroy(&p);
    af_cli_sse_destroy(&p); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_line_ends_and_fields),
        cmocka_unit_test(test_oversize_refused),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests_name("cli_sse", tests, NULL, NULL);
}
