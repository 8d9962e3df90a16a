/*
 * sched: per-CPU run queues and the context switch (see sched.h).
 *
 * A run queue holds the READY threads of one CPU in 256 FIFO lists, one per
 * priority, with a 256-bit bitmap of the non-empty lists, so picking the
 * next thread is a few bit scans.  The running thread is not in the queue.
 * A preempted thread goes back to the head of its list (it keeps its turn);
 * a thread whose round-robin slice ran out, or that yields, to the tail.
 *
 * Switch protocol: the outgoing thread takes its run queue lock (and may
 * pass another lock it holds, see sched_block); the incoming thread
 * releases both in sched_finish_switch, once the outgoing context is saved.
 * Interrupts are off from the lock to the release.
 */
#include "core/sched.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/trap.h"
#include "core/kmem.h"
#include "core/printk.h"
#include "core/ipc.h"
#include "core/process.h"
#include "kestrel/errors.h"

struct runqueue {
    spinlock_t lock;
    uint64_t bitmap[4];
    struct thread *head[256], *tail[256];
    struct thread *switch_prev;       /* handed to the incoming thread */
    spinlock_t *switch_held;
    bool switch_locked;               /* the outgoing side holds rq->lock */
};

static struct runqueue *rqs[MAX_CPUS];

void arch_switch(uintptr_t *save_sp, uintptr_t new_sp);
void sched_finish_switch(void);

static void rq_push(struct runqueue *rq, struct thread *t, bool at_head)
{
    unsigned p = t->prio;
    if (!rq->head[p]) {
        rq->head[p] = rq->tail[p] = t;
        t->rq_next = t->rq_prev = NULL;
        rq->bitmap[p / 64] |= 1UL << (p % 64);
    } else if (at_head) {
        t->rq_prev = NULL;
        t->rq_next = rq->head[p];
        rq->head[p]->rq_prev = t;
        rq->head[p] = t;
    } else {
        t->rq_next = NULL;
        t->rq_prev = rq->tail[p];
        rq->tail[p]->rq_next = t;
        rq->tail[p] = t;
    }
}

static void rq_remove(struct runqueue *rq, struct thread *t)
{
    unsigned p = t->prio;
    if (t->rq_prev)
        t->rq_prev->rq_next = t->rq_next;
    else
        rq->head[p] = t->rq_next;
    if (t->rq_next)
        t->rq_next->rq_prev = t->rq_prev;
    else
        rq->tail[p] = t->rq_prev;
    if (!rq->head[p])
        rq->bitmap[p / 64] &= ~(1UL << (p % 64));
    t->rq_next = t->rq_prev = NULL;
}

/* Highest priority with a ready thread, or -1. */
static int rq_top(const struct runqueue *rq)
{
    for (int w = 3; w >= 0; w--)
        if (rq->bitmap[w])
            return w * 64 + 63 - __builtin_clzll(rq->bitmap[w]);
    return -1;
}

void sched_init_cpu(void)
{
    struct runqueue *rq = kmem_zalloc(sizeof(*rq));
    if (!rq)
        panic("sched: no memory for cpu %u's run queue", this_cpu()->id);
    rq->lock = (spinlock_t)SPINLOCK_CLASS(LOCK_RUNQ);
    rqs[this_cpu()->id] = rq;
    thread_init_idle();
}

void sched_kick(unsigned cpu)
{
    cpus[cpu].need_resched = 1;
    if (cpu != this_cpu()->id)
        lapic_send_ipi(cpus[cpu].apic_id, VEC_IPI_RESCHED);
}

/* The lowest online CPU MASK allows (MASK is never empty of online CPUs:
 * system calls check it). */
static unsigned allowed_cpu(uint64_t mask, unsigned prefer)
{
    if (!mask || (mask & (1UL << prefer)))
        return prefer;
    for (unsigned c = 0; c < cpu_count; c++)
        if ((mask & (1UL << c)) && cpus[c].online)
            return c;
    return prefer;
}

void sched_wake(struct thread *t)
{
    /* Waking a queued, running or dead thread would corrupt a run queue
     * or run a freed stack: a kernel bug, stop here. */
    if (t->state == T_READY || t->state == T_DEAD || t->state == T_RUNNING)
        panic("sched_wake: thread %lu is %d, not blocked", t->tid, t->state);
    t->cpu = allowed_cpu(t->affinity, t->cpu);
    struct runqueue *rq = rqs[t->cpu];
    bool was = spin_lock_irqsave(&rq->lock);
    t->state = T_READY;
    rq_push(rq, t, false);
    struct thread *cur = cpus[t->cpu].current;
    bool preempt = !cur || t->prio > cur->prio;
    spin_unlock_irqrestore(&rq->lock, was);
    if (preempt)
        sched_kick(t->cpu);
}

