/*
 * linux: the Linux x86-64 personality, first steps (issue 9).  A native
 * program that becomes a Linux process:
 *
 *     bin/linux PROGRAM [ARGS...]
 *
 * loads the static Linux executable PROGRAM from the boot image into its
 * own address space (where the program was linked: 0x400000 for musl-gcc
 * -static), builds the stack the ELF ABI describes, asks the kernel to
 * send every system call made outside its own code to lx_entry
 * (posix/entry.S, abi/kestrel/personality.h), and jumps to the program.
 * Each call is then served here, in the same process, from the native
 * system calls: there is no POSIX server on the path.
 *
 * Served so far: what a musl static program needs to start, print and
 * end (write, writev, brk, mmap/munmap of anonymous memory, arch_prctl,
 * set_tid_address, getpid/gettid, uname, the ids, clock_gettime, exit).
 * Output goes to the kernel console until the terminal server exists.
 * Any other call answers -ENOSYS and is reported once per number.
 * Every pointer from the program is checked before use (process_read on
 * ourselves for what is read, the mappings for what is written): a bad one
 * gives -EFAULT, never a fault of the personality.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx.h"

#include "base/cpio.h"
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/personality.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"

/* Linux's numbers (arch/x86/entry/syscalls/syscall_64.tbl) and errors. */
enum {
    LX_mmap = 9, LX_mprotect = 10, LX_munmap = 11, LX_brk = 12, LX_uname = 63, LX_mremap = 25,
    LX_getgroups = 115, LX_setgroups = 116, LX_sync = 162, LX_syncfs = 306, LX_restart_syscall = 219,
    LX_getuid = 102, LX_getgid = 104, LX_setuid = 105, LX_setgid = 106, LX_geteuid = 107,
    LX_getegid = 108, LX_arch_prctl = 158, LX_set_tid_address = 218, LX_clock_gettime = 228,
    LX_set_robust_list = 273, LX_execve = 59, LX_prctl = 157, LX_rseq = 334, LX_time = 201, LX_futex = 202, LX_prlimit64 = 302, LX_getrandom = 318,
};
#define LX_ARCH_SET_FS 0x1002
#define LX_TIOCGWINSZ 0x5413
#define LX_PROT_READ 1
#define LX_PROT_WRITE 2
#define LX_PROT_EXEC 4
#define LX_MAP_FIXED 0x10
#define LX_MAP_ANONYMOUS 0x20

long lx_syscall(struct lx_regs *r, void *fx);
extern char lx_entry[];
_Noreturn void lx_start_program(uint64_t entry, uint64_t stack);

#define PAGE 4096UL
#define NATIVE_END (K_NATIVE_BASE + 0x10000000UL)    /* our own image, at most 256 MiB */
#define LX_STACK_TOP 0x00007ffe00000000UL
#define LX_STACK_SIZE (1UL << 20)
#define BRK_MAX (256UL << 20)

LX_HOT struct lx_state lx;

/* ---- memory of the program, checked ---- */

/* The mappings of our space as the kernel last listed them (-1: to be
 * listed again).  Every change to them that could make a listed range go
 * (an unmap, a protection) is made through vm_unmap and vm_protect below
 * or followed by lx_vm_changed, always under the personality's lock; so
 * while the list stands, a range it covers is there, and a check needs no
 * system call.  A range it does not cover is looked up again. */
#define REGS_KEPT 1024
static struct k_region regs[REGS_KEPT];
static LX_HOT long nregs = -1;

void lx_vm_changed(void)
{
    nregs = -1;
}

static long vm_unmap(long space, long addr, long len)
{
    nregs = -1;
    return k_vm_unmap(space, addr, len);
}

static long vm_protect(long space, long addr, long len, long prot)
{
    nregs = -1;
    return k_vm_protect(space, addr, len, prot);
}

static LX_HOT long last_hit;         /* the region the last check found */

static bool covered(uint64_t addr, size_t len, uint32_t prot)
{
    uint64_t at = addr, end = addr + len;
    const struct k_region *h = &regs[last_hit];
    if (last_hit < nregs && h->start <= at && end <= h->start + h->size && (h->prot & prot) == prot)
        return true;
    for (long i = 0; i < nregs; i++)
        if (regs[i].start <= at && end <= regs[i].start + regs[i].size &&
            (regs[i].prot & prot) == prot) {
            last_hit = i;
            return true;
        }
    for (int pass = 0; at < end && pass < 64; pass++) {
        bool moved = false;
        for (long i = 0; i < nregs; i++)
            if (regs[i].start <= at && at < regs[i].start + regs[i].size &&
                (regs[i].prot & prot) == prot) {
                at = regs[i].start + regs[i].size;
                moved = true;
            }
        if (!moved)
            return false;
    }
    return at >= end;
}

bool lx_mem_ok(uint64_t addr, size_t len, bool write)
{
    if (addr + len < addr)
        return false;
    uint32_t prot = write ? K_PROT_WRITE : K_PROT_READ;
    if (!len || (nregs >= 0 && covered(addr, len, prot)))
        return true;
    nregs = k_process_regions(0, (long)regs, REGS_KEPT);
    if (nregs > REGS_KEPT)
        nregs = REGS_KEPT;          /* more than we keep: the rest are asked of the kernel */
    return nregs >= 0 && covered(addr, len, prot);
}

bool lx_mem_listed(void)
{
    return nregs >= 0 && nregs < REGS_KEPT;
}

/* Copies LEN bytes from the program at ADDR; false when any is unmapped. */
bool lx_copy_in(void *dst, uint64_t addr, size_t len)
{
    if (lx_mem_ok(addr, len, false)) {
        memcpy(dst, (const void *)addr, len);
        return true;
    }
    if (lx_mem_listed())
        return false;               /* not mapped, or not readable (PROT_NONE) */
    while (len) {                   /* the kernel finds out (and says no) */
        size_t n = len > 65536 ? 65536 : len;
        if (k_process_read(0, (long)addr, (long)dst, (long)n) != (long)n)
            return false;
        dst = (char *)dst + n, addr += n, len -= n;
    }
    return true;
}

