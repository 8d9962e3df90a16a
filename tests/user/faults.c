/*
 * faults: software-implemented fault injection into a running driver (as
 * MINIX 3's SWIFI campaigns did it), under a workload that checks every
 * byte it reads.  Arguments: FAULTS [SEED] [DRIVER] (default: the
 * workload's, vblk for the virtio block driver,
 * bootimage/tests/faults.manifest; vnet0 for the network one,
 * bootimage/tests/netfaults.manifest).
 *
 * The driver's manifest line says debug=1, so the supervisor hands us its
 * process (supervisor debug: READ and WRITE).  Each fault changes the
 * driver's code where it runs (process_write into its text):
 *
 *   bitflip    one bit of a random byte
 *   branch     a conditional jump's condition inverted (loop conditions
 *              too): 0x70-0x7f, or 0x0f 0x80-0x8f
 *   drop       an instruction dropped: a call (0xe8, 5 bytes) or a short
 *              conditional jump (2 bytes) made NOPs
 *   pointer    the 8-bit displacement of a 64-bit memory operand (mov or
 *              lea with REX.W, mod 01) replaced: a pointer off somewhere
 *   operand    an immediate operand replaced (0x83 /r ib, mov r32 imm32)
 *   register   the source or destination register of a mov changed
 *   kill       no change: the driver killed at that moment (supervisor
 *              restart)
 *
 * The patterns are found by scanning bytes from a random place, not by
 * decoding instructions: like SWIFI's, a fault may land inside another
 * instruction.  Where a pattern is not found within 64 bytes, a bitflip.
 *
 * A life of the driver gets up to FAULTS_PER_LIFE faults, each followed
 * by some requests; it ends by a crash (the supervisor counts a death by
 * a fault, the driver's own fail-stop checks included), a hang (the
 * supervisor killed it: its heartbeats stopped, or lib/bdev complained
 * that it refused valid requests; lib/netdev likewise), or, when
 * it survived them all, a restart of ours (its code back to what it was).
 * A crashed or hung life is recovered when requests are served again.
 * A life that stops serving while the supervisor still sees it alive is
 * a hang the supervisor did not catch: we count it and restart it.
 *
 * The workload is the program's (faults.h): bin/faults runs the block
 * one (faults_blk.c), bin/netfaults the network one (faults_net.c); both
 * count what was served, and what they read wrong as data errors.
 *
 * Output: a progress line every 500 faults, then
 *   faults: injected=N crashes=C hangs=H recovered=R kernel_panics=0 data_errors=D
 * (kernel_panics: we are still running; the host counts panics it saw),
 * and a detail line, then "FAULTS DONE: ok" when every crash and hang
 * recovered, no hang went uncaught and no data error was seen.  Exit
 * status 0 when every crash and hang recovered and the driver always came
 * back (the recovery works; what the faults did to data is the DONE
 * line's).
 */
#include <stdbool.h>

#include "base/string.h"
#include "faults.h"
#include "kestrel/errors.h"
#include "kestrel/vm.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"

#define FAULTS_PER_LIFE 25
#define HANG_MS 5000                   /* no progress for this long: hung */
#define BACK_MS FAULTS_BACK_MS
#define MS FAULTS_MS

enum { F_BITFLIP, F_BRANCH, F_DROP, F_POINTER, F_OPERAND, F_REGISTER, F_KILL, F_TYPES };
static const char *const type_names[F_TYPES] = { "bitflip", "branch", "drop", "pointer",
                                                 "operand", "register", "kill" };

static long sup;
static char driver[32];
static unsigned driver_index;
volatile long faults_progress;         /* what the workload had served */
volatile int faults_done;
long faults_data_errors;
static long io_errors;
static long io_by_code[24];            /* io_errors by error code */

void faults_io_error(long r)
{
    __atomic_fetch_add(&io_errors, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&io_by_code[r < 0 && r > -24 ? -r : 0], 1, __ATOMIC_RELAXED);
}

/* ---- randomness (xorshift64*) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

uint64_t faults_rnd(void)
{
    return rnd();
}

/* ---- the driver, as the supervisor sees it ---- */

