/* Prometheus source. See source_prometheus.h. Response bodies are outside
 * input: shape and every value are checked before use. */
#include "source_prometheus.h"

#include "log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { Q_SESSIONS, Q_AGENTS, Q_RPS, Q_CPU, Q_MEMORY, Q_COUNT };

static const char *s_queries[Q_COUNT] = {AF_PROM_Q_SESSIONS, AF_PROM_Q_AGENTS, AF_PROM_Q_RPS,
                                         AF_PROM_Q_CPU, AF_PROM_Q_MEMORY};

/* [timestamp, "value"] -> value. */
static int s_sample_value(const cJSON *pair, double *out, char *err, size_t errlen)
{
    if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2) {
        snprintf(err, errlen, "sample is not [time, value]");
        return -1;
    }
    const cJSON *v = cJSON_GetArrayItem(pair, 1);
    if (!cJSON_IsString(v) || !v->valuestring) {
        snprintf(err, errlen, "sample value is not a string");
        return -1;
    }
    char *end;
    double d = strtod(v->valuestring, &end);
    if (end == v->valuestring || *end || !isfinite(d)) {
        snprintf(err, errlen, "sample value '%.32s' is not a finite number", v->valuestring);
        return -1;
    }
    *out = d;
    return 0;
}

int af_prom_parse(const char *body, size_t len, double *value, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    int rc = -1;
    if (!root) {
        snprintf(err, errlen, "response is not JSON");
        return -1;
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsString(status)) {
        snprintf(err, errlen, "response has no status");
        goto done;
    }
    if (strcmp(status->valuestring, "success") != 0) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
        snprintf(err, errlen, "prometheus error: %.150s",
                 cJSON_IsString(e) ? e->valuestring : status->valuestring);
        goto done;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(data, "resultType");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
    if (!cJSON_IsObject(data) || !cJSON_IsString(type) || !result) {
        snprintf(err, errlen, "response has no data.resultType/result");
        goto done;
    }
    if (strcmp(type->valuestring, "scalar") == 0) {
        rc = s_sample_value(result, value, err, errlen);
        goto done;
    }
    if (strcmp(type->valuestring, "vector") != 0 || !cJSON_IsArray(result)) {
        snprintf(err, errlen, "result type '%.20s' is not vector or scalar", type->valuestring);
        goto done;
    }
    double sum = 0;
    int n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, result)
    {
        double v;
        if (!cJSON_IsObject(item) ||
            s_sample_value(cJSON_GetObjectItemCaseSensitive(item, "value"), &v, err, errlen) < 0) {
            if (!cJSON_IsObject(item))
                snprintf(err, errlen, "vector element is not an object");
            goto done;
        }
        sum += v;
        n++;
    }
    if (n == 0) {
        rc = 1;
        goto done;
    }
    if (!isfinite(sum)) {
        snprintf(err, errlen, "sum overflows");
        goto done;
    }
    *value = sum;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

int af_prom_url(const char *base, const char *query, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    int n = snprintf(out, outlen, "%.*s/api/v1/query?query=", (int)bl, base);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    size_t pos = (size_t)n;
    for (const unsigned char *p = (const unsigned char *)query; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (pos + (plain ? 1 : 3) + 1 > outlen)
            return -1;
        if (plain) {
            out[pos++] = (char)*p;
        } else {
            out[pos++] = '%';
            out[pos++] = hex[*p >> 4];
            out[pos++] = hex[*p & 15];
        }
    }
    out[pos] = '\0';
    return 0;
}

/* ---- fetching ------------------------------------------------------------- */

struct af_source_prom_t;

typedef struct {
    struct af_source_prom_t *owner;
    int index;
} s_query_t;

struct af_source_prom_t {
    af_http_client_t *http;
    char *base;
    double timeout_s;
    bool busy;
    int outstanding;
    s_query_t q[Q_COUNT];
    double value[Q_COUNT];
    int got[Q_COUNT]; /* 0 value, 1 empty, -1 failed */
    char why[200];
    af_sample_fn *fn;
    void *arg;
};

