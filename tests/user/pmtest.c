/*
 * pmtest: procmgr's processes and views as a service sees them (started by
 * init from bootimage/tests/procs.manifest with connect=procmgr and
 * names=/svc).  It spawns bin/pmchild (tests/user/pmchild.c) in various
 * ways: exit status through wait, wait without blocking, kill, ps, pids,
 * errors for children that are not its own, hostile spawn requests, and
 * name-space views that narrow and can never widen.  Prints TEST lines;
 * exits 0 if all passed.
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/exception.h"
#include "kestrel/rights.h"
#include "protocols/log.h"
#include "protocols/procmgr.h"
#include "protocols/supervisor.h"
#include "rt/proc.h"
#include "rt/rt.h"
#include "rt/stdio.h"

static int failures;
static long pm;

static void check(const char *name, int ok)
{
    printf("TEST %s user.procs.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

/* Spawns with STRS (ARGC arguments, then NVIEW view prefixes). */
static long spawn(const char *const *strs, unsigned argc, unsigned nview, unsigned prio)
{
    return rt_spawn(strs, argc, strs + argc, nview, prio);
}

static long spawn_raw(unsigned argc, unsigned nview, const void *bytes, size_t len)
{
    struct procmgr_spawn_req req = { .argc = argc, .nview = nview };
    struct procmgr_spawn_rep rep;
    return procmgr_spawn(pm, &req, bytes, len, &rep);
}

/* Waits for PID; the status, or a negative error.  *WHO: the pid that ended. */
static long wait_pid(uint32_t pid, uint32_t flags, long *who)
{
    struct procmgr_wait_req req = { .pid = pid, .flags = flags };
    struct procmgr_wait_rep rep = { .pid = 0, .status = 0 };
    long r = procmgr_wait(pm, &req, &rep);
    if (who)
        *who = rep.pid;
    return r < 0 ? r : rep.status;
}

/* The status of "pmchild ARGS..." run with VIEW (NULL: none). */
static long run(const char *a1, const char *a2, const char *a3, const char *view)
{
    const char *strs[5] = { "bin/pmchild", a1 };
    unsigned argc = 2;
    if (a2)
        strs[argc++] = a2;
    if (a3)
        strs[argc++] = a3;
    if (view)
        strs[argc] = view;
    long pid = spawn(strs, argc, view ? 1 : 0, 0);
    return pid < 0 ? pid : wait_pid((uint32_t)pid, 0, 0);
}

static long ps_count(void)
{
    struct procmgr_ps_req req = { .index = 0 };
    struct procmgr_ps_rep rep = { .count = 0 };
    long r = procmgr_ps(pm, &req, &rep);
    return r < 0 && r != -E_NOENT ? r : rep.count;
}

