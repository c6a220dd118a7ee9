/* libFuzzer: fleetctl's SSE parser (cli/sse.c) on arbitrary bytes, the stream a
 * gateway (or anything posing as one) sends. Three leading bytes pick the chunk
 * size, the largest event and after how many events the callback stops; the
 * rest is the stream. Invariants: no crash or leak; every event reaches the
 * callback NUL-terminated with a name of 1..63 bytes and data within the
 * limit; the parser is byte-wise, so the outcome (return code, events, their
 * bytes) must not depend on the chunking (checked against a whole-buffer parse). */
#include "../../cli/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t max;      /* the parser's max_event */
    size_t stop_at;  /* stop at this event (0: never) */
    size_t events;
    uint64_t hash;   /* over every (event, data) in order */
} sink_t;

static uint64_t s_mix(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL; /* separator: ("a","bc") != ("ab","c") */
}

static int s_on_event(const char *event, const char *data, void *arg)
{
    sink_t *s = arg;
    size_t el = strlen(event), dl = strlen(data);
    if (el == 0 || el > 63)
        abort(); /* a nameless event is "message"; names are cut at 63 bytes */
    if (dl > s->max)
        abort(); /* data past max_event must have refused the stream */
    if (memchr(event, '\n', el) || memchr(event, '\r', el) || memchr(data, '\r', dl))
        abort(); /* line ends never leak into a field */
    s->events++;
    s->hash = s_mix(s_mix(s->hash, event, el), data, dl);
    return s->stop_at && s->events == s->stop_at;
}

static int s_run(const uint8_t *data, size_t size, size_t chunk, sink_t *s)
{
    af_cli_sse_t *p = af_cli_sse_new(s_on_event, s, s->max);
    if (!p)
        return -2;
    int rc = 0;
    for (size_t at = 0; at < size && rc == 0; at += chunk) {
        size_t n = size - at < chunk ? size - at : chunk;
        rc = af_cli_sse_feed(p, (const char *)data + at, n);
    }
    if (af_cli_sse_events(p) != s->events)
        abort();
    af_cli_sse_destroy(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t chunk = (size_t)data[0] % 31 + 1;
    size_t max = data[1] ? (size_t)data[1] * 4 : 4096;
    size_t stop_at = data[2] % 8;
    data += 3;
    size -= 3;
    sink_t a = {max, stop_at, 0, 14695981039346656037ULL};
    sink_t b = a;
    int ra = s_run(data, size, size ? size : 1, &a);
    int rb = s_run(data, size, chunk, &b);
    if (ra == -2 || rb == -2)
        return 0; /* out of memory */
    if (ra != rb || a.events != b.events || a.hash != b.hash)
        abort();
    return 0;
}
