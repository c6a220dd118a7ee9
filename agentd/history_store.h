/* Session histories in Redis (optional): one key per session, `session:{id}`,
 * holding the whole session as JSON (docs/agentd.md), rewritten with a TTL after
 * each completed turn and read when a session is first used on this agent, so a
 * session survives its agent. No Redis, or Redis down: nothing is read or written. */
#ifndef AF_HISTORY_STORE_H
#define AF_HISTORY_STORE_H

#include "metrics.h"
#include "redis.h"
#include "session.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdbool.h>

typedef struct af_history_t af_history_t;

/* doc: the stored session (borrowed for the call) or NULL when there is none;
 * err set when the read failed (then doc is NULL). */
typedef void(af_history_load_fn)(void *arg, const cJSON *doc, const char *err);
/* ok: the write reached Redis. */
typedef void(af_history_save_fn)(void *arg, bool ok);

/* url: redis://host:port[/db]; ttl_s: key lifetime after the last write;
 * registry: where agent_redis_up and agent_history_*_total go (borrowed).
 * Returns NULL on a malformed url or out of memory. */
af_history_t *af_history_new(struct event_base *base, const char *url, double ttl_s,
                             af_metrics_t *registry);
/* Pending loads/saves end with err "shutdown" / ok false. */
void af_history_destroy(af_history_t **self_p);

/* fn(arg, up) on every Redis up/down transition (e.g. to rewrite sessions). */
void af_history_on_state(af_history_t *self, af_redis_state_fn *fn, void *arg);
bool af_history_up(const af_history_t *self);

/* Reads session:{id}. Returns 0 (fn runs once later) or -1 when Redis is down. */
int af_history_load(af_history_t *self, const char *session_id, af_history_load_fn *fn, void *arg);
/* Writes s (encoded now) with the TTL. A session not `stored` (made while Redis
 * was down) is written only if no history exists (SET NX), so it never replaces
 * a longer one another agent wrote. Returns 0 (fn, if any, runs once later: ok
 * = written) or -1 when Redis is down (counted as skipped). */
int af_history_save(af_history_t *self, const af_session_t *s, af_history_save_fn *fn, void *arg);
/* Deletes session:{id} (fire and forget). */
int af_history_delete(af_history_t *self, const char *session_id);

/* ---- the JSON form (pure; unit-tested) ---- */

/* {v:1, session_id, user, system, model, max_tokens, temperature, created_ms,
 *  usage:{input_tokens, output_tokens}, messages:[{role, content}...]}. Caller owns. */
cJSON *af_history_encode(const af_session_t *s);
/* The doc's owner, or NULL when the doc is malformed. */
const char *af_history_doc_user(const cJSON *doc);
/* Fills a fresh (empty) session from doc: settings, usage, created_ms and turns.
 * Returns 0, or -1 when doc is malformed (s may then hold part of it). */
int af_history_apply(af_session_t *s, const cJSON *doc);

#endif
