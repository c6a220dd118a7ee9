/* Budget arithmetic. See budget.h. */
#include "budget.h"

#include <stdio.h>
#include <time.h>

#define DAY_MS 86400000ull

int64_t af_budget_day(uint64_t wall_ms) { return (int64_t)(wall_ms / DAY_MS); }

uint64_t af_budget_reset_ms(uint64_t wall_ms) { return (wall_ms / DAY_MS + 1) * DAY_MS; }

void af_budget_date(int64_t day, char *buf, size_t len)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

void af_budget_iso(uint64_t wall_ms, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void af_budget_eval(long long limit, long long used, uint64_t now_ms, af_budget_state_t *out)
{
    if (used < 0)
        used = 0;
    out->limit = limit > 0 ? limit : 0;
    out->used = used;
    out->remaining = out->limit ? (used >= out->limit ? 0 : out->limit - used) : -1;
    out->over = out->limit && used >= out->limit;
    out->reset_ms = af_budget_reset_ms(now_ms);
}
