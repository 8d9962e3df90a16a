/*
 * sysfuzz: Kestrel's own system call fuzzer.
 *
 *   init=bin/sysfuzz initargs=SEED,CALLS[,children=N][,threads=N][,life=N]
 *        [,no=GROUP:GROUP...][,only=OP:OP...][,verbose=1] initexit=qemu
 *
 * One program plays three parts, told apart by argv[1].
 *
 * The parent (run as init, the only one with init's start-up handles)
 * prints its seed first, keeps CHILDREN fuzzing children alive (default:
 * CPUs + 1) and spawns a new one whenever one dies legitimately (a fault,
 * process_exit, its watchdog, or a random kill by the parent) until the
 * children have reported CALLS system calls.  Then it kills and reaps them,
 * waits for the kernel's object counters (sys_info) to come back to what
 * they were before the first child, and prints
 *     FUZZ DONE seed=S calls=N children=C leaked=L
 * (L: objects not given back, plus pages of free memory missing beyond a
 * tolerance; the counters follow when L != 0), and exits 0 only if nothing
 * leaked and no promise was broken (below).  About every two seconds it
 * prints "fuzz progress calls=N ...".  It waits on one channel for report
 * pulses (code REPORT + child, value = calls since the last report), death
 * pulses (process_watch, code DEATH + child + generation) and its timer,
 * at priority 255 FIFO; children get a ceiling of 200, so they cannot
 * starve it.
 *
 * The children ("c") are unprivileged: their start-up handles are a
 * SEND-only connection "report" to the parent and a read-only copy of the
 * boot image "image", the capability to spawn.  Both are "protected": the
 * fuzzing code never passes them (random handle values skip them); a
 * second copy of the image is in the pools for hostile use.  Everything
 * else they made themselves: channels, connections, memory objects and
 * mappings, clones, duplicates with fewer rights, threads, timers,
 * processes (grandchildren), handles received in messages.  Each of their
 * THREADS fuzzing threads (default 4) picks weighted operations (ops[]):
 * one in about fifteen is a raw call, a random number with random
 * arguments; the others build arguments for one call, mixing live objects
 * of the right type with hostile values: closed, stale, wrong-type and
 * reduced-rights handles; NULL, unmapped, kernel, non-canonical, read-only,
 * misaligned and end-of-user-space pointers; pointers into mappings that
 * another thread may be unmapping or protecting; huge, negative and
 * boundary sizes; iov arrays with bad entries and bad counts; priorities,
 * policies and CPU masks out of range.  op_promise checks what must hold
 * whatever else goes on (rights only shrink, through maps, vm_protect,
 * clones, duplicates and attachments; nothing is sent or received without
 * the right; no thread above its ceiling; no spawn without the image; no
 * memory calls on an ended process): a broken promise prints a FUZZ
 * VIOLATION line and fails the run.
 *
 * Objects live in small lock-free pools shared by the threads of a
 * process (handles, mappings, pending receive ids), so one thread uses
 * what another made while a third closes or unmaps it.  Pending receive
 * ids are never dropped (a client would wait for good): a failed answer
 * puts its id back.  Deep paths need partners, so each fuzzing process has
 *   - two resident server threads, each receiving on its own channel for
 *     good (the channel's receiving handle is kept out of the pools, or a
 *     revoke would end it); most sends go there and are answered soon,
 *     answered late by another thread, or never (the server exits while
 *     serving, and is started again);
 *   - for each fuzzing thread a channel only it receives from; it sends
 *     itself a pulse first, so its receives do not wait for a timer tick;
 *   - helper threads (thread_create, stacks from a per-process arena) with
 *     short scripts: servers that block in receive and then reply, error,
 *     msg_read/msg_write at random offsets, pass the receive id on, or exit
 *     while serving; clients sending large and small messages with
 *     attached handles; pulse floods; a mapper that unmaps and maps one
 *     address again and again while others use it as a message buffer;
 *   - grandchildren ("g"): smaller fuzzers, servers of a channel passed to
 *     them, senders, sleepers, faulters; the children map memory into
 *     them, read them, watch, kill and wait for them, and go on using their
 *     handles after they have ended.
 * Children start their threads on a CPU of their own (index modulo CPUs):
 * most calls stay on one CPU, which keeps TCG fast on several; affinity
 * calls and helpers with CPU masks move threads about.
 *
 * Each fuzzing process has a watchdog thread (its own calls are not
 * counted).  When a fuzzing thread has been in one operation for two
 * ticks, it wakes the waiters it can (pulses to the channels, errors to
 * the pending receive ids, revokes that end sends between fuzzing
 * threads); after half a second without any progress it ends the
 * process.  Grandchildren also end at a deadline: the parent cannot see
 * them, and they must be gone before the leak check.
 *
 * Reproducible from a seed: each fuzzing thread's generator is seeded from
 * (seed, child index, generation, thread index); helpers and grandchildren
 * from their creator's generator.  The order of events between threads and
 * CPUs is not reproducible: a seed gives the same mix of calls and
 * arguments, not the same interleaving.  On a kernel panic or hang the
 * debug kernel prints each CPU's last system calls (core/trace.h), and
 * tools/fuzz injects an NMI on a hang and prints how to run a seed again.
 * With verbose=1 the processes say where their time went, which calls the
 * threads of a stuck process were in (a record per thread, found by its
 * stack), and when they start and end.  no= switches off groups of
 * operations (procmem, spawn, threads, exitserve, raw, touch, bigmem,
 * protect: to get past a known bug); only= keeps the named operations.
 */
#include <stdbool.h>
#include <stdint.h>

#include "base/string.h"
#include "kestrel/exception.h"
#include "kestrel/resource.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"

#define SYS_ENUM(num, name, nargs) NR_##name = num,
enum { KESTREL_SYSCALLS(SYS_ENUM) };
#undef SYS_ENUM

#define PAGE 4096UL
#define MS (1000L * 1000)
#define KERNEL_PTR 0xffffffff80100000UL
#define MAP_AREA 0x0000100000000000UL      /* where the kernel places mappings */
#define PROMISE_AREA 0x0000600000000000UL  /* op_promise's mappings, one place per thread */

/* Pulse codes at the parent. */
#define CODE_REPORT 0x10000000L              /* + child index */
#define CODE_DEATH 0x20000000L               /* + index << 8 + generation & 0xff */
#define CODE_TIMER 0x30000000L
#define CODE_VIOLATION 0x40000000L           /* + child index: a promise broken */

/* Exit statuses with a meaning. */
#define ST_DONE 0                            /* a life's budget is spent */
#define ST_STUCK 0x5701                      /* watchdog: no call for a while */
#define ST_DEADLINE 0x5702                   /* watchdog: a grandchild's time is up */
#define ST_KILLED 0x4b11                     /* the parent's random kill */
#define ST_PSTUCK 0x4b12                     /* the parent: no report for too long */
#define ST_STOP 0x4b13                       /* the parent: the run is over */

#define MAX_THREADS 8                        /* fuzzing threads per process */
#define NSLOTS 10                            /* helper threads per process */
#define NRESIDENT 2                          /* slots 0 and 1: resident servers */
#define MAIN_STACK (32 * 1024)
#define HELPER_STACK (16 * 1024)
#define WATCH_STACK (8 * 1024)
#define MAX_DEPTH 2                          /* children 1, grandchildren 2 */
#define CHILD_CEILING 200                    /* the children's priority ceiling */

/* ---------------------------------------------------------------- */
/* Random numbers: xoshiro256**, seeded through splitmix64. */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = seed;
    x = splitmix(&x) ^ a;
    x = splitmix(&x) ^ b;
    x = splitmix(&x) ^ c;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

static uint64_t below(struct rng *r, uint64_t n)
{
    return n ? rnd(r) % n : 0;
}

static bool one_in(struct rng *r, uint64_t n)
{
    return below(r, n) == 0;
}

static uint64_t range(struct rng *r, uint64_t lo, uint64_t hi)
{
    return lo + below(r, hi - lo + 1);
}

/* ---------------------------------------------------------------- */
/* Per-thread state.  The kernel may write into `buf`, `buf2`, `info`,
 * `status` and `regions` (they are handed out as buffers); the generator
 * and the counters come first and are never handed out. */

struct fz {
    struct rng rng;
    unsigned tidx;                 /* fuzzing thread index; helpers 100 + slot */
    volatile uint64_t ncalls;      /* operations done by this thread */
    long last_rcvid;
    struct k_iov iov_a[K_IOV_MAX + 2], iov_b[K_IOV_MAX + 2];
    struct k_spawn sp;
    struct k_spawn_handle sh[K_STARTUP_MAX_HANDLES + 1];
    const char *argv[K_SPAWN_MAX_ARGS + 2];
    char args[10][24];
    struct k_thread_attr attr;
    /* Handed to the kernel to write: */
    struct k_msg_info info;
    long status;
    struct k_region regions[16];
    uint8_t buf[8192];
    uint8_t buf2[4096];
};

/* A helper thread's slot: its stack, its fz, what it runs. */
enum helper_kind { H_SERVER, H_CLIENT, H_PULSER, H_SLEEPER, H_EXIT, H_FUZZ, H_MAPPER, H_JOINER,
                   H_KINDS };

struct slot {
    volatile int state;            /* 0 free, 1 taken (set to 0 by the thread's last store) */
    enum helper_kind kind;
    long obj;                      /* the channel, connection or VMO it works on */
    unsigned rounds;
    struct rt_thread rt;
    uint8_t *stack;
    struct fz *f;
};

/* ---------------------------------------------------------------- */
/* Process-wide state. */

enum role { ROLE_PARENT, ROLE_CHILD, ROLE_GRANDCHILD };

static struct {
    enum role role;
    uint64_t seed;
    unsigned idx, gen, depth, nthreads;
    uint64_t budget;               /* calls in this life */
    uint64_t nomask;               /* operations switched off (no=) */
    uint64_t only;                 /* the only operations (only=), a mask of ops[] */
    long report;                   /* connection to the parent, or -1 */
    long image;                    /* the boot image: the capability to spawn */
    long io;                       /* I/O port 0x80 (QEMU's POST port), or -1 */
    long dma;                      /* our own PCI function (no device behind it), or -1 */
    unsigned ceiling;              /* our priority ceiling */
    /* Where our threads start: children each on a CPU of their own (most
     * calls then stay on one CPU, which keeps TCG fast with several CPUs;
     * affinity calls and helpers move threads about). */
    struct k_thread_attr home;
    long protect[3 * MAX_THREADS + 8];
    long res_chan[2], res_conn[2]; /* resident channels: private handles */
    long own_chan[MAX_THREADS], own_conn[MAX_THREADS];   /* each fuzzing thread's */
    unsigned nprotect;
    volatile uint64_t calls, reported;
    volatile int live;             /* fuzzing threads still running */
    uint64_t deadline;             /* grandchildren: end by then (ns since boot) */
    struct fz *fz[MAX_THREADS];
    struct slot slots[NSLOTS];
    uint8_t *main_stacks, *watch_stack;
    volatile uint64_t spawned;
    uint64_t res_starts;
    bool verbose;
} P;

/* The call each thread is in (or made last), found by its stack: printed
 * when a process is stuck, so a user-space hang names its calls. */
struct callrec {
    volatile long nr, ret, a[6];
    volatile bool in;
};
#define NREC (MAX_THREADS + NSLOTS + 1)
static struct callrec calls_now[NREC];

static unsigned rec_index(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t m = (uintptr_t)P.main_stacks;
    if (m && sp >= m && sp < m + P.nthreads * MAIN_STACK)
        return (unsigned)((sp - m) / MAIN_STACK);
    for (unsigned i = 0; i < NSLOTS; i++) {
        uintptr_t h = (uintptr_t)P.slots[i].stack;
        if (h && sp >= h && sp < h + HELPER_STACK)
            return MAX_THREADS + i;
    }
    return NREC - 1;
}

static long sc(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    __atomic_add_fetch(&P.calls, 1, __ATOMIC_RELAXED);
    struct callrec *c = &calls_now[rec_index()];
    c->nr = n, c->a[0] = a1, c->a[1] = a2, c->a[2] = a3, c->a[3] = a4, c->a[4] = a5, c->a[5] = a6;
    c->in = true;
    long r = rt_syscall(n, a1, a2, a3, a4, a5, a6);
    c->ret = r;
    c->in = false;
    return r;
}

#define SYS_NAME(num, name, nargs) [num] = #name,
static const char *const sysnames[KESTREL_SYSCALL_COUNT] = { KESTREL_SYSCALLS(SYS_NAME) };
#undef SYS_NAME

static void print_calls(const char *why)
{
    for (unsigned i = 0; i < NREC; i++) {
        struct callrec *c = &calls_now[i];
        if (!c->nr && !c->in)
            continue;
        const char *name = c->nr >= 0 && c->nr < KESTREL_SYSCALL_COUNT ? sysnames[c->nr] : "?";
        printf("sysfuzz %u.%u %s: thread %u %s %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)%s%ld\n",
               P.idx, P.gen, why, i, c->in ? "in" : "after", name, c->a[0], c->a[1], c->a[2],
               c->a[3], c->a[4], c->a[5], c->in ? "" : " = ", c->in ? 0 : c->ret);
    }
}

