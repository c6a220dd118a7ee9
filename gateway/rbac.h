/* Who is calling and what they may do: the principal an authenticated request
 * carries (user + role) and the role rules (users touch their own things,
 * admins everything and may scale). No I/O. */
#ifndef AF_GW_RBAC_H
#define AF_GW_RBAC_H

#include <stdbool.h>

#define AF_USER_MAX 64

typedef enum { AF_ROLE_NONE = 0, AF_ROLE_USER, AF_ROLE_ADMIN } af_role_t;

typedef struct {
    char user[AF_USER_MAX];
    af_role_t role;
    const char *via; /* "jwt" or "key": static string */
} af_principal_t;

typedef enum {
    AF_ACT_SPAWN,
    AF_ACT_LIST,
    AF_ACT_GET,
    AF_ACT_DELETE,
    AF_ACT_CHAT,
    AF_ACT_SESSION,
    AF_ACT_STATS,
    AF_ACT_SCALE,
    AF_ACT_MESSAGES
} af_action_t;

/* "user" | "admin" → role; -1 otherwise. */
int af_role_parse(const char *name, af_role_t *out);
const char *af_role_name(af_role_t role);

/* True when s is a usable user name: 1..63 bytes of [A-Za-z0-9_.@-]. */
bool af_user_valid(const char *s);

/* True when the principal's role allows the action at all (ownership is checked
 * per object, by the manager and agents, with af_rbac_owns). */
bool af_rbac_allows(const af_principal_t *p, af_action_t action);

/* True when p may touch an object owned by owner (its own, or any for admins). */
bool af_rbac_owns(const af_principal_t *p, const char *owner);

#endif
