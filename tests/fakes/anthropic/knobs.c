/* Knobs: parsing, range checks, JSON in and out. See knobs.h. */
#include "knobs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int s_fault_statuses[] = {400, 401, 403, 404, 413, 429, 500, 529};

int fa_fault_parse(const char *text, fa_fault_t *out)
{
    if (!text)
        return -1;
    if (!strcmp(text, "none") || !*text) {
        *out = (fa_fault_t){FA_FAULT_NONE, 0};
        return 0;
    }
    if (!strcmp(text, "midstream")) {
        *out = (fa_fault_t){FA_FAULT_MIDSTREAM, 0};
        return 0;
    }
    if (!strcmp(text, "hang")) {
        *out = (fa_fault_t){FA_FAULT_HANG, 0};
        return 0;
    }
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end)
        return -1;
    for (size_t i = 0; i < sizeof s_fault_statuses / sizeof s_fault_statuses[0]; i++)
        if (v == s_fault_statuses[i]) {
            *out = (fa_fault_t){FA_FAULT_STATUS, (int)v};
            return 0;
        }
    return -1;
}

const char *fa_fault_name(fa_fault_t f, char *buf, size_t len)
{
    switch (f.kind) {
    case FA_FAULT_STATUS:
        snprintf(buf, len, "%d", f.status);
        break;
    case FA_FAULT_MIDSTREAM:
        snprintf(buf, len, "midstream");
        break;
    case FA_FAULT_HANG:
        snprintf(buf, len, "hang");
        break;
    case FA_FAULT_NONE:
    default:
        snprintf(buf, len, "none");
        break;
    }
    return buf;
}

void fa_knobs_defaults(fa_knobs_t *self)
{
    memset(self, 0, sizeof *self);
    self->retry_after = 1;
}

/* Range table shared by the flag check and the JSON setter. */
typedef struct {
    const char *name;
    size_t offset;
    long min, max;
} s_range_t;

static const s_range_t s_ranges[] = {
    {"latency_ms", offsetof(fa_knobs_t, latency_ms), 0, 3600000},
    {"tokens_per_sec", offsetof(fa_knobs_t, tokens_per_sec), 0, 1000000},
    {"reply_words", offsetof(fa_knobs_t, reply_words), 0, FA_WORDS_MAX},
    {"fault_count", offsetof(fa_knobs_t, fault_count), 0, 1000000000},
    {"retry_after", offsetof(fa_knobs_t, retry_after), 0, 86400},
};
#define S_NRANGES (sizeof s_ranges / sizeof s_ranges[0])

static long *s_field(fa_knobs_t *k, const s_range_t *r)
{
    return (long *)((char *)k + r->offset);
}

int fa_knobs_check(const fa_knobs_t *self, char *err, size_t errlen)
{
    for (size_t i = 0; i < S_NRANGES; i++) {
        long v = *s_field((fa_knobs_t *)self, &s_ranges[i]);
        if (v < s_ranges[i].min || v > s_ranges[i].max) {
            snprintf(err, errlen, "%s: %ld is out of range %ld..%ld", s_ranges[i].name, v,
                     s_ranges[i].min, s_ranges[i].max);
            return -1;
        }
    }
    return 0;
}

/* "tokens-per-sec" and "tokens_per_sec" name the same knob. */
static int s_name_eq(const char *given, const char *canon)
{
    for (; *given && *canon; given++, canon++) {
        char g = *given == '-' ? '_' : *given;
        if (g != *canon)
            return 0;
    }
    return *given == *canon;
}

static int s_apply_one(fa_knobs_t *k, const cJSON *item, char *err, size_t errlen)
{
    const char *name = item->string;
    for (size_t i = 0; i < S_NRANGES; i++) {
        if (!s_name_eq(name, s_ranges[i].name))
            continue;
        double d = item->valuedouble;
        if (!cJSON_IsNumber(item) || d != floor(d) || d < (double)s_ranges[i].min ||
            d > (double)s_ranges[i].max) {
            snprintf(err, errlen, "%s: must be an integer in %ld..%ld", s_ranges[i].name,
                     s_ranges[i].min, s_ranges[i].max);
            return -1;
        }
        *s_field(k, &s_ranges[i]) = (long)d;
        if (!strcmp(s_ranges[i].name, "fault_count"))
            k->fault_left = k->fault_count;
        return 0;
    }
    if (s_name_eq(name, "fault")) {
        char num[32];
        const char *text = NULL;
        if (cJSON_IsString(item))
            text = item->valuestring;
        else if (cJSON_IsNumber(item)) {
            snprintf(num, sizeof num, "%d", item->valueint);
            text = num;
        } else if (cJSON_IsNull(item))
            text = "none";
        if (fa_fault_parse(text, &k->fault) < 0) {
            snprintf(
                err, errlen,
                "fault: must be none, 400, 401, 403, 404, 413, 429, 500, 529, midstream or hang");
            return -1;
        }
        k->fault_left = k->fault_count;
        return 0;
    }
    if (s_name_eq(name, "api_key")) {
        if (!cJSON_IsString(item) || strlen(item->valuestring) >= FA_KEY_MAX) {
            snprintf(err, errlen, "api_key: must be a string shorter than %d bytes", FA_KEY_MAX);
            return -1;
        }
        snprintf(k->api_key, sizeof k->api_key, "%s", item->valuestring);
        return 0;
    }
    if (s_name_eq(name, "listen")) {
        snprintf(err, errlen, "listen: fixed at start (--listen)");
        return -1;
    }
    snprintf(err, errlen, "%.64s: unknown knob", name);
    return -1;
}

int fa_knobs_apply_json(fa_knobs_t *self, const cJSON *obj, char *err, size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "body must be a JSON object of knobs");
        return -1;
    }
    fa_knobs_t next = *self;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        if (s_apply_one(&next, item, err, errlen) < 0)
            return -1;
    }
    *self = next;
    return 0;
}

cJSON *fa_knobs_to_json(const fa_knobs_t *self)
{
    char fault[32];
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    for (size_t i = 0; i < S_NRANGES; i++)
        cJSON_AddNumberToObject(j, s_ranges[i].name,
                                (double)*s_field((fa_knobs_t *)self, &s_ranges[i]));
    cJSON_AddStringToObject(j, "fault", fa_fault_name(self->fault, fault, sizeof fault));
    cJSON_AddNumberToObject(j, "fault_left", (double)self->fault_left);
    cJSON_AddBoolToObject(j, "api_key_set", self->api_key[0] != '\0');
    return j;
}

fa_fault_t fa_knobs_take_fault(fa_knobs_t *self)
{
    fa_fault_t f = self->fault;
    if (f.kind == FA_FAULT_NONE || self->fault_count <= 0)
        return f;
    if (self->fault_left > 0)
        self->fault_left--;
    if (self->fault_left <= 0)
        self->fault = (fa_fault_t){FA_FAULT_NONE, 0};
    return f;
}
