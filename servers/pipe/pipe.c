/*
 * pipe: pipes, served on protocols/file.proto at /dev/pipe.
 *
 * open of "" (the mount itself) makes a new pipe and returns its read end
 * (the reply's ino is the pipe's number); open of "N" with O_WRONLY
 * returns the write end of pipe N, once, so that only its maker can have
 * it: that is pipe(2) in two messages.  Each end is one open file
 * description (a connection): descriptors that share it (dup, fork) share
 * the end, and its last close is reported (K_CONN_REPORT_END), which is
 * how a reader learns of end-of-file and a writer of EPIPE.
 *
 * Linux's behaviour: 64 KiB of buffer; a read waits while the pipe is
 * empty and has writers, and returns what there is (up to its length)
 * as soon as there is any; a write waits until all of it is in (writes of
 * up to PIPE_BUF = 4096 bytes are never split between readers), and
 * fails with EPIPE when no reader is left (the personality raises
 * SIGPIPE).  With "do not wait" (O_NONBLOCK) they fail with EAGAIN
 * instead; a non-blocking write that finds room for part of more than
 * PIPE_BUF bytes writes that part.  notify (poll): POLLIN with data,
 * POLLOUT with room and a reader, POLLHUP with no writer left, POLLERR
 * with no reader left.
 *
 * FIFOs (named pipes): open of "fifo" makes one and returns the FIFO's
 * own connection, which a file system keeps for its FIFO node and gives
 * to whoever opens the node (file.proto: oflags 8).  open "" on that
 * connection, with the opener's flags, is the open of the FIFO, as on
 * Linux: O_RDONLY waits for a writer to open, O_WRONLY for a reader
 * (O_NONBLOCK: a reader goes on at once, a writer with no reader fails
 * ENXIO), O_RDWR never waits and is both ends.  The data lasts while an
 * end is open; the FIFO, while its connections or ends last.  Who may
 * join a FIFO is who holds its connection: the file system decides.
 *
 * Start-up handles: "chan" (from init).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "protocols/file.h"
#include "rt/malloc.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "kestrel/vm.h"
#include "srv/filesrv.h"
#include "srv/pipering.h"
#include "srv/srv.h"

#define ERR(e) FILE_ERR(e)
#define ENOENT 2
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EINVAL 22
#define ENXIO 6
#define ENOTDIR 20
#define ENFILE 23
#define ESPIPE 29
#define EPIPE 32
#define S_IFIFO 0010000
#define O_NONBLOCK 04000

#define PIPE_SIZE PIPE_RING_SIZE
#define PIPE_BUF PIPE_RING_BUF
#define MAX_PIPES 512
#define POS_CURRENT (~0ULL)

struct waiter {
    struct waiter *next;
    long rcvid;
    size_t rep_len;
    uint64_t len;                   /* read: the most wanted; write: bytes left */
    uint64_t at;                    /* write: bytes of its payload already in */
    uint64_t payload_at;            /* write: where its payload starts in the message */
    bool nonblock;                  /* write: parked only for the lock, never for room */
};

/* An open of a FIFO waiting for its other end. */
struct opener {
    struct opener *next;
    long rcvid;
    uint8_t kind;                   /* END_READ or END_WRITE: what it will be */
};

struct pipe {
    bool used, write_given;         /* write_given: a writer has had its end (POLLHUP after) */
    bool fifo;
    uint32_t refs;                  /* FIFO: its connections */
    struct opener *oq;              /* FIFO: opens waiting for the other end */
    uint32_t readers, writers;      /* open ends (descriptions, not descriptors) */
    struct pipe_ring *ring;         /* the data (lib/srv/pipering.h); NULL: a FIFO no end has open */
    long vmo;                       /* the ring's object */
    long wait_chan, wait_conn;      /* where ring readers wait, and our connection to it */
    struct end *sessions;           /* ring writers' sessions */
    struct waiter *rq, *wq;         /* parked reads and writes, oldest first */
    long arm_conn[2];               /* poll arms: [0] for input, [1] for output */
    int32_t arm_code[2];
    uint64_t arm_value[2];
    uint64_t serial;                /* its number is index + MAX_PIPES * serial */
};

