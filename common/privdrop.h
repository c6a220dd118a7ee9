/* Process hardening after the listeners are bound: drop root to an unprivileged
 * user, forbid regaining privileges (PR_SET_NO_NEW_PRIVS), no core dumps and not
 * dumpable (the memory holds keys). Does not chroot or touch file permissions. */
#ifndef AF_PRIVDROP_H
#define AF_PRIVDROP_H

/* When running as root and user is set, switches groups, gid and uid to user's and
 * checks root cannot be regained. Always: NO_NEW_PRIVS, RLIMIT_CORE 0, not dumpable.
 * user NULL or "" keeps the current identity (a warning when that is root).
 * Returns 0, or -1 (logged) when any step fails: the caller must not run on. */
int af_privdrop(const char *user);

#endif
