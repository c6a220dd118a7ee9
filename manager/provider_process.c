/* The process provider: agents as local child processes. See provider.h.
 * Contract: every child we fork is reaped (SIGCHLD -> waitpid loop) and reported
 * once as EXITED; destroy escalates SIGTERM -> SIGKILL on the whole process
 * group after the grace period. */
#include "provider.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define S_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_SANITIZED 1
#endif
#endif
#ifndef S_SANITIZED
#define S_SANITIZED 0
#endif

typedef struct s_child {
    char id[64];
    pid_t pid;
    bool adopted;            /* not our child (found in /proc after a restart) */
    bool killing;
    uint64_t kill_deadline_ns;
    struct s_child *next;
} s_child_t;

typedef struct s_proc {
    struct event_base *base;
    char *path;
    char *endpoint;
    int grace_ms;
    af_provider_event_fn *fn;
    void *arg;
    struct event *sigchld;
    struct event *tick;      /* escalation and adopted-process polling */
    s_child_t *children;
    bool keep;               /* HA: free leaves the agents running */
    bool pin_cpus;           /* --pin-cpus: spec.cores as CPU affinity */
} s_proc_t;

static uint64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static s_child_t *s_find(s_proc_t *self, const char *id)
{
    for (s_child_t *c = self->children; c; c = c->next)
        if (!strcmp(c->id, id))
            return c;
    return NULL;
}

static s_child_t *s_find_pid(s_proc_t *self, pid_t pid)
{
    for (s_child_t *c = self->children; c; c = c->next)
        if (c->pid == pid)
            return c;
    return NULL;
}

static void s_unlink(s_proc_t *self, s_child_t *child)
{
    for (s_child_t **p = &self->children; *p; p = &(*p)->next)
        if (*p == child) {
            *p = child->next;
            free(child);
            return;
        }
}

/* Signals the process group the child leads (falls back to the pid alone). */
static void s_signal(const s_child_t *c, int sig)
{
    if (kill(-c->pid, sig) < 0)
        kill(c->pid, sig);
}

/* ---- /proc scan ----------------------------------------------------------- */

typedef void(s_scan_fn)(pid_t pid, const char *agent_id, void *arg);

/* Calls fn for every process running our agentd binary whose argv says
 * --manager <our endpoint> (other managers on this host are not ours). */
static void s_scan(s_proc_t *self, s_scan_fn *fn, void *arg)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    char path[64], buf[4096];
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        const char *argv[64];
        int argc = 0;
        for (ssize_t i = 0; i < n && argc < 64; i += (ssize_t)strlen(buf + i) + 1)
            argv[argc++] = buf + i;
        if (argc < 1 || strcmp(argv[0], self->path) != 0)
            continue;
        const char *id = NULL, *mgr = NULL;
        for (int i = 1; i + 1 < argc; i++) {
            if (!strcmp(argv[i], "--id"))
                id = argv[i + 1];
            else if (!strcmp(argv[i], "--manager"))
                mgr = argv[i + 1];
        }
        if (id && mgr && !strcmp(mgr, self->endpoint))
            fn((pid_t)pid, id, arg);
    }
    closedir(d);
}

/* ---- reaping and escalation ---------------------------------------------- */


static void s_describe(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "agentd exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "agentd killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "agentd ended (status 0x%x)", status);
}

static void s_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    s_proc_t *self = arg;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        s_child_t *c = s_find_pid(self, pid);
        if (!c)
            continue;
        char detail[320], id[64];
        s_describe(status, detail, sizeof detail);
        snprintf(id, sizeof id, "%s", c->id);
        s_unlink(self, c);
        af_debug("event=agent_reaped agent_id=%s pid=%d detail=\"%s\"", id, (int)pid, detail);
        self->fn(self->arg, id, AF_PROVIDER_EV_EXITED, detail);
    }
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_proc_t *self = arg;
    uint64_t now = s_now_ns();
    s_child_t *c = self->children;
    while (c) {
        s_child_t *next = c->next;
        if (c->adopted && kill(c->pid, 0) < 0 && errno == ESRCH) {
            char id[64];
            snprintf(id, sizeof id, "%s", c->id);
            s_unlink(self, c);
            self->fn(self->arg, id, AF_PROVIDER_EV_EXITED, "adopted agentd is gone");
        } else if (c->killing && now >= c->kill_deadline_ns) {
            af_warn("event=agent_sigkill agent_id=%s pid=%d grace_ms=%d", c->id, (int)c->pid,
                    self->grace_ms);
            s_signal(c, SIGKILL);
            c->kill_deadline_ns = UINT64_MAX;
        }
        c = next;
    }
}