#define SC0(n) sc(NR_##n, 0, 0, 0, 0, 0, 0)
#define SC1(n, a) sc(NR_##n, (long)(a), 0, 0, 0, 0, 0)
#define SC2(n, a, b) sc(NR_##n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SC3(n, a, b, c) sc(NR_##n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SC4(n, a, b, c, d) sc(NR_##n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SC5(n, a, b, c, d, e) sc(NR_##n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define SC6(n, a, b, c, d, e, g) \
    sc(NR_##n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(g))

/* Reports the calls made since the last report (children only).  A
 * failed pulse (queue full) gives the count back for the next try. */
static void report_flush(void)
{
    if (P.report < 0)
        return;
    uint64_t now = __atomic_load_n(&P.calls, __ATOMIC_RELAXED);
    uint64_t prev = __atomic_exchange_n(&P.reported, now, __ATOMIC_ACQ_REL);
    if (now <= prev) {
        if (now < prev)
            __atomic_fetch_add(&P.reported, prev - now, __ATOMIC_ACQ_REL);
        return;
    }
    if (k_pulse_send(P.report, CODE_REPORT + P.idx, (long)(now - prev), 0) < 0)
        __atomic_fetch_sub(&P.reported, now - prev, __ATOMIC_ACQ_REL);
}

/* A life ends: what was counted goes to the parent first. */
static void print_profile(void);

static uint64_t my_pid(void);

static __attribute__((noreturn)) void life_over(long status)
{
    if (P.verbose && P.role == ROLE_CHILD)
        print_profile();
    if (P.verbose)
        printf("sysfuzz pid %lu: ends with status %#lx\n", (unsigned long)my_pid(),
               (unsigned long)status);
    report_flush();
    for (;;)
        k_process_exit(status);
}

/* Ends the calling thread; the store that frees its slot and the system
 * call are one asm block, so nothing touches the stack in between. */
static __attribute__((noreturn)) void slot_exit(volatile int *state, long status)
{
    __asm__ volatile("movl $0, (%1)\n\tsyscall"
                     :: "a"((long)NR_thread_exit), "r"(state), "D"(status)
                     : "rcx", "r11", "memory");
    __builtin_unreachable();
}

static bool is_protected(long h)
{
    for (unsigned i = 0; i < P.nprotect; i++)
        if (P.protect[i] == h)
            return true;
    if (h == P.image)
        return true;
    for (unsigned i = 0; i < P.nthreads && i < MAX_THREADS; i++)
        if (h == P.own_chan[i] || h == P.own_conn[i])
            return true;
    return false;
}

/* ---------------------------------------------------------------- */
/* Operations that can be switched off (no=NAME:NAME). */

enum nobit {
    NO_PROCMEM = 1 << 0,       /* memory calls on other processes' handles */
    NO_SPAWN = 1 << 1,         /* grandchildren */
    NO_THREADS = 1 << 2,       /* helper threads */
    NO_EXITSERVE = 1 << 3,     /* threads that exit while serving */
    NO_RAW = 1 << 4,           /* raw calls with random arguments */
    NO_TOUCH = 1 << 5,         /* user-mode accesses to the mappings */
    NO_BIGMEM = 1 << 6,        /* memory objects of the maximum size */
    NO_PROTECT = 1 << 7,       /* vm_protect */
};

static const struct { const char *name; uint64_t bit; } nonames[] = {
    { "procmem", NO_PROCMEM }, { "spawn", NO_SPAWN }, { "threads", NO_THREADS },
    { "exitserve", NO_EXITSERVE }, { "raw", NO_RAW }, { "touch", NO_TOUCH },
    { "bigmem", NO_BIGMEM }, { "protect", NO_PROTECT },
};

static bool off(uint64_t bit)
{
    return (P.nomask & bit) != 0;
}

/* ---------------------------------------------------------------- */
/* Pools, shared by the threads of a process, lock-free: entries are
 * words swapped atomically.  A thread may pick an entry another has just
 * closed or unmapped: that is the point. */

#define NH 48
#define NSTALE 16
#define NM 24
#define NRCV 16
#define NREMOTE 8

#define T_UNKNOWN 0xff                   /* received handles: type not known */

/* handle entry: handle (32 bits) | type << 32 | pages << 40 (VMOs); for a
 * connection, hpool_chan has the channel it was made from */
static uint64_t hpool[NH];
static uint32_t hpool_chan[NH];
static uint32_t stale[NSTALE];
/* mapping entry: address | (pages - 1) (6 bits) | prot << 6 | clone << 9 */
static uint64_t mpool[NM];
static uint64_t rpool[NRCV];
/* a mapping in another process: its handle (32 bits) | pages << 32, and address */
static uint64_t remote_h[NREMOTE], remote_a[NREMOTE];

static uint64_t h_entry(long h, unsigned type, uint64_t pages)
{
    return (uint32_t)h | (uint64_t)type << 32 | (pages & 0xffffff) << 40;
}

static long e_handle(uint64_t e) { return (long)(uint32_t)e; }
static unsigned e_type(uint64_t e) { return (unsigned)(e >> 32) & 0xff; }
static uint64_t e_pages(uint64_t e) { return e >> 40; }

static void stale_add(struct fz *f, long h)
{
    __atomic_store_n(&stale[below(&f->rng, NSTALE)], (uint32_t)h, __ATOMIC_RELAXED);
}

/* Puts H in the pool; the entry it displaces is usually closed (that
 * bounds the handle table), sometimes kept open and forgotten. */
static void hpool_add_conn(struct fz *f, long h, unsigned type, uint64_t pages, long chan)
{
    if (h <= 0 || is_protected(h))
        return;
    unsigned i = (unsigned)below(&f->rng, NH);
    __atomic_store_n(&hpool_chan[i], (uint32_t)chan, __ATOMIC_RELAXED);
    uint64_t old = __atomic_exchange_n(&hpool[i], h_entry(h, type, pages), __ATOMIC_ACQ_REL);
    if (old && !one_in(&f->rng, 8)) {
        SC1(handle_close, e_handle(old));
        stale_add(f, e_handle(old));
    }
}

static void hpool_add(struct fz *f, long h, unsigned type, uint64_t pages)
{
    hpool_add_conn(f, h, type, pages, 0);
}

/* A connection of the pool whose channel is known: *CHAN gets it. */
static long hpool_pick_pair(struct fz *f, long *chan)
{
    unsigned start = (unsigned)below(&f->rng, NH);
    for (unsigned i = 0; i < NH; i++) {
        unsigned j = (start + i) % NH;
        uint64_t e = __atomic_load_n(&hpool[j], __ATOMIC_RELAXED);
        uint32_t c = __atomic_load_n(&hpool_chan[j], __ATOMIC_RELAXED);
        if (e && e_type(e) == K_OBJ_CONNECTION && c) {
            *chan = c;
            return e_handle(e);
        }
    }
    return 0;
}

/* A live handle of TYPE (T_UNKNOWN also matches now and then), or 0. */
static uint64_t hpool_pick_entry(struct fz *f, unsigned type)
{
    unsigned start = (unsigned)below(&f->rng, NH);
    bool unknown_ok = one_in(&f->rng, 4);
    for (unsigned i = 0; i < NH; i++) {
        uint64_t e = __atomic_load_n(&hpool[(start + i) % NH], __ATOMIC_RELAXED);
        if (e && (type == K_OBJ_NONE || e_type(e) == type ||
                  (unknown_ok && e_type(e) == T_UNKNOWN)))
            return e;
    }
    return 0;
}

static long hpool_pick(struct fz *f, unsigned type)
{
    return e_handle(hpool_pick_entry(f, type));
}

/* Takes an entry out of the pool (for close, move). */
static long hpool_take(struct fz *f, unsigned type)
{
    unsigned start = (unsigned)below(&f->rng, NH);
    for (unsigned i = 0; i < NH; i++) {
        uint64_t *slot = &hpool[(start + i) % NH];
        uint64_t e = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (e && (type == K_OBJ_NONE || e_type(e) == type) &&
            __atomic_compare_exchange_n(slot, &e, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return e_handle(e);
    }
    return 0;
}

static void hpool_forget(long h)
{
    for (unsigned i = 0; i < NH; i++) {
        uint64_t e = __atomic_load_n(&hpool[i], __ATOMIC_RELAXED);
        if (e && e_handle(e) == h)
            __atomic_compare_exchange_n(&hpool[i], &e, 0, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED);
    }
}

static uint64_t m_entry(uintptr_t addr, uint64_t pages, unsigned prot, bool clone)
{
    return addr | ((pages - 1) & 0x3f) | (uint64_t)(prot & 7) << 6 | (uint64_t)clone << 9;
}

static uintptr_t m_addr(uint64_t e) { return e & ~0xfffUL; }
static uint64_t m_pages(uint64_t e) { return (e & 0x3f) + 1; }
static unsigned m_prot(uint64_t e) { return (unsigned)(e >> 6) & 7; }

static void mpool_add(struct fz *f, uintptr_t addr, uint64_t pages, unsigned prot, bool clone)
{
    if (pages > 64) {
        SC3(vm_unmap, 0, addr, pages * PAGE);
        return;
    }
    uint64_t old = __atomic_exchange_n(&mpool[below(&f->rng, NM)],
                                       m_entry(addr, pages, prot, clone), __ATOMIC_ACQ_REL);
    if (old && !one_in(&f->rng, 8))
        SC3(vm_unmap, 0, m_addr(old), m_pages(old) * PAGE);
}

static uint64_t mpool_pick(struct fz *f)
{
    unsigned start = (unsigned)below(&f->rng, NM);
    for (unsigned i = 0; i < NM; i++) {
        uint64_t e = __atomic_load_n(&mpool[(start + i) % NM], __ATOMIC_RELAXED);
        if (e)
            return e;
    }
    return 0;
}

static uint64_t mpool_take(struct fz *f)
{
    unsigned start = (unsigned)below(&f->rng, NM);
    for (unsigned i = 0; i < NM; i++) {
        uint64_t *slot = &mpool[(start + i) % NM];
        uint64_t e = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (e && __atomic_compare_exchange_n(slot, &e, 0, false, __ATOMIC_ACQ_REL,
                                             __ATOMIC_RELAXED))
            return e;
    }
    return 0;
}

static void mpool_update_prot(uintptr_t addr, unsigned prot)
{
    for (unsigned i = 0; i < NM; i++) {
        uint64_t e = __atomic_load_n(&mpool[i], __ATOMIC_RELAXED);
        if (e && m_addr(e) == addr) {
            uint64_t n = (e & ~(7UL << 6)) | (uint64_t)(prot & 7) << 6;
            __atomic_compare_exchange_n(&mpool[i], &e, n, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED);
        }
    }
}

/* A receive id waiting for an answer.  None is dropped: a client whose
 * receive id is forgotten would wait for good, so when the pool is full
 * the one displaced gets an error. */
static void rpool_add(struct fz *f, long rcvid)
{
    if (rcvid <= 0)
        return;
    unsigned start = (unsigned)below(&f->rng, NRCV);
    for (unsigned i = 0; i < NRCV; i++) {
        uint64_t zero = 0;
        if (__atomic_compare_exchange_n(&rpool[(start + i) % NRCV], &zero, (uint64_t)rcvid, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return;
    }
    long old = (long)__atomic_exchange_n(&rpool[start], (uint64_t)rcvid, __ATOMIC_ACQ_REL);
    if (old > 0)
        SC2(msg_error, old, E_BUSY);
}

/* After an answer to RCVID (a real one) returned RET: the client still
 * waits unless the answer went through, so the id goes back to the pool.
 * msg_reply fails with E_INVAL only when there is no such client; a
 * msg_reply_receive may have failed its reply and still received, so its
 * id always goes back (a second answer then just fails). */
static void rpool_add(struct fz *f, long rcvid);

static void after_reply(struct fz *f, long rcvid, long ret)
{
    if (rcvid > 0 && ret < 0 && ret != -E_INVAL)
        rpool_add(f, rcvid);
}

static void after_error(struct fz *f, long rcvid, long err, long ret)
{
    if (rcvid > 0 && ret < 0 && (err <= 0 || err > 0xffff))
        rpool_add(f, rcvid);
}

static void after_reply_receive(struct fz *f, long rcvid, long ret)
{
    if (rcvid > 0 && ret != -E_INVAL)
        rpool_add(f, rcvid);
}

static long rpool_get(struct fz *f, bool take)
{
    unsigned start = (unsigned)below(&f->rng, NRCV);
    for (unsigned i = 0; i < NRCV; i++) {
        uint64_t *slot = &rpool[(start + i) % NRCV];
        uint64_t e = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (!e)
            continue;
        if (!take)
            return (long)e;
        if (__atomic_compare_exchange_n(slot, &e, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return (long)e;
    }
    return 0;
}

static void remote_add(struct fz *f, long ph, uintptr_t addr, uint64_t pages)
{
    unsigned i = (unsigned)below(&f->rng, NREMOTE);
    __atomic_store_n(&remote_h[i], (uint32_t)ph | (pages & 0xffff) << 32, __ATOMIC_RELAXED);
    __atomic_store_n(&remote_a[i], addr, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- */
/* Hostile values. */

/* A handle for an argument that wants TYPE. */
static long gen_handle(struct fz *f, unsigned type)
{
    struct rng *r = &f->rng;
    long h;
    unsigned k = (unsigned)below(r, 100);
    if (k < 68)
        h = hpool_pick(f, type);
    else if (k < 78)
        h = hpool_pick(f, K_OBJ_NONE);               /* likely the wrong type */
    else if (k < 84)
        h = stale[below(r, NSTALE)];                 /* closed */
    else if (k < 87)
        h = 0;
    else if (k < 90)
        h = (long)range(r, 1, 64) | (long)below(r, 4) << 16;
    else if (k < 93)
        h = (long)(uint32_t)rnd(r);
    else if (k < 95)
        h = (long[]){ -1, -2, (long)1 << 40, (long)0x8000000000000000UL, 0x7fffffff }[below(r, 5)];
    else {
        h = hpool_pick(f, type);
        h ^= (long)range(r, 1, 0xff) << 16;          /* same slot, another generation */
    }
    if (is_protected(h))
        h = 0x7fffffff;
    return h;
}

static uint32_t gen_rights(struct fz *f)
{
    struct rng *r = &f->rng;
    switch (below(r, 10)) {
    case 0:
        return K_RIGHTS_ALL;
    case 1:
        return (uint32_t)rnd(r);                     /* bits beyond the defined ones */
    case 2:
        return 0;
    default:
        return (uint32_t)rnd(r) & K_RIGHTS_ALL;
    }
}

/* A scratch buffer of some thread of this process (usually our own). */
static uint8_t *scratch(struct fz *f, size_t *cap)
{
    if (one_in(&f->rng, 6)) {
        unsigned n = P.nthreads ? P.nthreads : 1;
        struct fz *o = P.fz[below(&f->rng, n)];
        if (o) {
            *cap = sizeof(o->buf);
            return o->buf;
        }
    }
    if (one_in(&f->rng, 5)) {
        *cap = sizeof(f->buf2);
        return f->buf2;
    }
    *cap = sizeof(f->buf);
    return f->buf;
}

/* A user pointer for a buffer of LEN bytes. */
static uintptr_t gen_ptr(struct fz *f, uint64_t len)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 100);
    if (k < 50) {
        size_t cap;
        uint8_t *b = scratch(f, &cap);
        uint64_t room = len < cap ? cap - len : 0;
        return (uintptr_t)b + (room ? below(r, room + 1) : 0);
    }
    if (k < 72) {
        uint64_t e = mpool_pick(f);
        if (e) {
            uint64_t size = m_pages(e) * PAGE;
            uint64_t room = len < size ? size - len : 0;
            return m_addr(e) + (room && !one_in(r, 3) ? below(r, room + 1) : 0);
        }
        return 0;
    }
    switch (k) {
    case 72: case 73: case 74:
        return 0;
    case 75: case 76:
        return range(r, 1, 0x3fffff);                        /* below the program */
    case 77: case 78: case 79:
        return 0x0000200000000000UL + below(r, 1 << 20) * PAGE + below(r, 2) * below(r, PAGE);
    case 80: case 81:
        return KERNEL_PTR + below(r, 1 << 20);
    case 82:
        return 0xffff800000000000UL + below(r, 1UL << 30);
    case 83: case 84:
        return (uintptr_t[]){ 0x0000800000000000UL, 0x8000000000000000UL, 0xdead000000000000UL,
                              0x00007ffffffff000UL, 0xfffffffffffff000UL }[below(r, 5)];
    case 85: case 86:
        return K_USER_TOP - below(r, 2 * PAGE);              /* runs off the end */
    case 87: case 88:
        return (uintptr_t)&gen_ptr + below(r, 64);           /* read-only text */
    case 89:
        return K_USER_STACK_TOP - K_USER_STACK_SIZE - PAGE;  /* the guard below the stack */
    case 90: case 91: {
        uint64_t e = mpool_pick(f);                           /* misaligned, near the end */
        return e ? m_addr(e) + m_pages(e) * PAGE - below(r, 64) : 0;
    }
    case 92: {
        uint64_t i = below(r, NREMOTE);                      /* another process's address */
        return __atomic_load_n(&remote_a[i], __ATOMIC_RELAXED);
    }
    default:
        return rnd(r) >> below(r, 64);
    }
}

/* A length: usually one that fits, often a boundary, sometimes absurd. */
static long gen_len(struct fz *f, long fits)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 100);
    if (k < 45)
        return (long)below(r, (uint64_t)fits + 1);
    if (k < 58)
        return (long)below(r, 17);
    if (k < 66)
        return K_SMALL_MSG - 1 + (long)below(r, 3);
    if (k < 72)
        return (long)PAGE - 1 + (long)below(r, 3);
    if (k < 76)
        return 0;
    switch (k) {
    case 76: case 77:
        return -1;
    case 78:
        return (long)0x8000000000000000UL;
    case 79:
        return 0x7fffffffffffffffL;
    case 80: case 81:
        return (long)K_MSG_MAX + (long)below(r, 2);
    case 82:
        return 1L << 32;
    case 83:
        return 1L << 40;
    case 84: case 85:
        return 65536 + (long)below(r, 2);
    case 86: case 87:
        return -(long)below(r, 1 << 20);
    default:
        return (long)(rnd(r) >> below(r, 64));
    }
}

/* A buffer for the kernel to read or write: pointer and length, most of
 * the time a valid pair (scratch or a mapping, small or large). */
static void gen_buf(struct fz *f, uintptr_t *p, long *len)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 10);
    if (k < 5) {                                     /* small: staged in the kernel */
        *len = (long)below(r, K_SMALL_MSG + 1);
        *p = gen_ptr(f, (uint64_t)*len);
    } else if (k < 7) {                              /* large: copied across spaces */
        uint64_t e = mpool_pick(f);
        if (e && one_in(r, 2)) {
            *len = (long)range(r, K_SMALL_MSG + 1, m_pages(e) * PAGE);
            *p = m_addr(e) + below(r, m_pages(e) * PAGE - (uint64_t)*len + 1);
        } else {
            size_t cap;
            uint8_t *b = scratch(f, &cap);
            *len = (long)range(r, K_SMALL_MSG + 1, cap);
            *p = (uintptr_t)b + below(r, cap - (uint64_t)*len + 1);
        }
    } else {
        *len = gen_len(f, 4096);
        *p = gen_ptr(f, *len > 0 ? (uint64_t)*len : 0);
    }
}

/* An iov argument pair (pointer, parts) into IOV: flat buffers (parts < 0),
 * arrays of good and bad entries, bad arrays, bad counts. */
static void gen_iov(struct fz *f, struct k_iov *iov, long *uiov, long *parts)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 100);
    if (k < 35) {
        uintptr_t p;
        long len;
        gen_buf(f, &p, &len);
        *uiov = (long)p;
        *parts = len > 0 ? -len : (one_in(r, 2) ? 0 : len);
        return;
    }
    if (k < 85) {
        unsigned n = one_in(r, 8) ? (unsigned)below(r, K_IOV_MAX + 2) : (unsigned)below(r, 5);
        for (unsigned i = 0; i < n; i++) {
            uintptr_t p;
            long len;
            if (one_in(r, 6)) {
                len = gen_len(f, 256);
                p = gen_ptr(f, 0);
            } else {
                gen_buf(f, &p, &len);
                if (len < 0)
                    len = 0;
                if (n > 2)
                    len /= n;
            }
            iov[i].base = (void *)p;
            iov[i].len = (size_t)len;
        }
        *uiov = one_in(r, 20) ? (long)(iov) + (long)range(r, 1, 7) : (long)iov;   /* misaligned */
        *parts = n;
        return;
    }
    if (k < 92) {
        *uiov = (long)gen_ptr(f, sizeof(struct k_iov));
        *parts = (long)range(r, 1, 4);
        return;
    }
    *uiov = (long)iov;
    *parts = (long[]){ K_IOV_MAX + 1, -(long)K_MSG_MAX - 1, 1L << 40, (long)0x8000000000000000UL,
                       -1, 0x7fffffffffffffffL, 1000 }[below(r, 7)];
}

/* A pointer for a struct the kernel fills (info, status, sysinfo). */
static long gen_out(struct fz *f, void *good, uint64_t size)
{
    if (!one_in(&f->rng, 5))
        return (long)good;
    if (one_in(&f->rng, 3))
        return 0;
    return (long)gen_ptr(f, size);
}

static long gen_prio(struct fz *f)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 100);
    if (k < 75)
        return (long)range(r, 1, P.ceiling ? P.ceiling : 200);
    if (k < 85)
        return (long)range(r, 1, 255);               /* maybe above the ceiling */
    return (long[]){ 0, 256, -1, 1000, 1L << 32, (long)0x8000000000000000UL }[below(r, 6)];
}

