/* Client of the Anthropic Messages API on the daemon's libevent loop: libcurl
 * multi driven by curl_multi_socket_action (no threads, no blocking), streamed
 * and whole responses, retries with backoff per retry.h. One POST per attempt
 * to {base}/v1/messages; the easy handle exists only while a call is in flight.
 *
 * Callback contract: every call ends in exactly one on_done or on_error, unless
 * the caller cancels it (then none). After that callback returns, the call is
 * freed: drop the pointer inside the callback. Do not cancel a call from inside
 * one of its own callbacks. on_start is called once, just before the first
 * delta (streams only), so a failure before any text can still be retried. */
#ifndef AF_ANTHROPIC_H
#define AF_ANTHROPIC_H

#include "message.h"
#include "retry.h"

#include <event2/event.h>
#include <stdbool.h>

typedef struct af_anthropic_t af_anthropic_t;
typedef struct af_call_t af_call_t;

typedef struct {
    void (*on_start)(void *arg, const af_message_t *m);
    /* text[len] is NUL (it is the tail of the message so far). */
    void (*on_delta)(void *arg, const char *text, size_t len);
    /* m is the whole message (text, usage, stop_reason); valid during the call. */
    void (*on_done)(void *arg, const af_message_t *m);
    /* type: Anthropic's error type, or "timeout"; status 0 when no HTTP reply;
     * retry_after < 0 when the server gave none. */
    void (*on_error)(void *arg, const char *type, const char *message, int status,
                     double retry_after);
} af_call_cb_t;

typedef struct {
    const char *base_url;       /* copied; "/v1/messages" is appended */
    const char *version;        /* anthropic-version header */
    long connect_timeout_ms;
    long read_timeout_ms;       /* no byte for this long: timeout */
    bool delayed_ack;           /* TCP_QUICKACK off before each read (see anthropic.c) */
    long idle_connections;      /* kept for reuse; 0: 100 */
    af_retry_policy_t retry;
    /* Called after every attempt: seconds it took, and the error type when it
     * failed (NULL on success). Optional. */
    void (*on_attempt)(void *ctx, double seconds, const char *error_type);
    void *ctx;
} af_anthropic_opts_t;

af_anthropic_t *af_anthropic_new(struct event_base *base, const af_anthropic_opts_t *opts);
/* Cancels every live call silently, frees everything. */
void af_anthropic_destroy(af_anthropic_t **self_p);

/* Sets (copies) the API key; registered with the log scrubber. NULL clears. */
int af_anthropic_set_key(af_anthropic_t *self, const char *key);
bool af_anthropic_has_key(const af_anthropic_t *self);

/* Starts a call. Takes body (malloc'd JSON from af_message_request). Returns the
 * call (owned by the client; see the contract above) or NULL. */
af_call_t *af_anthropic_call(af_anthropic_t *self, char *body, bool stream,
                             const af_call_cb_t *cb, void *arg);
/* Aborts the transfer at once (the connection is closed, so the server stops
 * generating) and frees the call; no callback follows. NULL-safe, NULLs it. */
void af_anthropic_cancel(af_call_t **call_p);

size_t af_anthropic_inflight(const af_anthropic_t *self);
/* Attempts started so far (tests). */
unsigned long af_anthropic_attempts(const af_anthropic_t *self);

#endif
