/* The fake's HTTP surface on evhttp: POST /v1/messages (header and body checks,
 * fault selection, then an exchange), the test-only /_config, /_stats, /_last and
 * /_reset; anything else a 404 or 405 with the API's error body. */
#ifndef FA_SERVER_H
#define FA_SERVER_H

#include "knobs.h"
#include "stats.h"

#include <event2/event.h>

typedef struct fa_server_t fa_server_t;

/* Binds listen ("host:port"; port 0 picks a free one) on base (not owned) with a
 * copy of knobs. Returns NULL (and logs) when the address cannot be bound. */
fa_server_t *fa_server_new(struct event_base *base, const char *listen, const fa_knobs_t *knobs);
/* Drops open exchanges, closes every connection and the listener. */
void fa_server_destroy(fa_server_t **self_p);

/* The port actually bound. */
int fa_server_port(const fa_server_t *self);
/* Live counters and knobs (owned by the server). */
const fa_stats_t *fa_server_stats(const fa_server_t *self);
fa_knobs_t *fa_server_knobs(fa_server_t *self);

#endif
