/* Decodes and validates a Messages API request body like the real API (errors
 * name the field) and extracts what the fake needs, including the test markers
 * of the last user message. Pure: no I/O; fuzzed by fuzz_fake_anthropic_request. */
#ifndef FA_REQUEST_H
#define FA_REQUEST_H

#include "knobs.h"

#include <stdbool.h>
#include <stddef.h>

/* A decoded request: a plain record owned by whoever decoded it. */
typedef struct {
    char *model; /* heap */
    long max_tokens;
    bool stream;
    long input_tokens;    /* words of system + every message's text */
    char *last_user_text; /* heap; text blocks joined by one space; "" if no user turn */
    fa_fault_t fault;     /* from [[fault:X]]; kind NONE when absent */
    long words;           /* from [[words:N]]; -1 when absent */
    long tps;             /* from [[tps:N]]; -1 when absent */
    long latency_ms;      /* from [[latency:N]]; -1 when absent */
} fa_request_t;

/* Decodes len bytes of JSON. Returns a new request the caller owns (free with
 * fa_request_destroy), or NULL with a message in err (an invalid_request_error:
 * "field.path: what is wrong"). */
fa_request_t *fa_request_decode(const char *data, size_t len, char *err, size_t errlen);

void fa_request_destroy(fa_request_t **self_p);

#endif
