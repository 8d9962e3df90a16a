/*
 * service: connections that survive a server's restart (see service.h).
 */
#include "rt/service.h"

#include "base/string.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"

#define RETRY_NS (2L * 1000000)      /* between resolves while a service is away */

long rt_resolve(const char *path, char *rest, unsigned long rest_size)
{
    long pm = rt_handle("procmgr");
    if (pm < 0)
        return -E_NOENT;
    struct procmgr_resolve_req req = { .candidate = 0 };
    struct procmgr_resolve_rep rep;
    long r = procmgr_resolve(pm, &req, path, strlen(path), &rep);
    if (r < 0)
        return r;
    long conn = k_handle_received();
    if (conn <= 0)
        return -E_DEAD;
    if (rest && rest_size) {
        size_t n = rep.rest_len < rest_size - 1 ? rep.rest_len : rest_size - 1;
        memcpy(rest, rep.rest, n);
        rest[n] = 0;
    }
    return conn;
}

long rt_service_connect(struct rt_service *s)
{
    long end = k_clock_get() + (s->wait_ms > 0 ? s->wait_ms : 1000) * 1000000;
    for (;;) {
        long conn = rt_resolve(s->path, 0, 0);
        if (conn > 0) {
            if (s->conn > 0)
                k_handle_close(s->conn);
            s->conn = conn;
            return 0;
        }
        if (conn != -E_NOENT && conn != -E_DEAD)
            return conn;                        /* a bad path: waiting will not help */
        if (k_clock_get() > end)
            return conn;
        k_thread_sleep(RETRY_NS);
    }
}

static bool dead(long r)
{
    return r == -E_DEAD || r == -E_BADHANDLE;
}

long rt_service_call(struct rt_service *s, bool retry_safe, long (*op)(long conn, void *arg),
                     void *arg)
{
    if (s->conn <= 0) {
        long r = rt_service_connect(s);
        if (r < 0)
            return r;
    }
    long end = k_clock_get() + (s->wait_ms > 0 ? s->wait_ms : 1000) * 1000000;
    bool seen = false;
    for (;;) {
        long r = op(s->conn, arg);
        if (!dead(r))
            return r;
        /* The server died: until its new life answers, each try fails. */
        if (!seen)
            s->reconnects++;
        seen = true;
        do {
            if (k_clock_get() > end)
                return r;
            k_thread_sleep(RETRY_NS);
        } while (rt_service_connect(s) < 0);
        if (!retry_safe)
            return -E_DEAD;                     /* reconnected; the caller decides */
    }
}
