/* The agent's session table: up to `capacity` chat sessions by id, each with its
 * history (completed user/assistant turns only), settings, token usage and a
 * per-session token bucket; idle sessions expire after a TTL. Time comes from the
 * caller (monotonic ns), so tests drive it. No I/O. */
#ifndef AF_SESSION_H
#define AF_SESSION_H

#include "bucket.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One session: a record owned by the table (read fields freely; change them
 * through the functions below). Kept small: 100 idle sessions must fit in a
 * few hundred KiB, so strings are exact-size heap copies and the history is an
 * array of strings alternating user, assistant. */
typedef struct af_session_t {
    struct af_session_t *next; /* hash chain (table-private) */
    char *id;
    char *user;
    char *system;              /* NULL: none */
    char *model;               /* NULL: the agent's default */
    char **turns;              /* turns[2k] user, turns[2k+1] assistant */
    uint32_t nturns, turns_cap;
    uint32_t max_tokens;       /* 0: the agent's default */
    double temperature;        /* NaN: not sent */
    uint64_t created_ms;       /* wall clock */
    uint64_t last_used_ns;     /* monotonic */
    uint64_t input_tokens, output_tokens;
    af_bucket_t bucket;
    uint32_t busy;             /* CHATs in flight on it: never expired while > 0 */
    bool stored;               /* history_store: Redis holds (or held no) history of ours,
                                  so writes may replace it (false: created while Redis was down) */
} af_session_t;

typedef struct af_sessions_t af_sessions_t;

/* capacity: most live sessions; ttl_s: idle lifetime; rate: requests per minute
 * per session (burst = rate). */
af_sessions_t *af_sessions_new(size_t capacity, double ttl_s, double rate_per_min);
void af_sessions_destroy(af_sessions_t **self_p);

af_session_t *af_sessions_get(af_sessions_t *self, const char *id);
/* Creates a session owned by user. Returns it, or NULL with *full set when the
 * table is at capacity (NULL with *full false: out of memory). */
af_session_t *af_sessions_create(af_sessions_t *self, const char *id, const char *user,
                                 uint64_t now_ns, uint64_t wall_ms, bool *full);
/* Removes and frees a session. Returns 0, or -1 when absent. */
int af_sessions_delete(af_sessions_t *self, const char *id);
size_t af_sessions_count(const af_sessions_t *self);
size_t af_sessions_capacity(const af_sessions_t *self);
/* Removes sessions idle for more than the TTL and not busy. Returns how many. */
size_t af_sessions_expire(af_sessions_t *self, uint64_t now_ns);
/* Calls fn for every session (do not add or remove inside). */
void af_sessions_each(af_sessions_t *self, void (*fn)(af_session_t *s, void *arg), void *arg);
/* A JSON array of live session ids (caller owns). */
cJSON *af_sessions_ids(af_sessions_t *self);

/* Takes one request token. false: rate limited, *retry_after_s set. Also marks
 * the session used. */
bool af_session_admit(af_sessions_t *self, af_session_t *s, uint64_t now_ns,
                      double *retry_after_s);
/* Replaces a string setting (NULL clears). Returns 0 / -1 (out of memory). */
int af_session_set_str(char **field, const char *value);
/* Appends one completed turn (both strings copied). Returns 0 / -1. */
int af_session_add_turn(af_session_t *s, const char *user, const char *assistant);
/* The Messages API `messages` array: the history then {user, next_user}.
 * Returns a new array the caller owns, or NULL. */
cJSON *af_session_messages(const af_session_t *s, const char *next_user);

#endif
