/*
 * lx_entry: where the kernel sends every system call the Linux program
 * makes, and the program itself when it was interrupted for a signal
 * (abi/kestrel/personality.h).  rsp points at the kernel's struct
 * k_redirect on the personality stack.  The registers are saved as a
 * struct lx_regs, the FPU/SSE state with fxsave (the personality's C code
 * may use SSE registers; a Linux system call keeps them, and a signal
 * handler's frame carries them), the call is served in C (lx_syscall,
 * posix/linux.c), and the program goes on at the frame's rip with rax =
 * the result and every other register as saved (rcx and r11 too, which
 * matters when it was interrupted rather than calling).
 */
/* The struct lx_regs off the stack, rax first (the reverse of lx_entry's pushes). */
.macro POP_REGS
    popq %rax
    popq %rbx
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rbp
    popq %r8
    popq %r9
    popq %r10
    popq %r11
    popq %r12
    popq %r13
    popq %r14
    popq %r15
.endm

    .text
    .global lx_entry, lx_start_program, lx_resume
lx_entry:
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rbp
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rbx
    pushq %rax
    movq %rsp, %rbx                 /* struct lx_regs * (rax first); callee-saved */
    subq $512, %rsp
    andq $-64, %rsp
    fxsave64 (%rsp)
    movq %rbx, %rdi
    movq %rsp, %rsi                 /* the fxsave area */
    call lx_syscall
    fxrstor64 (%rsp)
    movq %rbx, %rsp
    movq %rax, 0(%rsp)
lx_return:
    /* rsp: the struct lx_regs, then the k_redirect frame (rip, rflags, rsp,
     * kind).  After a call rcx and r11 are free (the `syscall` instruction
     * clobbers them); after an interruption every register is the
     * program's, so rip goes on the program's stack below its red zone
     * (as a signal frame would) and `ret $128` takes it back off. */
    cmpq $2, 15*8+24(%rsp)          /* K_REDIRECT_INTERRUPT */
    je 1f
    POP_REGS
    movq 8(%rsp), %r11
    pushq %r11
    popfq
    movq 0(%rsp), %rcx
    movq 16(%rsp), %rsp
    jmp *%rcx
1:  movq 15*8+16(%rsp), %rax        /* the program's rsp */
    movq 15*8(%rsp), %rcx           /* its rip */
    movq %rcx, -136(%rax)
    POP_REGS
    pushq 8(%rsp)                   /* rflags, with no register to spare */
    popfq
    movq 16(%rsp), %rsp
    leaq -136(%rsp), %rsp           /* lea: the flags stay */
    ret $128

/* lx_start_program(entry, stack): the program's first instruction, with
 * the stack the ELF ABI describes and every other register 0 (rdx = 0:
 * no function for atexit). */
lx_start_program:
    movq %rsi, %rsp
    movq %rdi, %rcx
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    jmp *%rcx

/* lx_resume(block): back to the program as from a call, with the struct
 * lx_regs and the k_redirect frame after it at BLOCK (a forked child's
 * first return: rax = 0). */
lx_resume:
    movq %rdi, %rsp
    jmp lx_return
