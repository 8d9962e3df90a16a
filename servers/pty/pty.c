/*
 * pty: pseudo-terminals, Linux's Unix 98 ptys.  Opening /dev/ptmx makes
 * a pair and gives its master; the slave is /dev/pts/N (N from ioctl
 * TIOCGPTN, opened once TIOCSPTLCK has unlocked it, or straight from the
 * master with TIOCGPTPEER).  The slave is a terminal with the console's
 * line discipline (servers/tty/ldisc.c, one struct ldisc per pair):
 * bytes the master writes are the slave's input (canonical editing, echo,
 * ICRNL, ISIG signals), and what the slave writes, output-processed
 * (ONLCR...), waits in the pair's output buffer, with the echoes, for the
 * master's reads.
 *
 * Two names (manifest names=/dev/ptmx,/dev/pts): init gives the mount
 * connection of a service's k-th name badge k, so a message through
 * badge 0 with an empty path is about /dev/ptmx, through badge 1 about
 * the directory /dev/pts ("" itself, "N" a slave).  Open files ride on
 * srv's minted badges as everywhere.
 *
 * Life of a pair (at most NPTY; a ptmx open beyond is ENOSPC as on
 * Linux): made locked at the ptmx open; listed in /dev/pts while its
 * master is open.  The master's close hangs the slave up: slave reads
 * give 0 (end of file), writes EIO, poll reports POLLHUP, and SIGHUP then
 * SIGCONT go to the session that took the slave as its controlling
 * terminal.  Once every slave is closed too the number is free again.
 * Closing every slave (after one was opened) makes master reads EIO once
 * the output buffer is empty, and poll report POLLHUP; opening a slave
 * again ends that, as on Linux.
 *
 * Waiting: reads of either side, slave writes (output buffer full, or
 * output stopped by ^S) and master writes in non-canonical mode (the
 * slave's input buffer full: the writer is throttled as on Linux rather
 * than bytes dropped) are parked and answered by pump(), which runs after
 * everything that could let one go on.  Writes are read from the writer
 * (k_msg_read) as room appears, so a write of any size is one message.
 * An interrupted waiter (K_MSG_UNBLOCK) is answered E_INTERRUPTED, or
 * with the bytes written so far.
 *
 * Signals: like the tty server, every process that registered on a slave
 * (file.proto's signals; one registration per process, the newest kept)
 * gets a pulse naming the signal and the group; those in the group act.
 * ^C/^\/^Z and SIGWINCH go to the slave's foreground group, the hangup's
 * SIGHUP to the session leader's group.
 *
 * Deviations from Linux: TCSETSW does not wait for the master to read
 * what is pending; opening a slave does not make it the controlling
 * terminal of a session leader (TIOCSCTTY does); the master's own termios
 * are kept but have no effect (packet mode, TIOCPKT, is not there).
 *
 * One thread (srv_main): nothing here needs a lock.
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
#include "rt/proto.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/filesrv.h"
#include "srv/srv.h"
#include "../tty/ldisc.h"

#define ERR(e) FILE_ERR(e)
#define ENOENT 2
#define EIO 5
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENOTTY 25
#define ENOSPC 28
#define ESPIPE 29
#define S_IFCHR 0020000
#define S_IFDIR 0040000
#define DT_CHR 2
#define DT_DIR 4
#define O_ACCMODE 3
#define O_DIRECTORY 0200000

#define NPTY 16                        /* pairs at once */
#define OUT_SIZE 8192                  /* slave output waiting for the master */
#define MAX_SIGNALLED 32               /* registered processes per pair */
#define TIMER_CODE 0x50545900          /* + the pair's number: its VTIME timer */
#define PTY_DEV 7                      /* st_dev of everything here */
#define BADGE_PTMX 0                   /* init: the k-th name's mount has badge k */
#define BADGE_PTS 1
#define POLLIN 1
#define POLLOUT 4
#define POLLERR 8
#define POLLHUP 16

#define SIGHUP 1
#define SIGCONT 18
#define SIGWINCH 28

enum ocb_kind { OCB_MASTER, OCB_SLAVE, OCB_DIR };

struct pty;

struct ocb {
    enum ocb_kind kind;
    struct pty *p;                     /* NULL for the directory */
    uint32_t flags;
    struct ocb *next;                  /* the pair's open files, for poll arms */
    long arm_conn;
    int32_t arm_code;
    uint64_t arm_value;
    uint32_t arm_events;
};

/* A parked read or write. */
struct waiter {
    struct waiter *next;
    long rcvid;
    size_t rep_len;
    struct ldisc_reader r;             /* slave reads */
    size_t cap;                        /* master reads */
    size_t payload_at, len, done;      /* writes */
    bool nonblock;
};

