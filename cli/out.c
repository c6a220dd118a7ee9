/* Output helpers. See out.h. */
#include "out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void af_cli_print_json(const cJSON *obj)
{
    char *text = obj ? cJSON_Print(obj) : NULL;
    printf("%s\n", text ? text : "null");
    free(text);
}

const cJSON *af_cli_get(const cJSON *obj, const char *path)
{
    char key[64];
    const char *p = path;
    const cJSON *cur = obj;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, p, n);
        key[n] = 0;
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        p += n + (dot ? 1 : 0);
    }
    return cur;
}

const char *af_cli_field(const cJSON *obj, const char *path, char *buf, size_t len)
{
    const cJSON *v = af_cli_get(obj, path);
    if (!v || cJSON_IsNull(v))
        snprintf(buf, len, "-");
    else if (cJSON_IsString(v))
        snprintf(buf, len, "%s", v->valuestring);
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
             fabs(v->valuedouble) < 1e15)
        snprintf(buf, len, "%.0f", v->valuedouble);
    else if (cJSON_IsNumber(v))
        snprintf(buf, len, "%g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(buf, len, "%s", t ? t : "?");
        free(t);
    }
    return buf;
}

double af_cli_num(const cJSON *obj, const char *path, double fallback)
{
    const cJSON *v = af_cli_get(obj, path);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

const char *af_cli_age(uint64_t created_ms, uint64_t now_ms, char *buf, size_t len)
{
    if (!created_ms || created_ms > now_ms) {
        snprintf(buf, len, "-");
        return buf;
    }
    uint64_t s = (now_ms - created_ms) / 1000;
    if (s < 120)
        snprintf(buf, len, "%llus", (unsigned long long)s);
    else if (s < 7200)
        snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
    else
        snprintf(buf, len, "%llud", (unsigned long long)(s / 86400));
    return buf;
}

uint64_t af_cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
