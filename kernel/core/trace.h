/*
 * trace: the last system calls of each CPU, for post-mortems.  Debug
 * builds only: with -DKESTREL_SHIP every function here is an empty inline
 * and syscall.S records nothing, so the shipped kernel pays nothing.
 *
 * syscall_entry calls trace_syscall (interrupts still off, on the thread's
 * kernel stack) with the saved registers; the entry goes into a ring of
 * TRACE_DEPTH entries of the CPU it runs on: a per-CPU sequence number,
 * the TSC, pid, tid, number and six arguments.  Nothing is recorded at
 * return, so a call that never came back is simply the newest entry.
 *
 * Who prints the rings:
 *   - panic() and the fatal kernel exception report (trap.c): every CPU's;
 *   - an NMI that is not the stop signal of a panic (the host's fuzz
 *     harness injects one through QEMU when a run hangs): each CPU prints
 *     its own registers, backtrace and ring between "NMI DUMP cpu N" and
 *     "NMI DUMP END cpu N", then carries on.  QEMU delivers the NMI to one
 *     CPU, which passes it on to the others.  The host kills QEMU after.
 */
#ifndef KESTREL_CORE_TRACE_H
#define KESTREL_CORE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#define TRACE_DEPTH 16

struct trap_frame;

/* The registers syscall.S saved, lowest address first. */
struct trace_sysregs {
    uint64_t rax, r9, r8, r10, rdx, rsi, rdi;
};

#ifndef KESTREL_SHIP

void trace_syscall(const struct trace_sysregs *r);

/* Every CPU's ring, oldest entry first (console lock taken by caller or not). */
void trace_print_all(void);

/* An NMI that is not a stop: dumps this CPU (REPORT prints the registers and
 * backtrace of TF) and its ring; returns true when it handled the NMI. */
bool trace_nmi(const struct trap_frame *tf, void (*report)(const struct trap_frame *));

#else

static inline void trace_print_all(void) {}
static inline bool trace_nmi(const struct trap_frame *tf,
                             void (*report)(const struct trap_frame *))
{
    (void)tf;
    (void)report;
    return false;
}

#endif

#endif
