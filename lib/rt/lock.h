/*
 * lock: a lock between the threads of one process (an int, 0 = free).
 *
 * rt_lock spins a little with yields, then sleeps a millisecond between
 * tries: a yield lets only threads of equal or higher priority run, so a
 * holder of lower priority on the same CPU would never get to release the
 * lock if the waiter only yielded.  There is no priority inheritance:
 * hold it only for short work that does not block.
 */
#ifndef KESTREL_RT_LOCK_H
#define KESTREL_RT_LOCK_H

#include <stdbool.h>

void rt_lock(volatile int *lock);
void rt_unlock(volatile int *lock);
/* rt_lock, giving up after NS nanoseconds (false): for a thread that
 * must not wait behind a holder that may not run (a lower-priority one
 * starved on its CPU: user locks have no priority inheritance). */
bool rt_lock_within(volatile int *lock, long ns);

#endif
