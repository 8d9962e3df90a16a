/*
 * thread: threads and futexes in the Linux personality.
 *
 * A thread (clone with CLONE_VM | CLONE_THREAD, as musl's and glibc's
 * pthread_create call it) is a kernel thread of this process.  Each has
 * a 64 KiB block of its own, aligned to 64 KiB, in our image's room: its
 * personality stack, with its struct lx_thread at the block's base, so
 * that the personality finds the current thread from its stack pointer.
 * The personality's state is shared and guarded by one lock (lx_lock),
 * taken for every call and let go only while the call waits (a read from
 * a server, a futex, a sleep, a wait for a child): one thread at a time
 * runs personality code, as with a kernel's big lock.
 *
 * Futexes are kept here, per process (FUTEX_PRIVATE; shared memory between
 * processes has no futexes yet): a waiter checks the word and queues itself
 * under the lock, then waits on its thread's own channel; a waker pulses
 * that channel, so a wake that comes before the wait is not lost.
 * A thread's end writes 0 to its clear-child-tid word and wakes it
 * (pthread_join).
 *
 * Signals still go to the main thread only (its channel is the process's).
 */
#include "lx.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/personality.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"
#include "rt/lock.h"
#include "rt/syscall.h"

#define BLOCK 65536UL
#define BLOCKS_VA (K_NATIVE_BASE + 0x0C000000UL)      /* 64 MiB of room: 1024 threads */
#define BLOCKS_MAX 1024
#define FUTEX_WAKE_CODE 0x46555458
#define FUTEX_TIMER_CODE 0x46555459
#define MAX_WAITERS 256

static LX_HOT volatile int lx_lock;
static unsigned blocks_used, thread_serial;

struct waiter {
    uint64_t addr;                  /* 0: free */
    struct lx_thread *t;
};
static struct waiter waiters[MAX_WAITERS];

void lx_lock_take(void)
{
    rt_lock(&lx_lock);
}

void lx_lock_give(void)
{
    rt_unlock(&lx_lock);
}

void lx_lock_reset(void)
{
    lx_lock = 0;
}

struct lx_thread *lx_thread_self(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    return (struct lx_thread *)(sp & ~(BLOCK - 1));
}

/* The thread's own channel, for its futex wakes; made on first use. */
static long futex_chan(struct lx_thread *t)
{
    if (t->fchan <= 0) {
        t->fchan = k_chan_create(0);
        t->fself = t->fchan > 0 ? k_chan_connect(t->fchan, 1, 0) : -1;
    }
    return t->fself;
}

static long futex_wake(uint64_t addr, long n, uint64_t requeue_to, long nrequeue)
{
    long woken = 0, moved = 0;
    for (unsigned i = 0; i < MAX_WAITERS; i++) {
        if (waiters[i].addr != addr)
            continue;
        if (woken < n) {
            k_pulse_send(waiters[i].t->fself, FUTEX_WAKE_CODE, 0, 0);
            waiters[i].addr = 0;
            woken++;
        } else if (requeue_to && moved < nrequeue) {
            waiters[i].addr = requeue_to;
            moved++;
        }
    }
    return woken;
}

static long futex_wait(uint64_t addr, uint32_t val, uint64_t uts, bool absolute)
{
    uint32_t now;
    if (addr & 3)
        return -LX_EINVAL;
    if (!lx_copy_in(&now, addr, 4))
        return -LX_EFAULT;
    if (now != val)
        return -LX_EAGAIN;
    long timeout_ns = -1;
    if (uts) {
        int64_t ts[2];
        if (!lx_copy_in(ts, uts, sizeof(ts)))
            return -LX_EFAULT;
        if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
            return -LX_EINVAL;
        timeout_ns = ts[0] * 1000000000L + ts[1];
        if (absolute)               /* CLOCK_MONOTONIC: ours */
            timeout_ns -= k_clock_get();
        if (timeout_ns <= 0)
            return -LX_ETIMEDOUT;
    }
    struct lx_thread *t = lx_thread_self();
    if (futex_chan(t) < 0)
        return -LX_ENOMEM;
    int slot = -1;
    for (int i = 0; i < MAX_WAITERS && slot < 0; i++)
        if (!waiters[i].addr)
            slot = i;
    if (slot < 0)
        return -LX_ENOMEM;
    waiters[slot] = (struct waiter){ addr, t };
    long timer = -1;
    if (timeout_ns > 0) {
        timer = k_timer_create(t->fself, FUTEX_TIMER_CODE, 0);
        if (timer >= 0)
            k_timer_set(timer, timeout_ns, 0);
    }
    long ret = 0;
    lx_lock_give();
    for (;;) {
        struct k_msg_info info;
        long r = k_msg_receive(t->fchan, 0, 0, (long)&info);
        if (r == -E_INTERRUPTED) {
            ret = -LX_ERESTARTSYS;  /* a signal for us: lx_syscall decides */
            break;
        }
        if (r < 0) {
            ret = -LX_EINVAL;
            break;
        }
        if (r > 0) {
            k_msg_error(r, E_NOSYS);
            continue;
        }
        if (info.code == FUTEX_WAKE_CODE)
            break;
        if (info.code == FUTEX_TIMER_CODE) {
            ret = -LX_ETIMEDOUT;
            break;
        }
    }
    lx_lock_take();
    if (timer >= 0)
        k_handle_close(timer);
    for (int i = 0; i < MAX_WAITERS; i++)
        if (waiters[i].t == t && waiters[i].addr) {
            waiters[i].addr = 0;    /* not woken (timed out, interrupted): off the queue */
            if (ret == 0)
                ret = -LX_EINTR;
        }
    return ret;
}

