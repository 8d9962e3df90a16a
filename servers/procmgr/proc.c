/*
 * procmgr's processes (see proc.h).
 *
 * A slot of the table is free, running or ended (a zombie: its status kept
 * until the parent waits).  Pids count up from 1 and are not reused while
 * procmgr lives.  The parent of a process is the badge of the connection
 * its spawn came through: a service's, or another process's; only the
 * parent may wait for it or kill it.  When a parent ends, its ended
 * children are forgotten and its running ones become orphans, forgotten
 * when they end.
 *
 * wait blocks by not replying: the receive id is kept in a wait slot and
 * answered when a matching child ends (its death notice is a pulse on
 * procmgr's channel, code DEATH_CODE + slot, through a connection whose
 * badge no client holds and no past life of procmgr had), so procmgr's
 * one thread never blocks.  A waiter that is killed meanwhile makes the reply fail;
 * the child's status is then kept for the next wait.
 *
 * Start-up handles a child gets: "procmgr" (its own connection) and "log"
 * (a copy of procmgr's, when procmgr has one), nothing else.
 *
 * procmgr is its children's exception handler: a fault gives a core file
 * (rt/coredump.h), written while the child is held and copied to the
 * console after it is let go, by a thread of low priority of its own
 * (exception_main); the last few are kept for their parents to read
 * (core).  That thread only reads the table, and only the slot of a
 * process stopped in its exception, which nothing else changes meanwhile.
 */
#include "proc.h"

#include <stdbool.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "rt/coredump.h"
#include "rt/rt.h"
#include "rt/thread.h"
#include "srv/srv.h"
#include "rt/stdio.h"

#define DEATH_CODE 0x20000
#define WAITS_MAX 32
#define SPAWN_BYTES_MAX 4096
#define PRIO_DEFAULT 20
#define PRIO_MAX 39
#define EXC_PRIO 2

enum { FREE, RUNNING, ENDED };

struct proc {
    int state;
    uint32_t pid;
    uint64_t parent;            /* badge of the parent's connection; 0: orphan */
    long handle;                /* the process (WAIT, MANAGE) */
    long status;
    long started;               /* clock, ns */
    char name[32];
    char program[64];
    struct names_view view;
};

struct waiter {
    long rcvid;                 /* 0: free */
    uint64_t parent;
    uint32_t pid;               /* 0: any child */
};

static struct proc procs[PROC_MAX];
static struct waiter waits[WAITS_MAX];
static uint32_t next_pid = 1;
static long watch_conn = -1;
static uint64_t own_badge;      /* of the death notices: only this life's count */
static struct names_view empty_view;
static long exc_chan = -1;
static struct rt_cores cores = { .who = "procmgr" };

static struct proc *by_pid(uint32_t pid);
static uint64_t life_tag;       /* 24 bits, from the clock at start: see proc.h */

static uint64_t proc_badge(uint32_t pid)
{
    return PROC_BADGE_BASE | life_tag << 32 | pid;
}

/* The pid a badge names in this life of procmgr; 0 for a service's badge
 * or a process of an earlier life. */
static uint32_t pid_of_badge(uint64_t badge)
{
    return badge >> 32 == (PROC_BADGE_BASE | life_tag << 32) >> 32 ? (uint32_t)badge : 0;
}

/* Children's exceptions: a core file each, then the child dies with its
 * fault status. */
static long exception_main(void *arg)
{
    (void)arg;
    for (;;) {              /* for the life of procmgr */
        struct k_exception e;
        struct k_msg_info info;
        long rcvid = k_msg_receive(exc_chan, (long)&e, -(long)sizeof(e), (long)&info);
        if (rcvid <= 0)
            continue;
        /* The badge names the process we started; the one that faulted,
         * whose handle came with the message, may be one it made itself
         * with its handler (K_SPAWN_EXCEPTION_INHERIT: a forked Linux
         * child).  Its core carries the name we know and the kernel's pid of
         * the one that faulted, and is kept for the one we started's parent. */
        uint32_t pid = pid_of_badge(info.badge);
        struct proc *p = pid ? by_pid(pid) : NULL;
        struct rt_core core = { .vmo = 0 };
        long proc = info.handle > 0 ? (long)info.handle : -1;
        if (p && proc > 0 && info.send_len == sizeof(e))
            rt_core_capture(&cores, p->name, p->program, proc, &e, p->parent, &core);
        k_msg_reply(rcvid, K_EXIT_FAULT(e.vector), 0, 0);
        if (proc > 0)
            k_handle_close(proc);
        rt_core_finish(&cores, &core, true);
    }
    return 0;
}

static char exc_stack[32768] __attribute__((aligned(16)));

void proc_init(long chan)
{
    own_badge = srv_self_badge();
    uint64_t now = (uint64_t)k_clock_get();
    life_tag = ((now ^ now >> 24) & 0xffffff) | 1;
    watch_conn = k_chan_connect(chan, (long)own_badge, 0);
    if (watch_conn < 0)
        printf("procmgr: no death notices (%s): processes cannot be waited for\n",
               k_strerror(watch_conn));
    exc_chan = k_chan_create(0);
    static struct rt_thread exc_thread;
    struct k_thread_attr low = { .priority = EXC_PRIO, .policy = K_SCHED_RR, .cpu_mask = 0 };
    long t = exc_chan >= 0 ? rt_thread_spawn(&exc_thread, exception_main, 0, exc_stack,
                                             sizeof(exc_stack), &low)
                           : exc_chan;
    if (t < 0) {
        printf("procmgr: no exception handler (%s): faulting children leave no core\n",
               k_strerror(t));
        exc_chan = -1;
    }
}

static struct proc *by_badge(uint64_t badge)
{
    uint32_t pid = pid_of_badge(badge);
    for (unsigned i = 0; i < PROC_MAX && pid; i++)
        if (procs[i].state == RUNNING && procs[i].pid == pid)
            return &procs[i];
    return NULL;
}

static struct proc *by_pid(uint32_t pid)
{
    for (unsigned i = 0; i < PROC_MAX && pid; i++)
        if (procs[i].state != FREE && procs[i].pid == pid)
            return &procs[i];
    return NULL;
}

const struct names_view *proc_view(uint64_t badge)
{
    if (badge < PROC_BADGE_BASE)
        return service_view(badge);
    const struct proc *p = by_badge(badge);
    return p ? &p->view : &empty_view;
}


/* The strings of a spawn payload: exactly COUNT, each NUL-terminated
 * within LEN bytes, none longer than MAX (with its NUL); false otherwise. */
static bool split_strings(const char *p, size_t len, unsigned count, const char **out, size_t max)
{
    size_t off = 0;
    for (unsigned i = 0; i < count; i++) {
        size_t n = strnlen(p + off, len - off);
        if (off + n == len || n + 1 > max)
            return false;                       /* unterminated or too long */
        out[i] = p + off;
        off += n + 1;
    }
    return off == len;                          /* nothing after the last */
}

static void copy_name(char *dst, size_t size, const char *path)
{
    const char *base = path;
    for (const char *c = path; *c; c++)
        if (*c == '/')
            base = c + 1;
    size_t n = strnlen(base, size - 1);
    memcpy(dst, base, n);
    dst[n] = 0;
}

