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
 * Signals are pulses on our channel (PULSE_SIGNAL), which the kernel
 * makes interrupt our thread (chan_interrupts): a blocked call returns
 * E_INTERRUPTED (ERESTARTSYS here), a running program is diverted to
 * lx_entry (K_REDIRECT_INTERRUPT).  Either way, before the program goes
 * on, lx_sig_deliver runs the default action or builds the handler's
 * frame on the program's stack (rt_sigframe, as Linux builds it), and
 * rt_sigreturn undoes it.  Who can signal whom is who holds a connection
 * to whose channel: a parent to its children (it makes their channels at
 * fork), a child to its parent, the terminal to the processes that
 * registered with it (its foreground group's take its signals).  Stops
 * (SIGTSTP...) and continues are reported to the parent for wait4's
 * WUNTRACED and WCONTINUED.
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
    NR_exit_group = 231, NR_tgkill = 234, NR_clone3 = 435, NR_sched_setaffinity = 203, NR_alarm = 37, NR_setitimer = 38,
    NR_getitimer = 36, NR_times = 100, NR_getrusage = 98, NR_waitid = 247,
    NR_sched_getaffinity = 204, NR_rt_sigsuspend = 130, NR_rt_sigpending = 127,
};

#define CLONE_VM 0x100
#define CLONE_VFORK 0x4000
#define CLONE_THREAD 0x10000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_CHILD_SETTID 0x1000000
#define CLONE_PARENT_SETTID 0x100000
/* pidfds, namespaces, cgroups: refused (EINVAL) */
#define CLONE_NOT_SERVED (0x1000ULL | 0x20000 | 0x7e000000 | 1ULL << 33)
#define CLONE_CLEAR_SIGHAND (1ULL << 32)
#define WNOHANG 1

#define PULSE_DEATH 0x44450000       /* + the child's slot; value: its exit status */
#define PULSE_HELLO 0x48454c4f       /* a new child says who it is (its pid) */
#define PULSE_WAKE 0x57414b45        /* our own: the end of a non-blocking look */
#define PULSE_NOTIFY 0x4e4f5449      /* a file server: a polled event (posix/fd.c) */
#define PULSE_SIGNAL 0x5349474e      /* value: signal | process group << 8 (0: any) */
#define PULSE_STOPPED 0x53544f50     /* a child stopped; value: the signal */
#define PULSE_CONTINUED 0x434f4e54   /* a child continued */
#define SIGBIT(s) (1ULL << ((s) - 1))

/* A Linux-visible exit status: a signal's number for a process killed by
 * one (a fault: SIGSEGV, SIGBUS, SIGILL, SIGFPE), else code << 8. */
#define LX_KILLED(sig) (0x10000 | (sig))

struct child {
    long h;                         /* process handle; 0: free */
    long sig;                       /* a connection to its channel: its signals */
    uint64_t pid, pgid;
    bool ended;
    long status;                    /* Kestrel exit status */
    int stopped;                    /* the signal that stopped it, to report (WUNTRACED) */
    bool continued;                 /* to report (WCONTINUED) */
    uint32_t epoch;                 /* kids_epoch when made: else not ours (a fork's parent's) */
};
#define MAX_CHILDREN 64
static struct child kids[MAX_CHILDREN];
static LX_HOT uint32_t kids_epoch;  /* bumped in a fork's child: its parent's children are not its */

static bool kid_live(const struct child *c)
{
    return c->h && c->epoch == kids_epoch;
}

static struct {
    uint64_t action[65][4];         /* rt_sigaction's struct: handler, flags, restorer, mask */
    uint64_t mask;                  /* blocked */
    uint64_t pending;
    bool attention;                 /* something may be pending: look before going on */
    bool stopped, cont;
} sig;

/* ITIMER_REAL (alarm, setitimer; see itimer_set). */
static struct {
    long h;                         /* the timer (0: none made yet) */
    int64_t deadline, period;       /* when it fires next (0: disarmed), and its period */
} itimer;

static void sig_note(int s)
{
    if (s < 1 || s > 64)
        return;
    if (s == 18) {                  /* SIGCONT: ends a stop, whatever its action */
        sig.cont = true;
        sig.pending &= ~(SIGBIT(19) | SIGBIT(20) | SIGBIT(21) | SIGBIT(22));
    }
    if (s >= 19 && s <= 22)
        sig.pending &= ~SIGBIT(18);
    sig.pending |= SIGBIT(s);
    sig.attention = true;
}