static void processes(void)
{
    struct procmgr_getpid_req gq;
    memset(&gq, 0, sizeof(gq));
    struct procmgr_getpid_rep gr = { .pid = 1, .ppid = 1 };
    check("service_has_no_pid", procmgr_getpid(pm, &gq, &gr) == 0 && gr.pid == 0);

    const char *exit7[] = { "bin/pmchild", "exit", "7" };
    long who = 0, pid = spawn(exit7, 3, 0, 0);
    check("spawn", pid > 0);
    check("wait_status", wait_pid((uint32_t)pid, 0, &who) == 7 && who == pid);
    check("waited_is_gone", wait_pid((uint32_t)pid, 0, 0) == -E_NOENT);

    const char *sleep[] = { "bin/pmchild", "sleep" };
    long sl = spawn(sleep, 2, 0, 0);
    check("wait_nohang", wait_pid((uint32_t)sl, 1, &who) == 0 && who == 0);
    struct procmgr_ps_req pq = { .index = 0 };
    struct procmgr_ps_rep pr;
    long r = procmgr_ps(pm, &pq, &pr);
    check("ps_lists", r == 0 && pr.count == 1 && pr.pid == sl && pr.ppid == 0 && pr.state == 1 &&
                      strcmp(pr.name, "pmchild") == 0);
    pq.index = 1;
    check("ps_past_end", procmgr_ps(pm, &pq, &pr) == -E_NOENT && pr.count == 1);
    /* Pulses forged through a client's connection: a death notice for
     * every slot, and srv's stop request, are not taken for procmgr's own. */
    for (int code = 0x20000; code < 0x20000 + 64; code++)
        k_pulse_send(pm, code, 7, 0);
    k_pulse_send(pm, 0x5700, 0, 0);
    k_pulse_send(rt_handle("log"), 0x5700, 0, 0);
    k_thread_sleep(20 * 1000000);
    check("forged_death_ignored", wait_pid((uint32_t)sl, 1, &who) == 0 && who == 0);
    check("forged_stop_ignored", ps_count() == 1);
    struct log_stats_req lq;
    memset(&lq, 0, sizeof(lq));
    struct log_stats_rep lr;
    check("log_not_stopped", log_stats(rt_handle("log"), &lq, &lr) == 0);
    struct procmgr_kill_req kq = { .pid = (uint32_t)sl, .status = 0x123 };
    struct procmgr_kill_rep kr;
    check("kill", procmgr_kill(pm, &kq, &kr) == 0);
    check("killed_status", wait_pid((uint32_t)sl, 0, 0) == 0x123);
    check("ps_empty", ps_count() == 0);

    /* Any child: two of them, collected in either order. */
    const char *e1[] = { "bin/pmchild", "exit", "11" }, *e2[] = { "bin/pmchild", "exit", "12" };
    long a = spawn(e1, 3, 0, 0), b = spawn(e2, 3, 0, 0);
    long s1 = wait_pid(0, 0, &who), w1 = who;
    long s2 = wait_pid(0, 0, &who), w2 = who;
    check("wait_any", a > 0 && b > 0 && s1 + s2 == 23 && w1 + w2 == a + b && w1 != w2);
    check("wait_no_children", wait_pid(0, 0, 0) == -E_NOENT);

    kq = (struct procmgr_kill_req){ .pid = 99999, .status = 1 };
    check("kill_unknown", procmgr_kill(pm, &kq, &kr) == -E_NOENT);

    /* pids as the children see them. */
    const char *me[] = { "bin/pmchild", "pid" };
    pid = spawn(me, 2, 0, 0);
    check("child_knows_pid", pid > 0 && wait_pid((uint32_t)pid, 0, 0) == pid);
    check("child_ppid_service", run("ppid", 0, 0, 0) == 0);

    /* A child's orphan is forgotten when it ends: nothing leaks. */
    check("orphan_parent", run("orphan", 0, 0, 0) == 0);
    k_thread_sleep(100L * 1000000);
    check("orphan_reaped", ps_count() == 0);
}

/* spawn_wait: spawn "pmchild exit 0" through procmgr and wait for it. */
static void bench_spawn_wait(void)
{
    enum { N = 20 };
    const char *strs[] = { "bin/pmchild", "exit", "0" };
    long t0 = k_clock_get(), ok = 0;
    for (int i = 0; i < N; i++) {
        long pid = spawn(strs, 3, 0, 0);
        ok += pid > 0 && wait_pid((uint32_t)pid, 0, 0) == 0;
    }
    long t = (k_clock_get() - t0) / N;
    check("spawn_wait_repeated", ok == N);
    printf("pmtest spawn_wait_ns %ld\n", t);
}

