/*
 * proc: processes through procmgr (protocols/procmgr.proto), for a program
 * with a "procmgr" start-up handle.
 *
 *   const char *argv[] = { "bin/prog", "arg" };
 *   long pid = rt_spawn(argv, 2, NULL, 0, 0);      // the caller's view
 *   long status;
 *   rt_wait(pid, &status);
 */
#ifndef KESTREL_RT_PROC_H
#define KESTREL_RT_PROC_H

/* Starts ARGV[0] (a path in the boot image) with ARGC arguments as the
 * caller's child, seeing the name space through VIEW (NVIEW prefixes
 * inside the caller's view; none: the caller's), at PRIO (0: the
 * default).  The child's pid, or a negative error (-E_TOOBIG when the
 * strings exceed what one request carries). */
long rt_spawn(const char *const *argv, unsigned argc, const char *const *view, unsigned nview,
              unsigned prio);

/* Waits for child PID (0: any) to end; its pid, with its exit status in
 * *STATUS (may be NULL), or a negative error (-E_NOENT: no such child). */
long rt_wait(long pid, long *status);

#endif
