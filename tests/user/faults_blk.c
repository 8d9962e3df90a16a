/*
 * faults_blk: the block workload of the fault campaign (tests/user/faults.c,
 * bin/faults, bootimage/tests/faults.manifest): WORKERS threads on
 * lib/bdev, each over its own chunks of the disk, writing new versions
 * and reading back, checked against what was acknowledged (a write that
 * failed may or may not have happened: either version is right until the
 * next read settles it).  Anything else read is a data error.  Progress:
 * requests answered.
 */
#include <stdbool.h>

#include "base/string.h"
#include "bdev/bdev.h"
#include "faults.h"
#include "kestrel/errors.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define WORKERS 3
#define CHUNKS 64                      /* a worker's, of 8 sectors (4 KiB) each */
#define CHUNK_SECTORS 8
#define SLICE (64u << 10)              /* a worker's part of the buffer */
#define STACK 16384

static struct bdev b;

struct worker {
    struct rt_thread th;
    unsigned index;
    uint64_t rng;
    uint32_t version[CHUNKS];          /* acknowledged */
    uint32_t maybe[CHUNKS];            /* a write not acknowledged (0: none) */
    uint32_t next;
};

static struct worker workers[WORKERS];
static uint8_t stacks[WORKERS][STACK] __attribute__((aligned(16)));

static uint64_t word(unsigned w, uint32_t version, uint64_t sector, unsigned i)
{
    uint64_t seed = ((uint64_t)w << 56) ^ ((uint64_t)version << 24) ^ 0x5357494649ULL;
    return seed ^ ((sector * 64 + i + 1) * 0x9e3779b97f4a7c15ULL);
}

static void fill(uint64_t *p, unsigned w, uint32_t version, uint64_t sector)
{
    for (unsigned s = 0; s < CHUNK_SECTORS; s++)
        for (unsigned i = 0; i < 64; i++)
            p[s * 64 + i] = word(w, version, sector + s, i);
}

static bool holds(const uint64_t *p, unsigned w, uint32_t version, uint64_t sector)
{
    for (unsigned s = 0; s < CHUNK_SECTORS; s++)
        for (unsigned i = 0; i < 64; i++)
            if (p[s * 64 + i] != word(w, version, sector + s, i))
                return false;
    return true;
}

static uint64_t chunk_sector(unsigned w, unsigned c)
{
    return ((uint64_t)w * CHUNKS + c) * CHUNK_SECTORS;
}

static bool write_chunk(struct worker *wk, unsigned c)
{
    uint64_t *p = (uint64_t *)(b.buf + wk->index * SLICE);
    uint32_t v = ++wk->next;
    fill(p, wk->index, v, chunk_sector(wk->index, c));
    long r = bdev_write(&b, chunk_sector(wk->index, c), CHUNK_SECTORS, wk->index * SLICE);
    if (r == CHUNK_SECTORS * 512) {
        wk->version[c] = v;
        wk->maybe[c] = 0;
        return true;
    }
    wk->maybe[c] = v;                  /* on the disk, or not */
    faults_io_error(r);
    return false;
}

/* Where the words at P came from, for the report of a data error. */
static void explain(const uint64_t *p)
{
    if (p[0] == 0xeeeeeeeeeeeeeeeeULL) {
        printf("faults:   the buffer as we left it: the read brought nothing\n");
        return;
    }
    for (unsigned w = 0; w < WORKERS; w++)
        for (unsigned c = 0; c < CHUNKS; c++)
            for (unsigned k = 0; k < CHUNK_SECTORS; k++) {
                uint64_t s = chunk_sector(w, c) + k;
                uint64_t v = ((p[0] ^ ((s * 64 + 1) * 0x9e3779b97f4a7c15ULL) ^ 0x5357494649ULL ^
                               ((uint64_t)w << 56)) >> 24) & 0xffffffff;
                if (word(w, (uint32_t)v, s, 0) == p[0]) {
                    printf("faults:   its first sector holds worker %u's sector %lu, version %lu\n",
                           w, (unsigned long)s, (unsigned long)v);
                    return;
                }
            }
    printf("faults:   its first word is no sector's\n");
}

