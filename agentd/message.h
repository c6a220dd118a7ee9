/* The Anthropic Messages API on the wire: builds request bodies, parses a whole
 * (non-streaming) response, and folds streamed events (already split by the SSE
 * parser) into one message. Pure functions over buffers: no I/O. */
#ifndef AF_MESSAGE_H
#define AF_MESSAGE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* A message being received or parsed. Plain struct: zero it, use it, then
 * af_message_clear. text/error_message are heap (owned by the struct). */
typedef struct {
    char id[64];
    char model[96];
    char stop_reason[32];
    char error_type[48];    /* set when the API reported an error */
    char *error_message;
    char *text;             /* concatenated text blocks, NUL-terminated */
    size_t text_len, text_cap;
    long input_tokens, output_tokens;
    bool started;           /* message_start seen (or a whole response parsed) */
    bool stopped;           /* message_stop seen */
} af_message_t;

typedef enum {
    AF_MESSAGE_EV_BAD = -1,  /* data was not what the event name promises */
    AF_MESSAGE_EV_IGNORED = 0, /* ping, content_block_start/stop, unknown events */
    AF_MESSAGE_EV_START,
    AF_MESSAGE_EV_DELTA,
    AF_MESSAGE_EV_USAGE,     /* message_delta: stop_reason, usage */
    AF_MESSAGE_EV_STOP,
    AF_MESSAGE_EV_ERROR,
} af_message_ev_t;

void af_message_clear(af_message_t *m);

/* Folds one SSE event into m. For AF_MESSAGE_EV_DELTA, *delta and *delta_len (when
 * non-NULL) point at the new text inside m->text, valid until the next call. */
af_message_ev_t af_message_apply(af_message_t *m, const char *event, const char *data,
                                 size_t len, const char **delta, size_t *delta_len);

/* Tests: false makes af_message_apply always take the cJSON path, so a
 * differential fuzz target can check the fast path against it. */
void af_message_set_fast_path(bool on);

/* Parses a whole 2xx response body. Returns 0, or -1 when it is not a message
 * (an {"type":"error"} body fills error_type/error_message and returns -1 too). */
int af_message_parse_response(af_message_t *m, const char *body, size_t len);

/* Reads {"type":"error","error":{"type","message"}} from an error body into m.
 * Returns 0 when found, -1 otherwise (m untouched). */
int af_message_parse_error(af_message_t *m, const char *body, size_t len);

/* What a request asks for. system may be NULL, a string or an array of blocks;
 * temperature is ignored when NaN; messages is the Messages API array. */
typedef struct {
    const char *model;
    long max_tokens;
    double temperature;
    const cJSON *system;
    const cJSON *messages;
    bool stream;
} af_message_params_t;

/* Returns a malloc'd JSON request body (caller frees), or NULL. */
char *af_message_request(const af_message_params_t *p);

#endif
