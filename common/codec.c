/* CBOR/JSON <-> cJSON conversion. See codec.h. */
#include "codec.h"

#include <cbor.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int af_codec_parse(const char *name, af_codec_t *out)
{
    if (name && !strcmp(name, "cbor"))
        *out = AF_CODEC_CBOR;
    else if (name && !strcmp(name, "json"))
        *out = AF_CODEC_JSON;
    else
        return -1;
    return 0;
}

const char *af_codec_name(af_codec_t codec) { return codec == AF_CODEC_JSON ? "json" : "cbor"; }

/* Strict UTF-8 (no overlongs, no surrogates, max U+10FFFF): both codecs carry
 * text, and a string one codec accepts must survive a trip through the other. */
static int s_utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else
            return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* ---- CBOR -> cJSON ------------------------------------------------------- */

static cJSON *s_from_cbor(cbor_item_t *item, int depth, char *err, size_t errlen)
{
    if (depth > AF_CODEC_MAX_DEPTH) {
        snprintf(err, errlen, "cbor: nesting deeper than %d", AF_CODEC_MAX_DEPTH);
        return NULL;
    }
    switch (cbor_typeof(item)) {
    case CBOR_TYPE_UINT:
        return cJSON_CreateNumber((double)cbor_get_int(item));
    case CBOR_TYPE_NEGINT:
        return cJSON_CreateNumber(-1.0 - (double)cbor_get_int(item));
    case CBOR_TYPE_STRING: {
        if (!cbor_string_is_definite(item)) {
            snprintf(err, errlen, "cbor: indefinite-length string");
            return NULL;
        }
        size_t n = cbor_string_length(item);
        const unsigned char *h = cbor_string_handle(item);
        if (memchr(h, '\0', n)) {
            snprintf(err, errlen, "cbor: NUL byte inside a text string");
            return NULL;
        }
        if (!s_utf8_valid(h, n)) {
            snprintf(err, errlen, "cbor: text string is not valid UTF-8");
            return NULL;
        }
        char *s = malloc(n + 1);
        if (!s)
            return NULL;
        if (n)
            memcpy(s, h, n);
        s[n] = '\0';
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    case CBOR_TYPE_ARRAY: {
        cJSON *arr = cJSON_CreateArray();
        size_t n = cbor_array_size(item);
        cbor_item_t **h = cbor_array_handle(item);
        for (size_t i = 0; arr && i < n; i++) {
            cJSON *c = s_from_cbor(h[i], depth + 1, err, errlen);
            if (!c) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, c);
        }
        return arr;
    }
    case CBOR_TYPE_MAP: {
        cJSON *obj = cJSON_CreateObject();
        size_t n = cbor_map_size(item);
        struct cbor_pair *h = cbor_map_handle(item);
        for (size_t i = 0; obj && i < n; i++) {
            if (!cbor_isa_string(h[i].key) || !cbor_string_is_definite(h[i].key)) {
                snprintf(err, errlen, "cbor: map key is not a text string");
                cJSON_Delete(obj);
                return NULL;
            }
            size_t kl = cbor_string_length(h[i].key);
            char key[256];
            if (kl >= sizeof key || memchr(cbor_string_handle(h[i].key), '\0', kl) ||
                !s_utf8_valid(cbor_string_handle(h[i].key), kl)) {
                snprintf(err, errlen, "cbor: map key too long, not UTF-8 or has a NUL byte");
                cJSON_Delete(obj);
                return NULL;
            }
            memcpy(key, cbor_string_handle(h[i].key), kl);
            key[kl] = '\0';
            if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
                snprintf(err, errlen, "cbor: duplicate map key '%.64s'", key);
                cJSON_Delete(obj);
                return NULL;
            }
            cJSON *v = s_from_cbor(h[i].value, depth + 1, err, errlen);
            if (!v) {
                cJSON_Delete(obj);
                return NULL;
            }
            cJSON_AddItemToObject(obj, key, v);
        }
        return obj;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        if (cbor_float_ctrl_is_ctrl(item)) {
            if (cbor_is_null(item))
                return cJSON_CreateNull();
            if (cbor_is_bool(item))
                return cJSON_CreateBool(cbor_get_bool(item));
            snprintf(err, errlen, "cbor: unsupported simple value");
            return NULL;
        } else {
            double d = cbor_float_get_float(item);
            if (!isfinite(d)) {
                snprintf(err, errlen, "cbor: non-finite number");
                return NULL;
            }
            return cJSON_CreateNumber(d);
        }
    case CBOR_TYPE_BYTESTRING:
        snprintf(err, errlen, "cbor: byte strings are not allowed in bodies");
        return NULL;
    case CBOR_TYPE_TAG:
        snprintf(err, errlen, "cbor: tags are not allowed in bodies");
        return NULL;
    }
    snprintf(err, errlen, "cbor: unknown item type");
    return NULL;
}