static long gen_policy(struct fz *f)
{
    if (!one_in(&f->rng, 8))
        return one_in(&f->rng, 2) ? K_SCHED_FIFO : K_SCHED_RR;
    return (long[]){ 0, 3, -1, 7, 1L << 33 }[below(&f->rng, 5)];
}

static long gen_cpumask(struct fz *f)
{
    switch (below(&f->rng, 8)) {
    case 0:
        return 0;
    case 1:
        return -1;
    case 2:
        return 1L << 63;
    case 3:
        return (long)rnd(&f->rng);
    default:
        return 1L << below(&f->rng, 4);
    }
}

static long gen_ns(struct fz *f)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 100);
    if (k < 75)
        return (long)below(r, MS / 4);
    if (k < 85)
        return (long)range(r, 1 * MS, 5 * MS);
    if (k < 95)
        return 0;
    return (long[]){ -1, (long)0x8000000000000000UL, 1000, 999999 }[below(r, 4)];
}

static long gen_status(struct fz *f)
{
    return (long[]){ 0, 1, -1, 0x100 | 14, (long)rnd(&f->rng), 0x7fffffff,
                     (long)below(&f->rng, 300) }[below(&f->rng, 7)];
}

static long gen_code(struct fz *f)
{
    if (!one_in(&f->rng, 6))
        return (long)below(&f->rng, 1000);
    return (long[]){ -1, 0xffffffffL, 0x100000000L, (long)rnd(&f->rng) }[below(&f->rng, 4)];
}

static long gen_rcvid(struct fz *f, bool take, bool *taken)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 100);
    *taken = false;
    if (k < 55) {
        *taken = take;
        return rpool_get(f, take);
    }
    if (k < 70)
        return rpool_get(f, false);                  /* someone else may reply to it */
    if (k < 78)
        return f->last_rcvid;
    return (long[]){ 0, -1, (long)range(r, 1, 400), (long)rnd(r), -5,
                     0x7fffffffffffffffL }[below(r, 6)];
}

/* Any value at all, for raw calls. */
static long gen_any(struct fz *f)
{
    switch (below(&f->rng, 8)) {
    case 0: case 1:
        return gen_handle(f, K_OBJ_NONE);
    case 2: case 3:
        return (long)gen_ptr(f, 64);
    case 4: case 5:
        return gen_len(f, 256);
    case 6:
        return (long)below(&f->rng, 8);
    default:
        return (long)rnd(&f->rng);
    }
}

/* ---------------------------------------------------------------- */
/* Helper threads. */

static void fuzz_steps(struct fz *f, uint64_t n);
static long pick_conn(struct fz *f);
static long pick_chan_primed(struct fz *f);
static void serve(struct fz *f, long rcvid, bool helper, volatile int *slot_state);

static void helper_run(struct slot *s)
{
    struct fz *f = s->f;
    struct rng *r = &f->rng;
    switch (s->kind) {
    case H_SERVER:
        for (unsigned i = 0; i < s->rounds; i++) {
            long uiov, parts;
            gen_iov(f, f->iov_b, &uiov, &parts);
            long ch = s->rounds != ~0u && one_in(r, 4) ? gen_handle(f, K_OBJ_CHANNEL) : s->obj;
            long rcvid = SC4(msg_receive, ch, uiov, parts, gen_out(f, &f->info, sizeof(f->info)));
            if ((rcvid == -E_DEAD || rcvid == -E_BADHANDLE || rcvid == -E_WRONGTYPE) &&
                ch == s->obj && s->rounds != ~0u && one_in(r, 2))
                break;
            if (rcvid > 0) {
                if (f->info.handle)
                    hpool_add(f, f->info.handle, T_UNKNOWN, 0);
                serve(f, rcvid, true, &s->state);
            }
        }
        break;
    case H_CLIENT:
        for (unsigned i = 0; i < s->rounds; i++) {
            long su, sp, ru, rp;
            gen_iov(f, f->iov_a, &su, &sp);
            gen_iov(f, f->iov_b, &ru, &rp);
            if (one_in(r, 4))
                SC3(handle_attach, gen_handle(f, K_OBJ_NONE), gen_rights(f), below(r, 2));
            long c = one_in(r, 4) ? pick_conn(f) : s->obj;
            long st = SC5(msg_send, c, su, sp, ru, rp);
            if (st == -E_DEAD || st == -E_REVOKED || st == -E_BADHANDLE)
                if (one_in(r, 2))
                    break;
            long h = SC0(handle_received);
            if (h > 0)
                hpool_add(f, h, T_UNKNOWN, 0);
        }
        break;
    case H_PULSER:
        for (unsigned i = 0; i < s->rounds * 8; i++)
            if (SC4(pulse_send, s->obj, gen_code(f), (long)rnd(r), below(r, 4) ? 0 : gen_prio(f)) ==
                -E_FULL && one_in(r, 4))
                break;
        break;
    case H_SLEEPER:
        SC1(thread_sleep, gen_ns(f));
        break;
    case H_EXIT:
        break;
    case H_FUZZ:
        fuzz_steps(f, s->rounds * 20);
        break;
    case H_MAPPER: {
        /* Maps and unmaps one object at one address while the address is
         * in the mapping pool, where others take it for their buffers. */
        uint64_t pages = range(r, 1, 4);
        long a = SC5(vmo_map, 0, s->obj, 0, pages * PAGE, K_PROT_READ | K_PROT_WRITE);
        if (a <= 0)
            break;
        mpool_add(f, (uintptr_t)a, pages, K_PROT_READ | K_PROT_WRITE, false);
        for (unsigned i = 0; i < s->rounds; i++) {
            if (SC3(vm_unmap, 0, a, pages * PAGE) != 0)
                break;
            if (one_in(r, 3))
                SC0(thread_yield);
            long b = SC5(vmo_map, 0, s->obj, 0, pages * PAGE,
                         (one_in(r, 4) ? K_PROT_READ : K_PROT_READ | K_PROT_WRITE) | (long)a);
            if (b != a)
                break;
        }
        break;
    }
    case H_JOINER:
        SC2(thread_join, gen_handle(f, K_OBJ_THREAD), gen_out(f, &f->status, 8));
        break;
    default:
        break;
    }
}

static long helper_main(void *arg)
{
    struct slot *s = arg;
    helper_run(s);
    slot_exit(&s->state, (long)s->kind);
}

/* (Re)starts resident server I: it receives on the resident channel for
 * good (unless it exits while serving), so that sends to it are answered
 * soon and the fuzzing threads spend their time in calls, not waiting. */
