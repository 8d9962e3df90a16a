/* bdev: block client with recovery (see blk.h). */
#include "bdev/bdev.h"

#include <stdbool.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
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
            return rt_attach_failed(&b->at, ok, s);
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
            rt_attach_right(&b->at);
            return r;
        }
        if (r >= 0)
            __atomic_fetch_add(&b->garbage, 1, __ATOMIC_RELAXED);
        if (ok && (r >= 0 || r == -E_INVAL || r == -E_TOOBIG || r == -E_PERM || r == -E_NOSYS)) {
            if (rt_attach_wrong(&b->at, r, s, &wrongs))
                continue;
            return -E_IO;
        }
        if (r >= 0)
            return rt_attach_failed(&b->at, ok, -E_IO);
        if (r == -E_BADHANDLE)
            r = -E_REVOKED;                      /* closed by a thread that reattached first */
        if (r != -E_DEAD && r != -E_REVOKED && r != -E_BUSY)
            return rt_attach_failed(&b->at, ok, r);
        /* A driver that says "busy" or "another life" for ever, to a
         * valid request, serves no one: that is a wrong answer too. */
        if (ok && !rt_attach_again_ok(&b->at, r, &again, &wrongs))
            return -E_IO;
        if (r == -E_BUSY) {
            k_thread_sleep(1000000L);            /* the driver's queue is full */
            continue;
        }
        __atomic_fetch_add(&b->resends, 1, __ATOMIC_RELAXED);
        long n = reattach(b, s);
        if (n < 0)
            return rt_attach_failed(&b->at, ok, n);
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