/* Whether [addr, addr+len) lies in writable mappings of ours. */
bool lx_writable(uint64_t addr, size_t len)
{
    return lx_mem_ok(addr, len, true);
}

bool lx_copy_out(uint64_t addr, const void *src, size_t len)
{
    if (lx_writable(addr, len)) {
        memcpy((void *)addr, src, len);
        return true;
    }
    if (lx_mem_listed())
        return false;
    while (len) {                   /* more mappings than we keep: the kernel checks */
        size_t n = len > 65536 ? 65536 : len;
        if (k_process_read(0, (long)src, (long)addr, (long)n) != (long)n)
            return false;
        src = (const char *)src + n, addr += n, len -= n;
    }
    return true;
}

/* Whether [ADDR, ADDR+LEN) touches the personality's own room, which the
 * program's mmap, munmap and mprotect must not reach. */
static bool ours(uint64_t addr, uint64_t len)
{
    return addr < NATIVE_END && addr + len > K_NATIVE_BASE;
}

/* ---- calls ---- */

/* A string of the program: read a page's part at a time (one call for
 * most paths), never past the page its end is on, so a string that ends
 * just before an unmapped page is read whole. */
long lx_copy_str(char *buf, size_t cap, uint64_t addr)
{
    size_t i = 0;
    while (i < cap) {
        size_t n = PAGE - ((addr + i) & (PAGE - 1));
        if (n > cap - i)
            n = cap - i;
        if (lx_mem_ok(addr + i, n, false)) {        /* there: only what the string is */
            size_t k = strnlen((const char *)(addr + i), n);
            memcpy(&buf[i], (const char *)(addr + i), k);
            if (k < n) {
                buf[i + k] = 0;     /* ours, whatever another thread wrote there since */
                return 0;
            }
            i += n;
            continue;
        }
        if (!lx_copy_in(&buf[i], addr + i, n))
            return -LX_EFAULT;
        for (size_t end = i + n; i < end; i++)
            if (!buf[i])
                return 0;
    }
    return -LX_ENAMETOOLONG;
}

static uint32_t kprot(uint64_t p)
{
    return (p & LX_PROT_READ ? K_PROT_READ : 0) | (p & LX_PROT_WRITE ? K_PROT_WRITE : 0) |
           (p & LX_PROT_EXEC ? K_PROT_EXEC : 0);
}

/* Anonymous memory only (files need the file servers). */
/* mmap.  Anonymous memory is a memory object of its own (the descriptor
 * is not looked at, as on Linux); a shared one is made K_VMO_FORK_SHARED,
 * so a fork's child maps the object itself and each sees the other's
 * stores (a part of it later unmapped or protected alone, or mremap, makes
 * the rest a copy of its own: what a child already shares is then not
 * seen).  A file's pages are a copy: private
 * mappings (MAP_PRIVATE: a copy is what they are), and shared ones that
 * cannot write (PROT_READ: what the file held when mapped; later writes
 * to the file are not seen through it).  A shared writable mapping of a
 * file, whose stores must reach the file, is not served (ENODEV, said
 * once). */
static long lx_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, long fd,
                    uint64_t off)
{
    if (len == 0 || len > (1UL << 40) || (prot & LX_PROT_WRITE && prot & LX_PROT_EXEC))
        return -LX_EINVAL;
    uint64_t type = flags & 3;      /* MAP_SHARED 1, MAP_PRIVATE 2, MAP_SHARED_VALIDATE 3 */
    if (type == 0 || (off & (PAGE - 1)))
        return -LX_EINVAL;
    bool file = !(flags & LX_MAP_ANONYMOUS);
    if (file && type != 2 && (prot & LX_PROT_WRITE)) {
        static bool said;
        if (!said)
            printf("linux: mmap of a file MAP_SHARED and writable is not served yet (-ENODEV)\n");
        said = true;
        return (int)fd < 0 ? -LX_EBADF : -LX_ENODEV;
    }
    len = (len + PAGE - 1) & ~(PAGE - 1);
    /* Shared anonymous memory is shared with the children a fork makes
     * (the object itself is mapped in them, not a copy). */
    long v = k_vmo_create((long)len, K_VMO_ANON | (!file && type != 2 ? K_VMO_FORK_SHARED : 0), 0, 0);
    if (v < 0)
        return lx_errno(v);
    uint64_t at = flags & LX_MAP_FIXED ? addr & ~(PAGE - 1) : 0;
    if (at && ours(at, len)) {
        k_handle_close(v);
        return -LX_EINVAL;          /* the personality's room (Linux would say ENOMEM or map it) */
    }
    long a = k_vmo_map(0, v, 0, (long)len,
                       (long)((file ? K_PROT_READ | K_PROT_WRITE : kprot(prot)) | at));
    k_handle_close(v);
    if (a < 0 || !file)
        return a < 0 ? lx_errno(a) : a;
    long n = lx_fd_map_read((long)(int)fd, off, (void *)a, (size_t)len, false);
    if (n < 0 || vm_protect(0, a, (long)len, (long)kprot(prot)) < 0) {
        vm_unmap(0, a, (long)len);
        return n < 0 ? n : -LX_ENOMEM;
    }
    return a;
}

/* The kernel protects and unmaps whole mappings only; Linux programs
 * change parts (musl's guard page under a thread's stack, glibc's
 * trims).  So a part becomes mappings of its own first: the pieces'
 * bytes are copied into new memory objects that replace the mapping.
 * Another thread touching those pages meanwhile would fault: the big
 * lock does not stop the program's own code. */
