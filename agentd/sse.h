/* Incremental Server-Sent Events parser: bytes in (any chunking), whole events
 * out through a callback. Linear in the input; knows nothing of Anthropic. */
#ifndef AF_SSE_H
#define AF_SSE_H

#include <stddef.h>

typedef struct af_sse_t af_sse_t;

/* One dispatched event: `event` is the event name ("message" when the stream gave
 * none); data is the joined data lines (NUL-terminated, len without the NUL).
 * Both are only valid during the call. Return 0 to go on, -1 to stop parsing
 * (af_sse_feed then returns -1). */
typedef int(af_sse_fn)(const char *event, const char *data, size_t len, void *arg);

/* max_event: largest data (bytes) of one event; above it feed fails. 0 = 1 MiB. */
af_sse_t *af_sse_new(af_sse_fn *fn, void *arg, size_t max_event);
void af_sse_destroy(af_sse_t **self_p);

/* Feeds the next chunk. Returns 0, or -1 when an event or line is oversized or
 * the callback asked to stop (the parser is then unusable until af_sse_reset). */
int af_sse_feed(af_sse_t *self, const char *buf, size_t len);

/* Forgets any partial line or event (a new stream on the same parser). */
void af_sse_reset(af_sse_t *self);

/* Events dispatched since creation (tests). */
size_t af_sse_events(const af_sse_t *self);

#endif
