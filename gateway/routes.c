/* Route matching. See routes.h. */
#include "routes.h"

#include <stdio.h>
#include <string.h>

/* Matches one pattern; fills params on success. */
static int s_match(const char *pat, const char *path, af_route_match_t *m)
{
    int np = 0;
    while (*pat && *path) {
        if (*pat != '/' || *path != '/')
            return 0;
        pat++;
        path++;
        const char *pe = strchr(pat, '/');
        size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
        const char *se = strchr(path, '/');
        size_t sl = se ? (size_t)(se - path) : strlen(path);
        if (pl >= 2 && pat[0] == '{' && pat[pl - 1] == '}') {
            if (sl == 0 || sl >= AF_ROUTE_PARAM_MAX || np >= AF_ROUTE_PARAMS)
                return 0;
            memcpy(m->params[np], path, sl);
            m->params[np][sl] = 0;
            np++;
        } else if (pl != sl || memcmp(pat, path, pl) != 0) {
            return 0;
        }
        pat += pl;
        path += sl;
    }
    if (*pat || *path)
        return 0;
    m->nparams = np;
    return 1;
}

static const char *s_method_name(int bit)
{
    switch (bit) {
    case AF_M_GET: return "GET";
    case AF_M_POST: return "POST";
    case AF_M_HEAD: return "HEAD";
    case AF_M_PUT: return "PUT";
    case AF_M_DELETE: return "DELETE";
    case AF_M_OPTIONS: return "OPTIONS";
    default: return "?";
    }
}

af_route_result_t af_routes_match(const af_route_t *table, const char *path, int method,
                                  af_route_match_t *m)
{
    memset(m, 0, sizeof *m);
    if (!path || path[0] != '/')
        return AF_ROUTE_NOT_FOUND;
    int allowed = 0;
    af_route_match_t tmp;
    for (const af_route_t *r = table; r->pattern; r++) {
        memset(&tmp, 0, sizeof tmp);
        if (!s_match(r->pattern, path, &tmp))
            continue;
        /* HEAD is served wherever GET is. */
        if (r->method == method || (method == AF_M_HEAD && r->method == AF_M_GET)) {
            *m = tmp;
            m->route = r;
            return AF_ROUTE_FOUND;
        }
        allowed |= r->method;
    }
    if (!allowed)
        return AF_ROUTE_NOT_FOUND;
    size_t off = 0;
    for (int bit = 1; bit <= AF_M_OPTIONS; bit <<= 1) {
        if (!(allowed & bit))
            continue;
        int n = snprintf(m->allow + off, sizeof m->allow - off, "%s%s", off ? ", " : "",
                         s_method_name(bit));
        if (n < 0 || (size_t)n >= sizeof m->allow - off)
            break;
        off += (size_t)n;
    }
    return AF_ROUTE_BAD_METHOD;
}