#define END_READ 1
#define END_WRITE 2
#define END_FIFO 4                  /* a FIFO's connection: no data, opens */
#define END_SESSION 8               /* a ring writer's session (message ring what 3) */

struct end {
    struct pipe *p;
    uint8_t kind;                   /* END_READ, END_WRITE or both (a FIFO's O_RDWR), END_FIFO, END_SESSION */
    uint32_t token;                 /* END_SESSION: its token for the ring's lock */
    uint64_t serial;                /* END_SESSION: the pipe's serial when it began */
    struct end *next;               /* END_SESSION: the pipe's next */
};

static struct pipe pipes[MAX_PIPES];
static struct srv server;
static struct srv_msg *cur;
static uint32_t next_token = 1;
static unsigned sessions_live;      /* of all pipes */
#define SESSIONS_PER_PIPE 32
#define SESSIONS_MAX 256

static uint64_t number(const struct pipe *p)
{
    return (uint64_t)(p - pipes) + MAX_PIPES * p->serial;
}

/* The ring's memory, wait channel and our connection to it. */
static bool ring_make(struct pipe *p)
{
    p->vmo = k_vmo_create(PIPE_RING_BYTES, K_VMO_ANON | K_VMO_FORK_SHARED, 0, 0);
    long at = p->vmo > 0 ? k_vmo_map(0, p->vmo, 0, PIPE_RING_BYTES, K_PROT_READ | K_PROT_WRITE)
                         : -1;
    p->wait_chan = at > 0 ? k_chan_create(0) : -1;
    p->wait_conn = p->wait_chan > 0 ? k_chan_connect(p->wait_chan, 0, 0) : -1;
    if (p->wait_conn <= 0) {
        if (at > 0)
            k_vm_unmap(0, at, PIPE_RING_BYTES);
        for (long *h = &p->vmo; h <= &p->wait_conn; h++) {
            if (*h > 0)
                k_handle_close(*h);
            *h = 0;
        }
        return false;
    }
    p->ring = (struct pipe_ring *)at;
    p->ring->id = (uint32_t)number(p);
    return true;
}

static void ring_free(struct pipe *p)
{
    if (!p->ring)
        return;
    k_vm_unmap(0, (long)p->ring, PIPE_RING_BYTES);
    k_handle_close(p->vmo);
    k_handle_close(p->wait_conn);
    k_handle_close(p->wait_chan);
    p->ring = NULL;
    p->vmo = p->wait_chan = p->wait_conn = 0;
}

/* The bytes in the ring (*TAIL: where they start); a broken header (more
 * than the ring holds: a holder of an end scribbled on it) counts as
 * empty until repair empties it. */
static uint32_t used(struct pipe *p, uint32_t *tail)
{
    long n = pipe_ring_used(p->ring, tail);
    return n < 0 ? 0 : (uint32_t)n;
}

static bool server_lock(struct pipe *p);

/* A broken header: what was there is lost, the ring is emptied (under
 * the writers' lock, so no writer's bytes go with it; a writer holding it
 * pulses us when it lets go). */
static void repair(struct pipe *p)
{
    uint32_t t;
    if (!p->ring || pipe_ring_used(p->ring, &t) >= 0 || !server_lock(p))
        return;
    if (pipe_ring_used(p->ring, &t) < 0)
        pipe_ring_cas(&p->ring->tail, t, pipe_ring_load(&p->ring->head));
    pipe_ring_unlock(p->ring);
}

static uint32_t used_now(struct pipe *p)
{
    uint32_t t;
    return p->ring ? used(p, &t) : 0;
}

/* The counts ring clients read for end of file and EPIPE. */
static void counts(struct pipe *p)
{
    if (p->ring) {
        pipe_ring_store(&p->ring->readers, p->readers);
        pipe_ring_store(&p->ring->writers, p->writers);
    }
}

static void wake_readers(struct pipe *p)
{
    if (p->ring && pipe_ring_wake_readers(p->ring))
        k_pulse_send(p->wait_conn, PIPE_RING_PULSE, 0, 0);
}

static bool live_session(struct pipe *p, uint32_t token)
{
    for (struct end *e = p->sessions; e; e = e->next)
        if (e->token == token)
            return true;
    return false;
}