static long split_region(uint64_t addr, uint64_t len)
{
    struct k_region reg[256];
    long n = k_process_regions(0, (long)reg, 256);
    for (long i = 0; i < n && i < 256; i++) {
        uint64_t s = reg[i].start, e = s + reg[i].size;
        if (addr < s || addr >= e)
            continue;
        if (addr == s && addr + len == e)
            return 0;                         /* a whole mapping already */
        if (addr + len > e)
            return -LX_EINVAL;                /* across mappings: not served */
        if (s >= K_NATIVE_BASE && s < NATIVE_END)
            return -LX_EINVAL;                /* ours */
        if (!(reg[i].prot & K_PROT_READ))     /* readable for the copy: it goes anyway */
            vm_protect(0, (long)s, (long)(e - s), K_PROT_READ);
        uint64_t cut[4] = { s, addr, addr + len, e };
        long vmo[3] = { -1, -1, -1 };
        for (int k = 0; k < 3; k++) {
            uint64_t sz = cut[k + 1] - cut[k];
            if (!sz)
                continue;
            vmo[k] = k_vmo_create((long)sz, K_VMO_ANON, 0, 0);
            long tmp = vmo[k] < 0 ? vmo[k] : k_vmo_map(0, vmo[k], 0, (long)sz, K_PROT_READ | K_PROT_WRITE);
            if (tmp >= 0)
                memcpy((void *)tmp, (const void *)cut[k], sz);   /* readable now (above) */
            if (tmp < 0) {
                for (int j = 0; j <= k; j++)
                    if (vmo[j] >= 0)
                        k_handle_close(vmo[j]);
                if (tmp > 0)
                    vm_unmap(0, tmp, (long)sz);
                return -LX_ENOMEM;
            }
            vm_unmap(0, tmp, (long)sz);
        }
        vm_unmap(0, (long)s, (long)(e - s));
        for (int k = 0; k < 3; k++) {
            if (vmo[k] < 0)
                continue;
            uint64_t sz = cut[k + 1] - cut[k];
            k_vmo_map(0, vmo[k], 0, (long)sz, (long)(reg[i].prot | cut[k]));
            k_handle_close(vmo[k]);
        }
        return 0;
    }
    return -LX_EINVAL;
}

static long lx_mprotect(uint64_t addr, uint64_t len, uint64_t prot)
{
    len = (len + PAGE - 1) & ~(PAGE - 1);
    if ((addr & (PAGE - 1)) || !len)
        return len ? -LX_EINVAL : 0;
    if (ours(addr, len))
        return -LX_EINVAL;
    if (vm_protect(0, (long)addr, (long)len, (long)kprot(prot)) == 0)
        return 0;
    long r = split_region(addr, len);
    if (r < 0)
        return r;
    return vm_protect(0, (long)addr, (long)len, (long)kprot(prot)) < 0 ? -LX_EINVAL : 0;
}

static long lx_munmap(uint64_t addr, uint64_t len)
{
    len = (len + PAGE - 1) & ~(PAGE - 1);
    if ((addr & (PAGE - 1)) || !len || ours(addr, len))
        return -LX_EINVAL;
    if (vm_unmap(0, (long)addr, (long)len) == 0)
        return 0;
    long r = split_region(addr, len);
    if (r < 0)
        return r;
    return vm_unmap(0, (long)addr, (long)len) < 0 ? -LX_EINVAL : 0;
}

/* mremap: shrinking unmaps the tail; growing moves (MREMAP_MAYMOVE 1):
 * new memory with the old protection, the old bytes copied in, the old
 * mapping gone.  Growing in place and MREMAP_FIXED are not served
 * (ENOMEM, EINVAL). */
static long lx_mremap(uint64_t addr, uint64_t old, uint64_t len, uint64_t flags)
{
    old = (old + PAGE - 1) & ~(PAGE - 1);
    len = (len + PAGE - 1) & ~(PAGE - 1);
    if ((addr & (PAGE - 1)) || !len || !old || (flags & ~1ULL) || len > (1UL << 40))
        return -LX_EINVAL;
    if (len == old)
        return (long)addr;
    if (len < old) {
        long r = lx_munmap(addr + len, old - len);
        return r < 0 ? r : (long)addr;
    }
    if (!(flags & 1))
        return -LX_ENOMEM;
    struct k_region reg[256];
    long n = k_process_regions(0, (long)reg, 256);
    uint32_t prot = 0;
    bool found = false;
    for (long i = 0; i < n && i < 256 && !found; i++)
        if (addr >= reg[i].start && addr + old <= reg[i].start + reg[i].size) {
            found = reg[i].start < K_NATIVE_BASE || reg[i].start >= NATIVE_END;
            prot = reg[i].prot;
        }
    if (!found)
        return -LX_EFAULT;
    long v = k_vmo_create((long)len, K_VMO_ANON, 0, 0);
    if (v < 0)
        return lx_errno(v);
    long a = k_vmo_map(0, v, 0, (long)len, K_PROT_READ | K_PROT_WRITE);
    k_handle_close(v);
    if (a < 0)
        return lx_errno(a);
    if (!(prot & K_PROT_READ) && vm_protect(0, (long)addr, (long)old, K_PROT_READ) < 0) {
        vm_unmap(0, a, (long)len);  /* a part of a mapping that cannot be read: not served */
        return -LX_EFAULT;
    }
    memcpy((void *)a, (const void *)addr, old);
    lx_munmap(addr, old);
    if (vm_protect(0, a, (long)len, (long)prot) < 0) {
        vm_unmap(0, a, (long)len);
        return -LX_ENOMEM;
    }
    return a;
}

/* The program break: grown by a mapping per step, never shrunk. */
static long lx_brk(uint64_t want)
{
    if (want < lx.brk_start || want > lx.brk_start + BRK_MAX)
        return (long)lx.brk_end;
    uint64_t need = (want + PAGE - 1) & ~(PAGE - 1);
    if (need > lx.brk_mapped) {
        long v = k_vmo_create((long)(need - lx.brk_mapped), K_VMO_ANON, 0, 0);
        long a = v < 0 ? v : k_vmo_map(0, v, 0, (long)(need - lx.brk_mapped),
                                       (long)(K_PROT_READ | K_PROT_WRITE | lx.brk_mapped));
        if (v >= 0)
            k_handle_close(v);
        if (a < 0)
            return (long)lx.brk_end;
        lx.brk_mapped = need;
    }
    lx.brk_end = want;
    return (long)want;
}

