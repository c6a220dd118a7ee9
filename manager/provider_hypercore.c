/* The Hypercore provider: agents as MicroVMs created through Hypercore's HTTP
 * API, called with libcurl on the loop (http_client.h). See provider.h.
 *   POST   {url}/spawn        {imageRef, cores, memory, ports, env} -> 200 {id, url}
 *   DELETE {url}/delete/{id}
 *   GET    {url}/list         -> [{id, url, status}]
 * The VM's bootstrap env carries only the manager endpoint, the agent id and a
 * one-time join token: never the Anthropic key (agents get it in WELCOME).
 * Contract: every create ends in exactly one CREATED or FAILED event; a
 * destroy ends in EXITED once Hypercore confirms (or says the VM is gone). */
#include "provider.h"

#include "http_client.h" /* common/ */
#include "log.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_vm {
    char agent_id[64];
    char vm_id[128];
    char url[256];
    bool creating;          /* POST /spawn in flight */
    bool destroy_pending;   /* destroy asked while creating */
    bool deleting;
    struct s_vm *next;
} s_vm_t;

typedef struct {
    char *base_url;
    long timeout_ms;
    af_http_client_t *http;
    af_provider_event_fn *fn;
    void *arg;
    s_vm_t *vms;
    bool closing;           /* in s_free: callbacks only release their context */
} s_hc_t;

typedef struct {
    s_hc_t *self;
    char agent_id[64];
    af_provider_list_fn *list_fn;
    void *list_arg;
} s_call_t;

static s_vm_t *s_find(s_hc_t *self, const char *agent_id)
{
    for (s_vm_t *v = self->vms; v; v = v->next)
        if (!strcmp(v->agent_id, agent_id))
            return v;
    return NULL;
}

static void s_forget(s_hc_t *self, s_vm_t *vm)
{
    for (s_vm_t **p = &self->vms; *p; p = &(*p)->next)
        if (*p == vm) {
            *p = vm->next;
            free(vm);
            return;
        }
}

/* "HTTP 500: <error.message>" from a Hypercore error body (JSON or text). */
static void s_describe(long status, const char *body, const char *err, char *out, size_t len)
{
    if (err) {
        snprintf(out, len, "%s", err);
        return;
    }
    cJSON *j = cJSON_Parse(body);
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message")
                     : cJSON_IsString(e) ? e
                                         : (j ? cJSON_GetObjectItemCaseSensitive(j, "message") : NULL);
    if (m && cJSON_IsString(m))
        snprintf(out, len, "HTTP %ld: %.200s", status, m->valuestring);
    else
        snprintf(out, len, "HTTP %ld: %.120s", status, body && *body ? body : "(empty body)");
    cJSON_Delete(j);
}

static s_call_t *s_call(s_hc_t *self, const char *agent_id)
{
    s_call_t *c = calloc(1, sizeof *c);
    if (c) {
        c->self = self;
        snprintf(c->agent_id, sizeof c->agent_id, "%s", agent_id ? agent_id : "");
    }
    return c;
}

static int s_send_delete(s_hc_t *self, s_vm_t *vm);

/* ---- create ---------------------------------------------------------------- */

static void s_on_spawned(void *arg, long status, const char *body, const char *err)
{
    s_call_t *c = arg;
    s_hc_t *self = c->self;
    if (self->closing) {
        free(c);
        return;
    }
    s_vm_t *vm = s_find(self, c->agent_id);
    char cause[384];
    if (!vm) {
        free(c);
        return;
    }
    vm->creating = false;
    cJSON *j = (!err && status == 200) ? cJSON_Parse(body) : NULL;
    const cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
    const cJSON *url = j ? cJSON_GetObjectItemCaseSensitive(j, "url") : NULL;
    if (!err && status == 200 && id && cJSON_IsString(id) && *id->valuestring &&
        strlen(id->valuestring) < sizeof vm->vm_id) {
        snprintf(vm->vm_id, sizeof vm->vm_id, "%s", id->valuestring);
        if (cJSON_IsString(url))
            snprintf(vm->url, sizeof vm->url, "%s", url->valuestring);
        cJSON_Delete(j);
        af_info("event=vm_created agent_id=%s vm_id=%s url=%s", vm->agent_id, vm->vm_id, vm->url);
        if (vm->destroy_pending) {
            s_send_delete(self, vm);
        } else {
            char detail[384];
            snprintf(detail, sizeof detail, "hypercore VM %s", vm->vm_id);
            self->fn(self->arg, c->agent_id, AF_PROVIDER_EV_CREATED, detail);
        }
        free(c);
        return;
    }
    if (!err && status == 200)
        snprintf(cause, sizeof cause, "hypercore POST /spawn: HTTP 200 without a string id");
    else {
        char d[300];
        s_describe(status, body, err, d, sizeof d);
        snprintf(cause, sizeof cause, "hypercore POST /spawn: %s", d);
    }
    cJSON_Delete(j);
    bool was_deleting = vm->destroy_pending;
    s_forget(self, vm);
    self->fn(self->arg, c->agent_id,
             was_deleting ? AF_PROVIDER_EV_EXITED : AF_PROVIDER_EV_FAILED, cause);
    free(c);
}

