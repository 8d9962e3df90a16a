/*
 * Multiboot v1 entry: the boot loader (QEMU -kernel, GRUB) enters _start32 in
 * 32-bit protected mode, paging off, EAX = magic, EBX = physical address of the
 * Multiboot information.  We build a minimal set of page tables (the first
 * 1 GiB mapped both at 0 and at KERNEL_VMA, 2 MiB pages), enable long mode and
 * NX, and jump to kernel_entry64 in the higher half, which calls kmain().
 * The kernel replaces these tables with its own in paging_init().
 */
#include "arch/x86_64/asm.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003   /* page-aligned modules, memory map, address fields */

    .section .multiboot, "a"
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header            /* header_addr */
    .long __boot_start         /* load_addr */
    .long __load_end_phys      /* load_end_addr */
    .long __bss_end_phys       /* bss_end_addr */
    .long _start32             /* entry_addr */

    .section .boot.text, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    movl %eax, %edi
    movl %ebx, %esi
    movl $(boot_stack_top - KERNEL_VMA), %esp

    /* Long mode available? */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode
    movl %edx, %ebp            /* keep feature bits: bit 20 = NX */

    /* PD: 512 x 2 MiB pages covering physical 0..1 GiB */
    movl $(boot_pd - KERNEL_VMA), %ebx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax            /* present, writable, 2 MiB */
    movl %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    movl $(boot_pd - KERNEL_VMA + 3), %eax
    movl %eax, (boot_pdpt_low - KERNEL_VMA)
    movl %eax, (boot_pdpt_high - KERNEL_VMA + 510 * 8)
    movl $(boot_pdpt_low - KERNEL_VMA + 3), %eax
    movl %eax, (boot_pml4 - KERNEL_VMA)
    movl $(boot_pdpt_high - KERNEL_VMA + 3), %eax
    movl %eax, (boot_pml4 - KERNEL_VMA + 511 * 8)

    movl %cr4, %eax
    orl $(CR4_PAE), %eax
    movl %eax, %cr4
    movl $(boot_pml4 - KERNEL_VMA), %eax
    movl %eax, %cr3

    movl $MSR_EFER, %ecx
    rdmsr
    orl $(EFER_LME | EFER_SCE), %eax
    testl $(1 << 20), %ebp
    jz 2f
    orl $(EFER_NXE), %eax
2:  wrmsr

    movl %cr0, %eax
    orl $(CR0_PG | CR0_PE | CR0_WP), %eax
    movl %eax, %cr0

    lgdt boot_gdtr
    ljmp $0x08, $start64_low

no_long_mode:
    /* Say so on COM1 and stop: this CPU cannot run Kestrel. */
    movl $no_lm_msg, %esi
3:  lodsb
    testb %al, %al
    jz 4f
    movw $0x3f8, %dx
    outb %al, %dx
    jmp 3b
4:  hlt
    jmp 4b

    .code64
start64_low:
    movabs $kernel_entry64, %rax
    jmp *%rax

    .section .boot.data, "a"
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff   /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff   /* 0x10: data */
boot_gdt_end:
boot_gdtr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_lm_msg:
    .asciz "Kestrel: this CPU does not support 64-bit long mode; halting.\r\n"

    .text
    .code64
    .global kernel_entry64
kernel_entry64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabs $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movl %edi, %edi            /* zero-extend magic and info address */
    movl %esi, %esi
    call kmain
5:  cli
    hlt
    jmp 5b

    .bss
    .align 4096
    .global boot_pml4, boot_pdpt_low
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096
    .global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip 4096            /* guard page: unmapped by paging_init */
    .skip 16384
boot_stack_top:
