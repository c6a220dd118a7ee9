/* fake-anthropic's pure modules without sockets: the word token model, the
 * deterministic reply and its truncation, request validation naming the field,
 * markers, and the knobs (ranges, all-or-nothing JSON, fault_count countdown).
 * A test named test_fake_* links only common, so the fake's sources are
 * compiled in here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../fakes/anthropic/knobs.h"
#include "../fakes/anthropic/reply.h"
#include "../fakes/anthropic/request.h"
#include "../fakes/anthropic/words.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fa_request_t *s_decode(const char *json, char *err, size_t errlen)
{
    return fa_request_decode(json, strlen(json), err, errlen);
}

static void test_words(void **state)
{
    (void)state;
    assert_int_equal(fa_words_count("", 0), 0);
    assert_int_equal(fa_words_count("  \t\n ", 5), 0);
    assert_int_equal(fa_words_count("a", 1), 1);
    assert_int_equal(fa_words_count(" hello,  world!\n", 16), 2);
    size_t pos = 0, start, end;
    const char *s = "ab  cd ";
    assert_int_equal(fa_words_next(s, 7, &pos, &start, &end), 1);
    assert_int_equal(start, 0);
    assert_int_equal(end, 2);
    assert_int_equal(fa_words_next(s, 7, &pos, &start, &end), 1);
    assert_int_equal(start, 2);
    assert_int_equal(end, 6);
    assert_int_equal(fa_words_next(s, 7, &pos, &start, &end), 0);
}

static void test_reply_text_and_segments(void **state)
{
    (void)state;
    fa_reply_t *r = fa_reply_new("hi  there", 3, 100);
    assert_non_null(r);
    assert_string_equal(fa_reply_text(r), "You said: hi  there w0 w1 w2");
    assert_int_equal(fa_reply_words(r), 7);
    assert_string_equal(fa_reply_stop_reason(r), "end_turn");
    const char *want[] = {"You", " said:", " hi", "  there", " w0", " w1", " w2"};
    for (size_t i = 0; i < 7; i++) {
        const char *p;
        size_t n;
        fa_reply_segment(r, i, &p, &n);
        assert_int_equal(n, strlen(want[i]));
        assert_memory_equal(p, want[i], n);
    }
    fa_reply_destroy(&r);
    assert_null(r);
    fa_reply_destroy(&r); /* NULL-safe */
}

static void test_reply_truncation(void **state)
{
    (void)state;
    fa_reply_t *r = fa_reply_new("a b c d", 10, 3);
    assert_string_equal(fa_reply_text(r), "You said: a");
    assert_int_equal(fa_reply_words(r), 3);
    assert_string_equal(fa_reply_stop_reason(r), "max_tokens");
    fa_reply_destroy(&r);
    /* Exactly max_tokens words is not a truncation. */
    r = fa_reply_new("a ", 0, 3);
    assert_string_equal(fa_reply_stop_reason(r), "end_turn");
    /* Trailing whitespace of the user text stays in the last segment. */
    const char *p;
    size_t n;
    fa_reply_segment(r, 2, &p, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, " a ", 3);
    fa_reply_destroy(&r);
}

static void test_request_ok(void **state)
{
    (void)state;
    char err[256] = "";
    fa_request_t *r =
        s_decode("{\"model\":\"m1\",\"max_tokens\":9,\"stream\":true,\"temperature\":1,"
                 "\"system\":[{\"type\":\"text\",\"text\":\"be brief\"}],\"metadata\":{},"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"one two\"},"
                 "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"three\"}]},"
                 "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"four\"},"
                 "{\"type\":\"text\",\"text\":\"five [[words:4]] [[tps:7]] [[fault:529]]\"}]}]}",
                 err, sizeof err);
    assert_non_null(r);
    assert_string_equal(r->model, "m1");
    assert_int_equal(r->max_tokens, 9);
    assert_true(r->stream);
    /* be brief (2) + one two (2) + three (1) + four five + 3 markers (5) */
    assert_int_equal(r->input_tokens, 10);
    assert_string_equal(r->last_user_text, "four five [[words:4]] [[tps:7]] [[fault:529]]");
    assert_int_equal(r->words, 4);
    assert_int_equal(r->tps, 7);
    assert_int_equal(r->latency_ms, -1);
    assert_int_equal(r->fault.kind, FA_FAULT_STATUS);
    assert_int_equal(r->fault.status, 529);
    fa_request_destroy(&r);
    assert_null(r);
}

