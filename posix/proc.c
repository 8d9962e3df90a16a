/*
 * proc: processes in the Linux personality.  fork is built here from
 * three kernel calls: process_create (an empty process holding copies of
 * our handles: the start-up ones and every descriptor's), vm_clone (our
 * whole address space, copy-on-write: the program and the personality
 * with its descriptor table) and thread_start (a thread at fork_child,
 * which renumbers the handles it inherited and returns 0 to the program
 * where the parent's `syscall` was).  A child's death reaches our channel
 * as a pulse (process_watch); wait4 reads them.
 *
 * Not yet: signals are recorded (rt_sigaction, rt_sigprocmask) but not
 * delivered; process groups and sessions are numbers kept here; execve
 * is still to come.
 */
#include "lx.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/exception.h"
#include "kestrel/personality.h"
#include "kestrel/rights.h"
#include "kestrel/startup.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"

enum {
    NR_rt_sigaction = 13, NR_rt_sigprocmask = 14, NR_sched_yield = 24, NR_pause = 34,
    NR_nanosleep = 35, NR_getpid = 39, NR_clone = 56, NR_fork = 57, NR_vfork = 58,
    NR_exit = 60, NR_wait4 = 61, NR_kill = 62, NR_gettimeofday = 96, NR_sysinfo = 99,
    NR_setpgid = 109, NR_getppid = 110, NR_getpgrp = 111, NR_setsid = 112, NR_getpgid = 121,
    NR_getsid = 124, NR_sigaltstack = 131, NR_gettid = 186, NR_clock_nanosleep = 230,
    NR_exit_group = 231, NR_tgkill = 234,
};

#define CLONE_VM 0x100
#define CLONE_VFORK 0x4000
#define CLONE_THREAD 0x10000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_CHILD_SETTID 0x1000000
#define CLONE_PARENT_SETTID 0x100000
#define WNOHANG 1

#define PULSE_DEATH 0x44450000       /* + the child's slot; value: its exit status */
#define PULSE_HELLO 0x48454c4f       /* a new child says who it is (its pid) */
#define PULSE_WAKE 0x57414b45        /* our own: the end of a non-blocking look */
#define PULSE_NOTIFY 0x4e4f5449      /* a file server: a polled event (posix/fd.c) */

/* A Linux-visible exit status: a signal's number for a process killed by
 * one (a fault: SIGSEGV, SIGBUS, SIGILL, SIGFPE), else code << 8. */
#define LX_KILLED(sig) (0x10000 | (sig))

struct child {
    long h;                         /* process handle; 0: free */
    uint64_t pid, pgid;
    bool ended;
    long status;                    /* Kestrel exit status */
};
#define MAX_CHILDREN 64
static struct child kids[MAX_CHILDREN];

static int wait_status(long st)
{
    if (st & 0x10000)
        return (int)(st & 0x7f);
    if ((st & ~0xffL) == 0x100) {   /* K_EXIT_FAULT(vector) */
        int v = (int)(st & 0xff);
        return v == 0 ? 8 : v == 6 ? 4 : v == 17 ? 7 : 11;
    }
    if (st & ~0xffL)
        return 9;                   /* stopped or hung: as SIGKILL */
    return (int)((st & 0xff) << 8);
}

/* One pulse on our channel, handled: a death is recorded, a notify or a
 * hello is reported.  TIMEOUT_NS < 0: no limit.  1 notify/hello, 0 timed
 * out or our own wake, -errno.  *PID gets a hello's sender. */
