/*
 * fmt: printf-style formatting with no dependencies, shared by the kernel,
 * native user programs and host tests.  Output goes through a callback, so
 * the same code feeds the serial console, a bounded buffer or a log.
 *
 * Supported: %d %i %u %x %X %o %p %s %c %%, flags '-' '0' '+' ' ' '#',
 * width and precision (also as '*'), length modifiers hh h l ll z t j.
 * A NULL %s prints "(null)".  No floating point (the kernel has no FPU state).
 */
#ifndef KESTREL_BASE_FMT_H
#define KESTREL_BASE_FMT_H

#include <stdarg.h>
#include <stddef.h>

typedef void (*fmt_out_fn)(char c, void *ctx);

/* Returns the number of characters produced. */
int fmt_vformat(fmt_out_fn out, void *ctx, const char *fmt, va_list ap);

/* Like C's vsnprintf: always NUL-terminates when size > 0 and returns the
 * length the full output would have had. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
