/* CBOR/JSON body codec: round trips, deterministic bytes, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *s_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    return j;
}

static void s_roundtrip(const char *text)
{
    cJSON *j = s_json(text);
    for (int c = 0; c < 2; c++) {
        uint8_t *buf;
        size_t len;
        assert_int_equal(af_codec_encode(j, (af_codec_t)c, &buf, &len), 0);
        char err[128];
        af_codec_t seen;
        cJSON *back = af_codec_decode(buf, len, &seen, err, sizeof err);
        assert_non_null(back);
        assert_int_equal(seen, c);
        assert_true(cJSON_Compare(j, back, 1));
        cJSON_Delete(back);
        free(buf);
    }
    cJSON_Delete(j);
}

static void test_roundtrip(void **state)
{
    (void)state;
    s_roundtrip("{}");
    s_roundtrip("{\"req\":\"1\",\"a\":[1,-1,0,255,256,65535,65536,4294967296,-4294967297],"
                "\"b\":{\"c\":null,\"d\":true,\"e\":false,\"f\":1.5,\"g\":-0.25},\"h\":\"\","
                "\"u\":\"héllo ✓\"}");
    s_roundtrip("{\"big\":9007199254740992,\"neg\":-9007199254740992,\"frac\":1e-300}");
}

static void test_deterministic_cbor(void **state)
{
    (void)state;
    cJSON *j = s_json("{\"a\":1,\"b\":[500,-1],\"c\":0.5}");
    uint8_t *buf;
    size_t len;
    assert_int_equal(af_codec_encode(j, AF_CODEC_CBOR, &buf, &len), 0);
    /* a3 61'a' 01 61'b' 82 1901f4 20 61'c' fb3fe0000000000000 */
    const uint8_t want[] = {0xa3, 0x61, 'a', 0x01, 0x61, 'b', 0x82, 0x19, 0x01, 0xf4, 0x20,
                            0x61, 'c',  0xfb, 0x3f, 0xe0, 0,    0,    0,    0,    0,    0};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, len);
    free(buf);
    cJSON_Delete(j);
}

/* CBOR from other encoders: shorter float forms, empty containers closing
 * their parents, nesting that ends several levels at once. */