static long take_pulse(long timeout_ns, uint64_t *hello_pid)
{
    long timer = -1;
    if (timeout_ns >= 0) {
        timer = k_timer_create(lx.self, PULSE_WAKE, 0);
        if (timer < 0 || k_timer_set(timer, timeout_ns > 0 ? timeout_ns : 1, 0) < 0) {
            if (timer >= 0)
                k_handle_close(timer);
            return -LX_ENOMEM;
        }
    }
    long ret = 0;
    for (;;) {
        struct k_msg_info info;
        long r = k_msg_receive(lx.chan, 0, 0, (long)&info);
        if (r < 0) {
            ret = lx_errno(r);
            break;
        }
        if (r > 0) {                /* nobody should send us messages */
            k_msg_error(r, E_NOSYS);
            continue;
        }
        if (info.type != K_MSG_PULSE)
            continue;
        uint32_t slot = (uint32_t)info.code - PULSE_DEATH;
        if (slot < MAX_CHILDREN && kids[slot].h) {
            kids[slot].ended = true;
            kids[slot].status = (long)info.value;
            ret = 1;
            break;
        }
        if (info.code == PULSE_HELLO && hello_pid) {
            *hello_pid = info.pid;
            ret = 1;
            break;
        }
        if (info.code == PULSE_NOTIFY) {
            ret = 1;
            break;
        }
        if (info.code == PULSE_WAKE && info.badge == (uint64_t)-1) {
            ret = 0;
            break;
        }
    }
    if (timer >= 0)
        k_handle_close(timer);
    return ret;
}

long lx_wait_pulse(long timeout_ns)
{
    return take_pulse(timeout_ns, 0);
}

/* ---- fork ---- */

/* What the child needs that only the parent knows when it is cloned. */
static struct {
    struct lx_regs regs;            /* the program's, at its fork */
    struct k_redirect frame;        /* where it goes on */
    unsigned n;
    uint32_t old[K_STARTUP_MAX_HANDLES], now[K_STARTUP_MAX_HANDLES];
    int fd[K_STARTUP_MAX_HANDLES];  /* -1: a start-up handle */
    uint64_t ctid;
    uint64_t flags;
    long parent;                    /* the child's connection to our channel */
} fork_info;

static char fork_stack[16384] __attribute__((aligned(16)));
extern char lx_entry[];
_Noreturn void lx_resume(void *regs_then_frame);


static _Noreturn void fork_child(void)
{
    /* Our handles have the child's numbers now. */
    for (unsigned i = 0; i < fork_info.n; i++) {
        if (fork_info.fd[i] >= 0) {
            lx_fd_renumber(fork_info.fd[i], fork_info.now[i]);
            continue;
        }
        for (uint64_t j = 0; rt_startup && j < rt_startup->nhandles; j++)
            if (rt_startup->handles[j].handle == fork_info.old[i])
                rt_startup->handles[j].handle = fork_info.now[i];
    }
    lx.self = (long)fork_info.now[fork_info.n - 1];      /* the parent's, for hello */
    k_pulse_send(lx.self, PULSE_HELLO, 0, 0);
    k_handle_close(lx.self);
    lx.chan = k_chan_create(0);
    lx.self = lx.chan > 0 ? k_chan_connect(lx.chan, (long)-1, 0) : -1;
    memset(kids, 0, sizeof(kids));
    lx.ppid = lx.pid;
    lx.pid = 0;
    struct k_msg_info info = { 0 };            /* our pid: the kernel stamps it */
    if (k_pulse_send(lx.self, PULSE_WAKE, 0, 0) == 0)
        k_msg_receive(lx.chan, 0, 0, (long)&info);
    lx.pid = info.pid;
    if (fork_info.flags & CLONE_CHILD_SETTID && fork_info.ctid)
        lx_copy_out(fork_info.ctid, &(uint32_t){ (uint32_t)lx.pid }, 4);
    if (fork_info.flags & CLONE_CHILD_CLEARTID)
        lx.tid_address = fork_info.ctid;
    if (k_personality_stack((long)lx_stack_top()) != 0 ||
        k_personality_set((long)lx_entry, (long)K_NATIVE_BASE,
                          (long)(K_NATIVE_BASE + 0x10000000UL)) != 0)
        k_process_exit(K_EXIT_FAULT(6));
    k_thread_set_fs((long)lx.fs_base);
    static struct { struct lx_regs r; struct k_redirect f; } resume;
    resume.r = fork_info.regs;
    resume.r.rax = 0;
    resume.f = fork_info.frame;
    lx_resume(&resume);
}

