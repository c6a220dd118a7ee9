/* libFuzzer: the session history document read back from Redis
 * (session:{id}, written by some agent, so not trusted: it may be corrupt,
 * truncated or written by another version). Invariants: no crash or leak; a
 * document that applies cleanly round-trips (encode -> apply gives the same
 * turns, settings and usage). */
#include "../../agentd/history_store.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (!doc)
        return 0;
    af_sessions_t *t = af_sessions_new(2, 60, 100);
    bool full;
    af_session_t *s = t ? af_sessions_create(t, "se_a", "u", 1, 1, &full) : NULL;
    const char *user = af_history_doc_user(doc);
    if (s && af_history_apply(s, doc) == 0) {
        assert(user);
        cJSON *again = af_history_encode(s);
        af_session_t *s2 = af_sessions_create(t, "se_b", "u", 1, 1, &full);
        assert(again && s2 && af_history_apply(s2, again) == 0);
        assert(s2->nturns == s->nturns && s2->max_tokens == s->max_tokens);
        assert(s2->input_tokens == s->input_tokens && s2->output_tokens == s->output_tokens);
        assert((isnan(s2->temperature) && isnan(s->temperature)) || s2->temperature == s->temperature);
        for (uint32_t i = 0; i < s->nturns; i++)
            assert(!strcmp(s->turns[i], s2->turns[i]));
        assert((!s->system && !s2->system) || (s->system && s2->system && !strcmp(s->system, s2->system)));
        cJSON_Delete(again);
    }
    af_sessions_destroy(&t);
    cJSON_Delete(doc);
    return 0;
}
