/*
 * blktest: the virtio block driver (drivers/virtio-blk) through lib/bdev,
 * on a disk image tools/runtests makes and checks after shutdown
 * (bootimage/tests/blk.manifest, boot blk_raw).
 *
 *   - the disk's geometry; hostile requests (malformed, out of range,
 *     past the buffer, over max_transfer, no session, attach without or
 *     with the wrong handle, a client's pulse) each get their error and
 *     the driver answers on, unchanged;
 *   - region A (sectors 0-8191, 4 MiB): a pattern written by four
 *     threads in 128 KiB requests (several in flight), read back;
 *   - region B (sectors 8192-16383): 4 KiB writes and reads by four
 *     threads while a fifth restarts the driver every RESTART_EVERY
 *     requests: every read holds what was written (the buffer is
 *     poisoned before each), no call fails, and lib/bdev counted resends;
 *   - the driver stopped: a request fails with E_DEAD, at once.
 *
 * "blktest: ok WHAT" / "FAIL WHAT", then "BLKTEST DONE: N failed".  The
 * pattern is pattern() below; runtests computes the same on the host.
 */
#include <stdbool.h>

#include "base/string.h"
#include "bdev/bdev.h"
#include "kestrel/errors.h"
#include "kestrel/proto.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define DISK_SECTORS 16384
#define REGION_B 8192
#define WORKERS 4
#define SLICE (512u << 10)             /* each worker's part of the buffer */
#define RESTART_EVERY 300
#define STACK 16384

static int failed;
static struct bdev b;
static long vblk, sup;

static void check(int ok, const char *what)
{
    printf("blktest: %s %s\n", ok ? "ok" : "FAIL", what);
    failed += !ok;
}

/* The 64-bit word WORD of SECTOR under SEED (runtests: the same). */
static uint64_t pattern(uint64_t seed, uint64_t sector, unsigned word)
{
    return seed ^ ((sector * 64 + word + 1) * 0x9e3779b97f4a7c15ULL);
}

static void fill(uint8_t *p, uint64_t seed, uint64_t sector, uint32_t count)
{
    uint64_t *w = (uint64_t *)p;
    for (uint32_t s = 0; s < count; s++)
        for (unsigned i = 0; i < 64; i++)
            w[s * 64 + i] = pattern(seed, sector + s, i);
}

static bool holds(const uint8_t *p, uint64_t seed, uint64_t sector, uint32_t count)
{
    const uint64_t *w = (const uint64_t *)p;
    for (uint32_t s = 0; s < count; s++)
        for (unsigned i = 0; i < 64; i++)
            if (w[s * 64 + i] != pattern(seed, sector + s, i))
                return false;
    return true;
}

static long raw(long conn, uint16_t version, uint16_t msg, const void *body, size_t len)
{
    static uint8_t buf[128], rep[64];
    struct k_proto_hdr h = { .proto = BLK_PROTO_ID, .version = version, .msg = msg };
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), body, len);
    return k_msg_send(conn, (long)buf, -(long)(sizeof(h) + len), (long)rep, -(long)sizeof(rep));
}

