/* The daemon's evaluation cycle: every interval, sample the metrics source,
 * ask the policy, log and export the decision, and send SCALE (unless dry-run).
 *
 * One evaluation at a time: a tick that finds the previous one still waiting
 * is skipped. */
#ifndef AF_AUTOSCALER_CONTROLLER_H
#define AF_AUTOSCALER_CONTROLLER_H

#include "codec.h"
#include "config.h"
#include "policy.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { AF_SOURCE_MANAGER = 0, AF_SOURCE_PROMETHEUS } af_source_kind_t;

typedef struct {
    af_policy_config_t policy;
    const char *manager;        /* control endpoint */
    const char *metrics_listen; /* host:port for /metrics */
    const char *prometheus_url;
    af_source_kind_t source;
    af_codec_t codec;
    double interval_s;          /* evaluation period */
    double timeout_s;           /* per request */
    bool predictive;
    double lead_s, alpha, beta; /* forecast horizon and Holt smoothing */
    bool dry_run;
} af_controller_config_t;

/* Sets source and codec from their names. 0, or -1 with a message. */
int af_controller_config_parse(af_controller_config_t *cfg, const char *source,
                               const char *codec, char *err, size_t errlen);
/* 0 when every setting is usable; -1 with a message naming the option. */
int af_controller_config_check(const af_controller_config_t *cfg, char *err, size_t errlen);

typedef struct af_controller_t af_controller_t;

/* Builds the policy, sources, manager link and metrics listener and arms the
 * evaluation timer (first evaluation at once). cfg's strings are borrowed for
 * the controller's life. NULL (logged) on failure, e.g. port in use. */
af_controller_t *af_controller_new(struct event_base *base, const af_controller_config_t *cfg);
void af_controller_destroy(af_controller_t **self_p);

/* The port /metrics is served on. */
int af_controller_metrics_port(const af_controller_t *self);

#endif
