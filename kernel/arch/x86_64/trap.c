/*
 * trap: IDT setup, exception reports and interrupt dispatch (see trap.h).
 *
 * Context: trap_dispatch runs with interrupts off (all gates are interrupt
 * gates) on the interrupted context's stack, or on an IST stack for #DF,
 * NMI and #MC, so a kernel stack overflow still gets a report.
 */
#include "arch/x86_64/trap.h"

#include "arch/x86_64/asm.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/qemu.h"
#include "core/ksyms.h"
#include "core/printk.h"
#include "core/process.h"
#include "core/sched.h"
#include "core/trace.h"
#include "core/vm.h"
#include "kestrel/exception.h"
#include "kestrel/startup.h"

struct idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
} __attribute__((packed));

struct extable_entry {
    uintptr_t insn;
    uintptr_t fixup;
};

extern char isr_stub_base[];
extern const struct extable_entry __extable_start[], __extable_end[];

static struct idt_gate idt[256];
static irq_handler_fn handlers[256];
bool trap_exit_on_panic;
volatile uint64_t trap_fixups;
static volatile bool stopping;

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
    "#OF overflow", "#BR bound range", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "reserved 15",
    "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
    "#VE virtualization", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27",
    "#HV hypervisor injection", "#VC VMM communication", "#SX security", "reserved 31",
};

static void set_gate(unsigned vec, uintptr_t fn, unsigned ist)
{
    idt[vec] = (struct idt_gate){
        .off_lo = fn & 0xffff,
        .sel = GDT_KCODE,
        .ist = ist,
        .type = 0x8E,             /* present, DPL 0, 64-bit interrupt gate */
        .off_mid = (fn >> 16) & 0xffff,
        .off_hi = fn >> 32,
    };
}

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, (uintptr_t)isr_stub_base + 8 * v, 0);
    set_gate(8, (uintptr_t)isr_stub_base + 8 * 8, 1);
    set_gate(2, (uintptr_t)isr_stub_base + 8 * 2, 2);
    set_gate(18, (uintptr_t)isr_stub_base + 8 * 18, 3);
}

void idt_load(void)
{
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
        sizeof(idt) - 1, (uintptr_t)idt
    };
    __asm__ volatile("lidt %0" :: "m"(idtr));
}

void trap_set_handler(unsigned vector, irq_handler_fn fn)
{
    KASSERT(vector >= 32 && vector < 256);
    handlers[vector] = fn;
}

static bool kernel_addr(uintptr_t a)
{
    return a >= 0xffff800000000000UL;
}

/* Prints the function containing ADDR.  For a return address, the call
 * is what matters: it may be the last instruction of its function (a call
 * that never returns), so look up ADDR - 1. */
static void print_symbol_at(uintptr_t addr, bool is_return)
{
    uintptr_t off;
    const char *name = ksyms_lookup(addr - is_return, &off);
    if (name)
        kprintf("%s+0x%lx", name, off + is_return);
    else
        kprintf("?");
}

static void print_symbol(uintptr_t addr)
{
    print_symbol_at(addr, false);
}

void trap_backtrace(uintptr_t rbp)
{
    kprintf("  backtrace:\n");
    for (int depth = 0; depth < 32; depth++) {
        if (!kernel_addr(rbp) || (rbp & 7))
            break;
        uint64_t *frame = (uint64_t *)rbp;
        uint8_t probe;
        if (probe_read_u8(frame, &probe) || probe_read_u8(frame + 1, &probe))
            break;
        uintptr_t ret = frame[1];
        if (!kernel_addr(ret))
            break;
        kprintf("    #%d %016lx ", depth, ret);
        print_symbol_at(ret, true);
        kprintf("\n");
        if (frame[0] <= rbp)   /* frames grow upwards; stop on loops */
            break;
        rbp = frame[0];
    }
}

static void print_pf_error(uint64_t err)
{
    kprintf(" (%s, %s, %s%s%s)", err & 1 ? "protection violation" : "not present",
            err & 2 ? "write" : "read", err & 4 ? "user" : "kernel",
            err & 8 ? ", reserved bit" : "", err & 16 ? ", instruction fetch" : "");
}

