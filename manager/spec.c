/* Spec validation. See spec.h. */
#include "spec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int af_spec_limits_init(af_spec_limits_t *lim, const char *images)
{
    memset(lim, 0, sizeof *lim);
    lim->cores_min = 1;
    lim->cores_max = 8;
    lim->memory_min = 512;
    lim->memory_max = 16384;
    const char *p = (images && *images) ? images : "agentd:latest";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && p[0] == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n == 0 || n >= AF_SPEC_IMAGE_MAX || lim->nimages == AF_SPEC_IMAGES_MAX)
            return -1;
        memcpy(lim->images[lim->nimages], p, n);
        lim->images[lim->nimages][n] = '\0';
        lim->nimages++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return lim->nimages ? 0 : -1;
}

/* Reads an integral number field; 1 = absent, 0 = ok, -1 = wrong type. */
static int s_int_field(const cJSON *spec, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    if (!v || cJSON_IsNull(v))
        return 1;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 1e9)
        return -1;
    *out = (int)v->valuedouble;
    return 0;
}

int af_spec_check(const af_spec_t *spec, const af_spec_limits_t *lim, char *err, size_t errlen)
{
    if (spec->cores < lim->cores_min || spec->cores > lim->cores_max) {
        snprintf(err, errlen, "spec.cores must be an integer in %d..%d (got %d)", lim->cores_min,
                 lim->cores_max, spec->cores);
        return -1;
    }
    if (spec->memory_mb < lim->memory_min || spec->memory_mb > lim->memory_max) {
        snprintf(err, errlen, "spec.memory_mb must be an integer in %d..%d (got %d)",
                 lim->memory_min, lim->memory_max, spec->memory_mb);
        return -1;
    }
    for (size_t i = 0; i < lim->nimages; i++)
        if (!strcmp(spec->image, lim->images[i]))
            return 0;
    snprintf(err, errlen, "spec.image '%.64s' is not allowed (allowed: %s%s)", spec->image,
             lim->images[0], lim->nimages > 1 ? ", ..." : "");
    return -1;
}

int af_spec_parse(const cJSON *spec, const af_spec_limits_t *lim, af_spec_t *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->cores = 1;
    out->memory_mb = 512;
    snprintf(out->image, sizeof out->image, "%s", lim->images[0]);
    if (!spec || cJSON_IsNull(spec))
        return 0;
    if (!cJSON_IsObject(spec)) {
        snprintf(err, errlen, "spec must be an object {cores, memory_mb, image}");
        return -1;
    }
    if (s_int_field(spec, "cores", &out->cores) < 0) {
        snprintf(err, errlen, "spec.cores must be an integer in %d..%d", lim->cores_min,
                 lim->cores_max);
        return -1;
    }
    if (s_int_field(spec, "memory_mb", &out->memory_mb) < 0) {
        snprintf(err, errlen, "spec.memory_mb must be an integer in %d..%d", lim->memory_min,
                 lim->memory_max);
        return -1;
    }
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(spec, "image");
    if (img && !cJSON_IsNull(img)) {
        if (!cJSON_IsString(img) || !img->valuestring[0] ||
            strlen(img->valuestring) >= AF_SPEC_IMAGE_MAX) {
            snprintf(err, errlen, "spec.image must be a non-empty string");
            return -1;
        }
        snprintf(out->image, sizeof out->image, "%s", img->valuestring);
    }
    return af_spec_check(out, lim, err, errlen);
}

cJSON *af_spec_to_json(const af_spec_t *spec)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "cores", spec->cores);
    cJSON_AddNumberToObject(o, "memory_mb", spec->memory_mb);
    cJSON_AddStringToObject(o, "image", spec->image);
    return o;
}

bool af_spec_equal(const af_spec_t *a, const af_spec_t *b)
{
    return a->cores == b->cores && a->memory_mb == b->memory_mb && !strcmp(a->image, b->image);
}