/* The writers' lock, for us: false when a client holds it (it pulses us
 * when it lets go: CONTENDED).  A lock no session of the pipe holds (its
 * header scribbled on) is broken. */
static bool server_lock(struct pipe *p)
{
    struct pipe_ring *r = p->ring;
    for (int i = 0; i < 64; i++) {
        if (pipe_ring_lock(r, PIPE_RING_SERVER))
            return true;
        uint32_t held = pipe_ring_load(&r->wlock);
        if (!held)
            continue;
        if (!live_session(p, held & ~PIPE_RING_CONTENDED))
            pipe_ring_cas(&r->wlock, held, 0);      /* not a writer's: no one's */
        else if ((held & PIPE_RING_CONTENDED) ||
                 pipe_ring_cas(&r->wlock, held, held | PIPE_RING_CONTENDED))
            return false;
    }
    return false;
}

static void arm_fire(struct pipe *p, int which)
{
    if (p->arm_conn[which] > 0) {
        k_pulse_send(p->arm_conn[which], p->arm_code[which], (long)p->arm_value[which], 0);
        k_handle_close(p->arm_conn[which]);
        p->arm_conn[which] = 0;
    }
}

/* Answers the read RCVID with up to WANT bytes from the ring, written
 * straight from it into the reader's buffer (in two pieces when they wrap)
 * before they leave it: a reader with a bad buffer gets EFAULT and the
 * bytes stay for the next read, as on Linux.  (Sent with the reply, a
 * small reply's bad buffer would fail only in the reader, unseen here,
 * and the bytes would be lost.)  The bytes leave by compare-and-swap of
 * the tail, as clients' reads of the ring do.  Returns the bytes taken
 * (0: end of file, answered), or -1 when there is nothing yet (not
 * answered). */
static long deliver(struct pipe *p, long rcvid, size_t rep_len, uint64_t want)
{
    uint8_t *data = pipe_ring_data(p->ring);
    for (int tries = 0; tries < 16; tries++) {      /* a holder moving tail on and on: later */
        uint32_t t, n = used(p, &t);
        if (n == 0 && p->writers)
            return -1;
        if (want < n)
            n = (uint32_t)want;
        uint32_t pos = t % PIPE_SIZE;
        uint32_t first = n < PIPE_SIZE - pos ? n : PIPE_SIZE - pos;
        if ((first && k_msg_write(rcvid, (long)rep_len, (long)(data + pos), first) != first) ||
            (n > first && k_msg_write(rcvid, (long)(rep_len + first), (long)data, n - first) !=
                              (long)(n - first))) {
            k_msg_error(rcvid, E_FAULT);
            return 0;
        }
        if (!pipe_ring_cas(&p->ring->tail, t, t + n))
            continue;               /* a client of the ring took them first */
        uint64_t rep = 0;
        struct k_iov iov = { &rep, rep_len };
        k_msg_reply(rcvid, n, (long)&iov, 1);
        if (n && used_now(p))
            wake_readers(p);        /* what is left is for a reader that waits */
        return n;
    }
    return -1;
}

/* Moves bytes of parked writers into the ring (under the writers' lock),
 * answering those done; then answers parked readers; repeats while
 * something moved.  First it says what it waits for (srv_in, srv_out), so
 * a ring client that changes the ring after the look below tells us. */
