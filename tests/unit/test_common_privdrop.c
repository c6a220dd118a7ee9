/* af_privdrop for real, each case in a forked child (the drop cannot be undone
 * and NO_NEW_PRIVS is for life): as root, dropping to `nobody` sets every uid
 * and gid and the group list, root cannot come back, NO_NEW_PRIVS is on,
 * RLIMIT_CORE is 0 and the process is not dumpable; an unknown user or root
 * itself is refused with nothing changed; no user keeps the identity but still
 * hardens. The root-only cases are skipped when the suite does not run as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"
#include "privdrop.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Built with ASan, af_privdrop keeps the process dumpable (LeakSanitizer needs it). */
#if defined(__SANITIZE_ADDRESS__)
#define S_DUMPABLE_AFTER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_DUMPABLE_AFTER 1
#endif
#endif
#ifndef S_DUMPABLE_AFTER
#define S_DUMPABLE_AFTER 0
#endif

/* What the child saw after its call, sent back through a pipe. */
typedef struct {
    int rc;
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    int ngroups;
    gid_t groups[8];
    int no_new_privs;
    int no_new_privs_before;
    int dumpable;
    rlim_t core_cur, core_max;
    int setuid0_ok; /* setuid(0) succeeded afterwards */
} s_seen_t;

/* Runs af_privdrop(user) in a child, after pre() if given, and returns what the
 * child observed. */
static s_seen_t s_run(const char *user, void (*pre)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (pre)
            pre();
        s_seen_t s;
        memset(&s, 0, sizeof s);
        s.no_new_privs_before = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        s.rc = af_privdrop(user);
        getresuid(&s.ruid, &s.euid, &s.suid);
        getresgid(&s.rgid, &s.egid, &s.sgid);
        s.ngroups = getgroups(8, s.groups);
        s.no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        s.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        struct rlimit rl;
        getrlimit(RLIMIT_CORE, &rl);
        s.core_cur = rl.rlim_cur;
        s.core_max = rl.rlim_max;
        s.setuid0_ok = setuid(0) == 0;
        ssize_t w = write(fds[1], &s, sizeof s);
        _exit(w == (ssize_t)sizeof s ? 0 : 1);
    }
    close(fds[1]);
    s_seen_t s;
    memset(&s, 0, sizeof s);
    ssize_t r = read(fds[0], &s, sizeof s);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(r, (ssize_t)sizeof s);
    return s;
}

static void s_need_root(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "not root: skipped\n");
        skip();
    }
}

/* The user `nobody` for a test that needs root; skips when either is missing. */
static struct passwd *s_need_nobody(void)
{
    s_need_root();
    struct passwd *pw = getpwnam("nobody");
    if (!pw)
        skip();
    return pw;
}

/* The child starts with core dumps allowed and extra groups, so the test sees
 * af_privdrop change them rather than find them already so. */
static void s_loosen(void)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (geteuid() == 0) {
        gid_t extra[2] = {0, 4};
        setgroups(2, extra);
    }
}

static void s_expect_hardened(const s_seen_t *s)
{
    assert_int_equal(s->no_new_privs_before, 0); /* else the check below proves nothing */
    assert_int_equal(s->no_new_privs, 1);
    assert_int_equal(s->dumpable, S_DUMPABLE_AFTER);
    assert_int_equal(s->core_cur, 0);
    assert_int_equal(s->core_max, 0);
}

static void test_drop_to_nobody(void **state)
{
    (void)state;
    struct passwd *pw = s_need_nobody();
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    s_seen_t s = s_run("nobody", s_loosen);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.ruid, uid);
    assert_int_equal(s.euid, uid);
    assert_int_equal(s.suid, uid);
    assert_int_equal(s.rgid, gid);
    assert_int_equal(s.egid, gid);
    assert_int_equal(s.sgid, gid);
    assert_int_equal(s.ngroups, 1); /* root's supplementary groups are gone */
    assert_int_equal(s.groups[0], gid);
    assert_false(s.setuid0_ok);
    s_expect_hardened(&s);
}

static void test_unknown_user_refused(void **state)
{
    (void)state;
    s_need_root();
    s_seen_t s = s_run("af_no_such_user_x9", s_loosen);
    assert_int_equal(s.rc, -1);
    /* Nothing half-done: still root, the caller must stop. */
    assert_int_equal(s.euid, 0);
    assert_int_equal(s.ruid, 0);
    assert_int_equal(s.egid, 0);
}

static void test_root_as_target_refused(void **state)
{
    (void)state;
    s_need_root();
    s_seen_t s = s_run("root", s_loosen);
    assert_int_equal(s.rc, -1);
    assert_int_equal(s.euid, 0);
}

static void test_no_user_keeps_identity_but_hardens(void **state)
{
    (void)state;
    uid_t me = geteuid();
    s_seen_t s = s_run(NULL, s_loosen);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.euid, me);
    s_expect_hardened(&s);
    s = s_run("", s_loosen);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.euid, me);
    s_expect_hardened(&s);
}

/* Already unprivileged (a daemon started as its own user): the user option has
 * nothing to switch and is not an error; hardening still applies. */
static void s_become_nobody(void)
{
    s_loosen();
    struct passwd *pw = getpwnam("nobody");
    if (pw && geteuid() == 0) {
        setgroups(1, &pw->pw_gid);
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid);
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid);
    }
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* setresuid cleared it */
}

static void test_unprivileged_with_user_is_noop_switch(void **state)
{
    (void)state;
    struct passwd *pw = s_need_nobody();
    uid_t uid = pw->pw_uid;
    s_seen_t s = s_run("daemon", s_become_nobody);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.euid, uid); /* not switched to `daemon`: it could not be */
    s_expect_hardened(&s);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_to_nobody),
        cmocka_unit_test(test_unknown_user_refused),
        cmocka_unit_test(test_root_as_target_refused),
        cmocka_unit_test(test_no_user_keeps_identity_but_hardens),
        cmocka_unit_test(test_unprivileged_with_user_is_noop_switch),
    };
    return cmocka_run_group_tests_name("privdrop", tests, NULL, NULL);
}
