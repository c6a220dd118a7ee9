/* SSE parser and stream folding: recorded streams fed in every possible split
 * into two chunks, every split into three for a short stream, and byte by byte;
 * each way must give the same events and the same message (text, usage,
 * stop_reason) as the whole buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../agentd/message.h"
#include "../../agentd/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Recorded from bin/fake-anthropic (stream of "You said: Hi" + 3 words). */
static const char s_rec_fake[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_FM9VQpHXY0ZGS79RyqYipUuF\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-sonnet-20241022\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\":\"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"You\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" said:\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" Hi\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" w0\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" w1\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" w2\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":6}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

/* Shaped like the Messages API docs' example, written with CRLF endings, a
 * comment line, a data field split over two lines, non-ASCII text and an
 * unknown event type that must be skipped. */
static const char s_rec_crlf[] =
    ": keep-alive comment\r\n"
    "event: message_start\r\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-sonnet-20241022\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\r\n"
    "\r\n"
    "event: content_block_start\r\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n"
    "\r\n"
    "event: ping\r\n"
    "data: {\"type\": \"ping\"}\r\n"
    "\r\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\r\n"
    "data:  \"delta\":{\"type\":\"text_delta\",\"text\":\"Grüße\"}}\r\n"
    "\r\n"
    "event: future_event\r\n"
    "data: {\"type\":\"future_event\"}\r\n"
    "\r\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", \\\"world\\\"!\"}}\r\n"
    "\r\n"
    "event: content_block_stop\r\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\r\n"
    "\r\n"
    "event: message_delta\r\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":15}}\r\n"
    "\r\n"
    "event: message_stop\r\n"
    "data: {\"type\":\"message_stop\"}\r\n"
    "\r\n";

/* A short stream ending in an error event, bare-CR line ends. */
static const char s_rec_error[] =
    "event: message_start\r"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"model\":\"m\",\"usage\":{\"input_tokens\":3}}}\r\r"
    "event: content_block_delta\r"
    "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"par\"}}\r\r"
    "event: error\r"
    "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\r\r";

typedef struct {
    char log[16384]; /* "name|data\n" per event */
    size_t len;
    af_message_t msg;
    char deltas[1024];
    int ndeltas;
    int bad;
} sink_t;

static int s_on_event(const char *event, const char *data, size_t len, void *arg)
{
    sink_t *s = arg;
    int n = snprintf(s->log + s->len, sizeof s->log - s->len, "%s|%.*s\n", event, (int)len, data);
    if (n > 0 && (size_t)n < sizeof s->log - s->len)
        s->len += (size_t)n;
    assert_int_equal(strlen(data), len); /* NUL-terminated at len */
    const char *d;
    size_t dl;
    af_message_ev_t ev = af_message_apply(&s->msg, event, data, len, &d, &dl);
    if (ev == AF_MESSAGE_EV_DELTA) {
        strncat(s->deltas, d, dl);
        s->ndeltas++;
    }
    if (ev == AF_MESSAGE_EV_BAD)
        s->bad++;
    return 0;
}

static void s_feed_parts(sink_t *out, const char *buf, size_t len, const size_t *cuts, int ncuts)
{
    memset(out, 0, sizeof *out);
    af_sse_t *p = af_sse_new(s_on_event, out, 0);
    assert_non_null(p);
    size_t at = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        assert_int_equal(af_sse_feed(p, buf + at, end - at), 0);
        at = end;
    }
    af_sse_destroy(&p);
    assert_null(p);
}

static void s_same(const sink_t *a, const sink_t *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->log, b->log, a->len);
    assert_string_equal(a->deltas, b->deltas);
    assert_int_equal(a->msg.input_tokens, b->msg.input_tokens);
    assert_int_equal(a->msg.output_tokens, b->msg.output_tokens);
    assert_string_equal(a->msg.stop_reason, b->msg.stop_reason);
}

