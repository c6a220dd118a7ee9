/* Helpers shared by unit tests (linked into every tests/unit binary): free
 * loopback ports and a real redis-server for tests that need one. */
#ifndef AF_TESTUTIL_H
#define AF_TESTUTIL_H

#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago (bound, then closed). */
int af_test_free_port(void);

/* Starts `redis-server` on 127.0.0.1:port with no persistence, stdout to
 * /dev/null. Returns its pid (the caller stops it with af_test_redis_stop). */
pid_t af_test_redis_start(int port);
/* SIGKILLs and reaps it. */
void af_test_redis_stop(pid_t pid);

#endif
