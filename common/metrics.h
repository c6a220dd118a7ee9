/* Metrics registry: counters, gauges and histograms with labels, rendered as
 * Prometheus text exposition format 0.0.4. Single-threaded by design (each
 * daemon has one loop). Serving over HTTP lives in metrics_http.h. */
#ifndef AF_METRICS_H
#define AF_METRICS_H

#include <stddef.h>

typedef struct af_metrics_t af_metrics_t;
typedef struct af_metric_t af_metric_t;

typedef enum { AF_METRIC_COUNTER, AF_METRIC_GAUGE, AF_METRIC_HISTOGRAM } af_metric_type_t;

/* Value of a callback metric, computed at scrape time. */
typedef double(af_metric_fn)(void *arg);

af_metrics_t *af_metrics_new(void);
void af_metrics_destroy(af_metrics_t **self_p);

/* Registers a family; the registry owns it. labels is a comma-separated list of
 * label names ("" or NULL for none). Returns NULL (and logs) on an invalid name
 * or a duplicate. */
af_metric_t *af_metrics_counter(af_metrics_t *self, const char *name, const char *help,
                                const char *labels);
af_metric_t *af_metrics_gauge(af_metrics_t *self, const char *name, const char *help,
                              const char *labels);
/* bounds: ascending upper bounds without +Inf (copied); NULL for the defaults
 * (5 ms .. 10 s, Prometheus' classic set). */
af_metric_t *af_metrics_histogram(af_metrics_t *self, const char *name, const char *help,
                                  const char *labels, const double *bounds, size_t nbounds);
/* An unlabelled counter or gauge whose value comes from fn(arg) at render time. */
af_metric_t *af_metrics_callback(af_metrics_t *self, const char *name, const char *help,
                                 af_metric_type_t type, af_metric_fn *fn, void *arg);
/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_start_time_seconds, process_open_fds (read from /proc). */
int af_metrics_add_process(af_metrics_t *self);

/* Label values follow as const char * varargs, exactly as many as declared. */
void af_metric_inc(af_metric_t *m, ...);
void af_metric_add(af_metric_t *m, double v, ...);
void af_metric_set(af_metric_t *m, double v, ...);
void af_metric_observe(af_metric_t *m, double v, ...);
/* Reads a series' value (counter/gauge) or observation count (histogram); 0 when absent. */
double af_metric_value(af_metric_t *m, ...);
/* Drops one series (e.g. a label value that no longer exists). */
void af_metric_remove(af_metric_t *m, ...);

/* Renders everything. Returns a malloc'd NUL-terminated string the caller frees. */
char *af_metrics_render(af_metrics_t *self);

#endif