static long lx_uname(uint64_t buf)
{
    static char u[6][65];
    memset(u, 0, sizeof(u));
    static const char *const v[6] = {
        "Linux",                    /* what programs test for; the rest says where they are */
        "kestrel", "6.1.0-kestrel", "#1 Kestrel personality", "x86_64", "(none)",
    };
    for (int i = 0; i < 6; i++)
        memcpy(u[i], v[i], strlen(v[i]));
    return lx_copy_out(buf, u, sizeof(u)) ? 0 : -LX_EFAULT;
}

/* Limits: what Linux gives a process by default (new ones are ignored). */
static long lx_prlimit(uint64_t resource, uint64_t old)
{
    if (resource > 15)
        return -LX_EINVAL;
    uint64_t lim[2] = { ~0UL, ~0UL };
    if (resource == 3)              /* RLIMIT_STACK */
        lim[0] = 8UL << 20;
    if (resource == 7)              /* RLIMIT_NOFILE */
        lim[0] = lim[1] = 1024;
    return old && !lx_copy_out(old, lim, sizeof(lim)) ? -LX_EFAULT : 0;
}

/* Wall-clock seconds since 1970: there is no real-time clock driver
 * yet, so the time since boot from a fixed epoch (2026-01-01). */
uint64_t lx_wall_seconds(void)
{
    return 1767225600ULL + (uint64_t)k_clock_get() / 1000000000;
}

/* Random bytes: xorshift seeded from the clock (not for keys: the kernel
 * has no entropy source yet). */
static long lx_getrandom(uint64_t buf, uint64_t len)
{
    static uint64_t x;
    if (!x)
        x = (uint64_t)k_clock_get() | 1;
    if (len > 65536)
        len = 65536;
    uint8_t tmp[256];
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done > sizeof(tmp) ? sizeof(tmp) : (size_t)(len - done);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            tmp[i] = (uint8_t)x;
        }
        if (!lx_copy_out(buf + done, tmp, n))
            return done ? (long)done : -LX_EFAULT;
        done += n;
    }
    return (long)len;
}

static long nosys(uint64_t nr)
{
    if (nr < 512 && !(lx.nosys_said[nr / 8] & (1u << (nr % 8)))) {
        lx.nosys_said[nr / 8] |= (uint8_t)(1u << (nr % 8));
        printf("linux: system call %lu is not served yet (-ENOSYS)\n", (unsigned long)nr);
    }
    return -LX_ENOSYS;
}

static long serve(struct lx_regs *r, void *fx);

/* Every redirected call, and every interruption of the program, comes
 * here (posix/entry.S); FX is the program's saved FPU/SSE state.  Before
 * the program goes on, pending signals act (lx_sig_deliver): a call they
 * interrupted may fail with EINTR, start again after a handler
 * (SA_RESTART), or simply go on when nothing ran. */
static long lx_syscall_locked(struct lx_regs *r, void *fx);

long lx_syscall(struct lx_regs *r, void *fx)
{
    /* Calls that only read what never changes under us (our ids) need
     * neither the lock nor a look at signals, unless one is pending. */
    const struct k_redirect *f = (const struct k_redirect *)(r + 1);
    if (__builtin_expect(f->kind == K_REDIRECT_CALL && !lx_sig_attention(), 1)) {
        switch (r->rax) {
        case 39:                    /* getpid */
            return (long)lx.pid;
        case 110:                   /* getppid */
            return (long)lx.ppid;
        case 102: case 104: case 107: case 108:     /* getuid, getgid, geteuid, getegid */
            return 0;
        }
    }
    lx_lock_take();
    long ret = lx_syscall_locked(r, fx);
    lx_lock_give();
    return ret;
}

static long lx_syscall_locked(struct lx_regs *r, void *fx)
{
    struct k_redirect *f = (struct k_redirect *)(r + 1);
    if (f->kind == K_REDIRECT_INTERRUPT) {
        bool restart;
        long rax = (long)r->rax;
        lx_sig_deliver(r, fx, rax, 0, &restart);
        return (long)r->rax;        /* the program's, or the handler's 0 */
    }
    if (f->kind == K_REDIRECT_PENDING)
        lx_sig_attend();
    uint64_t nr = r->rax;
    if (nr == 15)                   /* rt_sigreturn: the registers of before */
        return lx_sigreturn(r, fx);
    uint64_t a0 = r->rdi, a1 = r->rsi, a2 = r->rdx, a3 = r->r10;
    for (int tries = 0;; tries++) {
        long ret = serve(r, fx);
        if (__builtin_expect(lx.trace, 0))
            printf("trace %lu: %lu(%#lx, %#lx, %#lx, %#lx) = %ld\n", (unsigned long)lx.pid,
                   (unsigned long)nr, (unsigned long)a0, (unsigned long)a1, (unsigned long)a2,
                   (unsigned long)a3, ret);
        if (ret != -LX_ERESTARTSYS && !lx_sig_attention())
            return ret;
        bool restart;
        long rax = lx_sig_deliver(r, fx, ret, nr, &restart);
        if (!restart || tries > 1000)
            return restart ? -LX_EINTR : rax;
        r->rax = nr;                /* nothing ran: the same call again */
    }
}

