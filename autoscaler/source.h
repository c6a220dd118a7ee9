/* What a metrics source reports to the controller each evaluation. Two sources
 * fill it: source_manager.c (STATS) and source_prometheus.c (HTTP query API). */
#ifndef AF_AUTOSCALER_SOURCE_H
#define AF_AUTOSCALER_SOURCE_H

#include <stdbool.h>

typedef struct {
    double sessions;    /* live sessions */
    long ready;         /* agents serving */
    long spawning;      /* agents on their way */
    long draining;      /* agents leaving (not capacity) */
    long pool;          /* pool agents ready or spawning (SCALE moves only these); -1 unknown */
    double rps;         /* requests per second; < 0 when the source has none */
    double cpu_cores;   /* fleet CPU use (cores); < 0 when unknown (logged only) */
    double memory_bytes;/* fleet resident memory; < 0 when unknown (logged only) */
    bool saturated;     /* capacity full: sessions undercount demand */
} af_sample_t;

/* ok: the sample is valid; otherwise why says what failed (sample is NULL). */
typedef void(af_sample_fn)(const af_sample_t *sample, const char *why, void *arg);

#endif