static void report(const struct trap_frame *tf)
{
    const char *name = tf->vector < 32 ? exception_names[tf->vector] : "unexpected interrupt";
    kprintf("\nEXCEPTION %s (vector %lu) on cpu %u in %s mode\n", name, tf->vector,
            this_cpu()->id, (tf->cs & 3) ? "user" : "kernel");
    kprintf("  error code 0x%lx", tf->error);
    if (tf->vector == VEC_PAGE_FAULT)
        print_pf_error(tf->error);
    kprintf("\n  CR2 %016lx  CR3 %016lx  CR0 %016lx  CR4 %016lx\n",
            read_cr2(), read_cr3(), read_cr0(), read_cr4());
    kprintf("  RIP %016lx ", tf->rip);
    print_symbol(tf->rip);
    kprintf("\n  CS %04lx  SS %04lx  RFLAGS %016lx  RSP %016lx\n",
            tf->cs, tf->ss, tf->rflags, tf->rsp);
    kprintf("  RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
    kprintf("  RSI %016lx  RDI %016lx  RBP %016lx  R8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
    kprintf("  R9  %016lx  R10 %016lx  R11 %016lx  R12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
    kprintf("  R13 %016lx  R14 %016lx  R15 %016lx\n", tf->r13, tf->r14, tf->r15);
    kprintf("  #- %016lx ", tf->rip);
    print_symbol(tf->rip);
    kprintf("\n");
    trap_backtrace(tf->rbp);
}

static bool try_fixup(struct trap_frame *tf)
{
    for (const struct extable_entry *e = __extable_start; e < __extable_end; e++) {
        if (e->insn == tf->rip) {
            tf->rip = e->fixup;
            __atomic_add_fetch(&trap_fixups, 1, __ATOMIC_RELAXED);
            return true;
        }
    }
    return false;
}

void trap_stop_other_cpus(void)
{
    stopping = true;
    if (lapic_ready())
        lapic_send_ipi_all_but_self_nmi();
}

_Noreturn void trap_halt_forever(void)
{
    if (trap_exit_on_panic)
        qemu_exit(QEMU_EXIT_PANIC);
    kprintf("System halted. (QEMU: press Ctrl-A then X to quit.)\n");
    for (;;) {
        irq_disable();
        cpu_halt();
    }
}

static _Noreturn void stop_this_cpu(void)
{
    for (;;) {
        irq_disable();
        cpu_halt();
    }
}

/* A user thread faulted: the process's exception handler, if any, decides
 * (process_user_fault returns when it says resume). */
static void user_fault(struct trap_frame *tf)
{
    struct thread *t = this_cpu()->current;
    struct k_exception e = {
        .pid = t->proc->pid, .tid = t->tid, .vector = (uint32_t)tf->vector,
        .error = (uint32_t)tf->error, .rip = tf->rip, .rsp = tf->rsp, .rflags = tf->rflags,
        .addr = tf->vector == VEC_PAGE_FAULT ? read_cr2() : 0, .rbp = tf->rbp,
        .rax = tf->rax, .rbx = tf->rbx, .rcx = tf->rcx, .rdx = tf->rdx, .rsi = tf->rsi,
        .rdi = tf->rdi, .r8 = tf->r8, .r9 = tf->r9, .r10 = tf->r10, .r11 = tf->r11,
        .r12 = tf->r12, .r13 = tf->r13, .r14 = tf->r14, .r15 = tf->r15,
    };
    process_user_fault(&e, tf->vector < 32 ? exception_names[tf->vector] : "?");
    sched_user_return();
}

/* The kernel touched an untouched user page, or wrote to user memory
 * shared copy-on-write (a copy_to_user or copy_from_user with interrupts
 * on): resolve it like the user's own access would be.  With interrupts
 * off (under a spinlock) it cannot be; the copy fails and its caller
 * reports -E_FAULT (such copies prepare their pages ahead of time). */
static bool kernel_cow_fault(struct trap_frame *tf)
{
    struct thread *t = this_cpu()->current;
    uintptr_t addr = read_cr2();
    bool untouched = !(tf->error & 1);
    if ((!untouched && (tf->error & 3) != 3) || !(tf->rflags & 0x200) || !t || !t->proc ||
        addr >= K_USER_TOP)
        return false;
    irq_enable();
    bool resolved = untouched ? vm_fault_untouched(&t->proc->vm, addr, tf->error & 2, false)
                              : vm_cow_break(&t->proc->vm, addr);
    irq_disable();
    return resolved;
}

void trap_dispatch(struct trap_frame *tf)
{
    unsigned vec = (unsigned)tf->vector;
    if (vec == 2 && stopping)
        stop_this_cpu();
    if (vec == 2 && trace_nmi(tf, report))      /* debug builds: the host asks for a dump */
        return;
    if (vec >= 32) {
        if (handlers[vec])
            handlers[vec](tf);
        else if (vec != VEC_SPURIOUS && vec != VEC_IPI_RESCHED)
            kprintf("warning: unexpected interrupt vector %u on cpu %u\n", vec, this_cpu()->id);
        if (vec != VEC_SPURIOUS)
            lapic_eoi();
        if (tf->cs & 3) {
            sched_user_return();
            if (__builtin_expect(current_thread()->killed & T_DIVERT, 0))
                personality_interrupt(tf);
        }
        return;
    }
    if (tf->cs & 3) {
        user_fault(tf);
        return;
    }
    if (vec == VEC_PAGE_FAULT && kernel_cow_fault(tf))
        return;
    if ((vec == VEC_PAGE_FAULT || vec == 13) && !(tf->cs & 3) && try_fixup(tf))
        return;
    /* A fault we cannot absorb.  User-mode faults will go to the process's
     * exception channel once processes exist; until then all are fatal. */
    irq_disable();
    if (!__atomic_exchange_n(&stopping, true, __ATOMIC_ACQ_REL) && lapic_ready())
        lapic_send_ipi_all_but_self_nmi();
    printk_lock();
    report(tf);
    trace_print_all();
    kprintf("KERNEL PANIC: unhandled exception\n");
    trap_halt_forever();
}