static void test_request_errors_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *json, *prefix;
    } cases[] = {
        {"[1]", "request body must be a JSON object"},
        {"{\"model\":", "request body is not valid JSON"},
        {"{} x", "request body is not valid JSON"},
        {"{\"max_tokens\":1,\"messages\":[]}", "model: Field required"},
        {"{\"model\":7,\"max_tokens\":1}", "model:"},
        {"{\"model\":\"m\",\"messages\":[]}", "max_tokens: Field required"},
        {"{\"model\":\"m\",\"max_tokens\":1.5}", "max_tokens:"},
        {"{\"model\":\"m\",\"max_tokens\":-1}", "max_tokens:"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"temperature\":-0.1}", "temperature:"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"stream\":1}", "stream:"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"system\":{}}", "system:"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"system\":[{\"type\":\"image\"}]}", "system.0.type:"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":{}}",
         "messages: Input should be a valid list"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[]}", "messages: at least one"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[3]}", "messages.0:"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"content\":\"x\"}]}",
         "messages.0.role: Field required"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\"}]}",
         "messages.0.content: Field required"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{"
         "\"type\":\"text\"}]}]}",
         "messages.0.content.0.text:"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"[[words:"
         "x]]\"}]}",
         "messages: marker [[words:N]]"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"[[fault:"
         "none]]\"}]}",
         "messages: marker [[fault:X]]"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"top_q\":1,\"messages\":[]}",
         "top_q: Extra inputs are not permitted"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        fa_request_t *r = s_decode(cases[i].json, err, sizeof err);
        int accepted = r != NULL;
        fa_request_destroy(&r);
        if (accepted || strncmp(err, cases[i].prefix, strlen(cases[i].prefix)) != 0)
            fail_msg("case %zu %s: got '%s', want prefix '%s'", i, cases[i].json, err,
                     cases[i].prefix);
    }
}

static void test_knobs(void **state)
{
    (void)state;
    fa_knobs_t k;
    char err[256];
    fa_knobs_defaults(&k);
    assert_int_equal(k.retry_after, 1);
    assert_int_equal(fa_knobs_check(&k, err, sizeof err), 0);

    cJSON *j = cJSON_Parse("{\"fault\":529,\"fault-count\":2,\"tokens_per_sec\":30}");
    assert_int_equal(fa_knobs_apply_json(&k, j, err, sizeof err), 0);
    cJSON_Delete(j);
    assert_int_equal(k.fault.status, 529);
    assert_int_equal(k.tokens_per_sec, 30);
    assert_int_equal(fa_knobs_take_fault(&k).status, 529);
    assert_int_equal(fa_knobs_take_fault(&k).status, 529);
    assert_int_equal(fa_knobs_take_fault(&k).kind, FA_FAULT_NONE);

    /* All or nothing: a bad knob leaves the others untouched. */
    j = cJSON_Parse("{\"latency_ms\":50,\"reply_words\":-1}");
    assert_int_equal(fa_knobs_apply_json(&k, j, err, sizeof err), -1);
    cJSON_Delete(j);
    assert_int_equal(k.latency_ms, 0);
    assert_non_null(strstr(err, "reply_words"));
    j = cJSON_Parse("{\"fault\":\"teapot\"}");
    assert_int_equal(fa_knobs_apply_json(&k, j, err, sizeof err), -1);
    cJSON_Delete(j);

    /* fault_count 0: every request until changed. */
    j = cJSON_Parse("{\"fault\":\"hang\",\"fault_count\":0}");
    assert_int_equal(fa_knobs_apply_json(&k, j, err, sizeof err), 0);
    cJSON_Delete(j);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fa_knobs_take_fault(&k).kind, FA_FAULT_HANG);

    /* The key is never echoed. */
    snprintf(k.api_key, sizeof k.api_key, "secret-key");
    cJSON *out = fa_knobs_to_json(&k);
    char *text = cJSON_PrintUnformatted(out);
    assert_null(strstr(text, "secret-key"));
    assert_non_null(strstr(text, "\"api_key_set\":true"));
    free(text);
    cJSON_Delete(out);

    fa_fault_t f;
    char name[16];
    assert_int_equal(fa_fault_parse("midstream", &f), 0);
    assert_string_equal(fa_fault_name(f, name, sizeof name), "midstream");
    assert_int_equal(fa_fault_parse("418", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_reply_text_and_segments),
        cmocka_unit_test(test_reply_truncation),
        cmocka_unit_test(test_request_ok),
        cmocka_unit_test(test_request_errors_name_the_field),
        cmocka_unit_test(test_knobs),
    };
    return cmocka_run_group_tests_name("fake_anthropic_modules", tests, NULL, NULL);
}
