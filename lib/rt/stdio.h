/*
 * stdio: formatted output for native user programs, on top of
 * lib/base/fmt (%d %u %x %p %s %c ..., no floating point).
 *
 * stdout is the kernel's debug console (debug_write).  It is buffered by
 * line: the buffer goes out at each newline, when it is full, on
 * rt_stdout_flush and when the program exits through rt_exit (main's
 * return included).  Not thread-safe yet (one thread per process).
 */
#ifndef KESTREL_RT_STDIO_H
#define KESTREL_RT_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define RT_STDOUT_BUF 256

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* S and a newline. */
int puts(const char *s);
int putchar(int c);

void rt_stdout_flush(void);

#endif
