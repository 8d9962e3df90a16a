/*
 * ipc: the lock and the helpers shared by every way a thread blocks:
 * message passing (core/channel.c), joining a thread or waiting for a
 * process, and sleeping.
 *
 * ipc_lock protects every blocked state: channel queues, client lists,
 * join and sleep queues, and the IPC fields of struct thread.  It is taken
 * with interrupts off.  A thread blocks by setting its state and calling
 * sched_block(&ipc_lock), which releases the lock only once the thread's
 * context is saved: whoever takes ipc_lock and finds a blocked thread may
 * run it at once, on any CPU.
 *
 * One lock for all of it is a deliberate first step (docs/decisions/0004):
 * priority inheritance along chains of servers crosses channels, and a
 * single lock makes that simple and safe.  It is never held across a copy
 * of more than K_SMALL_MSG bytes, nor while a handle table's or an address
 * space's lock is taken (the lock order: docs/decisions/0012).
 */
#ifndef KESTREL_CORE_IPC_H
#define KESTREL_CORE_IPC_H

#include <stdint.h>

#include "core/spinlock.h"
#include "core/thread.h"

struct process;

extern spinlock_t ipc_lock;

/* Wakes T from whatever it is blocked in, its call failing with -E_INTR
 * (process_kill).  Running threads are made to notice `killed`.  Lock held. */
void ipc_interrupt(struct thread *t);
/* T (current) blocks in the state it set, releasing the lock; a thread
 * killed on its way there does not block but gets -E_INTR (ipc_lock held). */
void ipc_block(struct thread *t);
/* T is exiting: clients it was serving get -E_DEAD when its process has
 * no other thread left to reply.  Lock held. */
void ipc_thread_gone(struct thread *t);
/* The requests P holds (received, not yet answered), as tid << 32 |
 * send_seq, at most MAX of them into IDS; how many it holds in all. */
unsigned ipc_serving(struct process *p, uint64_t *ids, unsigned max);

/* Re-derives T's effective priority (base, or the highest client it
 * serves) and passes a raise along the chain of servers T waits on.
 * Lock held. */
void ipc_update_prio(struct thread *t);

long ipc_sleep(uint64_t ns);
void ipc_sleep_cancel(struct thread *t);   /* lock held */
void ipc_timer_tick(void);          /* wakes expired sleepers; BSP tick */
/* Wait for a thread's / process's end: 0 with *status, or -E_BUSY
 * (someone else joins), -E_INVAL (oneself), -E_INTR (we are killed). */
long ipc_join_thread(struct thread *target, long *status);
long ipc_wait_process(struct process *p, long *status);

/* A pulse was queued on a channel bound to T (chan_interrupts): T is
 * interrupted.  ipc_lock held. */
void ipc_interrupt_pulse(struct thread *t);

#endif
