/*
 * lapic: the local APIC of each CPU (xAPIC, memory-mapped): end of
 * interrupt, inter-processor interrupts and the per-CPU timer.
 */
#ifndef KESTREL_ARCH_LAPIC_H
#define KESTREL_ARCH_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

/* On the BSP after paging_init: maps the LAPIC, calibrates its timer and
 * the TSC against the PIT. */
void lapic_init_bsp(void);
/* On every CPU (BSP included): enable, spurious vector, periodic timer. */
void lapic_init_cpu(void);
bool lapic_ready(void);
uint32_t lapic_id(void);
void lapic_eoi(void);

void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_ipi_all_but_self_nmi(void);
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t page);

/* Calibrated rates (per second) and busy-wait delays based on the TSC. */
extern uint64_t lapic_timer_hz;   /* LAPIC timer input ticks per second */
extern uint64_t tsc_hz;
void udelay(uint64_t us);
uint64_t time_ns(void);           /* since boot, from the TSC */

#define TIMER_HZ 100               /* periodic tick rate */

/* The kernel's per-tick work (scheduler slices, sleepers), core/sched.c;
 * called from the timer interrupt of every CPU. */
void kernel_tick(void);

#endif
