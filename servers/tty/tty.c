/*
 * tty: the terminal server.  It owns the console's line discipline
 * (ldisc.c: canonical editing, echo, ICRNL/ONLCR, ISIG, VMIN/VTIME) and
 * serves the terminal as a file (protocols/file.proto) at /dev/console
 * and /dev/tty: read, write, ioctl (termios, window size, process group,
 * session), notify (poll).  The bytes come from and go to the UART
 * driver, found through the name space at /dev/uart, so that when the
 * driver is restarted the terminal reconnects and goes on: only the
 * bytes in flight in the driver are lost.
 *
 * Two threads: the server loop (clients' messages) and a reader that
 * waits in the driver's read and feeds the line discipline.  Both take
 * the terminal's lock; a read that must wait is parked and answered by
 * whichever thread makes it ready.
 *
 * Signals (^C, ^Z, ^\ with ISIG; SIGWINCH) are for the foreground process
 * group: every process that registered (file.proto's signals: the Linux
 * personality does when it opens a terminal) gets a pulse naming the
 * signal and the group, and those in the group act on it (one
 * registration per process).  A read that
 * waits when its reader is interrupted (K_MSG_UNBLOCK) is answered
 * E_INTERRUPTED, its bytes left for the next read.
 *
 * Start-up handles: "chan" (from init), "procmgr" (to find /dev/uart).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "ldisc.h"
#include "protocols/file.h"
#include "protocols/uart.h"
#include "rt/lock.h"
#include "rt/malloc.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"
#include "srv/filesrv.h"
#include "srv/srv.h"

#define ERR(e) FILE_ERR(e)
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EINVAL 22
#define ENOTTY 25
#define EPERM 1
#define EIO 5
#define S_IFCHR 0020000

#define TIMER_CODE 0x54494d45          /* our VTIME timer */
#define MAX_SIGNALLED 128              /* registered processes */
#define MAX_WAITING 8                  /* parked reads */

struct ocb {
    uint32_t flags;
    /* poll arm */
    long arm_conn;
    int32_t arm_code;
    uint64_t arm_value;
    uint32_t arm_events;
};

struct waiting {
    long rcvid;                        /* 0: free */
    struct ldisc_reader r;
    size_t rep_len;
};

static struct {
    volatile int lock;
    struct ldisc ld;
    struct waiting wait[MAX_WAITING];  /* [0] is served first */
    uint64_t pgrp, sid;
    uint32_t said_signals;
    long timer;                        /* for VTIME */
    struct ocb *ocbs[SRV_MAX_CLIENTS]; /* for poll arms */
    uint64_t rx_bytes, tx_bytes, reconnects;
    struct { long conn; int32_t code; uint64_t pid; } sigs[MAX_SIGNALLED];
} tty = { .pgrp = 0 };

static struct srv server;
static struct srv_msg *cur;
static struct rt_service out_dev = { .path = "/dev/uart", .wait_ms = 5000 };
static struct rt_service in_dev = { .path = "/dev/uart", .wait_ms = 5000 };
static volatile int out_lock;

/* ---- the device ---- */

struct wr {
    const uint8_t *p;
    size_t n;
};

static long write_op(long conn, void *arg)
{
    struct wr *w = arg;
    struct uart_write_req q = { 0 };
    struct uart_write_rep rep;
    return uart_write(conn, &q, w->p, w->n, &rep);
}

/* Sends bytes to the UART in order, waiting while its ring is full.  A
 * restart of the driver loses at most the write in flight. */
static void device_write(const uint8_t *p, size_t n)
{
    rt_lock(&out_lock);
    while (n) {
        struct wr w = { p, n > UART_WRITE_MAX ? UART_WRITE_MAX : n };
        long r = rt_service_call(&out_dev, false, write_op, &w);
        if (r < 0 && r != -E_DEAD) {
            k_thread_sleep(100 * 1000000L);  /* no driver yet: try again */
            continue;
        }
        tty.tx_bytes += w.n;
        p += w.n, n -= w.n;
    }
    rt_unlock(&out_lock);
}

