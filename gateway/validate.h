/* HTTP JSON body → AF1 request body, with field validation. Every function is
 * pure (no I/O, no globals), returns a new cJSON the caller owns (or 0), and on
 * failure returns NULL (-1) with a message naming the field in err, e.g.
 * "max_tokens: must be an integer in 1..200000". Fuzzed by
 * tests/fuzz/fuzz_gateway_validate.c. */
#ifndef AF_GW_VALIDATE_H
#define AF_GW_VALIDATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define AF_ID_MAX 63
#define AF_MAX_TOKENS_MAX 200000

typedef struct {
    char session_id[AF_ID_MAX + 1]; /* "" when the client named none */
    char model[128];
    bool stream;
} af_chat_meta_t;

/* True for an agent/session id we accept in a path or body: 1..63 of [A-Za-z0-9_-]. */
bool af_validate_id(const char *s);

/* POST /v1/agents/{id}/chat and /v1/chat: {session_id?, message|prompt,
 * system|system_prompt?, model?, max_tokens?, temperature?, stream?}. Returns
 * the CHAT body fields (message, system?, model, max_tokens?, temperature?,
 * stream) without req/user/session_id, which the caller adds. */
cJSON *af_validate_chat(const cJSON *in, const char *default_model, af_chat_meta_t *meta,
                        char *err, size_t errlen);

/* POST /v1/messages (Anthropic Messages API): {model, max_tokens, messages,
 * system?, temperature?, stream?, metadata?}. Returns CHAT fields (messages,
 * system? flattened to text, model, max_tokens, temperature?, stream). */
cJSON *af_validate_messages(const cJSON *in, af_chat_meta_t *meta, char *err, size_t errlen);

/* POST /v1/agents: {spec?: {cores?, memory_mb?, image?}, count?} (the spec
 * fields are also accepted at top level). Returns SPAWN fields {spec?, count?}. */
cJSON *af_validate_spawn(const cJSON *in, char *err, size_t errlen);

/* POST /v1/scale {target}: 0..100000. */
int af_validate_scale(const cJSON *in, long *target, char *err, size_t errlen);

/* DELETE /v1/agents/delete {agent_id}. Copies the id (AF_ID_MAX + 1 bytes). */
int af_validate_agent_ref(const cJSON *in, char *agent_id, char *err, size_t errlen);

#endif
