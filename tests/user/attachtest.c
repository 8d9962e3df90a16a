/*
 * attachtest: procmgr's attach policy as a service sees it.  Its manifest
 * line (bootimage/tests/policy.manifest) grants names=/svc/a,/dev/x: it
 * may attach those prefixes and anything under them, nothing else; after
 * procmgr is restarted (through connect=init) the new procmgr gets the
 * same policy from init before it serves anyone, so the same answers hold.
 * Its names= are published by the supervisor, on its channel, at its start
 * and again after procmgr's restart, without the service doing anything.
 * Prints TEST lines; exits 0 if all passed.
 */
#include <stdbool.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "protocols/procmgr.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/stdio.h"

static int failures;
static long pm, self;

static void check(const char *name, int ok)
{
    printf("TEST %s user.policy.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

static long attach(const char *prefix)
{
    struct procmgr_attach_req req = { .flags = 0 };
    size_t n = strlen(prefix);
    memcpy(req.prefix, prefix, n + 1);
    struct procmgr_attach_rep rep;
    k_handle_attach(self, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
    return procmgr_attach(pm, &req, &rep);
}

static void policy_holds(const char *when)
{
    char name[64];
    struct { const char *prefix; long want; } cases[] = {
        { "/svc/a", 0 }, { "/svc/a/deeper", 0 }, { "/dev/x", 0 }, { "//svc/./a/", 0 },
        { "/svc/b", -E_PERM }, { "/svc/ab", -E_PERM }, { "/svc", -E_PERM }, { "/", -E_PERM },
        { "/svc/a/../b", -E_PERM }, { "/dev/xy", -E_PERM },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long r = attach(cases[i].prefix);
        snprintf(name, sizeof(name), "%s_%u", when, i);
        check(name, cases[i].want == 0 ? r >= 0 : r == cases[i].want);
        if ((cases[i].want == 0) != (r >= 0))
            printf("attachtest: %s: attach %s gave %ld\n", when, cases[i].prefix, r);
    }
}

/* Does /svc/a/x resolve to this service's own channel (polled up to a
 * second: the supervisor publishes names in the background)?  The answer
 * is checked with a pulse through the returned connection. */
static bool published(void)
{
    long chan = rt_handle("chan");
    for (int i = 0; i < 100; i++) {
        struct procmgr_resolve_req req = { .candidate = 0 };
        struct procmgr_resolve_rep rep;
        if (procmgr_resolve(pm, &req, "/svc/a/x", 8, &rep) == 0) {
            long conn = k_handle_received();
            long sent = k_pulse_send(conn, 0x77, 0, 0);
            k_handle_close(conn);
            struct k_msg_info info;
            return sent == 0 && k_msg_receive(chan, 0, 0, (long)&info) == 0 && info.code == 0x77 &&
                   rep.rest_len == 1 && rep.rest[0] == 'x';
        }
        k_thread_sleep(10 * 1000000);
    }
    return false;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    pm = rt_handle("procmgr");
    long ctl = rt_handle("supervisor");
    self = k_chan_connect(rt_handle("chan"), 0, 0);
    check("handles", pm >= 0 && ctl >= 0 && self >= 0);
    check("names_published", published());
    policy_holds("first");

    struct supervisor_restart_req rq = { 0 };
    memcpy(rq.name, "procmgr", 8);
    struct supervisor_restart_rep rr;
    check("procmgr_restarted", supervisor_restart(ctl, &rq, &rr) == 0);
    check("names_republished", published());          /* by the supervisor, not by us */
    policy_holds("restarted");
    printf("ATTACHTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