static long serve(struct lx_regs *r, void *fx)
{
    (void)fx;
    uint64_t a[6] = { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 };
    bool served;
    long ret = lx_fd_call(r->rax, a, &served);
    if (served)
        return ret;
    ret = lx_proc_call(r->rax, a, r, &served);
    if (served)
        return ret;
    uint64_t a1 = a[0], a2 = a[1], a3 = a[2], a4 = a[3], a5 = a[4];
    switch (r->rax) {
    case LX_mmap:
        return lx_mmap(a1, a2, a3, a4, (long)a5, r->r9);
    case LX_munmap:
        return lx_munmap(a1, a2);
    case LX_mremap:
        return lx_mremap(a1, a2, a3, a4);
    case LX_getgroups: {            /* root, in group root only */
        uint32_t g = 0;
        if ((int64_t)(int)a1 < 0)
            return -LX_EINVAL;
        if (a1 == 0)
            return 1;
        return lx_copy_out(a2, &g, 4) ? 1 : -LX_EFAULT;
    }
    case LX_setgroups:
        return 0;                   /* authority is capabilities, not groups */
    case LX_sync:
    case LX_syncfs:
        return 0;                   /* the file systems are memory: nothing to flush yet */
    case LX_restart_syscall:
        return -LX_EINTR;           /* our restarts never need it */
    case LX_mprotect:
        return lx_mprotect(a1, a2, a3);
    case LX_brk:
        return lx_brk(a1);
    case LX_arch_prctl:
        if (a1 != LX_ARCH_SET_FS)
            return -LX_EINVAL;
        if (k_thread_set_fs((long)a2) < 0)
            return -LX_EFAULT;
        lx.fs_base = a2;
        return 0;
    case LX_set_tid_address:
        lx_thread_self()->clear_tid = a1;
        return (long)lx_thread_self()->tid;
    case LX_futex:
        return lx_futex(a1, a2, a3, a4, a5, r->r9);
    case LX_getuid:
    case LX_getgid:
    case LX_geteuid:
    case LX_getegid:
    case LX_setuid:
    case LX_setgid:
        return 0;                   /* authority is capabilities, not uids */
    case LX_uname:
        return lx_uname(a1);
    case LX_clock_gettime: {
        long ns = k_clock_get();
        uint64_t ts[2] = { (uint64_t)ns / 1000000000, (uint64_t)ns % 1000000000 };
        if (a1 == 0 || a1 == 5)     /* CLOCK_REALTIME(_COARSE): since boot, from the epoch */
            ts[0] += lx_wall_seconds() - (uint64_t)ns / 1000000000;
        return lx_copy_out(a2, ts, sizeof(ts)) ? 0 : -LX_EFAULT;
    }
    case LX_set_robust_list:
        return 0;                   /* futexes: not yet; nothing to clean at exit */
    case LX_prlimit64:
        return lx_prlimit(a2, a4);
    case LX_getrandom:
        return lx_getrandom(a1, a2);
    case LX_execve:
        return lx_execve(a1, a2, a3);
    case LX_time: {
        uint64_t t = lx_wall_seconds();
        return a1 && !lx_copy_out(a1, &t, 8) ? -LX_EFAULT : (long)t;
    }
    case LX_rseq:
        return -LX_ENOSYS;          /* no restartable sequences: glibc does without */
    case LX_prctl:
        if (a1 == 15 || a1 == 16) {  /* PR_SET_NAME, PR_GET_NAME: 16 bytes, what ps shows */
            char name[16] = { 0 };
            if (a1 == 16)
                return lx_copy_out(a2, lx.comm, 16) ? 0 : -LX_EFAULT;
            for (size_t i = 0; i < 15; i++)
                if (!lx_copy_in(&name[i], a2 + i, 1))
                    return i ? 0 : -LX_EFAULT;
                else if (!name[i])
                    break;
            memcpy(lx.comm, name, 16);
            lx_proc_report();
            return 0;
        }
        return -LX_EINVAL;
    default:
        return nosys(r->rax);
    }
}

/* ---- loading ---- */

struct elf_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1
#define PT_GNU_RELRO 0x6474e552
#define PF_X 1
#define PF_W 2
#define PF_R 4

/* Fresh zeroed memory at exactly ADDR; the address or an error. */
static long map_anon(uint64_t addr, uint64_t len, uint32_t prot)
{
    long v = k_vmo_create((long)len, K_VMO_ANON, 0, 0);
    long a = v < 0 ? v : k_vmo_map(0, v, 0, (long)len, (long)(prot | addr));
    if (v >= 0)
        k_handle_close(v);
    return a < 0 ? a : a == (long)addr ? a : -E_INVAL;
}

struct loaded {
    uint64_t entry, phdr, phnum, end;
};

static const char *load_elf_at(const uint8_t *f, size_t size, struct loaded *out, bool map);

/* Every check load_elf makes, without mapping anything. */
static const char *check_elf(const uint8_t *f, size_t size)
{
    struct loaded l;
    return load_elf_at(f, size, &l, false);
}

static const char *load_elf(const uint8_t *f, size_t size, struct loaded *out)
{
    return load_elf_at(f, size, out, true);
}