static struct child *kid_by_pid(uint64_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (kid_live(&kids[i]) && kids[i].pid == pid)
            return &kids[i];
    return NULL;
}

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
        lx_lock_give();             /* others run while we wait */
        long r = k_msg_receive(lx.chan, 0, 0, (long)&info);
        lx_lock_take();
        if (r == -E_INTERRUPTED)
            continue;               /* a stale mark: what came is in the queue */
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
        if (slot < MAX_CHILDREN && kid_live(&kids[slot])) {
            kids[slot].ended = true;
            kids[slot].status = (long)info.value;
            sig_note(17);           /* SIGCHLD */
            ret = 1;
            break;
        }
        if (info.code == PULSE_SIGNAL) {
            uint64_t grp = info.value >> 8;
            if (!grp || grp == lx.pgid)
                sig_note((int)(info.value & 0xff));
            if (sig.pending & ~sig.mask) {
                ret = 2;            /* a signal: the caller may stop waiting */
                break;
            }
            continue;
        }
        if (info.code == PULSE_STOPPED || info.code == PULSE_CONTINUED) {
            struct child *c = kid_by_pid(info.pid);
            if (c && info.code == PULSE_STOPPED)
                c->stopped = (int)info.value, c->continued = false;
            else if (c)
                c->continued = true, c->stopped = 0;
            if (c) {
                sig_note(17);       /* SIGCHLD */
                ret = 1;
                break;
            }
            continue;
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
static LX_HOT struct {
    struct lx_regs regs;            /* the program's, at its fork */
    struct k_redirect frame;        /* where it goes on */
    unsigned n;
    uint32_t old[K_STARTUP_MAX_HANDLES], now[K_STARTUP_MAX_HANDLES];
    int fd[K_STARTUP_MAX_HANDLES];  /* -1: a start-up handle */
    uint64_t ctid;
    uint64_t flags;
    unsigned parent_at, signals_at; /* the entries of our channel's connection and its channel */
} fork_info;

extern char lx_entry[];
_Noreturn void lx_resume(void *regs_then_frame);


static _Noreturn void fork_child(void)
{
    /* Our handles have the child's numbers now; start-up entries the
     * child was not given are gone. */
    for (unsigned i = 0; i < fork_info.n; i++)
        if (fork_info.fd[i] >= 0)
            lx_fd_renumber(fork_info.fd[i], fork_info.now[i]);
    for (uint64_t j = 0; rt_startup && j < rt_startup->nhandles; j++) {
        struct k_startup_handle *h = &rt_startup->handles[j];
        bool kept = false;
        for (unsigned i = 0; i < fork_info.n && !kept; i++)
            if (fork_info.fd[i] < 0 && i != fork_info.parent_at && i != fork_info.signals_at &&
                h->handle == fork_info.old[i]) {
                h->handle = fork_info.now[i];
                kept = true;
            }
        if (!kept)
            memset(h, 0, sizeof(*h));
    }
    lx.parent = (long)fork_info.now[fork_info.parent_at];
    lx.chan = (long)fork_info.now[fork_info.signals_at];
    lx.self = k_chan_connect(lx.chan, (long)-1, 0);
    k_chan_interrupts(lx.chan, 0);
    k_pulse_send(lx.parent, PULSE_HELLO, 0, 0);
    kids_epoch++;                   /* the parent's children: not a page of them written (copied) */
    static const __typeof__(itimer) no_timer;
    if (memcmp(&itimer, &no_timer, sizeof(itimer)) != 0)
        itimer = no_timer;          /* the parent's timer is not ours (written only if set: a page less copied) */
    if (fork_info.flags & CLONE_CLEAR_SIGHAND)
        lx_proc_exec();             /* handlers back to SIG_DFL, ignored stay ignored */
    lx_fd_fork_child();
    lx.procfs = 0;                  /* the parent's: not ours (not passed) */
    if (sig.pending || sig.attention) {     /* (written only if set: a page less copied) */
        sig.pending = 0;
        sig.attention = false;
    }
    lx.ppid = lx.pid;
    lx.pid = 0;
    struct k_msg_info info = { 0 };            /* our pid: the kernel stamps it */
    if (k_pulse_send(lx.self, PULSE_WAKE, 0, 0) == 0)
        k_msg_receive(lx.chan, 0, 0, (long)&info);
    lx.pid = info.pid;
    if (fork_info.flags & CLONE_CHILD_SETTID && fork_info.ctid)
        lx_copy_out(fork_info.ctid, &(uint32_t){ (uint32_t)lx.pid }, 4);
    /* One thread now, the main one, on the main personality stack. */
    struct lx_thread *mt = (struct lx_thread *)((uintptr_t)lx_stack_top() - 65536);
    *mt = (struct lx_thread){ .tid = lx.pid, .main = true,
                              .clear_tid = fork_info.flags & CLONE_CHILD_CLEARTID ? fork_info.ctid : 0 };
    lx_lock_reset();
    if (k_personality_stack((long)lx_stack_top()) != 0 ||
        k_personality_set((long)lx_entry, (long)K_NATIVE_BASE,
                          (long)(K_NATIVE_BASE + 0x10000000UL)) != 0)
        k_process_exit(K_EXIT_FAULT(6));
    k_thread_set_fs((long)lx.fs_base);
    if (lx.affinity)
        k_thread_affinity(0, (long)lx.affinity);
    lx_proc_report();
    static LX_HOT struct { struct lx_regs r; struct k_redirect f; } resume;
    resume.r = fork_info.regs;
    resume.r.rax = 0;
    resume.f = fork_info.frame;
    lx_resume(&resume);
}

/* fork, vfork, and clone without CLONE_THREAD: STACK (0: the caller's)
 * is where the child's stack pointer starts, as glibc's posix_spawn gives
 * it (clone(CLONE_VM | CLONE_VFORK) on a stack of its own, then execve).
 * The child's memory is a copy-on-write clone even then: what a vfork
 * child writes is not seen by its parent (posix_spawn's child writes only
 * when execve failed, and the parent sees that in its exit status, 127). */
static long do_fork(struct lx_regs *r, uint64_t flags, uint64_t ctid, uint64_t stack)
{
    int slot = -1;
    for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
        if (!kid_live(&kids[i]))
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
    /* Its channel (signals for it, its children's news) is made here, so
     * that we keep a connection to it: that is how we signal it. */
    long chc = k_chan_create(0), sigc = chc > 0 ? k_chan_connect(chc, (long)-1, 0) : -1;
    if (sigc < 0) {
        k_handle_close(chc);
        return -LX_ENOMEM;
    }
    fork_info.parent_at = n;
    sh[n] = (struct k_spawn_handle){ (uint32_t)lx.self, K_RIGHT_SEND, "parent" };
    fork_info.fd[n++] = -1;
    fork_info.signals_at = n;
    sh[n] = (struct k_spawn_handle){ (uint32_t)chc, K_RIGHTS_SAME, "signals" };
    fork_info.fd[n++] = -1;
    for (unsigned i = 0; i < n; i++)
        fork_info.old[i] = sh[i].handle;
    /* Its faults go to our handler, which writes its core file. */
    struct k_spawn sp = { .nhandles = n, .handles = sh,
                          .exception = K_SPAWN_EXCEPTION_INHERIT,
                          .image = (uint32_t)rt_handle("bootfs") };
    const char *name = lx.exe[0] ? lx.exe + 1 : "linux";
    long p = k_process_create((long)name, (long)strlen(name), (long)&sp);
    k_handle_close(chc);
    if (p < 0) {
        k_handle_close(sigc);
        return lx_errno(p);
    }
    for (unsigned i = 0; i < n; i++)
        fork_info.now[i] = sh[i].handle;
    fork_info.n = n;
    fork_info.regs = *r;
    memcpy(&fork_info.frame, r + 1, sizeof(fork_info.frame));
    if (stack)
        fork_info.frame.rsp = stack;
    fork_info.ctid = ctid;
    fork_info.flags = flags;
    long e = k_process_watch(p, lx.self, PULSE_DEATH + (uint32_t)slot);
    if (e >= 0)
        e = k_vm_clone(p);
    struct k_regs kr = { .rip = (uint64_t)(uintptr_t)fork_child,
                         /* the child's main personality stack, whose top page
                          * its next call uses anyway (one page less copied) */
                         .rsp = (uint64_t)(uintptr_t)lx_stack_top() - 8,
                         .fs_base = 0 };
    long t = e < 0 ? e : k_thread_start(p, (long)&kr, 0);
    if (t < 0) {
        k_process_kill(p, 1);
        k_handle_close(p);
        k_handle_close(sigc);
        return t == -E_NOMEM ? -LX_ENOMEM : -LX_EAGAIN;
    }
    k_handle_close(t);
    kids[slot] = (struct child){ .h = p, .sig = sigc, .pgid = lx.pgid, .epoch = kids_epoch };
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

#define WUNTRACED 2
#define WCONTINUED 8

/* wait4 and waitid: a child in a reportable state (EXITED: ended ones
 * count), its pid and its wait status in *ST; 0 with WNOHANG when none. */
static long wait_core(int64_t pid, uint64_t options, bool exited, int *st_out)
{
    for (bool looked = false;;) {
        bool any = false;
        for (int i = 0; i < MAX_CHILDREN; i++) {
            struct child *c = &kids[i];
            if (!kid_live(c))
                continue;
            if (pid > 0 && c->pid != (uint64_t)pid)
                continue;
            if (pid == 0 && c->pgid != lx.pgid)
                continue;
            if (pid < -1 && c->pgid != (uint64_t)-pid)
                continue;
            any = true;
            int st;
            if (c->ended && exited) {
                st = wait_status(c->status);
            } else if (c->stopped && (options & WUNTRACED)) {
                st = (c->stopped << 8) | 0x7f;
                c->stopped = 0;
            } else if (c->continued && (options & WCONTINUED)) {
                st = 0xffff;
                c->continued = false;
            } else {
                continue;
            }
            *st_out = st;
            long got = (long)c->pid;
            if (c->ended && exited) {
                k_handle_close(c->h);
                if (c->sig > 0)
                    k_handle_close(c->sig);
                memset(c, 0, sizeof(*c));
                lx_fd_ring_barrier();   /* its pipe ends' closes are in our rings' counts */
            }
            return got;
        }
        if (!any)
            return -LX_ECHILD;
        if (options & WNOHANG) {
            if (looked)
                return 0;
            /* Whatever has arrived, then our own wake behind it. */
            k_pulse_send(lx.self, PULSE_WAKE, 0, 1);
            while (take_pulse(-1, 0) >= 1)
                ;
            looked = true;
            continue;
        }
        long got = take_pulse(-1, 0);
        if (got < 0)
            return got;
        if (got == 2)
            return -LX_ERESTARTSYS;     /* a signal to act on first */
    }
}

static long do_wait4(int64_t pid, uint64_t ustatus, uint64_t options)
{
    if (options & ~(uint64_t)(WNOHANG | WUNTRACED | WCONTINUED | 0x40000000 | 0x80000000))
        return -LX_EINVAL;
    if (ustatus && !lx_writable(ustatus, 4))
        return -LX_EFAULT;
    int st = 0;
    long r = wait_core(pid, options, true, &st);
    if (r > 0 && ustatus)
        lx_copy_out(ustatus, &st, sizeof(st));
    return r;
}

/* waitid(idtype, id, siginfo, options): the same, told as a siginfo_t
 * (si_signo SIGCHLD, si_code CLD_*, si_pid, si_status).  WNOWAIT (leave
 * the child waitable) is not served: EINVAL. */
static long do_waitid(uint64_t idtype, uint64_t id, uint64_t uinfo, uint64_t options)
{
    if (options & ~(uint64_t)(WNOHANG | WUNTRACED | WCONTINUED | 4 | 0x40000000 | 0x80000000) ||
        !(options & (WUNTRACED | WCONTINUED | 4)))
        return -LX_EINVAL;
    int64_t pid = idtype == 0 ? -1 : idtype == 1 ? (int64_t)(int)id
                : idtype == 2 ? (id ? -(int64_t)(int)id : 0) : 0;
    if (idtype > 2 || (idtype == 1 && pid <= 0) || (idtype == 2 && (int64_t)(int)id < 0))
        return -LX_EINVAL;
    if (uinfo && !lx_writable(uinfo, 128))
        return -LX_EFAULT;
    int st = 0;
    long r = wait_core(pid, options & ~4ULL, (options & 4) != 0, &st);
    if (r < 0)
        return r;
    int32_t si[32];
    memset(si, 0, sizeof(si));
    if (r > 0) {
        si[0] = 17;                 /* SIGCHLD */
        si[4] = (int32_t)r;         /* si_pid */
        if (st == 0xffff)
            si[2] = 6, si[6] = 18;                              /* CLD_CONTINUED, SIGCONT */
        else if ((st & 0xff) == 0x7f)
            si[2] = 5, si[6] = (st >> 8) & 0xff;                /* CLD_STOPPED */
        else if (st & 0x7f)
            si[2] = st & 0x80 ? 3 : 2, si[6] = st & 0x7f;       /* CLD_DUMPED, CLD_KILLED */
        else
            si[2] = 1, si[6] = (st >> 8) & 0xff;                /* CLD_EXITED */
    }
    if (uinfo)
        lx_copy_out(uinfo, si, sizeof(si));
    return 0;
}

/* ---- the rest ---- */

static void sig_poll(void);
static bool deliverable(void);

static long sleep_ns(uint64_t uts)
{
    int64_t ts[2];
    if (!lx_copy_in(ts, uts, sizeof(ts)))
        return -LX_EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
        return -LX_EINVAL;
    long ns = ts[0] > 1000000000L ? 1000000000L * 1000000000L : ts[0] * 1000000000L + ts[1];
    long end = k_clock_get() + ns;
    for (;;) {
        long left = end - k_clock_get();
        lx_lock_give();
        long slept = left > 0 ? k_thread_sleep(left) : 0;
        lx_lock_take();
        if (left <= 0 || slept != -E_INTERRUPTED)
            return 0;
        sig_poll();
        if (deliverable())
            return -LX_EINTR;       /* nanosleep is not restarted (Linux) */
    }
}


/* Sends SIG to child C: SIGKILL by the kernel, the others as a pulse on
 * its channel (its personality acts on them). */
static void signal_child(struct child *c, uint64_t signo)
{
    if (signo == 9)
        k_process_kill(c->h, LX_KILLED(9));
    else if (signo && c->sig > 0)
        k_pulse_send(c->sig, PULSE_SIGNAL, (long)signo, 0);
}

static long do_kill(int64_t pid, uint64_t signo)
{
    if (signo > 64)
        return -LX_EINVAL;
    bool found = false;
    for (int i = 0; i < MAX_CHILDREN; i++) {
        struct child *c = &kids[i];
        if (!kid_live(c) || c->ended)
            continue;
        if ((pid > 0 && c->pid == (uint64_t)pid) || (pid < -1 && c->pgid == (uint64_t)-pid) ||
            (pid == 0 && c->pgid == lx.pgid) || pid == -1) {
            signal_child(c, signo);
            found = true;
        }
    }
    bool me = (pid > 0 && (uint64_t)pid == lx.pid) || pid == 0 || pid == -1 ||
              (pid < -1 && (uint64_t)-pid == lx.pgid);
    if (pid > 0 && (uint64_t)pid == lx.ppid && lx.parent > 0 && !found) {
        if (signo)
            k_pulse_send(lx.parent, PULSE_SIGNAL, (long)signo, 0);
        return 0;
    }
    if (me && pid != -1) {
        if (signo)
            sig_note((int)signo);   /* delivered before the call returns */
        return 0;
    }
    if (found || pid == -1)
        return 0;
    /* Who may signal whom is who holds a connection to whose channel: a
     * process we are not related to, that exists (procfs lists it), is
     * EPERM, as for a process another user owns on Linux; kill(pid, 0)
     * thus still tells whether it is there. */
    if (pid > 0) {
        char path[40];
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
        long c = lx_open_conn(path, 0);
        if (c > 0) {
            k_handle_close(c);
            return -LX_EPERM;
        }
    }
    return -LX_ESRCH;
}

/* ---- delivery ---- */

#define SIG_DFL 0
#define SIG_IGN 1
#define SA_NOCLDSTOP 1
#define SA_SIGINFO 4
#define SA_ONSTACK 0x08000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000

static bool default_ignores(int s)
{
    return s == 17 || s == 18 || s == 23 || s == 28;    /* CHLD CONT URG WINCH */
}

static bool default_stops(int s)
{
    return s >= 19 && s <= 22;                           /* STOP TSTP TTIN TTOU */
}

static bool default_cores(int s)
{
    return (s >= 3 && s <= 8) || s == 11 || s == 24 || s == 25 || s == 31;
}

/* Whether something pending would act now (not ignored, not blocked). */
/* sigsuspend, ppoll and pselect6 wait under a mask of their own: the
 * program's comes back when the call ends, or with the sigreturn of the
 * handler that ended it (its frame saves this one). */
static struct {
    bool on;
    uint64_t mask;
} mask_after;

void lx_sig_mask_during(uint64_t m)
{
    if (!mask_after.on) {
        mask_after.mask = sig.mask;
        mask_after.on = true;
    }
    sig.mask = m & ~(SIGBIT(9) | SIGBIT(19));
    sig.attention = true;           /* lx_sig_deliver puts the program's back */
}

bool lx_sig_deliverable(void)
{
    if (!mask_after.on)
        return false;               /* a plain wait: signals end it as they come (take_pulse) */
    sig_poll();
    return deliverable();
}

static bool deliverable(void)
{
    uint64_t p = sig.pending & ~sig.mask;
    for (int s = 1; s <= 64; s++) {
        if (!(p & SIGBIT(s)))
            continue;
        uint64_t h = sig.action[s][0];
        if (h == SIG_IGN || (h == SIG_DFL && default_ignores(s)))
            continue;
        return true;
    }
    return false;
}

/* Stopped: our parent hears, and we wait for SIGCONT (SIGKILL ends us
 * in the kernel). */
static void stop_here(int s)
{
    if (lx.parent > 0)
        k_pulse_send(lx.parent, PULSE_STOPPED, s, 0);
    lx.state = 'T';
    lx_proc_report();
    sig.cont = false;
    while (!sig.cont)
        if (take_pulse(-1, 0) < 0)
            k_thread_sleep(10 * 1000000L);
    if (lx.parent > 0)
        k_pulse_send(lx.parent, PULSE_CONTINUED, 0, 0);
    lx.state = 'R';
    lx_proc_report();
}

/* What is waiting on our channel, without waiting. */
static void sig_poll(void)
{
    k_pulse_send(lx.self, PULSE_WAKE, 0, 1);
    while (take_pulse(-1, 0) >= 1)
        ;
}

/* struct ucontext and struct rt_sigframe as Linux x86-64 builds them. */
struct lx_sigcontext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip;
    uint64_t eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2;
    uint64_t fpstate;
    uint64_t reserved[8];
};
struct lx_ucontext {
    uint64_t flags, link;
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
    struct lx_sigcontext mc;
    uint64_t sigmask;
};
struct lx_siginfo {
    int32_t signo, errno_, code, pad;
    int32_t pid, uid;
    uint8_t rest[104];
};
struct lx_sigframe {
    uint64_t pretcode;
    struct lx_ucontext uc;
    struct lx_siginfo info;
};
_Static_assert(sizeof(struct lx_sigcontext) == 256, "struct sigcontext of x86-64 Linux");
_Static_assert(sizeof(struct lx_siginfo) == 128, "siginfo_t");

/* The handler of S runs next: its frame on the program's stack, the
 * program's registers (R, FRAME) made the handler's.  RAX_AFTER is what
 * the interrupted code finds in rax when the handler returns. */
static bool setup_frame(int s, struct lx_regs *r, struct k_redirect *f, const void *fx,
                        uint64_t rax_after, uint64_t rip_after)
{
    uint64_t *act = sig.action[s];
    uint64_t sp = f->rsp - 128;                      /* the red zone stays */
    sp = (sp - 512) & ~63UL;
    uint64_t fpstate = sp;
    if (!lx_copy_out(fpstate, fx, 512))
        return false;
    uint64_t at = ((sp - sizeof(struct lx_sigframe)) & ~15UL) - 8;
    struct lx_sigframe fr;
    memset(&fr, 0, sizeof(fr));
    fr.pretcode = act[2];
    fr.uc.mc = (struct lx_sigcontext){
        .r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11, .r12 = r->r12, .r13 = r->r13,
        .r14 = r->r14, .r15 = r->r15, .rdi = r->rdi, .rsi = r->rsi, .rbp = r->rbp, .rbx = r->rbx,
        .rdx = r->rdx, .rax = rax_after, .rcx = r->rcx, .rsp = f->rsp, .rip = rip_after,
        .eflags = f->rflags, .cs = 0x33, .ss = 0x2b, .fpstate = fpstate };
    fr.uc.mc.oldmask = fr.uc.sigmask = mask_after.on ? mask_after.mask : sig.mask;
    fr.uc.ss_flags = 2;                              /* SS_DISABLE: no alternate stack */
    fr.info.signo = s;
    fr.info.code = 0;                                /* SI_USER */
    if (!lx_copy_out(at, &fr, sizeof(fr)))
        return false;
    sig.mask |= act[3];
    if (!(act[1] & SA_NODEFER))
        sig.mask |= SIGBIT(s);
    sig.mask &= ~(SIGBIT(9) | SIGBIT(19));
    if (act[1] & SA_RESETHAND)
        memset(act, 0, sizeof(sig.action[0]));
    r->rdi = (uint64_t)s;
    r->rsi = at + offsetof(struct lx_sigframe, info);
    r->rdx = at + offsetof(struct lx_sigframe, uc);
    r->rax = 0;
    f->rip = act[0] ? act[0] : f->rip;
    f->rsp = at;
    f->rflags &= ~0x400UL;                           /* DF clear, as the ABI wants */
    return true;
}

long lx_sig_deliver(struct lx_regs *r, void *fx, long ret, uint64_t nr, bool *restart)
{
    struct k_redirect *f = (struct k_redirect *)(r + 1);
    *restart = false;
    sig_poll();
    sig.attention = false;
    for (;;) {
        uint64_t p = sig.pending & ~sig.mask;
        int s = 0;
        for (int i = 1; i <= 64 && !s; i++)
            if (p & SIGBIT(i))
                s = i;
        if (!s)
            break;
        sig.pending &= ~SIGBIT(s);
        uint64_t h = sig.action[s][0];
        if (h == SIG_IGN)
            continue;
        if (h == SIG_DFL) {
            if (default_ignores(s))
                continue;
            if (default_stops(s)) {
                stop_here(s);
                continue;
            }
            k_process_exit(LX_KILLED((long)s) | (default_cores(s) ? 0x80 : 0));
        }
        /* A handler.  An interrupted call either starts again after it
         * (SA_RESTART: rip back over the `syscall`, rax the number again)
         * or fails with EINTR. */
        uint64_t rax_after = (uint64_t)ret, rip_after = f->rip;
        if (ret == -LX_ERESTARTSYS) {
            if (sig.action[s][1] & SA_RESTART) {
                rip_after -= 2;
                rax_after = nr;
            } else {
                rax_after = (uint64_t)-LX_EINTR;
            }
        }
        if (!setup_frame(s, r, f, fx, rax_after, rip_after))
            k_process_exit(LX_KILLED(11));           /* no room for the frame: SIGSEGV */
        mask_after.on = false;                       /* its sigreturn brings it back */
        if (sig.pending & ~sig.mask)
            sig.attention = true;                    /* the next at the handler's first call */
        return 0;                                    /* the handler's rax */
    }
    if (mask_after.on) {                             /* the call's own mask ends with it */
        sig.mask = mask_after.mask;
        mask_after.on = false;
        if (sig.pending & ~sig.mask)
            sig.attention = true;
    }
    if (ret == -LX_ERESTARTSYS) {
        *restart = true;                             /* nothing ran: the call goes on */
        return ret;
    }
    return ret;
}

/* rt_sigreturn: the context the handler's frame saved, back. */
long lx_sigreturn(struct lx_regs *r, void *fx)
{
    struct k_redirect *f = (struct k_redirect *)(r + 1);
    struct lx_ucontext uc;
    if (!lx_copy_in(&uc, f->rsp, sizeof(uc)))       /* rsp: past the popped pretcode */
        k_process_exit(LX_KILLED(11));
    const struct lx_sigcontext *m = &uc.mc;
    if (m->fpstate && !lx_copy_in(fx, m->fpstate, 512))
        k_process_exit(LX_KILLED(11));
    *r = (struct lx_regs){ .rax = m->rax, .rbx = m->rbx, .rcx = m->rcx, .rdx = m->rdx,
                           .rsi = m->rsi, .rdi = m->rdi, .rbp = m->rbp, .r8 = m->r8,
                           .r9 = m->r9, .r10 = m->r10, .r11 = m->r11, .r12 = m->r12,
                           .r13 = m->r13, .r14 = m->r14, .r15 = m->r15 };
    f->rip = m->rip;
    f->rsp = m->rsp;
    f->kind = K_REDIRECT_INTERRUPT;     /* back with every register, rcx and r11 too */
    /* The arithmetic flags, DF, TF... are the program's; not IF or IOPL. */
    f->rflags = (f->rflags & ~0x4dd5UL) | (m->eflags & 0x4dd5UL);
    sig.mask = uc.sigmask & ~(SIGBIT(9) | SIGBIT(19));
    if (sig.pending & ~sig.mask)
        sig.attention = true;
    return (long)m->rax;
}

long lx_sig_tty_background(int s)
{
    if (sig.action[s][0] == SIG_IGN || (sig.mask & SIGBIT(s)))
        return s == 22 ? 0 : -LX_EIO;   /* SIGTTOU ignored or blocked: it goes on (Linux) */
    do_kill(-(int64_t)lx.pgid, (uint64_t)s);    /* our group: us and our children in it */
    return -LX_ERESTARTSYS;
}

bool lx_sig_attention(void)
{
    return sig.attention;
}

void lx_sig_attend(void)
{
    sig.attention = true;
}

void lx_sigpipe(void)
{
    if (sig.action[13][0] == 0 && !(sig.mask & (1ULL << 12)))
        k_process_exit(LX_KILLED(13));
}

/* ---- what /proc shows of us ---- */

void lx_proc_describe(const char *comm, int argc, char *const *argv)
{
    const char *base = comm;
    for (const char *c = comm; *c; c++)
        if (*c == '/')
            base = c + 1;
    size_t n = strlen(base) < sizeof(lx.comm) - 1 ? strlen(base) : sizeof(lx.comm) - 1;
    memcpy(lx.comm, base, n);
    lx.comm[n] = 0;
    lx.cmdline_len = 0;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]) + 1;
        if (lx.cmdline_len + l > sizeof(lx.cmdline))
            break;
        memcpy(lx.cmdline + lx.cmdline_len, argv[i], l);
        lx.cmdline_len += l;
    }
}

