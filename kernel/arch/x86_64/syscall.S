/*
 * System call entry (the `syscall` instruction).
 *
 * On entry: rax = number, rdi rsi rdx r10 r8 r9 = arguments, rcx = user
 * rip, r11 = user rflags, rsp = user stack, interrupts off (SFMASK).
 * We switch to the thread's kernel stack (struct cpu .kstack), save the
 * three user registers sysret needs, re-enable interrupts and call
 * sys_<name> through the table generated from abi/kestrel/syscalls.h.
 * Before returning, with interrupts off, pending work (a reschedule, a
 * kill) is done in sched_user_return.  Like Linux, a system call keeps
 * every register but rax, rcx and r11: the argument registers are saved
 * on entry and restored, so no kernel value reaches user space either.
 *
 * Debug builds (not -DKESTREL_SHIP) record each call in a per-CPU ring
 * first (core/trace.h), printed by panics and NMI dumps.
 *
 * sysret to a non-canonical rcx would fault in ring 0 with the user
 * stack; it cannot happen: rcx is the address after a `syscall`
 * instruction, and the last user page (below K_USER_TOP) is never mapped.
 */
#include "arch/x86_64/percpu.h"
#include "kestrel/syscalls.h"

#define E_NOSYS 7

/*
 * The entry runs through an alias: LSTAR is K_ENTRY_VA (paging.h), a page
 * that each address space maps for itself, so a space can have its calls
 * redirected to its personality (Linux processes) and the others pay
 * nothing for it.  Native spaces map this section's page as it is; a
 * redirected space maps a copy whose first instruction jumps to
 * syscall_entry_redirect.  Code here runs at the alias address: every
 * reference outside this page is absolute (movabs + indirect call, or the
 * table's absolute address).  This section is the first of .text and
 * fits in its first page (kernel.ld checks both).
 */
/* On the thread's kernel stack, the frame both entries build (core/
 * personality.c's struct sysframe reads it): user rsp, rcx (rip), r11
 * (rflags), rbp, the six argument registers, rax on top (which also keeps
 * the stack 16-byte aligned for the call). */
.macro ENTER_FRAME
    swapgs
    movq %rsp, %gs:CPU_USER_RSP
    movq %gs:CPU_KSTACK, %rsp
    pushq %gs:CPU_USER_RSP
    pushq %rcx
    pushq %r11
    pushq %rbp
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %r10
    pushq %r8
    pushq %r9
    pushq %rax
    xorl %ebp, %ebp                 /* end of the backtrace chain */
.endm

/* Debug builds: this CPU's ring of recent calls (core/trace.h), still
 * with interrupts off; the saved registers are the argument. */
.macro TRACE_CALL
    movq %rsp, %rdi
    movabsq $trace_syscall, %rax
    call *%rax
.endm

    .section .text.sysentry, "ax"
    .global syscall_entry
    .global syscall_entry_redirect
    .global syscall_entry_end
    .align 4096
syscall_entry:
    ENTER_FRAME
#ifndef KESTREL_SHIP
    TRACE_CALL
    jmp reload_dispatch
#endif
dispatch:
    sti
    movq %r10, %rcx
    cmpq $KESTREL_SYSCALL_COUNT, %rax
    jae bad_number
    callq *syscall_table(, %rax, 8)
syscall_return:
    cli
    cmpq $0, %gs:CPU_RESCHED
    jne pending_work
    addq $8, %rsp
    popq %r9
    popq %r8
    popq %r10
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rbp
    popq %r11
    popq %rcx
    popq %rsp
    swapgs
    sysretq
pending_work:
    pushq %rax
    pushq %rax                      /* keep the stack 16-byte aligned */
    movabsq $sched_user_return, %rax
    call *%rax
    popq %rax
    popq %rax
    jmp syscall_return
bad_number:
    movq $-E_NOSYS, %rax
    jmp syscall_return
/* The number and arguments again from the frame, after a C call. */
reload_dispatch:
    movq 0(%rsp), %rax
    movq 8(%rsp), %r9
    movq 16(%rsp), %r8
    movq 24(%rsp), %r10
    movq 32(%rsp), %rdx
    movq 40(%rsp), %rsi
    movq 48(%rsp), %rdi
    jmp dispatch

/* A redirected space's calls (core/personality.c): the same frame, then
 * syscall_redirect decides.  0: a call from the personality's own code,
 * served natively.  Otherwise the frame now returns to the personality's
 * entry on its stack; rax (the number) and every other register but rcx
 * and r11 go back unchanged. */
syscall_entry_redirect:
    ENTER_FRAME
#ifndef KESTREL_SHIP
    TRACE_CALL
#endif
    movq %rsp, %rdi
    movabsq $syscall_redirect, %rax
    call *%rax
    testq %rax, %rax
    movq 0(%rsp), %rax
    jnz syscall_return
    jmp reload_dispatch
syscall_entry_end:
