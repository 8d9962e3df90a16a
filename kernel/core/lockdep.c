/*
 * lockdep: the lock-order checks of debug builds (see core/spinlock.h and
 * docs/decisions/0012-lock-order.md).  Each CPU keeps a mask of the lock
 * classes it holds; a lock handed to the next thread by a context switch
 * (sched_block) is released on the same CPU, so the mask stays right.
 * Every violation panics with both classes named: a wrong order is a bug
 * even when no deadlock happened this time.
 */
#include "core/spinlock.h"

#ifdef KESTREL_LOCKDEP
#include "arch/x86_64/percpu.h"
#include "core/printk.h"

static const char *const names[LOCK_CLASSES] = {
    "leaf", "vm_lock", "space", "handles", "kmalloc", "irq_lock", "ipc_lock", "process", "runqueue",
};

static const char *highest(uint32_t mask)
{
    return mask ? names[31 - __builtin_clz(mask)] : "none";
}

void lockdep_acquire(uint32_t cls)
{
    struct cpu *c = this_cpu();
    uint32_t held = c->locks_held, bit = 1u << cls;
    bool irqs = irq_enabled();
    if (held & ~(bit - 1))
        panic("lockdep: %s taken while holding %s (order violation)", names[cls], highest(held & ~(bit - 1)));
    if ((bit & LOCK_IRQSAFE_MASK) && irqs)
        panic("lockdep: %s taken with interrupts on", names[cls]);
    if (!(bit & LOCK_IRQSAFE_MASK) && (held & LOCK_IRQSAFE_MASK))
        panic("lockdep: %s (interrupt-unsafe) taken while holding %s", names[cls],
              highest(held & LOCK_IRQSAFE_MASK));
    if (cls == LOCK_VM && (!irqs || held))
        panic("lockdep: vm_lock taken with %s", held ? highest(held) : "interrupts off");
    c->locks_held = held | bit;
}

void lockdep_release(uint32_t cls)
{
    struct cpu *c = this_cpu();
    if (!(c->locks_held & (1u << cls)))
        panic("lockdep: %s released but not held on cpu %u", names[cls], c->id);
    c->locks_held &= ~(1u << cls);
}

void lock_assert_copy_ok(void)
{
    uint32_t held = this_cpu()->locks_held;
    if (held & LOCK_IRQSAFE_MASK)
        panic("lockdep: a copy of unbounded length under %s", highest(held & LOCK_IRQSAFE_MASK));
}

void lock_assert_may_wait(void)
{
    uint32_t held = this_cpu()->locks_held & ~(1u << LOCK_VM);
    if (held)
        panic("lockdep: waiting for other CPUs while holding %s", highest(held));
}
#endif
