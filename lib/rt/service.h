/*
 * service: a client's connection to a service found by path name, kept
 * across the service's restarts.
 *
 *   static struct rt_service counter = { .path = "/svc/counter", .wait_ms = 3000 };
 *   long r = rt_service_call(&counter, true, get_op, &arg);
 *
 * rt_service_call runs OP with the current connection (resolving the path
 * through procmgr first if there is none).  When the connection turns out
 * dead (-E_DEAD, -E_BADHANDLE: the server died, perhaps in the middle of
 * this very call), it resolves the path again, waiting while the service
 * is away, up to wait_ms.  Then, if the operation is safe to retry
 * (RETRY_SAFE: it has no effect that doubling would harm, like a read), it
 * runs it again; if not, it returns -E_DEAD with a fresh connection in
 * place, and the caller decides (the server may or may not have acted).
 * Other results are returned as they are.
 *
 * Not thread-safe: one struct rt_service per thread, or a lock around it.
 */
#ifndef KESTREL_RT_SERVICE_H
#define KESTREL_RT_SERVICE_H

#include <stdbool.h>

struct rt_service {
    const char *path;       /* in procmgr's name space */
    long wait_ms;           /* how long to wait for the service to be back (0: 1000) */
    long conn;              /* the connection; 0 or less: none yet */
    unsigned reconnects;    /* calls that found the server dead and reconnected */
};

/* A connection to the server of PATH (through the "procmgr" start-up
 * handle), or a negative error; REST (REST_SIZE bytes, may be NULL) gets
 * the rest of the path after the server's prefix. */
long rt_resolve(const char *path, char *rest, unsigned long rest_size);

/* Resolves S->path until it answers or wait_ms have passed; 0 or an error. */
long rt_service_connect(struct rt_service *s);

long rt_service_call(struct rt_service *s, bool retry_safe, long (*op)(long conn, void *arg),
                     void *arg);

#endif