/* Output-processes SRC through the discipline and sends it (echoes first). */
static size_t output(const uint8_t *src, size_t n)
{
    static uint8_t buf[2048];
    size_t done = 0;
    for (;;) {
        rt_lock(&tty.lock);
        size_t used = 0;
        size_t got = ldisc_output(&tty.ld, src + done, n - done, buf, sizeof(buf), &used);
        bool stopped = ldisc_stopped(&tty.ld);
        rt_unlock(&tty.lock);
        if (got)
            device_write(buf, got);
        done += used;
        if (done == n && !got)
            break;
        if (!got && !used) {
            if (!stopped)
                break;
            k_thread_sleep(20 * 1000000L);   /* ^S: wait for ^Q */
        }
    }
    return done;
}

static void drain_echoes(void)
{
    uint8_t buf[512];
    for (;;) {
        rt_lock(&tty.lock);
        size_t n = ldisc_echo_drain(&tty.ld, buf, sizeof(buf));
        rt_unlock(&tty.lock);
        if (!n)
            return;
        device_write(buf, n);
    }
}

/* ---- parked reads (lock held) ---- */

static void arm_timer(uint32_t tenths)
{
    if (tty.timer <= 0) {                /* made on first use: srv_main has set our badge */
        long self = k_chan_connect(server.chan, (long)server.self_badge, 0);
        tty.timer = self > 0 ? k_timer_create(self, TIMER_CODE, 0) : -1;
    }
    if (tty.timer > 0)
        k_timer_set(tty.timer, (long)tenths * 100000000L, 0);
}

/* Answers the first parked read if it is ready, and so on. */
static void serve_waiting(bool expired)
{
    while (tty.wait[0].rcvid) {
        struct waiting *w = &tty.wait[0];
        uint32_t tenths = 0;
        enum ldisc_verdict v = ldisc_readable(&tty.ld, &w->r, expired, &tenths);
        expired = false;
        if (v == LDISC_ARM)
            arm_timer(tenths);
        if (v != LDISC_READY)
            return;
        static uint8_t data[4096];
        size_t cap = w->r.cap < sizeof(data) ? w->r.cap : sizeof(data);
        long n = ldisc_read(&tty.ld, data, cap);
        if (n == LDISC_EAGAIN)
            return;
        uint64_t rep = 0;
        struct k_iov iov[2] = { { &rep, w->rep_len }, { data, n > 0 ? (size_t)n : 0 } };
        k_msg_reply(w->rcvid, n < 0 ? 0 : n, (long)iov, n > 0 ? 2 : 1);
        memmove(&tty.wait[0], &tty.wait[1], sizeof(tty.wait[0]) * (MAX_WAITING - 1));
        tty.wait[MAX_WAITING - 1].rcvid = 0;
        if (tty.wait[0].rcvid)
            ldisc_reader_start(&tty.ld, &tty.wait[0].r, tty.wait[0].r.cap);
    }
}

/* Pulses every poll arm waiting for input. */
static void notify_input(void)
{
    if (!ldisc_poll_in(&tty.ld))
        return;
    for (unsigned i = 0; i < SRV_MAX_CLIENTS; i++) {
        struct ocb *o = tty.ocbs[i];
        if (o && o->arm_conn > 0 && (o->arm_events & 1)) {
            k_pulse_send(o->arm_conn, o->arm_code, (long)o->arm_value, 0);
            k_handle_close(o->arm_conn);
            o->arm_conn = 0;
        }
    }
}

/* Each signal in SIGNALS, for the foreground group, to every registered
 * process; a registration whose process is gone is dropped. */
static void signal_group(uint32_t signals)
{
    rt_lock(&tty.lock);
    uint64_t grp = tty.pgrp;
    for (int s = 1; s < 32; s++) {
        if (!(signals & (1u << s)))
            continue;
        for (unsigned i = 0; i < MAX_SIGNALLED; i++) {
            if (tty.sigs[i].conn <= 0)
                continue;
            long r = k_pulse_send(tty.sigs[i].conn, tty.sigs[i].code, (long)((uint64_t)s | grp << 8), 0);
            if (r == -E_DEAD || r == -E_REVOKED || r == -E_BADHANDLE) {
                k_handle_close(tty.sigs[i].conn);
                tty.sigs[i].conn = 0;
            }
        }
    }
    rt_unlock(&tty.lock);
}

/* ---- the reader thread ---- */

struct rd {
    uint8_t *buf;
    size_t len;
};

