/* Allocation-free encoding of the hottest AF1 body, {req, <key>: <text>} (every
 * DELTA), byte-identical to what common/codec.h produces for CBOR (definite
 * lengths, shortest heads, keys in order). Other bodies go through the codec. */
#ifndef AF_WIRE_H
#define AF_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes af_wire_pair_cbor needs at most. */
size_t af_wire_pair_size(size_t req_len, size_t key_len, size_t text_len);

/* Writes the CBOR map {"req": req, key: text} into out (at least
 * af_wire_pair_size bytes). Returns the length written. */
size_t af_wire_pair_cbor(uint8_t *out, const char *req, size_t req_len, const char *key,
                         size_t key_len, const char *text, size_t text_len);

#endif
