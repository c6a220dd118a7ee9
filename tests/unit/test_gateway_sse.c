/* SSE framing: event + data lines + blank line; multi-line data split into
 * several data: lines; JSON data on one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/sse.h"

#include <stdlib.h>
#include <string.h>

static char *s_text(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = calloc(1, n + 1);
    evbuffer_remove(b, s, n);
    return s;
}

static void test_framing(void **state)
{
    (void)state;
    struct evbuffer *b = evbuffer_new();
    assert_int_equal(af_sse_format(b, "delta", "{\"text\":\"hi\"}"), 0);
    char *s = s_text(b);
    assert_string_equal(s, "event: delta\ndata: {\"text\":\"hi\"}\n\n");
    free(s);
    af_sse_format(b, NULL, "a\nb\r\nc");
    s = s_text(b);
    assert_string_equal(s, "data: a\ndata: b\ndata: c\n\n");
    free(s);
    assert_int_equal(af_sse_format(b, "bad\nname", "x"), -1);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "text", "line1\nline2");
    af_sse_format_json(b, "delta", j);
    s = s_text(b);
    /* The newline stays escaped inside the JSON: one data line. */
    assert_string_equal(s, "event: delta\ndata: {\"text\":\"line1\\nline2\"}\n\n");
    free(s);
    cJSON_Delete(j);
    evbuffer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_framing)};
    return cmocka_run_group_tests_name("gateway_sse", tests, NULL, NULL);
}
