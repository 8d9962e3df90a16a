/*
 * syscall: the kernel side of the system call list (abi/kestrel/syscalls.h).
 * Every entry has a handler `long sys_<name>(long, ...)` taking its
 * arguments as longs; this header declares them all from the list.
 */
#ifndef KESTREL_CORE_SYSCALL_H
#define KESTREL_CORE_SYSCALL_H

#include "kestrel/syscalls.h"

#define SYS_ARGS_0 void
#define SYS_ARGS_1 long
#define SYS_ARGS_2 long, long
#define SYS_ARGS_3 long, long, long
#define SYS_ARGS_4 long, long, long, long
#define SYS_ARGS_5 long, long, long, long, long
#define SYS_ARGS_6 long, long, long, long, long, long
#define SYS_DECLARE(num, name, nargs) long sys_##name(SYS_ARGS_##nargs);
KESTREL_SYSCALLS(SYS_DECLARE)
#undef SYS_DECLARE

/* Per-CPU setup of the syscall instruction (MSRs). */
void syscall_init_cpu(void);


#endif
