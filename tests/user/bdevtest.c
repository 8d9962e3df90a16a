/*
 * bdevtest: lib/bdev against a driver that answers wrongly (boot
 * bdev_hostile).  A fake block driver runs in a thread of ours on a
 * channel of ours and answers each read as the test asks: the right byte
 * count, a byte count nobody asked for, a huge one, E_IO, "another life"
 * once, an attach answered without a session, or with a connection that
 * is no session (answered E_PERM).  Checks: garbage is never
 * passed on as success (E_IO, counted), the driver's own errors come back
 * as they are, a past life's session is attached again and resent, and a
 * request outside the disk is refused without reaching the driver's
 * wrong-answer path.  "bdevtest: ok WHAT" / "FAIL WHAT", then "BDEVTEST
 * DONE: N failed".
 */
#include "base/string.h"
#include "bdev/bdev.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "rt/proto.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define SECTORS 64
#define MAIN_BADGE 1
#define SESSION_BADGE 2

enum mode { M_OK, M_GARBAGE, M_HUGE, M_IO, M_REVOKE_ONCE, M_NO_SESSION, M_BOGUS, M_BOGUS_ATTACH };

static volatile int mode;
static long chan, main_conn, session_conn;
static uint64_t cur_badge;
static volatile long reads_seen, attaches_seen;
static int failed;

static void check(int ok, const char *what)
{
    printf("bdevtest: %s %s\n", ok ? "ok" : "FAIL", what);
    failed += !ok;
}

static long on_info(void *ctx, long rcvid, const struct blk_info_req *q, struct blk_info_rep *r)
{
    (void)ctx, (void)rcvid, (void)q;
    *r = (struct blk_info_rep){ .sectors = SECTORS, .max_transfer = 4096, .queue_depth = 1 };
    return 0;
}

static long on_attach(void *ctx, long rcvid, const struct blk_attach_req *q,
                      struct blk_attach_rep *r)
{
    (void)ctx, (void)rcvid, (void)q;
    attaches_seen++;
    r->size = 4096;
    if (mode == M_NO_SESSION)
        return 0;                                /* no session rides with the answer */
    long h = session_conn;
    if (mode == M_BOGUS_ATTACH)
        h = main_conn, mode = M_OK;              /* a connection that is no session */
    long c = k_handle_dup(h, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER);
    return c < 0 ? c : k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
}

static long on_read(void *ctx, long rcvid, const struct blk_read_req *q, struct blk_read_rep *r)
{
    (void)ctx, (void)rcvid, (void)r;
    reads_seen++;
    if (cur_badge != SESSION_BADGE)
        return -E_PERM;                          /* as a driver answers a non-session */
    if (q->sector >= SECTORS || q->offset + (uint64_t)q->count * BLK_SECTOR > 4096)
        return -E_TOOBIG;
    switch (mode) {
    case M_GARBAGE: return 7;
    case M_HUGE: return 1L << 40;
    case M_IO: return -E_IO;
    case M_REVOKE_ONCE: mode = M_OK; return -E_REVOKED;
    case M_NO_SESSION: return -E_REVOKED;
    case M_BOGUS: mode = M_BOGUS_ATTACH; return -E_REVOKED;
    default: return (long)q->count * BLK_SECTOR;
    }
}

static const struct blk_server fake = { .info = on_info, .attach = on_attach, .read = on_read };

static long driver_main(void *arg)
{
    (void)arg;
    uint64_t buf[64];
    for (;;) {
        struct k_msg_info info;
        long rcvid = k_msg_receive(chan, (long)buf, -(long)sizeof(buf), (long)&info);
        if (rcvid <= 0)
            continue;                            /* pulses: none expected */
        if (info.handle)
            k_handle_close(info.handle);         /* the buffer: never touched */
        size_t len = info.send_len < sizeof(buf) ? info.send_len : sizeof(buf);
        cur_badge = info.badge;
        blk_dispatch(&fake, rcvid, buf, len);
    }
    return 0;
}

static struct rt_thread th;
static uint8_t stack[16384] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    chan = k_chan_create(0);
    long conn = chan < 0 ? chan : k_chan_connect(chan, MAIN_BADGE, 0);
    main_conn = conn;
    session_conn = conn < 0 ? conn : k_chan_connect(chan, SESSION_BADGE, 0);
    if (session_conn < 0 || rt_thread_spawn(&th, driver_main, 0, stack, sizeof(stack), 0) < 0) {
        printf("bdevtest: cannot set up the fake driver\nBDEVTEST DONE: 1 failed\n");
        return 1;
    }
    struct bdev b;
    long r = bdev_open(&b, conn, 4096);
    check(r == 0 && b.info.sectors == SECTORS, "a session with the fake driver");
    if (r < 0) {
        printf("BDEVTEST DONE: %d failed\n", failed + 1);
        return 1;
    }
    check(bdev_read(&b, 0, 1, 0) == BLK_SECTOR, "a read answered rightly");
    mode = M_GARBAGE;
    r = bdev_read(&b, 0, 1, 0);
    check(r == -E_IO && b.garbage == 1, "a byte count not asked for: E_IO, counted as garbage");
    mode = M_HUGE;
    r = bdev_read(&b, 0, 2, 0);
    check(r == -E_IO && b.garbage == 2, "a huge byte count: E_IO, counted as garbage");
    mode = M_IO;
    check(bdev_read(&b, 0, 1, 0) == -E_IO, "the driver's own E_IO comes back as it is");
    long seen = reads_seen;
    check(bdev_read(&b, SECTORS, 1, 0) == -E_TOOBIG && reads_seen == seen + 1,
          "a sector outside the disk: the driver's E_TOOBIG, once (not a wrong answer)");
    check(bdev_read(&b, 0, 1, 8192) == -E_TOOBIG, "a buffer offset past the buffer: refused");
    mode = M_REVOKE_ONCE;
    long att = attaches_seen, resends = b.resends;
    r = bdev_read(&b, 0, 1, 0);
    check(r == BLK_SECTOR && attaches_seen == att + 1 && b.resends == resends + 1,
          "a past life's session: attached again and resent, then answered");
    mode = M_NO_SESSION;
    r = bdev_read(&b, 0, 1, 0);
    check(r == -E_IO, "an attach answered without a session: E_IO");
    mode = M_OK;
    check(bdev_read(&b, 1, 1, 0) == BLK_SECTOR, "and the next call attaches and is answered");
    mode = M_BOGUS;
    att = attaches_seen;
    r = bdev_read(&b, 0, 1, 0);
    long r2 = bdev_read(&b, 0, 1, 0);
    check(r == -E_IO && r2 == BLK_SECTOR && attaches_seen == att + 2,
          "a session that is none (E_PERM): E_IO, attached again, the next call answered");
    bdev_close(&b);
    printf("BDEVTEST DONE: %d failed\n", failed);
    return failed != 0;
}
