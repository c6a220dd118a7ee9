/* fake-hypercore VMs. See vms.h.
 * Contract: every HTTP request gets exactly one reply; every VM process is
 * reaped. */
#include "vms.h"

#include "http.h"
#include "log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct s_vm {
    af_hc_t *hc;
    char id[32];
    char url[128];
    char status[16];      /* booting, running, dead */
    char **env;           /* NAME=value strings, NULL-terminated */
    bool deleted;         /* DELETE answered; gone from /list, waiting to be reaped */
    pid_t pid;
    struct event *boot, *die;
    struct s_vm *next;
} s_vm_t;

struct af_hc_t {
    struct event_base *base;
    af_hc_config_t cfg;
    struct event *sigchld;
    s_vm_t *vms;
    unsigned long seq;
    long fail_left;
};

static void s_vm_free(s_vm_t *vm)
{
    if (vm->boot)
        event_free(vm->boot);
    if (vm->die)
        event_free(vm->die);
    for (char **e = vm->env; e && *e; e++)
        free(*e);
    free(vm->env);
    free(vm);
}

static void s_unlink(af_hc_t *self, s_vm_t *vm)
{
    for (s_vm_t **p = &self->vms; *p; p = &(*p)->next)
        if (*p == vm) {
            *p = vm->next;
            return;
        }
}

static s_vm_t *s_find(af_hc_t *self, const char *id)
{
    for (s_vm_t *v = self->vms; v; v = v->next)
        if (!strcmp(v->id, id))
            return v;
    return NULL;
}

static void s_on_die(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_vm_t *vm = arg;
    if (vm->pid > 0) {
        af_info("event=vm_dies id=%s pid=%d", vm->id, (int)vm->pid);
        kill(-vm->pid, SIGKILL);
    }
}

