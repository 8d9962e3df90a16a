/*
 * counter: a test service for restarts.  It attaches /svc/counter in
 * procmgr's name space (in front of any stale mount of an earlier life)
 * and answers "g" (get: how many messages this life has served), holds
 * "w" (no reply: a call left in flight) and "c" (crash: faults while the
 * request is in flight, so its clients see the death of a server
 * mid-request).  Started by init from
 * bootimage/tests/restart.manifest with restart=always.
 */
#include "base/string.h"
#include "kestrel/rights.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/stdio.h"

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long chan = rt_handle("chan"), pm = rt_handle("procmgr");
    long self = k_chan_connect(chan, 0, 0);
    struct procmgr_attach_req req = { .flags = 3 };     /* in front; replacing a past life's */
    memcpy(req.prefix, "/svc/counter", 13);
    struct procmgr_attach_rep rep;
    k_handle_attach(self, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
    if (procmgr_attach(pm, &req, &rep) < 0) {
        printf("counter: cannot attach /svc/counter\n");
        return 1;
    }
    long served = 0;
    for (;;) {
        char op = 0;
        long rcvid = k_msg_receive(chan, (long)&op, -1, 0);
        if (rcvid <= 0)
            continue;
        if (op == 'c')
            *(volatile int *)0 = 1;            /* die with the request in flight */
        if (op == 'w')
            continue;                          /* held: answered by our death */
        k_msg_reply(rcvid, ++served, 0, 0);
    }
}
