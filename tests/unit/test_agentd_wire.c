/* The DELTA fast path writes exactly what common/codec.h writes for the same
 * body, at every string-length boundary of the CBOR heads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "codec.h"
#include "../../agentd/wire.h"

#include <stdlib.h>
#include <string.h>

static void s_check(size_t text_len)
{
    char *text = malloc(text_len + 1);
    for (size_t i = 0; i < text_len; i++)
        text[i] = (char)('a' + i % 26);
    text[text_len] = '\0';
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "req", "c1");
    cJSON_AddStringToObject(body, "text", text);
    uint8_t *want;
    size_t want_len;
    assert_int_equal(af_codec_encode(body, AF_CODEC_CBOR, &want, &want_len), 0);
    uint8_t *got = malloc(af_wire_pair_size(2, 4, text_len));
    size_t got_len = af_wire_pair_cbor(got, "c1", 2, "text", 4, text, text_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_true(got_len <= af_wire_pair_size(2, 4, text_len));
    free(got);
    free(want);
    free(text);
    cJSON_Delete(body);
}

static void test_matches_codec(void **state)
{
    (void)state;
    size_t lens[] = {0, 1, 2, 23, 24, 25, 255, 256, 257, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        s_check(lens[i]);
}

static void test_protocol_vector(void **state)
{
    (void)state;
    /* docs/protocol.md, DELTA: {"req":"c1","text":"Hi"} */
    static const uint8_t vec[] = {0xa2, 0x63, 0x72, 0x65, 0x71, 0x62, 0x63, 0x31,
                                  0x64, 0x74, 0x65, 0x78, 0x74, 0x62, 0x48, 0x69};
    uint8_t out[64];
    size_t n = af_wire_pair_cbor(out, "c1", 2, "text", 4, "Hi", 2);
    assert_int_equal(n, sizeof vec);
    assert_memory_equal(out, vec, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_codec),
        cmocka_unit_test(test_protocol_vector),
    };
    return cmocka_run_group_tests_name("agentd_wire", tests, NULL, NULL);
}