static void resident_start(unsigned i, uint64_t seed)
{
    struct slot *s = &P.slots[i];
    int zero = 0;
    if (!s->stack || P.res_chan[i] <= 0 ||
        !__atomic_compare_exchange_n(&s->state, &zero, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    s->kind = H_SERVER;
    s->obj = P.res_chan[i];
    s->rounds = ~0u;
    memset(s->f, 0, sizeof(*s->f));
    rng_seed(&s->f->rng, seed, P.idx, P.gen, 2000 + i);
    s->f->tidx = 100 + i;
    long h = rt_thread_spawn(&s->rt, helper_main, s, s->stack, HELPER_STACK, &P.home);
    if (h < 0)
        __atomic_store_n(&s->state, 0, __ATOMIC_RELEASE);
    else
        k_handle_close(h);
}

/* Starts a helper thread of a random kind; returns the thread handle or
 * an error. */
static long helper_start(struct fz *f)
{
    struct rng *r = &f->rng;
    unsigned start = (unsigned)below(r, NSLOTS - NRESIDENT);
    struct slot *s = NULL;
    for (unsigned i = 0; i < NSLOTS - NRESIDENT && !s; i++) {
        struct slot *t = &P.slots[NRESIDENT + (start + i) % (NSLOTS - NRESIDENT)];
        int zero = 0;
        if (t->stack && __atomic_compare_exchange_n(&t->state, &zero, 1, false, __ATOMIC_ACQ_REL,
                                                    __ATOMIC_RELAXED))
            s = t;
    }
    if (!s)
        return -E_FULL;
    unsigned k = (unsigned)below(r, 100);
    s->kind = k < 30 ? H_SERVER : k < 50 ? H_CLIENT : k < 58 ? H_PULSER : k < 64 ? H_SLEEPER :
              k < 72 ? H_EXIT : k < 84 ? H_FUZZ : k < 94 ? H_MAPPER : H_JOINER;
    if (off(NO_EXITSERVE) && s->kind == H_SERVER && one_in(r, 2))
        s->kind = H_CLIENT;
    s->obj = gen_handle(f, s->kind == H_SERVER ? K_OBJ_CHANNEL :
                           s->kind == H_MAPPER ? K_OBJ_VMO : K_OBJ_CONNECTION);
    s->rounds = (unsigned)range(r, 1, 12);
    memset(s->f, 0, sizeof(*s->f));
    rng_seed(&s->f->rng, rnd(r), P.idx, P.gen, 1000 + (unsigned)(s - P.slots));
    s->f->tidx = 100 + (unsigned)(s - P.slots);
    struct k_thread_attr *a = NULL;
    if (one_in(r, 2)) {
        a = &f->attr;
        a->priority = one_in(r, 3) ? 0 : (uint32_t)range(r, 1, 200);
        a->policy = one_in(r, 2) ? K_SCHED_RR : K_SCHED_FIFO;
        a->cpu_mask = one_in(r, 2) ? 0 : 1UL << below(r, 4);
    }
    __atomic_add_fetch(&P.calls, 1, __ATOMIC_RELAXED);
    long h = rt_thread_spawn(&s->rt, helper_main, s, s->stack, HELPER_STACK, a);
    if (h < 0)
        __atomic_store_n(&s->state, 0, __ATOMIC_RELEASE);
    return h;
}

/* ---------------------------------------------------------------- */
/* Serving a received message, by a fuzzing thread or a helper. */

static void serve(struct fz *f, long rcvid, bool helper, volatile int *slot_state)
{
    struct rng *r = &f->rng;
    f->last_rcvid = rcvid;
    unsigned k = (unsigned)below(r, 100);
    if (helper && one_in(r, 2))
        k = (unsigned)below(r, 65);                  /* mostly answered at once */
    long uiov, parts;
    if (k < 30) {
        gen_iov(f, f->iov_a, &uiov, &parts);
        after_reply(f, rcvid, SC4(msg_reply, rcvid, gen_status(f), uiov, parts));
    } else if (k < 40) {
        long err = one_in(r, 5) ? gen_status(f) : (long)range(r, 1, 16);
        after_error(f, rcvid, err, SC2(msg_error, rcvid, err));
    } else if (k < 55) {
        uintptr_t p;
        long len;
        gen_buf(f, &p, &len);
        SC4(msg_read, rcvid, one_in(r, 2) ? 0 : gen_len(f, 64), p, len);
        if (one_in(r, 3)) {
            gen_buf(f, &p, &len);
            SC4(msg_write, rcvid, one_in(r, 2) ? 0 : gen_len(f, 64), p, len);
        }
        gen_iov(f, f->iov_a, &uiov, &parts);
        after_reply(f, rcvid, SC4(msg_reply, rcvid, gen_status(f), uiov, parts));
    } else if (k < 65) {
        uintptr_t p;
        long len;
        gen_buf(f, &p, &len);
        SC4(msg_write, rcvid, gen_len(f, 64), p, len);
        if (one_in(r, 4))
            SC3(handle_attach, gen_handle(f, K_OBJ_NONE), gen_rights(f), below(r, 2));
        after_reply(f, rcvid, SC4(msg_reply, rcvid, gen_status(f), 0, 0));
    } else if (k < 78) {
        rpool_add(f, rcvid);                         /* another thread answers it */
    } else if (k < 88) {
        gen_iov(f, f->iov_a, &uiov, &parts);
        long rr = SC6(msg_reply_receive, rcvid, gen_status(f), uiov, parts,
                      pick_chan_primed(f), gen_out(f, &f->info, sizeof(f->info)));
        after_reply_receive(f, rcvid, rr);
        if (rr > 0)
            rpool_add(f, rr);
    } else if (k < 94) {
        uint64_t e = mpool_take(f);                  /* unmap a buffer, then reply */
        if (e)
            SC3(vm_unmap, 0, m_addr(e), m_pages(e) * PAGE);
        gen_iov(f, f->iov_a, &uiov, &parts);
        after_reply(f, rcvid, SC4(msg_reply, rcvid, gen_status(f), uiov, parts));
    } else if (helper && !off(NO_EXITSERVE)) {
        /* Exit while serving: the client is left waiting on a thread
         * that is gone while the process has others. */
        if (one_in(r, 16)) {
            report_flush();
            SC1(process_exit, gen_status(f));
        }
        slot_exit(slot_state, 0x5e);
    } else {
        rpool_add(f, rcvid);
    }
}

/* ---------------------------------------------------------------- */
/* Grandchildren. */

static const char *const roles[] = { "fuzz", "serve", "send", "exit", "sleep", "fault" };

static char *num(char *buf, uint64_t v)
{
    snprintf(buf, 24, "%lu", (unsigned long)v);
    return buf;
}

static long spawn_valid(struct fz *f)
{
    struct rng *r = &f->rng;
    unsigned role = (unsigned)below(r, 6);
    if (role == 0 && P.depth + 1 > MAX_DEPTH)
        role = 1 + (unsigned)below(r, 5);
    uint64_t n = __atomic_add_fetch(&P.spawned, 1, __ATOMIC_RELAXED);
    f->argv[0] = "bin/sysfuzz";
    f->argv[1] = "g";
    f->argv[2] = roles[role];
    f->argv[11] = NULL;
    f->argv[3] = num(f->args[0], rnd(r));
    f->argv[4] = num(f->args[1], P.idx);
    f->argv[5] = num(f->args[2], P.gen * 1000 + n);
    f->argv[6] = num(f->args[3], P.depth + 1);
    f->argv[7] = num(f->args[4], P.nomask);
    f->argv[9] = num(f->args[6], P.only);
    uint32_t ceiling = (uint32_t)range(r, 1, P.ceiling);
    f->argv[10] = num(f->args[7], ceiling);
    f->argv[8] = num(f->args[5], range(r, 50, 1000));      /* deadline, ms */
    unsigned nh = (unsigned)below(r, 4);
    unsigned i = 0;
    if (role == 0 && P.image > 0) {                  /* a fuzzer may spawn too */
        f->sh[0] = (struct k_spawn_handle){ (uint32_t)P.image, K_RIGHT_READ | K_RIGHT_MAP |
                                            K_RIGHT_DUP | K_RIGHT_TRANSFER, "image" };
        i = 1;
        nh++;
    }
    for (; i < nh; i++) {
        uint64_t e = hpool_pick_entry(f, K_OBJ_NONE);
        unsigned t = e_type(e);
        f->sh[i].handle = (uint32_t)e_handle(e);
        f->sh[i].rights = one_in(r, 4) ? gen_rights(f) :
                          t == K_OBJ_CHANNEL ? K_RIGHT_RECEIVE | K_RIGHT_DUP :
                          t == K_OBJ_CONNECTION ? K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER :
                          K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP | K_RIGHT_DUP;
        const char *name = t == K_OBJ_CHANNEL ? "chan" : t == K_OBJ_CONNECTION ? "conn" :
                           t == K_OBJ_VMO ? "vmo" : "x";
        memset(f->sh[i].name, 0, sizeof(f->sh[i].name));
        memcpy(f->sh[i].name, name, strlen(name));
    }
    f->sp = (struct k_spawn){ .argc = 11, .nhandles = nh, .argv = f->argv, .handles = f->sh,
                              .priority = (uint32_t)range(r, 1, ceiling),
                              .prio_max = ceiling, .image = (uint32_t)P.image,
                              .exception = !one_in(r, 5) ? 0 :
                                           one_in(r, 4) ? K_SPAWN_EXCEPTION_INHERIT :
                                           (uint32_t)gen_handle(f, K_OBJ_CONNECTION) };
    long h = SC3(process_spawn, "bin/sysfuzz", 11, &f->sp);
    if (h > 0)
        hpool_add(f, h, K_OBJ_PROCESS, 0);
    return h;
}

static void spawn_hostile(struct fz *f)
{
    struct rng *r = &f->rng;
    static const char *const paths[] = { "bin/nope", "manifest", "bin/sysfuzz", "bin/", "",
                                         "bin/sysfuzzz", "tests/caps.manifest" };
    const char *path = paths[below(r, 7)];
    long upath = (long)path, len = (long)strlen(path);
    switch (below(r, 6)) {
    case 0:
        upath = (long)gen_ptr(f, 16);
        break;
    case 1:
        len = gen_len(f, 16);
        break;
    default:
        break;
    }
    f->argv[0] = "bin/sysfuzz";
    f->argv[1] = "g";
    f->argv[2] = "exit";
    f->argv[3] = (const char *)gen_ptr(f, 8);
    for (unsigned i = 4; i < K_SPAWN_MAX_ARGS + 2; i++)
        f->argv[i] = one_in(r, 2) ? "x" : (const char *)gen_ptr(f, 4);
    unsigned nh = (unsigned)below(r, 4);
    for (unsigned i = 0; i < nh; i++) {
        f->sh[i].handle = (uint32_t)gen_handle(f, K_OBJ_NONE);
        f->sh[i].rights = gen_rights(f);
        for (unsigned j = 0; j < sizeof(f->sh[i].name); j++)
            f->sh[i].name[j] = (char)rnd(r);          /* maybe no NUL */
    }
    f->sp = (struct k_spawn){
        .argc = one_in(r, 2) ? (uint32_t)below(r, 5) : (uint32_t)rnd(r),
        .nhandles = one_in(r, 2) ? nh : (uint32_t)range(r, 0, 40),
        .argv = one_in(r, 3) ? (const char *const *)gen_ptr(f, 64) : f->argv,
        .handles = one_in(r, 3) ? (const struct k_spawn_handle *)gen_ptr(f, 64) : f->sh,
        .priority = (uint32_t)gen_prio(f),
        .exception = !one_in(r, 3) ? 0 : one_in(r, 8) ? K_SPAWN_EXCEPTION_INHERIT :
                     (uint32_t)gen_handle(f, K_OBJ_NONE),
        .prio_max = one_in(r, 3) ? 0 : (uint32_t)gen_prio(f),
        .image = one_in(r, 2) ? (uint32_t)P.image :
                 one_in(r, 2) ? (uint32_t)gen_handle(f, K_OBJ_VMO) : 0,
    };
    long usp = one_in(r, 5) ? (one_in(r, 2) ? 0 : (long)gen_ptr(f, sizeof(f->sp))) : (long)&f->sp;
    long h = SC3(process_spawn, upath, len, usp);
    if (h > 0)
        hpool_add(f, h, K_OBJ_PROCESS, 0);
}

/* ---------------------------------------------------------------- */
/* The operations.  Each makes one system call or a few related ones. */

typedef void (*op_fn)(struct fz *f);

static void op_raw(struct fz *f)
{
    struct rng *r = &f->rng;
    if (off(NO_RAW))
        return;
    long n = (long)below(r, KESTREL_SYSCALL_COUNT + 6) - 2;
    if (one_in(r, 50))
        n = (long)rnd(r);
    if ((n == NR_thread_exit || n == NR_process_exit || n == NR_thread_create) &&
        !one_in(r, 200))
        n = NR_clock_get;                            /* these end lives: rarely */
    if (n == NR_thread_join || n == NR_process_wait)
        if (!one_in(r, 4))
            n = NR_thread_yield;                     /* these block, maybe for good */
    if (n == NR_personality_set && P.depth >= MAX_DEPTH)
        n = NR_clock_get;                            /* see op_personality */
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = gen_any(f);
    if (n == NR_thread_sleep && a[0] > 0)
        a[0] &= 0xfffff;                             /* at most a millisecond */
    if (n == NR_process_kill && a[0] == 0)
        a[0] = 0x7fffffff;                           /* not ourselves: that is process_exit */
    if (n == NR_vmo_create && (uint64_t)a[0] > (64UL << 20))
        a[0] = (long)PAGE;
    long ret = sc(n, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (ret > 0 && ret < (1L << 32) &&
        (n == NR_chan_create || n == NR_chan_connect || n == NR_handle_dup ||
         n == NR_vmo_create || n == NR_vmo_clone || n == NR_timer_create))
        hpool_add(f, ret, T_UNKNOWN, 0);
}

static void op_debug_write(struct fz *f)
{
    static const char dot[] = "";
    long len = gen_len(f, 0);
    long p = (long)gen_ptr(f, 16);
    /* Valid pointers write nothing (length 0), so the console stays readable. */
    if ((uintptr_t)p >= K_USER_BASE && (uintptr_t)p < K_USER_TOP && len > 0 && len < (1L << 20))
        len = 0;
    if (one_in(&f->rng, 4)) {
        p = (long)dot;
        len = 0;
    }
    SC2(debug_write, p, len);
}

static void op_sys_info(struct fz *f)
{
    long what = one_in(&f->rng, 4) ? (long)rnd(&f->rng) % 5 : K_INFO_KERNEL_OBJECTS;
    long ph = one_in(&f->rng, 2) ? 0 : gen_handle(f, K_OBJ_PROCESS);   /* K_INFO_SERVING's */
    size_t size = sizeof(struct k_serving) > sizeof(struct k_sysinfo) ? sizeof(struct k_serving)
                                                                    : sizeof(struct k_sysinfo);
    SC3(sys_info, what, gen_out(f, f->buf, size), ph);
}

static void op_close(struct fz *f)
{
    long h = one_in(&f->rng, 3) ? gen_handle(f, K_OBJ_NONE) : hpool_take(f, K_OBJ_NONE);
    if (SC1(handle_close, h) == 0) {
        hpool_forget(h);
        stale_add(f, h);
    }
}

static void op_dup(struct fz *f)
{
    uint64_t e = hpool_pick_entry(f, K_OBJ_NONE);
    long h = e && !one_in(&f->rng, 5) ? e_handle(e) : gen_handle(f, K_OBJ_NONE);
    long d = SC2(handle_dup, h, gen_rights(f));
    if (d > 0)
        hpool_add(f, d, e ? e_type(e) : T_UNKNOWN, e ? e_pages(e) : 0);
}

static void op_thread_create(struct fz *f)
{
    struct rng *r = &f->rng;
    if (!off(NO_THREADS) && !one_in(r, 5)) {
        long h = helper_start(f);
        if (h > 0)
            hpool_add(f, h, K_OBJ_THREAD, 0);
        return;
    }
    /* Hostile: bad entry, stack, attributes.  An entry or stack that is
     * a user address but not mapped makes a thread that faults at once
     * (and the process with it): rare. */
    long entry = one_in(r, 4) ? (long)gen_ptr(f, 1) : (long)KERNEL_PTR;
    long stack = one_in(r, 2) ? (long)gen_ptr(f, 0) : (long)KERNEL_PTR;
    if (!one_in(r, 64)) {
        if ((uintptr_t)entry < K_USER_TOP)
            entry = one_in(r, 2) ? (long)KERNEL_PTR : -1;
    }
    f->attr = (struct k_thread_attr){ (uint32_t)gen_prio(f), (uint32_t)gen_policy(f),
                                      (uint64_t)gen_cpumask(f) };
    long h = SC4(thread_create, entry, stack, rnd(r), gen_out(f, &f->attr, sizeof(f->attr)));
    if (h > 0)
        hpool_add(f, h, K_OBJ_THREAD, 0);
}

static void op_thread_join(struct fz *f)
{
    SC2(thread_join, gen_handle(f, K_OBJ_THREAD), gen_out(f, &f->status, 8));
}

static void op_thread_sched(struct fz *f)
{
    long h = one_in(&f->rng, 3) ? 0 : gen_handle(f, K_OBJ_THREAD);
    SC3(thread_sched, h, gen_prio(f), gen_policy(f));
}

static void op_thread_affinity(struct fz *f)
{
    long h = one_in(&f->rng, 3) ? 0 : gen_handle(f, K_OBJ_THREAD);
    SC2(thread_affinity, h, gen_cpumask(f));
}

static void op_yield(struct fz *f)
{
    (void)f;
    SC0(thread_yield);
}

static void op_sleep(struct fz *f)
{
    long ns = gen_ns(f);
    if (ns > 20 * MS && !one_in(&f->rng, 16))
        ns = 1000;
    SC1(thread_sleep, ns);
}

static void op_spawn(struct fz *f)
{
    if (off(NO_SPAWN) || P.depth >= MAX_DEPTH + 1)
        return;
    if (one_in(&f->rng, 3))
        spawn_hostile(f);
    else
        spawn_valid(f);
}

/* Empty processes (process_create) and threads started in them, or in
 * ourselves, with every register chosen: mostly at random (they fault,
 * their process dies), now and then at a spin loop of our own text. */
static void op_create(struct fz *f)
{
    struct rng *r = &f->rng;
    if (off(NO_SPAWN) || P.depth >= MAX_DEPTH + 1)
        return;
    struct k_spawn_handle h[2] = {
        { (uint32_t)gen_handle(f, K_OBJ_NONE), (uint32_t)rnd(r) & K_RIGHTS_ALL, "x" },
        { (uint32_t)gen_handle(f, K_OBJ_NONE), K_RIGHT_DUP, "y" },
    };
    struct k_spawn sp = { .nhandles = (uint32_t)below(r, 3), .handles = h,
                          .priority = one_in(r, 4) ? (uint32_t)below(r, 300) : 0,
                          .prio_max = one_in(r, 4) ? (uint32_t)below(r, 300) : 0,
                          .image = one_in(r, 8) ? (uint32_t)gen_handle(f, K_OBJ_VMO)
                                                : (uint32_t)P.image };
    long name = one_in(r, 8) ? (long)gen_ptr(f, 16) : (long)"fz";
    long len = one_in(r, 8) ? gen_len(f, 64) : 2;
    long spp = one_in(r, 16) ? (long)gen_ptr(f, sizeof(sp)) : (long)&sp;
    long p = SC3(process_create, name, len, spp);
    if (p > 0)
        hpool_add(f, p, K_OBJ_PROCESS, 0);
}

/* fork's address space into a process from the pool or a random handle:
 * into a spawned child it collides with the child's own mappings (an
 * error); into an empty one from create (only= runs) it succeeds. */
static void op_vm_clone(struct fz *f)
{
    struct rng *r = &f->rng;
    long ph = one_in(r, 2) ? hpool_pick(f, K_OBJ_PROCESS) : gen_handle(f, K_OBJ_PROCESS);
    SC1(vm_clone, ph);
}

/* A channel's pulses interrupt a thread: ours, one from the pool, none. */
static void op_chan_interrupts(struct fz *f)
{
    struct rng *r = &f->rng;
    long ch = gen_handle(f, K_OBJ_CHANNEL);
    long th = one_in(r, 3) ? 0 : one_in(r, 4) ? -1 : gen_handle(f, K_OBJ_THREAD);
    SC2(chan_interrupts, ch, th);
}

static void spin_here(void)
{
    for (;;)
        __asm__ volatile("pause");
}

static void op_thread_start(struct fz *f)
{
    struct rng *r = &f->rng;
    struct k_regs regs;
    uint64_t *w = (uint64_t *)&regs;
    for (unsigned i = 0; i < sizeof(regs) / 8; i++)
        w[i] = one_in(r, 2) ? rnd(r) : (uint64_t)gen_ptr(f, 64);
    long ph = one_in(r, 2) ? hpool_pick(f, K_OBJ_PROCESS) : gen_handle(f, K_OBJ_PROCESS);
    if (ph == 0 && !one_in(r, 64))
        return;                      /* in ourselves, at random: most often a fault */
    /* At the lowest priority: a thread sent to a random address of our
     * own program may loop, and above a grandchild's watchdog it would
     * keep the grandchild from ever ending (a leak at the end of the
     * run, not the kernel's). */
    struct k_thread_attr a = { 1, K_SCHED_RR, 0 };
    bool spinner = ph != 0 && one_in(r, 4);
    if (spinner) {
        regs.rip = (uint64_t)(uintptr_t)spin_here;    /* runs only in a grandchild */
        regs.fs_base = 0;
    }
    /* A spinner's attributes are always ours: a hostile pointer (random
     * bytes in a scratch buffer, or NULL for the caller's own priority)
     * started one at up to the target's ceiling, where it starved the
     * grandchild's watchdog and everything below it on that CPU. */
    long ua = !spinner && one_in(r, 8) ? (long)gen_ptr(f, 16) : (long)&a;
    long t = SC3(thread_start, ph, one_in(r, 16) ? (long)gen_ptr(f, 8) : (long)&regs, ua);
    if (t > 0 && spinner) {
        /* Not in the pool: thread_sched on it would raise a spinner above
         * everyone else of its CPU, which starves (fixed priorities) and
         * ends the run as a leak or a hang that is the fuzzer's own. */
        SC1(handle_close, t);
    } else if (t > 0) {
        hpool_add(f, t, K_OBJ_THREAD, 0);
        if (ph > 0 && one_in(r, 2))
            SC2(process_kill, ph, gen_status(f));     /* a spinner must not outlive us */
    }
}

static void op_kill(struct fz *f)
{
    long h = gen_handle(f, K_OBJ_PROCESS);
    if (h == 0 && !one_in(&f->rng, 500))             /* 0 is ourselves */
        h = hpool_pick(f, K_OBJ_PROCESS) ?: 0x7fffffff;
    if (h == 0)
        report_flush();
    SC2(process_kill, h, gen_status(f));
}

static void op_wait(struct fz *f)
{
    long h = gen_handle(f, K_OBJ_PROCESS);
    SC2(process_wait, h, gen_out(f, &f->status, 8));
}

static void op_chan_create(struct fz *f)
{
    long flags = one_in(&f->rng, 10) ? (long)rnd(&f->rng) : 0;
    long h = SC1(chan_create, flags);
    if (h > 0)
        hpool_add(f, h, K_OBJ_CHANNEL, 0);
}

static void op_connect(struct fz *f)
{
    long ch = gen_handle(f, K_OBJ_CHANNEL);
    long flags = one_in(&f->rng, 10) ? (long)rnd(&f->rng)
               : one_in(&f->rng, 2) ? K_CONN_REPORT_END : 0;   /* its end reported */
    long h = SC3(chan_connect, ch, rnd(&f->rng), flags);
    if (h > 0)
        hpool_add_conn(f, h, K_OBJ_CONNECTION, 0, ch);
}

static void op_revoke(struct fz *f)
{
    SC1(chan_revoke, gen_handle(f, K_OBJ_CHANNEL));
}

/* Where messages go and come from: mostly the resident channels, which
 * are served, or the calls would mostly wait. */
static long pick_conn(struct fz *f)
{
    unsigned k = (unsigned)below(&f->rng, 100);
    if (k < 45 && P.res_conn[0] > 0)
        return P.res_conn[below(&f->rng, 2)];
    if (k < 55) {
        long c = P.own_conn[below(&f->rng, P.nthreads)];
        if (c > 0)
            return c;
    }
    return gen_handle(f, K_OBJ_CONNECTION);
}

static void op_send(struct fz *f)
{
    long su, sp, ru, rp;
    gen_iov(f, f->iov_a, &su, &sp);
    gen_iov(f, f->iov_b, &ru, &rp);
    SC5(msg_send, pick_conn(f), su, sp, ru, rp);
    if (one_in(&f->rng, 3)) {
        long h = SC0(handle_received);
        if (h > 0)
            hpool_add(f, h, T_UNKNOWN, 0);
    }
}

/* A channel to receive on, most of the time with a pulse sent to it just
 * before, so that the receive does not wait for the next timer tick. */
static long pick_chan_primed(struct fz *f)
{
    struct rng *r = &f->rng;
    long ch = 0, conn = 0;
    unsigned k = (unsigned)below(r, 100);
    if (k < 65 && f->tidx < P.nthreads && P.own_chan[f->tidx] > 0) {
        /* Our own channel, where no one else receives: with a pulse
         * queued first, the receive cannot wait. */
        ch = P.own_chan[f->tidx];
        conn = P.own_conn[f->tidx];
        SC4(pulse_send, conn, gen_code(f), (long)rnd(r), one_in(r, 4) ? gen_prio(f) : 0);
        return ch;
    }
    if (k < 75 && P.res_chan[0] > 0) {
        unsigned i = (unsigned)below(r, 2);
        ch = P.res_chan[i];
        conn = P.res_conn[i];
    } else if (k < 92) {
        conn = hpool_pick_pair(f, &ch);
    }
    if (!ch)
        return gen_handle(f, K_OBJ_CHANNEL);
    if (!one_in(r, 5))
        SC4(pulse_send, conn, gen_code(f), (long)rnd(r), one_in(r, 4) ? gen_prio(f) : 0);
    return ch;
}

static void op_receive(struct fz *f)
{
    long uiov, parts;
    gen_iov(f, f->iov_b, &uiov, &parts);
    f->info.handle = 0;
    long rcvid = SC4(msg_receive, pick_chan_primed(f), uiov, parts,
                     gen_out(f, &f->info, sizeof(f->info)));
    if (rcvid > 0) {
        if (f->info.handle)
            hpool_add(f, f->info.handle, T_UNKNOWN, 0);
        serve(f, rcvid, false, NULL);
    }
}

static void op_reply(struct fz *f)
{
    long uiov, parts;
    gen_iov(f, f->iov_a, &uiov, &parts);
    bool taken;
    long rcvid = gen_rcvid(f, true, &taken);
    long ret = SC4(msg_reply, rcvid, gen_status(f), uiov, parts);
    if (taken)
        after_reply(f, rcvid, ret);
}

static void op_error(struct fz *f)
{
    long err = one_in(&f->rng, 4) ? gen_status(f) : (long)range(&f->rng, 1, 16);
    bool taken;
    long rcvid = gen_rcvid(f, true, &taken);
    long ret = SC2(msg_error, rcvid, err);
    if (taken)
        after_error(f, rcvid, err, ret);
}

static void op_msg_read(struct fz *f)
{
    uintptr_t p;
    long len;
    gen_buf(f, &p, &len);
    bool taken;
    SC4(msg_read, gen_rcvid(f, false, &taken), gen_len(f, 300), p, len);
}

static void op_msg_write(struct fz *f)
{
    uintptr_t p;
    long len;
    gen_buf(f, &p, &len);
    bool taken;
    SC4(msg_write, gen_rcvid(f, false, &taken), gen_len(f, 300), p, len);
}

static void op_pulse(struct fz *f)
{
    long prio = one_in(&f->rng, 2) ? 0 : gen_prio(f);
    SC4(pulse_send, pick_conn(f), gen_code(f), (long)rnd(&f->rng), prio);
}

static void op_reply_receive(struct fz *f)
{
    long uiov, parts;
    gen_iov(f, f->iov_a, &uiov, &parts);
    f->info.handle = 0;
    bool taken;
    long rcvid = gen_rcvid(f, true, &taken);
    long r = SC6(msg_reply_receive, rcvid, gen_status(f), uiov, parts,
                 pick_chan_primed(f), gen_out(f, &f->info, sizeof(f->info)));
    if (taken)
        after_reply_receive(f, rcvid, r);
    if (r > 0) {
        if (f->info.handle)
            hpool_add(f, f->info.handle, T_UNKNOWN, 0);
        rpool_add(f, r);
    }
}

static void op_vmo_create(struct fz *f)
{
    struct rng *r = &f->rng;
    long size;
    unsigned k = (unsigned)below(r, 100);
    if (k < 55)
        size = (long)(range(r, 1, 4) * PAGE);
    else if (k < 75)
        size = (long)range(r, 1, 16 * PAGE);
    else if (k < 88)
        size = (long)(range(r, 5, 64) * PAGE);
    else if (k < 90)
        size = 256 * (long)PAGE;
    else {
        size = (long[]){ 0, -1, (long)K_VMO_MAX_SIZE + 1, 1L << 40, (long)0x8000000000000000UL,
                         -4096 }[below(r, 6)];
        if (!off(NO_BIGMEM) && one_in(r, 500))
            size = (long)K_VMO_MAX_SIZE;             /* tries to take all memory */
    }
    long kind = K_VMO_ANON, phys = 0, rh = 0;
    k = (unsigned)below(r, 100);
    if (k < 6) {
        kind = K_VMO_CONTIG;
        if (size > 16 * (long)PAGE)
            size = 16 * (long)PAGE;
    } else if (k < 10) {
        kind = K_VMO_PHYS;
        /* the local APIC (always refused), q35's PCI configuration
         * space (mappable with the mmio resource), anywhere */
        phys = one_in(r, 3) ? 0xfee00000L : one_in(r, 2) ? 0xb0000000L + (long)(below(r, 256) << 12)
                                                          : (long)(rnd(r) & ~0xfffUL);
        rh = gen_handle(f, K_OBJ_NONE);
    } else if (k < 13) {
        kind = (long)rnd(r) >> below(r, 64);
    }
    long h = SC4(vmo_create, size, kind, phys, rh);
    if (h > 0)
        hpool_add(f, h, K_OBJ_VMO, ((uint64_t)size + PAGE - 1) / PAGE);
}

static unsigned gen_prot(struct fz *f)
{
    switch (below(&f->rng, 20)) {
    case 0:
        return K_PROT_WRITE | K_PROT_EXEC;
    case 1:
        return 0;
    case 2:
        return (unsigned)rnd(&f->rng) & 0xfff;
    case 3:
        return K_PROT_READ | K_PROT_EXEC;
    case 4: case 5: case 6: case 7:
        return K_PROT_READ;
    default:
        return K_PROT_READ | K_PROT_WRITE;
    }
}

/* A process handle for a memory call: ourselves (0) mostly. */
static long gen_proc(struct fz *f)
{
    if (off(NO_PROCMEM) || !one_in(&f->rng, 4))
        return 0;
    return gen_handle(f, K_OBJ_PROCESS);
}

static void op_map(struct fz *f)
{
    struct rng *r = &f->rng;
    uint64_t e = hpool_pick_entry(f, K_OBJ_VMO);
    long vh = e && !one_in(r, 6) ? e_handle(e) : gen_handle(f, K_OBJ_VMO);
    uint64_t vpages = e && e_pages(e) ? e_pages(e) : 1;
    long ph = gen_proc(f);
    uint64_t offp = one_in(r, 3) ? below(r, vpages) : 0;
    uint64_t pages = one_in(r, 2) ? vpages - offp : range(r, 1, vpages - offp);
    long offset = (long)(offp * PAGE), size = (long)(pages * PAGE);
    if (one_in(r, 8))
        offset = (long[]){ 1, -4096, 1L << 40, (long)(vpages * PAGE), 4095 }[below(r, 5)];
    if (one_in(r, 8))
        size = gen_len(f, 8192);
    unsigned prot = gen_prot(f);
    uintptr_t addr = 0;
    unsigned k = (unsigned)below(r, 100);
    if (k < 6) {
        uint64_t m = mpool_pick(f);
        addr = m_addr(m);                             /* taken: E_BUSY */
    } else if (k < 12) {
        addr = MAP_AREA + below(r, 1 << 16) * PAGE;
    } else if (k < 15) {
        addr = (uintptr_t[]){ KERNEL_PTR, 0x0000800000000000UL, 0x1000, K_USER_TOP - PAGE,
                              K_USER_STACK_TOP - PAGE, 0x400000 }[below(r, 6)];
    }
    long a = SC5(vmo_map, ph, vh, offset, size, (long)(prot | addr));
    if (a > 0 && size > 0) {
        uint64_t np = (uint64_t)size / PAGE;
        if (ph == 0)
            mpool_add(f, (uintptr_t)a, np, prot, false);
        else
            remote_add(f, ph, (uintptr_t)a, np);
    }
}

static void op_unmap(struct fz *f)
{
    struct rng *r = &f->rng;
    unsigned k = (unsigned)below(r, 100);
    if (k < 60) {
        uint64_t e = one_in(r, 4) ? mpool_pick(f) : mpool_take(f);
        if (e) {
            uint64_t size = m_pages(e) * PAGE;
            if (one_in(r, 6))
                size -= PAGE;                         /* part of a region: refused */
            SC3(vm_unmap, 0, m_addr(e), size);
        }
    } else if (k < 75 && !off(NO_PROCMEM)) {
        unsigned i = (unsigned)below(r, NREMOTE);
        uint64_t h = __atomic_load_n(&remote_h[i], __ATOMIC_RELAXED);
        SC3(vm_unmap, (long)(uint32_t)h, remote_a[i], (h >> 32) * PAGE);
    } else if (k < 99) {
        SC3(vm_unmap, gen_proc(f), gen_ptr(f, 0) & ~0xfffUL, gen_len(f, 8 * PAGE));
    } else if (one_in(r, 40)) {
        /* One of our own regions (program, stack, arena): the process may
         * well die of it, the kernel must not. */
        long n = SC3(process_regions, 0, f->regions, 16);
        if (n > 0) {
            struct k_region *g = &f->regions[below(r, n < 16 ? (uint64_t)n : 16)];
            report_flush();
            SC3(vm_unmap, 0, g->start, g->size);
        }
    }
}

static void op_protect(struct fz *f)
{
    struct rng *r = &f->rng;
    if (off(NO_PROTECT))
        return;
    unsigned prot = gen_prot(f);
    unsigned k = (unsigned)below(r, 100);
    if (k < 65) {
        uint64_t e = mpool_pick(f);
        if (e) {
            long ret = SC4(vm_protect, 0, m_addr(e), m_pages(e) * PAGE, prot);
            if (ret == 0)
                mpool_update_prot(m_addr(e), prot);
        }
    } else if (k < 80 && !off(NO_PROCMEM)) {
        unsigned i = (unsigned)below(r, NREMOTE);
        uint64_t h = __atomic_load_n(&remote_h[i], __ATOMIC_RELAXED);
        SC4(vm_protect, (long)(uint32_t)h, remote_a[i], (h >> 32) * PAGE, prot);
    } else if (k < 99) {
        SC4(vm_protect, gen_proc(f), gen_ptr(f, 0) & ~0xfffUL, gen_len(f, 8 * PAGE), prot);
    } else if (one_in(r, 40)) {
        long n = SC3(process_regions, 0, f->regions, 16);
        if (n > 0) {
            struct k_region *g = &f->regions[below(r, n < 16 ? (uint64_t)n : 16)];
            report_flush();
            SC4(vm_protect, 0, g->start, g->size, prot);
        }
    }
}

static void op_irq(struct fz *f)
{
    if (one_in(&f->rng, 2))
        SC4(irq_attach, gen_handle(f, K_OBJ_NONE), (long)below(&f->rng, 30) - 2,
            gen_handle(f, K_OBJ_CONNECTION), gen_code(f));
    else
        SC1(irq_ack, gen_handle(f, K_OBJ_NONE));
}

static void op_timer_create(struct fz *f)
{
    long h = SC3(timer_create, gen_handle(f, K_OBJ_CONNECTION), gen_code(f), (long)rnd(&f->rng));
    if (h > 0)
        hpool_add(f, h, K_OBJ_TIMER, 0);
}

static void op_timer_set(struct fz *f)
{
    struct rng *r = &f->rng;
    long first = one_in(r, 8) ? (long[]){ -1, 0, (long)rnd(r) }[below(r, 3)]
                              : (long)below(r, 5 * MS);
    long period = 0;
    unsigned k = (unsigned)below(r, 10);
    if (k < 4)
        period = (long)range(r, 1 * MS, 10 * MS);
    else if (k == 4)
        period = (long[]){ 1, 999999, -1, (long)rnd(r) }[below(r, 4)];
    SC3(timer_set, gen_handle(f, K_OBJ_TIMER), first, period);
}

static void op_clock(struct fz *f)
{
    (void)f;
    SC0(clock_get);
}

static void op_watch(struct fz *f)
{
    SC3(process_watch, gen_handle(f, K_OBJ_PROCESS), gen_handle(f, K_OBJ_CONNECTION),
        gen_code(f));
}

static void op_exception_set(struct fz *f)
{
    long ph = one_in(&f->rng, 2) ? 0 : gen_handle(f, K_OBJ_PROCESS);
    long conn = one_in(&f->rng, 4) ? 0 : gen_handle(f, K_OBJ_CONNECTION);
    SC2(exception_set, ph, conn);
}

static void op_attach(struct fz *f)
{
    struct rng *r = &f->rng;
    long h = gen_handle(f, K_OBJ_NONE);
    long move = one_in(r, 10) ? (long[]){ 2, -1 }[below(r, 2)] : (long)below(r, 2);
    if (SC3(handle_attach, h, gen_rights(f), move) == 0 && move == 1)
        hpool_forget(h);
}

static void op_received(struct fz *f)
{
    long h = SC0(handle_received);
    if (h > 0)
        hpool_add(f, h, T_UNKNOWN, 0);
}

static void op_clone(struct fz *f)
{
    uint64_t e = hpool_pick_entry(f, K_OBJ_VMO);
    long vh = e && !one_in(&f->rng, 6) ? e_handle(e) : gen_handle(f, K_OBJ_VMO);
    long c = SC1(vmo_clone, vh);
    if (c > 0) {
        uint64_t pages = e ? e_pages(e) : 0;
        hpool_add(f, c, K_OBJ_VMO, pages);
        if (pages && pages <= 16 && one_in(&f->rng, 2)) {
            long a = SC5(vmo_map, 0, c, 0, pages * PAGE, K_PROT_READ | K_PROT_WRITE);
            if (a > 0)
                mpool_add(f, (uintptr_t)a, pages, K_PROT_READ | K_PROT_WRITE, true);
        }
    }
}

static void op_process_read(struct fz *f)
{
    struct rng *r = &f->rng;
    long ph = off(NO_PROCMEM) ? 0 : gen_handle(f, K_OBJ_PROCESS);
    long addr;
    unsigned i = (unsigned)below(r, NREMOTE);
    if (one_in(r, 3))
        addr = (long)__atomic_load_n(&remote_a[i], __ATOMIC_RELAXED);
    else if (one_in(r, 2))
        addr = (long)(K_NATIVE_BASE + below(r, 64 * 1024));
    else
        addr = (long)gen_ptr(f, 64);
    uintptr_t p;
    long len;
    gen_buf(f, &p, &len);
    SC4(process_read, ph, addr, p, len);
}

static void op_regions(struct fz *f)
{
    long ph = off(NO_PROCMEM) ? 0 : gen_handle(f, K_OBJ_PROCESS);
    long max = one_in(&f->rng, 4) ? gen_len(f, 16) : (long)below(&f->rng, 17);
    long out = one_in(&f->rng, 4) ? (long)gen_ptr(f, 256) : (long)f->regions;
    if (out == (long)f->regions && (max < 0 || max > 16))
        max = 16;
    SC3(process_regions, ph, out, max);
}

static void op_narrow(struct fz *f)
{
    SC3(resource_narrow, gen_handle(f, K_OBJ_NONE), gen_len(f, 32), gen_len(f, 32));
}

static void op_vmo_size(struct fz *f)
{
    SC1(vmo_size, gen_handle(f, K_OBJ_VMO));
}

/* User-mode accesses: writes to clones break copy-on-write; a mapping
 * just unmapped or made read-only by another thread faults (the process
 * dies, legitimately). */
static void op_touch(struct fz *f)
{
    struct rng *r = &f->rng;
    if (off(NO_TOUCH))
        return;
    uint64_t e = mpool_pick(f);
    if (!e || !(m_prot(e) & K_PROT_READ) || !one_in(r, 16))
        return;
    volatile uint8_t *p = (volatile uint8_t *)m_addr(e);
    uint64_t size = m_pages(e) * PAGE;
    for (int i = 0; i < 4; i++) {
        uint64_t o = below(r, size);
        if (m_prot(e) & K_PROT_WRITE)
            p[o] = (uint8_t)rnd(r);
        else
            (void)p[o];
    }
}

/* I/O ports: any handle; the child's own port 0x80 now and then, and
 * an in/out on it just after an enable that worked (another thread may
 * have denied it again meanwhile: a #GP, a legitimate death). */
static void op_ioport(struct fz *f)
{
    struct rng *r = &f->rng;
    bool own = P.io > 0 && one_in(r, 2);
    long h = own ? P.io : gen_handle(f, K_OBJ_RESOURCE);
    long v = (long[]){ 0, 1, 1, 2, -1, (long)rnd(r) }[below(r, 6)];
    long ret = SC2(ioport_enable, h, v);
    if (own && v == 1 && ret == 0 && one_in(r, 4)) {
        uint8_t x = 0;
        __asm__ volatile("inb $0x80, %0" : "=a"(x));
        __asm__ volatile("outb %0, $0x80" :: "a"(x));
    }
}

/* DMA and MSIs: our function's or any handle, any memory object, ranges near
 * and far from valid; the parent drops what we leave (dma_reset). */
static void op_dma(struct fz *f)
{
    struct rng *r = &f->rng;
    long fn = P.dma > 0 && !one_in(r, 4) ? P.dma : gen_handle(f, K_OBJ_RESOURCE);
    unsigned k = (unsigned)below(r, 10);
    if (k >= 8) {                   /* an MSI of the function: pulses on one of ours */
        long irq = SC4(msi_attach, fn, gen_handle(f, K_OBJ_CONNECTION),
                       one_in(r, 8) ? -1 : (long)below(r, 16), (long)gen_ptr(f, 16));
        if (irq > 0 && one_in(r, 2))
            SC1(handle_close, irq);
    } else if (k < 5) {
        long off = one_in(r, 2) ? 0 : (long)(below(r, 8) * PAGE);
        long len = one_in(r, 2) ? (long)PAGE : gen_len(f, 64 * PAGE);
        long a = SC4(dma_map, fn, gen_handle(f, K_OBJ_VMO), off, len);
        if (a > 0 && !one_in(r, 4))
            SC3(dma_unmap, fn, a, len);
    } else if (k < 7) {
        SC3(dma_unmap, fn, (long)rnd(r) & ~0xfffL, gen_len(f, 64 * PAGE));
    } else {
        SC1(dma_reset, fn);
    }
}

/* FS base: any value (the native runtime keeps nothing behind %fs). */
static void op_set_fs(struct fz *f)
{
    struct rng *r = &f->rng;
    long v = one_in(r, 2) ? (long)gen_ptr(f, 64) : (long)rnd(r);
    SC1(thread_set_fs, v);
}

/* Personalities: mostly refused arguments; one that works redirects the
 * process's calls to wherever it points, and the life ends in a fault
 * (so only now and then).  Only in children: a redirect sends the calls
 * of every thread there, the watchdog's too, and when our faults go to
 * an exception handler of our own (exception_set on ourselves, a
 * connection to one of our channels) each thread faults in turn and
 * waits on that channel for an answer only a thread of ours could give.
 * The parent kills such a child; nobody kills such a grandchild, which
 * outlived the run with every thread blocked (leaked processes in runs
 * with create and thread_start).  Raw calls keep to the same rule. */
static void op_personality(struct fz *f)
{
    struct rng *r = &f->rng;
    if (one_in(r, 2)) {
        SC1(personality_stack, one_in(r, 2) ? (long)gen_ptr(f, 64) : (long)rnd(r));
        return;
    }
    long lo = (long)gen_ptr(f, 64), hi = one_in(r, 2) ? lo : (long)rnd(r);
    long entry = one_in(r, 32) ? lo + (long)below(r, 64) : (long)rnd(r);
    if (one_in(r, 4) || P.depth >= MAX_DEPTH)
        entry = 0;                            /* off: always accepted */
    SC3(personality_set, entry, lo, hi);
}

static void op_thread_exit(struct fz *f)
{
    /* A fuzzing thread ends (its receive ids may still be pending); the
     * last one ends the life instead. */
    if (!one_in(&f->rng, 8))
        return;
    if (__atomic_sub_fetch(&P.live, 1, __ATOMIC_ACQ_REL) <= 0)
        life_over(ST_DONE);
    report_flush();
    for (;;)
        SC1(thread_exit, gen_status(f));
}

static void op_process_exit(struct fz *f)
{
    if (one_in(&f->rng, 64))
        life_over(gen_status(f) & 0xff);
}

/* ---- promises: checks that must hold whatever else goes on ---- */

/* A promise of the kernel was broken: a line on the console (tools/fuzz
 * fails the run on it) and a pulse to the parent, which fails too. */
static void violation(const char *what, long got)
{
    printf("FUZZ VIOLATION seed=%lu process=%u.%u depth=%u: %s (returned %ld)\n",
           (unsigned long)P.seed, P.idx, P.gen, P.depth, what, got);
    if (P.report > 0)
        k_pulse_send(P.report, CODE_VIOLATION + P.idx, 1, 0);
}

/* Rights only shrink: what a handle lacks, no call grants, not through a
 * mapping, a clone, a duplicate or an attachment. */
static void promise_memory_rights(struct fz *f)
{
    long v = SC4(vmo_create, (long)PAGE, K_VMO_ANON, 0, 0);
    long ro = v > 0 ? SC2(handle_dup, v, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_DUP) : -1;
    if (v > 0)
        SC1(handle_close, v);
    if (ro <= 0)
        return;
    long a = SC5(vmo_map, 0, ro, 0, (long)PAGE, K_PROT_READ | K_PROT_WRITE);
    if (a > 0) {
        violation("a read-only handle was mapped writable", a);
        SC3(vm_unmap, 0, a, (long)PAGE);
    }
    /* At an address of this thread's own, far above where the kernel
     * places mappings: were it a shared one, another thread could unmap
     * it (a stale pool entry for the same address) and a third map
     * something writable there before the vm_protect. */
    uintptr_t mine = PROMISE_AREA + (f->tidx % 256) * 4 * PAGE;
    a = SC5(vmo_map, 0, ro, 0, (long)PAGE, (long)(K_PROT_READ | mine));
    if (a > 0) {
        long r = SC4(vm_protect, 0, a, (long)PAGE, one_in(&f->rng, 2) ? K_PROT_READ | K_PROT_WRITE
                                                                      : K_PROT_WRITE);
        if (r == 0)
            violation("vm_protect made a read-only handle's mapping writable", r);
        SC3(vm_unmap, 0, a, (long)PAGE);
    }
    long c = SC1(vmo_clone, ro);
    if (c > 0) {
        long b = SC5(vmo_map, 0, c, 0, (long)PAGE, K_PROT_READ | K_PROT_WRITE);
        if (b > 0) {
            violation("a clone of a read-only handle was mapped writable", b);
            SC3(vm_unmap, 0, b, (long)PAGE);
        }
        SC1(handle_close, c);
    }
    long w = SC2(handle_dup, ro, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP);
    if (w > 0) {
        violation("handle_dup added WRITE", w);
        SC1(handle_close, w);
    }
    long r = SC3(handle_attach, ro, K_RIGHT_READ | K_RIGHT_WRITE, 0);
    if (r == 0)
        violation("handle_attach added WRITE (and TRANSFER)", r);
    SC1(handle_close, ro);
}

/* A connection without SEND sends nothing; a channel without RECEIVE is
 * not received from, connected to or revoked. */
static void promise_ipc_rights(struct fz *f)
{
    (void)f;
    long ch = SC1(chan_create, 0);
    long conn = ch > 0 ? SC2(chan_connect, ch, 9) : -1;
    if (conn <= 0) {
        SC1(handle_close, ch);
        return;
    }
    long nosend = SC2(handle_dup, conn, K_RIGHT_DUP | K_RIGHT_TRANSFER);
    long norecv = SC2(handle_dup, ch, K_RIGHT_DUP | K_RIGHT_TRANSFER | K_RIGHT_READ);
    if (nosend > 0) {
        long r = SC4(pulse_send, nosend, 1, 1, 0);
        if (r == 0)
            violation("pulse_send on a connection without SEND", r);
        SC1(handle_close, nosend);
    }
    if (norecv > 0) {
        SC4(pulse_send, conn, 2, 2, 0);              /* so a wrong receive would not wait */
        long r = SC4(msg_receive, norecv, 0, 0, 0);
        if (r >= 0)
            violation("msg_receive on a channel without RECEIVE", r);
        long c2 = SC2(chan_connect, norecv, 1);
        if (c2 > 0) {
            violation("chan_connect on a channel without RECEIVE", c2);
            SC1(handle_close, c2);
        }
        r = SC1(chan_revoke, norecv);
        if (r == 0)
            violation("chan_revoke on a channel without RECEIVE", r);
        long nomanage = SC2(handle_dup, ch, K_RIGHT_RECEIVE | K_RIGHT_DUP);
        r = nomanage > 0 ? SC1(chan_revoke, nomanage) : -E_RIGHTS;
        if (r == 0)
            violation("chan_revoke on a channel without MANAGE", r);
        if (nomanage > 0)
            SC1(handle_close, nomanage);
        SC1(handle_close, norecv);
    }
    SC1(handle_close, conn);
    SC1(handle_close, ch);
}

/* No thread rises above its process's ceiling; no process is spawned
 * without the capability, or with a ceiling above its parent's. */
static void promise_ceiling_and_spawn(struct fz *f)
{
    struct rng *r = &f->rng;
    if (P.ceiling < K_PRIO_MAX) {
        long prio = (long)range(r, P.ceiling + 1, K_PRIO_MAX);
        long ret = SC3(thread_sched, 0, prio, K_SCHED_RR);
        if (ret == 0) {
            violation("thread_sched above the process's ceiling", prio);
            SC3(thread_sched, 0, 1, K_SCHED_RR);
        }
    }
    if (off(NO_SPAWN) || P.image <= 0)
        return;
    f->argv[0] = "bin/sysfuzz";
    f->argv[1] = "g";
    f->argv[2] = "exit";
    f->argv[3] = NULL;
    f->sp = (struct k_spawn){ .argc = 3, .argv = f->argv, .priority = 1, .prio_max = 1 };
    long p = SC3(process_spawn, "bin/sysfuzz", 11, &f->sp);
    if (p > 0) {
        violation("process_spawn without the image handle", p);
        SC1(handle_close, p);
    }
    if (P.ceiling < K_PRIO_MAX) {
        f->sp.image = (uint32_t)P.image;
        f->sp.prio_max = (uint32_t)range(r, P.ceiling + 1, K_PRIO_MAX);
        p = SC3(process_spawn, "bin/sysfuzz", 11, &f->sp);
        if (p > 0) {
            violation("process_spawn with a ceiling above the parent's", p);
            SC1(handle_close, p);
        }
    }
}

/* A process that has ended has no memory to map, read or change. */
static void promise_dead_process(struct fz *f)
{
    if (off(NO_SPAWN) || off(NO_PROCMEM) || P.image <= 0 || P.depth >= MAX_DEPTH + 1)
        return;
    f->argv[0] = "bin/sysfuzz";
    f->argv[1] = "g";
    f->argv[2] = "exit";
    f->argv[3] = NULL;
    f->sp = (struct k_spawn){ .argc = 3, .argv = f->argv, .priority = 1, .prio_max = 1,
                              .image = (uint32_t)P.image };
    long p = SC3(process_spawn, "bin/sysfuzz", 11, &f->sp);
    if (p <= 0)
        return;
    long v = SC4(vmo_create, (long)PAGE, K_VMO_ANON, 0, 0);
    if (SC2(process_wait, p, &f->status) == 0 && v > 0) {
        if (one_in(&f->rng, 2))
            SC1(thread_sleep, 20 * MS);              /* and reaped, most likely */
        long a = SC5(vmo_map, p, v, 0, (long)PAGE, K_PROT_READ);
        if (a > 0)
            violation("vmo_map into a process that has ended", a);
        long r = SC4(process_read, p, (long)K_USER_BASE, f->buf, 16);
        if (r > 0)
            violation("process_read of a process that has ended", r);
        r = SC3(process_regions, p, f->regions, 16);
        if (r > 0)
            violation("process_regions of a process that has ended", r);
    }
    if (v > 0)
        SC1(handle_close, v);
    SC1(handle_close, p);
}

static void op_promise(struct fz *f)
{
    switch (below(&f->rng, 4)) {
    case 0:
        promise_memory_rights(f);
        break;
    case 1:
        promise_ipc_rights(f);
        break;
    case 2:
        promise_ceiling_and_spawn(f);
        break;
    default:
        promise_dead_process(f);
        break;
    }
}

#define OP(name, weight) { op_##name, weight, #name }
static const struct op {
    op_fn fn;
    unsigned weight;
    const char *name;
} ops[] = {
    OP(raw, 10),          OP(debug_write, 1),   OP(sys_info, 2),
    OP(close, 5),         OP(dup, 5),           OP(thread_create, 4),
    OP(thread_join, 1),   OP(thread_sched, 3),  OP(thread_affinity, 2),
    OP(yield, 1),         OP(sleep, 1),         OP(spawn, 2),
    OP(kill, 2),          OP(wait, 1),          OP(chan_create, 4),
    OP(connect, 4),       OP(revoke, 1),        OP(send, 10),
    OP(receive, 8),       OP(reply, 6),         OP(error, 2),
    OP(msg_read, 3),      OP(msg_write, 3),     OP(pulse, 5),
    OP(reply_receive, 3), OP(vmo_create, 4),    OP(map, 6),
    OP(unmap, 4),         OP(protect, 3),       OP(irq, 1),
    OP(timer_create, 2),  OP(timer_set, 3),     OP(clock, 1),
    OP(watch, 2),         OP(exception_set, 1), OP(attach, 3),
    OP(received, 1),      OP(clone, 3),         OP(process_read, 3),
    OP(regions, 2),       OP(narrow, 1),        OP(vmo_size, 1),
    OP(touch, 1),         OP(thread_exit, 1),   OP(process_exit, 1),
    OP(promise, 2),       OP(ioport, 1),        OP(set_fs, 1),
    OP(personality, 1),   OP(dma, 2),
    /* Weight 0 (only with only=...): an empty process from create, given a
     * copy of the fuzzer by vm_clone and a thread at random registers by
     * thread_start, runs the fuzzer's code with no watchdog and may never
     * end; the run then counts it as leaked (the fuzzer's doing, not the
     * kernel's: a process nobody kills).  Campaigns name them in only=. */
    OP(create, 0),        OP(thread_start, 0),
    OP(vm_clone, 1),      OP(chan_interrupts, 2),
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))
_Static_assert(NOPS <= 64, "only= keeps operations in a 64-bit mask");

static unsigned total_weight;
static unsigned weight[NOPS];

/* The weights of this process: ONLY (a mask of operations; 0 = all). */
static void set_weights(uint64_t only)
{
    total_weight = 0;
    for (unsigned i = 0; i < NOPS; i++) {
        if (!only)
            weight[i] = ops[i].weight;
        else
            weight[i] = only >> i & 1 ? (ops[i].weight ? ops[i].weight : 1) : 0;
        total_weight += weight[i];
    }
    if (!total_weight)
        set_weights(0);
}

static unsigned pick_op(struct fz *f)
{
    uint64_t w = below(&f->rng, total_weight);
    for (unsigned i = 0; i < NOPS; i++) {
        if (w < weight[i])
            return i;
        w -= weight[i];
    }
    return 0;
}

/* verbose=1: where a life's time went, the six operations that took
 * longest (time inside them, blocked or not, summed over threads). */
static uint64_t op_ns[NOPS], op_count[NOPS];

static void print_profile(void)
{
    char line[400];
    int n = snprintf(line, sizeof(line), "sysfuzz %u.%u profile: calls=%lu", P.idx, P.gen,
                     (unsigned long)P.calls);
    bool used[NOPS] = { false };
    for (int k = 0; k < 6 && n < (int)sizeof(line); k++) {
        unsigned best = NOPS;
        for (unsigned j = 0; j < NOPS; j++)
            if (!used[j] && (best == NOPS || op_ns[j] > op_ns[best]))
                best = j;
        used[best] = true;
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s:%lums/%lu", ops[best].name,
                      (unsigned long)(op_ns[best] / MS), (unsigned long)op_count[best]);
    }
    printf("%s\n", line);
}

/* N operations (helpers), or until the life's budget is spent. */
static void fuzz_steps(struct fz *f, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (__atomic_load_n(&P.calls, __ATOMIC_RELAXED) >= P.budget)
            life_over(ST_DONE);
        uint64_t before = __atomic_load_n(&P.calls, __ATOMIC_RELAXED);
        unsigned op = pick_op(f);
        if (P.verbose) {
            long t0 = k_clock_get();
            ops[op].fn(f);
            __atomic_add_fetch(&op_ns[op], (uint64_t)(k_clock_get() - t0), __ATOMIC_RELAXED);
            __atomic_add_fetch(&op_count[op], 1, __ATOMIC_RELAXED);
        } else {
            ops[op].fn(f);
        }
        f->ncalls++;
        if ((before ^ __atomic_load_n(&P.calls, __ATOMIC_RELAXED)) & ~1023UL)
            report_flush();
    }
}