/* The CPUs there are, as a mask (at most 64). */
static uint64_t all_cpus(void)
{
    struct k_sysinfo ks = { 0 };
    k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&ks, 0);
    return ks.ncpus >= 64 ? ~0ULL : ks.ncpus ? (1ULL << ks.ncpus) - 1 : 1;
}

void lx_proc_report(void)
{
    if (lx.procfs <= 0) {
        lx.procfs = lx_open_conn("/proc/self/kestrel", 1);
        if (lx.procfs < 0) {
            lx.procfs = -1;             /* no procfs: do not ask again */
            return;
        }
    }
    uint64_t ign = 0, cgt = 0;
    for (int i = 1; i <= 64; i++)
        if (sig.action[i][0] == 1)
            ign |= SIGBIT(i);
        else if (sig.action[i][0] > 1)
            cgt |= SIGBIT(i);
    char rec[1300];
    int n = snprintf(rec, 200, "%c %lu %lu %lu 1 %lx %lx %lx %lx\n%s\n", lx.state ? lx.state : 'R',
                     (unsigned long)lx.ppid, (unsigned long)lx.pgid, (unsigned long)lx.sid,
                     (unsigned long)sig.mask, (unsigned long)ign, (unsigned long)cgt,
                     (unsigned long)(lx.affinity ? lx.affinity : all_cpus()),
                     lx.comm[0] ? lx.comm : "linux");
    if (n <= 0 || n >= 200)
        return;
    memcpy(rec + n, lx.cmdline, lx.cmdline_len);
    lx_conn_write(lx.procfs, rec, (size_t)n + lx.cmdline_len);
}