static long read_op(long conn, void *arg)
{
    struct rd *r = arg;
    struct uart_read_req q = { .max = UART_READ_MAX, .flags = 0 };
    static struct uart_read_rep rep;
    long st = uart_read(conn, &q, &rep);
    if (st < 0)
        return st;
    r->len = rep.len <= sizeof(rep.data) ? rep.len : 0;
    memcpy(r->buf, rep.data, r->len);
    return 0;
}

static long reader_main(void *arg)
{
    (void)arg;
    static uint8_t buf[UART_READ_MAX];
    for (;;) {
        struct rd r = { buf, 0 };
        long st = rt_service_call(&in_dev, true, read_op, &r);
        if (st < 0) {
            k_thread_sleep(100 * 1000000L);
            continue;
        }
        struct ldisc_events ev = { 0 };
        rt_lock(&tty.lock);
        tty.rx_bytes += r.len;
        ldisc_input(&tty.ld, buf, r.len, &ev);
        if (ev.flags & LDISC_EV_INPUT) {
            serve_waiting(false);
            notify_input();
        }
        rt_unlock(&tty.lock);
        if (ev.signals)
            signal_group(ev.signals);
        if (ev.flags & (LDISC_EV_ECHO | LDISC_EV_START))
            drain_echoes();
    }
    return 0;
}

/* ---- messages ---- */

static struct ocb *ocb_of(void)
{
    return cur->client;
}

static long on_open(void *ctx, long rcvid, const struct file_open_req *req, const void *payload,
                    size_t len, struct file_open_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)out, (void)payload;
    if (len)
        return ERR(2);                  /* ENOENT: the terminal has nothing under it */
    struct ocb *o = calloc(1, sizeof(*o));
    if (!o)
        return ERR(ENOMEM);
    o->flags = req->flags;
    long c = srv_client_new(&server, o);
    if (c < 0) {
        free(o);
        return ERR(ENOMEM);
    }
    for (unsigned i = 0; i < SRV_MAX_CLIENTS; i++)
        if (!tty.ocbs[i]) {
            tty.ocbs[i] = o;
            break;
        }
    k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    rep->mode = S_IFCHR | 0620;
    rep->oflags = 2;                    /* a terminal */
    rep->ino = 1;
    return 0;
}

static long on_read(void *ctx, long rcvid, const struct file_read_req *req,
                    struct file_read_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rep;
    if (!ocb_of())
        return ERR(EBADF);
    if (req->len == 0)
        return 0;
    rt_lock(&tty.lock);
    int slot = -1;
    for (int i = 0; i < MAX_WAITING && slot < 0; i++)
        if (!tty.wait[i].rcvid)
            slot = i;
    if (slot == 0) {
        /* No one ahead of us: maybe it can be answered now. */
        struct ldisc_reader r;
        ldisc_reader_start(&tty.ld, &r, req->len);
        uint32_t tenths = 0;
        enum ldisc_verdict v = ldisc_readable(&tty.ld, &r, false, &tenths);
        if (v == LDISC_READY || (req->flags & 1)) {
            static uint8_t data[4096];
            size_t cap = req->len < sizeof(data) ? req->len : sizeof(data);
            long n = v == LDISC_READY ? ldisc_read(&tty.ld, data, cap) : LDISC_EAGAIN;
            rt_unlock(&tty.lock);
            if (n == LDISC_EAGAIN)
                return ERR(EAGAIN);
            out->data = data;
            out->len = (size_t)n;
            return n;
        }
        tty.wait[0] = (struct waiting){ rcvid, r, out->rep_len };
        if (v == LDISC_ARM)
            arm_timer(tenths);
        rt_unlock(&tty.lock);
        return PROTO_NO_REPLY;
    }
    if (slot < 0 || (req->flags & 1)) {
        rt_unlock(&tty.lock);
        return ERR(EAGAIN);
    }
    tty.wait[slot] = (struct waiting){ rcvid, { .cap = req->len }, out->rep_len };
    rt_unlock(&tty.lock);
    return PROTO_NO_REPLY;
}

static long on_write(void *ctx, long rcvid, const struct file_write_req *req, const void *payload,
                     size_t len, struct file_write_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    if (!ocb_of())
        return ERR(EBADF);
    return (long)output(payload, len);
}

