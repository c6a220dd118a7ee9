/* CBOR/JSON <-> cJSON conversion. See codec.h. */
#include "codec.h"

#include "util.h"

#include <cbor.h>
#include <math.h>
#include <stdbool.h>
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

/* libcbor's stream decoder reports one item head per call and allocates
 * nothing; the builder below turns those heads straight into cJSON nodes. The
 * earlier cbor_load() path built a libcbor tree first and then copied it, which
 * doubled the allocations on the hottest path of every hop. */
typedef struct {
    cJSON *node;   /* the open array or object */
    uint64_t left; /* items (array) or pairs (map) still to come */
    bool map;
    bool want_key;       /* map: next item is a key */
    const uint8_t *key;  /* map: pending key, pointing into the input */
    size_t keylen;
} s_frame_t;

typedef struct {
    s_frame_t frames[AF_CODEC_MAX_DEPTH + 1];
    int depth;        /* open frames */
    cJSON *root;      /* the top-level map once started; complete when no frame is open */
    size_t remaining; /* input bytes from the current head on */
    char *err;
    size_t errlen;
    bool failed;
} s_builder_t;

static void s_fail(s_builder_t *b, const char *why)
{
    if (!b->failed)
        snprintf(b->err, b->errlen, "cbor: %s", why);
    b->failed = true;
}

/* A text string (value or key) must hold valid UTF-8 without NUL bytes: both
 * codecs carry it, and JSON cannot hold a raw NUL that C strings keep. */
static bool s_text_ok(s_builder_t *b, const uint8_t *p, size_t n)
{
    if (memchr(p, '\0', n)) {
        s_fail(b, "NUL byte inside a text string");
        return false;
    }
    if (!s_utf8_valid(p, n)) {
        s_fail(b, "text string is not valid UTF-8");
        return false;
    }
    return true;
}

static bool s_done(const s_builder_t *b) { return b->root && b->depth == 0; }

/* Closes every frame whose last item has arrived. */
static void s_close_frames(s_builder_t *b)
{
    while (b->depth > 0 && b->frames[b->depth - 1].left == 0 && !b->frames[b->depth - 1].want_key)
        b->depth--;
}

/* Places a finished item (scalar, or a container whose frame opens next) in
 * its parent. Takes ownership of item. Returns false (item freed) on error. */
static bool s_place(s_builder_t *b, cJSON *item)
{
    if (!item) {
        s_fail(b, "out of memory");
        return false;
    }
    if (b->failed || b->depth == 0) {
        if (!b->failed)
            s_fail(b, b->root ? "trailing items" : "body is not a map");
        cJSON_Delete(item);
        return false;
    }
    if (b->depth > AF_CODEC_MAX_DEPTH) {
        char why[64];
        snprintf(why, sizeof why, "nesting too deep (max %d)", AF_CODEC_MAX_DEPTH);
        s_fail(b, why);
        cJSON_Delete(item);
        return false;
    }
    s_frame_t *f = &b->frames[b->depth - 1];
    if (f->map) {
        if (f->want_key) {
            s_fail(b, "map key is not a text string");
            cJSON_Delete(item);
            return false;
        }
        char key[256];
        memcpy(key, f->key, f->keylen);
        key[f->keylen] = '\0';
        cJSON_AddItemToObject(f->node, key, item);
        f->want_key = f->left > 0;
    } else {
        cJSON_AddItemToArray(f->node, item);
        f->left--;
    }
    return true;
}

static void s_scalar(s_builder_t *b, cJSON *item)
{
    if (s_place(b, item))
        s_close_frames(b);
}

static void s_open(s_builder_t *b, size_t count, bool map)
{
    if (b->failed)
        return;
    /* Each item takes at least one byte: a count the input cannot hold is a
     * lie, refused before anything is built for it. */
    uint64_t items = map ? (uint64_t)count * 2 : count;
    if (count > b->remaining || items > b->remaining) {
        s_fail(b, "malformed: a container declares more items than bytes remain");
        return;
    }
    cJSON *node = map ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!b->root) {
        if (!map) {
            s_fail(b, "body is not a map");
            cJSON_Delete(node);
            return;
        }
        if (!node) {
            s_fail(b, "out of memory");
            return;
        }
        b->root = node;
    } else if (!s_place(b, node))
        return;
    b->frames[b->depth++] = (s_frame_t){.node = node, .left = count, .map = map, .want_key = map && count > 0};
    s_close_frames(b);
}

