/* Model routing (issue #10): picks the model for a chat that names none from
 * the configured rules (first match wins, else the routing default), so cheap
 * requests go to a cheaper model. Pure: rules are data in cost_config.h. */
#ifndef AF_GW_MODEL_ROUTE_H
#define AF_GW_MODEL_ROUTE_H

#include "cost_config.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

typedef struct {
    long prompt_chars;  /* bytes of text in system + messages (or message) */
    long max_tokens;    /* 0: the request gave none */
    bool tools;         /* the request carries tools */
} af_route_in_t;

/* Measures a raw HTTP body of /v1/messages or /v1/chat (before validation;
 * shapes it does not know count as 0 bytes). */
void af_model_route_measure(const cJSON *body, af_route_in_t *out);

/* Returns the model and sets *rule to the matching rule's name (or
 * "default"). fallback is used when the config has no routing default. */
const char *af_model_route_pick(const af_cost_config_t *c, const char *fallback,
                                const af_route_in_t *in, const char **rule);

#endif
