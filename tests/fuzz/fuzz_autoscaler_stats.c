/* libFuzzer: a STATS reply body as it comes off the wire (CBOR or JSON),
 * decoded by the codec and read by the manager source. */
#include "../../autoscaler/source_manager.h"
#include "codec.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    cJSON *body = af_codec_decode(data, size, NULL, err, sizeof err);
    if (!body)
        return 0;
    af_sample_t s;
    if (af_source_manager_parse(body, &s, err, sizeof err) == 0 &&
        (!isfinite(s.sessions) || s.sessions < 0 || s.ready < 0 || s.spawning < 0))
        abort();
    cJSON_Delete(body);
    return 0;
}
