/*
 * spinlock: a ticket lock (FIFO among waiting CPUs).  spin_lock does not
 * touch the interrupt flag; code that shares a lock with an interrupt
 * handler takes it with spin_lock_irqsave.  Builds for the host too, so the
 * pure-logic files that use it can be unit tested.
 */
#ifndef KESTREL_CORE_SPINLOCK_H
#define KESTREL_CORE_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    volatile uint32_t next;
    volatile uint32_t owner;
} spinlock_t;

#define SPINLOCK_INIT { 0, 0 }

static inline void spin_lock(spinlock_t *l)
{
    uint32_t me = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != me)
        __asm__ volatile("pause" ::: "memory");
}

static inline void spin_unlock(spinlock_t *l)
{
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
#endif

#endif