static bool pump_writes(struct pipe *p)
{
    struct pipe_ring *r = p->ring;
    if (!p->wq || !server_lock(p))
        return false;
    uint8_t *data = pipe_ring_data(r);
    bool moved = false;
    while (p->wq) {
        struct waiter *w = p->wq;
        uint32_t t, inside = used(p, &t);
        uint32_t room = PIPE_SIZE - inside;
        /* A write of up to PIPE_BUF goes in whole or waits; one that must
         * not wait ends now, with what went in (EAGAIN: nothing). */
        if (room == 0 || (w->len <= PIPE_BUF && room < w->len)) {
            if (!w->nonblock)
                break;
            if (w->at) {
                uint64_t rep = 0;
                struct k_iov iov = { &rep, w->rep_len };
                k_msg_reply(w->rcvid, (long)w->at, (long)&iov, 1);
            } else {
                k_msg_error(w->rcvid, ERR(EAGAIN));
            }
            p->wq = w->next;
            free(w);
            continue;
        }
        uint32_t n = w->len < room ? (uint32_t)w->len : room;
        uint32_t h = t + inside, pos = h % PIPE_SIZE;
        uint32_t first = n < PIPE_SIZE - pos ? n : PIPE_SIZE - pos;
        long off = (long)(w->payload_at + w->at);
        long got = k_msg_read(w->rcvid, off, (long)(data + pos), first);
        if (got == (long)first && n > first) {
            long more = k_msg_read(w->rcvid, off + first, (long)data, n - first);
            got += more > 0 ? more : 0;
        }
        bool bad = got != (long)n;      /* the writer went away or its buffer is bad: stop here */
        if (got < 0)
            got = 0;
        pipe_ring_store(&r->head, h + (uint32_t)got);
        w->at += (uint64_t)got;
        w->len = bad ? 0 : w->len - n;
        moved |= got > 0;
        if (w->len == 0 && bad && w->at == 0) {
            k_msg_error(w->rcvid, E_FAULT);     /* nothing of it went in */
            p->wq = w->next;
            free(w);
        } else if (w->len == 0) {
            uint64_t rep = 0;
            struct k_iov iov = { &rep, w->rep_len };
            k_msg_reply(w->rcvid, (long)w->at, (long)&iov, 1);
            p->wq = w->next;
            free(w);
        }
    }
    pipe_ring_unlock(r);
    if (moved)
        wake_readers(p);
    return moved;
}

static void pump(struct pipe *p)
{
    if (!p->ring)
        return;
    repair(p);
    for (bool moved = true; moved;) {
        pipe_ring_store(&p->ring->srv_in, p->rq || p->arm_conn[0] > 0);
        pipe_ring_store(&p->ring->srv_out, p->wq || p->arm_conn[1] > 0);
        moved = pump_writes(p);
        while (p->rq) {
            struct waiter *r = p->rq;
            long n = deliver(p, r->rcvid, r->rep_len, r->len);
            if (n < 0)
                break;
            p->rq = r->next;
            free(r);
            moved |= n > 0;
        }
    }
    uint32_t n = used_now(p);
    if (n || !p->writers)
        arm_fire(p, 0);
    if (n < PIPE_SIZE || !p->readers)
        arm_fire(p, 1);
}

static void maybe_free(struct pipe *p)
{
    if (p->readers || p->writers || !p->used)
        return;
    if (p->fifo) {                  /* no end open: what it held is gone, as on Linux */
        ring_free(p);
        p->write_given = false;
        if (p->refs || p->oq)
            return;
    }
    for (int i = 0; i < 2; i++)
        if (p->arm_conn[i] > 0)
            k_handle_close(p->arm_conn[i]);
    ring_free(p);
    uint64_t serial = p->serial + 1;
    memset(p, 0, sizeof(*p));
    p->serial = serial;
}

/* A new connection of KIND to P, attached to the coming reply (REP);
 * COUNTED: its reader or writer is counted already (a FIFO open that
 * waited). */
static long new_end(struct pipe *p, uint8_t kind, bool counted, struct file_open_rep *rep)
{
    struct end *e = calloc(1, sizeof(*e));
    if (!e)
        return ERR(ENOMEM);
    e->p = p;
    e->kind = kind;
    long c = srv_client_new(&server, e);
    if (c < 0) {
        free(e);
        return ERR(ENOMEM);
    }
    if ((kind & END_WRITE) && !counted)
        p->writers++;
    if ((kind & END_READ) && !counted)
        p->readers++;
    if (kind & END_WRITE)
        p->write_given = true;
    if (kind & END_FIFO)
        p->refs++;
    counts(p);
    k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    rep->mode = S_IFIFO | 0600;
    rep->ino = number(p);
    return 0;
}

static void end_gone(struct pipe *p, uint8_t kind);

/* An end of KIND is opening on P: the opens waiting for one go on.  (Each
 * answer carries its own new connection, so this runs before the opening
 * end's connection is made: one attachment rides with one reply.) */
