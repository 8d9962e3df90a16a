/*
 * corefile: a writer of ELF64 core files for x86-64 that gdb loads with
 * the program's ELF ("gdb PROGRAM CORE").
 *
 * Pure logic: no system calls, no allocation.  The caller describes the
 * faulting thread (registers, x86 vector, ids, program name) and the
 * memory regions to dump; region bytes are fetched through a callback
 * (the writer may run in a process that reads another's memory through a
 * mapping).  Output goes to a sink callback or into a caller buffer;
 * core_size gives the exact size first.
 *
 * File layout: ELF header (ET_CORE), program headers (one PT_NOTE, then one
 * PT_LOAD per region, in the caller's order), the notes (NT_PRSTATUS,
 * NT_PRPSINFO), then each region's bytes at a page-aligned file offset.
 *
 * Inputs are checked: at most CORE_MAX_REGIONS regions, each non-empty,
 * page-aligned, not wrapping around and not overlapping another; every
 * size is overflow-checked.  A region (or part of one) whose bytes cannot
 * be read is written as zeros and flagged in the result.
 */
#ifndef KESTREL_BASE_COREFILE_H
#define KESTREL_BASE_COREFILE_H

#include <stddef.h>
#include <stdint.h>

#define CORE_MAX_REGIONS 64
#define CORE_PAGE        4096u

enum core_error {
    CORE_OK = 0,
    CORE_EINVAL = -1,        /* missing registers, callback or name */
    CORE_ETOOMANY = -2,      /* more than CORE_MAX_REGIONS regions */
    CORE_EREGION = -3,       /* empty, unaligned, wrapping or overlapping region */
    CORE_EOVERFLOW = -4,     /* the file would be larger than 2^64 (or SIZE_MAX) bytes */
    CORE_ESPACE = -5,        /* the caller's buffer is too small (nothing written) */
    CORE_ESINK = -6,         /* the sink callback failed */
};

/* Region permissions (the ELF p_flags bits). */
#define CORE_X 1u
#define CORE_W 2u
#define CORE_R 4u

/*
 * The general registers in the order of Linux's x86-64 user_regs_struct,
 * which is what gdb expects inside NT_PRSTATUS.  orig_rax is the system
 * call number being restarted (-1 outside a system call); the segment
 * selectors ds..gs are informational in 64-bit mode.
 */
struct core_regs {
    uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    uint64_t rax, rcx, rdx, rsi, rdi, orig_rax;
    uint64_t rip, cs, rflags, rsp, ss;
    uint64_t fs_base, gs_base;
    uint64_t ds, es, fs, gs;
};
_Static_assert(sizeof(struct core_regs) == 216, "core_regs: 27 registers");
_Static_assert(offsetof(struct core_regs, rbp) == 4 * 8, "core_regs.rbp");
_Static_assert(offsetof(struct core_regs, rax) == 10 * 8, "core_regs.rax");
_Static_assert(offsetof(struct core_regs, orig_rax) == 15 * 8, "core_regs.orig_rax");
_Static_assert(offsetof(struct core_regs, rip) == 16 * 8, "core_regs.rip");
_Static_assert(offsetof(struct core_regs, rsp) == 19 * 8, "core_regs.rsp");
_Static_assert(offsetof(struct core_regs, fs_base) == 21 * 8, "core_regs.fs_base");
_Static_assert(offsetof(struct core_regs, gs) == 26 * 8, "core_regs.gs");

struct core_region {
    uint64_t vaddr;          /* page-aligned */
    uint64_t size;           /* bytes, non-zero, page-aligned */
    uint32_t flags;          /* CORE_R | CORE_W | CORE_X */
};

/* Copies len bytes at vaddr into buf; returns 0, or non-zero if they
 * cannot be read (the writer then writes zeros for them). */
typedef int (*core_read_fn)(void *ctx, uint64_t vaddr, void *buf, size_t len);

/* Takes the next len bytes of the file; returns 0, or non-zero to stop. */
typedef int (*core_sink_fn)(void *ctx, const void *buf, size_t len);

struct core_input {
    const struct core_regs *regs;
    uint32_t vector;         /* x86 exception vector (see core_signal) */
    uint32_t pid;
    uint32_t tid;
    const char *name;        /* program name or path (NUL-terminated) */
    const struct core_region *regions;
    size_t nregions;
    core_read_fn read;
    void *read_ctx;
};

struct core_result {
    uint64_t size;           /* bytes of the file written */
    uint64_t unreadable;     /* bit i: some bytes of region i were unreadable */
};

/* The signal a Linux debugger expects for an x86 vector: 0 #DE and 16/19
 * (x87/SIMD) SIGFPE, 1 and 3 SIGTRAP, 6 #UD SIGILL, 12 #SS and 17 #AC
 * SIGBUS, anything else (13 #GP, 14 page fault ...) SIGSEGV. */
int core_signal(uint32_t vector);

/* The exact size of the core file for in, in *size. */
int core_size(const struct core_input *in, uint64_t *size);

/* Writes the core file through sink, in order, exactly core_size bytes. */
int core_write(const struct core_input *in, core_sink_fn sink, void *sink_ctx,
               struct core_result *res);

/* Writes the core file into buf[0, cap); CORE_ESPACE (and no write at all)
 * if it does not fit.  res may be NULL. */
int core_write_buf(const struct core_input *in, void *buf, size_t cap,
                   struct core_result *res);

const char *core_strerror(int err);

#endif
