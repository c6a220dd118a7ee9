/* Body codec: one in-memory form (cJSON trees) for message bodies, two wire forms
 * (CBOR via libcbor, JSON via cJSON). The decoder tells them apart by the first
 * byte: a JSON body starts with '{' (after optional whitespace), a CBOR map never
 * does (major type 5 is 0xa0..0xbf). */
#ifndef AF_CODEC_H
#define AF_CODEC_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { AF_CODEC_CBOR = 0, AF_CODEC_JSON = 1 } af_codec_t;

#define AF_CODEC_MAX_DEPTH 32

/* Parses "cbor" or "json"; returns -1 otherwise. */
int af_codec_parse(const char *name, af_codec_t *out);
const char *af_codec_name(af_codec_t codec);

/* Decodes a body that must be a map/object. Returns a new cJSON object the
 * caller owns, or NULL with a reason in err (e.g. "cbor: not a map"). Sets
 * *codec (if non-NULL) to the wire form detected. Refuses byte strings, tags,
 * non-string keys, undefined, nesting deeper than AF_CODEC_MAX_DEPTH and trailing
 * bytes. */
cJSON *af_codec_decode(const uint8_t *buf, size_t len, af_codec_t *codec, char *err,
                       size_t errlen);

/* Encodes an object. Returns 0 and a malloc'd buffer (*out, caller frees) or -1.
 * CBOR output is deterministic: definite lengths, shortest integer heads, keys in
 * object order, non-integral numbers as float64. */
int af_codec_encode(const cJSON *body, af_codec_t codec, uint8_t **out, size_t *len);

#endif
