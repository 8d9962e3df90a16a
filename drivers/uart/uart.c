/*
 * uart: the 16550 UART driver for COM1 (protocols/uart.proto), served on
 * /dev/uart.  One thread on lib/srv (srv_main): client messages and the
 * interrupt, a pulse on the driver's own channel, are handled one at a
 * time, so nothing here takes a lock.
 *
 * Received bytes go from the UART's FIFO into rx (a ring; bytes that find
 * it full are counted and lost).  A read takes what rx holds or, when it
 * is empty and the client may wait, is kept (its rcvid) in readers[] and
 * answered from the interrupt path.  A write is copied into tx when it
 * fits and answered at once; otherwise it waits in writers[], and the
 * rest of its payload is read from the waiting client (msg_read) as the
 * transmitter makes room, oldest writer first, so bytes leave in the order
 * they were written.  The transmitter is fed 16 bytes (its FIFO) whenever
 * THR is empty; the THRE interrupt is enabled only while tx holds bytes.
 * In loopback the driver is both ends of the line and, unless the mode is
 * LOOPBACK_RAW, paces the transmitter by rx (as RTS/CTS would between two
 * UARTs): it sends only while rx has room for what it sends, so a writer
 * waits for the reader instead of losing bytes.  (QEMU's 16550 transmits
 * at once, without the line's delay: unpaced, a 4 KiB write would fill rx
 * before any reader had a chance.)
 *
 * State is the two rings, the waiting clients and counters: a crash loses
 * what the rings held and fails the waiting clients with E_DEAD; the next
 * life reprograms the UART (loopback off) and keeps what the hardware
 * FIFO received meanwhile.  No per-client state: any badge is served.
 *
 * The interrupt: the kernel masks the line and sends one pulse per edge;
 * uart_poll services the UART until IIR reports nothing pending (so the
 * line goes low and the next event makes a new edge), then irq_ack
 * unmasks it.  An event between the last IIR read and the ack raised the
 * line while it was masked, an edge the IOAPIC does not keep: so after
 * the ack IIR is read again and a pending event is serviced without
 * waiting for a pulse.  The kernel writes its own messages on COM1
 * (polled, at any time): its bytes may raise THRE interrupts we did not
 * ask for (found empty-handed, harmless) and, in loopback, come back as
 * received bytes (as any byte written in loopback does).
 *
 * Start-up handles: "chan" (serve), "ioport" (must cover 0x3f8-0x3ff; only
 * those eight ports are enabled), "irq" (IRQ 4), "log" and "heartbeat"
 * optional.
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "protocols/uart.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/srv.h"

#define COM1       0x3f8
#define COM1_PORTS 8
#define COM1_IRQ   4

enum {                          /* registers, offsets from COM1 */
    REG_DATA = 0,               /* RBR (read), THR (write); DLL with DLAB */
    REG_IER = 1,                /* DLM with DLAB */
    REG_IIR = 2,                /* read; FCR on write */
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_SCR = 7,
};
#define IER_RDA    0x01         /* received data available (and FIFO timeout) */
#define IER_THRE   0x02         /* transmit holding register empty */
#define IER_RLS    0x04         /* receiver line status */
#define IIR_NONE   0x01         /* no interrupt pending */
#define FCR_ENABLE 0x01
#define FCR_RX_8   0x80         /* receive interrupt at 8 bytes (or timeout) */
#define LCR_8N1    0x03
#define LCR_DLAB   0x80
#define MCR_DTR    0x01
#define MCR_RTS    0x02
#define MCR_OUT2   0x08         /* gates the interrupt line on PCs */
#define MCR_LOOP   0x10
#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_ERRORS 0x1c         /* parity, framing, break */
#define LSR_THRE   0x20
#define TX_FIFO    16

#define RING_SIZE  4096u        /* each ring; a power of two */
#define POLL_MAX   4096         /* rounds of uart_poll: a device stuck asserting does not hang us */
#define MSG_MAX    (sizeof(struct k_proto_hdr) + sizeof(struct uart_write_req) + UART_WRITE_MAX)

_Static_assert((RING_SIZE & (RING_SIZE - 1)) == 0, "ring size a power of two");
_Static_assert(sizeof(((struct uart_read_rep *)0)->data) == UART_READ_MAX, "read reply holds READ_MAX");

struct ring {
    uint8_t buf[RING_SIZE];
    uint32_t head, tail;        /* free-running: used = head - tail */
};

struct reader {
    long rcvid;
    uint32_t max;
    size_t rep_len;             /* the reply size of the client's version */
};