/* ---- ops ------------------------------------------------------------------- */

/* spec.cores as a CPU set: the agent may run on `cores` of the CPUs we may use,
 * a different window for each spawn (rotating) so agents spread over the box.
 * Pins the calling thread to that set and saves the old one in saved, because
 * a child inherits its parent thread's affinity through posix_spawn and exec:
 * no window in which the agent runs unpinned. Returns true when pinned (undo
 * with sched_setaffinity(0, saved)); false when cores covers every CPU. */
static bool s_pin_for_child(int cores, cpu_set_t *saved)
{
    static unsigned rotate;
    if (sched_getaffinity(0, sizeof *saved, saved) < 0)
        return false;
    int cpus[CPU_SETSIZE], n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, saved))
            cpus[n++] = c;
    if (cores <= 0 || cores >= n)
        return false;
    cpu_set_t want;
    CPU_ZERO(&want);
    unsigned start = rotate++;
    for (int i = 0; i < cores; i++)
        CPU_SET(cpus[(start + (unsigned)i) % (unsigned)n], &want);
    if (sched_setaffinity(0, sizeof want, &want) < 0) {
        af_warn("event=cpu_pin_failed cores=%d error=\"%s\"", cores, strerror(errno));
        return false;
    }
    return true;
}

/* posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK, so no copy of our page
 * tables: a fork costs ~2 ms with a thousand agents connected, this ~0.1 ms)
 * into its own process group, with default signal dispositions, an empty mask,
 * stdin from /dev/null and none of our descriptors. Exec errors come back
 * synchronously. spec.cores pins the child to that many CPUs (inherited, see
 * s_pin_for_child); the rlimits are set with prlimit right after: posix_spawn
 * returns once the child has exec'd, before agentd's main has run. */
static pid_t s_spawn(s_proc_t *self, char *const argv[], char *const envp[],
                     const af_spec_t *spec, int *err)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    pid_t pid = -1;
    cpu_set_t saved;
    bool pinned = self->pin_cpus && s_pin_for_child(spec->cores, &saved);
    *err = posix_spawn(&pid, self->path, &fa, &attr, argv, envp);
    if (pinned && sched_setaffinity(0, sizeof saved, &saved) < 0)
        af_warn("event=cpu_unpin_failed error=\"%s\"", strerror(errno));
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (*err)
        return -1;
    rlim_t mem = (rlim_t)spec->memory_mb * 1024 * 1024;
    struct rlimit data = {mem, mem}, core = {0, 0}, nofile = {4096, 4096};
    int rc = 0;
    /* A sanitizer build (make asan: manager and agentd alike) maps terabytes of
     * shadow memory, which RLIMIT_DATA counts: the limit would kill it. */
    if (!S_SANITIZED)
        rc |= prlimit(pid, RLIMIT_DATA, &data, NULL);
    rc |= prlimit(pid, RLIMIT_CORE, &core, NULL);
    rc |= prlimit(pid, RLIMIT_NOFILE, &nofile, NULL);
    if (rc < 0)
        af_warn("event=rlimit_failed pid=%d error=\"%s\"", (int)pid, strerror(errno));
    return pid;
}

/* Builds the agent's environment in the parent (the child of a threaded
 * process must not allocate): ours minus the Anthropic key variables, plus the
 * one-time join token. The token travels here, not in argv, so `ps` does not
 * show it. Returns a NULL-terminated array to free with s_env_free. */
static char **s_env_build(const char *token)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(environ[i], "ANTHROPIC_API_KEY=", 18) ||
            !strncmp(environ[i], "AF_ANTHROPIC_KEY_FILE=", 22) ||
            !strncmp(environ[i], "AF_MANAGER_ANTHROPIC_KEY_FILE=", 30) ||
            !strncmp(environ[i], "AF_AGENTD_JOIN_TOKEN=", 21))
            continue;
        env[k++] = environ[i];
    }
    if (token && *token) {
        size_t len = strlen(token) + 32;
        env[k] = malloc(len);
        if (env[k])
            snprintf(env[k], len, "AF_AGENTD_JOIN_TOKEN=%s", token);
    }
    return env;
}

