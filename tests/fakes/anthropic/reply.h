/* The fake's deterministic answer: "You said: " + last user text + " w0 ... w(N-1)",
 * cut to max_tokens words (stop_reason "max_tokens", else "end_turn"); walked word
 * by word (each with the whitespace before it) for streaming. */
#ifndef FA_REPLY_H
#define FA_REPLY_H

#include <stddef.h>

typedef struct fa_reply_t fa_reply_t;

/* Builds the reply (user_text not taken). Returns NULL when out of memory. */
fa_reply_t *fa_reply_new(const char *user_text, long filler_words, long max_tokens);
void fa_reply_destroy(fa_reply_t **self_p);

/* The whole (possibly cut) text, NUL-terminated; owned by the reply. */
const char *fa_reply_text(const fa_reply_t *self);
size_t fa_reply_len(const fa_reply_t *self);
/* Number of words = output tokens = number of segments. */
size_t fa_reply_words(const fa_reply_t *self);
/* "end_turn" or "max_tokens". */
const char *fa_reply_stop_reason(const fa_reply_t *self);
/* Segment i (< fa_reply_words): whitespace before word i plus the word; the
 * segments concatenated give the text. */
void fa_reply_segment(const fa_reply_t *self, size_t i, const char **start, size_t *len);

#endif
