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
    free(copy);
    return 0;
}
