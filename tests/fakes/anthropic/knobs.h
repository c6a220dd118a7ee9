/* The fake's behaviour knobs (latency, pacing, reply size, injected faults, the
 * accepted API key): parsed from flags by main.c, read and changed at run time as
 * JSON through /_config. Holds values only; applying them is exchange.c's job. */
#ifndef FA_KNOBS_H
#define FA_KNOBS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    FA_FAULT_NONE = 0,
    FA_FAULT_STATUS,    /* reply with an error status (400/401/403/404/413/429/500/529) */
    FA_FAULT_MIDSTREAM, /* stream: some deltas then an `error` event; non-stream: 500 */
    FA_FAULT_HANG,      /* never answer; held until the client goes away */
} fa_fault_kind_t;

typedef struct {
    fa_fault_kind_t kind;
    int status; /* for FA_FAULT_STATUS */
} fa_fault_t;

/* Parses "none", a status among 400 401 403 404 413 429 500 529, "midstream" or
 * "hang". Returns 0 / -1. */
int fa_fault_parse(const char *text, fa_fault_t *out);
/* Writes the name fa_fault_parse accepts for f into buf. Returns buf. */
const char *fa_fault_name(fa_fault_t f, char *buf, size_t len);

#define FA_KEY_MAX 512
#define FA_WORDS_MAX 100000L

/* A plain record of values (no ownership inside). */
typedef struct {
    long latency_ms;          /* before the first byte of a /v1/messages reply */
    long tokens_per_sec;      /* pacing between streamed deltas; 0 = none */
    long reply_words;         /* filler words appended to every reply */
    fa_fault_t fault;         /* fault for the next requests */
    long fault_count;         /* how many requests get `fault` (0 = all while set) */
    long fault_left;          /* countdown for fault_count */
    long retry_after;         /* seconds in retry-after on 429/529; 0 = no header */
    char api_key[FA_KEY_MAX]; /* "" = any non-empty key is accepted */
} fa_knobs_t;

void fa_knobs_defaults(fa_knobs_t *self);

/* Checks ranges: 0 / -1 with a message in err naming the knob. */
int fa_knobs_check(const fa_knobs_t *self, char *err, size_t errlen);

/* Applies a JSON object of knob names (same names as the flags, '-' or '_') to
 * self, all or nothing: on -1 self is unchanged and err names the bad knob.
 * Setting "fault" or "fault_count" restarts the countdown. */
int fa_knobs_apply_json(fa_knobs_t *self, const cJSON *obj, char *err, size_t errlen);

/* The knobs as a new JSON object (caller owns). The key is never echoed, only
 * whether one is set. */
cJSON *fa_knobs_to_json(const fa_knobs_t *self);

/* The configured fault for one more request; counts fault_count down and resets
 * the fault to none once it has been used up. */
fa_fault_t fa_knobs_take_fault(fa_knobs_t *self);

#endif
