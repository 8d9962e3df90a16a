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
#include "srv/filesrv.h"
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

#define PIPE_SIZE 65536
#define PIPE_BUF 4096
#define MAX_PIPES 512
#define POS_CURRENT (~0ULL)

struct waiter {
    struct waiter *next;
    long rcvid;
    size_t rep_len;
    uint64_t len;                   /* read: the most wanted; write: bytes left */
    uint64_t at;                    /* write: bytes of its payload already in */
    uint64_t payload_at;            /* write: where its payload starts in the message */
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
    uint32_t head, len;             /* ring */
    uint8_t *buf;
    struct waiter *rq, *wq;         /* parked reads and writes, oldest first */
    long arm_conn[2];               /* poll arms: [0] for input, [1] for output */
    int32_t arm_code[2];
    uint64_t arm_value[2];
    uint64_t serial;                /* its number is index + MAX_PIPES * serial */
};

#define END_READ 1
#define END_WRITE 2
#define END_FIFO 4                  /* a FIFO's connection: no data, opens */

struct end {
    struct pipe *p;
    uint8_t kind;                   /* END_READ, END_WRITE or both (a FIFO's O_RDWR), END_FIFO */
};

static struct pipe pipes[MAX_PIPES];
static struct srv server;
static struct srv_msg *cur;

static uint64_t number(const struct pipe *p)
{
    return (uint64_t)(p - pipes) + MAX_PIPES * p->serial;
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
 * and the bytes would be lost.)  Returns the bytes taken. */
static uint32_t deliver(struct pipe *p, long rcvid, size_t rep_len, uint64_t want)
{
    uint32_t n = want < p->len ? (uint32_t)want : p->len;
    uint32_t first = n < PIPE_SIZE - p->head ? n : PIPE_SIZE - p->head;
    if ((first && k_msg_write(rcvid, (long)rep_len, (long)(p->buf + p->head), first) != first) ||
        (n > first && k_msg_write(rcvid, (long)(rep_len + first), (long)p->buf, n - first) !=
                          (long)(n - first))) {
        k_msg_error(rcvid, E_FAULT);
        return 0;
    }
    p->head = (p->head + n) % PIPE_SIZE;
    p->len -= n;
    uint64_t rep = 0;
    struct k_iov iov = { &rep, rep_len };
    k_msg_reply(rcvid, n, (long)&iov, 1);
    return n;
}

/* Moves bytes of parked writers into the ring, answering those done;
 * then answers parked readers; repeats while something moved. */
static void pump(struct pipe *p)
{
    bool moved = true;
    while (moved) {
        moved = false;
        while (p->wq && p->len < PIPE_SIZE) {
            struct waiter *w = p->wq;
            /* A write of up to PIPE_BUF goes in whole or waits. */
            if (w->len <= PIPE_BUF && PIPE_SIZE - p->len < w->len)
                break;
            uint32_t room = PIPE_SIZE - p->len;
            uint32_t n = w->len < room ? (uint32_t)w->len : room;
            uint8_t tmp[4096];
            uint32_t done = 0;
            bool bad = false;
            while (done < n) {
                uint32_t k = n - done < sizeof(tmp) ? n - done : (uint32_t)sizeof(tmp);
                long got = k_msg_read(w->rcvid, (long)(w->payload_at + w->at + done), (long)tmp, k);
                if (got != (long)k) {
                    n = done;       /* the writer went away or its buffer is bad: stop here */
                    bad = true;
                    break;
                }
                for (uint32_t i = 0; i < k; i++)
                    p->buf[(p->head + p->len + i) % PIPE_SIZE] = tmp[i];
                p->len += k;
                done += k;
            }
            w->at += n;
            w->len = bad ? 0 : w->len - n;
            moved |= n > 0;
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
        while (p->rq && (p->len || !p->writers)) {
            struct waiter *r = p->rq;
            uint32_t n = deliver(p, r->rcvid, r->rep_len, r->len);
            p->rq = r->next;
            free(r);
            moved |= n > 0;
        }
    }
    if (p->len || !p->writers)
        arm_fire(p, 0);
    if (p->len < PIPE_SIZE || !p->readers)
        arm_fire(p, 1);
}

static void maybe_free(struct pipe *p)
{
    if (p->readers || p->writers || !p->used)
        return;
    if (p->fifo) {                  /* no end open: what it held is gone, as on Linux */
        free(p->buf);
        p->buf = NULL;
        p->head = p->len = 0;
        p->write_given = false;
        if (p->refs || p->oq)
            return;
    }
    for (int i = 0; i < 2; i++)
        if (p->arm_conn[i] > 0)
            k_handle_close(p->arm_conn[i]);
    free(p->buf);
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
    if (!p->buf && !(p->buf = malloc(PIPE_SIZE)))
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
            p->buf = fifo ? NULL : malloc(PIPE_SIZE);       /* a FIFO's: at its first open */
            if (!fifo && !p->buf)
                return ERR(ENOMEM);
            p->used = true;
            p->fifo = fifo;
            long r = new_end(p, fifo ? END_FIFO : END_READ, false, rep);
            if (r < 0) {
                free(p->buf);
                p->buf = NULL;
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
    return cur->client;
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
    if (p->len && !p->rq) {
        deliver(p, rcvid, out->rep_len, req->len);
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
    if (!p->readers)
        return ERR(EPIPE);
    if (len == 0)
        return 0;
    uint32_t room = PIPE_SIZE - p->len;
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
                          .payload_at = payload_at };
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
                                   .nlink = 1, .size = e->p->len, .blksize = PIPE_BUF };
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
        n = (int32_t)e->p->len;
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
    if (e->kind & END_READ) {
        now |= p->len ? 1u : 0;
        now |= p->writers ? 0 : (p->write_given ? 16u : 0);       /* POLLHUP */
    }
    if (e->kind & END_WRITE) {
        now |= p->len < PIPE_SIZE && p->readers ? 4u : 0;
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
    }
    return 0;
}

static const struct file_server table = {
    .open = on_open, .read = on_read, .write = on_write, .stat = on_stat, .seek = on_seek,
    .ioctl = on_ioctl, .notify = on_notify,
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
    if (kind & END_READ) {
        p->readers--;
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

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    struct end *e = data;
    struct pipe *p = e->p;
    uint8_t kind = e->kind;
    free(e);
    end_gone(p, kind);
}

/* A waiting reader or writer was interrupted (a signal): its call ends
 * now, a writer's with what it has written. */
static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    (void)s;
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
