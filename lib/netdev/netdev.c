/* netdev: frame client with recovery (see netdev.h). */
#include "netdev/netdev.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "rt/attach.h"
#include "rt/syscall.h"

/* The attach message; a new session's slots are all the driver's. */
static long send_attach(long conn, void *ctx)
{
    ((struct netdev *)ctx)->held = FRAME_NONE;
    struct frame_attach_req q = { 0 };
    struct frame_attach_rep rep;
    return frame_attach(conn, &q, &rep);
}

static long reattach(struct netdev *n, long stale)
{
    return rt_attach_again(&n->at, stale, send_attach, n);
}

static long session(struct netdev *n)
{
    return rt_attach_session(&n->at, send_attach, n);
}

static bool stale(long r)
{
    return r == -E_DEAD || r == -E_REVOKED;
}

/* A refusal a valid call should never get. */
static bool refused(long r)
{
    return r == -E_INVAL || r == -E_TOOBIG || r == -E_PERM || r == -E_NOSYS;
}

long netdev_send(struct netdev *n, uint64_t offset, uint32_t len)
{
    bool ok = len >= FRAME_HEADER && len <= FRAME_HEADER + n->info.mtu &&
              offset <= FRAME_BUFFER_SIZE && len <= FRAME_BUFFER_SIZE - offset;
    unsigned wrongs = 0, again = 0;
    for (;;) {
        long s = session(n);
        if (s < 0)
            return s;
        struct frame_send_req q = { .offset = offset, .len = len };
        struct frame_send_rep rep;
        long r = frame_send(s, &q, &rep);
        if (r == 0) {
            rt_attach_right(&n->at);
            return 0;
        }
        if (r > 0)
            __atomic_fetch_add(&n->garbage, 1, __ATOMIC_RELAXED);
        if (ok && (r > 0 || refused(r))) {
            if (rt_attach_wrong(&n->at, r, s, &wrongs))
                continue;
            return -E_IO;
        }
        if (r > 0)
            return -E_IO;
        if (r != -E_BUSY && !stale(r))
            return r;
        if (ok && !rt_attach_again_ok(&n->at, r, &again, &wrongs))
            return -E_IO;
        if (r == -E_BUSY) {
            k_thread_sleep(1000000L);            /* the device's queue is full */
            continue;
        }
        __atomic_fetch_add(&n->resends, 1, __ATOMIC_RELAXED);
        long e = reattach(n, s);
        if (e < 0)
            return e;
    }
}

/* Of a wait of WAIT_MS that ends at END (clock ns; 0: never), what a
 * receive asks now, or 0 when it is over (the driver waits at most
 * FRAME_WAIT_MAX a receive). */
static uint32_t wait_left(uint32_t wait_ms, long end)
{
    if (!end)
        return wait_ms;
    long left = end - k_clock_get();
    if (left <= 0)
        return 0;
    return left / 1000000 >= FRAME_WAIT_MAX ? FRAME_WAIT_MAX : (uint32_t)(left / 1000000) + 1;
}