static void hostile(void)
{
    long s = b.at.session;
    struct blk_read_req q = { .sector = 0, .offset = 0, .count = 0 };
    struct blk_read_rep rr;
    check(blk_read(s, &q, &rr) == -E_INVAL, "a read of 0 sectors: E_INVAL");
    q = (struct blk_read_req){ .count = 1, .reserved = 1 };
    check(blk_read(s, &q, &rr) == -E_INVAL, "reserved bits set: E_INVAL");
    q = (struct blk_read_req){ .sector = DISK_SECTORS, .count = 1 };
    check(blk_read(s, &q, &rr) == -E_TOOBIG, "a sector past the end: E_TOOBIG");
    q = (struct blk_read_req){ .sector = DISK_SECTORS - 1, .count = 2 };
    check(blk_read(s, &q, &rr) == -E_TOOBIG, "a range over the end: E_TOOBIG");
    q = (struct blk_read_req){ .sector = ~0ULL - 1, .count = 4 };
    check(blk_read(s, &q, &rr) == -E_TOOBIG, "a sector range that wraps: E_TOOBIG");
    q = (struct blk_read_req){ .offset = b.size - 512, .count = 2 };
    check(blk_read(s, &q, &rr) == -E_TOOBIG, "bytes past the shared buffer: E_TOOBIG");
    q = (struct blk_read_req){ .offset = ~0ULL - 100, .count = 1 };
    check(blk_read(s, &q, &rr) == -E_TOOBIG, "an offset that wraps: E_TOOBIG");
    q = (struct blk_read_req){ .count = b.info.max_transfer / 512 + 1 };
    check(blk_read(s, &q, &rr) == -E_TOOBIG, "more than max_transfer: E_TOOBIG");
    q = (struct blk_read_req){ .count = 1 };
    check(blk_read(vblk, &q, &rr) == -E_PERM, "a read on a connection that is no session: E_PERM");
    struct blk_attach_req aq = { 0 };
    struct blk_attach_rep ar;
    check(blk_attach(vblk, &aq, &ar) == -E_BADHANDLE, "attach with no handle: E_BADHANDLE");
    long ch = k_chan_create(0);
    k_handle_attach(ch, K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
    check(blk_attach(vblk, &aq, &ar) == -E_WRONGTYPE, "attach with a channel: E_WRONGTYPE");
    k_handle_close(ch);
    long anon = k_vmo_create(8192, K_VMO_ANON, 0, 0);
    k_handle_attach(anon, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, 0);
    check(blk_attach(vblk, &aq, &ar) < 0, "attach with memory that is not contiguous: refused");
    k_handle_attach(anon, K_RIGHT_READ | K_RIGHT_MAP, 0);
    check(blk_attach(vblk, &aq, &ar) < 0, "attach with memory the device could not write: refused");
    k_handle_close(anon);
    k_handle_attach(b.at.vmo, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, 0);
    check(blk_attach(s, &aq, &ar) == -E_PERM, "attach on a session: E_PERM");
    uint32_t junk[4] = { 0 };
    check(raw(s, BLK_VERSION, BLK_MSG_READ, junk, 6) == -E_INVAL, "a truncated read: E_INVAL");
    check(raw(s, BLK_VERSION + 1, BLK_MSG_READ, junk, 16) == -E_NOSYS, "a newer client: E_NOSYS");
    check(raw(s, BLK_VERSION, 99, junk, 16) < 0, "an unknown message: an error");
    check(k_pulse_send(s, BLK_IRQ_CODE, 0, 0) == 0 && k_pulse_send(vblk, BLK_IRQ_CODE, 0, 0) == 0,
          "pulses with the interrupt's code from a client: sent (and ignored)");
    struct blk_info_req iq = { 0 };
    struct blk_info_rep ir;
    check(blk_info(vblk, &iq, &ir) == 0 && ir.sectors == b.info.sectors,
          "the driver still answers, the same");
}

/* ---- region A: large requests, several in flight ---- */

struct worker {
    struct rt_thread th;
    unsigned index;
    long errors, mismatches, done;
};

static struct worker workers[WORKERS];
static uint8_t stacks[WORKERS + 1][STACK] __attribute__((aligned(16)));
static volatile long completed;        /* requests answered, all workers */
static volatile int stop_killer;

static long region_a(void *arg)
{
    struct worker *w = arg;
    uint8_t *mine = b.buf + w->index * SLICE;
    uint64_t first = w->index * (REGION_B / WORKERS);
    for (uint64_t s = first; s < first + REGION_B / WORKERS; s += 256) {
        fill(mine, 0x4b41, s, 256);
        w->errors += bdev_write(&b, s, 256, w->index * SLICE) != 256 * 512;
    }
    for (uint64_t s = first; s < first + REGION_B / WORKERS; s += 256) {
        memset(mine, 0xee, 256 * 512);
        w->errors += bdev_read(&b, s, 256, w->index * SLICE) != 256 * 512;
        w->mismatches += !holds(mine, 0x4b41, s, 256);
    }
    return 0;
}

/* ---- region B: small requests while the driver is restarted ---- */

static long region_b(void *arg)
{
    struct worker *w = arg;
    uint8_t *mine = b.buf + w->index * SLICE;
    uint64_t first = REGION_B + w->index * (REGION_B / WORKERS);
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t s = first; s < first + REGION_B / WORKERS; s += 8) {
            long r;
            if (pass == 0) {
                fill(mine, 0x4b42, s, 8);
                r = bdev_write(&b, s, 8, w->index * SLICE);
            } else {
                memset(mine, 0xee, 8 * 512);
                r = bdev_read(&b, s, 8, w->index * SLICE);
                w->mismatches += r == 8 * 512 && !holds(mine, 0x4b42, s, 8);
            }
            if (r != 8 * 512 && w->errors++ < 3)
                printf("blktest: worker %u: sector %lu: %s\n", w->index, (unsigned long)s,
                       k_strerror(r));
            w->done++;
            __atomic_fetch_add(&completed, 1, __ATOMIC_RELAXED);
        }
    }
    return 0;
}