static void s_env_free(char **env, const char *token)
{
    if (!env)
        return;
    if (token && *token) {
        size_t k = 0;
        while (env[k])
            k++;
        if (k && !strncmp(env[k - 1], "AF_AGENTD_JOIN_TOKEN=", 21))
            free(env[k - 1]);
    }
    free(env);
}

static int s_create(void *impl, const af_provider_spawn_t *req, char *err, size_t errlen)
{
    s_proc_t *self = impl;
    if (s_find(self, req->agent_id)) {
        snprintf(err, errlen, "agent %s already has a process", req->agent_id);
        return -1;
    }
    char cores[16], mem[16], hb[16];
    snprintf(cores, sizeof cores, "%d", req->spec->cores);
    snprintf(mem, sizeof mem, "%d", req->spec->memory_mb);
    snprintf(hb, sizeof hb, "%d", req->heartbeat_ms);
    char *argv[] = {self->path,         "--id",           (char *)req->agent_id,
                    "--owner",          (char *)req->owner, "--cores", cores,
                    "--memory-mb",      mem,              "--image", (char *)req->spec->image,
                    "--manager",        (char *)req->manager_endpoint,
                    "--heartbeat-ms",   hb,               "--metrics-listen", "127.0.0.1:0",
                    NULL};
    s_child_t *c = calloc(1, sizeof *c);
    char **env = s_env_build(req->token);
    if (!c || !env) {
        snprintf(err, errlen, "out of memory");
        free(c);
        s_env_free(env, req->token);
        return -1;
    }
    int e = 0;
    pid_t pid = s_spawn(self, argv, env, req->spec, &e);
    s_env_free(env, req->token);
    if (pid < 0) {
        snprintf(err, errlen, "exec %s: %s", self->path, strerror(e));
        free(c);
        return -1;
    }
    snprintf(c->id, sizeof c->id, "%s", req->agent_id);
    c->pid = pid;
    c->next = self->children;
    self->children = c;
    af_debug("event=agent_forked agent_id=%s pid=%d", c->id, (int)pid);
    self->fn(self->arg, req->agent_id, AF_PROVIDER_EV_CREATED, "process started");
    return 0;
}

typedef struct {
    const char *want;
    pid_t pid;
} s_lookup_t;

static void s_lookup_cb(pid_t pid, const char *agent_id, void *arg)
{
    s_lookup_t *l = arg;
    if (!strcmp(agent_id, l->want))
        l->pid = pid;
}

static int s_destroy(void *impl, const char *agent_id)
{
    s_proc_t *self = impl;
    s_child_t *c = s_find(self, agent_id);
    if (!c) {
        /* Not forked by this manager instance: adopted after a restart. */
        s_lookup_t l = {agent_id, 0};
        s_scan(self, s_lookup_cb, &l);
        if (!l.pid)
            return -1;
        c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        snprintf(c->id, sizeof c->id, "%s", agent_id);
        c->pid = l.pid;
        c->adopted = true;
        c->next = self->children;
        self->children = c;
    }
    if (c->killing)
        return 0;
    c->killing = true;
    c->kill_deadline_ns = s_now_ns() + (uint64_t)self->grace_ms * 1000000ULL;
    s_signal(c, SIGTERM);
    return 0;
}

typedef struct {
    af_provider_entry_t *v;
    size_t n, cap;
} s_list_t;

static void s_list_add(s_list_t *l, pid_t pid, const char *id, const char *status)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].pid == pid)
            return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        af_provider_entry_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    af_provider_entry_t *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->agent_id, sizeof e->agent_id, "%s", id);
    snprintf(e->status, sizeof e->status, "%s", status);
    e->pid = pid;
}

static void s_list_scan_cb(pid_t pid, const char *agent_id, void *arg)
{
    s_list_add(arg, pid, agent_id, "running");
}

static int s_list(void *impl, af_provider_list_fn *fn, void *arg)
{
    s_proc_t *self = impl;
    s_list_t l = {0};
    for (s_child_t *c = self->children; c; c = c->next)
        s_list_add(&l, c->pid, c->id, c->killing ? "stopping" : "running");
    s_scan(self, s_list_scan_cb, &l);
    fn(arg, l.v, l.n, NULL);
    free(l.v);
    return 0;
}

