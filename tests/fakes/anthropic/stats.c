/* Counters. See stats.h. */
#include "stats.h"

#include <stdio.h>
#include <string.h>

void fa_stats_reset(fa_stats_t *self)
{
    uint64_t in_flight = self->in_flight;
    memset(self, 0, sizeof *self);
    self->in_flight = in_flight;
}

void fa_stats_status(fa_stats_t *self, int status)
{
    if (status >= 0 && status < FA_STATUS_MAX)
        self->by_status[status]++;
}

cJSON *fa_stats_to_json(const fa_stats_t *self)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "requests", (double)self->requests);
    cJSON_AddNumberToObject(j, "completed", (double)self->completed);
    cJSON_AddNumberToObject(j, "streams", (double)self->streams);
    cJSON_AddNumberToObject(j, "aborted", (double)self->aborted);
    cJSON_AddNumberToObject(j, "errors_injected", (double)self->errors_injected);
    cJSON_AddNumberToObject(j, "in_flight", (double)self->in_flight);
    cJSON_AddNumberToObject(j, "input_tokens", (double)self->input_tokens);
    cJSON_AddNumberToObject(j, "output_tokens", (double)self->output_tokens);
    cJSON *by = cJSON_AddObjectToObject(j, "by_status");
    for (int s = 0; s < FA_STATUS_MAX; s++)
        if (self->by_status[s]) {
            char key[16];
            snprintf(key, sizeof key, "%d", s);
            cJSON_AddNumberToObject(by, key, (double)self->by_status[s]);
        }
    return j;
}