long lx_futex(uint64_t addr, uint64_t op, uint64_t val, uint64_t uts, uint64_t addr2, uint64_t val3)
{
    (void)val3;
    switch (op & 127) {
    case 0:                         /* FUTEX_WAIT */
        return futex_wait(addr, (uint32_t)val, uts, false);
    case 9:                         /* FUTEX_WAIT_BITSET: an absolute time */
        return futex_wait(addr, (uint32_t)val, uts, true);
    case 1:                         /* FUTEX_WAKE */
    case 10:                        /* FUTEX_WAKE_BITSET */
        return futex_wake(addr, (long)(int)val, 0, 0);
    case 3:                         /* FUTEX_REQUEUE: uts is a count here */
        return futex_wake(addr, (long)(int)val, addr2, (long)(int)uts);
    case 4: {                       /* FUTEX_CMP_REQUEUE */
        uint32_t now;
        if (!lx_copy_in(&now, addr, 4))
            return -LX_EFAULT;
        if (now != (uint32_t)val3)
            return -LX_EAGAIN;
        return futex_wake(addr, (long)(int)val, addr2, (long)(int)uts);
    }
    default:
        return -LX_ENOSYS;
    }
}

/* ---- threads ---- */

struct start {
    struct lx_regs regs;            /* then the frame: lx_resume's block */
    struct k_redirect frame;
    uint64_t tls, flags;
};

#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_CHILD_SETTID 0x1000000

_Noreturn void lx_resume(void *regs_then_frame);

static void thread_main(void *arg)
{
    struct start *s = arg;
    struct lx_thread *t = lx_thread_self();
    k_personality_stack((long)((uintptr_t)t + BLOCK));
    if (s->flags & CLONE_SETTLS)
        k_thread_set_fs((long)s->tls);
    if (lx.affinity)                /* a new thread runs where its process was put */
        k_thread_affinity(0, (long)lx.affinity);
    lx_resume(&s->regs);
}

long lx_thread_clone(struct lx_regs *r, uint64_t flags, uint64_t stack, uint64_t ptid,
                     uint64_t ctid, uint64_t tls)
{
    if (!stack)
        return -LX_EINVAL;
    if (blocks_used == BLOCKS_MAX)
        return -LX_EAGAIN;
    uint64_t base = BLOCKS_VA + blocks_used * BLOCK;
    long v = k_vmo_create((long)BLOCK, K_VMO_ANON, 0, 0);
    if (v < 0 || k_vmo_map(0, v, 0, (long)BLOCK, (long)(K_PROT_READ | K_PROT_WRITE | base)) !=
                     (long)base) {
        if (v >= 0)
            k_handle_close(v);
        return -LX_ENOMEM;
    }
    k_handle_close(v);
    blocks_used++;
    struct lx_thread *t = (struct lx_thread *)base;
    memset(t, 0, sizeof(*t));
    t->tid = 0x10000000UL + (lx.pid << 10) + (++thread_serial % 1024);
    if (flags & CLONE_CHILD_CLEARTID)
        t->clear_tid = ctid;
    struct start *s = (struct start *)((base + BLOCK - sizeof(struct start)) & ~63UL);
    s->regs = *r;
    s->regs.rax = 0;
    memcpy(&s->frame, r + 1, sizeof(s->frame));
    s->frame.rsp = stack;
    s->frame.kind = K_REDIRECT_CALL;
    s->tls = tls;
    s->flags = flags;
    uint32_t tid32 = (uint32_t)t->tid;
    if ((flags & CLONE_PARENT_SETTID) && !lx_copy_out(ptid, &tid32, 4))
        return -LX_EFAULT;
    if (flags & CLONE_CHILD_SETTID)
        lx_copy_out(ctid, &tid32, 4);
    long h = k_thread_create((long)thread_main, (long)((uintptr_t)s - 64), (long)s, 0);
    if (h < 0)
        return -LX_EAGAIN;
    t->handle = h;
    return (long)t->tid;
}

/* exit of one thread: its clear-child-tid word is 0 and woken, then it ends. */
_Noreturn void lx_thread_exit(long status)
{
    struct lx_thread *t = lx_thread_self();
    if (t->main)
        k_process_exit(status & 0xff);
    if (t->clear_tid) {
        uint32_t zero = 0;
        if (lx_copy_out(t->clear_tid, &zero, 4))
            futex_wake(t->clear_tid, 1, 0, 0);
    }
    if (t->fself > 0)
        k_handle_close(t->fself);
    if (t->fchan > 0)
        k_handle_close(t->fchan);
    lx_lock_give();
    k_thread_exit(status);
    for (;;)
        ;
}
