/*
 * trace: per-CPU rings of the last system calls (see trace.h).
 *
 * Each CPU writes only its own ring, with interrupts off, so recording
 * needs no lock: a ring is an index and TRACE_DEPTH entries.  Readers
 * (panic, exception report, NMI dump) read other CPUs' rings while those
 * may still be writing: a torn entry is possible and harmless in a dump.
 * The thread and process are stored by number, not by pointer, so a dump
 * never follows a pointer to an object that has been freed since.
 *
 * The whole file is compiled out of the shipped kernel (KESTREL_SHIP).
 */
#include "core/trace.h"
#include "core/sched.h"

#ifndef KESTREL_SHIP

#include "arch/x86_64/asm.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/trap.h"
#include "core/printk.h"
#include "core/process.h"
#include "core/thread.h"
#include "kestrel/syscalls.h"

struct trace_entry {
    uint64_t seq;             /* this CPU's system call count at entry */
    uint64_t tsc;
    uint64_t pid, tid;
    uint64_t nr;
    uint64_t args[6];
};

struct trace_ring {
    uint64_t seq;
    struct trace_entry e[TRACE_DEPTH];
};

static struct trace_ring rings[MAX_CPUS];

#define TRACE_NAME(num, name, nargs) [num] = #name,
static const char *const names[KESTREL_SYSCALL_COUNT] = { KESTREL_SYSCALLS(TRACE_NAME) };
#undef TRACE_NAME
#define TRACE_NARGS(num, name, nargs) [num] = nargs,
static const unsigned char nargs_of[KESTREL_SYSCALL_COUNT] = { KESTREL_SYSCALLS(TRACE_NARGS) };
#undef TRACE_NARGS

void trace_syscall(const struct trace_sysregs *r)
{
    struct cpu *c = this_cpu();
    struct trace_ring *ring = &rings[c->id];
    struct trace_entry *e = &ring->e[ring->seq % TRACE_DEPTH];
    struct thread *t = c->current;
    e->seq = ++ring->seq;
    e->tsc = rdtsc();
    e->tid = t ? t->tid : 0;
    e->pid = t && t->proc ? t->proc->pid : 0;
    e->nr = r->rax;
    e->args[0] = r->rdi;
    e->args[1] = r->rsi;
    e->args[2] = r->rdx;
    e->args[3] = r->r10;
    e->args[4] = r->r8;
    e->args[5] = r->r9;
}

static void print_entry(const struct trace_entry *e)
{
    unsigned n = 6;
    kprintf("    #%lu tsc %lu pid %lu tid %lu ", e->seq, e->tsc, e->pid, e->tid);
    if (e->nr < KESTREL_SYSCALL_COUNT) {
        kprintf("%s(", names[e->nr]);
        n = nargs_of[e->nr];
    } else {
        kprintf("syscall %lu(", e->nr);
    }
    for (unsigned i = 0; i < n; i++)
        kprintf(i ? ", %#lx" : "%#lx", e->args[i]);
    kprintf(")\n");
}

static void print_cpu(unsigned cpu)
{
    const struct trace_ring *ring = &rings[cpu];
    uint64_t last = ring->seq;
    if (!last) {
        kprintf("  syscall trace of cpu %u: none\n", cpu);
        return;
    }
    uint64_t first = last > TRACE_DEPTH ? last - TRACE_DEPTH + 1 : 1;
    kprintf("  syscall trace of cpu %u (last %lu of %lu, oldest first):\n", cpu,
            last - first + 1, last);
    for (uint64_t s = first; s <= last; s++)
        print_entry(&ring->e[(s - 1) % TRACE_DEPTH]);
}

void trace_print_all(void)
{
    printk_lock();
    for (unsigned c = 0; c < cpu_count && c < MAX_CPUS; c++)
        print_cpu(c);
    printk_unlock();
}

/* Set for a CPU that another CPU asked to dump (by an NMI IPI). */
static volatile bool dump_asked[MAX_CPUS];

bool trace_nmi(const struct trap_frame *tf, void (*report)(const struct trap_frame *))
{
    struct cpu *c = this_cpu();
    struct thread *t = c->current;
    /* QEMU's inject-nmi reaches one CPU: that one passes the request on
     * to the others, which know it by their dump_asked flag. */
    if (!__atomic_exchange_n(&dump_asked[c->id], false, __ATOMIC_ACQ_REL)) {
        for (unsigned i = 0; i < cpu_count && i < MAX_CPUS; i++)
            if (i != c->id && cpus[i].online)
                __atomic_store_n(&dump_asked[i], true, __ATOMIC_RELEASE);
        if (lapic_ready())
            lapic_send_ipi_all_but_self_nmi();
    }
    /* The console lock keeps each CPU's dump in one piece; a CPU that was
     * interrupted while printing already holds it (printk_lock nests). */
    printk_lock();
    kprintf("\nNMI DUMP cpu %u: thread %lu of process %lu (%s)\n", c->id, t ? t->tid : 0,
            t && t->proc ? t->proc->pid : 0, t && t->proc ? t->proc->name : "-");
    report(tf);
    print_cpu(c->id);
    sched_dump_queue(c->id);
    kprintf("NMI DUMP END cpu %u\n", c->id);
    printk_unlock();
    return true;
}

#endif