static void s_decodes_to(const uint8_t *buf, size_t len, const char *want_json)
{
    char err[160] = "";
    cJSON *got = af_codec_decode(buf, len, NULL, err, sizeof err);
    if (!got)
        fail_msg("refused: %s", err);
    cJSON *want = s_json(want_json);
    if (!cJSON_Compare(got, want, 1)) {
        char *g = cJSON_PrintUnformatted(got), msg[256];
        snprintf(msg, sizeof msg, "decoded %s, want %s", g ? g : "?", want_json);
        free(g);
        fail_msg("%s", msg);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
}

static void test_foreign_cbor(void **state)
{
    (void)state;
    const uint8_t half[] = {0xa1, 0x61, 'h', 0xf9, 0x3c, 0x00};
    s_decodes_to(half, sizeof half, "{\"h\":1}");
    const uint8_t single[] = {0xa1, 0x61, 's', 0xfa, 0x3f, 0xc0, 0x00, 0x00};
    s_decodes_to(single, sizeof single, "{\"s\":1.5}");
    const uint8_t empties[] = {0xa2, 0x61, 'a', 0xa0, 0x61, 'b', 0x80};
    s_decodes_to(empties, sizeof empties, "{\"a\":{},\"b\":[]}");
    const uint8_t nested[] = {0xa2, 0x61, 'x', 0x82, 0xa1, 0x61, 'y', 0x81, 0x01, 0xa0, 0x61, 'z', 0x20};
    s_decodes_to(nested, sizeof nested, "{\"x\":[{\"y\":[1]},{}],\"z\":-1}");
    const uint8_t longstr[] = {0xa1, 0x61, 'k', 0x78, 0x03, 'a', 'b', 'c'}; /* 1-byte length head */
    s_decodes_to(longstr, sizeof longstr, "{\"k\":\"abc\"}");
    char err[160] = "";
    const uint8_t inf[] = {0xa1, 0x61, 'h', 0xf9, 0x7c, 0x00};
    assert_null(af_codec_decode(inf, sizeof inf, NULL, err, sizeof err));
    assert_non_null(strstr(err, "non-finite"));
    const uint8_t undef[] = {0xa1, 0x61, 'u', 0xf7};
    assert_null(af_codec_decode(undef, sizeof undef, NULL, err, sizeof err));
    assert_non_null(strstr(err, "undefined"));
    /* A value missing after its key, and an array one item short. */
    const uint8_t nokey[] = {0xa1, 0x61, 'k'};
    assert_null(af_codec_decode(nokey, sizeof nokey, NULL, err, sizeof err));
    assert_non_null(strstr(err, "malformed"));
    const uint8_t short_arr[] = {0xa1, 0x61, 'k', 0x83, 0x01, 0x02};
    assert_null(af_codec_decode(short_arr, sizeof short_arr, NULL, err, sizeof err));
    assert_non_null(strstr(err, "malformed"));
}

static void s_refused(const uint8_t *buf, size_t len, const char *needle)
{
    char err[160] = "";
    cJSON *j = af_codec_decode(buf, len, NULL, err, sizeof err);
    assert_null(j);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_refusals(void **state)
{
    (void)state;
    s_refused((const uint8_t *)"", 0, "empty");
    s_refused((const uint8_t *)"{\"a\":", 5, "json");
    s_refused((const uint8_t *)"{} x", 4, "trailing");
    const uint8_t bytestr[] = {0xa1, 0x61, 'k', 0x42, 0x00, 0x01};
    s_refused(bytestr, sizeof bytestr, "byte strings");
    const uint8_t tag[] = {0xa1, 0x61, 'k', 0xc1, 0x01};
    s_refused(tag, sizeof tag, "tagged");
    const uint8_t intkey[] = {0xa1, 0x01, 0x02};
    s_refused(intkey, sizeof intkey, "key");
    const uint8_t array[] = {0x82, 0x01, 0x02};
    s_refused(array, sizeof array, "not a map");
    const uint8_t trailing[] = {0xa0, 0x00};
    s_refused(trailing, sizeof trailing, "trailing");
    const uint8_t truncated[] = {0xa2, 0x61, 'k'};
    s_refused(truncated, sizeof truncated, "malformed");
    const uint8_t dup[] = {0xa2, 0x61, 'k', 0x01, 0x61, 'k', 0x02};
    s_refused(dup, sizeof dup, "duplicate");
    const uint8_t nul[] = {0xa1, 0x61, 'k', 0x62, 'a', 0x00};
    s_refused(nul, sizeof nul, "NUL");
    /* Nesting: 40 levels of {"a":...} in both codecs. */
    char deep[512] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "{\"a\":");
    strcat(deep, "1");
    for (int i = 0; i < 40; i++)
        strcat(deep, "}");
    s_refused((const uint8_t *)deep, strlen(deep), "too deep");
    uint8_t cdeep[200];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        cdeep[n++] = 0xa1;
        cdeep[n++] = 0x61;
        cdeep[n++] = 'a';
    }
    cdeep[n++] = 0x01;
    s_refused(cdeep, n, "too deep");
    s_refused((const uint8_t *)"{\"n\":1e400}", 11, "out of range");
    s_refused((const uint8_t *)"{\"c\x8e\":1}", 8, "UTF-8");
    { const char *sur = "{\"c\":\"\xed\xa0\x80\"}"; s_refused((const uint8_t *)sur, strlen(sur), "UTF-8"); } /* surrogate */
    const uint8_t badtext[] = {0xa1, 0x61, 'k', 0x62, 0xc0, 0x80}; /* overlong NUL */
    s_refused(badtext, sizeof badtext, "cbor");
    { const char *d = "{\"user\":\"a\",\"user\":\"b\"}"; s_refused((const uint8_t *)d, strlen(d), "duplicate"); }
    s_refused((const uint8_t *)"{\"a\":\"x\0y\"}", 11, "control");
    { const char *z = "{\"a\":\"x\\u0000y\"}"; s_refused((const uint8_t *)z, strlen(z), "NUL"); } /* libcbor itself refuses bad UTF-8 */
    /* A map declaring 0xbabababa pairs in 9 bytes must not allocate for them. */
    const uint8_t huge[] = {0xba, 0xba, 0xba, 0xba, 0xba, 0xa1, 0x61, 'k', 0x01};
    s_refused(huge, sizeof huge, "malformed");
    const uint8_t indef[] = {0xbf, 0x61, 'k', 0x01, 0xff};
    s_refused(indef, sizeof indef, "indefinite");
}

static void test_codec_names(void **state)
{
    (void)state;
    af_codec_t c;
    assert_int_equal(af_codec_parse("json", &c), 0);
    assert_int_equal(c, AF_CODEC_JSON);
    assert_int_equal(af_codec_parse("cbor", &c), 0);
    assert_int_equal(c, AF_CODEC_CBOR);
    assert_int_equal(af_codec_parse("xml", &c), -1);
    assert_string_equal(af_codec_name(AF_CODEC_JSON), "json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_deterministic_cbor),
        cmocka_unit_test(test_foreign_cbor),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_codec_names),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
