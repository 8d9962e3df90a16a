/*
 * Interrupt and exception entry.  One 8-byte stub per vector pushes a
 * zero error code (where the CPU pushes none) and calls isr_common, which
 * derives the vector number from the call's return address, saves the
 * general registers as a struct trap_frame (trap.h), swaps GS when coming
 * from user mode and calls trap_dispatch(frame).
 */
#include "arch/x86_64/asm.h"


    .text
    .align 8
    .global isr_stub_base
isr_stub_base:
    /* 8 bytes per vector: a zero error code where the CPU pushes none (or
     * a 2-byte nop), then a call whose return address tells isr_common the
     * vector: (return address - isr_stub_base - 7) / 8. */
    .set vec, 0
    .rept 256
    .if (vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17 || vec == 21 || vec == 29 || vec == 30)
    .byte 0x66, 0x90
    .else
    pushq $0
    .endif
    call isr_common
    .byte 0x90
    .set vec, vec + 1
    .endr

isr_common:
    /* (%rsp) is the return address of the stub's call: turn it into the
     * vector number, where the stubs used to push it. */
    subq $(isr_stub_base + 7), (%rsp)
    shrq $3, (%rsp)
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    testb $3, 18*8(%rsp)          /* CS of the interrupted context */
    jz 1f
    swapgs
1:  movq %rsp, %rdi
    cld
    call trap_dispatch
    testb $3, 18*8(%rsp)
    jz 2f
    swapgs
2:  popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/* int probe_read_u8(const volatile void *addr, uint8_t *out) */
    .global probe_read_u8
probe_read_u8:
    xorl %eax, %eax
probe_read_insn:
    movb (%rdi), %cl
    movb %cl, (%rsi)
    ret
    .global probe_write_u8
/* int probe_write_u8(volatile void *addr, uint8_t v) */
probe_write_u8:
    xorl %eax, %eax
probe_write_insn:
    movb %sil, (%rdi)
    ret
probe_fault:
    movl $-1, %eax
    ret

    .section .extable, "a"
    .quad probe_read_insn, probe_fault
    .quad probe_write_insn, probe_fault
