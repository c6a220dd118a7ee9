/* Small output helpers shared by fleetctl's commands: JSON for --json, field
 * readers that tolerate missing fields, and human forms of numbers and ages. */
#ifndef AF_CLI_OUT_H
#define AF_CLI_OUT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Prints obj indented, with a newline, to stdout. */
void af_cli_print_json(const cJSON *obj);

/* obj.path where path is "a" or "a.b"; NULL when absent. */
const cJSON *af_cli_get(const cJSON *obj, const char *path);
/* String form of a field: strings as is, integers without decimals, others as
 * JSON; "-" when absent. Writes into buf and returns it. */
const char *af_cli_field(const cJSON *obj, const char *path, char *buf, size_t len);
double af_cli_num(const cJSON *obj, const char *path, double fallback);

/* "42s", "7m", "3h", "2d" since a millisecond timestamp. */
const char *af_cli_age(uint64_t created_ms, uint64_t now_ms, char *buf, size_t len);

/* Wall clock in milliseconds since the epoch. */
uint64_t af_cli_now_ms(void);

#endif
