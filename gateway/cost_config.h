/* The cost-control settings (issue #10) as data: per-role max_tokens ceilings
 * and model allow-lists, daily token budgets (default and per user), model
 * routing rules, response-cache settings per route, and prices for cost
 * estimates. Parsed from one JSON file (--cost-config); pure, no I/O but the
 * file read. Defaults apply to everything the file leaves out. */
#ifndef AF_GW_COST_CONFIG_H
#define AF_GW_COST_CONFIG_H

#include "rbac.h"

#include <stdbool.h>
#include <stddef.h>

#define AF_COST_MODELS_MAX 16
#define AF_COST_RULES_MAX 16
#define AF_COST_USERS_MAX 4096
#define AF_COST_MODEL_LEN 96

typedef struct {
    char name[32];
    char model[AF_COST_MODEL_LEN];
    long max_prompt_chars;   /* 0: any; else prompt (system + messages) at most this */
    long max_tokens;         /* 0: any; else max_tokens (or the default) at most this */
    int tools;               /* -1 any, 0 only without tools, 1 only with */
} af_cost_rule_t;

typedef struct {
    char model[AF_COST_MODEL_LEN];
    double input_per_mtok, output_per_mtok; /* USD per million tokens */
} af_cost_price_t;

typedef struct {
    bool enabled;   /* cached without the client asking */
    bool shared;    /* one entry for every user (else the key includes the user) */
} af_cost_cache_route_t;

typedef struct {
    char user[AF_USER_MAX];
    long long daily_tokens;
} af_cost_user_budget_t;

typedef struct {
    long max_tokens_ceiling[3];                        /* by af_role_t */
    /* allow-list by role; n < 0 = any model */
    char models[3][AF_COST_MODELS_MAX][AF_COST_MODEL_LEN];
    int nmodels[3];
    long long budget_default;                          /* tokens/day, 0 = unlimited */
    af_cost_user_budget_t *users;                      /* sorted by user */
    size_t nusers;
    char route_default[AF_COST_MODEL_LEN];             /* "" = the gateway's --default-model */
    af_cost_rule_t rules[AF_COST_RULES_MAX];
    int nrules;
    long cache_ttl_s;
    bool cache_any_temperature;                        /* else only temperature 0 */
    size_t cache_memory_max_bytes;
    af_cost_cache_route_t cache_messages;              /* POST /v1/messages */
    af_cost_price_t prices[AF_COST_MODELS_MAX];
    int nprices;
} af_cost_config_t;

/* Fills the defaults: max_tokens 8192 for users and 200000 for admins, any
 * model, no budget, no rules, cache TTL 3600 s for temperature 0 only, 64 MiB
 * memory cache, cache off unless asked, prices of the current Claude models. */
void af_cost_config_defaults(af_cost_config_t *c);

/* Parses JSON text over the defaults. Returns 0, or -1 with "path: why" in
 * err (c then holds the defaults). Frees what c held before. */
int af_cost_config_parse(af_cost_config_t *c, const char *text, char *err, size_t errlen);
/* Reads and parses a file. */
int af_cost_config_load(af_cost_config_t *c, const char *path, char *err, size_t errlen);
void af_cost_config_clear(af_cost_config_t *c);

/* The user's daily budget (0 = unlimited). */
long long af_cost_config_budget(const af_cost_config_t *c, const char *user);
/* True when role may use model. */
bool af_cost_config_model_allowed(const af_cost_config_t *c, af_role_t role, const char *model);
/* Price of a model: exact name, else the longest configured prefix (so
 * "claude-3-5-haiku" prices every haiku date); NULL when unknown. */
const af_cost_price_t *af_cost_config_price(const af_cost_config_t *c, const char *model);

#endif