long netdev_receive(struct netdev *n, uint32_t wait_ms, uint8_t *frame)
{
    unsigned wrongs = 0, again = 0;
    long end = 0;                                /* longer than one receive waits: its end */
    if (wait_ms > FRAME_WAIT_MAX && wait_ms != FRAME_FOREVER)
        end = k_clock_get() + (long)wait_ms * 1000000;
    for (;;) {
        long s = session(n);
        if (s < 0)
            return s;
        uint32_t ask = wait_left(wait_ms, end);
        if (end && !ask)
            return -E_TIMEOUT;
        struct frame_receive_req q = { .give = n->held, .wait_ms = ask };
        struct frame_receive_rep rep;
        n->held = FRAME_NONE;                    /* given back, whatever the answer */
        long r = frame_receive(s, &q, &rep);
        if (stale(r) || r == -E_BUSY) {          /* one thread receives: never busy */
            if (!rt_attach_again_ok(&n->at, r, &again, &wrongs))
                return -E_IO;
            if (r == -E_BUSY) {
                k_thread_sleep(1000000L);
                continue;
            }
            __atomic_fetch_add(&n->resends, 1, __ATOMIC_RELAXED);
            long e = reattach(n, s);
            if (e < 0)
                return e;
            continue;
        }
        if (r == -E_TIMEOUT && (wait_ms == FRAME_FOREVER || end))
            continue;                            /* the driver's WAIT_MAX, not ours */
        if (r < 0 && !refused(r))
            return r;                            /* E_TIMEOUT, E_AGAIN: no frame */
        if (r == 0 && rep.slot < FRAME_RX_SLOTS)
            n->held = rep.slot;                  /* ours now, whatever the length says */
        if (r != 0 || rep.slot >= FRAME_RX_SLOTS || rep.len < FRAME_HEADER ||
            rep.len > FRAME_HEADER + n->info.mtu) {
            if (r >= 0)
                __atomic_fetch_add(&n->garbage, 1, __ATOMIC_RELAXED);
            if (rt_attach_wrong(&n->at, r < 0 ? r : 1, s, &wrongs))
                continue;
            return r < 0 ? r : -E_IO;
        }
        rt_attach_right(&n->at);
        if (!n->bad)
            n->reject_run = 0;                   /* the frame before was taken */
        n->bad = false;
        memcpy(frame, n->buf + (uint64_t)rep.slot * FRAME_SLOT, rep.len);
        return rep.len;
    }
}

void netdev_complain(struct netdev *n)
{
    rt_attach_complain(&n->at);
}

void netdev_reject(struct netdev *n)
{
    if (n->bad)
        return;                                  /* that frame was counted */
    n->bad = true;
    n->rejected++;
    if (++n->reject_run % RT_ATTACH_FAIL_COMPLAIN == 0)
        rt_attach_complain(&n->at);
}

long netdev_release(struct netdev *n)
{
    if (n->held == FRAME_NONE)
        return 0;
    long s = __atomic_load_n(&n->at.session, __ATOMIC_ACQUIRE);
    struct frame_release_req q = { .slot = n->held };
    struct frame_release_rep rep;
    n->held = FRAME_NONE;
    long r = s > 0 ? frame_release(s, &q, &rep) : 0;
    return stale(r) ? 0 : r;                     /* a new session holds no slot of ours */
}

long netdev_open(struct netdev *n, long conn)
{
    memset(n, 0, sizeof(*n));
    n->at.conn = conn;
    n->held = FRAME_NONE;
    n->at.vmo = k_vmo_create(FRAME_BUFFER_SIZE, K_VMO_CONTIG, 0, 0);
    long a = n->at.vmo < 0 ? n->at.vmo
           : k_vmo_map(0, n->at.vmo, 0, FRAME_BUFFER_SIZE, K_PROT_READ | K_PROT_WRITE);
    if (a < 0) {
        if (n->at.vmo >= 0)
            k_handle_close(n->at.vmo);
        n->at.vmo = 0;
        return a;
    }
    n->buf = (uint8_t *)a;
    struct frame_info_req q = { 0 };
    long r = frame_info(conn, &q, &n->info);
    if (r == 0 && (n->info.mtu < 64 || n->info.mtu > FRAME_SLOT - FRAME_HEADER)) {
        n->garbage++;
        r = -E_IO;                               /* a frame would not fit a slot */
    }
    r = r < 0 ? r : session(n);
    if (r < 0) {
        netdev_close(n);
        return r;
    }
    return 0;
}

void netdev_close(struct netdev *n)
{
    if (n->at.session > 0)
        k_handle_close(n->at.session);
    if (n->buf)
        k_vm_unmap(0, (long)n->buf, FRAME_BUFFER_SIZE);
    if (n->at.vmo > 0)
        k_handle_close(n->at.vmo);
    n->at.session = 0, n->buf = 0, n->at.vmo = 0;
}
