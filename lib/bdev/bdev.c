/* bdev: block client with recovery (see blk.h). */
#include "bdev/bdev.h"

#include <stdbool.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/attach.h"
#include "rt/syscall.h"

static long send_attach(long conn, void *ctx)
{
    (void)ctx;
    struct blk_attach_req q = { 0 };
    struct blk_attach_rep rep;
    return blk_attach(conn, &q, &rep);
}

static long reattach(struct bdev *b, long stale)
{
    return rt_attach_again(&b->at, stale, send_attach, 0);
}

static long session(struct bdev *b)
{
    return rt_attach_session(&b->at, send_attach, 0);
}

enum { OP_READ, OP_WRITE, OP_FLUSH };

/* Whether the driver should have done it: inside the disk, the buffer
 * and max_transfer. */
static bool valid(const struct bdev *b, int op, uint64_t sector, uint32_t count, uint64_t offset)
{
    if (op == OP_FLUSH)
        return true;
    uint64_t bytes = (uint64_t)count * BLK_SECTOR;
    return count && sector <= b->info.sectors && count <= b->info.sectors - sector &&
           bytes <= b->info.max_transfer && offset <= b->size && bytes <= b->size - offset;
}

/* Tells the supervisor the driver serves us wrongly (it replaces it). */
static void complain(struct bdev *b, long hb)
{
    struct supervisor_complain_req q = { 0 };
    size_t len = strlen(b->driver);
    memcpy(q.name, b->driver, len < sizeof(q.name) - 1 ? len : sizeof(q.name) - 1);
    struct supervisor_complain_rep rep;
    if (supervisor_complain(hb, &q, &rep) == 0)
        __atomic_fetch_add(&b->complaints, 1, __ATOMIC_RELAXED);
}

/* A wrong answer to a valid request: true to send it again (after a
 * complaint, now and then), false to fail the call. */
static bool wrong_answer(struct bdev *b, unsigned *mine)
{
    uint32_t n = __atomic_add_fetch(&b->wrong, 1, __ATOMIC_RELAXED);
    long hb = b->driver ? rt_handle("heartbeat") : -1;
    if (hb < 0 || ++*mine > BDEV_WRONG_MAX)
        return false;
    if (n % BDEV_COMPLAIN_AFTER == 0)
        complain(b, hb);
    k_thread_sleep(2000000L);                    /* the driver is being replaced */
    return true;
}

/* A valid request failed with R, its own error: returned, and counted
 * (a driver failing every request is complained of). */
static long failed(struct bdev *b, bool ok, long r)
{
    long hb = ok && b->driver ? rt_handle("heartbeat") : -1;
    if (hb >= 0 && __atomic_add_fetch(&b->failing, 1, __ATOMIC_RELAXED) % BDEV_FAIL_COMPLAIN == 0)
        complain(b, hb);
    return r;
}

/* One request, resent while the driver dies under it or the session is
 * a past life's. */
static long call(struct bdev *b, int op, uint64_t sector, uint32_t count, uint64_t offset)
{
    long want = op == OP_FLUSH ? 0 : (long)count * BLK_SECTOR;
    bool ok = valid(b, op, sector, count, offset);
    unsigned wrongs = 0, again = 0;
    for (;;) {
        long s = session(b);
        if (s < 0)
            return failed(b, ok, s);
        long r;
        if (op == OP_READ) {
            struct blk_read_req q = { .sector = sector, .offset = offset, .count = count };
            struct blk_read_rep rep;
            r = blk_read(s, &q, &rep);
        } else if (op == OP_WRITE) {
            struct blk_write_req q = { .sector = sector, .offset = offset, .count = count };
            struct blk_write_rep rep;
            r = blk_write(s, &q, &rep);
        } else {
            struct blk_flush_req q = { 0 };
            struct blk_flush_rep rep;
            r = blk_flush(s, &q, &rep);
        }
        if (r == want) {
            if (__atomic_load_n(&b->wrong, __ATOMIC_RELAXED))
                __atomic_store_n(&b->wrong, 0, __ATOMIC_RELAXED);
            if (__atomic_load_n(&b->failing, __ATOMIC_RELAXED))
                __atomic_store_n(&b->failing, 0, __ATOMIC_RELAXED);
            return r;
        }
        if (r >= 0)
            __atomic_fetch_add(&b->garbage, 1, __ATOMIC_RELAXED);
        if (ok && (r >= 0 || r == -E_INVAL || r == -E_TOOBIG || r == -E_PERM || r == -E_NOSYS)) {
            if (wrong_answer(b, &wrongs))
                continue;
            return -E_IO;
        }
        if (r >= 0)
            return failed(b, ok, -E_IO);
        if (r == -E_BADHANDLE)
            r = -E_REVOKED;                      /* closed by a thread that reattached first */
        if (r != -E_DEAD && r != -E_REVOKED && r != -E_BUSY)
            return failed(b, ok, r);
        /* A driver that says "busy" or "another life" for ever, to a
         * valid request, serves no one: that is a wrong answer too. */
        if (ok && b->driver && ++again % (r == -E_BUSY ? 100 : 8) == 0 &&
            !wrong_answer(b, &wrongs))
            return -E_IO;
        if (r == -E_BUSY) {
            k_thread_sleep(1000000L);            /* the driver's queue is full */
            continue;
        }
        __atomic_fetch_add(&b->resends, 1, __ATOMIC_RELAXED);
        long n = reattach(b, s);
        if (n < 0)
            return failed(b, ok, n);
    }
}

long bdev_open(struct bdev *b, long conn, uint64_t size)
{
    memset(b, 0, sizeof(*b));
    b->at.conn = conn;
    if (size == 0 || (size & 4095))
        return -E_INVAL;
    b->at.vmo = k_vmo_create((long)size, K_VMO_CONTIG, 0, 0);
    long a = b->at.vmo < 0 ? b->at.vmo
           : k_vmo_map(0, b->at.vmo, 0, (long)size, K_PROT_READ | K_PROT_WRITE);
    if (a < 0) {
        if (b->at.vmo >= 0)
            k_handle_close(b->at.vmo);
        return a;
    }
    b->buf = (uint8_t *)a;
    b->size = size;
    struct blk_info_req q = { 0 };
    long r = blk_info(conn, &q, &b->info);
    r = r < 0 ? r : session(b);
    if (r < 0) {
        bdev_close(b);
        return r;
    }
    return 0;
}

void bdev_close(struct bdev *b)
{
    if (b->at.session > 0)
        k_handle_close(b->at.session);
    if (b->buf)
        k_vm_unmap(0, (long)b->buf, (long)b->size);
    if (b->at.vmo > 0)
        k_handle_close(b->at.vmo);
    b->at.session = 0, b->buf = 0, b->at.vmo = 0;
}

long bdev_read(struct bdev *b, uint64_t sector, uint32_t count, uint64_t offset)
{
    return call(b, OP_READ, sector, count, offset);
}

long bdev_write(struct bdev *b, uint64_t sector, uint32_t count, uint64_t offset)
{
    return call(b, OP_WRITE, sector, count, offset);
}

long bdev_flush(struct bdev *b)
{
    return call(b, OP_FLUSH, 0, 0, 0);
}
