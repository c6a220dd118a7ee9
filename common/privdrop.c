/* Privilege drop and hardening. See privdrop.h. */
#include "privdrop.h"

#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static int s_switch_user(const char *user)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        af_error("event=privdrop_failed user=%s error=\"%s\"", user,
                 errno ? strerror(errno) : "no such user");
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (uid == 0) {
        af_error("event=privdrop_failed user=%s error=\"user is root\"", user);
        return -1;
    }
    /* Groups first: once the uid is gone, setgroups is no longer allowed. */
    if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
        af_error("event=privdrop_failed user=%s error=\"%s\"", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0) {
        af_error("event=privdrop_failed user=%s error=\"root regained\"", user);
        return -1;
    }
    af_info("event=privileges_dropped user=%s uid=%d gid=%d", user, (int)uid, (int)gid);
    return 0;
}

int af_privdrop(const char *user)
{
    if (geteuid() == 0) {
        if (user && *user) {
            if (s_switch_user(user) < 0)
                return -1;
        } else {
            af_warn("event=running_as_root hint=\"set --user to drop privileges after binding\"");
        }
    }
    struct rlimit core = {0, 0};
    int dumpable = 0;
#if defined(__SANITIZE_ADDRESS__)
    dumpable = 1; /* LeakSanitizer ptraces the process at exit: it must stay dumpable */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    dumpable = 1;
#endif
#endif
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &core) < 0 ||
        prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0) < 0) {
        af_error("event=hardening_failed error=\"%s\"", strerror(errno));
        return -1;
    }
    return 0;
}
