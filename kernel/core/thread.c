/*
 * thread: creation, exit and the idle threads (see thread.h).
 *
 * A new thread's kernel stack is laid out so that its first switch-in
 * "returns" into thread_first_entry (switch.S), which finishes the switch
 * and enters user mode through the iret frame at the top of the stack.
 * An exiting thread marks itself T_DEAD and switches away for good; the
 * next thread on that CPU calls process_reap_thread, which frees the
 * stack it can no longer be running on.
 */
#include "core/thread.h"

#include "arch/x86_64/asm.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "base/string.h"
#include "core/boot.h"
#include "core/kmem.h"
#include "core/printk.h"
#include "core/process.h"
#include "core/sched.h"
#include "core/slab.h"
#include "kestrel/errors.h"
#include "kestrel/msg.h"

uint64_t thread_live;
static uint64_t next_tid = 1;

extern char thread_first_entry[], thread_first_entry_regs[];

static void fpu_init_state(uint8_t *fpu)
{
    memset(fpu, 0, 512);
    *(uint16_t *)fpu = 0x037f;                 /* FCW: all exceptions masked */
    *(uint32_t *)(fpu + 24) = 0x1f80;          /* MXCSR: all masked */
}

/* Builds the first-switch frame: callee-saved registers (r12 = ARG), the
 * return into thread_first_entry, and an iret frame to user mode. */
static void build_entry_frame(struct thread *t, uintptr_t entry, uintptr_t stack, uint64_t arg)
{
    uint64_t *sp = (uint64_t *)t->kstack_top;
    *--sp = GDT_UDATA;                  /* ss */
    *--sp = stack;                      /* rsp */
    *--sp = 0x202;                      /* rflags: IF */
    *--sp = GDT_UCODE;                  /* cs */
    *--sp = entry;                      /* rip */
    *--sp = (uintptr_t)thread_first_entry;
    *--sp = 0;                          /* rbp */
    *--sp = 0;                          /* rbx */
    *--sp = arg;                        /* r12 */
    *--sp = 0;                          /* r13 */
    *--sp = 0;                          /* r14 */
    *--sp = 0;                          /* r15 */
    t->ksp = (uintptr_t)sp;
}

/* The same with every user register given (thread_start; checked by the
 * caller): the general registers lie between the return address into
 * thread_first_entry_regs and the iret frame. */
static void build_regs_frame(struct thread *t, const struct k_regs *r)
{
    uint64_t *sp = (uint64_t *)t->kstack_top;
    *--sp = GDT_UDATA;                  /* ss */
    *--sp = r->rsp;
    *--sp = (r->rflags & 0xcd5) | 0x202;    /* CF PF AF ZF SF DF OF, and IF */
    *--sp = GDT_UCODE;                  /* cs */
    *--sp = r->rip;
    sp -= 15;
    memcpy(sp, &r->rax, 15 * sizeof(uint64_t));
    *--sp = (uintptr_t)thread_first_entry_regs;
    for (int i = 0; i < 6; i++)
        *--sp = 0;                      /* rbp rbx r12-r15 for arch_switch */
    t->ksp = (uintptr_t)sp;
    t->fs_base = r->fs_base;
}

struct thread *thread_create(struct process *proc, uintptr_t entry, uintptr_t stack,
                             uint64_t arg, uint8_t prio, uint8_t policy,
                             uint64_t affinity, int *err)
{
    return thread_create_regs(proc, entry, stack, arg, NULL, prio, policy, affinity, err);
}

struct thread *thread_create_regs(struct process *proc, uintptr_t entry, uintptr_t stack,
                                  uint64_t arg, const struct k_regs *regs, uint8_t prio,
                                  uint8_t policy, uint64_t affinity, int *err)
{
    struct thread *t = kzalloc(sizeof(*t));
    uint8_t *fpu = kmalloc(512);
    uintptr_t top = kstack_alloc(THREAD_KSTACK_PAGES);
    if (!t || !fpu || !top) {
        kfree(t);
        kfree(fpu);
        if (top)
            kstack_free(top, THREAD_KSTACK_PAGES);
        *err = -E_NOMEM;
        return NULL;
    }
    object_init(&t->obj, K_OBJ_THREAD);
    t->tid = __atomic_fetch_add(&next_tid, 1, __ATOMIC_RELAXED);
    t->state = T_NEW;
    t->base_prio = t->prio = prio;
    t->policy = policy;
    t->slice = RR_SLICE_TICKS;
    t->affinity = affinity;
    t->kstack_top = top;
    t->fpu = fpu;
    fpu_init_state(fpu);
    if (regs)
        build_regs_frame(t, regs);
    else
        build_entry_frame(t, entry, stack, arg);
    *err = process_add_thread(proc, t);
    if (*err) {
        kfree(fpu);
        kstack_free(top, THREAD_KSTACK_PAGES);
        kfree(t);
        return NULL;
    }
    __atomic_add_fetch(&thread_live, 1, __ATOMIC_RELAXED);
    return t;
}

/* A CPU allowed by the affinity mask: the creator's if allowed, else the
 * lowest allowed online CPU. */
static unsigned pick_cpu(uint64_t mask)
{
    unsigned me = this_cpu()->id;
    if (!mask || (mask & (1UL << me)))
        return me;
    for (unsigned c = 0; c < cpu_count; c++)
        if ((mask & (1UL << c)) && cpus[c].online)
            return c;
    return me;
}

/* The last C a new thread runs before its first entry to user mode
 * (switch.S): one killed before it ever ran (its handle could not be
 * installed, or its process died) exits instead. */
void thread_first_return(void);
void thread_first_return(void)
{
    struct thread *t = current_thread();
    if (thread_killed(t)) {
        irq_enable();
        thread_exit(-E_INTR);
    }
    if (__builtin_expect(!boot_init_entered, 0))
        boot_note_user_entry(t);
}

void thread_start(struct thread *t)
{
    t->cpu = pick_cpu(t->affinity);
    sched_wake(t);
}

/* The last reference is gone: only now does the thread let go of its
 * process, so that t->proc stays valid for as long as anyone can name the
 * thread (a handle to a dead thread of a dead process: thread_sched once
 * read freed memory through it). */
void thread_destroy(struct thread *t)
{
    struct process *p = t->proc;
    kfree(t->fpu);
    kfree(t);
    if (p)
        object_put(&p->obj);
    __atomic_sub_fetch(&thread_live, 1, __ATOMIC_RELAXED);
}

_Noreturn void thread_exit(long status)
{
    struct thread *t = current_thread();
    process_thread_exiting(t, status);
    /* process_thread_exiting returned with the process lock held and the
     * thread marked T_DEAD; the switch releases the lock. */
    panic("thread_exit: dead thread %lu ran again", t->tid);
}

void thread_init_idle(void)
{
    struct cpu *c = this_cpu();
    struct thread *t = kzalloc(sizeof(*t));
    if (!t)
        panic("sched: no memory for cpu %u's idle thread", c->id);
    object_init(&t->obj, K_OBJ_THREAD);
    t->state = T_RUNNING;
    t->cpu = c->id;
    t->on_cpu = true;
    t->policy = K_SCHED_FIFO;
    t->kstack_top = c->kstack_top;
    c->idle = t;
    c->current = t;
}