static long fuzz_thread(void *arg)
{
    struct fz *f = arg;
    fuzz_steps(f, ~0UL);
    life_over(ST_DONE);
}

/* ---------------------------------------------------------------- */
/* A fuzzing process: children and grandchildren. */

/* Every thread of the process is blocked (no call for a while): wake
 * what can be woken.  Receivers get a pulse on each channel of the pool,
 * senders waiting for a reply get an error, senders waiting for a
 * receiver are turned away by a revoke.  Its calls are not counted. */
static void rescue(void)
{
    /* Threads that send to each other's own channels can wait for each
     * other: a revoke ends those sends, and new connections replace the
     * revoked ones. */
    for (unsigned i = 0; i < P.nthreads; i++) {
        if (P.own_chan[i] <= 0)
            continue;
        k_chan_revoke(P.own_chan[i]);
        long c = k_chan_connect(P.own_chan[i], 0x100 + i, 0);
        if (c > 0) {
            long old = __atomic_exchange_n(&P.own_conn[i], c, __ATOMIC_ACQ_REL);
            k_handle_close(old);
        }
    }
    for (unsigned i = 0; i < 2; i++)
        for (unsigned j = 0; P.res_conn[i] > 0 && j < P.nthreads + 2; j++)
            k_pulse_send(P.res_conn[i], 2, 0, 0);
    for (unsigned i = NRESIDENT; i < NSLOTS; i++) {
        struct slot *s = &P.slots[i];
        if (!__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) || s->kind != H_SERVER)
            continue;
        long c = k_chan_connect(s->obj, 0, 0);          /* a helper server's channel */
        if (c > 0) {
            k_pulse_send(c, 3, 0, 0);
            k_handle_close(c);
        }
    }
    for (unsigned i = 0; i < NRCV; i++) {
        long rcvid = (long)__atomic_exchange_n(&rpool[i], 0, __ATOMIC_ACQ_REL);
        if (rcvid > 0)
            k_msg_error(rcvid, E_INTR);
    }
    for (unsigned i = 0; i < NH; i++) {
        uint64_t e = __atomic_load_n(&hpool[i], __ATOMIC_RELAXED);
        if (!e || e_type(e) != K_OBJ_CHANNEL)
            continue;
        long c = k_chan_connect(e_handle(e), 0, 0);
        if (c > 0) {
            for (int j = 0; j < 4; j++)
                k_pulse_send(c, 1, 0, 0);
            k_handle_close(c);
        }
        k_chan_revoke(e_handle(e));
    }
}

