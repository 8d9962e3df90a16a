/*
 * proc: spawn and wait through procmgr (see proc.h).
 */
#include "rt/proc.h"

#include <stdbool.h>

#include "base/string.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"

#define SPAWN_BYTES 4096         /* what procmgr takes in one request */

/* Appends the COUNT strings of STRS, each with its NUL, at BUF + *LEN. */
static bool pack(char *buf, size_t *len, const char *const *strs, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        size_t n = strlen(strs[i]) + 1;
        if (n > SPAWN_BYTES - *len)
            return false;
        memcpy(buf + *len, strs[i], n);
        *len += n;
    }
    return true;
}

long rt_spawn(const char *const *argv, unsigned argc, const char *const *view, unsigned nview,
              unsigned prio)
{
    static char buf[SPAWN_BYTES];        /* not reentrant: one spawn at a time per process */
    size_t len = 0;
    if (!pack(buf, &len, argv, argc) || !pack(buf, &len, view, nview))
        return -E_TOOBIG;
    struct procmgr_spawn_req req = { .argc = argc, .nview = nview, .priority = prio };
    struct procmgr_spawn_rep rep;
    long r = procmgr_spawn(rt_handle("procmgr"), &req, buf, len, &rep);
    return r < 0 ? r : rep.pid;
}

long rt_wait(long pid, long *status)
{
    if (pid < 0 || pid > 0xffffffffL)
        return -E_INVAL;
    struct procmgr_wait_req req = { .pid = (uint32_t)pid, .flags = 0 };
    struct procmgr_wait_rep rep;
    long r = procmgr_wait(rt_handle("procmgr"), &req, &rep);
    if (r < 0)
        return r;
    if (status)
        *status = rep.status;
    return rep.pid;
}
