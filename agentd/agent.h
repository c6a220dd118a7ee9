/* The agent: wires the session table, the Messages API client, the manager link
 * and the gateway links on one loop, and implements the gateway verbs (CHAT,
 * CANCEL, SESSION_GET, SESSION_DELETE) and the lifecycle (register, drain,
 * shutdown). Contract for the gateway link: every CHAT ends in exactly one DONE
 * or ERROR on the link it came from (unless that gateway is removed), with
 * START and DELTAs before it for streams. */
#ifndef AF_AGENT_H
#define AF_AGENT_H

#include "codec.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct af_agent_t af_agent_t;

typedef struct {
    const char *id;
    const char *owner;
    long cores, memory_mb;
    const char *image;
    const char *manager;        /* empty: run without a manager (tests, bench) */
    const char *gateway;        /* optional static gateway endpoint */
    long capacity;
    double session_ttl_s;
    double rate_limit;          /* per session per minute */
    long heartbeat_ms;
    const char *metrics_listen;
    const char *metrics_advertise; /* READY's `metrics` when set (NAT, VM port maps); else bound */
    const char *base_url;
    const char *anthropic_version;
    const char *default_model;
    long default_max_tokens;
    long max_retries;
    long upstream_timeout_ms;
    double retry_base_s;        /* first backoff; 0 = default */
    af_codec_t codec;
    size_t max_body;
    long send_batch_us;         /* gateway send batching window (0: none) */
    bool upstream_delayed_ack;
    long upstream_idle_conns;   /* idle upstream connections kept (0: the default, 100) */
    const char *api_key;        /* from the environment; may be NULL */
    const char *join_token;     /* may be NULL */
    const char *redis_url;      /* session histories in Redis; NULL/empty: memory only */
    long max_inflight;          /* CHATs in flight before new ones get `capacity` (0: no bound) */
} af_agent_opts_t;

/* Builds everything and binds the metrics port; links connect at once. Strings
 * in opts are copied. Returns NULL (logged) on failure. */
af_agent_t *af_agent_new(struct event_base *base, const af_agent_opts_t *opts);
/* Cancels in-flight calls silently and frees everything. */
void af_agent_destroy(af_agent_t **self_p);

/* Stops accepting CHATs, lets in-flight ones finish, then sends BYE {reason}
 * and breaks the loop. A second call while draining shuts down at once. */
void af_agent_drain(af_agent_t *self, const char *reason);
/* Ends every in-flight CHAT with ERROR cancelled, sends BYE and breaks the loop. */
void af_agent_shutdown(af_agent_t *self, const char *reason);

const char *af_agent_id(const af_agent_t *self);
/* "host:port" of the metrics server as bound (the advertised one goes in READY). */
const char *af_agent_metrics_addr(const af_agent_t *self);
bool af_agent_finished(const af_agent_t *self);

#endif