/* Our pid (for verbose lines): a pulse to ourselves says it. */
static uint64_t my_pid(void)
{
    static uint64_t pid;
    if (pid)
        return pid;
    long ch = k_chan_create(0), c = ch > 0 ? k_chan_connect(ch, 0, 0) : -1;
    struct k_msg_info info;
    if (c > 0 && k_pulse_send(c, 1, 0, 0) == 0 && k_msg_receive(ch, 0, 0, (long)&info) == 0)
        pid = info.pid;
    k_handle_close(c);
    k_handle_close(ch);
    return pid;
}

static long watchdog(void *arg)
{
    (void)arg;
    uint64_t last = 0, still = 0, seen[MAX_THREADS] = { 0 };
    unsigned stuck_for[MAX_THREADS] = { 0 };
    for (;;) {
        k_thread_sleep(10 * MS);
        uint64_t now = (uint64_t)k_clock_get();
        if (P.deadline && now > P.deadline)
            life_over(ST_DEADLINE);
        if (!P.main_stacks)
            continue;                                 /* not a fuzzing process */
        /* Progress is operations finished by the fuzzing threads (the
         * resident servers' calls do not count: timers keep them busy). */
        uint64_t sum = 0;
        bool rescue_now = false;
        for (unsigned i = 0; i < P.nthreads && P.fz[i]; i++) {
            uint64_t n = __atomic_load_n(&P.fz[i]->ncalls, __ATOMIC_RELAXED);
            sum += n;
            stuck_for[i] = n == seen[i] ? stuck_for[i] + 1 : 0;
            seen[i] = n;
            /* In one operation for two ticks: it waits for something
             * that may never come, so wake the waiters. */
            if (stuck_for[i] >= 2 && stuck_for[i] % 2 == 0)
                rescue_now = true;
        }
        still = sum == last ? still + 1 : 0;
        last = sum;
        if (still >= 50) {                            /* half a second without progress */
            if (P.verbose)
                print_calls("stuck");
            life_over(ST_STUCK);
        }
        if (rescue_now)
            rescue();
        for (unsigned i = 0; i < NRESIDENT; i++)
            if (!__atomic_load_n(&P.slots[i].state, __ATOMIC_ACQUIRE))
                resident_start(i, P.seed + ++P.res_starts);
    }
}