static long on_stat(void *ctx, long rcvid, const struct file_stat_req *req, const void *payload,
                    size_t len, struct file_stat_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)payload;
    if (len)
        return ERR(2);
    *rep = (struct file_stat_rep){ .dev = 3, .ino = 1, .mode = S_IFCHR | 0620, .nlink = 1,
                                   .rdev = (5u << 8) | 1, .blksize = 1024 };
    return 0;
}

static long on_seek(void *ctx, long rcvid, const struct file_seek_req *req,
                    struct file_seek_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    return ERR(29);                     /* ESPIPE */
}

static long on_fsync(void *ctx, long rcvid, const struct file_fsync_req *req,
                     struct file_fsync_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    return ERR(EINVAL);
}

static long on_ioctl(void *ctx, long rcvid, const struct file_ioctl_req *req, const void *payload,
                     size_t len, struct file_ioctl_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid;
    if (!ocb_of())
        return ERR(EBADF);
    static union {
        struct ldisc_termios t;
        struct ldisc_winsize w;
        int32_t i;
    } o;
    struct ldisc_events ev = { 0 };
    long r = 0;
    rt_lock(&tty.lock);
    switch (req->cmd) {
    case 0x5401:                        /* TCGETS */
        ldisc_get_termios(&tty.ld, &o.t);
        out->data = &o.t;
        out->len = sizeof(o.t);
        break;
    case 0x5402: case 0x5403: case 0x5404: {     /* TCSETS, TCSETSW, TCSETSF */
        struct ldisc_termios t;
        if (len != sizeof(t)) {
            r = ERR(EINVAL);
            break;
        }
        memcpy(&t, payload, sizeof(t));
        int how = req->cmd == 0x5402 ? LDISC_TCSANOW : req->cmd == 0x5403 ? LDISC_TCSADRAIN
                                                                           : LDISC_TCSAFLUSH;
        r = ldisc_set_termios(&tty.ld, &t, how, &ev) < 0 ? ERR(EINVAL) : 0;
        serve_waiting(false);
        break;
    }
    case 0x5413:                        /* TIOCGWINSZ */
        ldisc_get_winsize(&tty.ld, &o.w);
        out->data = &o.w;
        out->len = sizeof(o.w);
        break;
    case 0x5414: {                      /* TIOCSWINSZ */
        struct ldisc_winsize w;
        if (len != sizeof(w)) {
            r = ERR(EINVAL);
            break;
        }
        memcpy(&w, payload, sizeof(w));
        if (ldisc_set_winsize(&tty.ld, &w))
            ev.signals |= 1u << 28;     /* SIGWINCH */
        break;
    }
    case 0x540F:                        /* TIOCGPGRP */
    case 0x5429:                        /* TIOCGSID */
        o.i = (int32_t)(req->cmd == 0x540F ? tty.pgrp : tty.sid);
        rep->value = (uint64_t)o.i;
        out->data = &o.i;
        out->len = sizeof(o.i);
        break;
    case 0x5410:                        /* TIOCSPGRP */
        if (len != 4) {
            r = ERR(EINVAL);
            break;
        }
        memcpy(&o.i, payload, 4);
        if (o.i <= 0)
            r = ERR(EINVAL);
        else
            tty.pgrp = (uint64_t)o.i;
        break;
    case 0x540E:                        /* TIOCSCTTY: the caller's session takes it */
        tty.sid = tty.pgrp = cur->info.pid;     /* a session leader: its pid is its group */
        break;
    case 0x5422:                        /* TIOCNOTTY */
        break;
    case 0x541B:                        /* FIONREAD */
        o.i = (int32_t)ldisc_inq(&tty.ld);
        rep->value = (uint64_t)o.i;
        out->data = &o.i;
        out->len = sizeof(o.i);
        break;
    case 0x540B:                        /* TCFLSH */
        r = ldisc_flush(&tty.ld, (int)req->arg) < 0 ? ERR(EINVAL) : 0;
        break;
    case 0x540A: {                      /* TCXONC */
        int x = -1;
        r = ldisc_tcxonc(&tty.ld, (int)req->arg, &x, &ev) < 0 ? ERR(EINVAL) : 0;
        break;
    }
    case 0x5409:                        /* TCSBRK: output is drained as it is written */
        break;
    default:
        r = ERR(ENOTTY);
    }
    rt_unlock(&tty.lock);
    if (ev.signals)
        signal_group(ev.signals);
    return r;
}