struct pty {
    bool used;
    bool locked;
    bool hung;                         /* the master is closed */
    bool slave_opened;                 /* since the last time all slaves closed */
    bool slave_closed;                 /* all slaves closed after one was open */
    unsigned n;                        /* its number */
    unsigned slaves;                   /* open slave files */
    struct ocb *master;
    struct ocb *files;
    struct ldisc ld;
    struct ldisc_termios master_tio;
    uint8_t out[OUT_SIZE];
    size_t out_len;
    struct waiter *sread, *swrite, *mread, *mwrite;
    bool timer_expired;
    long timer;
    uint64_t pgrp, sid;
    struct { long conn; int32_t code; uint64_t pid; } sigs[MAX_SIGNALLED];
};

static struct pty ptys[NPTY];
static struct srv server;
static struct srv_msg *cur;

/* ---- signals ---- */

/* Each signal in SIGNALS for group GRP, to every registered process; a
 * registration whose process is gone is dropped. */
static void send_signals(struct pty *p, uint32_t signals, uint64_t grp)
{
    for (int s = 1; s < 32; s++) {
        if (!(signals & (1u << s)))
            continue;
        for (unsigned i = 0; i < MAX_SIGNALLED; i++) {
            if (p->sigs[i].conn <= 0)
                continue;
            long r = k_pulse_send(p->sigs[i].conn, p->sigs[i].code,
                                  (long)((uint64_t)s | grp << 8), 0);
            if (r == -E_DEAD || r == -E_REVOKED || r == -E_BADHANDLE) {
                k_handle_close(p->sigs[i].conn);
                p->sigs[i].conn = 0;
            }
        }
    }
}

/* ---- the output buffer ---- */

static size_t out_room(const struct pty *p)
{
    return OUT_SIZE - p->out_len;
}

/* Staged echoes into the output buffer; true if any moved. */
static bool move_echoes(struct pty *p)
{
    size_t n = ldisc_echo_drain(&p->ld, p->out + p->out_len, out_room(p));
    p->out_len += n;
    return n > 0;
}

/* The free space of the slave's input buffer (non-canonical mode: what a
 * master write may add without a byte dropped). */
static size_t in_room(const struct pty *p)
{
    return LDISC_BUF_SIZE - (p->ld.head - p->ld.tail);
}

static bool canonical(const struct pty *p)
{
    return (p->ld.tio.c_lflag & LDISC_ICANON) != 0;
}

/* ---- poll ---- */

static uint32_t revents(const struct ocb *o)
{
    const struct pty *p = o->p;
    if (o->kind == OCB_DIR)
        return POLLIN | POLLOUT;
    if (o->kind == OCB_MASTER) {
        uint32_t ev = p->out_len ? POLLIN : 0;
        if (p->slave_closed)
            ev |= POLLHUP;
        if (canonical(p) || in_room(p))
            ev |= POLLOUT;
        return ev;
    }
    if (p->hung)
        return POLLIN | POLLOUT | POLLERR | POLLHUP;
    return (ldisc_poll_in(&p->ld) ? POLLIN : 0) |
           (out_room(p) && !ldisc_stopped(&p->ld) ? POLLOUT : 0);
}

/* Pulses every arm of the pair whose events now hold. */
static void fire_arms(struct pty *p)
{
    for (struct ocb *o = p->files; o; o = o->next)
        if (o->arm_conn > 0 && (revents(o) & (o->arm_events | POLLERR | POLLHUP))) {
            k_pulse_send(o->arm_conn, o->arm_code, (long)o->arm_value, 0);
            k_handle_close(o->arm_conn);
            o->arm_conn = 0;
        }
}

/* ---- answering waiters ---- */

static void reply(long rcvid, long status, size_t rep_len, const void *data, size_t n)
{
    uint64_t rep[2] = { 0, 0 };
    struct k_iov iov[2] = { { rep, rep_len }, { (void *)data, n } };
    k_msg_reply(rcvid, status, (long)iov, n ? 2 : 1);
}

static struct waiter *pop(struct waiter **q)
{
    struct waiter *w = *q;
    *q = w->next;
    return w;
}

static void push(struct waiter **q, struct waiter *w)
{
    while (*q)
        q = &(*q)->next;
    w->next = NULL;
    *q = w;
}

/* A write that ends: the bytes taken, or ERR if none were. */
static void end_write(struct waiter *w, long err)
{
    if (w->done || !err)
        reply(w->rcvid, (long)w->done, w->rep_len, 0, 0);
    else
        k_msg_error(w->rcvid, -err);
    free(w);
}

