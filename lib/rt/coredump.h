/*
 * coredump: core files of faulting processes, for whoever is their
 * exception handler (the supervisor for services, procmgr for the
 * processes it spawns).
 *
 *   static struct rt_cores cores = { .who = "supervisor" };
 *   // an exception message E from process handle PROC (K_RIGHT_READ):
 *   struct rt_core c;
 *   rt_core_capture(&cores, "name", "bin/prog", proc, &e, &c);
 *   k_msg_reply(rcvid, K_EXIT_FAULT(e.vector), 0, 0);   // the process dies now
 *   rt_core_finish(&cores, &c, true);  // to the console, then kept
 *
 * capture writes the ELF core file (lib/base/corefile: registers, the
 * writable regions up to 1 MiB each) into a memory object of its exact
 * size while the process is still there; the slow part, the copy to the
 * console as base64 between "CORE BEGIN NAME PROGRAM" and "CORE END N
 * bytes" lines (the way to the host until there is a disk), is done by
 * finish, after the process has been let go, so a restart does not wait
 * for it.  A core that cannot be kept (over RT_CORE_KEEP_MAX, or no
 * memory) is streamed to the console by capture itself and not kept.
 * The last RT_CORES_KEPT cores stay in memory, read back with
 * rt_core_get.
 *
 * Thread-safe: capture/finish in one thread, rt_core_get in another.
 */
#ifndef KESTREL_RT_COREDUMP_H
#define KESTREL_RT_COREDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kestrel/exception.h"

#define RT_CORE_KEEP_MAX (8UL << 20)
#define RT_CORES_KEPT 4

struct rt_core {
    long vmo;                   /* 0: nothing kept */
    const char *data;           /* mapped read-write in this process */
    uint64_t size;
    long time;                  /* clock when captured, ns */
    char name[32];
    char program[64];
    uint64_t owner;             /* who may read it back (rt_core_get) */
};

#define RT_CORE_ANY_OWNER (~0ULL)

struct rt_cores {
    const char *who;            /* prefix of messages ("supervisor") */
    struct rt_core kept[RT_CORES_KEPT];     /* kept[0] the newest */
    volatile int lock;
};

/* Writes the core of PROC, stopped by exception E, into C; streams it to
 * the console instead when it cannot be kept (then C->vmo is 0).  OWNER
 * is who may read it back. */
void rt_core_capture(struct rt_cores *s, const char *name, const char *program, long proc,
                     const struct k_exception *e, uint64_t owner, struct rt_core *c);

/* Copies C to the console (with PRINT) and keeps it (the oldest kept one
 * goes). */
void rt_core_finish(struct rt_cores *s, struct rt_core *c, bool print);

/* Kept core INDEX (0: the newest) among those OWNER may read (all with
 * RT_CORE_ANY_OWNER): its NAME, SIZE and TIME_MS, and the bytes from
 * OFFSET that fit in BUF[CAP] (*LEN of them, 0 at or past the end);
 * *COUNT says how many it may read.  0, or -E_NOENT past the last. */
long rt_core_get(struct rt_cores *s, uint64_t owner, unsigned index, uint64_t offset,
                 uint32_t *count,
                 char name[32], uint64_t *size, uint64_t *time_ms, void *buf, uint32_t *len,
                 size_t cap);

#endif
