/* The Messages API's wire shapes as the public docs give them: the Message
 * object, the streaming events, the error body and status -> error type.
 * Builds JSON and SSE text only; sending is exchange.c's job. */
#ifndef FA_WIRE_H
#define FA_WIRE_H

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <stddef.h>

/* "invalid_request_error" for 400, "authentication_error" for 401, ...,
 * "overloaded_error" for 529; "api_error" for anything unknown. */
const char *fa_wire_error_type(int status);

/* {"type":"error","error":{"type","message"}} (caller owns). */
cJSON *fa_wire_error(const char *type, const char *message);

/* The Message object (caller owns). content is NULL for the empty content list
 * of message_start; stop_reason NULL writes null. */
cJSON *fa_wire_message(const char *id, const char *model, const char *text, size_t textlen,
                       const char *stop_reason, long input_tokens, long output_tokens);

/* Appends "event: NAME\ndata: JSON\n\n" (data not taken). Returns 0 / -1. */
int fa_wire_sse(struct evbuffer *out, const char *name, const cJSON *data);

/* The stream's opening: message_start, content_block_start and one ping. */
int fa_wire_stream_open(struct evbuffer *out, const char *id, const char *model, long input_tokens);
/* One content_block_delta carrying a text_delta of text[0..len). */
int fa_wire_stream_delta(struct evbuffer *out, const char *text, size_t len);
/* The stream's end: content_block_stop, message_delta, message_stop. */
int fa_wire_stream_close(struct evbuffer *out, const char *stop_reason, long output_tokens);
/* A mid-stream error event: event: error with the error body. */
int fa_wire_stream_error(struct evbuffer *out, const char *type, const char *message);

/* Writes prefix + 24 base62 random characters into buf (needs prefix + 25).
 * Returns 0 / -1. */
int fa_wire_id(char *buf, size_t len, const char *prefix);

#endif
