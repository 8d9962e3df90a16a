/*
 * rt: the native runtime of Kestrel user programs (static, no libc).
 *
 * A program defines `int main(int argc, char **argv)`; crt0.S enters it
 * with the arguments of the start-up block (abi/kestrel/startup.h) and
 * ends the process with main's return value.  This header gives the
 * start-up block, the handles it carries, exit and error strings; the
 * other parts are rt/syscall.h, rt/stdio.h and rt/malloc.h.
 *
 * printf and the heap are safe to use from several threads (simple locks).
 */
#ifndef KESTREL_RT_RT_H
#define KESTREL_RT_RT_H

#include "kestrel/errors.h"
#include "kestrel/startup.h"
#include "rt/syscall.h"

/* The block the kernel passed to _start (null if it was missing or had
 * the wrong magic; then argc is 0 and there are no handles). */
extern struct k_startup *rt_startup;

/* The start-up handle called NAME, or -1 if there is none. */
long rt_handle(const char *name);

/* The text of start-up handle NAME (a memory object from init: the
 * manifest, procmgr's policy), mapped read-only: its first byte, its
 * length up to the first NUL in *LEN; NULL if there is none. */
const char *rt_handle_text(const char *name, size_t *len);

/* Flushes stdout and ends the process with STATUS. */
__attribute__((noreturn)) void rt_exit(int status);

/* Prints "PROGRAM: abort: WHY" and ends the process with -E_FAULT. */
__attribute__((noreturn)) void rt_abort(const char *why);

/* Tells the supervisor this service is alive (see abi/kestrel/supervise.h);
 * -E_NOENT when there is no "heartbeat" handle. */
long rt_heartbeat(void);

/* The text of an error code, negated or not ("success" for 0). */
const char *k_strerror(long err);

int main(int argc, char **argv);

#endif
