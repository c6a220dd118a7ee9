/* Request validation and mapping: bodies become AF1 CHAT / SPAWN fields,
 * aliases work, and every wrong or missing field is named in the error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/validate.h"

#include <string.h>

static cJSON *J(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

#define DM "claude-3-5-sonnet-20241022"

static void test_chat_maps_fields_and_aliases(void **state)
{
    (void)state;
    af_chat_meta_t m;
    char err[256];
    cJSON *in = J("{\"prompt\":\"hi\",\"system_prompt\":\"be brief\",\"max_tokens\":50,"
                  "\"temperature\":0.5,\"stream\":true,\"session_id\":\"se_1\"}");
    cJSON *out = af_validate_chat(in, DM, &m, err, sizeof err);
    assert_non_null(out);
    assert_string_equal(cJSON_GetObjectItem(out, "message")->valuestring, "hi");
    assert_string_equal(cJSON_GetObjectItem(out, "system")->valuestring, "be brief");
    assert_string_equal(cJSON_GetObjectItem(out, "model")->valuestring, DM);
    assert_int_equal(cJSON_GetObjectItem(out, "max_tokens")->valueint, 50);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(out, "stream")));
    assert_null(cJSON_GetObjectItem(out, "prompt"));
    assert_string_equal(m.session_id, "se_1");
    assert_true(m.stream);
    cJSON_Delete(in);
    cJSON_Delete(out);
    in = J("{\"message\":\"hi\",\"model\":\"claude-x\"}");
    out = af_validate_chat(in, DM, &m, err, sizeof err);
    assert_string_equal(cJSON_GetObjectItem(out, "model")->valuestring, "claude-x");
    assert_false(m.stream);
    assert_string_equal(m.session_id, "");
    cJSON_Delete(in);
    cJSON_Delete(out);
}

static void s_chat_err(const char *body, const char *want)
{
    af_chat_meta_t m;
    char err[256] = "";
    cJSON *in = J(body);
    assert_null(af_validate_chat(in, DM, &m, err, sizeof err));
    if (!strstr(err, want))
        fail_msg("body %s: error '%s' does not name '%s'", body, err, want);
    cJSON_Delete(in);
}

static void test_chat_errors_name_the_field(void **state)
{
    (void)state;
    s_chat_err("{}", "message: Field required");
    s_chat_err("{\"message\":\"\"}", "message");
    s_chat_err("{\"message\":5}", "message");
    s_chat_err("{\"message\":\"a\",\"prompt\":\"b\"}", "not both");
    s_chat_err("{\"message\":\"a\",\"max_tokens\":0}", "max_tokens");
    s_chat_err("{\"message\":\"a\",\"max_tokens\":1.5}", "max_tokens");
    s_chat_err("{\"message\":\"a\",\"temperature\":2}", "temperature");
    s_chat_err("{\"message\":\"a\",\"stream\":\"yes\"}", "stream");
    s_chat_err("{\"message\":\"a\",\"session_id\":\"../x\"}", "session_id");
    s_chat_err("{\"message\":\"a\",\"model\":\"\"}", "model");
    s_chat_err("{\"message\":\"a\",\"colour\":1}", "colour");
    s_chat_err("[1]", "body");
}

static void test_messages_shape(void **state)
{
    (void)state;
    af_chat_meta_t m;
    char err[256];
    cJSON *in = J("{\"model\":\"claude-3-5-haiku\",\"max_tokens\":100,\"stream\":true,"
                  "\"system\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}],"
                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                  "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"yo\"}]},"
                  "{\"role\":\"user\",\"content\":\"again\"}],\"metadata\":{\"user_id\":\"u\"}}");
    cJSON *out = af_validate_messages(in, &m, err, sizeof err);
    assert_non_null(out);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "messages")), 3);
    assert_string_equal(cJSON_GetObjectItem(out, "system")->valuestring, "a\nb");
    assert_string_equal(m.model, "claude-3-5-haiku");
    assert_true(m.stream);
    assert_null(cJSON_GetObjectItem(out, "metadata"));
    cJSON_Delete(in);
    cJSON_Delete(out);
}

static void s_msg_err(const char *body, const char *want)
{
    af_chat_meta_t m;
    char err[256] = "";
    cJSON *in = J(body);
    assert_null(af_validate_messages(in, &m, err, sizeof err));
    if (!strstr(err, want))
        fail_msg("body %s: error '%s' does not name '%s'", body, err, want);
    cJSON_Delete(in);
}

static void test_messages_errors(void **state)
{
    (void)state;
    s_msg_err("{\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
              "model: Field required");
    s_msg_err("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
              "max_tokens: Field required");
    s_msg_err("{\"model\":\"m\",\"max_tokens\":1}", "messages: Field required");
    s_msg_err("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[]}", "messages");
    s_msg_err("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
              "messages.0.role");
    s_msg_err("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\"}]}",
              "messages.0.content");
    s_msg_err("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"image\"}]}]}",
              "messages.0.content.0.type");
    s_msg_err("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
              "\"tools\":[]}",
              "tools");
}

static void test_spawn_scale_and_ref(void **state)
{
    (void)state;
    char err[256], id[64];
    cJSON *out = af_validate_spawn(NULL, err, sizeof err);
    assert_non_null(out);
    assert_null(cJSON_GetObjectItem(out, "spec"));
    cJSON_Delete(out);
    cJSON *in = J("{\"cores\":2,\"memory_mb\":1024,\"count\":3}");
    out = af_validate_spawn(in, err, sizeof err);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "spec"), "cores")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(out, "count")->valueint, 3);
    cJSON_Delete(in);
    cJSON_Delete(out);
    const char *bad[] = {"{\"cores\":0}", "{\"memory_mb\":100}", "{\"count\":51}",
                         "{\"spec\":{\"gpus\":1}}", "{\"spec\":5}", "{\"image\":\"\"}", NULL};
    const char *want[] = {"cores", "memory_mb", "count", "gpus", "spec", "image"};
    for (int i = 0; bad[i]; i++) {
        in = J(bad[i]);
        assert_null(af_validate_spawn(in, err, sizeof err));
        assert_non_null(strstr(err, want[i]));
        cJSON_Delete(in);
    }
    long target;
    in = J("{\"target\":12}");
    assert_int_equal(af_validate_scale(in, &target, err, sizeof err), 0);
    assert_int_equal(target, 12);
    cJSON_Delete(in);
    in = J("{\"target\":-1}");
    assert_int_equal(af_validate_scale(in, &target, err, sizeof err), -1);
    assert_non_null(strstr(err, "target"));
    cJSON_Delete(in);
    in = J("{\"agent_id\":\"ag_1\"}");
    assert_int_equal(af_validate_agent_ref(in, id, err, sizeof err), 0);
    assert_string_equal(id, "ag_1");
    cJSON_Delete(in);
    in = J("{}");
    assert_int_equal(af_validate_agent_ref(in, id, err, sizeof err), -1);
    assert_non_null(strstr(err, "agent_id"));
    cJSON_Delete(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_maps_fields_and_aliases),
        cmocka_unit_test(test_chat_errors_name_the_field),
        cmocka_unit_test(test_messages_shape),
        cmocka_unit_test(test_messages_errors),
        cmocka_unit_test(test_spawn_scale_and_ref),
    };
    return cmocka_run_group_tests_name("gateway_validate", tests, NULL, NULL);
}
