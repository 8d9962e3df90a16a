/*
 * held: how long a process has held the requests it holds (K_INFO_SERVING,
 * kestrel/msg.h), from one look to the next.  A request is named by its
 * sender's thread and send count, so a client that sends again and again
 * is not one request held long.  lib/srv watches its own process with it
 * (srv_ops.stall_ms), the supervisor a service's (manifest stall=), which
 * the service cannot talk it out of.
 */
#ifndef KESTREL_RT_HELD_H
#define KESTREL_RT_HELD_H

#include <stdint.h>

#include "kestrel/msg.h"

struct rt_held {
    unsigned n;                  /* the requests held at the last look */
    uint64_t ids[32];
    long since[32];              /* when each was first seen (k_clock_get) */
};

/* Looks at what process PROC (0: the caller) holds now; the time its
 * oldest request has been held (ns, 0 if none), or a negative error of
 * sys_info (the process is gone: E_DEAD, E_BADHANDLE...). */
long rt_held_look(struct rt_held *h, long proc);

/* Of the requests at the last look, how many had been held NS or more at
 * NOW. */
unsigned rt_held_older(const struct rt_held *h, long now, long ns);

#endif
