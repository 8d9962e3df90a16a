/*
 * pmchild: a program procmgr's tests spawn (tests/user/pmtest.c).  What it
 * does is its first argument; its exit status is the answer:
 *   exit N              exits with N
 *   sleep               sleeps until killed
 *   pid                 exits with its pid (0: procmgr does not know it)
 *   ppid                exits with its parent's pid
 *   resolve PATH        0 if PATH resolves, 2 if not (E_NOENT), 1 otherwise
 *   spawn VIEW PATH     spawns "pmchild resolve PATH" with view VIEW and
 *                       exits with its status; 3 if the spawn is refused
 *                       with E_PERM (a wider view), 4 for another error
 *   orphan              spawns "pmchild sleep-a-bit" and exits at once
 *   sleep-a-bit         sleeps 20 ms and exits 0
 *   print TEXT          prints TEXT with printf and exits 0
 *   detach N            detaches mount N: 0 done, 3 refused (E_PERM), 4 other
 *   crash               faults at once (a write to address 0)
 *   core                0 if procmgr lets it read a core, 2 if none (E_NOENT)
 *   probe-later         sleeps 300 ms, then prints "pmchild probe: pid N" with
 *                       the pid procmgr then says it has
 */
#include "base/string.h"
#include "protocols/procmgr.h"
#include "rt/proc.h"
#include "rt/rt.h"
#include "rt/stdio.h"

static long pm;

static long wait_for(long pid)
{
    long status = 0, r = rt_wait(pid, &status);
    return r < 0 ? r : status;
}

int main(int argc, char **argv)
{
    pm = rt_handle("procmgr");
    if (argc < 2 || pm < 0)
        return 100;
    const char *what = argv[1];
    struct procmgr_getpid_req gq;
    memset(&gq, 0, sizeof(gq));
    struct procmgr_getpid_rep gr = { .pid = 0, .ppid = 0 };
    if (strcmp(what, "exit") == 0 && argc > 2) {
        int n = 0;
        for (const char *c = argv[2]; *c >= '0' && *c <= '9'; c++)
            n = n * 10 + (*c - '0');
        return n;
    }
    if (strcmp(what, "sleep") == 0)
        for (;;)
            k_thread_sleep(1000L * 1000000);
    if (strcmp(what, "sleep-a-bit") == 0) {
        k_thread_sleep(20L * 1000000);
        return 0;
    }
    if (strcmp(what, "pid") == 0 || strcmp(what, "ppid") == 0) {
        if (procmgr_getpid(pm, &gq, &gr) < 0)
            return 101;
        return (int)(what[0] == 'p' && what[1] == 'i' ? gr.pid : gr.ppid);
    }
    if (strcmp(what, "resolve") == 0 && argc > 2) {
        struct procmgr_resolve_req req = { .candidate = 0 };
        struct procmgr_resolve_rep rep;
        long r = procmgr_resolve(pm, &req, argv[2], strlen(argv[2]), &rep);
        if (r >= 0)
            k_handle_close(k_handle_received());
        return r >= 0 ? 0 : r == -E_NOENT ? 2 : 1;
    }
    if (strcmp(what, "spawn") == 0 && argc > 3) {
        const char *strs[] = { "bin/pmchild", "resolve", argv[3] };
        const char *view[] = { argv[2] };
        long pid = rt_spawn(strs, 3, view, 1, 0);
        if (pid < 0)
            return pid == -E_PERM ? 3 : 4;
        return (int)wait_for(pid);
    }
    if (strcmp(what, "orphan") == 0) {
        const char *strs[] = { "bin/pmchild", "sleep-a-bit" };
        return rt_spawn(strs, 2, 0, 0, 0) > 0 ? 0 : 1;
    }
    if (strcmp(what, "detach") == 0 && argc > 2) {
        struct procmgr_detach_req req = { .mount = (uint32_t)(argv[2][0] - '0') };
        struct procmgr_detach_rep rep;
        long r = procmgr_detach(pm, &req, &rep);
        return r == 0 ? 0 : r == -E_PERM ? 3 : 4;
    }
    if (strcmp(what, "probe-later") == 0) {
        k_thread_sleep(300L * 1000000);
        long r = procmgr_getpid(pm, &gq, &gr);
        printf("pmchild probe: pid %ld\n", r < 0 ? r : (long)gr.pid);
        return 0;
    }
    if (strcmp(what, "crash") == 0)
        *(volatile int *)0 = 1;
    if (strcmp(what, "core") == 0) {
        struct procmgr_core_req req = { .index = 0, .offset = 0 };
        static struct procmgr_core_rep rep;
        long r = procmgr_core(pm, &req, &rep);
        return r == 0 ? 0 : r == -E_NOENT ? 2 : 1;
    }
    if (strcmp(what, "print") == 0 && argc > 2) {
        printf("%s\n", argv[2]);
        return 0;
    }
    return 100;
}