void lx_proc_exec(void)
{
    for (int i = 1; i <= 64; i++)
        if (sig.action[i][0] > 1)       /* a handler: back to SIG_DFL; SIG_IGN stays */
            memset(sig.action[i], 0, sizeof(sig.action[i]));
}

/* ITIMER_REAL (alarm, setitimer): a kernel timer whose pulse is SIGALRM
 * on our own channel, so it interrupts us as any signal does.  Kept across
 * exec; a child starts with none (fork_child), as on Linux.  The virtual
 * and profiling timers would need CPU time accounting: EINVAL.  (The
 * timer's state: itimer, above.) */

static int64_t itimer_left(int64_t now)
{
    if (!itimer.deadline)
        return 0;
    if (itimer.deadline > now)
        return itimer.deadline - now;
    if (!itimer.period)
        return 0;                   /* fired */
    return itimer.period - (now - itimer.deadline) % itimer.period;
}

/* Arms it (VALUE 0: disarms); *OLD_VALUE, *OLD_PERIOD: what it was. */
static long itimer_set(int64_t value, int64_t period, int64_t *old_value, int64_t *old_period)
{
    int64_t now = k_clock_get();
    *old_value = itimer_left(now);
    *old_period = itimer.period;
    if (value && itimer.h <= 0) {
        itimer.h = k_timer_create(lx.self, PULSE_SIGNAL, 14);     /* SIGALRM, for anyone */
        if (itimer.h < 0) {
            itimer.h = 0;
            return -LX_EAGAIN;
        }
    }
    if (period && period < 1000000)
        period = 1000000;           /* the kernel's shortest period */
    if (itimer.h > 0 && k_timer_set(itimer.h, value, value ? period : 0) < 0)
        return -LX_EINVAL;
    itimer.deadline = value ? now + value : 0;
    itimer.period = value ? period : 0;
    return 0;
}