static void s_every_split(const char *buf)
{
    size_t len = strlen(buf);
    sink_t *whole = calloc(1, sizeof *whole), *part = calloc(1, sizeof *part);
    s_feed_parts(whole, buf, len, NULL, 0);
    for (size_t i = 0; i <= len; i++) {
        s_feed_parts(part, buf, len, &i, 1);
        s_same(whole, part);
        af_message_clear(&part->msg);
    }
    /* byte by byte */
    size_t *cuts = malloc(len * sizeof *cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    s_feed_parts(part, buf, len, cuts, (int)len);
    s_same(whole, part);
    af_message_clear(&part->msg);
    free(cuts);
    af_message_clear(&whole->msg);
    free(whole);
    free(part);
}

static void test_fake_stream_whole(void **state)
{
    (void)state;
    sink_t *s = calloc(1, sizeof *s);
    s_feed_parts(s, s_rec_fake, strlen(s_rec_fake), NULL, 0);
    assert_int_equal(s->bad, 0);
    assert_string_equal(s->deltas, "You said: Hi w0 w1 w2");
    assert_string_equal(s->msg.text, "You said: Hi w0 w1 w2");
    assert_int_equal(s->ndeltas, 6);
    assert_string_equal(s->msg.id, "msg_FM9VQpHXY0ZGS79RyqYipUuF");
    assert_string_equal(s->msg.model, "claude-3-5-sonnet-20241022");
    assert_int_equal(s->msg.input_tokens, 1);
    assert_int_equal(s->msg.output_tokens, 6);
    assert_string_equal(s->msg.stop_reason, "end_turn");
    assert_true(s->msg.started);
    assert_true(s->msg.stopped);
    assert_non_null(strstr(s->log, "ping|{\"type\":\"ping\"}\n"));
    af_message_clear(&s->msg);
    free(s);
}

static void test_fake_stream_every_split(void **state)
{
    (void)state;
    s_every_split(s_rec_fake);
}

static void test_crlf_stream(void **state)
{
    (void)state;
    sink_t *s = calloc(1, sizeof *s);
    s_feed_parts(s, s_rec_crlf, strlen(s_rec_crlf), NULL, 0);
    assert_int_equal(s->bad, 0);
    assert_string_equal(s->msg.text, "Grüße, \"world\"!");
    assert_int_equal(s->ndeltas, 2);
    assert_int_equal(s->msg.input_tokens, 25);
    assert_int_equal(s->msg.output_tokens, 15);
    assert_string_equal(s->msg.stop_reason, "max_tokens");
    assert_true(s->msg.stopped);
    /* Two data lines join with a newline. */
    assert_non_null(strstr(s->log, "\"index\":0,\n \"delta\""));
    af_message_clear(&s->msg);
    free(s);
    s_every_split(s_rec_crlf);
}

static void test_error_stream_every_three_way_split(void **state)
{
    (void)state;
    const char *buf = s_rec_error;
    size_t len = strlen(buf);
    sink_t *whole = calloc(1, sizeof *whole), *part = calloc(1, sizeof *part);
    s_feed_parts(whole, buf, len, NULL, 0);
    assert_string_equal(whole->msg.error_type, "overloaded_error");
    assert_string_equal(whole->msg.error_message, "Overloaded");
    assert_string_equal(whole->deltas, "par");
    assert_false(whole->msg.stopped);
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            size_t cuts[2] = {i, j};
            s_feed_parts(part, buf, len, cuts, 2);
            s_same(whole, part);
            assert_string_equal(part->msg.error_type, "overloaded_error");
            af_message_clear(&part->msg);
        }
    af_message_clear(&whole->msg);
    free(whole);
    free(part);
}

static void test_no_dispatch_without_blank_line(void **state)
{
    (void)state;
    sink_t s;
    memset(&s, 0, sizeof s);
    af_sse_t *p = af_sse_new(s_on_event, &s, 0);
    assert_int_equal(af_sse_feed(p, "event: ping\ndata: {}\n", 21), 0);
    assert_int_equal(af_sse_events(p), 0);
    assert_int_equal(af_sse_feed(p, "\n", 1), 0);
    assert_int_equal(af_sse_events(p), 1);
    /* An event with no data line is not dispatched; default name is "message". */
    assert_int_equal(af_sse_feed(p, "event: x\n\ndata:abc\n\n", 20), 0);
    assert_int_equal(af_sse_events(p), 2);
    assert_non_null(strstr(s.log, "message|abc\n"));
    af_sse_destroy(&p);
    af_sse_destroy(&p); /* NULL-safe */
}

static void test_oversized_event_refused(void **state)
{
    (void)state;
    sink_t s;
    memset(&s, 0, sizeof s);
    af_sse_t *p = af_sse_new(s_on_event, &s, 64);
    char big[200];
    memset(big, 'a', sizeof big);
    assert_int_equal(af_sse_feed(p, "data: ", 6), 0);
    assert_int_equal(af_sse_feed(p, big, sizeof big), -1);
    assert_int_equal(af_sse_feed(p, "\n\n", 2), -1); /* stays failed */
    af_sse_reset(p);
    assert_int_equal(af_sse_feed(p, "data: ok\n\n", 10), 0);
    assert_int_equal(af_sse_events(p), 1);
    af_sse_destroy(&p);
}

static int s_stop(const char *event, const char *data, size_t len, void *arg)
{
    (void)event;
    (void)data;
    (void)len;
    (*(int *)arg)++;
    return -1;
}

static void test_callback_can_stop(void **state)
{
    (void)state;
    int calls = 0;
    af_sse_t *p = af_sse_new(s_stop, &calls, 0);
    assert_int_equal(af_sse_feed(p, "data: 1\n\ndata: 2\n\n", 18), -1);
    assert_int_equal(calls, 1);
    af_sse_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_stream_whole),
        cmocka_unit_test(test_fake_stream_every_split),
        cmocka_unit_test(test_crlf_stream),
        cmocka_unit_test(test_error_stream_every_three_way_split),
        cmocka_unit_test(test_no_dispatch_without_blank_line),
        cmocka_unit_test(test_oversized_event_refused),
        cmocka_unit_test(test_callback_can_stop),
    };
    return cmocka_run_group_tests_name("agentd_sse", tests, NULL, NULL);
}