static long restarts;

static long killer(void *arg)
{
    (void)arg;
    long next = RESTART_EVERY;
    while (!stop_killer) {
        if (__atomic_load_n(&completed, __ATOMIC_RELAXED) < next) {
            k_thread_sleep(1000000L);
            continue;
        }
        struct supervisor_restart_req rq = { 0 };
        memcpy(rq.name, "vblk0", 6);
        struct supervisor_restart_rep rr;
        long r = supervisor_restart(sup, &rq, &rr);
        if (r == 0)
            restarts++;
        else
            printf("blktest: the supervisor's restart of vblk0: %s\n", k_strerror(r));
        next += RESTART_EVERY;
    }
    return 0;
}

static void run(long (*fn)(void *), bool with_killer)
{
    long h[WORKERS + 1];
    for (unsigned i = 0; i < WORKERS; i++) {
        workers[i] = (struct worker){ .index = i };
        h[i] = rt_thread_spawn(&workers[i].th, fn, &workers[i], stacks[i], STACK, 0);
    }
    static struct rt_thread kt;
    stop_killer = 0;
    h[WORKERS] = with_killer ? rt_thread_spawn(&kt, killer, 0, stacks[WORKERS], STACK, 0) : -1;
    for (unsigned i = 0; i < WORKERS; i++)
        k_thread_join(h[i], 0);
    stop_killer = 1;
    if (h[WORKERS] > 0)
        k_thread_join(h[WORKERS], 0);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    vblk = rt_handle("vblk0");
    sup = rt_handle("supervisor");
    long r = vblk < 0 ? vblk : bdev_open(&b, vblk, 4u << 20);
    check(r == 0, "a session with the driver (a 4 MiB buffer attached)");
    if (r < 0) {
        printf("blktest: %s\nBLKTEST DONE: %d failed\n", k_strerror(r), failed + 1);
        return 1;
    }
    printf("blktest: disk of %lu sectors, %u bytes a request at most, %u at once, flags %#x\n",
           (unsigned long)b.info.sectors, b.info.max_transfer, b.info.queue_depth, b.info.flags);
    check(b.info.sectors == DISK_SECTORS && b.info.max_transfer >= 128 * 1024 &&
          b.info.queue_depth >= 4, "info: the disk's size (8 MiB), transfers of 128 KiB, a queue");
    hostile();

    long t0 = k_clock_get();
    run(region_a, false);
    long e = 0, m = 0;
    for (unsigned i = 0; i < WORKERS; i++)
        e += workers[i].errors, m += workers[i].mismatches;
    printf("blktest: region A: 4 MiB written and read back in %ld ms\n",
           (k_clock_get() - t0) / 1000000);
    check(e == 0 && m == 0, "region A: 4 MiB by four threads in 128 KiB requests, read back the same");

    uint32_t resends0 = b.resends;
    t0 = k_clock_get();
    run(region_b, true);
    e = m = 0;
    long done = 0;
    for (unsigned i = 0; i < WORKERS; i++)
        e += workers[i].errors, m += workers[i].mismatches, done += workers[i].done;
    printf("blktest: region B: %ld requests, the driver restarted %ld times, %u resent, "
           "%u sessions, %ld ms\n", done, restarts, b.resends - resends0, b.at.attaches,
           (k_clock_get() - t0) / 1000000);
    check(restarts >= 5, "region B: the driver restarted every 300 requests");
    check(e == 0, "region B: no request failed");
    check(m == 0, "region B: every read holds what was written");
    check(b.resends > resends0 && b.at.attaches > 1, "region B: requests were resent to new lives");
    check(bdev_flush(&b) == 0, "flush");
    check(b.garbage == 0, "no reply made no sense");

    struct supervisor_stop_req sq = { 0 };
    memcpy(sq.name, "vblk0", 6);
    struct supervisor_stop_rep sr;
    r = supervisor_stop(sup, &sq, &sr);
    k_thread_sleep(200 * 1000000L);
    t0 = k_clock_get();
    r = r < 0 ? r : bdev_read(&b, 0, 1, 0);
    long ms = (k_clock_get() - t0) / 1000000;
    printf("blktest: with the driver stopped a read ended with %s after %ld ms\n",
           k_strerror(r), ms);
    check(r == -E_DEAD && ms < 1000, "the driver stopped: a read fails with E_DEAD, at once");
    printf("BLKTEST DONE: %d failed\n", failed);
    return failed != 0;
}