static long do_fork(struct lx_regs *r, uint64_t flags, uint64_t ctid)
{
    int slot = -1;
    for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
        if (!kids[i].h)
            slot = i;
    if (slot < 0)
        return -LX_EAGAIN;
    struct k_spawn_handle sh[K_STARTUP_MAX_HANDLES];
    unsigned n = 0;
    /* Of our start-up handles the child gets what a process needs: the
     * name space, the log and the boot image (to fork in turn); not what
     * belongs to us as a service (our channel, our heartbeat). */
    for (uint64_t j = 0; rt_startup && j < rt_startup->nhandles && n < 16; j++) {
        const struct k_startup_handle *s = &rt_startup->handles[j];
        if (strcmp(s->name, "procmgr") != 0 && strcmp(s->name, "log") != 0 &&
            strcmp(s->name, "bootfs") != 0)
            continue;
        sh[n] = (struct k_spawn_handle){ s->handle, K_RIGHTS_SAME, { 0 } };
        memcpy(sh[n].name, s->name, sizeof(sh[n].name));
        fork_info.fd[n] = -1;
        n++;
    }
    long fdh[K_STARTUP_MAX_HANDLES];
    int fdn[K_STARTUP_MAX_HANDLES];
    unsigned nf = lx_fd_handles(fdn, fdh, K_STARTUP_MAX_HANDLES - 1 - n);
    if (nf == K_STARTUP_MAX_HANDLES - 1 - n && lx_fd_handles(fdn, fdh, K_STARTUP_MAX_HANDLES) > nf)
        return -LX_EMFILE;          /* more descriptors than a child can take yet */
    for (unsigned i = 0; i < nf; i++, n++) {
        sh[n] = (struct k_spawn_handle){ (uint32_t)fdh[i], K_RIGHTS_SAME, "fd" };
        fork_info.fd[n] = fdn[i];
    }
    sh[n] = (struct k_spawn_handle){ (uint32_t)lx.self, K_RIGHT_SEND, "parent" };
    fork_info.fd[n] = -1;
    n++;
    for (unsigned i = 0; i < n; i++)
        fork_info.old[i] = sh[i].handle;
    struct k_spawn sp = { .nhandles = n, .handles = sh,
                          .image = (uint32_t)rt_handle("bootfs") };
    const char *name = lx.exe[0] ? lx.exe + 1 : "linux";
    long p = k_process_create((long)name, (long)strlen(name), (long)&sp);
    if (p < 0)
        return lx_errno(p);
    for (unsigned i = 0; i < n; i++)
        fork_info.now[i] = sh[i].handle;
    fork_info.n = n;
    fork_info.regs = *r;
    memcpy(&fork_info.frame, r + 1, sizeof(fork_info.frame));
    fork_info.ctid = ctid;
    fork_info.flags = flags;
    long e = k_process_watch(p, lx.self, PULSE_DEATH + (uint32_t)slot);
    if (e >= 0)
        e = k_vm_clone(p);
    struct k_regs kr = { .rip = (uint64_t)(uintptr_t)fork_child,
                         .rsp = (uint64_t)(uintptr_t)(fork_stack + sizeof(fork_stack) - 8),
                         .fs_base = 0 };
    long t = e < 0 ? e : k_thread_start(p, (long)&kr, 0);
    if (t < 0) {
        k_process_kill(p, 1);
        k_handle_close(p);
        return t == -E_NOMEM ? -LX_ENOMEM : -LX_EAGAIN;
    }
    k_handle_close(t);
    kids[slot] = (struct child){ .h = p, .pgid = lx.pgid };
    uint64_t pid = 0;
    while (!pid) {
        long got = take_pulse(-1, &pid);
        if (got < 0)
            break;
    }
    kids[slot].pid = pid;
    return (long)pid;
}

/* ---- wait ---- */

