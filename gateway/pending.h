/* Requests awaiting a reply, by numeric id, each with its own timeout on the
 * loop. Both links use it (manager requests, agent chats). The id becomes the
 * AF1 `req` ("<prefix><id>"), so replies find their entry in O(1). */
#ifndef AF_GW_PENDING_H
#define AF_GW_PENDING_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct af_pending_t af_pending_t;

/* Called when an entry times out; the entry is already removed. */
typedef void(af_pending_timeout_fn)(uint64_t id, void *data, void *arg);

af_pending_t *af_pending_new(struct event_base *base, af_pending_timeout_fn *on_timeout,
                             void *arg);
/* Remaining entries are dropped without callbacks. */
void af_pending_destroy(af_pending_t **self_p);

/* Adds data (not owned) with a timeout (<= 0: none). Returns its id (> 0) or 0. */
uint64_t af_pending_add(af_pending_t *self, void *data, long timeout_ms);
void *af_pending_get(af_pending_t *self, uint64_t id);
/* Removes and returns the entry's data (NULL when unknown). */
void *af_pending_take(af_pending_t *self, uint64_t id);
/* Restarts the entry's timeout. */
void af_pending_touch(af_pending_t *self, uint64_t id, long timeout_ms);
size_t af_pending_count(const af_pending_t *self);

/* Parses "<prefix><digits>" back to an id; 0 when it is not one of ours. */
uint64_t af_pending_parse(const char *req, const char *prefix);

#endif