static const char *load_elf_at(const uint8_t *f, size_t size, struct loaded *out, bool map)
{
    struct elf_ehdr eh;
    if (size < sizeof(eh))
        return "shorter than an ELF header";
    memcpy(&eh, f, sizeof(eh));
    if (memcmp(eh.ident, "\177ELF", 4) || eh.ident[4] != 2 || eh.ident[5] != 1)
        return "not a 64-bit little-endian ELF file";
    if (eh.type != 2)
        return "not a static executable (ET_EXEC); static-pie is not loaded yet";
    if (eh.machine != 62)
        return "not for x86-64";
    if (eh.phentsize != sizeof(struct elf_phdr) || eh.phnum == 0 || eh.phnum > 64 ||
        eh.phoff > size || (size - eh.phoff) / sizeof(struct elf_phdr) < eh.phnum)
        return "program headers outside the file";
    out->entry = eh.entry;
    out->phnum = eh.phnum;
    out->phdr = 0;
    out->end = 0;
    bool entry_ok = false;
    /* The part made read-only after relocation (glibc's static start-up
     * mprotects it): a region of its own, since a mapping is protected as
     * a whole. */
    uint64_t relro_end = 0;
    for (unsigned i = 0; i < eh.phnum; i++) {
        struct elf_phdr ph;
        memcpy(&ph, f + eh.phoff + i * sizeof(ph), sizeof(ph));
        if (ph.type == PT_GNU_RELRO && ph.vaddr + ph.memsz >= ph.vaddr)
            relro_end = (ph.vaddr + ph.memsz) & ~(PAGE - 1);
    }
    for (unsigned i = 0; i < eh.phnum; i++) {
        struct elf_phdr ph;
        memcpy(&ph, f + eh.phoff + i * sizeof(ph), sizeof(ph));
        if (ph.type != PT_LOAD || ph.memsz == 0)
            continue;
        uint64_t lo = ph.vaddr & ~(PAGE - 1), hi = (ph.vaddr + ph.memsz + PAGE - 1) & ~(PAGE - 1);
        if (ph.filesz > ph.memsz || ph.offset > size || size - ph.offset < ph.filesz ||
            ph.vaddr + ph.memsz < ph.vaddr || lo < K_USER_BASE || hi > K_USER_STACK_TOP ||
            (lo < NATIVE_END && hi > K_NATIVE_BASE) || (ph.offset & (PAGE - 1)) != (ph.vaddr & (PAGE - 1)))
            return "a segment outside the room for Linux programs, or beyond the file";
        if ((ph.flags & PF_W) && (ph.flags & PF_X))
            return "a segment both writable and executable";
        if (!map) {
            if ((ph.flags & PF_X) && eh.entry >= ph.vaddr && eh.entry < ph.vaddr + ph.memsz)
                entry_ok = true;
            continue;
        }
        uint64_t cut[3] = { lo, hi, hi };
        unsigned parts = 1;
        if (relro_end > lo && relro_end < hi) {
            cut[1] = relro_end;
            parts = 2;
        }
        for (unsigned k = 0; k < parts; k++)
            if (map_anon(cut[k], cut[k + 1] - cut[k], K_PROT_READ | K_PROT_WRITE) < 0)
                return "cannot map a segment (overlapping, or out of memory)";
        memcpy((void *)ph.vaddr, f + ph.offset, ph.filesz);
        uint32_t prot = (ph.flags & PF_R ? K_PROT_READ : 0) | (ph.flags & PF_W ? K_PROT_WRITE : 0) |
                        (ph.flags & PF_X ? K_PROT_EXEC : 0);
        for (unsigned k = 0; k < parts; k++)
            if (vm_protect(0, (long)cut[k], (long)(cut[k + 1] - cut[k]), prot) < 0)
                return "cannot protect a segment";
        if (eh.phoff >= ph.offset && eh.phoff - ph.offset < ph.filesz)
            out->phdr = ph.vaddr + (eh.phoff - ph.offset);
        if ((ph.flags & PF_X) && eh.entry >= ph.vaddr && eh.entry < ph.vaddr + ph.memsz)
            entry_ok = true;
        if (hi > out->end)
            out->end = hi;
    }
    if (!entry_ok)
        return "the entry point is in no executable segment";
    return NULL;
}

/* The initial stack (System V x86-64 ABI, 3.4.1): argc, argv, envp, the
 * auxiliary vector, then the strings and 16 random bytes. */
#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_ENTRY 9
#define AT_UID 11
#define AT_EUID 12
#define AT_GID 13
#define AT_EGID 14
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_EXECFN 31

/* The stack for ARGC strings of ARGV and ENVC of ENVP (copied onto it:
 * they may lie anywhere); 0 when there is no room. */
static uint64_t build_stack(const struct loaded *l, int argc, char *const *argv, int envc,
                            char *const *envp)
{
    long v = k_vmo_create((long)LX_STACK_SIZE, K_VMO_ANON, 0, 0);
    uint64_t base = LX_STACK_TOP - LX_STACK_SIZE;
    if (v < 0 || k_vmo_map(0, v, 0, (long)LX_STACK_SIZE,
                           (long)(K_PROT_READ | K_PROT_WRITE | base)) != (long)base)
        return 0;
    k_handle_close(v);
    static uint64_t argp[LX_ARGS_MAX], envpp[LX_ARGS_MAX];
    if (argc > LX_ARGS_MAX || envc > LX_ARGS_MAX)
        return 0;
    char *s = (char *)LX_STACK_TOP;
    for (int i = envc - 1; i >= 0; i--) {
        size_t n = strlen(envp[i]) + 1;
        if ((uint64_t)(s - n) < base + 65536)
            return 0;
        s -= n;
        memcpy(s, envp[i], n);
        envpp[i] = (uint64_t)s;
    }
    for (int i = argc - 1; i >= 0; i--) {
        size_t n = strlen(argv[i]) + 1;
        if ((uint64_t)(s - n) < base + 65536)
            return 0;
        s -= n;
        memcpy(s, argv[i], n);
        argp[i] = (uint64_t)s;
    }
    s -= 16;
    uint64_t rnd = (uint64_t)k_clock_get() * 0x9e3779b97f4a7c15UL;
    memcpy(s, &rnd, 8);
    rnd ^= rnd >> 29;
    memcpy(s + 8, &rnd, 8);
    uint64_t random_at = (uint64_t)s;
    uint64_t aux[][2] = {
        { AT_PHDR, l->phdr }, { AT_PHENT, sizeof(struct elf_phdr) }, { AT_PHNUM, l->phnum },
        { AT_PAGESZ, PAGE }, { AT_ENTRY, l->entry }, { AT_UID, 0 }, { AT_EUID, 0 },
        { AT_GID, 0 }, { AT_EGID, 0 }, { AT_SECURE, 0 }, { AT_RANDOM, random_at },
        { AT_EXECFN, argc ? argp[0] : 0 }, { AT_NULL, 0 },
    };
    size_t words = 1 + (size_t)argc + 1 + (size_t)envc + 1 + sizeof(aux) / 8;
    uint64_t *sp = (uint64_t *)(((uint64_t)s - words * 8) & ~15UL);
    uint64_t *w = sp;
    *w++ = (uint64_t)argc;
    for (int i = 0; i < argc; i++)
        *w++ = argp[i];
    *w++ = 0;
    for (int i = 0; i < envc; i++)
        *w++ = envpp[i];
    *w++ = 0;
    memcpy(w, aux, sizeof(aux));
    return (uint64_t)sp;
}

