/*
 * ipc: the blocking lock, sleeping, joining threads and waiting for
 * processes (see ipc.h).  Sleepers are kept in one list sorted by
 * deadline; the bootstrap CPU's timer tick wakes the expired ones.
 */
#include "core/ipc.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/lapic.h"
#include "core/process.h"
#include "core/sched.h"
#include "core/timer.h"
#include "kestrel/errors.h"

spinlock_t ipc_lock = SPINLOCK_CLASS(LOCK_IPC);
static struct thread *sleepers;

static void sleepers_remove(struct thread *t)
{
    struct thread **pp = &sleepers;
    while (*pp && *pp != t)
        pp = &(*pp)->ipc_next;
    if (*pp)
        *pp = t->ipc_next;
    t->ipc_next = NULL;
}

void ipc_sleep_cancel(struct thread *t)
{
    sleepers_remove(t);
}

long ipc_sleep(uint64_t ns)
{
    struct thread *t = current_thread();
    uint64_t now = time_ns();
    t->wake_at = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
    bool was = spin_lock_irqsave(&ipc_lock);
    struct thread **pp = &sleepers;
    while (*pp && (*pp)->wake_at <= t->wake_at)
        pp = &(*pp)->ipc_next;
    t->ipc_next = *pp;
    *pp = t;
    t->state = T_SLEEPING;
    t->ipc_ret = 0;
    ipc_block(t);
    irq_restore(was);
    return t->ipc_ret;
}

void ipc_timer_tick(void)
{
    if (!sleepers && !timers_armed())
        return;
    uint64_t now = time_ns();
    spin_lock(&ipc_lock);
    timer_tick_locked(now);
    while (sleepers && sleepers->wake_at <= now) {
        struct thread *t = sleepers;
        sleepers = t->ipc_next;
        t->ipc_next = NULL;
        sched_wake(t);
    }
    spin_unlock(&ipc_lock);
}

long ipc_join_thread(struct thread *target, long *status)
{
    struct thread *t = current_thread();
    if (target == t)
        return -E_INVAL;
    bool was = spin_lock_irqsave(&ipc_lock);
    long ret = 0;
    if (target->state == T_DEAD) {
        *status = target->exit_status;
    } else if (target->joiner) {
        ret = -E_BUSY;
    } else {
        target->joiner = t;
        t->join_thread = target;
        t->state = T_JOIN_BLOCKED;
        ipc_block(t);
        irq_restore(was);
        t->join_thread = NULL;
        *status = t->ipc_ret;
        return thread_killed(t) ? -E_INTR : 0;
    }
    spin_unlock_irqrestore(&ipc_lock, was);
    return ret;
}

long ipc_wait_process(struct process *p, long *status)
{
    struct thread *t = current_thread();
    if (p == t->proc)
        return -E_INVAL;
    bool was = spin_lock_irqsave(&ipc_lock);
    spin_lock(&p->lock);
    if (p->state == P_DEAD) {
        *status = p->exit_status;
        spin_unlock(&p->lock);
        spin_unlock_irqrestore(&ipc_lock, was);
        return 0;
    }
    t->ipc_next = p->waiters;
    p->waiters = t;
    t->join_proc = p;
    t->state = T_JOIN_BLOCKED;
    spin_unlock(&p->lock);
    ipc_block(t);
    irq_restore(was);
    t->join_proc = NULL;
    *status = t->ipc_ret;
    return thread_killed(t) ? -E_INTR : 0;
}