static void views(void)
{
    long self = k_chan_connect(rt_handle("chan"), 0, 0);
    const char *prefixes[] = { "/svc/a", "/svc/b" };
    for (unsigned i = 0; i < 2; i++) {
        struct procmgr_attach_req req = { .flags = 0 };
        memcpy(req.prefix, prefixes[i], strlen(prefixes[i]) + 1);
        struct procmgr_attach_rep rep;
        k_handle_attach(self, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
        check(i ? "attach_b" : "attach_a", procmgr_attach(pm, &req, &rep) == 0);
    }
    /* Re-attaching with flag 2 (a restarted service) replaces, else adds. */
    long ids[4];
    uint32_t flags[4] = { 2, 2, 0, 0x80 };
    for (unsigned i = 0; i < 4; i++) {
        struct procmgr_attach_req req = { .flags = flags[i], .prefix = "/svc/a" };
        struct procmgr_attach_rep rep = { .mount = 0 };
        k_handle_attach(self, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
        ids[i] = procmgr_attach(pm, &req, &rep);
        ids[i] = ids[i] < 0 ? ids[i] : rep.mount;
    }
    check("reattach_replaces", ids[0] >= 0 && ids[0] == ids[1]);
    check("attach_again_adds", ids[2] >= 0 && ids[2] != ids[1]);
    check("attach_bad_flags", ids[3] == -E_INVAL);
    char mount[2] = { (char)('0' + ids[0]), 0 };
    check("detach_not_own", ids[0] < 10 && run("detach", mount, 0, 0) == 3);
    struct procmgr_detach_req dq = { .mount = (uint32_t)ids[2] };
    struct procmgr_detach_rep dr;
    check("detach_own", procmgr_detach(pm, &dq, &dr) == 0);
    check("view_inherited_root", run("resolve", "/svc/b/x", 0, 0) == 0);
    check("view_allows", run("resolve", "/svc/a/x", 0, "/svc/a") == 0);
    check("view_hides", run("resolve", "/svc/b/x", 0, "/svc/a") == 2);
    check("view_hides_parent_dir", run("resolve", "/svc", 0, "/svc/a") == 2);
    check("view_dotdot_escape", run("resolve", "/svc/a/../b/x", 0, "/svc/a") == 2);
    check("view_cannot_widen", run("spawn", "/svc", "/svc/b/x", "/svc/a") == 3);
    check("view_cannot_sidestep", run("spawn", "/svc/b", "/svc/b/x", "/svc/a") == 3);
    check("view_narrows", run("spawn", "/svc/a/deep", "/svc/a/deep/x", "/svc/a") == 0);
    check("view_narrowed_hides", run("spawn", "/svc/a/deep", "/svc/a/x", "/svc/a") == 2);
    check("view_inherits_narrow", run("spawn", "/svc/a", "/svc/a/x", "/svc/a") == 0);
}

/* A child's printf reaches the console through the log service. */
static void output(void)
{
    long log = rt_handle("log");
    struct log_stats_req q;
    memset(&q, 0, sizeof(q));
    struct log_stats_rep before, after;
    long r1 = log_stats(log, &q, &before);
    long st = run("print", "pmchild prints through the log", 0, 0);
    long r2 = log_stats(log, &q, &after);
    check("child_print_via_log", r1 == 0 && r2 == 0 && st == 0 &&
                                 after.prints == before.prints + 1 &&
                                 after.print_bytes == before.print_bytes + 31);
    r1 = log_stats(log, &q, &before);
    printf("pmtest prints through the log too\n");
    r2 = log_stats(log, &q, &after);
    check("own_print_via_log", r1 == 0 && r2 == 0 && after.prints == before.prints + 1);
    uint32_t bad[2] = { 0, 0 };
    check("log_garbage", k_msg_send(log, (long)bad, -(long)sizeof(bad), 0, 0) == -E_INVAL);
    struct log_print_req pq;
    memset(&pq, 0, sizeof(pq));
    struct log_print_rep pr;
    check("log_print_empty", log_print(log, &pq, 0, 0, &pr) == 0 && pr.bytes == 0);
}

/* A child that faults leaves a core file its parent can read back. */
static void faults(void)
{
    long st = run("crash", 0, 0, 0);
    check("fault_status", st == K_EXIT_FAULT(14));
    struct procmgr_core_req req = { .index = 0, .offset = 0 };
    static struct procmgr_core_rep rep;
    long r = -E_NOENT;
    /* Kept once it is on the console, which takes seconds on a loaded host. */
    for (int i = 0; i < 3000 && r == -E_NOENT; i++) {
        r = procmgr_core(pm, &req, &rep);
        if (r == -E_NOENT)
            k_thread_sleep(10 * 1000000);
    }
    check("core_kept", r == 0 && rep.count == 1 && strcmp(rep.name, "pmchild") == 0 &&
                       rep.size > 64 && memcmp(rep.data, "\177ELF", 4) == 0);
    uint64_t size = rep.size, hash = 0xcbf29ce484222325ULL, got = 0;
    while (r == 0 && got < size) {
        req.offset = got;
        r = procmgr_core(pm, &req, &rep);
        if (r < 0 || rep.len == 0)
            break;
        for (uint32_t i = 0; i < rep.len; i++)
            hash = (hash ^ (unsigned char)rep.data[i]) * 0x100000001b3ULL;
        got += rep.len;
    }
    check("core_read_whole", got == size);
    printf("pmtest core pmchild %lu %016lx\n", (unsigned long)got, (unsigned long)hash);
    check("core_only_for_parent", run("core", 0, 0, 0) == 2);
    req = (struct procmgr_core_req){ .index = 7, .offset = 0 };
    check("core_index_past", procmgr_core(pm, &req, &rep) == -E_NOENT);
    req = (struct procmgr_core_req){ .index = 0, .offset = ~0ULL };
    check("core_offset_huge", procmgr_core(pm, &req, &rep) == 0 && rep.len == 0);
}

static void hostile(void)
{
    const char *ok[] = { "bin/pmchild", "exit", "0" };
    check("argc_zero", spawn_raw(0, 0, "bin/pmchild", 12) == -E_INVAL);
    check("argc_more_than_strings", spawn_raw(3, 0, "bin/pmchild\0exit", 17) == -E_INVAL);
    check("unterminated", spawn_raw(1, 0, "bin/pmchild", 11) == -E_INVAL);
    check("trailing_bytes", spawn_raw(1, 0, "bin/pmchild\0xx", 14) == -E_INVAL);
    check("no_payload", spawn_raw(1, 0, 0, 0) == -E_INVAL);
    check("argc_huge", spawn_raw(0xffffffffu, 0, "bin/pmchild", 12) == -E_INVAL);
    check("nview_huge", spawn_raw(1, 0xffffffffu, "bin/pmchild", 12) == -E_INVAL);
    const char *badview[] = { "bin/pmchild", "exit", "0", "/../x" };
    check("view_above_root", spawn(badview, 3, 1, 0) == -E_INVAL);
    const char *relview[] = { "bin/pmchild", "exit", "0", "svc" };
    check("view_relative", spawn(relview, 3, 1, 0) == -E_INVAL);
    check("priority_too_high", spawn(ok, 3, 0, 200) == -E_PERM);
    const char *none[] = { "bin/nosuch" };
    check("no_such_program", spawn(none, 1, 0, 0) < 0);
    static char big[6000];
    memset(big, 'a', sizeof(big) - 1);
    check("huge_payload", spawn_raw(1, 0, big, sizeof(big)) == -E_TOOBIG);
    char longarg[400];
    memcpy(longarg, "bin/pmchild", 12);
    memset(longarg + 12, 'b', sizeof(longarg) - 13);
    longarg[sizeof(longarg) - 1] = 0;
    check("arg_too_long", spawn_raw(2, 0, longarg, sizeof(longarg)) == -E_INVAL);
    struct procmgr_wait_req wq = { .pid = 0, .flags = 0x80 };
    struct procmgr_wait_rep wr;
    check("wait_bad_flags", procmgr_wait(pm, &wq, &wr) == -E_INVAL);
    struct k_proto_hdr truncated = { PROCMGR_PROTO_ID, 2, PROCMGR_MSG_SPAWN, 0, 0 };
    check("truncated", k_msg_send(pm, (long)&truncated, -(long)sizeof(truncated), 0, 0) == -E_INVAL);
    check("still_serves", run("exit", "5", 0, 0) == 5);
    check("nothing_left", ps_count() == 0);
}

/* Across a restart of procmgr (pmrestart.manifest): a process of the old
 * life whose pid the new life gives again is not taken for the new one. */
static int restart_scenario(void)
{
    const char *probe[] = { "bin/pmchild", "probe-later" };
    long a = spawn(probe, 2, 0, 0);
    check("probe_spawned", a == 1);                    /* the first pid of this procmgr */
    struct supervisor_restart_req rq;
    memset(&rq, 0, sizeof(rq));
    memcpy(rq.name, "procmgr", 8);
    struct supervisor_restart_rep rr;
    check("procmgr_restarted", supervisor_restart(rt_handle("supervisor"), &rq, &rr) == 0);
    const char *sleep[] = { "bin/pmchild", "sleep" };
    long b = -1;
    for (int i = 0; i < 100 && b < 0; i++) {           /* the new procmgr may not be up yet */
        b = spawn(sleep, 2, 0, 0);
        if (b < 0)
            k_thread_sleep(5 * 1000000);
    }
    check("same_pid_again", b == 1);
    k_thread_sleep(500L * 1000000);                     /* the probe asks meanwhile */
    struct procmgr_kill_req kq = { .pid = (uint32_t)b, .status = 0 };
    struct procmgr_kill_rep kr;
    check("kill_new", procmgr_kill(pm, &kq, &kr) == 0 && wait_pid((uint32_t)b, 0, 0) == 0);
    printf("PMTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    pm = rt_handle("procmgr");
    if (argc > 1 && strcmp(argv[1], "restart") == 0)
        return restart_scenario();
    check("handles", pm >= 0);
    processes();
    bench_spawn_wait();
    views();
    output();
    faults();
    hostile();
    printf("PMTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