/* ---- execve ---- */

/* Where a program being executed is read to (inside our own image's
 * room, so that it is not one of the program's mappings), and the size
 * of that mapping (0: none). */
#define STAGE_VA (K_NATIVE_BASE + 0x08000000UL)
#define STAGE_MAX (96UL << 20)
static uint64_t stage_size;
#define STRINGS_MAX (128 * 1024)

static char strings[STRINGS_MAX];
static char *exec_argv[LX_ARGS_MAX + 4], *exec_envp[LX_ARGS_MAX];

/* The program's NULL-terminated array of strings at UARR into our
 * strings from *USED on; the count or -errno. */
static long copy_strv(uint64_t uarr, char **out, int max, size_t *used)
{
    if (!uarr)
        return 0;
    for (int i = 0;; i++) {
        uint64_t p;
        if (!lx_copy_in(&p, uarr + (uint64_t)i * 8, 8))
            return -LX_EFAULT;
        if (!p)
            return i;
        if (i == max)
            return -LX_E2BIG;
        long r = lx_copy_str(strings + *used, STRINGS_MAX - *used, p);
        if (r < 0)
            return r == -LX_ENAMETOOLONG ? -LX_E2BIG : r;
        out[i] = strings + *used;
        *used += strlen(out[i]) + 1;
    }
}

static void stage_drop(void)
{
    if (stage_size)
        vm_unmap(0, (long)STAGE_VA, (long)stage_size);
    stage_size = 0;
}

/* The file at ABS read to STAGE_VA, into a mapping made for it (the one
 * before dropped): the size or -errno.  An anonymous memory object is
 * allocated and zeroed whole when it is made, so the mapping is sized to
 * the file, a page to spare to see its end (one of STAGE_MAX, 96 MiB, cost
 * every exec 75 million instructions). */
static long stage_file(const char *abs)
{
    stage_drop();
    uint64_t size;
    long c = lx_open_file(abs, &size);
    if (c < 0)
        return c;
    uint64_t room = (size + PAGE) & ~(PAGE - 1);
    long v = room <= STAGE_MAX ? k_vmo_create((long)room, K_VMO_ANON, 0, 0) : -1;
    if (v < 0 || k_vmo_map(0, v, 0, (long)room, (long)(K_PROT_READ | K_PROT_WRITE | STAGE_VA)) !=
                     (long)STAGE_VA) {
        if (v >= 0)
            k_handle_close(v);
        k_handle_close(c);
        return -LX_ENOMEM;
    }
    k_handle_close(v);
    stage_size = room;
    return lx_read_conn(c, (void *)STAGE_VA, room);
}

/* Everything of the old program goes: its mappings are every region
 * outside our own image's room and our start-up stack. */
static void unmap_program(void)
{
    static struct k_region reg[256];
    long n = k_process_regions(0, (long)reg, 256);
    for (long i = 0; i < n && i < 256; i++) {
        uint64_t a = reg[i].start, e = a + reg[i].size;
        if (a < NATIVE_END && e > K_NATIVE_BASE)
            continue;
        if ((uint64_t)(uintptr_t)rt_startup >= a && (uint64_t)(uintptr_t)rt_startup < e)
            continue;
        vm_unmap(0, (long)a, (long)reg[i].size);
    }
}

