/* libFuzzer: the Prometheus /api/v1/query response parser (outside input:
 * whatever answers at --prometheus-url). */
#include "../../autoscaler/source_prometheus.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    double v = 0;
    int rc = af_prom_parse((const char *)data, size, &v, err, sizeof err);
    if (rc == 0 && !isfinite(v))
        abort();
    return 0;
}