void sched_set_prio(struct thread *t, uint8_t prio)
{
    struct runqueue *rq = rqs[t->cpu];
    bool was = spin_lock_irqsave(&rq->lock);
    if (t->state == T_READY) {
        rq_remove(rq, t);
        t->prio = prio;
        rq_push(rq, t, false);
    } else {
        t->prio = prio;
    }
    struct thread *cur = cpus[t->cpu].current;
    bool preempt = t->state == T_READY && cur && prio > cur->prio;
    spin_unlock_irqrestore(&rq->lock, was);
    if (preempt)
        sched_kick(t->cpu);
}

/* Loads NEXT's machine context (everything but the registers). */
static void switch_machine(struct thread *prev, struct thread *next)
{
    struct cpu *c = this_cpu();
    if (prev->fpu)
        __asm__ volatile("fxsave64 (%0)" :: "r"(prev->fpu) : "memory");
    if (next->fpu)
        __asm__ volatile("fxrstor64 (%0)" :: "r"(next->fpu) : "memory");
    c->tss.rsp[0] = next->kstack_top;
    c->kstack = next->kstack_top;
    struct process *np = next->proc;
    uint64_t cr3 = np ? np->vm.pml4 : paging_kernel_cr3();
    if (cr3 != c->cr3) {
        /* Kernel threads (idle) leave user space too, so a dead process's
         * page tables are loaded on no CPU by the time it is torn down. */
        if (np)
            __atomic_or_fetch(&np->vm.cpus, 1UL << c->id, __ATOMIC_RELAXED);
        write_cr3(cr3);
        c->cr3 = cr3;
    }
    /* The thread's fs_base is authoritative: user code cannot change the
     * register (CR4.FSGSBASE is off), only the kernel can. */
    if (np && next->fs_base != c->fs_base) {
        wrmsr(MSR_FS_BASE, next->fs_base);
        c->fs_base = next->fs_base;
    }
}

/* Called with rq->lock held and interrupts off; returns in NEXT... or
 * rather, returns when PREV runs again. */
static void do_switch(struct runqueue *rq, struct thread *prev, struct thread *next,
                      spinlock_t *held, bool locked)
{
    struct cpu *c = this_cpu();
    rq->switch_locked = locked;
    next->state = T_RUNNING;
    next->on_cpu = true;
    next->cpu = c->id;
    c->current = next;
    if (next->killed)
        c->need_resched = 1;        /* leads it to sched_user_return, which exits */
    rq->switch_prev = prev;
    rq->switch_held = held;
    switch_machine(prev, next);
    arch_switch(&prev->ksp, next->ksp);
    sched_finish_switch();
}

void sched_finish_switch(void)
{
    struct runqueue *rq = rqs[this_cpu()->id];
    struct thread *prev = rq->switch_prev;
    spinlock_t *held = rq->switch_held;
    prev->on_cpu = false;
    rq->switch_prev = NULL;
    rq->switch_held = NULL;
    if (rq->switch_locked)
        spin_unlock(&rq->lock);
    if (held)
        spin_unlock(held);
    if (prev->state == T_DEAD)
        process_reap_thread(prev);
    else if (prev->migrate) {
        prev->migrate = false;
        sched_wake(prev);
    }
}

int sched_set_affinity(struct thread *t, uint64_t mask)
{
    t->affinity = mask;
    if (mask & (1UL << t->cpu))
        return 0;
    if (t == current_thread()) {
        schedule();                 /* requeue() moves us */
        return 0;
    }
    struct runqueue *rq = rqs[t->cpu];
    bool was = spin_lock_irqsave(&rq->lock);
    bool ready = t->state == T_READY && !t->migrate;
    if (ready) {
        rq_remove(rq, t);
        t->state = T_NEW;           /* in no queue: sched_wake queues it */
    }
    bool running = t->state == T_RUNNING;
    unsigned cpu = t->cpu;
    spin_unlock_irqrestore(&rq->lock, was);
    if (ready)
        sched_wake(t);
    else if (running)
        sched_kick(cpu);            /* it moves at its next switch */
    return 0;
}

/* Puts PREV back in the queue if it is still runnable (or marks it for
 * moving, when its affinity no longer allows this CPU). */
