/*
 * gdt: per-CPU descriptor tables.  Each CPU has its own GDT because the TSS
 * descriptor (and the TSS, which holds the IST stacks and later the ring-0
 * stack for system calls) is per CPU.  Layout, fixed by syscall/sysret:
 *   0x08 kernel code, 0x10 kernel data, 0x18 unused (32-bit user code),
 *   0x20 user data, 0x28 user code (64-bit), 0x30 TSS (two slots).
 */
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/paging.h"

#include "arch/x86_64/asm.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/percpu.h"

/* Page-aligned: paging.c maps these pages again as the TSS alias. */
struct cpu cpus[MAX_CPUS] __attribute__((aligned(4096)));
unsigned cpu_count = 1;

void percpu_setup(unsigned id)
{
    struct cpu *c = &cpus[id];
    c->self = c;
    c->id = id;
    wrmsr(MSR_GS_BASE, (uintptr_t)c);
    wrmsr(MSR_KERNEL_GS, 0);
}

unsigned cpus_online(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < cpu_count; i++)
        n += cpus[i].online;
    return n;
}

void gdt_load_cpu(void)
{
    struct cpu *c = this_cpu();
    /* Through its alias (paging.h), the TSS is followed by the address
     * space's I/O bitmap; before paging_init, by nothing (every port
     * denied).  The BSP loads its tables again once the alias exists. */
    uintptr_t tss = paging_tss_linear(&c->tss);
    uint64_t limit = sizeof(struct tss) - 1;
    c->tss.iomap_base = sizeof(struct tss);
    if (tss != (uintptr_t)&c->tss) {
        c->tss.iomap_base = (uint16_t)(IOBM_VA - tss);
        limit = c->tss.iomap_base + IOBM_BYTES;     /* and the closing byte */
    }

    c->gdt[0] = 0;
    c->gdt[1] = 0x00af9a000000ffffUL;   /* kernel code, 64-bit */
    c->gdt[2] = 0x00cf92000000ffffUL;   /* kernel data */
    c->gdt[3] = 0;
    c->gdt[4] = 0x00cff2000000ffffUL;   /* user data */
    c->gdt[5] = 0x00affa000000ffffUL;   /* user code, 64-bit */
    c->gdt[6] = (limit & 0xffff) | (tss & 0xffffff) << 16 | 0x89UL << 40 |
                ((limit >> 16) & 0xf) << 48 | ((tss >> 24) & 0xff) << 56;
    c->gdt[7] = tss >> 32;

    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr = {
        sizeof(c->gdt) - 1, (uintptr_t)c->gdt
    };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw %w2, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "ltr %w3\n\t"
        :: "m"(gdtr), "i"(GDT_KCODE), "r"(GDT_KDATA), "r"(GDT_TSS)
        : "rax", "memory");
}
