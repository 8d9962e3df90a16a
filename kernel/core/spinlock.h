/*
 * spinlock: a ticket lock (FIFO among waiting CPUs).  spin_lock does not
 * touch the interrupt flag; code that shares a lock with an interrupt
 * handler takes it with spin_lock_irqsave.  Builds for the host too, so the
 * pure-logic files that use it can be unit tested.
 *
 * Lock classes (docs/decisions/0012-lock-order.md): the kernel's locks
 * that nest have a class, and the classes have one order.  In debug
 * builds (not KESTREL_SHIP) every acquisition of a classed lock checks,
 * per CPU, that
 *   - no lock of the same or a later class is held (the order);
 *   - an interrupt-safe class (one an interrupt handler may take) is
 *     taken with interrupts off;
 *   - an interrupt-unsafe class is not taken while an interrupt-safe one
 *     is held (the holder could be interrupted by a handler spinning on
 *     the outer lock: the ABBA of issue 8);
 *   - vm_lock is taken with interrupts on and nothing else held (its
 *     holder waits for other CPUs' TLB flushes);
 * and panics naming both classes otherwise.  lock_assert_copy_ok() and
 * lock_assert_may_wait() check the places that copy unbounded lengths or
 * wait for other CPUs.  Unclassed locks (class 0) are leaves: they are
 * not checked and nothing is taken while they are held.
 */
#ifndef KESTREL_CORE_SPINLOCK_H
#define KESTREL_CORE_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* In order: a lock may only be taken while holding locks of earlier classes. */
enum lock_class {
    LOCK_LEAF = 0,        /* unclassed, not checked */
    LOCK_VM,              /* vm_lock: mapping changes, COW; waits for TLB flushes */
    LOCK_SPACE,           /* an address space's lock: regions, page tables */
    LOCK_HANDLES,         /* a process's handle table */
    LOCK_SLAB,            /* a kmalloc size class */
    LOCK_IRQ,             /* interrupt routing (irq_lock) */
    LOCK_IPC,             /* ipc_lock: every blocked state */
    LOCK_PROC,            /* a process's thread list and state */
    LOCK_RUNQ,            /* a CPU's run queue */
    LOCK_CLASSES
};

/* Classes that interrupt handlers take (with interrupts off everywhere). */
#define LOCK_IRQSAFE_MASK ((1u << LOCK_IRQ) | (1u << LOCK_IPC) | (1u << LOCK_PROC) | (1u << LOCK_RUNQ))

typedef struct {
    volatile uint32_t next;
    volatile uint32_t owner;
    uint32_t cls;             /* enum lock_class */
} spinlock_t;

#define SPINLOCK_INIT { 0, 0, LOCK_LEAF }
#define SPINLOCK_CLASS(c) { 0, 0, (c) }

#if !defined(KESTREL_HOST) && !defined(KESTREL_SHIP)
#define KESTREL_LOCKDEP 1
/* kernel/core/lockdep.c */
void lockdep_acquire(uint32_t cls);
void lockdep_release(uint32_t cls);
void lock_assert_copy_ok(void);
void lock_assert_may_wait(void);
#else
static inline void lockdep_acquire(uint32_t cls) { (void)cls; }
static inline void lockdep_release(uint32_t cls) { (void)cls; }
static inline void lock_assert_copy_ok(void) {}
static inline void lock_assert_may_wait(void) {}
#endif

static inline void spin_lock(spinlock_t *l)
{
#ifdef KESTREL_LOCKDEP
    if (l->cls)
        lockdep_acquire(l->cls);
#endif
    uint32_t me = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != me)
        __asm__ volatile("pause" ::: "memory");
}

static inline void spin_unlock(spinlock_t *l)
{
#ifdef KESTREL_LOCKDEP
    if (l->cls)
        lockdep_release(l->cls);
#endif
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

static inline bool spin_is_locked(spinlock_t *l)
{
    return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) !=
           __atomic_load_n(&l->next, __ATOMIC_RELAXED);
}

#ifndef KESTREL_HOST
#include "arch/x86_64/cpu.h"

static inline bool spin_lock_irqsave(spinlock_t *l)
{
    bool was = irq_save();
    spin_lock(l);
    return was;
}

static inline void spin_unlock_irqrestore(spinlock_t *l, bool was)
{
    spin_unlock(l);
    irq_restore(was);
}

/* Takes L with interrupts as they are while waiting, then turns them off
 * for the critical section; returns whether they were on (release with
 * spin_unlock_irqrestore).  For a lock whose other holders keep
 * interrupts on for long (an address space's, across a large mapping): a
 * CPU waiting with interrupts off could not answer a TLB-flush IPI
 * meanwhile, and the CPU that sent it would give up. */
static inline bool spin_lock_irqwait(spinlock_t *l)
{
    bool was = irq_enabled();
    spin_lock(l);
    irq_disable();
    return was;
}
#endif

#endif