static void release_openers(struct pipe *p, uint8_t kind)
{
    for (struct opener **pp = &p->oq; *pp;) {
        struct opener *o = *pp;
        if (!((o->kind == END_READ && (kind & END_WRITE)) ||
              (o->kind == END_WRITE && (kind & END_READ)))) {
            pp = &o->next;
            continue;
        }
        *pp = o->next;
        struct file_open_rep rep = { 0 };
        long r = new_end(p, o->kind, true, &rep);
        struct k_iov iov = { &rep, sizeof(rep) };
        if (r < 0) {
            k_msg_error(o->rcvid, r);
            end_gone(p, o->kind);
        } else {
            k_msg_reply(o->rcvid, 0, (long)&iov, 1);    /* an opener gone: its end's close comes */
        }
        free(o);
    }
}

/* open "" on a FIFO's connection, as Linux's open of a FIFO: a reader
 * waits for a writer to open and a writer for a reader (each counted as
 * its end meanwhile, so a non-blocking writer finds the waiting reader);
 * with O_NONBLOCK a reader goes on at once and a writer with no reader
 * fails ENXIO; O_RDWR is both ends and never waits. */
static long fifo_open(struct pipe *p, uint32_t flags, long rcvid, struct file_open_rep *rep)
{
    uint32_t acc = flags & 3;
    if (acc == 3)
        return ERR(EINVAL);
    uint8_t kind = acc == 0 ? END_READ : acc == 1 ? END_WRITE : END_READ | END_WRITE;
    bool wait = (kind == END_READ && !p->writers && !(flags & O_NONBLOCK)) ||
                (kind == END_WRITE && !p->readers);
    if (wait && (flags & O_NONBLOCK))
        return ERR(ENXIO);
    if (!p->ring && !ring_make(p))
        return ERR(ENOMEM);
    if (wait) {
        struct opener *o = calloc(1, sizeof(*o));
        if (!o)
            return ERR(ENOMEM);
        *o = (struct opener){ .next = p->oq, .rcvid = rcvid, .kind = kind };
        p->oq = o;
        if (kind == END_READ)
            p->readers++;
        else
            p->writers++;
        counts(p);
        return PROTO_NO_REPLY;
    }
    release_openers(p, kind);
    return new_end(p, kind, false, rep);
}

static long on_open(void *ctx, long rcvid, const struct file_open_req *req, const void *payload,
                    size_t len, struct file_open_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)out;
    struct end *e = cur->client;
    if (e && (e->kind & END_FIFO))
        return len ? ERR(ENOENT) : fifo_open(e->p, req->flags, rcvid, rep);
    if (e)
        return ERR(ENOTDIR);        /* an end is not a directory */
    bool fifo = len == 4 && memcmp(payload, "fifo", 4) == 0;
    if (len == 0 || fifo) {         /* a new pipe: its read end; or a FIFO: its connection */
        if ((req->flags & 3) != 0)
            return ERR(EINVAL);
        for (int i = 0; i < MAX_PIPES; i++) {
            struct pipe *p = &pipes[i];
            if (p->used)
                continue;
            if (!fifo && !ring_make(p))                     /* a FIFO's: at its first open */
                return ERR(ENOMEM);
            p->used = true;
            p->fifo = fifo;
            long r = new_end(p, fifo ? END_FIFO : END_READ, false, rep);
            if (r < 0) {
                ring_free(p);
                p->used = p->fifo = false;
            }
            return r;
        }
        return ERR(ENFILE);
    }
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = ((const char *)payload)[i];
        if (c < '0' || c > '9' || n > (1ULL << 50))
            return ERR(ENOENT);
        n = n * 10 + (uint64_t)(c - '0');
    }
    struct pipe *p = &pipes[n % MAX_PIPES];
    if (!p->used || p->fifo || number(p) != n)
        return ERR(ENOENT);
    if ((req->flags & 3) != 1 || p->write_given)
        return ERR(EACCES);         /* only its maker takes the write end, once */
    return new_end(p, END_WRITE, false, rep);
}

static struct end *end_of(void)
{
    struct end *e = cur->client;
    return e && (e->kind & END_SESSION) ? NULL : e;     /* a session is no end */
}

