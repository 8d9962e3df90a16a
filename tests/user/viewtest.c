/*
 * viewtest: a service confined by its manifest line's view= (started from
 * bootimage/tests/views.manifest with view=/svc/a names=/svc/a).  Another
 * service publishes /svc/b, outside the view: for this service and every
 * process it spawns it does not exist; /svc/a does; a child cannot be
 * given a wider view than the service's own.  Prints TEST lines; exits 0
 * if all passed.
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "protocols/procmgr.h"
#include "rt/proc.h"
#include "rt/rt.h"
#include "rt/stdio.h"

static int failures;
static long pm;

static void check(const char *name, int ok)
{
    printf("TEST %s user.views.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

static long resolve(const char *path)
{
    struct procmgr_resolve_req req = { .candidate = 0 };
    struct procmgr_resolve_rep rep;
    long r = procmgr_resolve(pm, &req, path, strlen(path), &rep);
    if (r >= 0)
        k_handle_close(k_handle_received());
    return r;
}

/* Runs "pmchild ARGS" (STRS[0..ARGC)) with the NVIEW view prefixes after
 * them; its exit status. */
static long run(const char *const *strs, unsigned argc, unsigned nview)
{
    long pid = rt_spawn(strs, argc, strs + argc, nview, 0), status = 0;
    long r = pid < 0 ? pid : rt_wait(pid, &status);
    return r < 0 ? r : status;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    pm = rt_handle("procmgr");
    /* Our own name comes from the supervisor, after the other service's
     * (it is earlier in the manifest): once ours resolves, /svc/b exists. */
    long r = -E_NOENT;
    for (int i = 0; i < 100 && r == -E_NOENT; i++) {
        r = resolve("/svc/a/x");
        if (r == -E_NOENT)
            k_thread_sleep(10 * 1000000);
    }
    check("inside_view", r == 0);
    check("outside_view_hidden", resolve("/svc/b/x") == -E_NOENT);
    check("parent_dir_hidden", resolve("/svc") == -E_NOENT);
    check("dotdot_stays_hidden", resolve("/svc/a/../b/x") == -E_NOENT);
    const char *in[] = { "bin/pmchild", "resolve", "/svc/a/x" };
    const char *out[] = { "bin/pmchild", "resolve", "/svc/b/x" };
    check("child_inherits_inside", run(in, 3, 0) == 0);
    check("child_inherits_hidden", run(out, 3, 0) == 2);
    const char *wide[] = { "bin/pmchild", "exit", "0", "/svc" };
    check("child_cannot_widen", run(wide, 3, 1) == -E_PERM);
    const char *root[] = { "bin/pmchild", "exit", "0", "/" };
    check("child_cannot_get_root", run(root, 3, 1) == -E_PERM);
    const char *narrow[] = { "bin/pmchild", "resolve", "/svc/a/x", "/svc/a/x" };
    check("child_narrower", run(narrow, 3, 1) == 0);
    printf("VIEWTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
