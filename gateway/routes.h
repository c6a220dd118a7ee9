/* Route table: (path pattern, method) → route id. Patterns are literal
 * segments and "{name}" captures ("/v1/agents/{id}/chat"). A path that matches
 * a pattern under another method gives 405 with the Allow list; no pattern at
 * all gives 404. Pure: no evhttp objects. */
#ifndef AF_GW_ROUTES_H
#define AF_GW_ROUTES_H

#include <stddef.h>

#define AF_ROUTE_PARAMS 2
#define AF_ROUTE_PARAM_MAX 128

/* Methods as bit flags (same values as evhttp's EVHTTP_REQ_*). */
enum { AF_M_GET = 1 << 0, AF_M_POST = 1 << 1, AF_M_HEAD = 1 << 2, AF_M_PUT = 1 << 3,
       AF_M_DELETE = 1 << 4, AF_M_OPTIONS = 1 << 5 };

typedef struct {
    const char *pattern;
    int method;          /* one AF_M_* bit */
    int id;              /* caller's handler id */
} af_route_t;

typedef enum { AF_ROUTE_FOUND = 0, AF_ROUTE_NOT_FOUND, AF_ROUTE_BAD_METHOD } af_route_result_t;

typedef struct {
    const af_route_t *route;                      /* set when FOUND */
    char params[AF_ROUTE_PARAMS][AF_ROUTE_PARAM_MAX];
    int nparams;
    char allow[64];                               /* set when BAD_METHOD: "GET, DELETE" */
} af_route_match_t;

/* table ends with a zeroed entry. path is the URI path (no query). More
 * specific patterns (literals) win over captures: list them first. */
af_route_result_t af_routes_match(const af_route_t *table, const char *path, int method,
                                  af_route_match_t *m);

#endif