static bool read_chunk(struct worker *wk, unsigned c)
{
    uint64_t *p = (uint64_t *)(b.buf + wk->index * SLICE);
    memset(p, 0xee, CHUNK_SECTORS * 512);
    uint64_t s = chunk_sector(wk->index, c);
    long r = bdev_read(&b, s, CHUNK_SECTORS, wk->index * SLICE);
    if (r != CHUNK_SECTORS * 512) {
        faults_io_error(r);
        return false;
    }
    if (holds(p, wk->index, wk->version[c], s)) {
        wk->maybe[c] = 0;
    } else if (wk->maybe[c] && holds(p, wk->index, wk->maybe[c], s)) {
        wk->version[c] = wk->maybe[c];
        wk->maybe[c] = 0;
    } else {
        long n = __atomic_add_fetch(&faults_data_errors, 1, __ATOMIC_RELAXED);
        if (n <= 5) {
            printf("faults: DATA ERROR: worker %u sector %lu: not version %u%s\n",
                   wk->index, (unsigned long)s, wk->version[c],
                   wk->maybe[c] ? " nor the unacknowledged one" : "");
            explain(p);
        }
        write_chunk(wk, c);            /* a known state again */
    }
    return true;
}

static long worker_main(void *arg)
{
    struct worker *wk = arg;
    uint64_t st = wk->rng;
    while (!faults_done) {
        st ^= st >> 12, st ^= st << 25, st ^= st >> 27;
        uint64_t x = st * 0x2545f4914f6cdd1dULL;
        unsigned c = (unsigned)(x % CHUNKS);
        bool ok = (x >> 32) & 1 ? write_chunk(wk, c) : read_chunk(wk, c);
        if (ok)
            __atomic_fetch_add(&faults_progress, 1, __ATOMIC_RELAXED);   /* served */
        else
            k_thread_sleep(FAULTS_MS);                  /* not a busy loop on a broken driver */
    }
    return 0;
}

static long th[WORKERS];

static int start(const char *driver)
{
    long conn = rt_handle(driver);
    long r = conn < 0 ? -E_NOENT : bdev_open(&b, conn, WORKERS * SLICE);
    if (r < 0) {
        printf("faults: cannot start (%s, a session): %s\n", driver, k_strerror(r));
        return 2;
    }
    b.at.driver = driver;              /* complaints: lib/bdev names it to the supervisor */
    /* Every chunk written once, by a driver with no fault. */
    for (unsigned w = 0; w < WORKERS; w++) {
        workers[w] = (struct worker){ .index = w, .rng = faults_rnd() | 1 };
        for (unsigned c = 0; c < CHUNKS; c++)
            if (!write_chunk(&workers[w], c)) {
                printf("faults: the first writes failed\n");
                return 2;
            }
    }
    for (unsigned w = 0; w < WORKERS; w++)
        th[w] = rt_thread_spawn(&workers[w].th, worker_main, &workers[w], stacks[w], STACK, 0);
    return 0;
}

static void stop(void)
{
    for (unsigned w = 0; w < WORKERS; w++)
        k_thread_join(th[w], 0);
}

/* Every chunk read once more. */
static bool final_check(void)
{
    long p0 = faults_progress;
    for (unsigned w = 0; w < WORKERS; w++)
        for (unsigned c = 0; c < CHUNKS; c++)
            if (read_chunk(&workers[w], c))
                faults_progress++;
    return faults_progress != p0;
}

static void detail(void)
{
    printf(" resends=%u garbage_replies=%u complaints=%u", b.resends, b.garbage,
           b.at.complaints);
}

const struct faults_workload faults_workload = {
    .driver = "vblk", .start = start, .stop = stop, .final_check = final_check,
    .detail = detail, .what = "3 workers over 256 KiB each",
};