struct writer {
    long rcvid;
    size_t offset, end;         /* the payload still to take, in the client's message */
    uint32_t total;
    size_t rep_len;
};

static struct {
    struct ring rx, tx;
    struct reader readers[UART_READERS_MAX];
    struct writer writers[UART_WRITERS_MAX];
    unsigned nreaders, nwriters;
    uint8_t ier, mcr;
    uint32_t loop;              /* UART_LOOPBACK_OFF, _PACED or _RAW */
    long irq;                   /* the interrupt handle */
    uint64_t irq_badge;         /* of the connection its pulses come through */
    struct uart_stats_rep count;   /* the counters (the u32 fields filled by stats) */
} u;

/* The message being dispatched: where its payload is for a writer that
 * waits, and its version for replies sent later. */
static struct {
    const void *base;
    uint16_t version;
} cur;

static struct srv server;

static inline void out8(unsigned reg, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"((uint16_t)(COM1 + reg)));
}

static inline uint8_t in8(unsigned reg)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"((uint16_t)(COM1 + reg)));
    return v;
}

/* ---- rings ---- */

static uint32_t ring_used(const struct ring *r)
{
    return r->head - r->tail;
}

static uint32_t ring_room(const struct ring *r)
{
    return RING_SIZE - ring_used(r);
}

static void ring_put(struct ring *r, const void *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        r->buf[(r->head + i) & (RING_SIZE - 1)] = ((const uint8_t *)src)[i];
    r->head += n;
}

static void ring_peek(const struct ring *r, void *dst, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        ((uint8_t *)dst)[i] = r->buf[(r->tail + i) & (RING_SIZE - 1)];
}

/* ---- the UART ---- */

static void rx_drain(void)
{
    for (unsigned i = 0; i < RING_SIZE; i++) {
        uint8_t lsr = in8(REG_LSR);             /* reading it clears the error bits */
        u.count.overruns += !!(lsr & LSR_OE);
        u.count.line_errors += !!(lsr & LSR_ERRORS);
        if (!(lsr & LSR_DR))
            return;
        uint8_t b = in8(REG_DATA);
        u.count.rx_bytes++;
        if (ring_room(&u.rx))
            ring_put(&u.rx, &b, 1);
        else
            u.count.rx_drops++;
    }
}

static void tx_fill(void)
{
    if (u.loop == UART_LOOPBACK_PACED && ring_room(&u.rx) < 2 * TX_FIFO)
        return;                                  /* room for these and a FIFO of strays */
    if (!ring_used(&u.tx) || !(in8(REG_LSR) & LSR_THRE))
        return;
    for (unsigned i = 0; i < TX_FIFO && ring_used(&u.tx); i++) {
        out8(REG_DATA, u.tx.buf[u.tx.tail & (RING_SIZE - 1)]);
        u.tx.tail++;
        u.count.tx_bytes++;
    }
}

static void ier_update(void)
{
    uint8_t want = IER_RDA | IER_RLS | (ring_used(&u.tx) ? IER_THRE : 0);
    if (want != u.ier)
        out8(REG_IER, u.ier = want);
}

/* ---- waiting clients ---- */

static size_t rep_len(unsigned msg)
{
    return uart_protocol()->msgs[msg].rep_size[cur.version];
}

/* Answers the oldest waiting readers while rx has bytes.  Bytes leave the
 * ring only when the reply reached the client (one that died keeps none). */
static void serve_readers(void)
{
    while (u.nreaders && ring_used(&u.rx)) {
        struct reader *r = &u.readers[0];
        struct uart_read_rep rep;
        memset(&rep, 0, sizeof(rep));
        uint32_t used = ring_used(&u.rx);
        rep.len = r->max < used ? r->max : used;
        ring_peek(&u.rx, rep.data, rep.len);
        if (proto_reply(r->rcvid, 0, &rep, r->rep_len) >= 0)
            u.rx.tail += rep.len;
        memmove(&u.readers[0], &u.readers[1], --u.nreaders * sizeof(u.readers[0]));
    }
}

/* Takes N bytes of W's payload from the waiting client into tx. */
static long writer_take(struct writer *w, uint32_t n)
{
    while (n) {
        uint32_t at = u.tx.head & (RING_SIZE - 1);
        uint32_t span = RING_SIZE - at < n ? RING_SIZE - at : n;
        long r = k_msg_read(w->rcvid, (long)w->offset, (long)&u.tx.buf[at], span);
        if (r != (long)span)
            return r < 0 ? r : -E_DEAD;
        u.tx.head += span;
        w->offset += span;
        n -= span;
    }
    return 0;
}

