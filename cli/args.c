/* Option parsing for fleetctl commands. See args.h. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const af_arg_t *s_find_long(const af_arg_t *opts, const char *name, size_t len)
{
    for (const af_arg_t *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len))
            return o;
    return NULL;
}

static const af_arg_t *s_find_short(const af_arg_t *opts, char c)
{
    for (const af_arg_t *o = opts; o && o->name; o++)
        if (o->shortname && o->shortname == c)
            return o;
    return NULL;
}

static int s_set(const af_arg_t *o, const char *value, char *err, size_t errlen)
{
    if (o->seen)
        *o->seen = true;
    switch (o->type) {
    case AF_ARG_STR:
        *(const char **)o->dest = value;
        return 0;
    case AF_ARG_LONG: {
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || !end || end == value || *end) {
            snprintf(err, errlen, "--%s: '%s' is not a whole number", o->name, value);
            return -1;
        }
        *(long *)o->dest = v;
        return 0;
    }
    case AF_ARG_BOOL:
        *(bool *)o->dest = true;
        return 0;
    }
    return -1;
}

int af_args_parse(const af_arg_t *opts, int argc, char **argv, af_args_t *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const af_arg_t *o = NULL;
        const char *value = NULL;
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        if (!only_pos && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            out->help = true;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            o = s_find_long(opts, name, eq ? (size_t)(eq - name) : strlen(name));
            if (!o) {
                snprintf(err, errlen, "unknown option %.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
                return -1;
            }
            if (eq)
                value = eq + 1;
        } else if (!only_pos && a[0] == '-' && a[1] && a[1] != '-' && !a[2]) {
            o = s_find_short(opts, a[1]);
            if (!o) {
                snprintf(err, errlen, "unknown option %s", a);
                return -1;
            }
        } else {
            if (out->npos >= AF_ARGS_MAX_POS) {
                snprintf(err, errlen, "too many arguments");
                return -1;
            }
            out->pos[out->npos++] = a;
            continue;
        }
        if (o->type == AF_ARG_BOOL) {
            if (value) {
                snprintf(err, errlen, "--%s takes no value", o->name);
                return -1;
            }
            if (s_set(o, "1", err, errlen) < 0)
                return -1;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value", o->name);
                return -1;
            }
            value = argv[++i];
        }
        if (s_set(o, value, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int af_args_duration(const char *text, long *seconds)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || v <= 0)
        return -1;
    long mult = 1;
    if (*end) {
        if (end[1])
            return -1;
        switch (*end) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        default: return -1;
        }
    }
    if (v > 400L * 86400 / mult)
        return -1;
    *seconds = v * mult;
    return 0;
}
