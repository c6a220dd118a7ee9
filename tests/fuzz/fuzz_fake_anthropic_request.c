/* libFuzzer target for fake-anthropic's request decoder (tests/fakes/anthropic/
 * request.c) and what follows a successful decode: the reply builder and the
 * wire encoders; also the /_config knob setter on the same bytes. A fuzz target
 * named fuzz_fake_* links only common, so the fake's sources are compiled in.
 * Invariants checked: a decoded request is well-formed, the reply's segments add
 * up to its text, its word count is what the token model says and never exceeds
 * max_tokens. */
#include <stdlib.h>
#include <string.h>
#include "../fakes/anthropic/knobs.h"
#include "../fakes/anthropic/reply.h"
#include "../fakes/anthropic/request.h"
#include "../fakes/anthropic/wire.h"
#include "../fakes/anthropic/words.h"

#include <assert.h>
#include <event2/buffer.h>
#include <stdint.h>

static void s_check_reply(const fa_request_t *r)
{
    /* Cap the filler so one input cannot ask for 100k words on every run. */
    long words = r->words >= 0 && r->words < 64 ? r->words : 3;
    fa_reply_t *reply = fa_reply_new(r->last_user_text, words, r->max_tokens);
    if (!reply)
        return;
    size_t n = fa_reply_words(reply), total = 0;
    assert(n <= (size_t)r->max_tokens);
    assert(fa_words_count(fa_reply_text(reply), fa_reply_len(reply)) == n);
    struct evbuffer *out = evbuffer_new();
    fa_wire_stream_open(out, "msg_x", r->model, r->input_tokens);
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t len;
        fa_reply_segment(reply, i, &p, &len);
        assert(p == fa_reply_text(reply) + total);
        total += len;
        fa_wire_stream_delta(out, p, len);
    }
    assert(total == fa_reply_len(reply));
    fa_wire_stream_close(out, fa_reply_stop_reason(reply), (long)n);
    cJSON *msg = fa_wire_message("msg_x", r->model, fa_reply_text(reply), fa_reply_len(reply),
                                 fa_reply_stop_reason(reply), r->input_tokens, (long)n);
    cJSON_Delete(msg);
    evbuffer_free(out);
    fa_reply_destroy(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    fa_request_t *r = fa_request_decode((const char *)data, size, err, sizeof err);
    if (r) {
        assert(r->model && *r->model && r->last_user_text);
        assert(r->max_tokens >= 1 && r->input_tokens >= 0);
        s_check_reply(r);
        fa_request_destroy(&r);
    } else
        assert(err[0] != '\0');

    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (j) {
        fa_knobs_t k;
        fa_knobs_defaults(&k);
        if (fa_knobs_apply_json(&k, j, err, sizeof err) == 0)
            assert(fa_knobs_check(&k, err, sizeof err) == 0);
        cJSON *out = fa_knobs_to_json(&k);
        cJSON_Delete(out);
        cJSON_Delete(j);
    }
    return 0;
}