/* Moves what fits of the waiting writes into tx, oldest first; answers
 * those that are in whole. */
static void serve_writers(void)
{
    while (u.nwriters) {
        struct writer *w = &u.writers[0];
        size_t left = w->end - w->offset;
        uint32_t n = ring_room(&u.tx) < left ? ring_room(&u.tx) : (uint32_t)left;
        if (writer_take(w, n) < 0) {
            k_msg_error(w->rcvid, E_DEAD);       /* the client is gone, most likely */
        } else if (w->offset == w->end) {
            struct uart_write_rep rep = { .bytes = w->total };
            proto_reply(w->rcvid, 0, &rep, w->rep_len);
        } else {
            return;                              /* tx is full */
        }
        memmove(&u.writers[0], &u.writers[1], --u.nwriters * sizeof(u.writers[0]));
    }
}

/* Services the UART until it has nothing pending: receive, answer waiting
 * readers, refill tx from waiting writers, transmit. */
static void uart_poll(void)
{
    for (unsigned i = 0; i < POLL_MAX; i++) {
        rx_drain();
        serve_readers();
        serve_writers();
        tx_fill();
        ier_update();
        if (in8(REG_IIR) & IIR_NONE)             /* reading it clears a THRE interrupt */
            break;
    }
}

static void on_irq(void)
{
    u.count.interrupts++;
    for (int i = 0; i < 16; i++) {
        uart_poll();
        k_irq_ack(u.irq);
        if (in8(REG_IIR) & IIR_NONE)             /* else raised while masked: no edge will come */
            break;
    }
    uart_poll();                                 /* what that IIR read may have cleared */
}

static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    (void)s;
    if (info->badge != u.irq_badge || info->code != (int32_t)UART_IRQ_CODE) {
        u.count.ignored_pulses++;                /* a client's, or a past life's */
        return;
    }
    on_irq();
}

/* ---- messages ---- */

static long on_read(void *ctx, long rcvid, const struct uart_read_req *req,
                    struct uart_read_rep *rep)
{
    (void)ctx;
    if (req->max == 0 || (req->flags & ~UART_READ_NOWAIT))
        return -E_INVAL;
    uart_poll();
    if (!ring_used(&u.rx)) {
        if (req->flags & UART_READ_NOWAIT)
            return 0;                            /* len 0 */
        if (u.nreaders == UART_READERS_MAX)
            return -E_BUSY;
        u.readers[u.nreaders++] = (struct reader){
            rcvid, req->max < UART_READ_MAX ? req->max : UART_READ_MAX, rep_len(UART_MSG_READ) };
        return PROTO_NO_REPLY;
    }
    uint32_t used = ring_used(&u.rx), max = req->max < UART_READ_MAX ? req->max : UART_READ_MAX;
    rep->len = max < used ? max : used;
    ring_peek(&u.rx, rep->data, rep->len);
    if (proto_reply(rcvid, 0, rep, rep_len(UART_MSG_READ)) >= 0)
        u.rx.tail += rep->len;
    uart_poll();                                 /* a paced loopback may send again */
    return PROTO_NO_REPLY;
}

static long on_write(void *ctx, long rcvid, const struct uart_write_req *req, const void *payload,
                     size_t payload_len, struct uart_write_rep *rep)
{
    (void)ctx, (void)req;
    if (payload_len > UART_WRITE_MAX)
        return -E_TOOBIG;
    rep->bytes = (uint32_t)payload_len;
    if (u.nwriters == 0 && payload_len <= ring_room(&u.tx)) {
        ring_put(&u.tx, payload, (uint32_t)payload_len);
        uart_poll();
        return 0;
    }
    if (u.nwriters == UART_WRITERS_MAX)
        return -E_BUSY;
    size_t at = (size_t)((const char *)payload - (const char *)cur.base);
    u.writers[u.nwriters++] = (struct writer){ rcvid, at, at + payload_len, (uint32_t)payload_len,
                                               rep_len(UART_MSG_WRITE) };
    uart_poll();                                 /* takes what fits now */
    return PROTO_NO_REPLY;
}

static long on_stats(void *ctx, long rcvid, const struct uart_stats_req *req,
                     struct uart_stats_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    uart_poll();
    *rep = u.count;
    rep->rx_buffered = ring_used(&u.rx);
    rep->tx_buffered = ring_used(&u.tx);
    rep->rx_capacity = rep->tx_capacity = RING_SIZE;
    rep->readers = u.nreaders;
    rep->writers = u.nwriters;
    rep->loopback = u.loop;
    return 0;
}