static long on_read(void *ctx, long rcvid, const struct file_read_req *req,
                    struct file_read_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rep;
    struct end *e = end_of();
    if (!e || !(e->kind & END_READ))
        return ERR(EBADF);
    if (req->offset != POS_CURRENT)
        return ERR(ESPIPE);
    struct pipe *p = e->p;
    if (req->len == 0)
        return 0;
    if (!p->rq && deliver(p, rcvid, out->rep_len, req->len) >= 0) {
        pump(p);                    /* room for parked writers */
        return PROTO_NO_REPLY;
    }
    if (!p->writers)
        return 0;                   /* end of file */
    if (req->flags & 1)
        return ERR(EAGAIN);
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return ERR(ENOMEM);
    *w = (struct waiter){ .rcvid = rcvid, .rep_len = out->rep_len, .len = req->len };
    struct waiter **pp = &p->rq;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    pump(p);                        /* it may have come meanwhile; else we wait for it */
    return PROTO_NO_REPLY;
}

/* A write, its payload at PAYLOAD_AT bytes into the message (LEN bytes). */
static long do_write(struct end *e, const struct file_write_req *req, size_t payload_at,
                     uint64_t len, size_t rep_len)
{
    if (!e || !(e->kind & END_WRITE))
        return ERR(EBADF);
    if (req->offset != POS_CURRENT)
        return ERR(ESPIPE);
    struct pipe *p = e->p;
    if (len == 0)
        return 0;                   /* before EPIPE, as Linux */
    if (!p->readers)
        return ERR(EPIPE);
    uint32_t room = PIPE_SIZE - used_now(p);
    if (req->flags & 1) {           /* do not wait */
        if (p->wq || room == 0 || (len <= PIPE_BUF && room < len))
            return ERR(EAGAIN);
        if (len > room)
            len = room;             /* a partial non-blocking write */
    }
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return ERR(ENOMEM);
    *w = (struct waiter){ .rcvid = cur->rcvid, .rep_len = rep_len, .len = len,
                          .payload_at = payload_at, .nonblock = (req->flags & 1) != 0 };
    struct waiter **pp = &p->wq;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    pump(p);
    return PROTO_NO_REPLY;          /* pump answered it, or will */
}

static long on_write(void *ctx, long rcvid, const struct file_write_req *req, const void *payload,
                     size_t len, struct file_write_rep *rep)
{
    (void)ctx, (void)rcvid, (void)payload, (void)rep;
    return do_write(end_of(), req, sizeof(struct k_proto_hdr) + sizeof(*req), len,
                    sizeof(struct file_write_rep));
}

static long on_stat(void *ctx, long rcvid, const struct file_stat_req *req, const void *payload,
                    size_t len, struct file_stat_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)payload;
    struct end *e = end_of();
    if (len || !e)
        return len ? ERR(ENOENT) : ERR(EBADF);
    *rep = (struct file_stat_rep){ .dev = 4, .ino = number(e->p), .mode = S_IFIFO | 0600,
                                   .nlink = 1, .size = used_now(e->p), .blksize = PIPE_BUF };
    return 0;
}

static long on_seek(void *ctx, long rcvid, const struct file_seek_req *req,
                    struct file_seek_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    return ERR(ESPIPE);
}

static long on_ioctl(void *ctx, long rcvid, const struct file_ioctl_req *req, const void *payload,
                     size_t len, struct file_ioctl_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)payload, (void)len;
    struct end *e = end_of();
    if (!e)
        return ERR(EBADF);
    if (req->cmd == 0x541B) {       /* FIONREAD */
        static int32_t n;
        n = (int32_t)used_now(e->p);
        rep->value = (uint64_t)n;
        out->data = &n;
        out->len = sizeof(n);
        return 0;
    }
    return ERR(25);                 /* ENOTTY */
}

