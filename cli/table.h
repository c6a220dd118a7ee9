/* Plain-text tables for fleetctl's human output: a header row, left-aligned
 * columns as wide as their widest cell, two spaces between. Cells are copied. */
#ifndef AF_CLI_TABLE_H
#define AF_CLI_TABLE_H

#include <stddef.h>

typedef struct af_cli_table_t af_cli_table_t;

/* titles: ncols header titles. */
af_cli_table_t *af_cli_table_new(int ncols, const char *const *titles);
void af_cli_table_destroy(af_cli_table_t **self_p);

/* Appends a row of exactly ncols cells (NULL prints as "-"). Returns 0 / -1. */
int af_cli_table_row(af_cli_table_t *self, const char *const *cells);
size_t af_cli_table_rows(const af_cli_table_t *self);

/* Renders to a malloc'd string the caller frees (NULL on allocation failure). */
char *af_cli_table_render(const af_cli_table_t *self);

#endif