static int s_create(void *impl, const af_provider_spawn_t *req, char *err, size_t errlen)
{
    s_hc_t *self = impl;
    if (s_find(self, req->agent_id)) {
        snprintf(err, errlen, "agent %s already has a VM", req->agent_id);
        return -1;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "imageRef", req->spec->image);
    cJSON_AddNumberToObject(b, "cores", req->spec->cores);
    cJSON_AddNumberToObject(b, "memory", req->spec->memory_mb);
    cJSON *ports = cJSON_AddArrayToObject(b, "ports");
    cJSON_AddItemToArray(ports, cJSON_CreateString("443:8080"));
    cJSON_AddItemToArray(ports, cJSON_CreateString("9090:9090"));
    cJSON *env = cJSON_AddObjectToObject(b, "env");
    cJSON_AddStringToObject(env, "AF_AGENTD_MANAGER", req->manager_endpoint);
    cJSON_AddStringToObject(env, "AF_AGENTD_ID", req->agent_id);
    cJSON_AddStringToObject(env, "AF_AGENTD_JOIN_TOKEN", req->token ? req->token : "");
    char *json = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    char url[1024];
    snprintf(url, sizeof url, "%s/spawn", self->base_url);
    s_vm_t *vm = calloc(1, sizeof *vm);
    s_call_t *c = s_call(self, req->agent_id);
    if (!json || !vm || !c) {
        free(json);
        free(vm);
        free(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(vm->agent_id, sizeof vm->agent_id, "%s", req->agent_id);
    vm->creating = true;
    vm->next = self->vms;
    self->vms = vm;
    int rc = af_http_client_request(self->http, "POST", url, json, self->timeout_ms, s_on_spawned, c);
    free(json);
    if (rc < 0) {
        s_forget(self, vm);
        free(c);
        snprintf(err, errlen, "hypercore POST /spawn: cannot start the request");
        return -1;
    }
    return 0;
}

/* ---- destroy --------------------------------------------------------------- */

static void s_on_deleted(void *arg, long status, const char *body, const char *err)
{
    s_call_t *c = arg;
    s_hc_t *self = c->self;
    if (self->closing) {
        free(c);
        return;
    }
    s_vm_t *vm = s_find(self, c->agent_id);
    if (vm && (err || (status != 200 && status != 202 && status != 204 && status != 404))) {
        char d[300];
        s_describe(status, body, err, d, sizeof d);
        af_error("event=vm_delete_failed agent_id=%s vm_id=%s cause=\"%s\"", vm->agent_id,
                 vm->vm_id, d);
        vm->deleting = false; /* a later destroy may retry */
        free(c);
        return;
    }
    if (vm) {
        af_info("event=vm_deleted agent_id=%s vm_id=%s status=%ld", vm->agent_id, vm->vm_id, status);
        s_forget(self, vm);
        self->fn(self->arg, c->agent_id, AF_PROVIDER_EV_EXITED, "hypercore VM deleted");
    }
    free(c);
}

static int s_send_delete(s_hc_t *self, s_vm_t *vm)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/delete/%s", self->base_url, vm->vm_id);
    s_call_t *c = s_call(self, vm->agent_id);
    if (!c)
        return -1;
    vm->deleting = true;
    if (af_http_client_request(self->http, "DELETE", url, NULL, self->timeout_ms, s_on_deleted,
                               c) < 0) {
        vm->deleting = false;
        free(c);
        return -1;
    }
    return 0;
}

static int s_destroy(void *impl, const char *agent_id)
{
    s_hc_t *self = impl;
    s_vm_t *vm = s_find(self, agent_id);
    if (!vm)
        return -1;
    if (vm->creating) {
        vm->destroy_pending = true;
        return 0;
    }
    if (vm->deleting)
        return 0;
    return s_send_delete(self, vm);
}

/* ---- list ------------------------------------------------------------------ */

static void s_on_listed(void *arg, long status, const char *body, const char *err)
{
    s_call_t *c = arg;
    s_hc_t *self = c->self;
    if (self->closing) {
        free(c);
        return;
    }
    cJSON *j = (!err && status == 200) ? cJSON_Parse(body) : NULL;
    if (!cJSON_IsArray(j)) {
        char d[300], cause[384];
        s_describe(status, body, err, d, sizeof d);
        snprintf(cause, sizeof cause, "hypercore GET /list: %s", d);
        c->list_fn(c->list_arg, NULL, 0, cause);
        cJSON_Delete(j);
        free(c);
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(j), k = 0;
    af_provider_entry_t *v = calloc(n ? n : 1, sizeof *v);
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!v || !cJSON_IsString(id))
            continue;
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(it, "url");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
        af_provider_entry_t *e = &v[k++];
        snprintf(e->id, sizeof e->id, "%s", id->valuestring);
        snprintf(e->url, sizeof e->url, "%s", cJSON_IsString(url) ? url->valuestring : "");
        snprintf(e->status, sizeof e->status, "%s", cJSON_IsString(st) ? st->valuestring : "");
        for (s_vm_t *vm = self->vms; vm; vm = vm->next)
            if (!strcmp(vm->vm_id, e->id))
                snprintf(e->agent_id, sizeof e->agent_id, "%s", vm->agent_id);
    }
    c->list_fn(c->list_arg, v, k, v ? NULL : "out of memory");
    free(v);
    cJSON_Delete(j);
    free(c);
}

