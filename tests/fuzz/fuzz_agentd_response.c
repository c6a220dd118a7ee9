/* libFuzzer: the Messages API response and error-body parsers on arbitrary
 * bytes (what an upstream, or something pretending to be one, may send). */
#include "../../agentd/message.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    af_message_t m;
    memset(&m, 0, sizeof m);
    if (af_message_parse_response(&m, (const char *)data, size) == 0) {
        /* A parsed message is self-consistent. */
        if (m.text && strlen(m.text) != m.text_len)
            abort();
        if (m.input_tokens < 0 || m.output_tokens < 0)
            abort();
    }
    af_message_clear(&m);
    if (af_message_parse_error(&m, (const char *)data, size) == 0 && !m.error_type[0])
        abort();
    af_message_clear(&m);
    /* The same bytes as stream events of each kind. */
    static const char *names[] = {"message_start", "content_block_delta", "message_delta",
                                  "message_stop", "error"};
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *d;
        size_t dl;
        af_message_apply(&m, names[i], copy, size, &d, &dl);
    }
    af_message_clear(&m);
    /* Differential: the in-place text-delta path agrees with cJSON's on every
     * input it takes (same event, same text). The content_block_delta shape is
     * forced in front so the fuzzer reaches the fast path often. */
    static const char pre[] =
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"";
    char *ev = malloc(sizeof pre + size);
    if (ev) {
        memcpy(ev, pre, sizeof pre - 1);
        memcpy(ev + sizeof pre - 1, data, size);
        ev[sizeof pre - 1 + size] = '\0';
        for (int pass = 0; pass < 2; pass++) {
            const char *in = pass ? ev : copy;
            size_t len = pass ? sizeof pre - 1 + size : size;
            af_message_t a, b;
            memset(&a, 0, sizeof a);
            memset(&b, 0, sizeof b);
            const char *da = NULL, *db = NULL;
            size_t la = 0, lb = 0;
            af_message_set_fast_path(true);
            af_message_ev_t ea = af_message_apply(&a, "content_block_delta", in, len, &da, &la);
            af_message_set_fast_path(false);
            af_message_ev_t eb = af_message_apply(&b, "content_block_delta", in, len, &db, &lb);
            af_message_set_fast_path(true);
            if (ea != eb || la != lb || a.text_len != b.text_len ||
                (a.text_len && memcmp(a.text, b.text, a.text_len) != 0))
                abort();
            af_message_clear(&a);
            af_message_clear(&b);
        }
        free(ev);
    }
    free(copy);
    return 0;
}