static void s_on_string(void *ctx, cbor_data p, size_t n)
{
    s_builder_t *b = ctx;
    if (b->failed)
        return;
    s_frame_t *f = b->depth > 0 ? &b->frames[b->depth - 1] : NULL;
    if (f && f->map && f->want_key) {
        if (n >= 256) {
            s_fail(b, "map key longer than 255 bytes");
            return;
        }
        if (!s_text_ok(b, p, n))
            return;
        /* cJSON keeps repeated keys and lookups see the first: a smuggling
         * hazard, and CBOR maps may not repeat keys. */
        for (const cJSON *c = f->node->child; c; c = c->next)
            if (strlen(c->string) == n && !memcmp(c->string, p, n)) {
                char why[96];
                snprintf(why, sizeof why, "duplicate map key '%.*s'", (int)(n < 64 ? n : 64), (const char *)p);
                s_fail(b, why);
                return;
            }
        f->key = p;
        f->keylen = n;
        f->want_key = false;
        f->left--;
        return;
    }
    if (!s_text_ok(b, p, n))
        return;
    char *s = malloc(n + 1);
    cJSON *item = s ? cJSON_CreateNull() : NULL;
    if (!item) {
        free(s);
        s_fail(b, "out of memory");
        return;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    /* One copy: the node takes the buffer as its own string (cJSON_Delete frees
     * valuestring of a non-reference node), where cJSON_CreateString would copy
     * it once more. */
    item->type = cJSON_String;
    item->valuestring = s;
    s_scalar(b, item);
}

static void s_number_item(s_builder_t *b, double d)
{
    if (b->failed)
        return;
    if (!isfinite(d)) {
        s_fail(b, "non-finite number");
        return;
    }
    s_scalar(b, cJSON_CreateNumber(d));
}

static void s_on_u8(void *ctx, uint8_t v) { s_number_item(ctx, (double)v); }
static void s_on_u16(void *ctx, uint16_t v) { s_number_item(ctx, (double)v); }
static void s_on_u32(void *ctx, uint32_t v) { s_number_item(ctx, (double)v); }
static void s_on_u64(void *ctx, uint64_t v) { s_number_item(ctx, (double)v); }
static void s_on_n8(void *ctx, uint8_t v) { s_number_item(ctx, -1.0 - (double)v); }
static void s_on_n16(void *ctx, uint16_t v) { s_number_item(ctx, -1.0 - (double)v); }
static void s_on_n32(void *ctx, uint32_t v) { s_number_item(ctx, -1.0 - (double)v); }
static void s_on_n64(void *ctx, uint64_t v) { s_number_item(ctx, -1.0 - (double)v); }
static void s_on_float(void *ctx, float v) { s_number_item(ctx, (double)v); }
static void s_on_double(void *ctx, double v) { s_number_item(ctx, v); }

static void s_on_null(void *ctx)
{
    if (!((s_builder_t *)ctx)->failed)
        s_scalar(ctx, cJSON_CreateNull());
}

static void s_on_bool(void *ctx, bool v)
{
    if (!((s_builder_t *)ctx)->failed)
        s_scalar(ctx, cJSON_CreateBool(v));
}

static void s_on_map(void *ctx, size_t n) { s_open(ctx, n, true); }
static void s_on_array(void *ctx, size_t n) { s_open(ctx, n, false); }
static void s_on_bytes(void *ctx, cbor_data p, size_t n)
{
    (void)p, (void)n;
    s_fail(ctx, "byte strings are not allowed in bodies");
}
static void s_on_bytes_start(void *ctx) { s_fail(ctx, "byte strings are not allowed in bodies"); }
static void s_on_tag(void *ctx, uint64_t v)
{
    (void)v;
    s_fail(ctx, "tagged items are not allowed in bodies");
}
static void s_on_undefined(void *ctx) { s_fail(ctx, "unsupported simple value (undefined)"); }
static void s_on_indefinite(void *ctx) { s_fail(ctx, "indefinite lengths are not allowed"); }

static const struct cbor_callbacks s_callbacks = {
    .uint8 = s_on_u8,
    .uint16 = s_on_u16,
    .uint32 = s_on_u32,
    .uint64 = s_on_u64,
    .negint8 = s_on_n8,
    .negint16 = s_on_n16,
    .negint32 = s_on_n32,
    .negint64 = s_on_n64,
    .byte_string_start = s_on_bytes_start,
    .byte_string = s_on_bytes,
    .string = s_on_string,
    .string_start = s_on_indefinite,
    .indef_array_start = s_on_indefinite,
    .array_start = s_on_array,
    .indef_map_start = s_on_indefinite,
    .map_start = s_on_map,
    .tag = s_on_tag,
    .float2 = s_on_float,
    .float4 = s_on_float,
    .float8 = s_on_double,
    .undefined = s_on_undefined,
    .null = s_on_null,
    .boolean = s_on_bool,
    .indef_break = s_on_indefinite,
};

static cJSON *s_decode_cbor(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    s_builder_t b = {.err = err, .errlen = errlen};
    size_t pos = 0;
    while (pos < len && !s_done(&b) && !b.failed) {
        b.remaining = len - pos;
        struct cbor_decoder_result r = cbor_stream_decode(buf + pos, len - pos, &s_callbacks, &b);
        if (b.failed)
            break;
        if (r.status != CBOR_DECODER_FINISHED) {
            snprintf(err, errlen, "cbor: malformed at byte %zu", pos);
            b.failed = true;
            break;
        }
        pos += r.read;
    }
    if (!b.failed && !s_done(&b))
        snprintf(err, errlen, "cbor: malformed, input ends inside an item at byte %zu", pos);
    else if (!b.failed && pos < len)
        snprintf(err, errlen, "cbor: %zu trailing bytes", len - pos);
    else if (!b.failed)
        return b.root;
    cJSON_Delete(b.root);
    return NULL;
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

/* Heads go straight into one growing buffer with libcbor's encoders; no item
 * tree is built (see the decoder). */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} s_out_t;

static int s_reserve(s_out_t *o, size_t n)
{
    uint8_t *p = af_grow(o->p, &o->cap, o->len + n, 256);
    if (!p)
        return -1;
    o->p = p;
    return 0;
}

/* Appends one head (at most 9 bytes) written by a libcbor encoder. */
#define S_HEAD(o, call)                                                                            \
    do {                                                                                           \
        if (s_reserve((o), 9) < 0)                                                                 \
            return -1;                                                                             \
        size_t w_ = (call);                                                                        \
        if (w_ == 0)                                                                               \
            return -1;                                                                             \
        (o)->len += w_;                                                                            \
    } while (0)

static int s_text(s_out_t *o, const char *s)
{
    size_t n = strlen(s);
    S_HEAD(o, cbor_encode_string_start(n, o->p + o->len, o->cap - o->len));
    if (s_reserve(o, n) < 0)
        return -1;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

static int s_to_cbor(s_out_t *o, const cJSON *j)
{
    if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
        size_t n = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            n++;
        bool map = cJSON_IsObject(j);
        S_HEAD(o, map ? cbor_encode_map_start(n, o->p + o->len, o->cap - o->len)
                      : cbor_encode_array_start(n, o->p + o->len, o->cap - o->len));
        for (const cJSON *c = j->child; c; c = c->next)
            if ((map && s_text(o, c->string ? c->string : "") < 0) || s_to_cbor(o, c) < 0)
                return -1;
        return 0;
    }
    if (cJSON_IsString(j))
        return s_text(o, j->valuestring);
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        /* Integral values inside the exact double range travel as CBOR integers,
         * in the shortest head. */
        if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
            if (d >= 0)
                S_HEAD(o, cbor_encode_uint((uint64_t)d, o->p + o->len, o->cap - o->len));
            else
                S_HEAD(o, cbor_encode_negint((uint64_t)(-1.0 - d), o->p + o->len, o->cap - o->len));
        } else
            S_HEAD(o, cbor_encode_double(d, o->p + o->len, o->cap - o->len));
        return 0;
    }
    if (cJSON_IsBool(j))
        S_HEAD(o, cbor_encode_bool(cJSON_IsTrue(j), o->p + o->len, o->cap - o->len));
    else
        S_HEAD(o, cbor_encode_null(o->p + o->len, o->cap - o->len));
    return 0;
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
    s_out_t o = {0};
    if (s_to_cbor(&o, body) < 0) {
        free(o.p);
        return -1;
    }
    *out = o.p;
    *len = o.len;
    return 0;
}
