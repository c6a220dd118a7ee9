/* Counters the tests read at GET /_stats (and zero with POST /_reset): how many
 * API requests came, finished, streamed, were abandoned by their client, got an
 * injected fault, per status, and the tokens served. */
#ifndef FA_STATS_H
#define FA_STATS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#define FA_STATUS_MAX 600

/* A plain record of counters. */
typedef struct {
    uint64_t requests;        /* API requests received (not /_ admin ones) */
    uint64_t completed;       /* responses sent to the end (any status) */
    uint64_t streams;         /* SSE responses started */
    uint64_t aborted;         /* client went away before its response was done */
    uint64_t errors_injected; /* requests that got a fault (flag, /_config or marker) */
    uint64_t in_flight;       /* requests not yet completed nor aborted */
    uint64_t input_tokens;    /* of requests that got a 200 */
    uint64_t output_tokens;   /* words actually sent */
    uint64_t by_status[FA_STATUS_MAX];
} fa_stats_t;

/* Zeroes every counter except in_flight (still-open requests stay counted). */
void fa_stats_reset(fa_stats_t *self);
void fa_stats_status(fa_stats_t *self, int status);
/* The counters as a new JSON object (caller owns); by_status maps "200" -> n. */
cJSON *fa_stats_to_json(const fa_stats_t *self);

#endif
