/*
 * lock: see lock.h.
 */
#include "rt/lock.h"

#include "rt/syscall.h"

#define SPINS 64
#define NAP_NS (1000L * 1000)

/* Out of line, so that the free lock's path saves no registers. */
__attribute__((noinline, cold)) static void lock_wait(volatile int *lock)
{
    for (unsigned tries = 0; __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE); tries++) {
        if (tries < SPINS)
            k_thread_yield();
        else
            k_thread_sleep(NAP_NS);
    }
}

void rt_lock(volatile int *lock)
{
    if (__builtin_expect(__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE), 0))
        lock_wait(lock);
}

void rt_unlock(volatile int *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

bool rt_lock_within(volatile int *lock, long ns)
{
    if (!__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
        return true;
    long end = k_clock_get() + ns;
    for (unsigned tries = 0; __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE); tries++) {
        if (k_clock_get() >= end)
            return false;
        if (tries < SPINS)
            k_thread_yield();
        else
            k_thread_sleep(NAP_NS);
    }
    return true;
}
