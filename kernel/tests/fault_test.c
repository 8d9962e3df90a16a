/*
 * Opt-in self tests that crash the kernel on purpose, to prove that a
 * kernel fault gives a readable report (vector, error code, registers,
 * CR2, backtrace with symbols) instead of a silent reset.  Each never
 * returns: tools/runtests boots once per test and checks the report.
 */
#include <stdint.h>

#include "core/selftest.h"

/* noinline keeps each function's frame, so the backtrace shows the chain. */
__attribute__((noinline)) static void fault_deref(volatile uint64_t *p)
{
    *p = 0x1234;
    __asm__ volatile("" ::: "memory");
}

SELFTEST_OPTIN(fault_page)
{
    fault_deref((volatile uint64_t *)0xdead0000UL);
    return false;
}

SELFTEST_OPTIN(fault_invalid_opcode)
{
    __asm__ volatile("ud2");
    return false;
}

SELFTEST_OPTIN(fault_general_protection)
{
    fault_deref((volatile uint64_t *)0x8000000000000000UL);   /* non-canonical */
    return false;
}

static volatile unsigned recurse_limit = ~0u;

__attribute__((noinline)) static unsigned recurse(unsigned depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    if (depth == recurse_limit)
        return 0;
    return recurse(depth + 1) + pad[0];
}

/* Overflows the boot stack into its guard page: the #PF cannot be
 * delivered on that stack, so it becomes a #DF, taken on its IST stack. */
SELFTEST_OPTIN(fault_stack_overflow)
{
    return recurse(0) == 0;
}

SELFTEST_OPTIN(fault_panic)
{
    panic("deliberate panic from a self test (value %d)", 42);
}

/* The lock-order checks of debug builds (core/lockdep.c) catch the
 * inversion of issue 8: an address space's lock taken under ipc_lock. */
#include "arch/x86_64/cpu.h"
#include "core/ipc.h"
#include "core/spinlock.h"

SELFTEST_OPTIN(fault_lock_order)
{
    static spinlock_t space = SPINLOCK_CLASS(LOCK_SPACE);
    bool was = spin_lock_irqsave(&ipc_lock);
    spin_lock(&space);                      /* panics here */
    spin_unlock(&space);
    spin_unlock_irqrestore(&ipc_lock, was);
    return false;
}