static long on_notify(void *ctx, long rcvid, const struct file_notify_req *req,
                      struct file_notify_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct end *e = end_of();
    if (!e)
        return ERR(EBADF);
    struct pipe *p = e->p;
    uint32_t now = 0;
    if (e->kind & END_FIFO)
        return ERR(EBADF);          /* not open yet */
    repair(p);
    if (e->kind & END_READ) {
        now |= used_now(p) ? 1u : 0;
        now |= p->writers ? 0 : (p->write_given ? 16u : 0);       /* POLLHUP */
    }
    if (e->kind & END_WRITE) {
        now |= used_now(p) < PIPE_SIZE && p->readers ? 4u : 0;
        now |= p->readers ? 0 : 8u;                                /* POLLERR */
    }
    rep->revents = now & (req->events | 0x18);
    if ((req->flags & 1) && !rep->revents && cur->info.handle) {
        int which = (e->kind & END_WRITE) && !(req->events & 1) ? 1 : 0;
        if (p->arm_conn[which] > 0)
            k_handle_close(p->arm_conn[which]);
        p->arm_conn[which] = cur->info.handle;
        cur->info.handle = 0;
        p->arm_code[which] = req->code;
        p->arm_value[which] = req->value;
        pump(p);                    /* ring clients now tell us of changes (and it may be ready) */
    }
    return 0;
}

/* The ring, for a client that reads and writes it itself: the object, a
 * read end's wait channel, a write end's connection to it, or a session
 * (a connection whose end breaks the writers' lock it may hold; a message
 * on it is answered after every end closed before it, which is how a
 * client that closes an end knows the counts in the header are new). */
static long on_ring(void *ctx, long rcvid, const struct file_ring_req *req,
                    struct file_ring_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct end *e = end_of();
    if (!e || (e->kind & (END_FIFO | END_SESSION)) || !e->p->ring)
        return ERR(EBADF);
    struct pipe *p = e->p;
    switch (req->what) {
    case PIPE_RING_MAP:
        rep->id = p->ring->id;
        return k_handle_attach(p->vmo, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, 0);
    case PIPE_RING_WAIT:
        return (e->kind & END_READ) ? k_handle_attach(p->wait_chan, K_RIGHT_RECEIVE, 0) : ERR(EBADF);
    case PIPE_RING_WAKE:
        return (e->kind & END_WRITE) ? k_handle_attach(p->wait_conn, K_RIGHT_SEND, 0) : ERR(EBADF);
    case PIPE_RING_POKE:
        pump(p);
        return 0;
    case PIPE_RING_SESSION: {
        unsigned here = 0;
        for (struct end *s = p->sessions; s; s = s->next)
            here++;
        if (here >= SESSIONS_PER_PIPE || sessions_live >= SESSIONS_MAX)
            return ERR(ENFILE);     /* the client uses messages */
        struct end *se = calloc(1, sizeof(*se));
        if (!se)
            return ERR(ENOMEM);
        *se = (struct end){ .p = p, .kind = END_SESSION, .token = next_token, .serial = p->serial,
                            .next = p->sessions };
        long c = srv_client_new(&server, se);
        if (c < 0) {
            free(se);
            return ERR(ENFILE);
        }
        p->sessions = se;
        sessions_live++;
        next_token = next_token + 1 >= PIPE_RING_SERVER ? 1 : next_token + 1;
        rep->token = se->token;
        long a = k_handle_attach(c, K_RIGHT_SEND, 1);
        if (a < 0)
            k_handle_close(c);      /* its end comes, and the session goes */
        return a;
    }
    default:
        return ERR(EINVAL);
    }
}

static const struct file_server table = {
    .open = on_open, .read = on_read, .write = on_write, .stat = on_stat, .seek = on_seek,
    .ioctl = on_ioctl, .notify = on_notify, .ring = on_ring,
};

#define MSG_MAX (sizeof(struct k_proto_hdr) + 64 + 256)

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];
    cur = m;
    /* Writes are read from the writer as room appears: only their header
     * is needed here. */
    struct file_write_req q;
    size_t at, len;
    if (filesrv_write(m, &q, &at, &len)) {
        struct file_write_rep rep = { 0 };
        proto_finish(m->rcvid, do_write(m->client, &q, at, len, sizeof(rep)), &rep, sizeof(rep));
        return SRV_REPLIED;
    }
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    file_dispatch(&table, m->rcvid, m->data, m->len);
    return SRV_REPLIED;
}