static void arm_timer(struct pty *p, uint32_t tenths)
{
    if (p->timer <= 0) {                /* made on first use: srv_main has set our badge */
        long self = k_chan_connect(server.chan, (long)server.self_badge, 0);
        p->timer = self > 0 ? k_timer_create(self, TIMER_CODE + (int)p->n, 0) : -1;
    }
    if (p->timer > 0)
        k_timer_set(p->timer, (long)tenths * 100000000L, 0);
}

/* Answers the slave's first parked read if it is ready, and so on. */
static bool serve_slave_reads(struct pty *p)
{
    bool moved = false;
    while (p->sread) {
        struct waiter *w = p->sread;
        static uint8_t data[4096];
        long n = 0;
        if (!p->hung) {
            uint32_t tenths = 0;
            enum ldisc_verdict v = ldisc_readable(&p->ld, &w->r, p->timer_expired, &tenths);
            p->timer_expired = false;
            if (v == LDISC_ARM)
                arm_timer(p, tenths);
            if (v != LDISC_READY)
                return moved;
            size_t cap = w->r.cap < sizeof(data) ? w->r.cap : sizeof(data);
            n = ldisc_read(&p->ld, data, cap);
            if (n == LDISC_EAGAIN)
                return moved;
        }
        pop(&p->sread);
        reply(w->rcvid, n, w->rep_len, data, (size_t)n);
        free(w);
        moved = true;
        if (p->sread)
            ldisc_reader_start(&p->ld, &p->sread->r, p->sread->r.cap);
    }
    return moved;
}

/* Feeds N bytes to the slave's input and acts on what the discipline says. */
static void input(struct pty *p, const uint8_t *b, size_t n)
{
    struct ldisc_events ev = { 0 };
    ldisc_input(&p->ld, b, n, &ev);
    if (ev.flags & LDISC_EV_FLUSH_OUT)
        p->out_len = 0;                 /* Linux flushes the master's unread input too */
    if (ev.signals)
        send_signals(p, ev.signals, p->pgrp);
}

/* Parked master writes into the slave's input; true if any byte moved. */
static bool feed_master_writes(struct pty *p)
{
    bool moved = false;
    while (p->mwrite) {
        struct waiter *w = p->mwrite;
        while (w->done < w->len) {
            size_t room = canonical(p) ? w->len - w->done : in_room(p);
            if (room == 0)
                break;
            uint8_t tmp[512];
            size_t k = w->len - w->done;
            if (k > room)
                k = room;
            if (k > sizeof(tmp))
                k = sizeof(tmp);
            if (k_msg_read(w->rcvid, (long)(w->payload_at + w->done), (long)tmp, (long)k) != (long)k) {
                w->len = w->done;       /* the writer's buffer is bad, or it went */
                break;
            }
            input(p, tmp, k);
            w->done += k;
            moved = true;
        }
        if (w->done < w->len && !w->nonblock)
            return moved;
        pop(&p->mwrite);
        end_write(w, ERR(EAGAIN));
    }
    return moved;
}

/* Parked slave writes through output processing into the buffer. */
static bool feed_slave_writes(struct pty *p)
{
    bool moved = false;
    while (p->swrite) {
        struct waiter *w = p->swrite;
        while (w->done < w->len && out_room(p)) {
            uint8_t tmp[512];
            size_t k = w->len - w->done < sizeof(tmp) ? w->len - w->done : sizeof(tmp);
            if (k_msg_read(w->rcvid, (long)(w->payload_at + w->done), (long)tmp, (long)k) != (long)k) {
                w->len = w->done;
                break;
            }
            size_t used = 0;
            size_t got = ldisc_output(&p->ld, tmp, k, p->out + p->out_len, out_room(p), &used);
            p->out_len += got;
            w->done += used;
            moved |= got > 0 || used > 0;
            if (!used)
                break;                  /* stopped, or no room for a byte's expansion */
        }
        if (w->done < w->len && !w->nonblock)
            return moved;
        pop(&p->swrite);
        end_write(w, ERR(EAGAIN));
    }
    return moved;
}

/* Answers parked master reads from the output buffer. */
static bool serve_master_reads(struct pty *p)
{
    bool moved = false;
    while (p->mread && (p->out_len || p->slave_closed)) {
        struct waiter *w = pop(&p->mread);
        if (!p->out_len) {
            k_msg_error(w->rcvid, -ERR(EIO));
        } else {
            size_t n = w->cap < p->out_len ? w->cap : p->out_len;
            reply(w->rcvid, (long)n, w->rep_len, p->out, n);
            memmove(p->out, p->out + n, p->out_len - n);
            p->out_len -= n;
        }
        free(w);
        moved = true;
    }
    return moved;
}

/* Lets every waiter of the pair go on that can, until nothing moves; then
 * the poll arms. */
static void pump(struct pty *p)
{
    for (bool moved = true; moved;) {
        moved = feed_master_writes(p);
        moved |= serve_slave_reads(p);
        moved |= move_echoes(p);
        moved |= feed_slave_writes(p);
        moved |= serve_master_reads(p);
    }
    fire_arms(p);
}

/* ---- pairs ---- */

static struct pty *pty_new(void)
{
    for (unsigned i = 0; i < NPTY; i++) {
        struct pty *p = &ptys[i];
        if (p->used)
            continue;
        long timer = p->timer;
        memset(p, 0, sizeof(*p));
        p->timer = timer;
        p->n = i;
        p->used = true;
        p->locked = true;
        ldisc_init(&p->ld);
        p->master_tio = (struct ldisc_termios){ .c_cflag = LDISC_B38400 | LDISC_CS8 | LDISC_CREAD };
        memcpy(p->master_tio.c_cc, p->ld.tio.c_cc, sizeof(p->master_tio.c_cc));
        return p;
    }
    return NULL;
}

static void pty_free(struct pty *p)
{
    for (unsigned i = 0; i < MAX_SIGNALLED; i++)
        if (p->sigs[i].conn > 0)
            k_handle_close(p->sigs[i].conn);
    if (p->timer > 0)
        k_timer_set(p->timer, 0, 0);
    p->used = false;
}

/* The slave N named by PATH ("N", no leading zeros), if its pair is listed. */
static struct pty *pty_named(const char *path, size_t len)
{
    if (len == 0 || len > 3 || (path[0] == '0' && len > 1))
        return NULL;
    unsigned n = 0;
    for (size_t i = 0; i < len; i++) {
        if (path[i] < '0' || path[i] > '9')
            return NULL;
        n = n * 10 + (unsigned)(path[i] - '0');
    }
    return n < NPTY && ptys[n].used && !ptys[n].hung ? &ptys[n] : NULL;
}

/* The master is gone: hang the slave up. */
static void hangup(struct pty *p)
{
    p->hung = true;
    p->master = NULL;
    while (p->swrite)
        end_write(pop(&p->swrite), ERR(EIO));
    if (p->sid)
        send_signals(p, (1u << SIGHUP) | (1u << SIGCONT), p->sid);
    pump(p);
}

/* ---- messages ---- */

static struct ocb *ocb_of(void)
{
    return cur->client;
}

static void pty_file_add(struct pty *p, struct ocb *o)
{
    o->next = p->files;
    p->files = o;
}

static void pty_file_remove(struct pty *p, struct ocb *o)
{
    for (struct ocb **pp = &p->files; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            return;
        }
}

/* A new open file of KIND on P: its connection, attached to the reply. */
static long open_file(enum ocb_kind kind, struct pty *p, uint32_t flags)
{
    struct ocb *o = calloc(1, sizeof(*o));
    if (!o)
        return ERR(ENOMEM);
    *o = (struct ocb){ .kind = kind, .p = p, .flags = flags };
    long c = srv_client_new(&server, o);
    if (c < 0) {
        free(o);
        return ERR(ENOMEM);
    }
    k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    if (p) {
        pty_file_add(p, o);
        if (kind == OCB_MASTER)
            p->master = o;
        if (kind == OCB_SLAVE) {
            p->slaves++;
            p->slave_opened = true;
            p->slave_closed = false;
        }
    }
    return 0;
}

static void fill_open(struct file_open_rep *rep, uint32_t mode, uint32_t oflags, uint64_t ino)
{
    rep->mode = mode;
    rep->oflags = oflags;
    rep->ino = ino;
}

static long open_slave(struct pty *p, uint32_t flags, struct file_open_rep *rep)
{
    if (p->locked)
        return ERR(EIO);
    long r = open_file(OCB_SLAVE, p, flags);
    if (r == 0)
        fill_open(rep, S_IFCHR | 0620, 2, p->n + 3);     /* a terminal */
    return r;
}

static long on_open(void *ctx, long rcvid, const struct file_open_req *req, const void *payload,
                    size_t len, struct file_open_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)out;
    const char *path = payload;
    while (len && path[0] == '/')
        path++, len--;
    while (len && path[len - 1] == '/')
        len--;
    if (ocb_of()) {                     /* relative to an open file: only the directory itself */
        if (ocb_of()->kind != OCB_DIR)
            return ERR(ENOTDIR);
        if (len)
            return pty_named(path, len) ? open_slave(pty_named(path, len), req->flags, rep)
                                        : ERR(ENOENT);
        long r = open_file(OCB_DIR, NULL, req->flags);
        if (r == 0)
            fill_open(rep, S_IFDIR | 0755, 0, 1);
        return r;
    }
    if (cur->info.badge == BADGE_PTMX) {
        if (len)
            return ERR(ENOTDIR);
        if (req->flags & O_DIRECTORY)
            return ERR(ENOTDIR);
        struct pty *p = pty_new();
        if (!p)
            return ERR(ENOSPC);         /* as Linux when pty's max is reached */
        long r = open_file(OCB_MASTER, p, req->flags);
        if (r < 0) {
            p->used = false;
            return r;
        }
        fill_open(rep, S_IFCHR | 0666, 0, 2);
        return 0;
    }
    if (cur->info.badge != BADGE_PTS)
        return ERR(ENOENT);
    if (!len) {
        long r = open_file(OCB_DIR, NULL, req->flags);
        if (r == 0)
            fill_open(rep, S_IFDIR | 0755, 0, 1);
        return r;
    }
    struct pty *p = pty_named(path, len);
    if (!p)
        return ERR(ENOENT);
    if (req->flags & O_DIRECTORY)
        return ERR(ENOTDIR);
    return open_slave(p, req->flags, rep);
}

static long on_read(void *ctx, long rcvid, const struct file_read_req *req,
                    struct file_read_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rep;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (o->kind == OCB_DIR)
        return ERR(EISDIR);
    struct pty *p = o->p;
    if (req->len == 0)
        return 0;
    bool nonblock = req->flags & 1;
    if (o->kind == OCB_MASTER) {
        if (!p->mread && p->out_len) {
            static uint8_t data[OUT_SIZE];
            size_t n = req->len < p->out_len ? req->len : p->out_len;
            memcpy(data, p->out, n);
            memmove(p->out, p->out + n, p->out_len - n);
            p->out_len -= n;
            out->data = data;
            out->len = n;
            pump(p);                    /* room for parked slave writes */
            return (long)n;
        }
        if (p->slave_closed)
            return ERR(EIO);
        if (nonblock)
            return ERR(EAGAIN);
    } else {
        if (p->hung)
            return 0;
        if (!p->sread) {
            struct ldisc_reader r;
            ldisc_reader_start(&p->ld, &r, req->len);
            uint32_t tenths = 0;
            enum ldisc_verdict v = ldisc_readable(&p->ld, &r, false, &tenths);
            if (v == LDISC_READY || nonblock) {
                static uint8_t data[4096];
                size_t cap = req->len < sizeof(data) ? req->len : sizeof(data);
                long n = v == LDISC_READY ? ldisc_read(&p->ld, data, cap) : LDISC_EAGAIN;
                if (n == LDISC_EAGAIN)
                    return ERR(EAGAIN);
                out->data = data;
                out->len = (size_t)n;
                pump(p);                /* room for throttled master writes */
                return n;
            }
            struct waiter *w = calloc(1, sizeof(*w));
            if (!w)
                return ERR(ENOMEM);
            *w = (struct waiter){ .rcvid = rcvid, .rep_len = out->rep_len, .r = r };
            push(&p->sread, w);
            if (v == LDISC_ARM)
                arm_timer(p, tenths);
            return PROTO_NO_REPLY;
        }
        if (nonblock)
            return ERR(EAGAIN);
    }
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return ERR(ENOMEM);
    *w = (struct waiter){ .rcvid = rcvid, .rep_len = out->rep_len, .cap = req->len,
                          .r = { .cap = req->len } };
    push(o->kind == OCB_MASTER ? &p->mread : &p->sread, w);
    return PROTO_NO_REPLY;
}

/* A write (its payload read from the writer): parked, then pumped. */
static long do_write(const struct file_write_req *req, size_t payload_at, size_t len)
{
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (o->kind == OCB_DIR)
        return ERR(EISDIR);
    struct pty *p = o->p;
    if (o->kind == OCB_SLAVE && p->hung)
        return ERR(EIO);
    if (len == 0)
        return 0;
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return ERR(ENOMEM);
    *w = (struct waiter){ .rcvid = cur->rcvid, .rep_len = sizeof(struct file_write_rep),
                          .payload_at = payload_at, .len = len, .nonblock = req->flags & 1 };
    push(o->kind == OCB_MASTER ? &p->mwrite : &p->swrite, w);
    pump(p);
    return PROTO_NO_REPLY;              /* pump answered it, or will */
}

static long on_write(void *ctx, long rcvid, const struct file_write_req *req, const void *payload,
                     size_t len, struct file_write_rep *rep)
{
    (void)ctx, (void)rcvid, (void)payload, (void)rep;
    return do_write(req, sizeof(struct k_proto_hdr) + sizeof(*req), len);
}

