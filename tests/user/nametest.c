/*
 * nametest: the path-name space through procmgr, run as the first process
 * (init=bin/nametest initexit=qemu).  It starts procmgr, plays three
 * servers (channels A, B, C), attaches /dev (A), /dev/console (B) and /dev
 * again (C, overlapping), and resolves: longest prefix, whole components,
 * overlapping mounts in order, detach, and hostile paths.  Which server a
 * returned connection leads to is checked by a pulse through it.  The
 * generation page: read-only to clients, bumped by every attach and
 * detach before they are answered, not by resolving.  Prints
 * TEST PASS/FAIL user.names.NAME lines; exits 0 if all passed.
 */
#include "base/string.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/stdio.h"

static int failures;
static long pm, srv_chan[3], srv_conn[3];

static void check(const char *name, int ok)
{
    printf("TEST %s user.names.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

static long attach(const char *prefix, int server, uint32_t flags)
{
    struct procmgr_attach_req req = { .flags = flags };
    memcpy(req.prefix, prefix, strlen(prefix));
    struct procmgr_attach_rep rep = { 0 };
    if (server >= 0)
        k_handle_attach(srv_conn[server], K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
    long r = procmgr_attach(pm, &req, &rep);
    return r < 0 ? r : (long)rep.mount;
}

/* Resolves PATH[LEN]; returns the server index the answer leads to (or an
 * error) and copies the rest of the path into REST. */
static long resolve(const char *path, size_t len, uint32_t candidate, char *rest, uint32_t *count)
{
    struct procmgr_resolve_req req = { .candidate = candidate };
    struct procmgr_resolve_rep rep;
    memset(&rep, 0, sizeof(rep));
    long r = procmgr_resolve(pm, &req, path, len, &rep);
    if (r < 0)
        return r;
    memcpy(rest, rep.rest, rep.rest_len);
    rest[rep.rest_len] = 0;
    *count = rep.count;
    long conn = k_handle_received();
    if (conn < 0)
        return -1000;
    k_pulse_send(conn, 5, 0, 200);             /* through the answer: high priority */
    k_handle_close(conn);
    long which = -1;
    for (int i = 0; i < 3; i++) {
        k_pulse_send(srv_conn[i], 1, 0, 1);     /* a marker on every server */
        struct k_msg_info info;
        k_msg_receive(srv_chan[i], 0, 0, (long)&info);
        if (info.code == 5) {
            which = i;
            k_msg_receive(srv_chan[i], 0, 0, (long)&info);   /* drain the marker */
        }
    }
    return which;
}

static void test_resolution(void)
{
    char rest[260];
    uint32_t count = 0;
    check("resolve_longest_prefix", resolve("/dev/console/x", 14, 0, rest, &count) == 1 &&
                                     strcmp(rest, "x") == 0);
    check("resolve_overlap_first", resolve("/dev/null", 9, 0, rest, &count) == 0 &&
                                   strcmp(rest, "null") == 0 && count == 2);
    check("resolve_overlap_second", resolve("/dev/null", 9, 1, rest, &count) == 2);
    check("resolve_components", resolve("/devices", 8, 0, rest, &count) == -E_NOENT);
    check("resolve_dotdot", resolve("/dev/../dev/console", 19, 0, rest, &count) == 1 &&
                            rest[0] == 0);
    check("resolve_no_such_candidate", resolve("/dev/null", 9, 5, rest, &count) == -E_NOENT);
}

/* The name space's generation (protocol version 3): a page mapped
 * read-only whose count every change of the table moves, before the
 * change is answered. */
static volatile const uint64_t *gen_page(long *vmo_out)
{
    struct procmgr_generation_req q = { 0 };
    struct procmgr_generation_rep rep = { 0 };
    long r = procmgr_generation(pm, &q, &rep);
    long vmo = r >= 0 ? k_handle_received() : -1;
    *vmo_out = vmo;
    check("generation_answered", r == 0 && vmo > 0 && rep.generation > 0);
    long at = vmo > 0 ? k_vmo_map(0, vmo, 0, 4096, K_PROT_READ) : -1;
    check("generation_maps_read_only", at > 0 && *(volatile uint64_t *)at == rep.generation);
    return at > 0 ? (volatile const uint64_t *)at : NULL;
}

static void test_generation(void)
{
    long vmo;
    volatile const uint64_t *g = gen_page(&vmo);
    if (!g)
        return;
    check("generation_not_writable", vmo > 0 &&
          k_vmo_map(0, vmo, 0, 4096, K_PROT_READ | K_PROT_WRITE) == -E_RIGHTS);
    char rest[260];
    uint32_t count;
    uint64_t before = *g;
    resolve("/dev/null", 9, 0, rest, &count);
    check("generation_kept_by_resolve", *g == before);
    long m = attach("/tmp/gen", 1, 0);
    uint64_t attached = *g;
    check("generation_moved_by_attach", m >= 0 && attached > before);
    struct procmgr_detach_req d = { .mount = (uint32_t)m };
    struct procmgr_detach_rep drep;
    check("generation_moved_by_detach", procmgr_detach(pm, &d, &drep) == 0 && *g > attached);
    uint64_t now = *g;
    check("generation_kept_by_refused_attach", attach("/svc", 0, 0) == -E_PERM && *g == now);
    k_handle_close(vmo);
}

static void test_hostile(void)
{
    char rest[260];
    uint32_t count;
    static char huge[2000];
    memset(huge, 'a', sizeof(huge));
    huge[0] = '/';
    check("hostile_empty", resolve("", 0, 0, rest, &count) == -E_INVAL);
    check("hostile_relative", resolve("dev/null", 8, 0, rest, &count) == -E_INVAL);
    check("hostile_above_root", resolve("/../dev", 7, 0, rest, &count) == -E_INVAL);
    check("hostile_nul", resolve("/dev\0/x", 7, 0, rest, &count) == -E_INVAL);
    check("hostile_huge", resolve(huge, sizeof(huge), 0, rest, &count) < 0);
    check("attach_without_connection", attach("/tmp", -1, 0) == -E_INVAL);
    check("attach_relative", attach("tmp", 0, 0) == -E_INVAL);
    check("attach_outside_policy", attach("/svc", 0, 0) == -E_PERM);
    check("attach_root_refused", attach("/", 0, 0) == -E_PERM);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long pm_chan = k_chan_create(0);
    /* We play init: a policy lets badge 1 attach /dev and /tmp and lets
     * badge 3 see only /dev/console; the malformed lines (no badge, badge
     * 0, relative prefix, junk) grant or confine nothing, and the last
     * line has no newline. */
    static const char policy[] = "1 /dev\nx /svc\n0 /svc\n2 relative\n\n1\n 1 /svc\n"
                                 "v 0 /x\nv /x\nv 1 rel\nvv 1 /dev\nv 3 /dev/console\nv\n1 /tmp";
    long vmo = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    long base = k_vmo_map(0, vmo, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    check("policy_vmo", base > 0);
    if (base > 0)
        memcpy((void *)base, policy, sizeof(policy));
    struct k_spawn_handle h[2] = {
        { (uint32_t)pm_chan, K_RIGHT_RECEIVE | K_RIGHT_DUP, "chan" },
        { (uint32_t)vmo, K_RIGHT_READ | K_RIGHT_MAP, "policy" },
    };
    const char *pargv[] = { "bin/procmgr" };
    struct k_spawn sp = { .argc = 1, .nhandles = 2, .argv = pargv, .handles = h,
                          .image = (uint32_t)rt_handle("bootfs") };
    long p = k_process_spawn((long)"bin/procmgr", 11, (long)&sp);
    pm = k_chan_connect(pm_chan, 1, 0);
    long other = k_chan_connect(pm_chan, 2, 0);
    for (int i = 0; i < 3; i++) {
        srv_chan[i] = k_chan_create(0);
        srv_conn[i] = k_chan_connect(srv_chan[i], 0, 0);
    }
    check("procmgr_started", p > 0);
    struct procmgr_attach_req oreq = { .flags = 0, .prefix = "/tmp" };
    struct procmgr_attach_rep orep;
    k_handle_attach(srv_conn[0], K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
    check("attach_by_badge_with_bad_policy_line", procmgr_attach(other, &oreq, &orep) == -E_PERM);
    long a = attach("/dev", 0, 0), b = attach("/dev/console", 1, 0), c = attach("/dev", 2, 0);
    check("attach", a >= 0 && b >= 0 && c >= 0);
    long viewer = k_chan_connect(pm_chan, 3, 0);
    struct procmgr_resolve_req vq = { .candidate = 0 };
    struct procmgr_resolve_rep vr;
    check("view_policy_hides", procmgr_resolve(viewer, &vq, "/dev/null", 9, &vr) == -E_NOENT);
    check("view_policy_allows", procmgr_resolve(viewer, &vq, "/dev/console/x", 14, &vr) == 0);
    k_handle_close(k_handle_received());
    test_resolution();
    test_generation();
    test_hostile();
    struct procmgr_detach_req d = { .mount = (uint32_t)b };
    struct procmgr_detach_rep drep;
    char rest[260];
    uint32_t count;
    check("detach", procmgr_detach(pm, &d, &drep) == 0 &&
                    resolve("/dev/console/x", 14, 0, rest, &count) == 0 &&
                    strcmp(rest, "console/x") == 0);
    long t0 = k_clock_get();
    for (int i = 0; i < 100; i++) {
        struct procmgr_resolve_req req = { .candidate = 0 };
        struct procmgr_resolve_rep rep;
        procmgr_resolve(pm, &req, "/dev/null", 9, &rep);
        k_handle_close(k_handle_received());
    }
    printf("nametest name_resolve_ns %ld\n", (k_clock_get() - t0) / 100);
    k_process_kill(p, 0);
    printf("NAMETEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
