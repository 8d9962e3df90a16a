/*
 * personality: redirection of a process's system calls to code of its
 * own (abi/kestrel/personality.h).  The mechanism costs native processes
 * nothing: a redirected address space maps another system call entry
 * (arch paging.h K_ENTRY_VA), which calls syscall_redirect first.
 */
#include "core/printk.h"
#include "core/process.h"
#include "core/sched.h"
#include "core/thread.h"
#include "core/vm.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/trap.h"
#include "kestrel/errors.h"
#include "kestrel/exception.h"
#include "kestrel/personality.h"
#include "kestrel/startup.h"

/* What arch syscall.S pushed on the kernel stack, lowest address first. */
struct sysframe {
    uint64_t rax, r9, r8, r10, rdx, rsi, rdi, rbp, r11, rcx, rsp;
};

long syscall_redirect(struct sysframe *f);
long sys_personality_set(long entry, long lo, long hi);
long sys_personality_stack(long top);

/* Interrupts off on entry, maybe on at return.  0: serve the call
 * natively.  1: F now returns to the personality (or the thread was
 * killed and exits on its way out). */
long syscall_redirect(struct sysframe *f)
{
    struct thread *t = current_thread();
    struct process *p = t->proc;
    uint64_t entry = __atomic_load_n(&p->pers_entry, __ATOMIC_ACQUIRE);
    uint64_t lo = p->pers_lo, hi = p->pers_hi;
    if (!entry || f->rcx - lo < hi - lo)
        return 0;
    struct k_redirect r = { f->rcx, f->r11, f->rsp, K_REDIRECT_CALL };
    if (__builtin_expect(t->killed & T_DIVERT, 0)) {
        thread_unmark(t, T_DIVERT);    /* told now: the personality looks */
        r.kind = K_REDIRECT_PENDING;
    }
    uint64_t top = t->pers_stack ? t->pers_stack : f->rsp - 128;
    uint64_t at = (top - sizeof(r)) & ~15UL;
    irq_enable();
    if (top < sizeof(r) || copy_to_user((void *)at, &r, sizeof(r))) {
        kprintf("personality: process %lu thread %lu: no room for its redirect frame at %#lx; "
                "killed\n", p->pid, t->tid, at);
        process_kill(p, K_EXIT_FAULT(14));
        this_cpu()->need_resched = 1;     /* on the way out: sched_user_return exits */
        return 1;
    }
    f->rcx = entry;
    f->rsp = at;
    return 1;
}

/* On the way back to user mode from an interrupt, T interrupted
 * (chan_interrupts): if it runs the program (outside the personality's
 * code), it goes to the personality's entry instead, every register kept,
 * with a K_REDIRECT_INTERRUPT frame.  Interrupts off; on and off again
 * around the frame's copy (it may fault in). */
void personality_interrupt(struct trap_frame *tf)
{
    struct thread *t = current_thread();
    struct process *p = t->proc;
    uint64_t entry = __atomic_load_n(&p->pers_entry, __ATOMIC_ACQUIRE);
    uint64_t lo = p->pers_lo, hi = p->pers_hi;
    if (!entry || tf->rip - lo < hi - lo)
        return;                          /* native, or in its own code: it is told later */
    struct k_redirect r = { tf->rip, tf->rflags, tf->rsp, K_REDIRECT_INTERRUPT };
    uint64_t top = t->pers_stack ? t->pers_stack : tf->rsp - 128;
    uint64_t at = (top - sizeof(r)) & ~15UL;
    irq_enable();
    bool ok = top >= sizeof(r) && !copy_to_user((void *)at, &r, sizeof(r));
    irq_disable();
    if (!ok) {
        kprintf("personality: process %lu thread %lu: no room for its interrupt frame at %#lx; "
                "killed\n", p->pid, t->tid, at);
        process_kill(p, K_EXIT_FAULT(14));
        sched_user_return();             /* exits */
        return;
    }
    thread_unmark(t, T_DIVERT);
    tf->rip = entry;
    tf->rsp = at;
}

long sys_personality_set(long entry, long lo, long hi)
{
    struct process *p = current_thread()->proc;
    if (entry == 0) {
        __atomic_store_n(&p->pers_entry, 0, __ATOMIC_RELEASE);
        return vm_set_entry(&p->vm, false);
    }
    uint64_t e = (uint64_t)entry, l = (uint64_t)lo, h = (uint64_t)hi;
    if (l >= h || h > K_USER_TOP || e < l || e >= h)
        return -E_INVAL;
    p->pers_lo = l;
    p->pers_hi = h;
    __atomic_store_n(&p->pers_entry, e, __ATOMIC_RELEASE);
    int err = vm_set_entry(&p->vm, true);
    if (err)
        __atomic_store_n(&p->pers_entry, 0, __ATOMIC_RELEASE);
    return err;
}

long sys_personality_stack(long top)
{
    if ((uint64_t)top > K_USER_TOP)
        return -E_INVAL;
    current_thread()->pers_stack = (uint64_t)top;
    return 0;
}
