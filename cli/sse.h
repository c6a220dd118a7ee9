/* Incremental Server-Sent Events parser: bytes in any chunking -> one callback
 * per event (name, data); \n, \r\n and \r line ends, multi-line data, comments.
 * Pure: fed by the HTTP client, driven directly by unit tests. */
#ifndef AF_CLI_SSE_H
#define AF_CLI_SSE_H

#include <stddef.h>

typedef struct af_cli_sse_t af_cli_sse_t;

/* Called once per event; event and data are valid only during the call.
 * Return non-zero to stop parsing (af_cli_sse_feed then returns -1). */
typedef int(af_cli_sse_fn)(const char *event, const char *data, void *arg);

/* max_event: largest event (bytes) accepted before the stream is refused. */
af_cli_sse_t *af_cli_sse_new(af_cli_sse_fn *fn, void *arg, size_t max_event);
void af_cli_sse_destroy(af_cli_sse_t **self_p);

/* Feeds bytes. Returns 0, or -1 when the callback stopped or an event grew past
 * max_event. */
int af_cli_sse_feed(af_cli_sse_t *self, const char *buf, size_t len);

/* Events dispatched so far. */
size_t af_cli_sse_events(const af_cli_sse_t *self);

#endif