/* struct itimerval (interval, then value; timevals) <-> nanoseconds. */
static bool itimerval_in(uint64_t u, int64_t *value, int64_t *period)
{
    int64_t v[4];
    if (!lx_copy_in(v, u, sizeof(v)))
        return false;
    if (v[0] < 0 || v[1] < 0 || v[1] >= 1000000 || v[2] < 0 || v[3] < 0 || v[3] >= 1000000)
        return (*value = -1), true;
    *period = v[0] * 1000000000 + v[1] * 1000;
    *value = v[2] * 1000000000 + v[3] * 1000;
    return true;
}

static bool itimerval_out(uint64_t u, int64_t value, int64_t period)
{
    int64_t v[4] = { period / 1000000000, period % 1000000000 / 1000, value / 1000000000,
                     value % 1000000000 / 1000 };
    if (value > 0 && !v[2] && !v[3])
        v[3] = 1;                   /* some time left, less than a microsecond */
    return lx_copy_out(u, v, sizeof(v));
}

/* clone, clone3 without CLONE_THREAD: glibc's fork (SIGCHLD |
 * CHILD_SETTID | CHILD_CLEARTID) or posix_spawn's vfork on its own stack.
 * Memory shared with a process that is not a thread (CLONE_VM without
 * CLONE_VFORK) is not served. */