/* An end of KIND closed (or a waiting open of it ended). */
static void end_gone(struct pipe *p, uint8_t kind)
{
    if (kind & END_FIFO)
        p->refs--;
    if (kind & END_WRITE)
        p->writers--;
    if (kind & END_READ)
        p->readers--;
    counts(p);
    if ((kind & END_WRITE) && !p->writers)
        wake_readers(p);            /* ring readers see end of file */
    if (kind & END_READ) {
        if (!p->readers)            /* parked writers: EPIPE */
            while (p->wq) {
                struct waiter *w = p->wq;
                p->wq = w->next;
                if (w->at) {
                    uint64_t rep = 0;
                    struct k_iov iov = { &rep, w->rep_len };
                    k_msg_reply(w->rcvid, (long)w->at, (long)&iov, 1);
                } else {
                    k_msg_error(w->rcvid, 4096 + EPIPE);
                }
                free(w);
            }
    }
    pump(p);                        /* readers see end of file */
    maybe_free(p);
}

/* A ring writer's session ended (its process died, or it closed its
 * end): a lock it held is broken.  Bytes it had published stay; what it
 * was copying had not been published. */
static void session_gone(struct end *e)
{
    struct pipe *p = e->p;
    sessions_live--;
    if (p->serial == e->serial)
        for (struct end **pp = &p->sessions; *pp; pp = &(*pp)->next)
            if (*pp == e) {
                *pp = e->next;
                break;
            }
    if (p->serial == e->serial && p->ring) {
        uint32_t held = pipe_ring_load(&p->ring->wlock);
        if ((held & ~PIPE_RING_CONTENDED) == e->token)
            pipe_ring_cas(&p->ring->wlock, held, 0);
        /* It may have died between a wake-up and its part of it: the next
         * wake-up must not wait for it. */
        pipe_ring_store(&p->ring->rpulsed, 0);
        wake_readers(p);
        pump(p);
    }
    free(e);
}

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    struct end *e = data;
    if (e->kind & END_SESSION) {
        session_gone(e);
        return;
    }
    struct pipe *p = e->p;
    uint8_t kind = e->kind;
    free(e);
    end_gone(p, kind);
}

/* A waiting reader or writer was interrupted (a signal): its call ends
 * now, a writer's with what it has written. */
static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    if (info->type == K_MSG_PULSE && info->code == PIPE_RING_PULSE) {
        struct end *e = srv_client_data(s, info->badge);   /* the end whose client changed the ring */
        if (e && !(e->kind & (END_FIFO | END_SESSION)))
            pump(e->p);
        return;
    }
    if (info->type != K_MSG_UNBLOCK)
        return;
    for (int i = 0; i < MAX_PIPES; i++) {
        struct pipe *p = &pipes[i];
        if (!p->used)
            continue;
        for (struct opener **pp = &p->oq; *pp; pp = &(*pp)->next)
            if ((uint64_t)(*pp)->rcvid == info->value) {
                struct opener *o = *pp;
                *pp = o->next;
                k_msg_error(o->rcvid, E_INTERRUPTED);
                uint8_t kind = o->kind;
                free(o);
                end_gone(p, kind);
                return;
            }
        for (struct waiter **pp = &p->rq; *pp; pp = &(*pp)->next)
            if ((uint64_t)(*pp)->rcvid == info->value) {
                struct waiter *w = *pp;
                *pp = w->next;
                k_msg_error(w->rcvid, E_INTERRUPTED);
                free(w);
                return;
            }
        for (struct waiter **pp = &p->wq; *pp; pp = &(*pp)->next)
            if ((uint64_t)(*pp)->rcvid == info->value) {
                struct waiter *w = *pp;
                *pp = w->next;
                if (w->at) {
                    uint64_t rep = 0;
                    struct k_iov iov = { &rep, w->rep_len };
                    k_msg_reply(w->rcvid, (long)w->at, (long)&iov, 1);
                } else {
                    k_msg_error(w->rcvid, E_INTERRUPTED);
                }
                free(w);
                pump(p);
                return;
            }
    }
}

static const struct srv_ops ops = { .message = on_message, .disconnect = on_disconnect,
                                    .pulse = on_pulse };

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    return srv_main(&server, "pipe", &ops, pipes);
}
