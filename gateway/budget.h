/* Daily token budgets (issue #10): the arithmetic only — which UTC day a time
 * falls in, when the budget resets, and whether a user is over. Counters live
 * in usage.h. Pure. */
#ifndef AF_GW_BUDGET_H
#define AF_GW_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    long long limit;      /* tokens a day, 0 = unlimited */
    long long used;       /* counted today (since the last reset) */
    long long remaining;  /* -1 when unlimited */
    bool over;
    uint64_t reset_ms;    /* next UTC midnight */
} af_budget_state_t;

/* Days since 1970-01-01 (UTC) of a wall time in ms. */
int64_t af_budget_day(uint64_t wall_ms);
/* Start of the next UTC day, in ms. */
uint64_t af_budget_reset_ms(uint64_t wall_ms);
/* "YYYY-MM-DD" of a day number (buf: 11 bytes at least). */
void af_budget_date(int64_t day, char *buf, size_t len);
/* ISO 8601 UTC ("2026-11-28T00:00:00Z") of a wall time (buf: 21 bytes). */
void af_budget_iso(uint64_t wall_ms, char *buf, size_t len);

/* Over budget when a limit is set and used >= limit: the request that crosses
 * the line is served (its size is unknown until it ends), the next is not. */
void af_budget_eval(long long limit, long long used, uint64_t now_ms, af_budget_state_t *out);

#endif