long proc_spawn(void *ctx, long rcvid, const struct procmgr_spawn_req *req, const void *payload,
                size_t payload_len, struct procmgr_spawn_rep *rep)
{
    const struct k_msg_info *info = ctx;
    (void)rcvid;
    if (req->argc == 0 || req->argc > K_SPAWN_MAX_ARGS - 1 || req->nview > NAMES_VIEW_MAX ||
        payload_len > SPAWN_BYTES_MAX)
        return -E_INVAL;
    if (req->priority > PRIO_MAX)
        return -E_PERM;                         /* above every program: the services' range */
    const char *strs[K_SPAWN_MAX_ARGS + NAMES_VIEW_MAX];
    if (!split_strings(payload, payload_len, req->argc + req->nview, strs, K_SPAWN_MAX_ARG_LEN))
        return -E_INVAL;
    struct proc *parent = by_badge(info->badge);
    if (info->badge >= PROC_BADGE_BASE && !parent)
        return -E_DEAD;                         /* a process procmgr no longer knows */
    struct proc *p = NULL;
    for (unsigned i = 0; i < PROC_MAX && !p; i++)
        if (procs[i].state == FREE)
            p = &procs[i];
    if (!p)
        return -E_FULL;

    /* The view: the parent's, or a narrower one it asked for. */
    static struct names_view root;
    names_view_root(&root);
    const struct names_view *pv = parent ? &parent->view : service_view(info->badge);
    if (!pv)
        pv = &root;
    if (req->nview == 0) {
        p->view = *pv;
    } else {
        struct names_str want[NAMES_VIEW_MAX];
        for (unsigned i = 0; i < req->nview; i++)
            want[i] = (struct names_str){ strs[req->argc + i], strlen(strs[req->argc + i]) };
        int r = names_view_derive(pv, want, req->nview, &p->view);
        if (r == NAMES_EPERM)
            return -E_PERM;                     /* wider than the parent's */
        if (r < 0)
            return -E_INVAL;
    }

    uint32_t pid = next_pid;
    struct k_spawn_handle h[2];
    unsigned nh = 0;
    long own = k_chan_connect(rt_handle("chan"), (long)proc_badge(pid), 0);
    if (own < 0)
        return own;
    h[nh++] = (struct k_spawn_handle){ (uint32_t)own, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER,
                                       "procmgr" };
    long log = rt_handle("log");
    if (log >= 0)
        h[nh++] = (struct k_spawn_handle){ (uint32_t)log, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER,
                                           "log" };
    /* The slot is filled first: the child may fault before spawn returns,
     * and the exception thread must find its name (the process itself
     * comes with the exception message). */
    p->pid = pid;
    p->parent = info->badge;
    p->handle = -1;
    p->status = 0;
    p->started = k_clock_get();
    copy_name(p->name, sizeof(p->name), strs[0]);
    size_t plen = strnlen(strs[0], sizeof(p->program) - 1);
    memcpy(p->program, strs[0], plen);
    p->program[plen] = 0;
    __atomic_store_n(&p->state, RUNNING, __ATOMIC_RELEASE);
    long exc = exc_chan >= 0 ? k_chan_connect(exc_chan, (long)proc_badge(pid), 0) : 0;
    struct k_spawn sp = { .argc = req->argc, .nhandles = nh, .argv = strs, .handles = h,
                          .priority = req->priority ? req->priority : PRIO_DEFAULT,
                          .exception = (uint32_t)(exc > 0 ? exc : 0),
                          .image = (uint32_t)rt_handle("bootfs") };
    long ph = k_process_spawn((long)strs[0], (long)strlen(strs[0]), (long)&sp);
    k_handle_close(own);
    if (exc > 0)
        k_handle_close(exc);
    if (ph < 0) {
        p->state = FREE;
        return ph;
    }
    next_pid++;
    __atomic_store_n(&p->handle, ph, __ATOMIC_RELEASE);

    long w = k_process_watch(ph, watch_conn, DEATH_CODE + (long)(p - procs));
    if (w < 0)
        printf("procmgr: pid %u: no death notice: %s\n", pid, k_strerror(w));
    rep->pid = pid;
    return 0;
}

static void forget(struct proc *p)
{
    k_handle_close(p->handle);
    p->state = FREE;
}

/* Answers waiter W with ended child P; false if the waiter is gone. */
static bool answer(struct waiter *w, struct proc *p)
{
    struct procmgr_wait_rep rep = { .pid = p->pid, .status = p->status };
    long r = proto_reply(w->rcvid, 0, &rep, sizeof(rep));
    w->rcvid = 0;
    return r >= 0;
}

static bool wait_matches(const struct waiter *w, const struct proc *p)
{
    return w->rcvid && w->parent == p->parent && (w->pid == 0 || w->pid == p->pid);
}

/* PARENT (a badge) has ended: its children are orphans, its zombies and
 * waits are dropped. */
static void parent_ended(uint64_t parent)
{
    for (unsigned i = 0; i < WAITS_MAX; i++)
        if (waits[i].parent == parent)
            waits[i].rcvid = 0;
    for (unsigned i = 0; i < PROC_MAX; i++) {
        if (procs[i].state == FREE || procs[i].parent != parent)
            continue;
        if (procs[i].state == ENDED)
            forget(&procs[i]);
        else
            procs[i].parent = 0;
    }
}

