/* Load traces for the simulator: CSV rows "seconds,sessions[,requests_per_second]"
 * with an optional header line and '#' comments. The parser is pure (buffer in,
 * trace out) so it can be fuzzed; values between rows are interpolated linearly. */
#ifndef AF_AUTOSCALER_TRACE_H
#define AF_AUTOSCALER_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#define AF_TRACE_MAX_ROWS 1000000
#define AF_TRACE_MAX_SECONDS (366.0 * 86400.0) /* a year: the simulator steps each second */

typedef struct af_trace_t af_trace_t;

/* Parses buf (not NUL-terminated necessarily). Returns a new trace (caller owns)
 * or NULL with "line N: why" in err. Rules: seconds strictly increasing, finite,
 * span <= AF_TRACE_MAX_SECONDS; sessions and rps finite and >= 0; every row has
 * the same number of columns (2 or 3); at least two rows. */
af_trace_t *af_trace_parse(const char *buf, size_t len, char *err, size_t errlen);
/* Reads and parses a file. NULL with the reason in err. */
af_trace_t *af_trace_load(const char *path, char *err, size_t errlen);
void af_trace_destroy(af_trace_t **self_p);

size_t af_trace_rows(const af_trace_t *self);
double af_trace_start(const af_trace_t *self);
double af_trace_end(const af_trace_t *self);
bool af_trace_has_rps(const af_trace_t *self);
/* Demand at t (clamped to the trace's span), linearly interpolated. */
void af_trace_at(const af_trace_t *self, double t, double *sessions, double *rps);
/* Largest sessions value. */
double af_trace_peak(const af_trace_t *self);

#endif
