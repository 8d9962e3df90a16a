/*
 * percpu: each CPU's own state, reached through the GS base (which points
 * at the CPU's struct cpu; its first field points to itself).
 * cpus[0] is the bootstrap processor; APs fill the next slots in the order
 * ACPI lists them.  A CPU only writes its own struct, except `online`
 * during start-up and counters read by tests.
 */
#ifndef KESTREL_ARCH_PERCPU_H
#define KESTREL_ARCH_PERCPU_H

#define MAX_CPUS 64

/* Offsets used by assembly (syscall.S); checked by _Static_assert. */
#define CPU_USER_RSP   8
#define CPU_KSTACK     16
#define CPU_RESCHED    24

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct thread;

struct cpu {
    struct cpu *self;             /* must stay first: read via %gs:0 */
    uintptr_t user_rsp;           /* syscall entry scratch */
    uintptr_t kstack;             /* current thread's kernel stack top */
    volatile uint64_t need_resched;   /* set: schedule before returning to user */
    struct thread *current;
    struct thread *idle;
    uint64_t cr3;                 /* page tables loaded (0: not yet known) */
    uint64_t fs_base;             /* FS base loaded */
    uint32_t id;                  /* index into cpus[] */
    uint32_t apic_id;
    volatile bool online;
    volatile uint64_t ticks;      /* LAPIC timer interrupts taken */
    volatile uint64_t ipis;       /* test IPIs taken */
    uint64_t gdt[8];
    struct tss tss;
    uintptr_t ist_stacks[3];      /* tops: double fault, NMI, machine check */
    uintptr_t kstack_top;         /* this CPU's boot/idle stack */
    uint32_t locks_held;          /* lock classes held (debug builds, core/lockdep.c) */
};

_Static_assert(__builtin_offsetof(struct cpu, user_rsp) == CPU_USER_RSP, "asm offset");
_Static_assert(__builtin_offsetof(struct cpu, kstack) == CPU_KSTACK, "asm offset");
_Static_assert(__builtin_offsetof(struct cpu, need_resched) == CPU_RESCHED, "asm offset");

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

/* Per-CPU kernel setup after the CPU tables (FPU, syscall MSRs, run queue,
 * idle thread); marks the CPU online and becomes its idle loop.
 * Defined in core/main.c. */
_Noreturn void cpu_enter_scheduler(void);
void cpu_prepare_scheduler(void);

#endif /* __ASSEMBLER__ */

#endif
