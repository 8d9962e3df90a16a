/*
 * Exceptions as messages.  A process whose exception connection is set
 * (exception_set) does not die when one of its threads faults: the thread
 * sends this message on that connection and waits.  The handler replies
 * K_EXC_RESUME to run the faulting instruction again (after fixing the
 * cause, e.g. mapping the missing page), or any positive status to kill
 * the process with it.  Without a handler, or if the handler's channel is
 * gone, the process dies with status 0x100 | vector.  The message carries
 * a handle (K_RIGHT_READ, k_msg_info.handle) to the faulting process, so
 * a handler that is not its creator (K_SPAWN_EXCEPTION_INHERIT) can read
 * its memory for a core file; the handler closes it.
 */
#ifndef KESTREL_ABI_EXCEPTION_H
#define KESTREL_ABI_EXCEPTION_H

#include <stdint.h>

#define K_EXC_RESUME 0

struct k_exception {
    uint64_t pid;
    uint64_t tid;
    uint32_t vector;          /* x86 exception vector: 14 page fault, 13 #GP, 6 #UD, 0 #DE ... */
    uint32_t error;           /* the CPU's error code (page faults: P W U R I bits) */
    uint64_t rip;
    uint64_t rsp;
    uint64_t rflags;
    uint64_t addr;            /* page faults: the address (CR2) */
    uint64_t rbp;             /* the frame pointer (for backtraces and core files) */
    /* The other general registers at the fault (for core files). */
    uint64_t rax, rbx, rcx, rdx, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
_Static_assert(sizeof(struct k_exception) == 176, "k_exception layout");

#define K_EXIT_FAULT(vector) (0x100 | (vector))   /* status of a process killed by a fault */

#endif
