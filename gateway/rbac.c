/* Role rules. See rbac.h. */
#include "rbac.h"

#include <string.h>

int af_role_parse(const char *name, af_role_t *out)
{
    if (!name)
        return -1;
    if (!strcmp(name, "user"))
        *out = AF_ROLE_USER;
    else if (!strcmp(name, "admin"))
        *out = AF_ROLE_ADMIN;
    else
        return -1;
    return 0;
}

const char *af_role_name(af_role_t role)
{
    switch (role) {
    case AF_ROLE_USER: return "user";
    case AF_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

bool af_user_valid(const char *s)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= AF_USER_MAX - 1)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '@'))
            return false;
    }
    return true;
}

bool af_rbac_allows(const af_principal_t *p, af_action_t action)
{
    if (!p || p->role == AF_ROLE_NONE || !p->user[0])
        return false;
    switch (action) {
    case AF_ACT_SCALE:
        return p->role == AF_ROLE_ADMIN;
    case AF_ACT_SPAWN:
    case AF_ACT_LIST:
    case AF_ACT_GET:
    case AF_ACT_DELETE:
    case AF_ACT_CHAT:
    case AF_ACT_SESSION:
    case AF_ACT_STATS:
    case AF_ACT_MESSAGES:
        return true;
    }
    return false;
}

bool af_rbac_owns(const af_principal_t *p, const char *owner)
{
    if (!p || p->role == AF_ROLE_NONE)
        return false;
    if (p->role == AF_ROLE_ADMIN)
        return true;
    return owner && !strcmp(owner, p->user);
}
