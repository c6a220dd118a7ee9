/* Agent resource specs ({cores, memory_mb, image}): defaults, limits and
 * validation. Pure: no sockets, no allocation beyond the limits' image list. */
#ifndef AF_MANAGER_SPEC_H
#define AF_MANAGER_SPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define AF_SPEC_IMAGE_MAX 128
#define AF_SPEC_IMAGES_MAX 16

typedef struct {
    int cores;
    int memory_mb;
    char image[AF_SPEC_IMAGE_MAX];
} af_spec_t;

typedef struct {
    int cores_min, cores_max;
    int memory_min, memory_max;
    size_t nimages;
    char images[AF_SPEC_IMAGES_MAX][AF_SPEC_IMAGE_MAX]; /* allow-list; [0] is the default */
} af_spec_limits_t;

/* Limits from the issue (cores 1..8, memory 512..16384 MiB) and the allow-list
 * "a,b,c" (NULL or "" means "agentd:latest"). Returns -1 when the list has an
 * empty or over-long name or more than AF_SPEC_IMAGES_MAX entries. */
int af_spec_limits_init(af_spec_limits_t *lim, const char *images);

/* Fills out from a request's spec object (NULL: all defaults). Missing fields
 * take defaults (1 core, 512 MiB, the first allowed image). Returns 0, or -1 with
 * a message in err naming the offending field ("spec.cores must be ..."). */
int af_spec_parse(const cJSON *spec, const af_spec_limits_t *lim, af_spec_t *out, char *err,
                  size_t errlen);

/* Same checks on an already-built spec (e.g. an agent re-registering). */
int af_spec_check(const af_spec_t *spec, const af_spec_limits_t *lim, char *err, size_t errlen);

/* {cores, memory_mb, image} as a new cJSON object the caller owns. */
cJSON *af_spec_to_json(const af_spec_t *spec);

bool af_spec_equal(const af_spec_t *a, const af_spec_t *b);

#endif