static void stat_of(enum ocb_kind kind, const struct pty *p, struct file_stat_rep *rep)
{
    if (kind == OCB_DIR)
        *rep = (struct file_stat_rep){ .dev = PTY_DEV, .ino = 1, .mode = S_IFDIR | 0755,
                                       .nlink = 2, .blksize = 1024 };
    else if (kind == OCB_MASTER)
        *rep = (struct file_stat_rep){ .dev = PTY_DEV, .ino = 2, .mode = S_IFCHR | 0666,
                                       .nlink = 1, .rdev = (5u << 8) | 2, .blksize = 1024 };
    else
        *rep = (struct file_stat_rep){ .dev = PTY_DEV, .ino = p->n + 3, .mode = S_IFCHR | 0620,
                                       .nlink = 1, .rdev = (136u << 8) | p->n, .blksize = 1024 };
}

static long on_stat(void *ctx, long rcvid, const struct file_stat_req *req, const void *payload,
                    size_t len, struct file_stat_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    const char *path = payload;
    while (len && path[0] == '/')
        path++, len--;
    while (len && path[len - 1] == '/')
        len--;
    struct ocb *o = ocb_of();
    if (o) {
        if (len)
            return o->kind == OCB_DIR ? ERR(ENOENT) : ERR(ENOTDIR);
        stat_of(o->kind, o->p, rep);
        return 0;
    }
    if (cur->info.badge == BADGE_PTMX && !len) {
        stat_of(OCB_MASTER, NULL, rep);
        return 0;
    }
    if (cur->info.badge != BADGE_PTS)
        return ERR(ENOENT);
    if (!len) {
        stat_of(OCB_DIR, NULL, rep);
        return 0;
    }
    struct pty *p = pty_named(path, len);
    if (!p)
        return ERR(ENOENT);
    stat_of(OCB_SLAVE, p, rep);
    return 0;
}

/* Entries by cookie: 0 ".", 1 "..", 2 + N the slave N while listed (each
 * entry's off is its cookie + 1). */
static long on_readdir(void *ctx, long rcvid, const struct file_readdir_req *req,
                       struct file_readdir_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)rep;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (o->kind != OCB_DIR)
        return ERR(ENOTDIR);
    static uint8_t buf[1024];
    size_t cap = req->len < sizeof(buf) ? req->len : sizeof(buf), used = 0;
    for (uint64_t k = req->cookie; k < 2 + NPTY; k++) {
        char name[8];
        uint64_t ino = 1;
        uint8_t type = DT_DIR;
        if (k < 2) {
            memcpy(name, k ? ".." : ".", 3);
        } else {
            const struct pty *p = &ptys[k - 2];
            if (!p->used || p->hung)
                continue;
            snprintf(name, sizeof(name), "%u", p->n);
            ino = p->n + 3, type = DT_CHR;
        }
        if (!filesrv_dirent(buf, cap, &used, ino, k + 1, type, name)) {
            if (used == 0)
                return ERR(EINVAL);
            break;
        }
    }
    out->data = buf;
    out->len = used;
    return (long)used;
}

static long on_seek(void *ctx, long rcvid, const struct file_seek_req *req,
                    struct file_seek_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    struct ocb *o = ocb_of();
    return o && o->kind == OCB_DIR ? 0 : ERR(ESPIPE);
}

static long on_fsync(void *ctx, long rcvid, const struct file_fsync_req *req,
                     struct file_fsync_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    return ERR(EINVAL);
}

/* Answers an ioctl's integer and data. */
static union {
    struct ldisc_termios t;
    struct ldisc_winsize w;
    int32_t i;
} io;

static long give_int(int32_t v, struct file_ioctl_rep *rep, struct proto_out *out)
{
    io.i = v;
    rep->value = (uint64_t)(int64_t)v;
    out->data = &io.i;
    out->len = sizeof(io.i);
    return 0;
}

/* TIOCGPTPEER: a slave's open file from the master, attached to the reply. */
static long open_peer(struct pty *p, uint64_t flags, struct file_ioctl_rep *rep)
{
    struct file_open_rep orep;
    long r = open_slave(p, (uint32_t)flags, &orep);
    if (r == 0)
        rep->value = 0;
    return r;
}

/* The requests of both sides: termios (the slave's, or the master's own),
 * the window size (the pair's), the foreground group (the slave's). */
