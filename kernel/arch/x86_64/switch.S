/*
 * Thread switch and first entry to user mode.
 *
 * void arch_switch(uintptr_t *save_sp, uintptr_t new_sp)
 *   saves the callee-saved registers on the current stack, stores the
 *   stack pointer in *save_sp, loads new_sp and restores the other
 *   thread's registers.  Everything else a thread needs (FPU state, CR3,
 *   TSS rsp0, FS base) is switched in C (core/sched.c).
 *
 * thread_first_entry: where a new thread's first arch_switch returns to.
 *   Its stack holds an iret frame to user mode; r12 holds the argument
 *   for rdi.  All other general registers are cleared so nothing of the
 *   kernel leaks to user space.
 */
    .text
    .global arch_switch
arch_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* thread_first_entry_regs: the same for a thread started with every
 * register given (thread_start): they lie above the return address, in
 * struct k_regs order (rax ... r15). */
    .global thread_first_entry_regs
thread_first_entry_regs:
    call sched_finish_switch
    call thread_first_return
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
    cli
    swapgs
    iretq

    .global thread_first_entry
thread_first_entry:
    call sched_finish_switch
    call thread_first_return        /* a thread killed before it ran ends here */
    movq %r12, %rdi
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    cli
    swapgs
    iretq