static void requeue(struct runqueue *rq, struct thread *prev, struct cpu *c)
{
    if (prev->state != T_RUNNING || prev == c->idle)
        return;
    if (prev->affinity && !(prev->affinity & (1UL << c->id))) {
        prev->state = T_NEW;        /* in no queue: sched_wake queues it */
        prev->migrate = true;       /* elsewhere, once switched out */
        return;
    }
    prev->state = T_READY;
    bool keep_turn = prev->slice > 0 || prev->policy == K_SCHED_FIFO;
    rq_push(rq, prev, keep_turn);
}

static void schedule_held(spinlock_t *held)
{
    bool was = irq_save();
    struct cpu *c = this_cpu();
    struct runqueue *rq = rqs[c->id];
    struct thread *prev = c->current;
    spin_lock(&rq->lock);
    c->need_resched = 0;
    requeue(rq, prev, c);
    int top = rq_top(rq);
    struct thread *next = top >= 0 ? rq->head[top] : c->idle;
    if (top >= 0) {
        rq_remove(rq, next);
        if (next->slice <= 0)
            next->slice = RR_SLICE_TICKS;    /* a new turn */
    }
    if (next == prev) {
        prev->state = T_RUNNING;
        spin_unlock(&rq->lock);
        if (held)
            spin_unlock(held);
    } else {
        do_switch(rq, prev, next, held, true);
    }
    irq_restore(was);
}

void schedule(void)
{
    schedule_held(NULL);
}

void sched_block(spinlock_t *held)
{
    schedule_held(held);
}

void sched_switch_to(struct thread *next, spinlock_t *held)
{
    bool was = irq_save();
    struct cpu *c = this_cpu();
    struct runqueue *rq = rqs[c->id];
    struct thread *prev = c->current;
    spin_lock(&rq->lock);
    requeue(rq, prev, c);
    do_switch(rq, prev, next, held, true);
    irq_restore(was);
}

/* The message-passing switch, kept short: interrupts are already off
 * (HELD is ipc_lock, taken with irqsave), the current thread is blocked
 * (not queued) and NEXT was blocked, so no run queue changes and no run
 * queue lock.  Other CPUs only read `current` here, to decide whether a
 * wake-up should preempt us; the pass keeps the client's priority. */
void sched_pass_to(struct thread *next, spinlock_t *held)
{
    struct cpu *c = this_cpu();
    struct thread *prev = c->current;
    next->slice = prev->slice;
    do_switch(rqs[c->id], prev, next, held, false);
}

void kernel_tick(void)
{
    if (!rqs[this_cpu()->id])
        return;                      /* not scheduling yet */
    sched_tick();
    if (this_cpu()->id == 0)
        ipc_timer_tick();
}


void sched_tick(void)
{
    struct cpu *c = this_cpu();
    struct thread *t = c->current;
    if (!t || t == c->idle || t->policy != K_SCHED_RR)
        return;
    if (--t->slice > 0)
        return;
    struct runqueue *rq = rqs[c->id];
    spin_lock(&rq->lock);
    int top = rq_top(rq);
    if (top >= t->prio)
        c->need_resched = 1;     /* an equal or higher thread waits: rotate */
    else
        t->slice = RR_SLICE_TICKS;
    spin_unlock(&rq->lock);
}

void sched_user_return(void)
{
    while (this_cpu()->need_resched)
        schedule();
    struct thread *t = current_thread();
    if (thread_killed(t)) {
        irq_enable();
        thread_exit(-E_INTR);
    }
}

_Noreturn void sched_idle_loop(void)
{
    for (;;) {
        irq_disable();
        struct cpu *c = this_cpu();
        if (c->need_resched || rq_top(rqs[c->id]) >= 0) {
            schedule();
            continue;
        }
        if (zombie_count) {
            irq_enable();
            reap_zombies();
            continue;
        }
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}

/* For the NMI dump (debug builds): the ready threads of CPU's queue.
 * Unlocked: the CPUs are stopped, or this is a best effort. */
void sched_dump_queue(unsigned cpu)
{
    const struct runqueue *rq = cpu < MAX_CPUS ? rqs[cpu] : NULL;
    if (!rq)
        return;
    kprintf("  ready on cpu %u:", cpu);
    unsigned n = 0;
    for (int p = 255; p >= 0; p--)
        for (const struct thread *t = rq->head[p]; t && n < 32; t = t->rq_next, n++)
            kprintf(" %lu/%lu(%s)@%u", t->proc ? t->proc->pid : 0, t->tid,
                    t->proc ? t->proc->name : "-", (unsigned)t->prio);
    kprintf("%s\n", n ? "" : " none");
}