static long ioctl_common(struct ocb *o, const struct file_ioctl_req *req, const void *payload,
                         size_t len, struct file_ioctl_rep *rep, struct proto_out *out)
{
    struct pty *p = o->p;
    bool master = o->kind == OCB_MASTER;
    struct ldisc_events ev = { 0 };
    switch (req->cmd) {
    case 0x5401:                        /* TCGETS */
        if (master)
            io.t = p->master_tio;
        else
            ldisc_get_termios(&p->ld, &io.t);
        out->data = &io.t;
        out->len = sizeof(io.t);
        return 0;
    case 0x5402: case 0x5403: case 0x5404: {     /* TCSETS, TCSETSW, TCSETSF */
        struct ldisc_termios t;
        if (len != sizeof(t))
            return ERR(EINVAL);
        memcpy(&t, payload, sizeof(t));
        if (master) {
            p->master_tio = t;
            return 0;
        }
        int how = req->cmd == 0x5404 ? LDISC_TCSAFLUSH : LDISC_TCSANOW;
        if (ldisc_set_termios(&p->ld, &t, how, &ev) < 0)
            return ERR(EINVAL);
        pump(p);
        return 0;
    }
    case 0x5413:                        /* TIOCGWINSZ */
        ldisc_get_winsize(&p->ld, &io.w);
        out->data = &io.w;
        out->len = sizeof(io.w);
        return 0;
    case 0x5414: {                      /* TIOCSWINSZ */
        struct ldisc_winsize w;
        if (len != sizeof(w))
            return ERR(EINVAL);
        memcpy(&w, payload, sizeof(w));
        if (ldisc_set_winsize(&p->ld, &w))
            send_signals(p, 1u << SIGWINCH, p->pgrp);
        return 0;
    }
    case 0x540F:                        /* TIOCGPGRP */
        return give_int((int32_t)p->pgrp, rep, out);
    case 0x5429:                        /* TIOCGSID */
        return give_int((int32_t)p->sid, rep, out);
    case 0x541B:                        /* FIONREAD */
        return give_int(master ? (int32_t)p->out_len : (int32_t)ldisc_inq(&p->ld), rep, out);
    case 0x540B: {                      /* TCFLSH: the queues as this side sees them */
        int q = (int)req->arg;
        if (q < LDISC_TCIFLUSH || q > LDISC_TCIOFLUSH)
            return ERR(EINVAL);
        bool in = q != LDISC_TCOFLUSH, outq = q != LDISC_TCIFLUSH;
        if (master ? outq : in)
            ldisc_flush(&p->ld, LDISC_TCIFLUSH);
        if (master ? in : outq)
            p->out_len = 0;
        pump(p);
        return 0;
    }
    case 0x5409:                        /* TCSBRK */
        return 0;
    default:
        return ERR(ENOTTY);
    }
}

static long on_ioctl(void *ctx, long rcvid, const struct file_ioctl_req *req, const void *payload,
                     size_t len, struct file_ioctl_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (o->kind == OCB_DIR)
        return ERR(ENOTTY);
    struct pty *p = o->p;
    if (o->kind == OCB_MASTER) {
        switch (req->cmd) {
        case 0x80045430:                /* TIOCGPTN */
            return give_int((int32_t)p->n, rep, out);
        case 0x40045431: {              /* TIOCSPTLCK */
            int32_t v;
            if (len != sizeof(v))
                return ERR(EINVAL);
            memcpy(&v, payload, sizeof(v));
            p->locked = v != 0;
            return 0;
        }
        case 0x5441:                    /* TIOCGPTPEER */
            if ((req->arg & O_ACCMODE) == O_ACCMODE)
                return ERR(EINVAL);
            return open_peer(p, req->arg, rep);
        case 0x5410: case 0x540E: case 0x5422: case 0x540A:
            return ERR(ENOTTY);         /* the slave's business (Linux: ENOTTY here too) */
        }
        return ioctl_common(o, req, payload, len, rep, out);
    }
    switch (req->cmd) {
    case 0x5410: {                      /* TIOCSPGRP */
        int32_t g;
        if (len != sizeof(g))
            return ERR(EINVAL);
        memcpy(&g, payload, sizeof(g));
        if (g <= 0)
            return ERR(EINVAL);
        p->pgrp = (uint64_t)g;
        return 0;
    }
    case 0x540E:                        /* TIOCSCTTY: the caller's session takes it */
        p->sid = p->pgrp = cur->info.pid;       /* a session leader: its pid is its group */
        return 0;
    case 0x5422:                        /* TIOCNOTTY */
        return 0;
    case 0x540A: {                      /* TCXONC */
        int x = -1;
        struct ldisc_events ev = { 0 };
        if (ldisc_tcxonc(&p->ld, (int)req->arg, &x, &ev) < 0)
            return ERR(EINVAL);
        if (x >= 0 && out_room(p)) {
            p->out[p->out_len++] = (uint8_t)x;     /* TCIOFF/TCION: the byte to the master */
        }
        pump(p);
        return 0;
    }
    }
    return ioctl_common(o, req, payload, len, rep, out);
}

static long on_notify(void *ctx, long rcvid, const struct file_notify_req *req,
                      struct file_notify_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    rep->revents = revents(o) & (req->events | POLLERR | POLLHUP);
    if ((req->flags & 1) && !rep->revents && cur->info.handle && o->p) {
        if (o->arm_conn > 0)
            k_handle_close(o->arm_conn);
        o->arm_conn = cur->info.handle;
        cur->info.handle = 0;           /* kept */
        o->arm_code = req->code;
        o->arm_value = req->value;
        o->arm_events = req->events;
    }
    return 0;
}

