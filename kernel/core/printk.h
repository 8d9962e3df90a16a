/* printk: the kernel's formatted debug output, and panic. */
#ifndef KESTREL_CORE_PRINTK_H
#define KESTREL_CORE_PRINTK_H

#include <stdarg.h>

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

/* Takes/releases the console lock so that a multi-line report (an
 * exception dump) is not interleaved with other CPUs' output.  Recursive
 * on the same CPU. */
void printk_lock(void);
void printk_unlock(void);

/* A kernel bug: report, stop all CPUs.  Never for anything a user process
 * did (that kills the process instead). */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define KASSERT(cond) \
    do { if (!(cond)) panic("assertion failed: %s at %s:%d", #cond, __FILE__, __LINE__); } while (0)

#endif