static long clone_process(struct lx_regs *r, uint64_t flags, uint64_t stack, uint64_t ctid)
{
    if (flags & (CLONE_THREAD | CLONE_NOT_SERVED))
        return -LX_EINVAL;              /* CLONE_THREAD needs CLONE_VM (and SIGHAND) */
    if (flags & CLONE_VM && !(flags & CLONE_VFORK))
        return -LX_EINVAL;
    return do_fork(r, flags, ctid, stack);
}

/* Another process's CPUs, from its /proc/PID/status (what it reported
 * last; 0: no such process). */
static uint64_t cpus_of(int64_t pid)
{
    char path[40];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    long c = lx_open_conn(path, 0);
    if (c < 0)
        return 0;
    static char text[2048];
    long n = lx_read_conn(c, text, sizeof(text) - 1);
    if (n <= 0)
        return 0;
    text[n] = 0;
    const char *p = "";
    for (long i = 0; i + 14 <= n && !*p; i++)
        if (memcmp(text + i, "Cpus_allowed:\t", 14) == 0)
            p = text + i + 14;
    uint64_t m = 0;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        m = m << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    return m ? m : all_cpus();      /* listed, with no mask said: all */
}

/* sched_setaffinity and sched_getaffinity.  Ours (pid 0 or ours, every
 * thread) is kept in lx.affinity, given to the threads and children made
 * later and reported to procfs; another process's is read from its
 * /proc/PID/status (ESRCH when it is not there); setting another's is not
 * served (EPERM). */
