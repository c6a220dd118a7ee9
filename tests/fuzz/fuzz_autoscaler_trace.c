/* libFuzzer: the simulator's trace CSV parser (outside input: any file a user
 * passes to --simulate), plus interpolation over whatever it accepts. */
#include "../../autoscaler/trace.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    af_trace_t *t = af_trace_parse((const char *)data, size, err, sizeof err);
    if (!t)
        return 0;
    double t0 = af_trace_start(t), t1 = af_trace_end(t), s, r;
    if (!(t1 > t0) || af_trace_rows(t) < 2)
        abort();
    for (int i = 0; i <= 16; i++) {
        af_trace_at(t, t0 + (t1 - t0) * i / 16.0, &s, &r);
        if (!isfinite(s) || s < 0 || !isfinite(r) || r < 0)
            abort();
    }
    af_trace_destroy(&t);
    return 0;
}
