/* Configuration loader: defaults, file, environment, flags. See config.h. */
#include "config.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static af_opt_t *s_find(af_opt_t *opts, const char *name, size_t len)
{
    for (af_opt_t *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static int s_set(af_opt_t *o, const char *value, const char *origin)
{
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case AF_OPT_STR: {
        char *copy = strdup(value ? value : "");
        if (!copy)
            return -1;
        free(*(char **)o->dest);
        *(char **)o->dest = copy;
        if (o->secret)
            af_log_add_secret(copy);
        return 0;
    }
    case AF_OPT_INT: {
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end) {
            fprintf(stderr, "error: option --%s (%s): '%s' is not an integer\n", o->name,
                    origin, value);
            return -1;
        }
        *(long *)o->dest = v;
        return 0;
    }
    case AF_OPT_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || end == value || *end) {
            fprintf(stderr, "error: option --%s (%s): '%s' is not a number\n", o->name, origin,
                    value);
            return -1;
        }
        *(double *)o->dest = v;
        return 0;
    }
    case AF_OPT_BOOL:
        if (!strcmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
            !strcasecmp(value, "on"))
            *(bool *)o->dest = true;
        else if (!strcmp(value, "0") || !strcasecmp(value, "false") ||
                 !strcasecmp(value, "no") || !strcasecmp(value, "off"))
            *(bool *)o->dest = false;
        else {
            fprintf(stderr, "error: option --%s (%s): '%s' is not a boolean\n", o->name,
                    origin, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* "metrics-listen" -> "AF_METRICS_LISTEN" or "AF_MANAGER_METRICS_LISTEN". */
static void s_envname(char *buf, size_t len, const char *daemon, const char *name)
{
    size_t n = (size_t)snprintf(buf, len, "AF_");
    if (daemon)
        n += (size_t)snprintf(buf + n, len - n, "%s_", daemon);
    snprintf(buf + n, len - n, "%s", name);
    for (char *p = buf; *p; p++)
        *p = (*p == '-') ? '_' : (char)toupper((unsigned char)*p);
}

static char *s_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* File format: "name = value" lines; '#' starts a comment line; quotes optional. */
static int s_load_file(af_opt_t *opts, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = s_trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "error: %s:%d: expected 'name = value'\n", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = s_trim(s), *val = s_trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
            val[vl - 1] = '\0';
            val++;
        }
        for (char *p = key; *p; p++)
            if (*p == '_')
                *p = '-';
        af_opt_t *o = s_find(opts, key, strlen(key));
        if (!o) {
            fprintf(stderr, "error: %s:%d: unknown option '%s'\n", path, lineno, key);
            rc = -1;
            break;
        }
        char origin[300];
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        rc = s_set(o, val, origin);
    }
    fclose(f);
    return rc;
}

void af_config_usage(const af_opt_t *opts, const char *daemon, const char *summary)
{
    printf("usage: %s [options]\n\n%s\n\noptions (flag, or env AF_<NAME> / AF_%s_<NAME>, or "
           "'name = value' in --config FILE):\n",
           daemon, summary, daemon);
    char upper[64];
    s_envname(upper, sizeof upper, NULL, daemon);
    (void)upper;
    for (const af_opt_t *o = opts; o->name; o++) {
        const char *type = o->type == AF_OPT_INT      ? "N"
                           : o->type == AF_OPT_DOUBLE ? "X"
                           : o->type == AF_OPT_BOOL   ? "BOOL"
                                                      : "VALUE";
        char flag[96];
        snprintf(flag, sizeof flag, "--%s %s", o->name, type);
        printf("  %-30s %s", flag, o->help ? o->help : "");
        if (o->secret)
            printf(" (secret)");
        else if (o->def && *o->def)
            printf(" [default: %s]", o->def);
        printf("\n");
    }
    printf("  %-30s %s\n", "--config FILE", "read options from FILE (env AF_CONFIG)");
    printf("  %-30s %s\n", "--check-config", "validate the configuration and exit");
    printf("  %-30s %s\n", "--version", "print the version and exit");
    printf("  %-30s %s\n", "-h, --help", "print this help and exit");
}

int af_config_load(af_opt_t *opts, const char *daemon, const char *summary, int argc,
                   char **argv)
{
    for (af_opt_t *o = opts; o->name; o++) {
        if (o->type == AF_OPT_STR)
            *(char **)o->dest = NULL;
        if (s_set(o, o->def ? o->def : (o->type == AF_OPT_STR ? "" : "0"), "default") < 0)
            return -1;
    }
    /* First pass over argv: help, version, check-config, config file. */
    const char *file = getenv("AF_CONFIG");
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            af_config_usage(opts, daemon, summary);
            return AF_CONFIG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("%s %s\n", daemon, AF_VERSION);
            return AF_CONFIG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--check-config"))
            check = 1;
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: --config needs a file\n");
                return -1;
            }
            file = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && s_load_file(opts, file) < 0)
        return -1;
    for (af_opt_t *o = opts; o->name; o++) {
        char generic[128], specific[128];
        s_envname(generic, sizeof generic, NULL, o->name);
        s_envname(specific, sizeof specific, daemon, o->name);
        const char *v = getenv(specific);
        const char *origin = specific;
        if (!v) {
            v = getenv(generic);
            origin = generic;
        }
        if (v && s_set(o, v, origin) < 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!a)
            break;
        if (!strcmp(a, "--check-config"))
            continue;
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "error: unexpected argument '%s' (see --help)\n", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        af_opt_t *o = s_find(opts, name, nlen);
        const char *value = eq ? eq + 1 : NULL;
        if (!o && !eq && nlen > 3 && !strncmp(name, "no-", 3)) {
            o = s_find(opts, name + 3, nlen - 3);
            if (o && o->type == AF_OPT_BOOL) {
                *(bool *)o->dest = false;
                continue;
            }
            o = NULL;
        }
        if (!o) {
            fprintf(stderr, "error: unknown option '--%.*s' (see --help)\n", (int)nlen, name);
            return -1;
        }
        if (!value) {
            if (o->type == AF_OPT_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
                                          (strcmp(argv[i + 1], "true") != 0 && strcmp(argv[i + 1], "false") != 0 &&
                                           strcmp(argv[i + 1], "0") != 0 && strcmp(argv[i + 1], "1") != 0))) {
                *(bool *)o->dest = true;
                continue;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "error: option --%s needs a value\n", o->name);
                return -1;
            }
            value = argv[++i];
        }
        if (s_set(o, value, "flag") < 0)
            return -1;
    }
    return check ? AF_CONFIG_CHECK : AF_CONFIG_RUN;
}

void af_config_free(af_opt_t *opts)
{
    for (af_opt_t *o = opts; o->name; o++)
        if (o->type == AF_OPT_STR) {
            free(*(char **)o->dest);
            *(char **)o->dest = NULL;
        }
}

int af_config_hostport(const char *spec, char *host, size_t hostlen, int *port)
{
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - spec);
    if (hl >= hostlen)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535)
        return -1;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    if (hl == 0)
        snprintf(host, hostlen, "0.0.0.0");
    /* [::1]:8080 */
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    *port = (int)p;
    return 0;
}