/* Walks the item heads before libcbor sees the bytes: libcbor allocates an
 * array or map for its declared size up front, so an 8-byte frame could ask for
 * gigabytes. Every declared count must fit in the bytes that remain. Also
 * refuses indefinite lengths, reserved heads and nesting past the limit. */
static int s_cbor_scan(const uint8_t *p, size_t n, size_t *pos, int depth)
{
    if (depth > AF_CODEC_MAX_DEPTH || *pos >= n)
        return -1;
    uint8_t ib = p[(*pos)++];
    uint8_t major = ib >> 5, ai = ib & 31;
    uint64_t val = ai;
    if (ai >= 24 && ai <= 27) {
        size_t k = (size_t)1 << (ai - 24);
        if (n - *pos < k)
            return -1;
        val = 0;
        for (size_t i = 0; i < k; i++)
            val = (val << 8) | p[(*pos)++];
    } else if (ai > 27)
        return -1;
    switch (major) {
    case 0:
    case 1:
    case 7:
        return 0;
    case 2:
    case 3:
        if (val > n - *pos)
            return -1;
        *pos += (size_t)val;
        return 0;
    case 4:
    case 5: {
        uint64_t items = major == 5 ? val * 2 : val;
        if (val > n - *pos || items > n - *pos)
            return -1;
        for (uint64_t i = 0; i < items; i++)
            if (s_cbor_scan(p, n, pos, depth + 1) < 0)
                return -1;
        return 0;
    }
    default: /* 6: tags are refused anyway */
        return -1;
    }
}

static cJSON *s_decode_cbor(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    size_t pos = 0;
    if (s_cbor_scan(buf, len, &pos, 0) < 0) {
        snprintf(err, errlen, "cbor: malformed, indefinite, tagged or too deep near byte %zu", pos);
        return NULL;
    }
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(buf, len, &res);
    if (!item || res.error.code != CBOR_ERR_NONE) {
        snprintf(err, errlen, "cbor: malformed at byte %zu", res.error.position);
        if (item)
            cbor_decref(&item);
        return NULL;
    }
    if (res.read != len) {
        snprintf(err, errlen, "cbor: %zu trailing bytes", len - res.read);
        cbor_decref(&item);
        return NULL;
    }
    if (!cbor_isa_map(item)) {
        snprintf(err, errlen, "cbor: body is not a map");
        cbor_decref(&item);
        return NULL;
    }
    cJSON *j = s_from_cbor(item, 0, err, errlen);
    cbor_decref(&item);
    return j;
}

static int s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps both of {"user":"a","user":"b"} and lookups see the first: a
 * smuggling hazard, and CBOR maps may not repeat keys. Sort and compare. */
static int s_has_duplicate_keys(const cJSON *obj)
{
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n < 2)
        return 0;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys)
        return 1;
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        keys[i++] = c->string ? c->string : "";
    qsort(keys, n, sizeof *keys, s_strcmp_p);
    int dup = 0;
    for (i = 1; i < n && !dup; i++)
        dup = strcmp(keys[i - 1], keys[i]) == 0;
    free(keys);
    return dup;
}

/* cJSON recurses up to CJSON_NESTING_LIMIT; we hold bodies to our own bound.
 * Numbers such as 1e400 parse to infinity, which neither codec can carry back. */
static const char *s_json_check(const cJSON *j, int depth)
{
    if (depth > AF_CODEC_MAX_DEPTH)
        return "nesting too deep";
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
        return "number out of range";
    if (cJSON_IsString(j) && !s_utf8_valid((const unsigned char *)j->valuestring, strlen(j->valuestring)))
        return "string is not valid UTF-8";
    if (j->string && !s_utf8_valid((const unsigned char *)j->string, strlen(j->string)))
        return "key is not valid UTF-8";
    if (j->string && strlen(j->string) >= 256)
        return "key longer than 255 bytes";
    if (cJSON_IsObject(j) && s_has_duplicate_keys(j))
        return "duplicate key";
    for (const cJSON *c = j->child; c; c = c->next) {
        const char *why = s_json_check(c, depth + 1);
        if (why)
            return why;
    }
    return NULL;
}