static long do_wait4(int64_t pid, uint64_t ustatus, uint64_t options)
{
    if (options & ~(uint64_t)(WNOHANG | 2 | 8 | 0x40000000 | 0x80000000))
        return -LX_EINVAL;
    for (;;) {
        bool any = false;
        for (int i = 0; i < MAX_CHILDREN; i++) {
            struct child *c = &kids[i];
            if (!c->h)
                continue;
            if (pid > 0 && c->pid != (uint64_t)pid)
                continue;
            if (pid == 0 && c->pgid != lx.pgid)
                continue;
            if (pid < -1 && c->pgid != (uint64_t)-pid)
                continue;
            any = true;
            if (!c->ended)
                continue;
            int st = wait_status(c->status);
            if (ustatus && !lx_copy_out(ustatus, &st, sizeof(st)))
                return -LX_EFAULT;
            long got = (long)c->pid;
            k_handle_close(c->h);
            memset(c, 0, sizeof(*c));
            return got;
        }
        if (!any)
            return -LX_ECHILD;
        if (options & WNOHANG) {
            /* Whatever has arrived, then our own wake behind it. */
            k_pulse_send(lx.self, PULSE_WAKE, 0, 1);
            long got;
            while ((got = take_pulse(-1, 0)) == 1)
                ;
            bool ended = false;
            for (int i = 0; i < MAX_CHILDREN; i++)
                ended |= kids[i].h && kids[i].ended;
            if (!ended)
                return 0;
            options &= ~(uint64_t)WNOHANG;
            continue;
        }
        long got = take_pulse(-1, 0);
        if (got < 0)
            return got;
    }
}

/* ---- the rest ---- */

static long sleep_ns(uint64_t uts)
{
    int64_t ts[2];
    if (!lx_copy_in(ts, uts, sizeof(ts)))
        return -LX_EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
        return -LX_EINVAL;
    long ns = ts[0] > 1000000000L ? 1000000000L * 1000000000L : ts[0] * 1000000000L + ts[1];
    k_thread_sleep(ns);
    return 0;
}

static struct {
    uint64_t action[65][4];         /* rt_sigaction's struct, as given */
    uint64_t mask;
} sig;

static long do_kill(int64_t pid, uint64_t signo)
{
    if (signo > 64)
        return -LX_EINVAL;
    for (int i = 0; i < MAX_CHILDREN; i++) {
        struct child *c = &kids[i];
        if (!c->h || c->ended)
            continue;
        if ((pid > 0 && c->pid == (uint64_t)pid) || (pid < -1 && c->pgid == (uint64_t)-pid) ||
            (pid == 0 && c->pgid == lx.pgid)) {
            if (signo && signo != 17 && signo != 28 && signo != 18)
                k_process_kill(c->h, LX_KILLED((long)signo));   /* the default action */
            if (pid > 0)
                return 0;
        }
    }
    if (pid > 0 && (uint64_t)pid == lx.pid)
        return signo ? (k_process_exit(LX_KILLED((long)signo)), 0) : 0;
    return pid > 0 ? -LX_ESRCH : 0;
}

void lx_sigpipe(void)
{
    if (sig.action[13][0] == 0 && !(sig.mask & (1ULL << 12)))
        k_process_exit(LX_KILLED(13));
}

void lx_proc_exec(void)
{
    for (int i = 1; i <= 64; i++)
        if (sig.action[i][0] > 1)       /* a handler: back to SIG_DFL; SIG_IGN stays */
            memset(sig.action[i], 0, sizeof(sig.action[i]));
}