static long on_loopback(void *ctx, long rcvid, const struct uart_loopback_req *req,
                        struct uart_loopback_rep *rep)
{
    (void)ctx, (void)rcvid;
    if (req->on > UART_LOOPBACK_RAW)
        return -E_INVAL;
    rep->previous = u.loop;
    u.loop = req->on;
    u.mcr = (uint8_t)((u.mcr & ~MCR_LOOP) | (u.loop != UART_LOOPBACK_OFF ? MCR_LOOP : 0));
    out8(REG_MCR, u.mcr);
    uart_poll();
    return 0;
}

static const struct uart_server table = { .read = on_read, .write = on_write, .stats = on_stats,
                                          .loopback = on_loopback };

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];    /* one thread: srv_main */
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    struct k_proto_hdr h = { 0 };
    memcpy(&h, m->data, m->len < sizeof(h) ? m->len : sizeof(h));
    cur.base = m->data;
    cur.version = h.version;                     /* read by handlers only: the dispatch checked it */
    uart_dispatch(&table, m->rcvid, m->data, m->len);
    return SRV_REPLIED;
}

static const struct srv_ops ops = { .message = on_message, .pulse = on_pulse };

/* ---- start-up ---- */

/* Enables exactly COM1's ports, from the "ioport" grant; 0 or -1. */
static int claim_ports(void)
{
    long all = rt_handle("ioport");
    if (all < 0) {
        printf("uart: no \"ioport\" handle (grant ioport=0x3f8-0x3ff): not starting\n");
        return -1;
    }
    long com1 = k_resource_narrow(all, COM1, COM1_PORTS);
    if (com1 < 0) {
        printf("uart: the ioport grant does not cover 0x3f8-0x3ff (%s): not starting\n",
               k_strerror(com1));
        return -1;
    }
    long r = k_ioport_enable(com1, 1);
    k_handle_close(com1);
    k_handle_close(all);
    if (r < 0) {
        printf("uart: cannot enable ports 0x3f8-0x3ff: %s\n", k_strerror(r));
        return -1;
    }
    out8(REG_SCR, 0xa5);
    if (in8(REG_SCR) != 0xa5) {
        printf("uart: no 16550 at 0x3f8 (scratch register does not hold a value)\n");
        return -1;
    }
    return 0;
}

/* 115200 8N1, FIFO on (not cleared: what arrived while no driver ran is
 * kept), loopback off, receive interrupts on. */
static void program(void)
{
    out8(REG_IER, 0);
    out8(REG_LCR, LCR_DLAB);
    out8(REG_DATA, 1);                           /* divisor 1: 115200 baud */
    out8(REG_IER, 0);
    out8(REG_LCR, LCR_8N1);
    out8(REG_IIR, FCR_ENABLE | FCR_RX_8);
    u.mcr = MCR_DTR | MCR_RTS | MCR_OUT2;
    out8(REG_MCR, u.mcr);
    u.ier = IER_RDA | IER_RLS;
    out8(REG_IER, u.ier);
}

/* IRQ 4 as a pulse on our own channel, through a connection whose badge
 * only this life knows; 0 or -1. */
static int attach_irq(void)
{
    long res = rt_handle("irq"), chan = rt_handle("chan");
    if (res < 0 || chan < 0) {
        printf("uart: no \"%s\" handle (grant irq=4; start me from init): not starting\n",
               res < 0 ? "irq" : "chan");
        return -1;
    }
    u.irq_badge = srv_self_badge();
    long conn = k_chan_connect(chan, (long)u.irq_badge, 0);
    if (conn < 0) {
        printf("uart: cannot connect to my channel: %s\n", k_strerror(conn));
        return -1;
    }
    /* A past life's attachment goes when its process is reaped: wait a little. */
    for (int i = 0; i < 100; i++) {
        u.irq = k_irq_attach(res, COM1_IRQ, conn, UART_IRQ_CODE);
        if (u.irq != -E_BUSY)
            break;
        k_thread_sleep(10 * 1000000L);
    }
    k_handle_close(conn);                        /* the interrupt holds it */
    k_handle_close(res);
    if (u.irq < 0) {
        printf("uart: cannot attach IRQ %d: %s\n", COM1_IRQ, k_strerror(u.irq));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    if (claim_ports() < 0)
        return 1;
    program();
    if (attach_irq() < 0)
        return 1;
    on_irq();                  /* the line may be high already: no edge would come */
    u.count.interrupts = 0;
    return srv_main(&server, "uart", &ops, 0);
}