static void s_term_cb(pid_t pid, const char *agent_id, void *arg)
{
    (void)agent_id;
    (void)arg;
    if (kill(-pid, SIGTERM) < 0)
        kill(pid, SIGTERM);
}

static void s_kill_cb(pid_t pid, const char *agent_id, void *arg)
{
    (void)agent_id;
    int *left = arg;
    (*left)++;
    if (kill(-pid, SIGKILL) < 0)
        kill(pid, SIGKILL);
}

static void s_count_cb(pid_t pid, const char *agent_id, void *arg)
{
    (void)pid;
    (void)agent_id;
    (*(int *)arg)++;
}

/* Clean exit: SIGTERM everything of ours, give it the grace period, SIGKILL the
 * rest, reap. Bounded wait at shutdown only; the loop is no longer running. */
static void s_free(void *impl)
{
    s_proc_t *self = impl;
    if (!self)
        return;
    if (self->keep) { /* HA: they report to the other managers too; reaped by init */
        af_info("event=agents_left_running reason=ha");
        while (self->children)
            s_unlink(self, self->children);
        self->children = NULL;
        goto release;
    }
    int stopped = 0;
    for (s_child_t *c = self->children; c; c = c->next, stopped++)
        s_signal(c, SIGTERM);
    s_scan(self, s_term_cb, NULL);
    uint64_t deadline = s_now_ns() + (uint64_t)self->grace_ms * 1000000ULL;
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        int alive = 0;
        for (s_child_t *c = self->children; c; c = c->next)
            if (kill(c->pid, 0) == 0)
                alive++;
        s_scan(self, s_count_cb, &alive);
        if (!alive || s_now_ns() >= deadline)
            break;
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    int killed = 0;
    for (s_child_t *c = self->children; c; c = c->next)
        if (kill(c->pid, 0) == 0) {
            s_signal(c, SIGKILL);
            killed++;
        }
    s_scan(self, s_kill_cb, &killed);
    for (s_child_t *c = self->children; c; c = c->next)
        if (!c->adopted)
            waitpid(c->pid, NULL, 0);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (stopped || killed)
        af_info("event=agents_stopped tracked=%d sigkilled=%d", stopped, killed);
    while (self->children)
        s_unlink(self, self->children);
release:
    if (self->sigchld)
        event_free(self->sigchld);
    if (self->tick)
        event_free(self->tick);
    free(self->path);
    free(self->endpoint);
    free(self);
}

static const af_provider_ops_t s_ops = {"process", s_create, s_destroy, s_list, s_free};

void af_provider_keep_agents(af_provider_t *self)
{
    if (self && self->ops == &s_ops)
        ((s_proc_t *)self->impl)->keep = true;
}

af_provider_t *af_provider_process_new(struct event_base *base, const char *agentd_path,
                                       const char *manager_endpoint, int grace_ms,
                                       bool pin_cpus, af_provider_event_fn *fn, void *arg)
{
    if (!agentd_path || access(agentd_path, X_OK) < 0) {
        af_error("event=provider_init_failed provider=process agentd_path=%s error=\"%s\"",
                 agentd_path ? agentd_path : "", strerror(errno));
        return NULL;
    }
    s_proc_t *self = calloc(1, sizeof *self);
    af_provider_t *p = calloc(1, sizeof *p);
    if (!self || !p) {
        free(self);
        free(p);
        return NULL;
    }
    self->base = base;
    self->path = strdup(agentd_path);
    self->endpoint = strdup(manager_endpoint);
    self->grace_ms = grace_ms > 0 ? grace_ms : 3000;
    self->pin_cpus = pin_cpus;
    self->fn = fn;
    self->arg = arg;
    self->sigchld = evsignal_new(base, SIGCHLD, s_on_sigchld, self);
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    struct timeval tv = {0, 100000};
    if (!self->path || !self->endpoint || !self->sigchld || evsignal_add(self->sigchld, NULL) < 0 ||
        !self->tick || event_add(self->tick, &tv) < 0) {
        af_error("event=provider_init_failed provider=process reason=events");
        s_free(self);
        free(p);
        return NULL;
    }
    p->ops = &s_ops;
    p->impl = self;
    return p;
}
