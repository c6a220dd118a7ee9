/* Redis on the daemon's loop (hiredis async + its libevent adapter), with
 * automatic reconnection and an up/down state that callers use to degrade to
 * memory: while Redis is down, commands fail at once instead of queueing. */
#ifndef AF_REDIS_H
#define AF_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>

typedef struct af_redis_t af_redis_t;

/* reply is NULL when the command failed (err says why: down, disconnected, or
 * a Redis error reply); it is freed after the call. */
typedef void(af_redis_fn)(void *arg, redisReply *reply, const char *err);
/* Called on every up/down transition. */
typedef void(af_redis_state_fn)(void *arg, bool up);

/* url: "redis://host:port[/db]" or "host:port" (copied). Connects in the
 * background; returns NULL only for a malformed url. */
af_redis_t *af_redis_new(struct event_base *base, const char *url);
/* Pending commands end with err "shutdown". */
void af_redis_destroy(af_redis_t **self_p);

void af_redis_on_state(af_redis_t *self, af_redis_state_fn *fn, void *arg);
bool af_redis_up(const af_redis_t *self);

/* Sends a command (printf-like, hiredis' %s/%b). Returns 0 when sent (fn runs
 * exactly once later, fn may be NULL to ignore the reply) or -1 when Redis is
 * down (fn is not called). */
int af_redis_cmd(af_redis_t *self, af_redis_fn *fn, void *arg, const char *fmt, ...);
/* The same with an argument vector (binary-safe). */
int af_redis_cmdargv(af_redis_t *self, af_redis_fn *fn, void *arg, int argc, const char **argv,
                     const size_t *lens);

#endif