int proc_pulse(const struct k_msg_info *info)
{
    if (info->code < DEATH_CODE || info->code >= DEATH_CODE + PROC_MAX)
        return 0;
    if (info->badge != own_badge)
        return 1;                               /* forged by a client, or a past life's watch */
    struct proc *p = &procs[info->code - DEATH_CODE];
    if (p->state != RUNNING)
        return 1;
    p->state = ENDED;
    p->status = (long)info->value;
    parent_ended(proc_badge(p->pid));
    if (p->parent == 0) {                       /* an orphan: nobody will wait */
        forget(p);
        return 1;
    }
    for (unsigned i = 0; i < WAITS_MAX; i++)
        if (wait_matches(&waits[i], p) && answer(&waits[i], p)) {
            forget(p);
            break;
        }
    return 1;
}

long proc_wait(void *ctx, long rcvid, const struct procmgr_wait_req *req,
               struct procmgr_wait_rep *rep)
{
    const struct k_msg_info *info = ctx;
    if (req->flags & ~1u)
        return -E_INVAL;
    bool any = false;
    for (unsigned i = 0; i < PROC_MAX; i++) {
        struct proc *p = &procs[i];
        if (p->state == FREE || p->parent != info->badge || (req->pid && p->pid != req->pid))
            continue;
        any = true;
        if (p->state == ENDED) {
            rep->pid = p->pid;
            rep->status = p->status;
            forget(p);
            return 0;
        }
    }
    if (!any)
        return -E_NOENT;                        /* no such child (ECHILD) */
    if (req->flags & 1) {
        rep->pid = 0;
        return 0;
    }
    for (unsigned i = 0; i < WAITS_MAX; i++)
        if (waits[i].rcvid == 0) {
            waits[i] = (struct waiter){ rcvid, info->badge, req->pid };
            return PROTO_NO_REPLY;
        }
    return -E_FULL;
}

long proc_kill(void *ctx, long rcvid, const struct procmgr_kill_req *req,
               struct procmgr_kill_rep *rep)
{
    const struct k_msg_info *info = ctx;
    (void)rcvid, (void)rep;
    struct proc *p = by_pid(req->pid);
    if (!p)
        return -E_NOENT;
    if (p->parent != info->badge)
        return -E_PERM;                         /* only the parent */
    if (p->state != RUNNING)
        return 0;                               /* already ended */
    return k_process_kill(p->handle, req->status);
}

long proc_ps(void *ctx, long rcvid, const struct procmgr_ps_req *req, struct procmgr_ps_rep *rep)
{
    (void)ctx, (void)rcvid;
    unsigned n = 0;
    for (unsigned i = 0; i < PROC_MAX; i++) {
        const struct proc *p = &procs[i];
        if (p->state == FREE)
            continue;
        if (n++ != req->index)
            continue;
        rep->pid = p->pid;
        rep->ppid = pid_of_badge(p->parent);
        rep->state = p->state == RUNNING ? 1 : 2;
        rep->uptime_ms = (uint64_t)(k_clock_get() - p->started) / 1000000;
        memcpy(rep->name, p->name, sizeof(rep->name));
    }
    rep->count = n;
    return req->index < n ? 0 : -E_NOENT;
}

long proc_core(void *ctx, long rcvid, const struct procmgr_core_req *req,
               struct procmgr_core_rep *rep)
{
    const struct k_msg_info *info = ctx;
    (void)rcvid;
    return rt_core_get(&cores, info->badge, req->index, req->offset, &rep->count, rep->name,
                       &rep->size, &rep->time_ms, rep->data, &rep->len, sizeof(rep->data));
}

long proc_getpid(void *ctx, long rcvid, const struct procmgr_getpid_req *req,
                 struct procmgr_getpid_rep *rep)
{
    const struct k_msg_info *info = ctx;
    (void)rcvid, (void)req;
    const struct proc *p = by_badge(info->badge);
    if (p) {
        rep->pid = p->pid;
        rep->ppid = pid_of_badge(p->parent);
    }
    return 0;
}
