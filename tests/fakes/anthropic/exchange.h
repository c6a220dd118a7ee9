/* One POST /v1/messages exchange once its request passed the checks: latency,
 * then a JSON Message, a paced SSE stream, an error status, a mid-stream error
 * or nothing at all (hang), as the knobs, the fault and the markers say. */
#ifndef FA_EXCHANGE_H
#define FA_EXCHANGE_H

/* Contract: every exchange ends exactly once, either by sending its whole
 * response (counted `completed`) or because its client went away first (counted
 * `aborted`, seen through the evhttp connection's close callback), and frees
 * itself then. fa_exchange_close_all drops the rest at shutdown. */

#include "knobs.h"
#include "request.h"
#include "stats.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdint.h>

typedef struct fa_exchange_t fa_exchange_t;

/* What every exchange shares; owned by the server. */
typedef struct {
    struct event_base *base;
    fa_knobs_t *knobs;
    fa_stats_t *stats;
    fa_exchange_t *live; /* open exchanges (intrusive list) */
} fa_env_t;

/* Starts answering req. Takes *request_p (NULLs it). fault is the one to inject
 * (already counted in errors_injected by the caller, or kind NONE). t0 is the
 * request's arrival (af_now_ns) for the log line. Returns 0, or -1 after
 * replying 500 itself when out of memory. */
int fa_exchange_start(fa_env_t *env, struct evhttp_request *req, fa_request_t **request_p,
                      fa_fault_t fault, uint64_t t0);

/* Forgets every open exchange without replying (shutdown: evhttp_free then
 * closes their connections and frees their requests). */
void fa_exchange_close_all(fa_env_t *env);

#endif