static long affinity(bool set, int64_t pid, uint64_t len, uint64_t umask)
{
    uint64_t all = all_cpus(), m = 0;
    if (pid < 0)
        return -LX_ESRCH;
    bool self = pid == 0 || (uint64_t)pid == lx.pid || (uint64_t)pid == lx_thread_self()->tid;
    if (set) {
        if (!self)
            return -LX_EPERM;       /* another's: not served */
        if (!lx_copy_in(&m, umask, len < 8 ? len : 8))
            return -LX_EFAULT;
        if (len < 8)
            m &= (1ULL << (len * 8)) - 1;
        m &= all;
        if (!m)
            return -LX_EINVAL;
        if (k_thread_affinity(0, (long)m) < 0)
            return -LX_EINVAL;
        lx.affinity = m == all ? 0 : m;
        lx_proc_report();
        return 0;
    }
    if (len * 8 < (uint64_t)(64 - __builtin_clzll(all)) || (len & 7))
        return -LX_EINVAL;
    m = self ? (lx.affinity ? lx.affinity : all) : cpus_of(pid);
    if (!m)
        return -LX_ESRCH;
    if (!lx_copy_out(umask, &m, 8))
        return -LX_EFAULT;
    return 8;
}

long lx_proc_call(uint64_t nr, const uint64_t *a, struct lx_regs *r, bool *served)
{
    *served = true;
    switch (nr) {
    case NR_fork:
    case NR_vfork:
        return do_fork(r, 0, 0, 0);
    case NR_clone:
        /* A thread (pthread_create: VM|FS|FILES|SIGHAND|THREAD|SETTLS|...),
         * or glibc's fork: SIGCHLD | CHILD_SETTID | CHILD_CLEARTID. */
        if ((a[0] & (CLONE_VM | CLONE_THREAD)) == (CLONE_VM | CLONE_THREAD))
            return lx_thread_clone(r, a[0], a[1], a[2], a[3], a[4]);
        return clone_process(r, a[0], a[1], a[3]);
    case NR_clone3: {
        /* struct clone_args: flags, pidfd, child_tid, parent_tid,
         * exit_signal, stack, stack_size, tls, ... (size a[1]). */
        uint64_t ca[8];
        if (a[1] < 64 || a[1] > 4096)
            return -LX_EINVAL;
        if (!lx_copy_in(ca, a[0], sizeof(ca)))
            return -LX_EFAULT;
        if ((ca[0] & (0xff | CLONE_NOT_SERVED)) || ca[4] > 64 || (ca[5] == 0) != (ca[6] == 0))
            return -LX_EINVAL;
        uint64_t top = ca[5] + ca[6], flags = ca[0] | ca[4];
        if (top < ca[5])
            return -LX_EINVAL;
        if ((flags & (CLONE_VM | CLONE_THREAD)) == (CLONE_VM | CLONE_THREAD))
            return lx_thread_clone(r, flags, top, ca[3], ca[2], ca[7]);
        return clone_process(r, flags, top, ca[2]);
    }
    case NR_wait4:
        if (a[3] && !lx_writable(a[3], 144))
            return -LX_EFAULT;
        if (a[3])
            memset((void *)a[3], 0, 144);
        return do_wait4((int64_t)(int)a[0], a[1], a[2]);
    case NR_waitid:
        return do_waitid(a[0], a[1], a[2], a[3]);
    case NR_kill:
    case NR_tgkill:
        return nr == NR_kill ? do_kill((int64_t)(int)a[0], a[1]) : do_kill((int64_t)(int)a[1], a[2]);
    case NR_exit:
        lx_thread_exit((long)(a[0] & 0xff));
    case NR_exit_group:
        k_process_exit((long)(a[0] & 0xff));
        return 0;
    case NR_getpid:
        return (long)lx.pid;
    case NR_gettid:
        return (long)lx_thread_self()->tid;
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
            lx_proc_report();
            return 0;
        }
        for (int i = 0; i < MAX_CHILDREN; i++)
            if (kid_live(&kids[i]) && kids[i].pid == who) {
                kids[i].pgid = to;
                return 0;
            }
        return -LX_ESRCH;
    }
    case NR_setsid:
        if (lx.pgid == lx.pid)
            return -LX_EPERM;
        lx.sid = lx.pgid = lx.pid;
        lx_proc_report();
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
            if (sig.pending & ~sig.mask)
                sig.attention = true;
        }
        if (a[2] && !lx_copy_out(a[2], &old, 8))
            return -LX_EFAULT;
        return 0;
    }
    case NR_sigaltstack:
        if (a[1]) {                 /* no alternate stack: SS_DISABLE */
            uint64_t ss[3] = { 0, 2, 0 };
            if (!lx_copy_out(a[1], ss, sizeof(ss)))
                return -LX_EFAULT;
        }
        return 0;
    case NR_rt_sigpending: {
        uint64_t p = sig.pending & sig.mask;
        return a[1] != 8 ? -LX_EINVAL : lx_copy_out(a[0], &p, 8) ? 0 : -LX_EFAULT;
    }
    case NR_alarm: {
        int64_t ov, op;
        long r = itimer_set((int64_t)(a[0] & 0xffffffff) * 1000000000, 0, &ov, &op);
        return r < 0 ? r : (long)((ov + 999999999) / 1000000000);
    }
    case NR_setitimer: {
        if (a[0] != 0)
            return -LX_EINVAL;      /* ITIMER_VIRTUAL, ITIMER_PROF: not served */
        int64_t v = 0, p = 0, ov, op;
        if (a[1] && !itimerval_in(a[1], &v, &p))
            return -LX_EFAULT;
        if (v < 0)
            return -LX_EINVAL;
        if (a[2] && !lx_writable(a[2], 32))
            return -LX_EFAULT;
        long r = itimer_set(v, p, &ov, &op);
        if (r == 0 && a[2])
            itimerval_out(a[2], ov, op);
        return r;
    }
    case NR_getitimer:
        if (a[0] != 0)
            return -LX_EINVAL;
        return itimerval_out(a[1], itimer_left(k_clock_get()), itimer.period) ? 0 : -LX_EFAULT;
    case NR_times: {
        /* no CPU time accounting yet: the clock since boot, in ticks (100 Hz) */
        uint64_t t[4] = { 0 };
        if (a[0] && !lx_copy_out(a[0], t, sizeof(t)))
            return -LX_EFAULT;
        return k_clock_get() / 10000000;
    }
    case NR_getrusage: {
        if ((int64_t)(int)a[0] < -1 || (int)a[0] > 1)
            return -LX_EINVAL;
        uint64_t ru[18] = { 0 };    /* no accounting yet: zeros */
        return lx_copy_out(a[1], ru, sizeof(ru)) ? 0 : -LX_EFAULT;
    }
    case NR_sched_setaffinity:
    case NR_sched_getaffinity:
        return affinity(nr == NR_sched_setaffinity, (int64_t)(int)a[0], a[1], a[2]);
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
        for (;;) {
            if (take_pulse(-1, 0) == 2 && deliverable())
                return -LX_EINTR;
        }
    case NR_rt_sigsuspend: {
        uint64_t m, old = sig.mask;
        if (a[1] != 8)
            return -LX_EINVAL;
        if (!lx_copy_in(&m, a[0], 8))
            return -LX_EFAULT;
        (void)old;
        lx_sig_mask_during(m);
        sig_poll();
        while (!deliverable())
            if (take_pulse(-1, 0) < 0)
                break;
        /* The handler runs with the suspended mask; the program's comes
         * back with its sigreturn (setup_frame saves mask_after's). */
        return -LX_EINTR;
    }
    case NR_gettimeofday: {
        long ns = k_clock_get();
        uint64_t tv[2] = { lx_wall_seconds(), (uint64_t)ns % 1000000000 / 1000 };
        return a[0] && !lx_copy_out(a[0], tv, sizeof(tv)) ? -LX_EFAULT : 0;
    }
    case NR_sysinfo: {
        struct k_sysinfo ks;
        memset(&ks, 0, sizeof(ks));
        k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&ks, 0);
        uint64_t si[14];
        memset(si, 0, sizeof(si));
        si[0] = (uint64_t)k_clock_get() / 1000000000;          /* uptime */
        si[4] = ks.ram_bytes;                                     /* totalram */
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
    k_chan_interrupts(lx.chan, 0);  /* its pulses are our signals */
    lx.pgid = lx.sid = lx.pid;
    lx.ppid = lx.pid == 1 ? 0 : 1;
}
