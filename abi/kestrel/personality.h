/*
 * Personalities: a process can have every `syscall` made outside one range
 * of its own code redirected to an entry inside it, in user mode, with
 * every register as the call left it but rcx and r11 (which the x86-64
 * `syscall` instruction clobbers on Linux too).  That is how a Linux
 * process runs: its personality (posix/) is native code in the same
 * address space, and the kernel knows nothing of Linux.
 *
 *   personality_set(entry, lo, hi)   for the calling process: calls whose
 *       return address is outside [lo, hi) go to ENTRY (which must be
 *       inside); the personality's own native calls, made from inside,
 *       are served as usual.  entry 0 turns redirection off.
 *   personality_stack(top)   for the calling thread: its redirected calls
 *       run on the stack below TOP (0: 128 bytes below the user stack
 *       pointer, past the red zone, as signal frames do).
 *
 * At ENTRY: rsp points at a struct k_redirect (16-byte aligned), rax and
 * the argument registers are the program's; rcx = ENTRY, r11 = rflags.
 * To return, the personality restores rsp from the frame and jumps to its
 * rip (rcx and r11 are free for that).  A frame that cannot be written
 * kills the process (status K_EXIT_FAULT(14)).  Redirected calls do not
 * nest: the frame is always at the top of the thread's stack.
 *
 * Interruptions (signals): chan_interrupts(channel, thread) makes each
 * pulse queued on the channel interrupt the thread (but its own pulses).  A thread blocked in
 * a send (not yet received), a receive on another channel or a sleep
 * gets -E_INTERRUPTED; one waiting for a reply stays, and the server
 * gets a K_MSG_UNBLOCK for it (it should answer soon).  A thread that
 * runs the program (outside [lo, hi)) comes to ENTRY at its next return
 * to user mode with kind K_REDIRECT_INTERRUPT: then nothing was called,
 * every register is the program's (rcx and r11 too) and rip, rflags and
 * rsp are in the frame.  The next redirected call of a thread that was
 * interrupted while in the personality's own code carries
 * K_REDIRECT_PENDING.  One interruption is reported once.
 */
#ifndef KESTREL_ABI_PERSONALITY_H
#define KESTREL_ABI_PERSONALITY_H

#include <stdint.h>

struct k_redirect {
    uint64_t rip;             /* where the program's call returns */
    uint64_t rflags;
    uint64_t rsp;             /* the program's stack pointer at the call */
    uint64_t kind;            /* K_REDIRECT_* */
};

#define K_REDIRECT_CALL      0   /* a system call: rax is its number */
#define K_REDIRECT_PENDING   1   /* a system call, and an interruption came meanwhile */
#define K_REDIRECT_INTERRUPT 2   /* no call: the program was interrupted at rip */

#endif