/* Memory for stacks and per-thread state, from a memory object of our
 * own that is never in the pools. */
static uint8_t *arena(uint64_t bytes)
{
    bytes = (bytes + PAGE - 1) & ~(PAGE - 1);
    long v = k_vmo_create((long)bytes, K_VMO_ANON, 0, 0);
    long a = v > 0 ? k_vmo_map(0, v, 0, (long)bytes, K_PROT_READ | K_PROT_WRITE) : -1;
    if (v > 0)
        k_handle_close(v);
    return a > 0 ? (uint8_t *)a : NULL;
}

static void setup_objects(struct fz *f)
{
    /* Two resident channels, served by resident threads: their own
     * handles stay out of the pools (a revoke would end them for good);
     * the pools get a copy that cannot receive, and connections. */
    for (int i = 0; i < 2; i++) {
        long ch = SC1(chan_create, 0);
        P.res_chan[i] = ch;
        P.protect[P.nprotect++] = ch;
        hpool_add(f, SC2(handle_dup, ch, K_RIGHT_DUP | K_RIGHT_TRANSFER | K_RIGHT_READ),
                  K_OBJ_CHANNEL, 0);
        for (int j = 0; j < 2; j++) {
            long c = SC2(chan_connect, ch, (long)rnd(&f->rng));
            hpool_add_conn(f, c, K_OBJ_CONNECTION, 0, ch);
            if (j == 0) {
                P.res_conn[i] = SC2(handle_dup, c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER);
                P.protect[P.nprotect++] = P.res_conn[i];
                long t = SC3(timer_create, c, 7, i);
                SC3(timer_set, t, (long)range(&f->rng, 1 * MS, 3 * MS),
                    (long)range(&f->rng, 1 * MS, 3 * MS));
                hpool_add(f, t, K_OBJ_TIMER, 0);
            }
        }
        long ch2 = SC1(chan_create, 0);              /* and an ordinary one */
        hpool_add(f, ch2, K_OBJ_CHANNEL, 0);
        hpool_add_conn(f, SC2(chan_connect, ch2, 5), K_OBJ_CONNECTION, 0, ch2);
    }
    if (P.image > 0) {                               /* a copy of the image, for anything */
        long sz = SC1(vmo_size, P.image);
        hpool_add(f, SC2(handle_dup, P.image, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_DUP),
                  K_OBJ_VMO, sz > 0 ? (uint64_t)sz / PAGE : 1);
    }
    /* Each fuzzing thread's own channel, which only it receives from. */
    for (unsigned i = 0; i < P.nthreads; i++) {
        long ch = SC1(chan_create, 0);
        long c = SC2(chan_connect, ch, 0x100 + i);
        P.own_chan[i] = ch;
        P.own_conn[i] = c;
        hpool_add_conn(f, SC2(handle_dup, c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER),
                       K_OBJ_CONNECTION, 0, 0);
        long v = SC4(vmo_create, 4 * (long)PAGE, K_VMO_ANON, 0, 0);
        hpool_add(f, v, K_OBJ_VMO, 4);
        long a = SC5(vmo_map, 0, v, 0, 4 * (long)PAGE, K_PROT_READ | K_PROT_WRITE);
        if (a > 0)
            mpool_add(f, (uintptr_t)a, 4, K_PROT_READ | K_PROT_WRITE, false);
    }
}

static int fuzz_process(void)
{
    struct k_sysinfo si;
    if (P.role == ROLE_CHILD && k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&si, 0) == 0 && si.ncpus) {
        P.home.cpu_mask = 1UL << (P.idx % si.ncpus);
        k_thread_affinity(0, (long)P.home.cpu_mask);
    }
    set_weights(P.only);
    uint64_t per_fz = (sizeof(struct fz) + 63) & ~63UL;
    unsigned nslots = P.depth >= MAX_DEPTH ? NSLOTS / 2 : NSLOTS;
    uint64_t bytes = P.nthreads * (MAIN_STACK + per_fz) + nslots * (HELPER_STACK + per_fz) +
                     WATCH_STACK;
    uint8_t *m = arena(bytes);
    if (!m)
        return 3;
    P.watch_stack = m;
    m += WATCH_STACK;
    P.main_stacks = m;
    m += P.nthreads * MAIN_STACK;
    for (unsigned i = 0; i < nslots; i++) {
        P.slots[i].stack = m;
        m += HELPER_STACK;
    }
    for (unsigned i = 0; i < P.nthreads; i++) {
        P.fz[i] = (struct fz *)m;
        m += per_fz;
        rng_seed(&P.fz[i]->rng, P.seed, P.idx, P.gen, i);
        P.fz[i]->tidx = i;
    }
    for (unsigned i = 0; i < nslots; i++) {
        P.slots[i].f = (struct fz *)m;
        m += per_fz;
    }
    static struct rt_thread wt, ft[MAX_THREADS];
    long w = rt_thread_spawn(&wt, watchdog, 0, P.watch_stack, WATCH_STACK, &P.home);
    if (w <= 0)
        return 4;             /* without a watchdog a process may outlive the run */
    P.protect[P.nprotect++] = w;
    setup_objects(P.fz[0]);
    P.live = (int)P.nthreads;
    for (unsigned i = 1; i < P.nthreads; i++) {
        long t = rt_thread_spawn(&ft[i], fuzz_thread, P.fz[i], P.main_stacks + i * MAIN_STACK,
                                 MAIN_STACK, &P.home);
        if (t > 0 && P.nprotect < sizeof(P.protect) / sizeof(P.protect[0]))
            P.protect[P.nprotect++] = t;               /* a join would wait for good */
    }
    fuzz_thread(P.fz[0]);
    return 0;
}

static uint64_t parse_num(const char *s)
{
    uint64_t v = 0;
    if (s && s[0] == '0' && s[1] == 'x') {
        for (s += 2; *s; s++) {
            unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0') :
                         *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10) : 16;
            if (d > 15)
                break;
            v = v * 16 + d;
        }
        return v;
    }
    for (; s && *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    return v;
}

/* argv: c SEED IDX GEN BUDGET THREADS NOMASK */
static int child_main(int argc, char **argv)
{
    if (argc < 7)
        return 2;
    P.role = ROLE_CHILD;
    P.seed = parse_num(argv[2]);
    P.idx = (unsigned)parse_num(argv[3]);
    P.gen = (unsigned)parse_num(argv[4]);
    P.budget = parse_num(argv[5]);
    P.nthreads = (unsigned)parse_num(argv[6]);
    P.nomask = argc > 7 ? parse_num(argv[7]) : 0;
    P.only = argc > 8 ? parse_num(argv[8]) : 0;
    P.verbose = (P.nomask >> 63) & 1;
    if (P.nthreads < 1 || P.nthreads > MAX_THREADS)
        P.nthreads = 4;
    P.depth = 1;
    P.report = rt_handle("report");
    P.protect[P.nprotect++] = P.report;
    P.image = rt_handle("image");
    P.io = rt_handle("io");
    if (P.io > 0)
        hpool[NH - 1] = h_entry(P.io, K_OBJ_RESOURCE, 0);
    P.dma = rt_handle("dma");
    P.ceiling = CHILD_CEILING;
    return fuzz_process();
}

/* argv: g ROLE SEED IDX N DEPTH NOMASK DEADLINE_MS, and maybe start-up
 * handles "chan", "conn", "vmo", "x" from the spawner's pools. */
