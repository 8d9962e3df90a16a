/*
 * view: pread of a cached regular file with no message.  A file server
 * that keeps a file's bytes in one memory object hands it out (file.proto
 * message view, lib/srv/fileview.h); the personality maps it read-only
 * and copies from it straight into the program's buffer, reading the
 * size from the header page after the bytes.  When the file outgrows the
 * object the header says moved, and the next read asks for the new one.
 *
 * Only reads at an offset (pread, preadv) go this way: a read at the
 * file's position needs the position, which the server keeps for every
 * holder of the open file.  A descriptor asks for its view on its third
 * such read (the first two go by message: a file read once or twice costs
 * no more than before), and a server that has none (E_NOSYS), a file
 * whose object would not fit here, or a buffer the program may not write
 * (the message's EFAULT says so) sends the read by message.
 *
 * Where the views go: VIEW_VA, in our own image's room (the program's mmap
 * and munmap do not reach there; exec leaves it).  The objects are shared
 * by fork (the server makes them K_VMO_FORK_SHARED), so a child keeps the
 * mapping.  Reads through a view do not update the access time.
 */
#include "lx.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"
#include "protocols/file.h"
#include "rt/syscall.h"
#include "srv/fileview.h"

#define VIEW_VA (K_NATIVE_BASE + 0x01000000UL)
#define GRAIN 0x10000UL                 /* 64 KiB */
#define GRAINS 1024                     /* 64 MiB, below the pipes' rings at +0x05000000 */
#define READS_BY_MESSAGE 2

static uint64_t grain_used[GRAINS / 64];

static bool grain_is(unsigned i)
{
    return grain_used[i / 64] >> (i % 64) & 1;
}

static void grains_set(unsigned at, unsigned n, bool used)
{
    for (unsigned i = at; i < at + n; i++)
        if (used)
            grain_used[i / 64] |= 1ULL << (i % 64);
        else
            grain_used[i / 64] &= ~(1ULL << (i % 64));
}

/* N free grains in a row: the first, or -1. */
static long grains_take(unsigned n)
{
    for (unsigned at = 0; at + n <= GRAINS; at++) {
        unsigned k = 0;
        while (k < n && !grain_is(at + k))
            k++;
        if (k == n) {
            grains_set(at, n, true);
            return (long)at;
        }
        at += k;
    }
    return -1;
}

void lx_view_drop(struct lx_view *v)
{
    if (!v->data)
        return;
    k_vm_unmap(0, (long)v->data, (long)v->bytes);
    lx_vm_changed();
    grains_set((unsigned)(((uint64_t)v->data - VIEW_VA) / GRAIN),
               (unsigned)((v->bytes + GRAIN - 1) / GRAIN), false);
    v->data = NULL;                 /* what it learnt (uses, off) stays */
    v->bytes = 0;
}

/* Maps the open file CONN's view into V: 1, or 0 when there is none (and
 * will be none), or -1 when it does not fit now (no room here). */
static int view_map(struct lx_view *v, long conn)
{
    struct file_view_req q = { 0 };
    struct file_view_rep rep = { 0 };
    long r = file_view(conn, &q, &rep);
    long vmo = r >= 0 ? k_handle_received() : -1;
    unsigned n = (unsigned)((rep.bytes + GRAIN - 1) / GRAIN);
    long at = -1;
    if (vmo > 0 && rep.bytes > FILE_VIEW_PAGE && rep.bytes <= GRAINS * GRAIN &&
        !(rep.bytes % FILE_VIEW_PAGE))
        at = grains_take(n);
    uint64_t va = VIEW_VA + (uint64_t)(at < 0 ? 0 : at) * GRAIN;
    long m = at >= 0 ? k_vmo_map(0, vmo, 0, (long)rep.bytes, (long)(K_PROT_READ | va)) : -1;
    if (vmo > 0)
        k_handle_close(vmo);
    if (m != (long)va) {
        if (at >= 0)
            grains_set((unsigned)at, n, false);
        return vmo > 0 && at < 0 && rep.bytes <= GRAINS * GRAIN ? -1 : 0;
    }
    v->data = (const uint8_t *)va;
    v->bytes = rep.bytes;
    return 1;
}

long lx_view_pread(struct lx_view *v, long conn, uint64_t buf, uint64_t len, uint64_t offset)
{
    if (v->off)
        return LX_RING_NONE;
    if (!v->data && v->uses < READS_BY_MESSAGE && !lx.shared_first) {
        v->uses++;
        return LX_RING_NONE;
    }
    for (int tries = 0; tries < 3; tries++) {
        int got = v->data ? 1 : view_map(v, conn);
        if (got <= 0) {
            v->off = got == 0;      /* none: messages from now on; no room: this time */
            return LX_RING_NONE;
        }
        const struct file_view *h = (const struct file_view *)(v->data + v->bytes - FILE_VIEW_PAGE);
        if (__atomic_load_n(&h->moved, __ATOMIC_SEQ_CST)) {
            lx_view_drop(v);        /* it grew: its new object */
            continue;
        }
        uint64_t size = __atomic_load_n(&h->size, __ATOMIC_ACQUIRE);
        uint64_t room = v->bytes - FILE_VIEW_PAGE;
        if (size > room)
            size = room;
        if (offset >= size || !len)
            return 0;
        uint64_t n = len < size - offset ? len : size - offset;
        if (!lx_mem_ok(buf, n, true))
            return LX_RING_NONE;    /* the message finds out (EFAULT) */
        memcpy((void *)buf, v->data + offset, n);
        return (long)n;
    }
    return LX_RING_NONE;
}
