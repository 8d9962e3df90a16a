/*
 * attachtest: procmgr's attach policy as a service sees it.  Its manifest
 * line (bootimage/tests/policy.manifest) grants names=/svc/a,/dev/x: it
 * may attach those prefixes and anything under them, nothing else; after
 * procmgr is restarted (through connect=init) the new procmgr gets the
 * same policy from init before it serves anyone, so the same answers hold.
 * Prints TEST lines; exits 0 if all passed.
 */
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

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    pm = rt_handle("procmgr");
    long ctl = rt_handle("init");
    self = k_chan_connect(rt_handle("chan"), 0);
    check("handles", pm >= 0 && ctl >= 0 && self >= 0);
    policy_holds("first");

    struct supervisor_restart_req rq = { 0 };
    memcpy(rq.name, "procmgr", 8);
    struct supervisor_restart_rep rr;
    check("procmgr_restarted", supervisor_restart(ctl, &rq, &rr) == 0);
    policy_holds("restarted");
    printf("ATTACHTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
