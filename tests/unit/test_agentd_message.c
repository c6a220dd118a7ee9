/* Messages API bodies: request building (fields passed through or left out),
 * whole-response parsing, error bodies, and refusal of malformed events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../agentd/message.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_request(void **state)
{
    (void)state;
    cJSON *msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"Hi\"}]");
    cJSON *sys = cJSON_CreateString("be brief");
    af_message_params_t p = {"claude-x", 256, 0.5, sys, msgs, true};
    char *body = af_message_request(&p);
    cJSON *j = cJSON_Parse(body);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "claude-x");
    assert_int_equal(cJSON_GetObjectItem(j, "max_tokens")->valueint, 256);
    assert_true(cJSON_GetObjectItem(j, "temperature")->valuedouble == 0.5);
    assert_string_equal(cJSON_GetObjectItem(j, "system")->valuestring, "be brief");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
    assert_true(cJSON_Compare(cJSON_GetObjectItem(j, "messages"), msgs, 1));
    cJSON_Delete(j);
    free(body);
    /* Unset temperature, no system, not streamed: the fields are absent. */
    af_message_params_t q = {"m", 1, NAN, NULL, msgs, false};
    body = af_message_request(&q);
    j = cJSON_Parse(body);
    assert_null(cJSON_GetObjectItem(j, "temperature"));
    assert_null(cJSON_GetObjectItem(j, "system"));
    assert_null(cJSON_GetObjectItem(j, "stream"));
    cJSON_Delete(j);
    free(body);
    cJSON_Delete(msgs);
    cJSON_Delete(sys);
}

static void test_parse_response(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hello\"},{\"type\":\"tool_use\",\"id\":\"t\"},"
        "{\"type\":\"text\",\"text\":\" there\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":12,\"output_tokens\":3}}";
    af_message_t m = {0};
    assert_int_equal(af_message_parse_response(&m, body, strlen(body)), 0);
    assert_string_equal(m.text, "Hello there");
    assert_string_equal(m.id, "msg_1");
    assert_string_equal(m.model, "claude-x");
    assert_string_equal(m.stop_reason, "end_turn");
    assert_int_equal(m.input_tokens, 12);
    assert_int_equal(m.output_tokens, 3);
    af_message_clear(&m);
    const char *err = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    assert_int_equal(af_message_parse_response(&m, err, strlen(err)), -1);
    assert_string_equal(m.error_type, "overloaded_error");
    assert_string_equal(m.error_message, "Overloaded");
    af_message_clear(&m);
    assert_int_equal(af_message_parse_error(&m, err, strlen(err)), 0);
    assert_string_equal(m.error_type, "overloaded_error");
    af_message_clear(&m);
    const char *bad[] = {"", "[]", "{\"type\":\"message\"}", "{\"type\":\"message\",\"content\":3}",
                         "{\"type\":\"nope\"}", "{\"type\":\"message\",\"content\":[", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(af_message_parse_response(&m, bad[i], strlen(bad[i])), -1);
        af_message_clear(&m);
    }
    assert_int_equal(af_message_parse_error(&m, "{}", 2), -1);
    /* Absurd token counts are ignored, not cast (undefined behaviour). */
    const char *huge = "{\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":1e300,"
                       "\"output_tokens\":-5}}";
    assert_int_equal(af_message_parse_response(&m, huge, strlen(huge)), 0);
    assert_int_equal(m.input_tokens, 0);
    assert_int_equal(m.output_tokens, 0);
    af_message_clear(&m);
    /* A type we would not pass on (empty, odd characters) becomes api_error. */
    const char *odd[] = {"{\"type\":\"error\",\"error\":{\"type\":\"\"}}",
                         "{\"type\":\"error\",\"error\":{\"type\":\"x{y=\\\"1\\\"}\"}}"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(af_message_parse_error(&m, odd[i], strlen(odd[i])), 0);
        assert_string_equal(m.error_type, "api_error");
        af_message_clear(&m);
    }
}

static void test_events(void **state)
{
    (void)state;
    af_message_t m = {0};
    const char *d;
    size_t n;
    assert_int_equal(af_message_apply(&m, "content_block_delta", "{nope", 5, &d, &n),
                     AF_MESSAGE_EV_BAD);
    assert_int_equal(af_message_apply(&m, "content_block_delta", "{\"delta\":{}}", 12, &d, &n),
                     AF_MESSAGE_EV_BAD);
    const char *tool = "{\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}";
    assert_int_equal(af_message_apply(&m, "content_block_delta", tool, strlen(tool), &d, &n),
                     AF_MESSAGE_EV_IGNORED);
    assert_int_equal(af_message_apply(&m, "whatever_new", "{nope", 5, &d, &n),
                     AF_MESSAGE_EV_IGNORED);
    assert_int_equal(af_message_apply(&m, "ping", "", 0, &d, &n), AF_MESSAGE_EV_IGNORED);
    const char *delta = "{\"delta\":{\"type\":\"text_delta\",\"text\":\"ab\"}}";
    assert_int_equal(af_message_apply(&m, "content_block_delta", delta, strlen(delta), &d, &n),
                     AF_MESSAGE_EV_DELTA);
    assert_int_equal(n, 2);
    assert_memory_equal(d, "ab", 2);
    assert_int_equal(af_message_apply(&m, "message_stop", "{}", 2, &d, &n), AF_MESSAGE_EV_STOP);
    assert_true(m.stopped);
    af_message_clear(&m);
}

/* Text deltas, in the documented shape (read in place) and in every shape
 * that must go through cJSON instead, fold to the same text either way. */
static void test_text_deltas(void **state)
{
    (void)state;
    static const struct {
        const char *data, *text;
    } cases[] = {
        {"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}", "Hello"},
        {"{\"type\":\"content_block_delta\",\"index\":12,\"delta\":{\"type\":\"text_delta\",\"text\":\" wörld\"}}", " wörld"},
        {"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\\nb \\\"q\\\" \\u00e9\"}}", "a\nb \"q\" \xc3\xa9"},
        {"{\"index\":0,\"type\":\"content_block_delta\",\"delta\":{\"text\":\"swapped\",\"type\":\"text_delta\"}}", "swapped"},
        {"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}", ""},
        {"{\"type\":\"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"spaced\"}}", "spaced"},
    };
    for (int fast = 1; fast >= 0; fast--) {
        af_message_set_fast_path(fast);
        af_message_t m;
        memset(&m, 0, sizeof m);
        char want[256] = "";
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const char *d = NULL;
            size_t n = 99;
            assert_int_equal(af_message_apply(&m, "content_block_delta", cases[i].data,
                                              strlen(cases[i].data), &d, &n),
                             AF_MESSAGE_EV_DELTA);
            assert_int_equal(n, strlen(cases[i].text));
            assert_memory_equal(d, cases[i].text, n);
            strcat(want, cases[i].text);
        }
        assert_string_equal(m.text, want);
        /* A truncated event is bad either way, not a delta. */
        const char *cut = "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"abc";
        const char *d;
        size_t n;
        assert_int_not_equal(af_message_apply(&m, "content_block_delta", cut, strlen(cut), &d, &n),
                             AF_MESSAGE_EV_DELTA);
        af_message_clear(&m);
    }
    af_message_set_fast_path(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_parse_response),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_text_deltas),
    };
    return cmocka_run_group_tests_name("agentd_message", tests, NULL, NULL);
}
