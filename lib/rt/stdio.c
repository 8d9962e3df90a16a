/*
 * stdio: printf and friends over one line buffer (see stdio.h).
 * Where it goes: a process with a "log" connection sends each line to the
 * log service (print, protocols/log.proto), which shows it on the console;
 * one without (init, the log service itself, programs started as the
 * first process in tests) writes to the kernel's debug console.  When the
 * log service cannot take a line (dead, restarting) the line goes to the
 * debug console instead of being lost.
 * Invariant: out_len < RT_STDOUT_BUF between calls; the buffer never
 * holds a newline (it is flushed right after one is stored).
 * Locking: vprintf holds a spinning lock (yielding while it waits), so
 * threads of one process do not mix their lines; one that waits for it
 * more than 200 ms writes its line to the debug console instead.
 */
#include "rt/lock.h"
#include "rt/stdio.h"
#include "rt/syscall.h"

#include "base/fmt.h"
#include "base/string.h"
#include "protocols/log.h"
#include "rt/rt.h"

static char out_buf[RT_STDOUT_BUF];
static size_t out_len;

static long log_conn = -2;          /* -2: not looked up yet; -1: none */

void rt_stdout_flush(void)
{
    if (out_len == 0)
        return;
    if (log_conn == -2)
        log_conn = rt_handle("log");
    struct log_print_req req;
    struct log_print_rep rep;
    memset(&req, 0, sizeof(req));
    if (log_conn < 0 || log_print(log_conn, &req, out_buf, out_len, &rep) < 0)
        rt_debug_write(out_buf, out_len);
    out_len = 0;
}

static void out_char(char c, void *ctx)
{
    (void)ctx;
    out_buf[out_len++] = c;
    if (c == '\n' || out_len == sizeof(out_buf))
        rt_stdout_flush();
}

static volatile int out_lock;

/* The line when the buffer's lock is held too long: straight to the
 * kernel's console, so that no thread waits for ever on another thread's
 * output (a low-priority holder may be starved on its CPU). */
struct side {
    char buf[256];
    size_t len;
};

static void side_char(char c, void *ctx)
{
    struct side *s = ctx;
    s->buf[s->len++] = c;
    if (c == '\n' || s->len == sizeof(s->buf)) {
        rt_debug_write(s->buf, s->len);
        s->len = 0;
    }
}

#define OUT_WAIT_NS (200L * 1000 * 1000)

int vprintf(const char *fmt, va_list ap)
{
    if (!rt_lock_within(&out_lock, OUT_WAIT_NS)) {
        struct side s = { .len = 0 };
        int n = fmt_vformat(side_char, &s, fmt, ap);
        if (s.len)
            rt_debug_write(s.buf, s.len);
        return n;
    }
    int n = fmt_vformat(out_char, 0, fmt, ap);
    rt_unlock(&out_lock);
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return fmt_vsnprintf(buf, size, fmt, ap);
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int putchar(int c)
{
    out_char((char)c, 0);
    return (unsigned char)c;
}

int puts(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        out_char(s[i], 0);
    out_char('\n', 0);
    return (int)n + 1;
}