af_source_prom_t *af_source_prom_new(af_http_client_t *http, const char *base_url, double timeout_s)
{
    af_source_prom_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->http = http;
    self->base = strdup(base_url);
    self->timeout_s = timeout_s;
    if (!self->base) {
        free(self);
        return NULL;
    }
    for (int i = 0; i < Q_COUNT; i++)
        self->q[i] = (s_query_t){self, i};
    return self;
}

void af_source_prom_cancel(af_source_prom_t *self)
{
    if (self)
        self->fn = NULL;
}

void af_source_prom_destroy(af_source_prom_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->base);
    free(*self_p);
    *self_p = NULL;
}

static void s_complete(af_source_prom_t *self)
{
    self->busy = false;
    af_sample_fn *fn = self->fn;
    if (!fn)
        return; /* cancelled: the owner is shutting down */
    if (self->got[Q_SESSIONS] != 0 || self->got[Q_AGENTS] != 0) {
        if (!self->why[0])
            snprintf(self->why, sizeof self->why, "prometheus: no %s series",
                     self->got[Q_SESSIONS] != 0 ? "agent_active_sessions" : "agent count");
        fn(NULL, self->why, self->arg);
        return;
    }
    af_sample_t s;
    memset(&s, 0, sizeof s);
    s.sessions = self->value[Q_SESSIONS] < 0 ? 0 : self->value[Q_SESSIONS];
    s.ready = self->value[Q_AGENTS] < 0 ? 0 : (long)llround(self->value[Q_AGENTS]);
    s.pool = -1;
    s.rps = self->got[Q_RPS] == 0 ? self->value[Q_RPS] : -1;
    s.cpu_cores = self->got[Q_CPU] == 0 ? self->value[Q_CPU] : -1;
    s.memory_bytes = self->got[Q_MEMORY] == 0 ? self->value[Q_MEMORY] : -1;
    fn(&s, NULL, self->arg);
}

static void s_on_response(void *arg, long status, const char *body, const char *err)
{
    s_query_t *q = arg;
    af_source_prom_t *self = q->owner;
    size_t len = strlen(body);
    char why[160] = "";
    if (err) {
        snprintf(why, sizeof why, "%s", err ? err : "transport error");
        self->got[q->index] = -1;
    } else {
        /* Prometheus answers 400/422/503 with the same JSON error shape. */
        int rc = af_prom_parse(body, len, &self->value[q->index], why, sizeof why);
        if (rc < 0 && status != 200 && !why[0])
            snprintf(why, sizeof why, "HTTP %ld", status);
        self->got[q->index] = rc;
    }
    if (self->got[q->index] < 0) {
        af_warn("prometheus query failed query=\"%s\" why=\"%s\"", s_queries[q->index], why);
        if (!self->why[0])
            snprintf(self->why, sizeof self->why, "prometheus: %s", why);
    }
    if (--self->outstanding == 0)
        s_complete(self);
}

int af_source_prom_fetch(af_source_prom_t *self, af_sample_fn *fn, void *arg)
{
    if (self->busy)
        return -1;
    self->fn = fn;
    self->arg = arg;
    self->why[0] = '\0';
    self->outstanding = 0;
    for (int i = 0; i < Q_COUNT; i++) {
        char url[1024];
        self->got[i] = -1;
        self->value[i] = 0;
        if (af_prom_url(self->base, s_queries[i], url, sizeof url) < 0 ||
            af_http_client_request(self->http, "GET", url, NULL, (long)(self->timeout_s * 1000),
                                   s_on_response, &self->q[i]) < 0) {
            af_error("cannot start prometheus query query=\"%s\"", s_queries[i]);
            continue;
        }
        self->outstanding++;
    }
    if (self->outstanding == 0)
        return -1;
    self->busy = true;
    return 0;
}
