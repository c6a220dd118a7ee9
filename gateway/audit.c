/* Audit log writer. See audit.h. */
#include "audit.h"

#include "log.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_audit_t {
    FILE *f;
    unsigned long lines;
};

af_audit_t *af_audit_open(const char *path)
{
    af_audit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (path && *path) {
        self->f = fopen(path, "a");
        if (!self->f) {
            af_error("event=audit_open_failed path=%s err=\"%s\"", path, strerror(errno));
            free(self);
            return NULL;
        }
    }
    return self;
}

void af_audit_destroy(af_audit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->f)
        fclose((*self_p)->f);
    free(*self_p);
    *self_p = NULL;
}

static void s_add(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

void af_audit_write(af_audit_t *self, const char *event, const char *user, const char *role,
                    const char *ip, const char *request_id, int status, const char *result,
                    const char *detail)
{
    if (!self || !self->f)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ts_ms", (double)af_wall_ms());
    s_add(o, "event", event);
    s_add(o, "user", user);
    s_add(o, "role", role);
    s_add(o, "ip", ip);
    s_add(o, "request_id", request_id);
    cJSON_AddNumberToObject(o, "status", status);
    s_add(o, "result", result);
    if (detail)
        cJSON_AddStringToObject(o, "detail", detail);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line) {
        fprintf(self->f, "%s\n", line);
        fflush(self->f);
        free(line);
        self->lines++;
    }
}

unsigned long af_audit_lines(const af_audit_t *self) { return self ? self->lines : 0; }