static void s_on_boot(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_vm_t *vm = arg;
    af_hc_t *self = vm->hc;
    pid_t pid = fork();
    if (pid < 0) {
        af_error("event=vm_boot_failed id=%s error=\"%s\"", vm->id, strerror(errno));
        snprintf(vm->status, sizeof vm->status, "dead");
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        clearenv();
        for (char **e = vm->env; e && *e; e++)
            putenv(*e);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        for (int i = 3; i < 1024; i++)
            close(i);
        execl(self->cfg.agentd_path, self->cfg.agentd_path, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    vm->pid = pid;
    snprintf(vm->status, sizeof vm->status, "running");
    af_info("event=vm_running id=%s pid=%d", vm->id, (int)pid);
    if (self->cfg.die_after_ms > 0) {
        vm->die = evtimer_new(self->base, s_on_die, vm);
        struct timeval tv = {self->cfg.die_after_ms / 1000, (self->cfg.die_after_ms % 1000) * 1000};
        evtimer_add(vm->die, &tv);
    }
}

static void s_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    af_hc_t *self = arg;
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        for (s_vm_t *v = self->vms; v; v = v->next)
            if (v->pid == pid) {
                v->pid = 0;
                snprintf(v->status, sizeof v->status, "dead");
                af_info("event=vm_exited id=%s status=0x%x", v->id, st);
                if (v->deleted) {
                    s_unlink(self, v);
                    s_vm_free(v);
                }
                break;
            }
}

/* ---- routes -------------------------------------------------------------- */

static void s_spawn(af_hc_t *self, struct evhttp_request *req)
{
    int status;
    char err[256];
    cJSON *b = af_http_read_json(req, 1 << 20, &status, err, sizeof err);
    if (!b) {
        af_http_reply_error(req, status, "invalid_request", "%s", err);
        return;
    }
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(b, "imageRef");
    const cJSON *cores = cJSON_GetObjectItemCaseSensitive(b, "cores");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(b, "memory");
    const cJSON *ports = cJSON_GetObjectItemCaseSensitive(b, "ports");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(b, "env");
    const char *bad = !cJSON_IsString(image) || !*image->valuestring ? "imageRef must be a non-empty string"
                      : !cJSON_IsNumber(cores) || cores->valuedouble < 1 ? "cores must be a number >= 1"
                      : !cJSON_IsNumber(mem) || mem->valuedouble < 128   ? "memory must be a number >= 128 (MiB)"
                      : ports && !cJSON_IsArray(ports)                   ? "ports must be an array of \"host:guest\""
                      : env && !cJSON_IsObject(env)                      ? "env must be an object of strings"
                                                                         : NULL;
    const cJSON *it;
    if (!bad && env)
        cJSON_ArrayForEach(it, env) if (!cJSON_IsString(it)) bad = "env values must be strings";
    if (!bad && ports)
        cJSON_ArrayForEach(it, ports) if (!cJSON_IsString(it) || !strchr(it->valuestring, ':')) bad =
            "ports must be an array of \"host:guest\"";
    if (bad) {
        cJSON_Delete(b);
        af_http_reply_error(req, 400, "invalid_request", "%s", bad);
        return;
    }
    if (self->fail_left > 0) {
        self->fail_left--;
        cJSON_Delete(b);
        af_http_reply_error(req, 500, "internal", "injected failure: no capacity on host");
        return;
    }
    s_vm_t *vm = calloc(1, sizeof *vm);
    int nenv = env ? cJSON_GetArraySize(env) : 0;
    vm->env = calloc((size_t)nenv + 1, sizeof *vm->env);
    int k = 0;
    if (env)
        cJSON_ArrayForEach(it, env)
        {
            size_t n = strlen(it->string) + strlen(it->valuestring) + 2;
            vm->env[k] = malloc(n);
            snprintf(vm->env[k++], n, "%s=%s", it->string, it->valuestring);
        }
    cJSON_Delete(b);
    vm->hc = self;
    snprintf(vm->id, sizeof vm->id, "vm-%lu", ++self->seq);
    snprintf(vm->url, sizeof vm->url, "https://%s.hypercore.local", vm->id);
    snprintf(vm->status, sizeof vm->status, "booting");
    vm->next = self->vms;
    self->vms = vm;
    vm->boot = evtimer_new(self->base, s_on_boot, vm);
    struct timeval tv = {self->cfg.boot_delay_ms / 1000, (self->cfg.boot_delay_ms % 1000) * 1000};
    evtimer_add(vm->boot, &tv);
    af_info("event=vm_spawn id=%s env_vars=%d", vm->id, nenv);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", vm->id);
    cJSON_AddStringToObject(out, "url", vm->url);
    af_http_reply_json(req, 200, out);
    cJSON_Delete(out);
}

static void s_on_kill(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_vm_t *vm = arg;
    if (vm->pid > 0) {
        af_warn("event=vm_sigkill id=%s pid=%d", vm->id, (int)vm->pid);
        kill(-vm->pid, SIGKILL);
    }
}

/* SIGTERM now, SIGKILL after the grace period; the reaper frees the VM. */
static void s_stop(af_hc_t *self, s_vm_t *vm)
{
    vm->deleted = true;
    if (vm->boot)
        evtimer_del(vm->boot);
    if (vm->die)
        evtimer_del(vm->die);
    if (vm->pid <= 0) {
        s_unlink(self, vm);
        s_vm_free(vm);
        return;
    }
    kill(-vm->pid, SIGTERM);
    if (!vm->die)
        vm->die = evtimer_new(self->base, s_on_kill, vm);
    else
        evtimer_assign(vm->die, self->base, s_on_kill, vm);
    struct timeval tv = {self->cfg.kill_grace_ms / 1000, (self->cfg.kill_grace_ms % 1000) * 1000};
    evtimer_add(vm->die, &tv);
}

static void s_delete(af_hc_t *self, struct evhttp_request *req, const char *id)
{
    s_vm_t *vm = s_find(self, id);
    if (!vm || vm->deleted) {
        af_http_reply_error(req, 404, "not_found", "no VM %.64s", id);
        return;
    }
    af_info("event=vm_delete id=%s", vm->id);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", vm->id);
    cJSON_AddStringToObject(out, "status", "deleted");
    s_stop(self, vm); /* may free vm */
    af_http_reply_json(req, 200, out);
    cJSON_Delete(out);
}

static void s_list(af_hc_t *self, struct evhttp_request *req)
{
    cJSON *arr = cJSON_CreateArray();
    for (s_vm_t *v = self->vms; v; v = v->next) {
        if (v->deleted)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", v->id);
        cJSON_AddStringToObject(o, "url", v->url);
        cJSON_AddStringToObject(o, "status", v->status);
        cJSON_AddItemToArray(arr, o);
    }
    af_http_reply_json(req, 200, arr);
    cJSON_Delete(arr);
}

static void s_route(struct evhttp_request *req, void *arg)
{
    af_hc_t *self = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (!path)
        path = "/";
    if (!strcmp(path, "/spawn")) {
        if (cmd != EVHTTP_REQ_POST)
            af_http_reply_error(req, 405, "invalid_request", "use POST /spawn");
        else
            s_spawn(self, req);
    } else if (!strncmp(path, "/delete/", 8) && path[8]) {
        if (cmd != EVHTTP_REQ_DELETE)
            af_http_reply_error(req, 405, "invalid_request", "use DELETE /delete/{id}");
        else
            s_delete(self, req, path + 8);
    } else if (!strcmp(path, "/list")) {
        if (cmd != EVHTTP_REQ_GET)
            af_http_reply_error(req, 405, "invalid_request", "use GET /list");
        else
            s_list(self, req);
    } else
        af_http_reply_error(req, 404, "not_found", "no route %.64s", path);
}

void af_hc_attach(af_hc_t *self, struct evhttp *http)
{
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(http, s_route, self);
}

af_hc_t *af_hc_new(struct event_base *base, const af_hc_config_t *cfg)
{
    af_hc_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->cfg = *cfg;
    self->fail_left = cfg->fail_spawn;
    self->sigchld = evsignal_new(base, SIGCHLD, s_on_sigchld, self);
    if (!self->sigchld || evsignal_add(self->sigchld, NULL) < 0) {
        af_hc_destroy(&self);
        return NULL;
    }
    return self;
}

void af_hc_destroy(af_hc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_hc_t *self = *self_p;
    for (s_vm_t *v = self->vms; v; v = v->next)
        if (v->pid > 0)
            kill(-v->pid, SIGTERM);
    for (long waited = 0; waited < self->cfg.kill_grace_ms; waited += 20) {
        bool alive = false;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        for (s_vm_t *v = self->vms; v; v = v->next)
            if (v->pid > 0 && kill(v->pid, 0) == 0 && waitpid(v->pid, NULL, WNOHANG) == 0)
                alive = true;
        if (!alive)
            break;
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    for (s_vm_t *v = self->vms; v; v = v->next)
        if (v->pid > 0) {
            kill(-v->pid, SIGKILL);
            waitpid(v->pid, NULL, 0);
        }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    while (self->vms) {
        s_vm_t *n = self->vms->next;
        s_vm_free(self->vms);
        self->vms = n;
    }
    if (self->sigchld)
        event_free(self->sigchld);
    free(self);
    *self_p = NULL;
}
