/*
 * sched: per-CPU run queues with 256 priorities found through a bitmap,
 * FIFO and round-robin policies, preemption by the LAPIC timer.
 * Higher number = higher priority; 0 is the idle thread.
 *
 * Locking: each run queue has a spinlock, taken with interrupts off.  The
 * IPC code holds ipc_lock around calls that wake or switch.
 */
#ifndef KESTREL_CORE_SCHED_H
#define KESTREL_CORE_SCHED_H

#include <stdbool.h>

#include "core/spinlock.h"
#include "core/thread.h"

#define RR_SLICE_TICKS 4

void sched_init_cpu(void);
void sched_dump_queue(unsigned cpu);   /* NMI dumps */
/* Makes T runnable on its CPU; preempts that CPU if T has a higher priority. */
void sched_wake(struct thread *t);
/* Gives up the CPU.  A current thread still RUNNING is queued again
 * (yield, preemption); a blocked one is not.  HELD, if not NULL, is a lock
 * the caller holds (with interrupts off) that protects the state it
 * blocked in: it is released only after the switch has saved the thread's
 * context, so a waker that takes HELD never finds the thread still on a CPU. */
void schedule(void);
void sched_block(spinlock_t *held);
/* Switches straight from the current thread to NEXT (which was blocked) on
 * this CPU, without going through the run queue; NEXT moves to this CPU.
 * The current thread is queued again if it is still RUNNING.  HELD as for
 * sched_block. */
void sched_switch_to(struct thread *next, spinlock_t *held);
/* The same for a message pass: NEXT runs on the rest of the current
 * thread's round-robin slice, so a client and its server together get one
 * share of the CPU, as one thread would (seed 001's fairness test). */
void sched_pass_to(struct thread *next, spinlock_t *held);
/* Changes T's effective priority, moving it within its run queue. */
void sched_set_prio(struct thread *t, uint8_t prio);
/* Sets T's CPU mask, moving T if it runs or waits elsewhere. */
int sched_set_affinity(struct thread *t, uint64_t mask);
/* Makes CPU reschedule (IPI when remote). */
void sched_kick(unsigned cpu);
void sched_tick(void);                     /* timer interrupt, this CPU */
/* May the current thread continue to user mode? Called with interrupts
 * off on every return to user mode. */
void sched_user_return(void);
_Noreturn void sched_idle_loop(void);

static inline struct thread *current_thread(void);

#include "arch/x86_64/percpu.h"
static inline struct thread *current_thread(void) { return this_cpu()->current; }

#endif