static cJSON *s_decode_json(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    /* Raw control bytes are illegal in JSON text (strings must escape them), and
     * cJSON would cut a string at a NUL; \u0000 likewise. Refuse both. */
    for (size_t i = 0; i < len; i++)
        if ((buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') ||
            (buf[i] == '\\' && i + 5 < len && !memcmp(buf + i + 1, "u0000", 5))) {
            snprintf(err, errlen, "json: control character or NUL at byte %zu", i);
            return NULL;
        }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)buf, len, &end, 0);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        size_t pos = (at && at >= (const char *)buf) ? (size_t)(at - (const char *)buf) : 0;
        snprintf(err, errlen, "json: syntax error at byte %zu", pos);
        return NULL;
    }
    const char *stop = (const char *)buf + len;
    while (end && end < stop && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (end && end < stop && *end != '\0') {
        snprintf(err, errlen, "json: trailing bytes at %zu", (size_t)(end - (const char *)buf));
        cJSON_Delete(j);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "json: body is not an object");
        cJSON_Delete(j);
        return NULL;
    }
    const char *why = s_json_check(j, 0);
    if (why) {
        snprintf(err, errlen, "json: %s (max depth %d)", why, AF_CODEC_MAX_DEPTH);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

cJSON *af_codec_decode(const uint8_t *buf, size_t len, af_codec_t *codec, char *err,
                       size_t errlen)
{
    if (!buf || len == 0) {
        snprintf(err, errlen, "empty body");
        return NULL;
    }
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    if (i < len && buf[i] == '{') {
        if (codec)
            *codec = AF_CODEC_JSON;
        return s_decode_json(buf, len, err, errlen);
    }
    if (codec)
        *codec = AF_CODEC_CBOR;
    return s_decode_cbor(buf, len, err, errlen);
}

/* ---- cJSON -> CBOR ------------------------------------------------------- */

static cbor_item_t *s_uint(uint64_t v)
{
    if (v <= UINT8_MAX)
        return cbor_build_uint8((uint8_t)v);
    if (v <= UINT16_MAX)
        return cbor_build_uint16((uint16_t)v);
    if (v <= UINT32_MAX)
        return cbor_build_uint32((uint32_t)v);
    return cbor_build_uint64(v);
}

static cbor_item_t *s_number(double d)
{
    /* Integral values inside the exact double range travel as CBOR integers. */
    if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
        if (d >= 0)
            return s_uint((uint64_t)d);
        cbor_item_t *n = s_uint((uint64_t)(-1.0 - d));
        if (n)
            cbor_mark_negint(n);
        return n;
    }
    return cbor_build_float8(d);
}

static cbor_item_t *s_to_cbor(const cJSON *j)
{
    if (cJSON_IsObject(j)) {
        size_t n = (size_t)cJSON_GetArraySize(j);
        cbor_item_t *m = cbor_new_definite_map(n);
        if (!m)
            return NULL;
        for (const cJSON *c = j->child; c; c = c->next) {
            cbor_item_t *k = cbor_build_string(c->string ? c->string : "");
            cbor_item_t *v = s_to_cbor(c);
            bool ok = k && v && cbor_map_add(m, (struct cbor_pair){.key = k, .value = v});
            if (k)
                cbor_decref(&k);
            if (v)
                cbor_decref(&v);
            if (!ok) {
                cbor_decref(&m);
                return NULL;
            }
        }
        return m;
    }
    if (cJSON_IsArray(j)) {
        size_t n = (size_t)cJSON_GetArraySize(j);
        cbor_item_t *a = cbor_new_definite_array(n);
        if (!a)
            return NULL;
        for (const cJSON *c = j->child; c; c = c->next) {
            cbor_item_t *v = s_to_cbor(c);
            bool ok = v && cbor_array_push(a, v);
            if (v)
                cbor_decref(&v);
            if (!ok) {
                cbor_decref(&a);
                return NULL;
            }
        }
        return a;
    }
    if (cJSON_IsString(j))
        return cbor_build_string(j->valuestring);
    if (cJSON_IsNumber(j))
        return s_number(j->valuedouble);
    if (cJSON_IsBool(j))
        return cbor_build_bool(cJSON_IsTrue(j));
    return cbor_new_null();
}

int af_codec_encode(const cJSON *body, af_codec_t codec, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!cJSON_IsObject(body))
        return -1;
    if (codec == AF_CODEC_JSON) {
        char *s = cJSON_PrintUnformatted(body);
        if (!s)
            return -1;
        *out = (uint8_t *)s;
        *len = strlen(s);
        return 0;
    }
    cbor_item_t *item = s_to_cbor(body);
    if (!item)
        return -1;
    size_t cap = 0;
    *len = cbor_serialize_alloc(item, out, &cap);
    cbor_decref(&item);
    if (*len == 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}
