/*
 * AP trampoline: the code an application processor runs after its start-up
 * IPI.  smp.c copies [trampoline_start, trampoline_end) to TRAMPOLINE_PHYS
 * (page-aligned, below 1 MiB), fills the parameter block at its end, and
 * identity-maps that page in the kernel page tables while APs start.
 *
 * The AP starts in real mode with CS = TRAMPOLINE_PHYS >> 4, IP = 0.  It
 * loads the small GDT below, enters 32-bit protected mode, enables PAE and
 * PGE, loads CR3 with the kernel PML4 (must be below 4 GiB: CR3 is loaded
 * from 32-bit code), sets EFER (LME, and NXE/SCE as the BSP has them),
 * enables paging, which activates long mode, far-jumps to 64-bit code, and
 * jumps to ap_main(cpu id) in the higher half on its own kernel stack.
 * Everything here is position-dependent on TRAMPOLINE_PHYS (TR()).
 */
#include "arch/x86_64/asm.h"
#include "arch/x86_64/smp.h"

#define TR(sym) ((sym) - trampoline_start + TRAMPOLINE_PHYS)

    .section .rodata.trampoline, "a"
    .code16
    .global trampoline_start
trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (tr_gdtr - trampoline_start)
    movl %cr0, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl $0x08, $TR(tr_pm32)

    .code32
tr_pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $(CR4_PAE | CR4_PGE), %eax
    movl %eax, %cr4
    movl TR(tr_cr3), %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl TR(tr_efer), %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP), %eax
    movl %eax, %cr0
    ljmpl $0x18, $TR(tr_lm64)

    .code64
tr_lm64:
    movq TR(tr_stack), %rsp
    movl TR(tr_cpu), %edi
    movq TR(tr_entry), %rax
    xorl %ebp, %ebp
    pushq $0                   /* no return address: ap_main never returns */
    jmp *%rax

    .align 8
tr_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff   /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff   /* 0x10: data */
    .quad 0x00af9a000000ffff   /* 0x18: 64-bit code */
tr_gdt_end:
tr_gdtr:
    .word tr_gdt_end - tr_gdt - 1
    .long TR(tr_gdt)

    /* Parameter block, filled by smp.c for each AP in turn. */
    .align 8
    .global tr_cr3, tr_efer, tr_stack, tr_entry, tr_cpu
tr_cr3:   .long 0
tr_efer:  .long 0
tr_stack: .quad 0
tr_entry: .quad 0
tr_cpu:   .long 0
    .global trampoline_end
trampoline_end:
