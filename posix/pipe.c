/*
 * pipe: reads and writes of a pipe's ends through the ring its ends
 * share (lib/srv/pipering.h), with no message to the pipe server: the
 * bytes go from the writer's buffer into the ring and from the ring into
 * the reader's, and a reader waiting for them is woken by a pulse from the
 * writer.  The pipe server is asked only to set the ring up (on a
 * descriptor's third use: a pipe used once or twice costs no more than
 * before), for a write that must wait for room or for the writers' lock,
 * and for everything else (poll, FIONREAD, fstat, end of file, EPIPE),
 * which it learns of through the ring's header and our pulses.
 * (KESTREL_SHARED=first in exec's environment: the ring from the first
 * use, so that tests see it in every case; views too, posix/view.c.)
 *
 * The copies between the program's buffers and the ring are plain copies
 * where the personality's list of our mappings covers the buffer
 * (lx_mem_ok), else through the kernel (process_read of our own space),
 * so a bad pointer is EFAULT and never a fault of the personality.  What the ring's header says is
 * checked: another holder of the pipe could have written anything there.
 *
 * Where the rings go: in our own image's room (PIPE_VA), where the
 * program's mmap does not reach and exec leaves them.  The ring's object
 * is shared by fork (K_VMO_FORK_SHARED), so a child keeps the mapping; it
 * asks for its own wait channel and session, which handles fork does not
 * pass.
 */
#include "lx.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"
#include "protocols/file.h"
#include "rt/syscall.h"
#include "srv/pipering.h"

#define PIPE_VA (K_NATIVE_BASE + 0x05000000UL)
#define SLOT 0x20000UL                  /* 128 KiB a ring (it takes 68) */
#define SLOTS 256                       /* 32 MiB, below procmgr's page at +0x07fff000 */
#define USES_BY_MESSAGE 2               /* a descriptor's first uses go by message */

static uint64_t slot_used[SLOTS / 64];
static uint32_t ring_gen;

/* Rings closed while a thread of ours waited on them: kept until the last
 * such thread leaves, which does the waiters' part of the protocol
 * (rwait, rpulsed, the wake-up passed on) on the ring still mapped. */
static struct orphan {
    struct pipe_ring *r;
    long wait, chain;
    uint32_t gen;
    uint16_t waiters;
} orphans[8];

static long slot_take(void)
{
    for (unsigned i = 0; i < SLOTS; i++)
        if (!(slot_used[i / 64] & (1ULL << (i % 64)))) {
            slot_used[i / 64] |= 1ULL << (i % 64);
            return (long)i;
        }
    return -1;
}

static void slot_give(struct pipe_ring *r)
{
    uint64_t i = ((uint64_t)r - PIPE_VA) / SLOT;
    if (i < SLOTS)
        slot_used[i / 64] &= ~(1ULL << (i % 64));
}

static void ring_unmap(struct pipe_ring *r)
{
    k_vm_unmap(0, (long)r, PIPE_RING_BYTES);
    lx_vm_changed();
    slot_give(r);
}

static void close_handle(long *h)
{
    if (*h > 0)
        k_handle_close(*h);
    *h = 0;
}

/* The handles fork does not pass (the child asks for its own). */
static void drop_handles(struct lx_ring *x)
{
    close_handle(&x->wait);
    close_handle(&x->chain);
    close_handle(&x->wake);
    close_handle(&x->session);
    x->token = 0;
}

void lx_ring_drop(struct lx_ring *x)
{
    if (!x->r && !x->wait && !x->chain && !x->wake && !x->session && !x->uses && !x->off)
        return;                     /* never used (most descriptors) */
    if (x->waiters && x->r) {       /* the waiters' now (no room: left mapped, never reused) */
        for (unsigned i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++)
            if (!orphans[i].r) {
                orphans[i] = (struct orphan){ x->r, x->wait, x->chain, x->gen, x->waiters };
                break;
            }
        x->r = NULL;
        x->wait = x->chain = 0;
    }
    drop_handles(x);
    if (x->r)
        ring_unmap(x->r);
    memset(x, 0, sizeof(*x));
}

void lx_ring_fork_child(struct lx_ring *x)
{
    /* Their numbers were the parent's: in the child they are not ours. */
    x->wait = x->chain = x->wake = x->session = 0;
    x->token = 0;
    x->waiters = 0;                 /* the parent's threads */
    x->gen = ++ring_gen;
}

/* Asks the server for part WHAT of the ring: the attached handle, or an
 * error (*REP: the reply). */
static long ask(long conn, uint32_t what, struct file_ring_rep *rep)
{
    struct file_ring_req q = { .what = what };
    long r = file_ring(conn, &q, rep);
    if (r < 0)
        return r;
    long h = k_handle_received();
    return h > 0 ? h : -E_NOENT;
}

/* Makes X ready for reading (READ) or writing; false: use messages (the
 * server has no ring for it, or the first uses go by message). */
static bool ready(struct lx_ring *x, long conn, bool read)
{
    if (x->off)
        return false;
    if (x->r && x->session > 0 && (read ? x->wait > 0 : x->wake > 0))
        return true;
    if (x->uses < USES_BY_MESSAGE && !lx.shared_first) {
        x->uses++;
        return false;
    }
    struct file_ring_rep rep;
    if (!x->r) {
        long vmo = ask(conn, PIPE_RING_MAP, &rep);
        long slot = vmo > 0 ? slot_take() : -1;
        uint64_t va = PIPE_VA + (uint64_t)slot * SLOT;
        long at = slot >= 0 ? k_vmo_map(0, vmo, 0, PIPE_RING_BYTES,
                                         (long)(K_PROT_READ | K_PROT_WRITE | va)) : -1;
        if (vmo > 0)
            k_handle_close(vmo);
        if (at != (long)va) {
            if (slot >= 0)
                slot_used[slot / 64] &= ~(1ULL << (slot % 64));
            x->off = true;
            return false;
        }
        x->r = (struct pipe_ring *)va;
        x->gen = ++ring_gen;
    }
    if (x->session <= 0) {
        long s = ask(conn, PIPE_RING_SESSION, &rep);
        if (s <= 0 || !rep.token || rep.token >= PIPE_RING_SERVER) {
            if (s > 0)
                k_handle_close(s);
            x->off = true;
            return false;
        }
        x->session = s;
        x->token = rep.token;
    }
    if (read && x->wait <= 0) {
        x->wait = ask(conn, PIPE_RING_WAIT, &rep);
        x->chain = x->wait > 0 ? k_chan_connect(x->wait, 0, 0) : -1;
        if (x->chain <= 0) {
            close_handle(&x->wait);
            x->chain = 0;
            x->off = true;
            return false;
        }
    }
    if (!read && x->wake <= 0) {
        x->wake = ask(conn, PIPE_RING_WAKE, &rep);
        if (x->wake <= 0) {
            x->wake = 0;
            x->off = true;
            return false;
        }
    }
    return true;
}

void lx_ring_barrier(long session)
{
    struct file_stat_req q = { 0 };
    struct file_stat_rep rep;
    file_stat(session, &q, 0, 0, &rep);     /* answered EBADF: a session is no file */
}

/* Copies between the program's memory at ADDR and LEN bytes of the ring
 * from position POS (in two pieces where it wraps); OUT: ring to program.
 * The bytes copied. */
static long copy(struct pipe_ring *r, uint32_t pos, uint64_t addr, uint32_t len, bool out)
{
    uint8_t *data = pipe_ring_data(r);
    if (lx_mem_ok(addr, len, out)) {            /* there: a plain copy */
        uint32_t at = pos % PIPE_RING_SIZE;
        uint32_t first = len < PIPE_RING_SIZE - at ? len : PIPE_RING_SIZE - at;
        if (out) {
            memcpy((void *)addr, data + at, first);
            memcpy((void *)(addr + first), data, len - first);
        } else {
            memcpy(data + at, (const void *)addr, first);
            memcpy(data, (const void *)(addr + first), len - first);
        }
        return len;
    }
    if (lx_mem_listed())
        return 0;                               /* not mapped, or not for this */
    long done = 0;                              /* the kernel finds out where it stops */
    while ((uint32_t)done < len) {
        uint32_t at = (pos + (uint32_t)done) % PIPE_RING_SIZE;
        uint32_t n = len - (uint32_t)done;
        if (n > PIPE_RING_SIZE - at)
            n = PIPE_RING_SIZE - at;
        long got = out ? k_process_read(0, (long)(data + at), (long)(addr + (uint64_t)done), n)
                       : k_process_read(0, (long)(addr + (uint64_t)done), (long)(data + at), n);
        if (got > 0)
            done += got;
        if (got != (long)n)
            break;
    }
    return done;
}

/* Tells the server through our end's connection CONN that the ring
 * changed: a pulse, or when its queue is full (anyone may fill it) a
 * message, so the news is never lost. */
static void poke(long conn)
{
    if (k_pulse_send(conn, PIPE_RING_PULSE, 0, 0) < 0) {
        struct file_ring_req q = { .what = PIPE_RING_POKE };
        struct file_ring_rep rep;
        file_ring(conn, &q, &rep);
    }
}

/* ... if it asked (FLAG). */
static void tell_server(uint32_t *flag, long conn)
{
    if (pipe_ring_load(flag) && pipe_ring_swap(flag, 0))
        poke(conn);
}

/* Another reader waits: pass the wake-up on (data left, or end of file).
 * (A full queue of the wait channel has a wake-up in it already.) */
static void pass_on(long chain, struct pipe_ring *r)
{
    if (pipe_ring_wake_readers(r))
        k_pulse_send(chain, PIPE_RING_PULSE, 0, 0);
}

/* A waiter's part on leaving, whatever ended its wait. */
static void left(struct pipe_ring *r, long chain)
{
    __atomic_sub_fetch(&r->rwait, 1, __ATOMIC_SEQ_CST);
    pipe_ring_store(&r->rpulsed, 0);
    uint32_t t;
    if (pipe_ring_used(r, &t) != 0 || !pipe_ring_load(&r->writers))
        pass_on(chain, r);          /* what woke us may have been another's */
}

/* Waits for a writer's pulse on the wait channel, with the personality's
 * lock given (another thread may close the descriptor meanwhile: EBADF).
 * 0: look again; or -errno (-LX_ERESTARTSYS: a signal). */
static long wait_data(struct lx_ring *x, struct pipe_ring *r)
{
    __atomic_add_fetch(&r->rwait, 1, __ATOMIC_SEQ_CST);
    uint32_t t;
    if (pipe_ring_used(r, &t) != 0 || !pipe_ring_load(&r->writers)) {
        __atomic_sub_fetch(&r->rwait, 1, __ATOMIC_SEQ_CST);
        return 0;                   /* it came, or end of file: no wait */
    }
    long wait = x->wait;
    uint32_t gen = x->gen;
    struct k_msg_info info = { 0 };
    x->waiters++;
    lx_lock_give();
    long got = k_msg_receive(wait, 0, 0, (long)&info);
    lx_lock_take();
    if (info.handle)
        k_handle_close(info.handle);    /* not for us: a holder of the pipe sent it */
    if (got > 0)
        k_msg_error(got, E_NOSYS);  /* a message, not a writer's pulse */
    if (x->gen == gen && x->r == r) {
        x->waiters--;
        left(r, x->chain);
        return got < 0 ? lx_errno(got) : 0;
    }
    /* Closed while we waited (another thread): the ring is an orphan. */
    for (unsigned i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++) {
        struct orphan *o = &orphans[i];
        if (o->r != r || o->gen != gen)
            continue;
        left(r, o->chain);
        if (--o->waiters == 0) {
            ring_unmap(o->r);
            close_handle(&o->wait);
            close_handle(&o->chain);
            o->r = NULL;
        }
        break;
    }
    return -LX_EBADF;
}

long lx_ring_read(struct lx_ring *x, long conn, uint64_t buf, uint64_t len, bool nonblock)
{
    if (!ready(x, conn, true))
        return LX_RING_NONE;
    struct pipe_ring *r = x->r;
    if (len == 0)
        return 0;
    for (;;) {
        uint32_t t;
        long n = pipe_ring_used(r, &t);
        if (n < 0) {
            poke(conn);             /* a holder of the pipe broke its ring: the server empties it */
            return -LX_EIO;
        }
        if (n == 0 && !pipe_ring_load(&r->writers)) {
            if (pipe_ring_used(r, &t) != 0)
                continue;           /* the last writer's bytes came before its close */
            pass_on(x->chain, r);
            return 0;               /* end of file */
        }
        if (n == 0) {
            if (nonblock)
                return -LX_EAGAIN;
            long w = wait_data(x, r);
            if (w < 0)
                return w;
            continue;
        }
        uint32_t k = len < (uint64_t)n ? (uint32_t)len : (uint32_t)n;
        if (copy(r, t, buf, k, true) != (long)k) {
            pass_on(x->chain, r);   /* the bytes stay (as on Linux): for another reader */
            return -LX_EFAULT;
        }
        if (!pipe_ring_cas(&r->tail, t, t + k))
            continue;               /* another reader took them first */
        tell_server(&r->srv_out, conn);
        if ((uint32_t)n > k)
            pass_on(x->chain, r);
        return k;
    }
}

long lx_ring_write(struct lx_ring *x, long conn, uint64_t buf, uint64_t len, bool nonblock)
{
    if (!ready(x, conn, false))
        return LX_RING_NONE;
    struct pipe_ring *r = x->r;
    if (len == 0)
        return 0;                   /* before EPIPE, as Linux */
    if (!pipe_ring_load(&r->readers))
        return -LX_EPIPE;
    if (!pipe_ring_lock(r, x->token))
        return LX_RING_NONE;        /* another writer has it: the server waits for it */
    uint32_t t;
    long n = pipe_ring_used(r, &t), ret;
    uint32_t room = n < 0 ? 0 : PIPE_RING_SIZE - (uint32_t)n;
    if (n < 0) {
        ret = -LX_EIO;
    } else if (room == 0 || (len <= PIPE_RING_BUF && room < len)) {
        ret = nonblock ? -LX_EAGAIN : LX_RING_NONE;     /* the server waits for room */
    } else {
        uint32_t k = len < room ? (uint32_t)len : room;
        uint32_t h = t + (uint32_t)n;
        long got = copy(r, h, buf, k, false);
        if (got > 0)
            pipe_ring_store(&r->head, h + (uint32_t)got);
        ret = got > 0 ? got : -LX_EFAULT;
    }
    bool contended = pipe_ring_unlock(r);
    if (ret > 0) {
        if (pipe_ring_wake_readers(r))
            k_pulse_send(x->wake, PIPE_RING_PULSE, 0, 0);
        tell_server(&r->srv_in, conn);
    }
    if (contended || ret == -LX_EIO)
        poke(conn);                 /* a write waits for the lock; or the ring is broken */
    return ret;
}
