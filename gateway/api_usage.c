/* Usage and budgets over HTTP. See api_usage.h.
 * GET /v1/usage → {user, budget: {daily_tokens, used, remaining, reset_at},
 * today: {...}, last_30_days: {...}} (usage.h's report), degraded: true when
 * Redis failed on the way. A wait on Redis holds a small ticket that the
 * client's departure clears. */
#include "api_usage.h"

#include "budget.h"
#include "cost.h"
#include "usage.h"
#include "util.h"

#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    af_gw_req_t *r; /* NULL: the client left */
} s_ticket_t;

static void s_gone(af_gw_req_t *r)
{
    s_ticket_t *t = r->cost_wait;
    if (t)
        t->r = NULL;
    r->cost_wait = NULL;
}

static cJSON *s_budget(const af_cost_config_t *cfg, const char *user, long long used)
{
    af_budget_state_t st;
    af_budget_eval(af_cost_config_budget(cfg, user), used, af_wall_ms(), &st);
    char reset[32];
    af_budget_iso(st.reset_ms, reset, sizeof reset);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "daily_tokens", (double)st.limit);
    cJSON_AddNumberToObject(b, "used", (double)st.used);
    if (st.remaining >= 0)
        cJSON_AddNumberToObject(b, "remaining", (double)st.remaining);
    else
        cJSON_AddNullToObject(b, "remaining");
    cJSON_AddBoolToObject(b, "exceeded", st.over);
    cJSON_AddStringToObject(b, "reset_at", reset);
    return b;
}

static void s_on_days(void *arg, const cJSON *days, bool degraded)
{
    s_ticket_t *t = arg;
    af_gw_req_t *r = t->r;
    free(t);
    if (!r)
        return;
    r->on_gone = NULL;
    r->cost_wait = NULL;
    if (!days) {
        af_gw_reply_error(r, 500, "api_error", "out of memory");
        return;
    }
    const af_cost_config_t *cfg = af_cost_config(r->gw->cost);
    cJSON *out = af_usage_report(cfg, days, af_budget_day(af_wall_ms()));
    cJSON_AddStringToObject(out, "user", r->owner);
    cJSON_AddItemToObject(out, "budget",
                          s_budget(cfg, r->owner, af_usage_budget_used(cJSON_GetArrayItem(days, 0))));
    if (degraded)
        cJSON_AddBoolToObject(out, "degraded", true);
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}

void af_api_usage(af_gw_req_t *r)
{
    if (!r->gw->cost) {
        af_gw_reply_error(r, 404, "not_found_error", "usage accounting is off");
        return;
    }
    const char *who = r->who.user;
    struct evkeyvalq q;
    memset(&q, 0, sizeof q);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    char asked[AF_USER_MAX] = "";
    if (query && evhttp_parse_query_str(query, &q) == 0) {
        const char *u = evhttp_find_header(&q, "user");
        if (u)
            snprintf(asked, sizeof asked, "%.63s", u);
        evhttp_clear_headers(&q);
    }
    if (asked[0]) {
        if (!af_user_valid(asked)) {
            af_gw_reply_error(r, 400, "invalid_request_error", "user: not a valid user name");
            return;
        }
        if (strcmp(asked, who) != 0 && r->who.role != AF_ROLE_ADMIN) {
            af_gw_reply_error(r, 403, "permission_error", "only admins may see another user's usage");
            return;
        }
        who = asked;
    }
    snprintf(r->owner, sizeof r->owner, "%s", who);
    s_ticket_t *t = calloc(1, sizeof *t);
    if (!t) {
        af_gw_reply_error(r, 500, "api_error", "out of memory");
        return;
    }
    t->r = r;
    r->cost_wait = t;
    r->on_gone = s_gone;
    af_gw_req_watch_close(r);
    af_usage_fetch(af_cost_usage(r->gw->cost), r->owner, af_budget_day(af_wall_ms()),
                   AF_USAGE_DAYS, s_on_days, t);
}

void af_api_budget_reset(af_gw_req_t *r)
{
    const char *user = r->match.params[0];
    if (r->who.role != AF_ROLE_ADMIN) {
        af_gw_audit(r, "budget_reset", 403, "forbidden", user);
        af_gw_reply_error(r, 403, "permission_error", "only admins may reset budgets");
        return;
    }
    if (!r->gw->cost) {
        af_gw_reply_error(r, 404, "not_found_error", "usage accounting is off");
        return;
    }
    if (!af_user_valid(user)) {
        af_gw_reply_error(r, 400, "invalid_request_error", "user: not a valid user name");
        return;
    }
    af_usage_budget_reset(af_cost_usage(r->gw->cost), user, af_budget_day(af_wall_ms()));
    af_gw_audit(r, "budget_reset", 200, "ok", user);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "user", user);
    cJSON_AddStringToObject(out, "status", "reset");
    cJSON_AddItemToObject(out, "budget", s_budget(af_cost_config(r->gw->cost), user, 0));
    af_gw_reply_json(r, 200, out);
    cJSON_Delete(out);
}
