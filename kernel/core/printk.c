/*
 * printk: formatted output to the serial console through lib/base/fmt.
 *
 * Locking: one console lock for all CPUs, taken with interrupts off so a
 * line is never split.  The lock records its owner CPU so that an exception
 * report that starts while this CPU already prints (a fault inside kprintf)
 * does not deadlock.  panic() takes the console for good.
 */
#include "core/printk.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/trap.h"
#include "base/fmt.h"
#include "core/spinlock.h"
#include "core/trace.h"

static spinlock_t console_lock = SPINLOCK_INIT;
static volatile int console_owner = -1;
static int console_depth;
static bool console_irq_was;
static volatile bool panicking;

static void out(char c, void *ctx)
{
    (void)ctx;
    serial_putc(c);
}

void printk_lock(void)
{
    bool was = irq_save();
    int me = (int)this_cpu()->id;
    if (console_owner == me) {
        console_depth++;
        return;
    }
    spin_lock(&console_lock);
    console_owner = me;
    console_depth = 1;
    console_irq_was = was;
}

void printk_unlock(void)
{
    if (--console_depth > 0)
        return;
    bool was = console_irq_was;
    console_owner = -1;
    spin_unlock(&console_lock);
    irq_restore(was);
}

void kvprintf(const char *fmt, va_list ap)
{
    printk_lock();
    fmt_vformat(out, 0, fmt, ap);
    printk_unlock();
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

_Noreturn void panic(const char *fmt, ...)
{
    irq_disable();
    bool first = !__atomic_exchange_n(&panicking, true, __ATOMIC_ACQ_REL);
    if (first)
        trap_stop_other_cpus();
    printk_lock();
    kprintf("\nKERNEL PANIC on cpu %u: ", this_cpu()->id);
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    trap_backtrace((uintptr_t)__builtin_frame_address(0));
    trace_print_all();
    trap_halt_forever();
}
