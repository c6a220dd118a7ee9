/* libFuzzer: the SSE parser plus stream folding on arbitrary bytes. The first
 * byte picks a chunk size, so chunk boundaries move with the input; the result
 * must not depend on them (checked against a whole-buffer parse). */
#include "../../agentd/message.h"
#include "../../agentd/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    af_message_t msg;
    size_t events;
    size_t bytes;
} sink_t;

static int s_on_event(const char *event, const char *data, size_t len, void *arg)
{
    sink_t *s = arg;
    s->events++;
    s->bytes += len;
    if (strlen(data) != len && memchr(data, '\0', len) == NULL)
        abort(); /* data must be NUL-terminated at len */
    const char *d;
    size_t dl;
    af_message_apply(&s->msg, event, data, len, &d, &dl);
    return 0;
}

static int s_run(const uint8_t *data, size_t size, size_t chunk, sink_t *s)
{
    memset(s, 0, sizeof *s);
    af_sse_t *p = af_sse_new(s_on_event, s, 4096);
    if (!p)
        return -2;
    int rc = 0;
    for (size_t at = 0; at < size && rc == 0; at += chunk) {
        size_t n = size - at < chunk ? size - at : chunk;
        rc = af_sse_feed(p, (const char *)data + at, n);
    }
    af_sse_destroy(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    sink_t a, b;
    int ra = s_run(data, size, size ? size : 1, &a);
    int rb = s_run(data, size, chunk, &b);
    /* Oversized input may fail at a different event count; otherwise same result. */
    if (ra == 0 && rb == 0) {
        if (a.events != b.events || a.bytes != b.bytes || a.msg.text_len != b.msg.text_len ||
            a.msg.output_tokens != b.msg.output_tokens)
            abort();
        if (a.msg.text_len && memcmp(a.msg.text, b.msg.text, a.msg.text_len) != 0)
            abort();
    }
    af_message_clear(&a.msg);
    af_message_clear(&b.msg);
    return 0;
}