/* One registration per process: a new one from the same process replaces
 * the old (whose connection may be of a past life of that pid). */
static long on_signals(void *ctx, long rcvid, const struct file_signals_req *req,
                       struct file_signals_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    struct ocb *o = ocb_of();
    if (!o || o->kind != OCB_SLAVE)
        return o ? ERR(ENOTTY) : ERR(EBADF);
    if (!cur->info.handle || req->flags)
        return ERR(EINVAL);
    struct pty *p = o->p;
    int slot = -1;
    for (int i = 0; i < MAX_SIGNALLED; i++) {
        if (p->sigs[i].conn > 0 && p->sigs[i].pid == cur->info.pid) {
            k_handle_close(p->sigs[i].conn);
            slot = i;
            break;
        }
        if (p->sigs[i].conn <= 0 && slot < 0)
            slot = i;
    }
    if (slot < 0)
        return ERR(ENOMEM);
    p->sigs[slot].conn = cur->info.handle;
    p->sigs[slot].code = req->code;
    p->sigs[slot].pid = cur->info.pid;
    cur->info.handle = 0;               /* kept */
    return 0;
}

static const struct file_server table = {
    .open = on_open, .read = on_read, .write = on_write, .stat = on_stat, .seek = on_seek,
    .readdir = on_readdir, .fsync = on_fsync, .ioctl = on_ioctl, .notify = on_notify,
    .signals = on_signals,
};

#define MSG_MAX (sizeof(struct k_proto_hdr) + 64 + 512)

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
        proto_finish(m->rcvid, do_write(&q, at, len), &rep, sizeof(rep));
        return SRV_REPLIED;
    }
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    file_dispatch(&table, m->rcvid, m->data, m->len);
    return SRV_REPLIED;
}

/* Takes the waiter with RCVID off queue Q; true if it was there. */
static bool interrupt(struct waiter **q, uint64_t rcvid, bool write)
{
    for (; *q; q = &(*q)->next)
        if ((uint64_t)(*q)->rcvid == rcvid) {
            struct waiter *w = *q;
            *q = w->next;
            if (write)
                end_write(w, -E_INTERRUPTED);
            else {
                k_msg_error(w->rcvid, E_INTERRUPTED);
                free(w);
            }
            return true;
        }
    return false;
}

static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    if (info->type == K_MSG_UNBLOCK) {      /* a waiter was interrupted */
        for (unsigned i = 0; i < NPTY; i++) {
            struct pty *p = &ptys[i];
            if (!p->used)
                continue;
            bool first = p->sread && (uint64_t)p->sread->rcvid == info->value;
            if (interrupt(&p->sread, info->value, false) || interrupt(&p->mread, info->value, false) ||
                interrupt(&p->swrite, info->value, true) || interrupt(&p->mwrite, info->value, true)) {
                if (first && p->sread)
                    ldisc_reader_start(&p->ld, &p->sread->r, p->sread->r.cap);
                pump(p);
                return;
            }
        }
        return;
    }
    if (info->badge != s->self_badge)
        return;
    uint32_t n = (uint32_t)(info->code - TIMER_CODE);
    if (n < NPTY && ptys[n].used) {
        ptys[n].timer_expired = true;
        pump(&ptys[n]);
        ptys[n].timer_expired = false;
    }
}

static void drop_waiters(struct waiter **q, long err)
{
    while (*q) {
        struct waiter *w = pop(q);
        k_msg_error(w->rcvid, -err);
        free(w);
    }
}

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    struct ocb *o = data;
    struct pty *p = o->p;
    if (o->arm_conn > 0)
        k_handle_close(o->arm_conn);
    if (p) {
        pty_file_remove(p, o);
        if (o->kind == OCB_MASTER) {
            /* Its last handle is gone, so none of its calls is waiting;
             * any left are answered anyway. */
            drop_waiters(&p->mread, ERR(EIO));
            drop_waiters(&p->mwrite, ERR(EIO));
            hangup(p);
        } else if (--p->slaves == 0) {
            p->slave_closed = p->slave_opened;
            p->slave_opened = false;
            drop_waiters(&p->sread, ERR(EIO));
            drop_waiters(&p->swrite, ERR(EIO));
            pump(p);
        }
        if (p->hung && p->slaves == 0)
            pty_free(p);
    }
    free(o);
}

static const struct srv_ops ops = { .message = on_message, .pulse = on_pulse,
                                    .disconnect = on_disconnect };

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    return srv_main(&server, "pty", &ops, ptys);
}
