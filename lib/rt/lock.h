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

void rt_lock(volatile int *lock);
void rt_unlock(volatile int *lock);

#endif
