/*
 * smp: finding the CPUs (ACPI MADT) and starting the application processors
 * with INIT-SIPI-SIPI through a real-mode trampoline at TRAMPOLINE_PHYS;
 * and running a function on another CPU (smp_call*).
 */
#ifndef KESTREL_ARCH_SMP_H
#define KESTREL_ARCH_SMP_H

#define TRAMPOLINE_PHYS 0x8000

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

/* Starts every enabled CPU that ACPI lists; returns when each is online or
 * has been reported as failing to start. */
void smp_start_aps(void);

/* Runs FN(ARG) on online CPU number CPU (index into cpus[]) in its
 * interrupt context (interrupts off).  The async form returns at once
 * (false if CPU is not online or still busy with an earlier call); wait
 * returns false if the call has not finished within TIMEOUT_NS.  One
 * caller at a time per target CPU (others wait for the slot, running calls
 * made to their own CPU meanwhile).  smp_call = async + wait (5 s); a
 * caller must always follow async with wait. */
typedef void (*smp_call_fn)(void *arg);
bool smp_call_async(unsigned cpu, smp_call_fn fn, void *arg);
bool smp_call_wait(unsigned cpu, uint64_t timeout_ns);
bool smp_call(unsigned cpu, smp_call_fn fn, void *arg);
#endif

#endif