struct seen {
    uint32_t state, faults, hangs, exits, complaints;
};

static bool same(const struct seen *a, const struct seen *b)
{
    return a->faults == b->faults && a->hangs == b->hangs && a->exits == b->exits &&
           a->complaints == b->complaints;
}

static struct seen look_at(unsigned index)
{
    struct supervisor_list_req q = { .index = index };
    struct supervisor_list_rep r;
    struct seen s = { 0 };
    if (supervisor_list(sup, &q, &r) == 0)
        s = (struct seen){ r.state, r.faults, r.hangs, r.exits, r.complaints };
    return s;
}

static struct seen look(void)
{
    return look_at(driver_index);
}

/* Service NAME's index in the supervisor's list, or -1. */
static int service_index(const char *name)
{
    for (unsigned i = 0;; i++) {
        struct supervisor_list_req q = { .index = i };
        struct supervisor_list_rep l;
        if (supervisor_list(sup, &q, &l) < 0)
            return -1;
        if (strcmp(l.name, name) == 0)
            return (int)i;
    }
}

long faults_deaths(const char *name)
{
    int i = service_index(name);
    if (i < 0)
        return -1;
    struct seen s = look_at((unsigned)i);
    return (long)s.faults + s.hangs + s.exits + s.complaints;
}

static long restart_driver(void)
{
    struct supervisor_restart_req q = { 0 };
    memcpy(q.name, driver, strlen(driver));
    struct supervisor_restart_rep r;
    return supervisor_restart(sup, &q, &r);
}

/* The driver's process, once it runs again (a restart it waits for the
 * backoff of is hurried: the campaign is about faults, not backoffs). */
static long driver_process(void)
{
    for (long end = k_clock_get() + BACK_MS * MS; k_clock_get() < end;) {
        struct supervisor_debug_req q = { 0 };
        memcpy(q.name, driver, strlen(driver));
        struct supervisor_debug_rep r;
        long e = supervisor_debug(sup, &q, &r);
        if (e == 0)
            return k_handle_received();
        if (e != -E_NOENT)
            return e;
        if (look().state == 3)
            restart_driver();
        k_thread_sleep(MS);
    }
    return -E_TIMEOUT;
}

/* ---- faults ---- */

struct text {
    uint64_t start, size;
};

static bool find_text(long proc, struct text *t)
{
    struct k_region regs[64];
    long n = k_process_regions(proc, (long)regs, 64);
    *t = (struct text){ 0, 0 };
    for (long i = 0; i < n; i++)
        if (regs[i].prot == (K_PROT_READ | K_PROT_EXEC) && regs[i].size > t->size)
            *t = (struct text){ regs[i].start, regs[i].size };
    return t->size >= 128;
}

/* Applies fault TYPE at a random place of T; 0, or an error (the driver
 * went meanwhile). */
static long inject(long proc, const struct text *t, int type)
{
    uint8_t w[64];
    uint64_t at = t->start + below(t->size - sizeof(w));
    long r = k_process_read(proc, (long)at, (long)w, sizeof(w));
    if (r != (long)sizeof(w))
        return r < 0 ? r : -E_FAULT;
    unsigned off = 0, len = 0;
    uint8_t patch[8];
    for (unsigned i = 0; i + 6 < sizeof(w) && !len; i++) {
        uint8_t o = w[i], m = w[i + 1];
        switch (type) {
        case F_BRANCH:
            if (o >= 0x70 && o <= 0x7f)
                off = i, len = 1, patch[0] = o ^ 1;
            else if (o == 0x0f && m >= 0x80 && m <= 0x8f)
                off = i + 1, len = 1, patch[0] = m ^ 1;
            break;
        case F_DROP:
            if (o == 0xe8)
                off = i, len = 5, memset(patch, 0x90, 5);
            else if (o >= 0x70 && o <= 0x7f)
                off = i, len = 2, memset(patch, 0x90, 2);
            break;
        case F_POINTER:
            if ((o & 0xf0) == 0x40 && (o & 8) && (m == 0x8b || m == 0x89 || m == 0x8d) &&
                (w[i + 2] >> 6) == 1) {
                unsigned d = (w[i + 2] & 7) == 4 ? i + 4 : i + 3;   /* a SIB byte first */
                off = d, len = 1, patch[0] = (uint8_t)rnd();
            }
            break;
        case F_OPERAND:
            if (o == 0x83 && (m >> 6) == 3)
                off = i + 2, len = 1, patch[0] = (uint8_t)rnd();
            else if (o >= 0xb8 && o <= 0xbf)
                off = i + 1, len = 4, memcpy(patch, &(uint32_t){ (uint32_t)rnd() }, 4);
            break;
        case F_REGISTER:
            if ((o == 0x89 || o == 0x8b) && (m >> 6) == 3)
                off = i + 1, len = 1, patch[0] = (uint8_t)(m ^ (1u << (3 + below(3))));
            break;
        default:
            break;
        }
    }
    if (!len) {                        /* a bitflip, asked for or instead */
        off = (unsigned)below(sizeof(w));
        len = 1;
        patch[0] = (uint8_t)(w[off] ^ (1u << below(8)));
    }
    r = k_process_write(proc, (long)(at + off), (long)patch, len);
    return r == (long)len ? 0 : r < 0 ? r : -E_FAULT;
}