long lx_proc_call(uint64_t nr, const uint64_t *a, struct lx_regs *r, bool *served)
{
    *served = true;
    switch (nr) {
    case NR_fork:
    case NR_vfork:
        return do_fork(r, 0, 0);
    case NR_clone:
        /* glibc's fork: SIGCHLD | CHILD_SETTID | CHILD_CLEARTID, no new stack. */
        if (a[0] & (CLONE_VM | CLONE_THREAD) && !(a[0] & CLONE_VFORK))
            return -LX_ENOSYS;          /* threads: not yet */
        if (a[1])
            return -LX_EINVAL;
        return do_fork(r, a[0], a[3]);
    case NR_wait4:
        if (a[3] && !lx_writable(a[3], 144))
            return -LX_EFAULT;
        if (a[3])
            memset((void *)a[3], 0, 144);
        return do_wait4((int64_t)(int)a[0], a[1], a[2]);
    case NR_kill:
    case NR_tgkill:
        return nr == NR_kill ? do_kill((int64_t)(int)a[0], a[1]) : do_kill((int64_t)(int)a[1], a[2]);
    case NR_exit:
    case NR_exit_group:
        k_process_exit((long)(a[0] & 0xff));
        return 0;
    case NR_getpid:
    case NR_gettid:
        return (long)lx.pid;
    case NR_getppid:
        return (long)lx.ppid;
    case NR_getpgrp:
        return (long)lx.pgid;
    case NR_getpgid:
        return a[0] == 0 || a[0] == lx.pid ? (long)lx.pgid : -LX_ESRCH;
    case NR_getsid:
        return a[0] == 0 || a[0] == lx.pid ? (long)lx.sid : -LX_ESRCH;
    case NR_setpgid: {
        uint64_t who = a[0] ? a[0] : lx.pid, to = a[1] ? a[1] : who;
        if (who == lx.pid) {
            lx.pgid = to;
            return 0;
        }
        for (int i = 0; i < MAX_CHILDREN; i++)
            if (kids[i].h && kids[i].pid == who) {
                kids[i].pgid = to;
                return 0;
            }
        return -LX_ESRCH;
    }
    case NR_setsid:
        if (lx.pgid == lx.pid)
            return -LX_EPERM;
        lx.sid = lx.pgid = lx.pid;
        return (long)lx.sid;
    case NR_rt_sigaction:
        if (a[0] < 1 || a[0] > 64 || a[0] == 9 || a[0] == 19 || a[3] != 8)
            return -LX_EINVAL;
        if (a[2] && !lx_copy_out(a[2], sig.action[a[0]], sizeof(sig.action[0])))
            return -LX_EFAULT;
        if (a[1] && !lx_copy_in(sig.action[a[0]], a[1], sizeof(sig.action[0])))
            return -LX_EFAULT;
        return 0;
    case NR_rt_sigprocmask: {
        if (a[3] != 8 || a[0] > 2)
            return -LX_EINVAL;
        uint64_t old = sig.mask, set;
        if (a[1]) {
            if (!lx_copy_in(&set, a[1], 8))
                return -LX_EFAULT;
            sig.mask = a[0] == 0 ? sig.mask | set : a[0] == 1 ? sig.mask & ~set : set;
            sig.mask &= ~((1ULL << 8) | (1ULL << 18));      /* KILL and STOP stay open */
        }
        if (a[2] && !lx_copy_out(a[2], &old, 8))
            return -LX_EFAULT;
        return 0;
    }
    case NR_sigaltstack:
        return 0;
    case NR_sched_yield:
        k_thread_yield();
        return 0;
    case NR_nanosleep:
        return sleep_ns(a[0]);
    case NR_clock_nanosleep:
        if (a[1] & 1)               /* TIMER_ABSTIME */
            return -LX_EINVAL;
        return sleep_ns(a[2]);
    case NR_pause:
        for (;;)
            k_thread_sleep(1000000000L);
    case NR_gettimeofday: {
        long ns = k_clock_get();
        uint64_t tv[2] = { lx_wall_seconds(), (uint64_t)ns % 1000000000 / 1000 };
        return a[0] && !lx_copy_out(a[0], tv, sizeof(tv)) ? -LX_EFAULT : 0;
    }
    case NR_sysinfo: {
        struct k_sysinfo ks;
        memset(&ks, 0, sizeof(ks));
        k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&ks);
        uint64_t si[14];
        memset(si, 0, sizeof(si));
        si[0] = (uint64_t)k_clock_get() / 1000000000;          /* uptime */
        si[4] = ks.free_bytes;                                    /* totalram: not known here */
        si[5] = ks.free_bytes;                                    /* freeram */
        ((uint16_t *)si)[40] = (uint16_t)ks.processes;           /* procs */
        ((uint32_t *)si)[26] = 1;                                 /* mem_unit */
        return lx_copy_out(a[0], si, 112) ? 0 : -LX_EFAULT;
    }
    default:
        *served = false;
        return 0;
    }
}

void lx_proc_init(void)
{
    lx.chan = k_chan_create(0);
    lx.self = lx.chan > 0 ? k_chan_connect(lx.chan, (long)-1, 0) : -1;
    lx.pgid = lx.sid = lx.pid;
    lx.ppid = lx.pid == 1 ? 0 : 1;
}
