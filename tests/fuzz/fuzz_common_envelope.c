/* libFuzzer target: the AF1 envelope decoder with both body codecs. The input
 * is split into frames at each 0x00 0xff pair, so the fuzzer controls the frame
 * count, the tag, the verb and the body; decoded bodies are re-encoded in both
 * codecs and decoded again, which must give the same tree. */
#include "log.h"
#include "proto.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        af_log_init("fuzz", AF_LOG_ERROR);
        af_log_set_fd(-1);
        init = 1;
    }
    const uint8_t *frames[8];
    size_t lens[8], n = 0, start = 0;
    for (size_t i = 0; i + 1 < size && n < 7; i++)
        if (data[i] == 0x00 && data[i + 1] == 0xff) {
            frames[n] = data + start;
            lens[n++] = i - start;
            start = i + 2;
            i++;
        }
    frames[n] = data + start;
    lens[n++] = size - start;
    af_proto_err_t err;
    char reason[256], req[AF_PROTO_REQ_MAX];
    af_msg_t *m = af_proto_decode(frames, lens, n, 65536, &err, reason, sizeof reason, req);
    if (!m)
        return 0;
    for (int c = 0; c < 2; c++) {
        uint8_t *buf;
        size_t len;
        if (af_codec_encode(m->body, (af_codec_t)c, &buf, &len) < 0)
            abort();
        char why[160];
        cJSON *back = af_codec_decode(buf, len, NULL, why, sizeof why);
        /* JSON cannot carry every double cJSON prints at reduced precision, so
         * compare structure exactly only for CBOR; JSON must still decode. */
        if (!back || (c == AF_CODEC_CBOR && !cJSON_Compare(m->body, back, 1)))
            abort();
        cJSON_Delete(back);
        free(buf);
    }
    af_msg_destroy(&m);
    return 0;
}