static int grandchild_main(int argc, char **argv)
{
    if (argc < 9)
        return 2;
    P.role = ROLE_GRANDCHILD;
    P.report = -1;
    const char *role = argv[2];
    P.seed = parse_num(argv[3]);
    P.idx = (unsigned)parse_num(argv[4]);
    P.gen = (unsigned)parse_num(argv[5]);
    P.depth = (unsigned)parse_num(argv[6]);
    P.nomask = parse_num(argv[7]);
    P.only = argc > 9 ? parse_num(argv[9]) : 0;
    P.ceiling = argc > 10 ? (unsigned)parse_num(argv[10]) : 1;
    P.image = rt_handle("image");
    P.verbose = (P.nomask >> 63) & 1;
    if (P.verbose)
        printf("sysfuzz pid %lu: grandchild %u.%u depth %u role %s for %lu ms\n",
               (unsigned long)my_pid(), P.idx, P.gen, P.depth, role,
               (unsigned long)parse_num(argv[8]));
    P.deadline = (uint64_t)k_clock_get() + parse_num(argv[8]) * MS;
    P.nthreads = 2;
    struct rng rng;
    rng_seed(&rng, P.seed, P.idx, P.gen, 77);
    if (strcmp(role, "fuzz") == 0) {
        P.budget = range(&rng, 300, 3000);
        if (rt_startup)
            for (uint64_t i = 0; i < rt_startup->nhandles && i < K_STARTUP_MAX_HANDLES; i++) {
                unsigned t = rt_startup->handles[i].type;
                long h = rt_startup->handles[i].handle;
                if (h != P.image)
                    hpool[i % NH] = h_entry(h, t, t == K_OBJ_VMO ? 1 : 0);
            }
        return fuzz_process();
    }
    /* The other roles: one thread and a watchdog (a faulting one may wait
     * for good on an exception handler that never answers). */
    static struct rt_thread wt;
    static uint8_t wstack[WATCH_STACK] __attribute__((aligned(16)));
    static struct fz one;
    if (rt_thread_spawn(&wt, watchdog, 0, wstack, sizeof(wstack), 0) <= 0)
        return 4;
    if (strcmp(role, "exit") == 0)
        return (int)below(&rng, 256);
    if (strcmp(role, "fault") == 0) {
        *(volatile int *)(uintptr_t)below(&rng, 4096) = 1;
        return 1;
    }
    if (strcmp(role, "sleep") == 0) {
        k_thread_sleep((long)below(&rng, 200 * MS));
        return 0;
    }
    /* serve / send: until the deadline. */
    rng_seed(&one.rng, P.seed, P.idx, P.gen, 0);
    P.fz[0] = &one;
    P.nthreads = 1;
    P.budget = ~0UL;
    struct fz *f = &one;
    if (strcmp(role, "serve") == 0) {
        long ch = rt_handle("chan");
        if (ch < 0)
            ch = k_chan_create(0);
        for (;;) {
            long rcvid = k_msg_receive(ch, (long)f->buf, -(long)sizeof(f->buf), (long)&f->info);
            if (rcvid < 0 && rcvid != -E_FAULT)
                return 3;
            if (rcvid > 0)
                k_msg_reply(rcvid, (long)below(&f->rng, 100), (long)f->buf,
                            -(long)(f->info.send_len < 64 ? f->info.send_len : 64));
        }
    }
    if (strcmp(role, "send") == 0) {
        long conn = rt_handle("conn");
        for (unsigned i = 0; conn >= 0 && i < 1000; i++) {
            long len = (long)below(&f->rng, 3 * K_SMALL_MSG);
            if (k_msg_send(conn, (long)f->buf, -len, (long)f->buf2, -(long)sizeof(f->buf2)) < 0 &&
                one_in(&f->rng, 4))
                break;
        }
        return 0;
    }
    return 4;
}

/* ---------------------------------------------------------------- */
/* The parent. */

#define MAX_CHILDREN 16

struct kid {
    long h;                   /* process handle, 0 when none */
    unsigned gen;
    uint64_t calls, calls_at_start;
    uint64_t last_report;     /* ns */
    bool want;                /* to be (re)spawned */
};

static struct {
    uint64_t seed, calls_wanted, calls;
    unsigned nchildren, nthreads;
    uint64_t life, nomask, only;
    bool verbose;
    struct kid kids[MAX_CHILDREN];
    unsigned lives, violations;
    unsigned deaths_done, deaths_fault, deaths_killed, deaths_stuck, deaths_other;
    long chan, conn, timer, image, io;
    long dma[MAX_CHILDREN];        /* child i's PCI function (no device), reset when it ends */
    struct rng rng;
} W;

/* What a dead driver leaves: its function's DMA mappings, dropped as the
 * PCI server will (dma_reset), here for child I and whatever its
 * grandchildren mapped with its function. */
static void dma_drop(unsigned i)
{
    if (W.dma[i] > 0)
        k_dma_reset(W.dma[i]);
}

static struct k_sysinfo sysinfo(void)
{
    struct k_sysinfo s;
    memset(&s, 0, sizeof(s));
    k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&s, 0);
    return s;
}

#define FREE_TOLERANCE (512 * 1024)

/* The difference between two snapshots, in objects (and pages of free
 * memory missing beyond the tolerance). */
static uint64_t leaked(const struct k_sysinfo *b, const struct k_sysinfo *a)
{
    uint64_t n = 0;
#define DIFF(x) n += a->x > b->x ? a->x - b->x : b->x - a->x
    DIFF(kmalloc_objects);
    DIFF(kmem_pages);
    DIFF(threads);
    DIFF(processes);
    DIFF(channels);
    DIFF(connections);
#undef DIFF
    if (a->free_bytes + FREE_TOLERANCE < b->free_bytes)
        n += (b->free_bytes - a->free_bytes - FREE_TOLERANCE + PAGE - 1) / PAGE;
    return n;
}

static long spawn_child(unsigned i)
{
    struct kid *k = &W.kids[i];
    static char a[8][24];
    const char *argv[9] = { "bin/sysfuzz", "c", num(a[0], W.seed), num(a[1], i),
                            num(a[2], k->gen), num(a[3], range(&W.rng, W.life / 2, W.life * 3 / 2)),
                            num(a[4], W.nthreads),
                            num(a[5], W.nomask | (uint64_t)W.verbose << 63), num(a[6], W.only) };
    /* The report connection, and the boot image (read-only): the
     * capability to spawn, which children need for grandchildren. */
    struct k_spawn_handle h[4] = {
        { (uint32_t)W.conn, K_RIGHT_SEND, "report" },
        { (uint32_t)W.image, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_DUP | K_RIGHT_TRANSFER, "image" },
    };
    unsigned nh = 2;
    if (W.io > 0)
        h[nh++] = (struct k_spawn_handle){ (uint32_t)W.io, K_RIGHTS_ALL, "io" };
    if (W.dma[i] > 0)
        h[nh++] = (struct k_spawn_handle){ (uint32_t)W.dma[i], K_RIGHTS_ALL, "dma" };
    struct k_spawn sp = { .argc = 9, .nhandles = nh, .argv = argv, .handles = h,
                          .priority = (uint32_t)range(&W.rng, 20, 150),
                          .prio_max = CHILD_CEILING, .image = (uint32_t)W.image };
    long p = k_process_spawn((long)"bin/sysfuzz", 11, (long)&sp);
    if (p < 0)
        return p;
    long r = k_process_watch(p, W.conn, CODE_DEATH + (i << 8) + (k->gen & 0xff));
    if (r < 0) {
        printf("sysfuzz: process_watch failed: %s\n", k_strerror(r));
        k_process_kill(p, ST_STOP);
        k_process_wait(p, 0);
        k_handle_close(p);
        return r;
    }
    k->h = p;
    k->want = false;
    k->calls_at_start = k->calls;
    k->last_report = (uint64_t)k_clock_get();
    W.lives++;
    return p;
}

static void count_death(long status)
{
    if (status == ST_DONE)
        W.deaths_done++;
    else if ((status & ~0xffL) == 0x100)
        W.deaths_fault++;
    else if (status == ST_KILLED)
        W.deaths_killed++;
    else if (status == ST_STUCK || status == ST_PSTUCK)
        W.deaths_stuck++;
    else
        W.deaths_other++;
}

static void reap(unsigned i, long status)
{
    struct kid *k = &W.kids[i];
    long st = 0;
    k_process_wait(k->h, (long)&st);
    k_handle_close(k->h);
    k->h = 0;
    dma_drop(i);
    k->gen++;
    k->want = true;
    count_death(status);
    if (W.verbose)
        printf("fuzz child %u life %u ended with status %#lx after %lu calls\n", i, k->gen - 1,
               (unsigned long)status, (unsigned long)(k->calls - k->calls_at_start));
}

static void progress(void)
{
    printf("fuzz progress calls=%lu lives=%u done=%u faults=%u killed=%u stuck=%u other=%u\n",
           (unsigned long)W.calls, W.lives, W.deaths_done, W.deaths_fault, W.deaths_killed,
           W.deaths_stuck, W.deaths_other);
}

/* only=NAME:NAME...: a mask of ops[]. */
static uint64_t parse_ops(const char *s)
{
    uint64_t mask = 0;
    while (*s) {
        size_t n = 0;
        while (s[n] && s[n] != ':')
            n++;
        bool found = false;
        for (unsigned j = 0; j < NOPS; j++)
            if (strlen(ops[j].name) == n && strncmp(ops[j].name, s, n) == 0) {
                mask |= 1UL << j;
                found = true;
            }
        if (!found)
            printf("sysfuzz: unknown operation %.*s\n", (int)n, s);
        s += n;
        if (*s == ':')
            s++;
    }
    return mask;
}

static int parent_main(int argc, char **argv)
{
    P.role = ROLE_PARENT;
    W.seed = argc > 1 ? parse_num(argv[1]) : 1;
    W.calls_wanted = argc > 2 ? parse_num(argv[2]) : 100000;
    struct k_sysinfo si = sysinfo();
    W.nchildren = (unsigned)si.ncpus + 1;
    W.nthreads = 4;
    W.life = 8000;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "children=", 9) == 0)
            W.nchildren = (unsigned)parse_num(a + 9);
        else if (strncmp(a, "threads=", 8) == 0)
            W.nthreads = (unsigned)parse_num(a + 8);
        else if (strncmp(a, "only=", 5) == 0)
            W.only = parse_ops(a + 5);
        else if (strncmp(a, "verbose=", 8) == 0)
            W.verbose = parse_num(a + 8) != 0;
        else if (strncmp(a, "life=", 5) == 0)
            W.life = parse_num(a + 5);
        else if (strncmp(a, "no=", 3) == 0) {
            for (const char *s = a + 3; *s;) {
                size_t n = 0;
                while (s[n] && s[n] != ':')
                    n++;
                bool found = false;
                for (unsigned j = 0; j < sizeof(nonames) / sizeof(nonames[0]); j++)
                    if (strlen(nonames[j].name) == n && strncmp(nonames[j].name, s, n) == 0) {
                        W.nomask |= nonames[j].bit;
                        found = true;
                    }
                if (!found)
                    printf("sysfuzz: unknown no= item %.*s\n", (int)n, s);
                s += n;
                if (*s == ':')
                    s++;
            }
        } else {
            printf("sysfuzz: unknown argument %s\n", a);
        }
    }
    if (W.nchildren < 1 || W.nchildren > MAX_CHILDREN)
        W.nchildren = 3;
    if (W.nthreads < 1 || W.nthreads > MAX_THREADS)
        W.nthreads = 4;
    if (W.life < 100)
        W.life = 100;
    rng_seed(&W.rng, W.seed, 0xffff, 0, 0);
    printf("FUZZ START seed=%lu calls=%lu cpus=%lu children=%u threads=%u life=%lu no=%#lx "
           "only=%#lx\n", (unsigned long)W.seed, (unsigned long)W.calls_wanted,
           (unsigned long)si.ncpus, W.nchildren, W.nthreads, (unsigned long)W.life,
           (unsigned long)W.nomask, (unsigned long)W.only);
    k_thread_sched(0, 255, K_SCHED_FIFO);
    W.image = rt_handle("bootfs");
    W.io = k_resource_narrow(rt_handle("ioport"), 0x80, 1);
    for (unsigned i = 0; i < MAX_CHILDREN; i++)     /* bus 0xfe: no devices there */
        W.dma[i] = k_resource_narrow(rt_handle("pci"), K_PCI_FN(0xfe, i & 31, i >> 5), 1);
    W.chan = k_chan_create(0);
    W.conn = k_chan_connect(W.chan, 0, 0);
    W.timer = k_timer_create(W.conn, CODE_TIMER, 0);
    if (W.chan < 0 || W.conn < 0 || W.timer < 0 ||
        k_timer_set(W.timer, 250 * MS, 250 * MS) < 0) {
        printf("sysfuzz: cannot set up the parent's channel\n");
        return 2;
    }
    struct k_sysinfo before = sysinfo();
    for (unsigned i = 0; i < W.nchildren; i++)
        W.kids[i].want = true;
    uint64_t t0 = (uint64_t)k_clock_get(), last_progress = t0;
    uint64_t next_mark = W.calls_wanted / 10;
    while (W.calls < W.calls_wanted) {
        for (unsigned i = 0; i < W.nchildren; i++)
            if (W.kids[i].want) {
                long r = spawn_child(i);
                if (r < 0 && r != -E_NOMEM)
                    printf("sysfuzz: spawning child %u failed: %s\n", i, k_strerror(r));
            }
        struct k_msg_info info;
        long rcvid = k_msg_receive(W.chan, 0, 0, (long)&info);
        if (rcvid > 0) {
            k_msg_error(rcvid, E_PERM);
            continue;
        }
        if (rcvid < 0) {
            printf("sysfuzz: receive failed: %s\n", k_strerror(rcvid));
            return 2;
        }
        uint64_t now = (uint64_t)k_clock_get();
        long code = info.code;
        if (code >= CODE_REPORT && code < CODE_REPORT + MAX_CHILDREN) {
            unsigned i = (unsigned)(code - CODE_REPORT);
            W.calls += info.value;
            W.kids[i].calls += info.value;
            W.kids[i].last_report = now;
        } else if (code >= CODE_DEATH && code < CODE_DEATH + (MAX_CHILDREN << 8)) {
            unsigned i = (unsigned)((code - CODE_DEATH) >> 8);
            if (W.kids[i].h && (W.kids[i].gen & 0xff) == (unsigned)(code & 0xff))
                reap(i, (long)info.value);
        } else if (code >= CODE_VIOLATION && code < CODE_VIOLATION + MAX_CHILDREN) {
            W.violations++;
        } else if (code == CODE_TIMER) {
            for (unsigned i = 0; i < W.nchildren; i++) {
                struct kid *k = &W.kids[i];
                if (k->h && now - k->last_report > 20000 * (uint64_t)MS) {
                    printf("sysfuzz: child %u (life %u) has not reported for 20 s; killing it\n",
                           i, k->gen);
                    k_process_kill(k->h, ST_PSTUCK);
                    k->last_report = now;
                } else if (k->h && one_in(&W.rng, 64)) {
                    k_process_kill(k->h, ST_KILLED);
                }
            }
        }
        if (now - last_progress >= 2000 * (uint64_t)MS || W.calls >= next_mark) {
            progress();
            last_progress = now;
            while (next_mark <= W.calls)
                next_mark += W.calls_wanted / 10 ? W.calls_wanted / 10 : 1;
        }
    }
    /* The end: every child killed and reaped. */
    for (unsigned i = 0; i < W.nchildren; i++)
        if (W.kids[i].h)
            k_process_kill(W.kids[i].h, ST_STOP);
    for (unsigned i = 0; i < W.nchildren; i++)
        if (W.kids[i].h) {
            k_process_wait(W.kids[i].h, 0);
            k_handle_close(W.kids[i].h);
            W.kids[i].h = 0;
        }
    progress();
    /* Grandchildren end by their deadlines; zombies are reaped lazily (up
     * to 30 s: on a loaded host a run once still had two after 15 s). */
    for (unsigned i = 0; i < MAX_CHILDREN; i++)
        dma_drop(i);
    struct k_sysinfo after = sysinfo();
    uint64_t l = leaked(&before, &after);
    for (int tries = 0; l && tries < 300; tries++) {
        k_thread_sleep(100 * MS);
        for (unsigned i = 0; i < MAX_CHILDREN; i++)
            dma_drop(i);                     /* a grandchild's late mappings */
        after = sysinfo();
        l = leaked(&before, &after);
    }
    uint64_t secs = ((uint64_t)k_clock_get() - t0) / (1000 * (uint64_t)MS);
    printf("fuzz stats seconds=%lu lives=%u done=%u faults=%u killed=%u stuck=%u other=%u\n",
           (unsigned long)secs, W.lives, W.deaths_done, W.deaths_fault, W.deaths_killed,
           W.deaths_stuck, W.deaths_other);
    if (W.violations)
        printf("fuzz violations=%u (FUZZ VIOLATION lines above)\n", W.violations);
    printf("FUZZ DONE seed=%lu calls=%lu children=%u leaked=%lu\n", (unsigned long)W.seed,
           (unsigned long)W.calls, W.lives, (unsigned long)l);
    if (l)
        printf("fuzz leak: kmalloc_objects %lu->%lu kmem_pages %lu->%lu threads %lu->%lu "
               "processes %lu->%lu channels %lu->%lu connections %lu->%lu free_bytes %lu->%lu\n",
               before.kmalloc_objects, after.kmalloc_objects, before.kmem_pages, after.kmem_pages,
               before.threads, after.threads, before.processes, after.processes,
               before.channels, after.channels, before.connections, after.connections,
               before.free_bytes, after.free_bytes);
    return l || W.violations ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "c") == 0)
        return child_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "g") == 0)
        return grandchild_main(argc, argv);
    /* Only init holds the boot image: anything else that runs this
     * program with other arguments (a hostile spawn) just ends. */
    if (rt_handle("bootfs") < 0)
        return 5;
    return parent_main(argc, argv);
}