long lx_execve(uint64_t upath, uint64_t uargv, uint64_t uenvp)
{
    static char path[256], abs[256];
    long r = lx_copy_str(path, sizeof(path), upath);
    if (r < 0)
        return r;
    if (!path[0])
        return -LX_ENOENT;
    size_t used = 0;
    long argc = copy_strv(uargv, exec_argv + 2, LX_ARGS_MAX, &used);
    if (argc < 0)
        return argc;
    long envc = copy_strv(uenvp, exec_envp, LX_ARGS_MAX, &used);
    if (envc < 0)
        return envc;
    bool trace = false;             /* a system call trace on the console, for whoever debugs */
    bool shared_first = false;      /* rings and views from a descriptor's first use (tests) */
    for (long i = 0; i < envc; i++) {
        trace |= strcmp(exec_envp[i], "KESTREL_TRACE=1") == 0;
        shared_first |= strcmp(exec_envp[i], "KESTREL_SHARED=first") == 0;
    }
    char **argv = exec_argv + 2;
    if (strcmp(path, "/proc/self/exe") == 0)
        memcpy(path, lx.exe, strlen(lx.exe) + 1);
    const uint8_t *f = (const uint8_t *)STAGE_VA;
    long size = 0;
    /* #! scripts: the interpreter runs with the script's path (up to 4 deep). */
    static char named[256];         /* what execve was given: its name is the process's (comm) */
    for (int depth = 0;; depth++) {
        if ((r = lx_abspath(LX_AT_FDCWD, path, abs)) < 0)
            goto fail;
        if (depth == 0)
            memcpy(named, abs, sizeof(named));
        size = stage_file(abs);
        if (size < 0) {
            r = size;
            goto fail;
        }
        if (size < 2 || f[0] != '#' || f[1] != '!')
            break;
        if (depth == 4) {
            r = -LX_ELOOP;
            goto fail;
        }
        size_t e = 2, lim = size < 256 ? (size_t)size : 256;
        while (e < lim && f[e] != '\n')
            e++;
        static char line[256];
        size_t k = 0;
        for (size_t i = 2; i < e && k < sizeof(line) - 1; i++)
            line[k++] = (char)f[i];
        line[k] = 0;
        char *interp = line;
        while (*interp == ' ' || *interp == '\t')
            interp++;
        char *arg = interp;
        while (*arg && *arg != ' ' && *arg != '\t')
            arg++;
        if (*arg) {
            *arg++ = 0;
            while (*arg == ' ' || *arg == '\t')
                arg++;
            char *end = arg + strlen(arg);
            while (end > arg && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                *--end = 0;
        }
        if (!*interp) {
            r = -LX_ENOEXEC;
            goto fail;
        }
        /* argv becomes: interp [arg] path argv[1..] */
        int extra = *arg ? 2 : 1;
        if (argv - exec_argv < extra) {
            r = -LX_E2BIG;
            goto fail;
        }
        size_t need = strlen(interp) + strlen(arg) + strlen(path) + 3;
        if (used + need > STRINGS_MAX) {
            r = -LX_E2BIG;
            goto fail;
        }
        char *si = strings + used;
        memcpy(si, interp, strlen(interp) + 1);
        used += strlen(interp) + 1;
        char *sp = strings + used;
        memcpy(sp, path, strlen(path) + 1);
        used += strlen(path) + 1;
        if (argc > 0)
            argv[0] = sp;
        else
            argv[argc++] = sp;
        if (*arg) {
            char *sa = strings + used;
            memcpy(sa, arg, strlen(arg) + 1);
            used += strlen(arg) + 1;
            *--argv = sa;
            argc++;
        }
        *--argv = si;
        argc++;
        memcpy(path, si, strlen(si) + 1);
    }
    /* The point of no return comes after the checks that need no mapping. */
    struct elf_ehdr eh;
    if ((size_t)size < sizeof(eh)) {
        r = -LX_ENOEXEC;
        goto fail;
    }
    memcpy(&eh, f, sizeof(eh));
    const char *bad = check_elf(f, (size_t)size);
    if (bad) {
        printf("linux: execve %s: %s\n", abs, bad);
        r = -LX_ENOEXEC;
        goto fail;
    }
    unmap_program();
    struct loaded l;
    const char *why = load_elf(f, (size_t)size, &l);
    if (why) {
        printf("linux: execve %s: %s\n", abs, why);
        k_process_exit(127);
    }
    stage_drop();
    lx.brk_start = lx.brk_end = lx.brk_mapped = l.end;
    size_t n = strnlen(abs, sizeof(lx.exe) - 1);
    memcpy(lx.exe, abs, n);
    lx.exe[n] = 0;
    lx_fd_exec();
    lx_proc_exec();
    lx.trace = trace;
    lx.shared_first = shared_first;
    lx_proc_describe(named, (int)argc, argv);
    lx_proc_report();
    uint64_t sp = build_stack(&l, (int)argc, argv, (int)envc, exec_envp);
    if (!sp) {
        printf("linux: execve %s: no room for its arguments\n", abs);
        k_process_exit(127);
    }
    lx.fs_base = 0;
    k_thread_set_fs(0);
    lx_lock_give();                 /* taken in lx_syscall, which we do not return to */
    lx_start_program(l.entry, sp);
fail:
    stage_drop();
    return r;
}

/* Our process id: the kernel stamps it on a pulse we send ourselves. */
static uint64_t own_pid(void)
{
    long ch = k_chan_create(0), c = ch > 0 ? k_chan_connect(ch, 0, 0) : -1;
    struct k_msg_info info = { 0 };
    if (c > 0 && k_pulse_send(c, 1, 0, 0) == 0)
        k_msg_receive(ch, 0, 0, (long)&info);
    k_handle_close(c);
    k_handle_close(ch);
    return info.pid;
}

/* Where redirected calls run (the native stack's top holds our start-up
 * block, which stays in use). */
static char lx_stack[64 * 1024] __attribute__((aligned(65536)));   /* its base: the main thread's struct */

void *lx_stack_top(void)
{
    return lx_stack + sizeof(lx_stack);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("linux: usage: bin/linux PROGRAM [ARGS...]\n");
        return 2;
    }
    long bootfs = rt_handle("bootfs");
    long size = bootfs >= 0 ? k_vmo_size(bootfs) : -1;
    long img = size > 0 ? k_vmo_map(0, bootfs, 0, size, K_PROT_READ) : -1;
    struct cpio_entry e;
    if (img < 0 || cpio_find((const void *)img, (size_t)size, argv[1], &e) != CPIO_OK) {
        printf("linux: %s: no such file in the boot image\n", argv[1]);
        return 2;
    }
    struct loaded l;
    const char *why = load_elf(e.data, e.size, &l);
    if (why) {
        printf("linux: %s: %s\n", argv[1], why);
        return 2;
    }
    vm_unmap(0, img, (size + 4095) & ~4095L);
    lx.brk_start = lx.brk_end = lx.brk_mapped = l.end;
    lx.exe[0] = '/';
    memcpy(lx.exe + 1, argv[1], strnlen(argv[1], sizeof(lx.exe) - 2));
    static char *const envp[] = { "HOME=/", "PATH=/bin", "TERM=vt100" };
    uint64_t sp = build_stack(&l, argc - 1, argv + 1, 3, envp);
    if (!sp) {
        printf("linux: %s: no memory for its stack\n", argv[1]);
        return 2;
    }
    lx.pid = own_pid();
    struct lx_thread *mt = (struct lx_thread *)lx_stack;
    *mt = (struct lx_thread){ .tid = lx.pid, .main = true };
    lx_proc_init();
    lx_fd_init();
    lx_proc_describe(argv[1], argc - 1, argv + 1);
    lx_proc_report();
    if (k_personality_stack((long)(lx_stack + sizeof(lx_stack))) != 0 ||
        k_personality_set((long)lx_entry, (long)K_NATIVE_BASE, (long)NATIVE_END) != 0) {
        printf("linux: the kernel would not redirect our system calls\n");
        return 2;
    }
    lx_start_program(l.entry, sp);
}
