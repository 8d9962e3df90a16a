/*
 * The system call list, written once.  Each line is
 *     SYSCALL(number, name, argument count)
 * and everything else is derived from it: the kernel's dispatch table
 * (kernel/core/syscall.c: sys_<name>), the user stubs (lib/rt/syscall.h:
 * k_<name>) and the reference in docs/syscalls.md.
 *
 * Convention (x86-64 `syscall`): number in rax; arguments in rdi, rsi, rdx,
 * r10, r8, r9; result in rax: >= 0 success (a value, a handle, a receive
 * id), < 0 an error from abi/kestrel/errors.h.  rcx and r11 are clobbered.
 * A failed system call has changed nothing.
 */
#ifndef KESTREL_ABI_SYSCALLS_H
#define KESTREL_ABI_SYSCALLS_H

#define KESTREL_SYSCALLS(SYSCALL)                                              \
    /* diagnostics */                                                          \
    SYSCALL(0, debug_write, 2)        /* (const char *buf, size_t len) */      \
    SYSCALL(1, sys_info, 3)           /* (unsigned what, struct k_sysinfo *, process h or 0: K_INFO_SERVING) */\
    /* handles */                                                              \
    SYSCALL(2, handle_close, 1)       /* (h) */                                \
    SYSCALL(3, handle_dup, 2)         /* (h, rights) -> new handle */          \
    /* threads */                                                              \
    SYSCALL(4, thread_create, 4)      /* (entry, stack_top, arg, const struct k_thread_attr *) -> h */ \
    SYSCALL(5, thread_exit, 1)        /* (status), does not return */          \
    SYSCALL(6, thread_join, 2)        /* (h, long *status) */                  \
    SYSCALL(7, thread_sched, 3)       /* (h or 0 for self, priority <= ceiling, policy) */\
    SYSCALL(8, thread_affinity, 2)    /* (h or 0, cpu mask) */                 \
    SYSCALL(9, thread_yield, 0)                                                \
    SYSCALL(10, thread_sleep, 1)      /* (nanoseconds) */                      \
    /* processes */                                                            \
    SYSCALL(11, process_exit, 1)      /* (status), does not return */          \
    SYSCALL(12, process_spawn, 3)     /* (const char *bootfile, len, const struct k_spawn * with the image handle) -> h */ \
    SYSCALL(13, process_kill, 2)      /* (h, status) */                        \
    SYSCALL(14, process_wait, 2)      /* (h, long *status) */                  \
    /* message passing */                                                      \
    SYSCALL(15, chan_create, 1)       /* (flags) -> channel handle */          \
    SYSCALL(16, chan_connect, 3)      /* (channel h, badge, K_CONN_REPORT_END?) -> conn h */ \
    SYSCALL(17, chan_revoke, 1)       /* (channel h, RECEIVE|MANAGE): every connection dies */ \
    SYSCALL(18, msg_send, 5)          /* (conn, siov, sparts, riov, rparts) -> reply status */ \
    SYSCALL(19, msg_receive, 4)       /* (chan, iov, parts, struct k_msg_info *) -> rcvid or 0 (pulse) */ \
    SYSCALL(20, msg_reply, 4)         /* (rcvid, status, iov, parts) */        \
    SYSCALL(21, msg_error, 2)         /* (rcvid, error) */                     \
    SYSCALL(22, msg_read, 4)          /* (rcvid, offset, buf, len) -> bytes */ \
    SYSCALL(23, msg_write, 4)         /* (rcvid, offset, buf, len) -> bytes */ \
    SYSCALL(24, pulse_send, 4)        /* (conn, code, value, priority) */      \
    SYSCALL(25, msg_reply_receive, 6) /* (rcvid, status, iov, parts, chan, struct k_msg_info *) */ \
    /* memory */                                                               \
    SYSCALL(26, vmo_create, 4)        /* (size, kind (ANON may add K_VMO_FORK_SHARED: fork shares it), phys, mmio resource h) -> h */ \
    SYSCALL(27, vmo_map, 5)           /* (process h or 0, vmo h, offset, size, prot|addr) -> address */ \
    SYSCALL(28, vm_unmap, 3)          /* (process h or 0, address, size) */    \
    SYSCALL(29, vm_protect, 4)        /* (process h or 0, address, size, prot within the mapping's rights) */ \
    /* interrupts and time */                                                  \
    SYSCALL(30, irq_attach, 4)        /* (resource h, irq, conn, code) -> interrupt h */\
    SYSCALL(31, irq_ack, 1)           /* (interrupt h) */                      \
    SYSCALL(32, timer_create, 3)      /* (conn, code, value) -> h */           \
    SYSCALL(33, timer_set, 3)         /* (timer h, first ns, period ns) */     \
    SYSCALL(34, clock_get, 0)         /* -> nanoseconds since boot */ \
    /* supervision */                                                          \
    SYSCALL(35, process_watch, 3)     /* (process h, conn, code): death pulse, value = status */ \
    SYSCALL(36, exception_set, 2)     /* (process h or 0, conn): faults become messages */ \
    /* handles in messages */                                                  \
    SYSCALL(37, handle_attach, 3)     /* (h, rights, move): rides with the next send or reply */ \
    SYSCALL(38, handle_received, 0)   /* -> the handle that came with the last reply, or -E_NOENT */ \
    SYSCALL(39, vmo_clone, 1)         /* (vmo h) -> copy-on-write clone */ \
    /* debugging (core files) */                                               \
    SYSCALL(40, process_read, 4)      /* (process h, address, buf, len) -> bytes */ \
    SYSCALL(41, process_regions, 3)   /* (process h, struct k_region *, max) -> count */ \
    SYSCALL(42, resource_narrow, 3)   /* (resource h, base, count) -> a narrower resource */ \
    SYSCALL(43, vmo_size, 1)          /* (vmo h) -> size in bytes */ \
    /* devices */                                                              \
    SYSCALL(44, ioport_enable, 2)     /* (I/O-port resource h, 1 allow / 0 deny): in/out on its ports here */ \
    SYSCALL(45, thread_set_fs, 1)     /* (user address): this thread's FS base (TLS), kept per thread */ \
    /* personalities (abi/kestrel/personality.h) */                           \
    SYSCALL(46, personality_set, 3)   /* (entry, lo, hi): calls from outside [lo, hi) go to entry; entry 0: off */ \
    SYSCALL(47, personality_stack, 1) /* (top): where this thread's redirected calls run; 0: below its stack */ \
    /* processes built by their creator (fork, exec, loaders in user space) */ \
    SYSCALL(48, process_create, 3)    /* (name, len, const struct k_spawn * with the image handle) -> h of an empty process; handles[i].handle rewritten to the child's numbers */ \
    SYSCALL(49, thread_start, 3)      /* (process h, const struct k_regs *, const struct k_thread_attr *) -> thread h */ \
    SYSCALL(50, vm_clone, 1)          /* (process h): its space gets a copy-on-write copy of all of ours (fork) */ \
    SYSCALL(51, chan_interrupts, 2)   /* (channel h, thread h or 0: self; -1: none): its pulses interrupt the thread */ \
    /* DMA (kernel/core/dma.c) */                                              \
    SYSCALL(52, dma_map, 4)           /* (one PCI function's resource h, vmo h, offset, size) -> the address its device uses */ \
    SYSCALL(53, dma_unmap, 3)         /* (PCI function h, device address, size) */ \
    SYSCALL(54, dma_reset, 1)         /* (PCI function h) -> mappings dropped: every one of the function's (its device was stopped) */ \
    SYSCALL(55, msi_attach, 4)        /* (PCI function h, conn, code, struct k_msi *): a message-signalled interrupt as pulses -> interrupt h */ \
    SYSCALL(56, process_write, 4)     /* (process h with WRITE, address, buf, len <= 4096) -> bytes: a debugger's write, code too, into memory only it holds */

#define KESTREL_SYSCALL_COUNT 57

#endif
