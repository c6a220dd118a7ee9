/* Hot-path CBOR writer. See wire.h. */
#include "wire.h"

#include <string.h>

static size_t s_head(uint8_t *out, uint8_t major, uint64_t n)
{
    if (n < 24) {
        out[0] = (uint8_t)(major << 5 | n);
        return 1;
    }
    if (n <= 0xff) {
        out[0] = (uint8_t)(major << 5 | 24);
        out[1] = (uint8_t)n;
        return 2;
    }
    if (n <= 0xffff) {
        out[0] = (uint8_t)(major << 5 | 25);
        out[1] = (uint8_t)(n >> 8);
        out[2] = (uint8_t)n;
        return 3;
    }
    if (n <= 0xffffffffu) {
        out[0] = (uint8_t)(major << 5 | 26);
        for (int i = 0; i < 4; i++)
            out[1 + i] = (uint8_t)(n >> (24 - 8 * i));
        return 5;
    }
    out[0] = (uint8_t)(major << 5 | 27);
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(n >> (56 - 8 * i));
    return 9;
}

static size_t s_text(uint8_t *out, const char *s, size_t n)
{
    size_t h = s_head(out, 3, n);
    memcpy(out + h, s, n);
    return h + n;
}

size_t af_wire_pair_size(size_t req_len, size_t key_len, size_t text_len)
{
    return 1 + 9 + 3 + 9 + req_len + 9 + key_len + 9 + text_len;
}

size_t af_wire_pair_cbor(uint8_t *out, const char *req, size_t req_len, const char *key,
                         size_t key_len, const char *text, size_t text_len)
{
    size_t n = s_head(out, 5, 2);
    n += s_text(out + n, "req", 3);
    n += s_text(out + n, req, req_len);
    n += s_text(out + n, key, key_len);
    n += s_text(out + n, text, text_len);
    return n;
}
