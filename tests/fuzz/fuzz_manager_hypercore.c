/* libFuzzer: the Hypercore provider's response handling with outside input
 * (the Hypercore API is another service: its bodies are not trusted). Byte 0
 * picks the reply (POST /spawn, GET /list, DELETE), byte 1 the HTTP status
 * (or a transport error), the rest is the body. The provider's own callbacks
 * run on a provider state with one VM being created or deleted.
 * Invariants: no crash or leak; a spawn reply ends in exactly one CREATED or
 * FAILED event; a list reply lists at most the array's length, with
 * NUL-terminated fields. The provider's .c is included so its static reply
 * handlers can be driven without a network. */
#include "../../manager/provider_hypercore.c"

#include <assert.h>
#include <stdint.h>

static int s_events;
static void s_on_event(void *arg, const char *agent_id, af_provider_event_t ev, const char *detail)
{
    (void)arg;
    (void)ev;
    assert(agent_id && detail && strlen(detail) < 4096);
    s_events++;
}

static void s_on_list(void *arg, const af_provider_entry_t *v, size_t n, const char *err)
{
    size_t max = *(size_t *)arg;
    assert(n <= max);
    assert(err || v || n == 0);
    for (size_t i = 0; i < n; i++)
        assert(memchr(v[i].id, 0, sizeof v[i].id) && memchr(v[i].url, 0, sizeof v[i].url) &&
               memchr(v[i].status, 0, sizeof v[i].status) &&
               memchr(v[i].agent_id, 0, sizeof v[i].agent_id));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 200, 202, 204, 400, 404, 409, 500, 503, 0};
    if (size < 2)
        return 0;
    af_log_set_level(AF_LOG_ERROR);
    char *body = malloc(size - 1);
    if (!body)
        return 0;
    memcpy(body, data + 2, size - 2);
    body[size - 2] = 0;
    long status = statuses[data[1] % (sizeof statuses / sizeof *statuses)];
    const char *err = status ? NULL : "connect: connection refused";

    s_hc_t hc = {.fn = s_on_event};
    s_vm_t *vm = calloc(1, sizeof *vm);
    if (!vm) {
        free(body);
        return 0;
    }
    snprintf(vm->agent_id, sizeof vm->agent_id, "ag_fuzz");
    snprintf(vm->vm_id, sizeof vm->vm_id, "vm_fuzz");
    hc.vms = vm;
    s_call_t *c = s_call(&hc, "ag_fuzz");
    s_events = 0;
    switch (data[0] % 3) {
    case 0:
        vm->creating = true;
        s_on_spawned(c, status, body, err);
        assert(s_events == 1);
        break;
    case 1: {
        cJSON *j = cJSON_Parse(body);
        size_t max = cJSON_IsArray(j) ? (size_t)cJSON_GetArraySize(j) : 0;
        cJSON_Delete(j);
        c->list_fn = s_on_list;
        c->list_arg = &max;
        s_on_listed(c, status, body, err);
        break;
    }
    default:
        vm->deleting = true;
        s_on_deleted(c, status, body, err);
        assert(s_events <= 1);
        break;
    }
    while (hc.vms)
        s_forget(&hc, hc.vms);
    free(body);
    return 0;
}
