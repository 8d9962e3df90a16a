/*
 * percpu: each CPU's own state, reached through the GS base (which points
 * at the CPU's struct cpu; its first field points to itself).
 * cpus[0] is the bootstrap processor; APs fill the next slots in the order
 * ACPI lists them.  A CPU only writes its own struct, except `online`
 * during start-up and counters read by tests.
 */
#ifndef KESTREL_ARCH_PERCPU_H
#define KESTREL_ARCH_PERCPU_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_CPUS 64

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct cpu {
    struct cpu *self;             /* must stay first: read via %gs:0 */
    uint32_t id;                  /* index into cpus[] */
    uint32_t apic_id;
    volatile bool online;
    volatile uint64_t ticks;      /* LAPIC timer interrupts taken */
    volatile uint64_t ipis;       /* test IPIs taken */
    uint64_t gdt[8];
    struct tss tss;
    uintptr_t ist_stacks[3];      /* tops: double fault, NMI, machine check */
    uintptr_t kstack_top;         /* this CPU's boot/idle stack */
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned cpu_count;        /* CPUs found (ACPI), online or not */

static inline struct cpu *this_cpu(void)
{
    struct cpu *c;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(c));
    return c;
}

/* Points GS at cpus[id]; the first thing a CPU does in C. */
void percpu_setup(unsigned id);

unsigned cpus_online(void);

/* Allocates this CPU's IST stacks (#DF, NMI, #MC) into its TSS; defined in
 * core/main.c, called by every CPU after gdt_load_cpu. */
void cpu_setup_ist(void);

#endif