/* Waits until N more requests are answered, the driver died, or MAX_MS;
 * true if it died. */
static bool run_for(long n, long max_ms, const struct seen *before)
{
    long target = faults_progress + n;
    for (long end = k_clock_get() + max_ms * MS; k_clock_get() < end;) {
        if (faults_progress >= target)
            return false;
        struct seen s = look();
        if (!same(&s, before))
            return true;
        k_thread_sleep(MS);                      /* a timer tick: 10 ms */
    }
    return false;
}

static long parse(const char *s, long dflt)
{
    if (!s || !*s)
        return dflt;
    long v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (*s - '0');
    return v;
}

int main(int argc, char **argv)
{
    long want = parse(argc > 1 ? argv[1] : 0, 100);
    rng_state = (uint64_t)parse(argc > 2 ? argv[2] : 0, 1) * 0x9e3779b97f4a7c15ULL + 1;
    const struct faults_workload *w = &faults_workload;
    const char *name = argc > 3 ? argv[3] : w->driver;
    if (strlen(name) >= sizeof(driver)) {
        printf("faults: %s: not a service name\n", name);
        return 2;
    }
    memcpy(driver, name, strlen(name) + 1);
    sup = rt_handle("supervisor");
    int index = sup < 0 ? -1 : service_index(driver);
    if (index < 0) {
        printf("faults: no supervisor, or no service %s\n", driver);
        return 2;
    }
    driver_index = (unsigned)index;
    int st = w->start(driver);
    if (st)
        return st;
    printf("faults: %ld faults into %s, seed %s, %s\n", want, driver,
           argc > 2 ? argv[2] : "1", w->what);

    long injected = 0, crashes = 0, hangs = 0, recovered = 0, uncaught = 0, lost = 0;
    long lives = 0, survived = 0, complained = 0, by_type[F_TYPES] = { 0 };
    long bad_lives = 0, life_errors = 0;         /* lives in which data errors were seen */
    long restart_ms_total = 0, restart_count = 0;
    long t0 = k_clock_get();
    while (injected < want) {
        long proc = driver_process();
        if (proc < 0) {
            printf("faults: %s does not run again: %s\n", driver, k_strerror(proc));
            lost++;
            break;
        }
        lives++;
        bad_lives += faults_data_errors != life_errors;   /* the last life's (or its end's) */
        life_errors = faults_data_errors;
        struct text text;
        if (!find_text(proc, &text)) {
            k_handle_close(proc);
            continue;
        }
        struct seen before = look();
        bool died = false;
        for (int f = 0; f < FAULTS_PER_LIFE && injected < want && !died; f++) {
            /* Code faults alike; a kill one time in twenty. */
            int type = below(20) == 0 ? F_KILL : (int)below(F_KILL);
            if (type == F_KILL) {
                k_thread_sleep((long)below(3) * MS);
                restart_driver();
            } else if (inject(proc, &text, type) < 0) {
                died = true;                   /* it went meanwhile */
                break;
            }
            injected++;
            by_type[type]++;
            if (injected % 500 == 0)
                printf("faults: %ld injected, %ld crashes, %ld hangs, %ld recovered, "
                       "%ld data errors, %ld s\n", injected, crashes, hangs, recovered,
                       faults_data_errors, (k_clock_get() - t0) / 1000000000);
            died = run_for(5 + (long)below(40), 100, &before) || type == F_KILL;
        }
        long died_at = k_clock_get();
        if (!died) {
            /* Alive after its faults: serving, or hung unseen? */
            long p0 = faults_progress;
            died = run_for(1, HANG_MS, &before);
            if (!died && faults_progress == p0) {
                struct seen s = look();
                if (same(&s, &before)) {
                    uncaught++;
                    printf("faults: %s alive but serving nothing for %d ms: a hang the "
                           "supervisor did not catch\n", driver, HANG_MS);
                    if (faults_workload.hung)
                        faults_workload.hung();
                }
                died = true;
            }
            if (!died)
                survived++;
            restart_driver();                  /* its code as it was */
            died_at = k_clock_get();
        }
        k_handle_close(proc);
        /* Wait for the new life to serve. */
        struct seen after = look();
        for (long end = k_clock_get() + 100 * MS; same(&after, &before) && k_clock_get() < end;) {
            k_thread_sleep(MS);
            after = look();
        }
        long p1 = faults_progress;
        for (long end = k_clock_get() + BACK_MS * MS; faults_progress == p1 && k_clock_get() < end;) {
            if (look().state == 3)
                restart_driver();
            k_thread_sleep(MS);
        }
        long back = faults_progress != p1;
        long c = after.faults - before.faults, h = after.hangs - before.hangs;
        long q = after.complaints - before.complaints;
        crashes += c;
        hangs += h + q;
        complained += q;
        h += q;
        if (c + h > 0 && back)
            recovered += c + h;
        if (!back) {
            lost++;
            printf("faults: %s served nothing for %d s after a life ended\n", driver,
                   BACK_MS / 1000);
            if (faults_workload.hung)
                faults_workload.hung();
            break;
        }
        restart_ms_total += (k_clock_get() - died_at) / MS;
        restart_count++;
    }
    bad_lives += faults_data_errors != life_errors;
    faults_done = 1;
    long e0 = faults_data_errors;
    if (!lost) {
        /* A last pass, by a driver with no fault.  (Not after a driver that
         * did not come back: a thread may wait in a call for ever, and the
         * summary must still be said.) */
        w->stop();
        restart_driver();
        k_thread_sleep(100 * MS);
        e0 = faults_data_errors;
        if (!w->final_check()) {
            printf("faults: %s served nothing after its last restart\n", driver);
            lost++;
        }
    }
    printf("faults: injected=%ld crashes=%ld hangs=%ld recovered=%ld kernel_panics=0 "
           "data_errors=%ld\n", injected, crashes, hangs, recovered, faults_data_errors);
    printf("faults: detail lives=%ld survived=%ld hangs_complained=%ld uncaught_hangs=%ld "
           "not_back=%ld io_errors=%ld final_check_errors=%ld lives_with_data_errors=%ld",
           lives, survived, complained, uncaught, lost, io_errors, faults_data_errors - e0,
           bad_lives);
    w->detail();
    printf(" requests=%ld seconds=%ld back_after_ms=%ld", faults_progress,
           (k_clock_get() - t0) / 1000000000, restart_count ? restart_ms_total / restart_count : 0);
    for (int i = 0; i < F_TYPES; i++)
        printf(" %s=%ld", type_names[i], by_type[i]);
    printf("\nfaults: io errors by code:");
    for (int i = 0; i < 24; i++)
        if (io_by_code[i])
            printf(" %s=%ld", i ? k_strerror(-i) : "other", io_by_code[i]);
    printf("\n");
    bool recovering = lost == 0 && recovered == crashes + hangs;
    bool ok = recovering && uncaught == 0 && faults_data_errors == 0;
    printf("FAULTS DONE: %s\n", ok ? "ok" : "FAILED");
    return recovering ? 0 : 1;          /* the rest is for tools/faults to judge */
}
