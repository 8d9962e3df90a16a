/*
 * syscall: the user side of every Kestrel system call.
 *
 * For each line SYSCALL(number, name, nargs) of abi/kestrel/syscalls.h this
 * defines `static inline long k_<name>(long, ...)` with nargs arguments,
 * which executes `syscall` (number in rax; arguments in rdi, rsi, rdx, r10,
 * r8, r9; rcx and r11 clobbered) and returns rax: >= 0 success, < 0 a
 * negated error from abi/kestrel/errors.h (k_strerror in rt/rt.h).
 * The list itself is never repeated here.  Below the generated stubs are a
 * few typed wrappers for calls whose arguments are pointers.
 */
#ifndef KESTREL_RT_SYSCALL_H
#define KESTREL_RT_SYSCALL_H

#include <stddef.h>
#include <stdint.h>

#include "kestrel/msg.h"
#include "kestrel/syscalls.h"

/* The trap itself, with every argument register; unused ones are ignored
 * by the kernel. */
static inline long rt_syscall(long n, long a1, long a2, long a3,
                              long a4, long a5, long a6)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#define RT_STUB_0(num, name) \
    static inline long k_##name(void) \
    { return rt_syscall(num, 0, 0, 0, 0, 0, 0); }
#define RT_STUB_1(num, name) \
    static inline long k_##name(long a1) \
    { return rt_syscall(num, a1, 0, 0, 0, 0, 0); }
#define RT_STUB_2(num, name) \
    static inline long k_##name(long a1, long a2) \
    { return rt_syscall(num, a1, a2, 0, 0, 0, 0); }
#define RT_STUB_3(num, name) \
    static inline long k_##name(long a1, long a2, long a3) \
    { return rt_syscall(num, a1, a2, a3, 0, 0, 0); }
#define RT_STUB_4(num, name) \
    static inline long k_##name(long a1, long a2, long a3, long a4) \
    { return rt_syscall(num, a1, a2, a3, a4, 0, 0); }
#define RT_STUB_5(num, name) \
    static inline long k_##name(long a1, long a2, long a3, long a4, long a5) \
    { return rt_syscall(num, a1, a2, a3, a4, a5, 0); }
#define RT_STUB_6(num, name) \
    static inline long k_##name(long a1, long a2, long a3, long a4, long a5, long a6) \
    { return rt_syscall(num, a1, a2, a3, a4, a5, a6); }

#define RT_STUB(num, name, nargs) RT_STUB_##nargs(num, name)
KESTREL_SYSCALLS(RT_STUB)
#undef RT_STUB

/* Typed wrappers: the same calls with pointer and size arguments. */

static inline long rt_debug_write(const char *buf, size_t len)
{
    return k_debug_write((long)buf, (long)len);
}

static inline long rt_msg_send(long conn, const struct k_iov *send, size_t sparts,
                               const struct k_iov *reply, size_t rparts)
{
    return k_msg_send(conn, (long)send, (long)sparts, (long)reply, (long)rparts);
}

static inline long rt_msg_receive(long chan, const struct k_iov *iov, size_t parts,
                                  struct k_msg_info *info)
{
    return k_msg_receive(chan, (long)iov, (long)parts, (long)info);
}

static inline long rt_msg_reply(long rcvid, long status, const struct k_iov *iov,
                                size_t parts)
{
    return k_msg_reply(rcvid, status, (long)iov, (long)parts);
}

static inline long rt_thread_create(void (*entry)(void *), void *stack_top, void *arg,
                                    const struct k_thread_attr *attr)
{
    return k_thread_create((long)entry, (long)stack_top, (long)arg, (long)attr);
}

static inline long rt_process_wait(long process, long *status)
{
    return k_process_wait(process, (long)status);
}

static inline long rt_thread_join(long thread, long *status)
{
    return k_thread_join(thread, (long)status);
}

#endif