static long on_notify(void *ctx, long rcvid, const struct file_notify_req *req,
                      struct file_notify_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    rt_lock(&tty.lock);
    uint32_t now = (ldisc_poll_in(&tty.ld) ? 1u : 0) | 4u;     /* POLLIN, POLLOUT */
    rep->revents = now & (req->events | 0x18);
    if ((req->flags & 1) && !rep->revents && cur->info.handle) {
        if (o->arm_conn > 0)
            k_handle_close(o->arm_conn);
        o->arm_conn = cur->info.handle;
        cur->info.handle = 0;           /* kept */
        o->arm_code = req->code;
        o->arm_value = req->value;
        o->arm_events = req->events;
    }
    rt_unlock(&tty.lock);
    return 0;
}

/* One registration per process: a new one from the same process (the
 * personality registers at each open of a terminal) replaces the old,
 * whose connection may be of a past life of that pid. */
static long on_signals(void *ctx, long rcvid, const struct file_signals_req *req,
                       struct file_signals_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    if (!ocb_of())
        return ERR(EBADF);
    if (!cur->info.handle || req->flags)
        return ERR(EINVAL);
    rt_lock(&tty.lock);
    int slot = -1;
    for (int i = 0; i < MAX_SIGNALLED; i++) {
        if (tty.sigs[i].conn > 0 && tty.sigs[i].pid == cur->info.pid) {
            k_handle_close(tty.sigs[i].conn);
            slot = i;
            break;
        }
        if (tty.sigs[i].conn <= 0 && slot < 0)
            slot = i;
    }
    if (slot >= 0) {
        tty.sigs[slot].conn = cur->info.handle;
        tty.sigs[slot].code = req->code;
        tty.sigs[slot].pid = cur->info.pid;
        cur->info.handle = 0;           /* kept */
    }
    rt_unlock(&tty.lock);
    return slot >= 0 ? 0 : ERR(ENOMEM);
}

static const struct file_server table = {
    .signals = on_signals,
    .open = on_open, .read = on_read, .write = on_write, .stat = on_stat, .seek = on_seek,
    .fsync = on_fsync, .ioctl = on_ioctl, .notify = on_notify,
};

#define MSG_MAX (sizeof(struct k_proto_hdr) + 64 + 8192)

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];
    cur = m;
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    file_dispatch(&table, m->rcvid, m->data, m->len);
    return SRV_REPLIED;
}

static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    if (info->type == K_MSG_UNBLOCK) {      /* a waiting reader was interrupted */
        rt_lock(&tty.lock);
        for (int i = 0; i < MAX_WAITING; i++)
            if (tty.wait[i].rcvid && (uint64_t)tty.wait[i].rcvid == info->value) {
                k_msg_error(tty.wait[i].rcvid, E_INTERRUPTED);
                memmove(&tty.wait[i], &tty.wait[i + 1], sizeof(tty.wait[0]) * (size_t)(MAX_WAITING - 1 - i));
                tty.wait[MAX_WAITING - 1].rcvid = 0;
                if (i == 0 && tty.wait[0].rcvid)
                    ldisc_reader_start(&tty.ld, &tty.wait[0].r, tty.wait[0].r.cap);
                break;
            }
        rt_unlock(&tty.lock);
        return;
    }
    if (info->badge != s->self_badge || info->code != TIMER_CODE)
        return;
    rt_lock(&tty.lock);
    serve_waiting(true);
    rt_unlock(&tty.lock);
}

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    struct ocb *o = data;
    rt_lock(&tty.lock);
    for (unsigned i = 0; i < SRV_MAX_CLIENTS; i++)
        if (tty.ocbs[i] == o)
            tty.ocbs[i] = NULL;
    rt_unlock(&tty.lock);
    if (o->arm_conn > 0)
        k_handle_close(o->arm_conn);
    free(o);
}

static const struct srv_ops ops = { .message = on_message, .pulse = on_pulse,
                                    .disconnect = on_disconnect };

static struct rt_thread reader;
static char reader_stack[16384] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    ldisc_init(&tty.ld);
    tty.ld.ws = (struct ldisc_winsize){ .ws_row = 24, .ws_col = 80 };
    if (rt_thread_spawn(&reader, reader_main, 0, reader_stack, sizeof(reader_stack), 0) < 0) {
        printf("tty: cannot start the reader thread\n");
        return 1;
    }
    return srv_main(&server, "tty", &ops, &tty);
}
