/*
 * trap: the IDT, exception reports, interrupt dispatch.
 *
 * Every vector enters through isr.S, which saves all general registers into
 * a struct trap_frame on the current stack (an IST stack for #DF, NMI, #MC)
 * and calls trap_dispatch.  Exceptions in kernel mode are kernel bugs unless
 * the faulting instruction has an exception-table entry (probe_* below):
 * they print a full report and stop the machine.
 */
#ifndef KESTREL_ARCH_TRAP_H
#define KESTREL_ARCH_TRAP_H

#include <stdbool.h>
#include <stdint.h>

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* core/personality.c: an interrupted thread that runs its program goes to
 * its personality's entry on this way back to user mode. */
void personality_interrupt(struct trap_frame *tf);

enum {
    VEC_PAGE_FAULT = 14,
    VEC_IRQ_BASE = 32,        /* IOAPIC-routed interrupts start here */
    VEC_MSI_BASE = 0x40,      /* message-signalled interrupts: VEC_MSI_COUNT of them */
    VEC_MSI_COUNT = 0xa0,
    VEC_IPI_TEST = 0xF0,
    VEC_IPI_STOP = 0xF1,
    VEC_IPI_RESCHED = 0xF3,
    VEC_IPI_CALL = 0xF2,      /* smp_call: run a function on another CPU */
    VEC_TIMER = 0xF8,
    VEC_SPURIOUS = 0xFF,
};

typedef void (*irq_handler_fn)(struct trap_frame *tf);

void idt_init(void);          /* once, on the BSP */
void idt_load(void);          /* on every CPU */
void trap_set_handler(unsigned vector, irq_handler_fn fn);

void trap_backtrace(uintptr_t rbp);
/* Called from isr.S for every vector. */
void trap_dispatch(struct trap_frame *tf);
void trap_stop_other_cpus(void);
_Noreturn void trap_halt_forever(void);

/* Set from the command line (panic=exit): a panic ends QEMU with a failure
 * status instead of halting, so test runs do not wait for their time limit. */
extern bool trap_exit_on_panic;

/* Probes: access memory that may fault; return 0 on success, -1 when the
 * access faulted (the fault is absorbed through the exception table). */
int probe_read_u8(const volatile void *addr, uint8_t *out);
int probe_write_u8(volatile void *addr, uint8_t v);

/* Page faults absorbed by the exception table since boot (for tests). */
extern volatile uint64_t trap_fixups;

#endif