static int s_list(void *impl, af_provider_list_fn *fn, void *arg)
{
    s_hc_t *self = impl;
    s_call_t *c = s_call(self, NULL);
    if (!c)
        return -1;
    c->list_fn = fn;
    c->list_arg = arg;
    char url[1024];
    snprintf(url, sizeof url, "%s/list", self->base_url);
    if (af_http_client_request(self->http, "GET", url, NULL, self->timeout_ms, s_on_listed, c) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

/* VMs are not ours to stop on exit: they re-register with the next manager.
 * Calls in flight are abandoned; their callbacks only free their context. */
static void s_free(void *impl)
{
    s_hc_t *self = impl;
    if (!self)
        return;
    self->closing = true;
    af_http_client_destroy(&self->http);
    while (self->vms) {
        s_vm_t *n = self->vms->next;
        free(self->vms);
        self->vms = n;
    }
    free(self->base_url);
    free(self);
}

static const af_provider_ops_t s_ops = {"hypercore", s_create, s_destroy, s_list, s_free};

af_provider_t *af_provider_hypercore_new(struct event_base *base, const char *url, int timeout_ms,
                                         af_provider_event_fn *fn, void *arg)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        af_error("event=provider_init_failed provider=hypercore url=%s reason=\"need http(s)://\"",
                 url ? url : "");
        return NULL;
    }
    s_hc_t *self = calloc(1, sizeof *self);
    af_provider_t *p = calloc(1, sizeof *p);
    if (!self || !p) {
        free(self);
        free(p);
        return NULL;
    }
    self->base_url = strdup(url);
    size_t n = self->base_url ? strlen(self->base_url) : 0;
    while (n && self->base_url[n - 1] == '/')
        self->base_url[--n] = '\0';
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    self->fn = fn;
    self->arg = arg;
    self->http = af_http_client_new(base);
    if (!self->base_url || !self->http) {
        s_free(self);
        free(p);
        return NULL;
    }
    p->ops = &s_ops;
    p->impl = self;
    af_info("event=provider_ready provider=hypercore url=%s", self->base_url);
    return p;
}
