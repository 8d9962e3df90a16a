/*
 * virtio-net: the virtio network driver (virtio 1.2 section 5.1), serving
 * protocols/frame.proto on its manifest line's names (/dev/vnet0).
 *
 * It claims its device through the PCI server (lib/virtio: connect=pci;
 * modern only, VERSION_1 and ACCESS_PLATFORM, device 0x1041), reads the
 * MAC from the device's configuration (VIRTIO_NET_F_MAC) and the link
 * state (VIRTIO_NET_F_STATUS) when offered, sets up receiveq1 (queue 0)
 * and transmitq1 (queue 1), both interrupting through MSI-X entry 0, and
 * then runs one thread on lib/srv: client messages, the queues' interrupt
 * pulses and a timer for receives that wait (at most FRAME_WAIT_MAX)
 * arrive on the same channel, so nothing here takes a lock.
 *
 * Frames go between the device and the client's own buffer: the client
 * attaches a contiguous memory object once, the driver maps it for the
 * device (dma_map; it never maps it itself) and never touches a frame.
 * Each descriptor chain is two descriptors: the 12-byte virtio_net_hdr
 * (VERSION_1 makes num_buffers part of it) in the driver's own DMA page,
 * then the frame in the client's buffer.  Receive slot I of the protocol
 * is the chain at descriptor 2I of the receive queue; a send takes the
 * chain at 2J of the transmit queue, J a free entry of tx[].  No
 * offloads are negotiated: the headers sent are zero (no checksum or GSO
 * asked), those received are not looked at, and a receive buffer of
 * FRAME_SLOT bytes holds any frame of a 1500-byte MTU (the specification
 * asks for 1526 bytes with the header).
 *
 * Slots and buffers: a receive slot is the device's (posted), ready (a
 * frame in it waits for a receive), the client's (handed over), or idle.
 * A buffer (a session's memory) is counted by its session, by each slot
 * that names it and by each send at the device; it is unmapped when the
 * last goes.  When a session ends, the slots still at the device keep
 * naming its buffer: the device cannot be made to give them back, so they
 * stay mapped and, as frames come into them, are dropped (counted in
 * rx_orphaned) and posted again with the next session's buffer.
 *
 * The device is not trusted either: a used entry whose id names no chain
 * in flight is counted (stray_used) and ignored, and a length under a
 * header and an Ethernet header or over what a frame may be is dropped
 * (rx_bad) and the slot posted again.  The length a client is told is
 * what the device wrote less its header, at most FRAME_HEADER + MTU.
 *
 * A session of a past life (the driver restarted; its badge is not this
 * life's) gets E_REVOKED: lib/netdev attaches again and resends.
 *
 * Arguments: [--instance N]: the Nth network device (0, the first, by
 * default; the PCI server's order), the same one in every life.
 *
 * Start-up handles: "chan", "pci" (connect=pci), "log" optional.
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/frame.h"
#include "rt/proto.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/srv.h"
#include "virtio/virtio.h"

#define DEVICE_ID 0x1041               /* virtio network, modern */
#define F_MAC (1ULL << 5)
#define F_STATUS (1ULL << 16)
#define S_LINK_UP 1

#define RXQ 0                          /* receiveq1 */
#define TXQ 1                          /* transmitq1 */
#define QUEUE_SIZE 64                  /* two descriptors a chain: RX_SLOTS and SENDS_MAX */
#define HDR_LEN 12                     /* struct net_hdr */
#define MTU 1500
#define FRAME_MAX (FRAME_HEADER + MTU)
#define BUFFERS 4                      /* the session's and those slots at the device still name */
#define TIMER_CODE 0x4e4a              /* the receive timer's pulses (on the interrupt's badge) */
#define MSG_MAX (sizeof(struct k_proto_hdr) + sizeof(struct frame_send_req))

_Static_assert(FRAME_RX_SLOTS * FRAME_SLOT == FRAME_TX_OFFSET, "receive slots, then transmit");
_Static_assert((FRAME_RX_SLOTS + FRAME_TX_SLOTS) * FRAME_SLOT == FRAME_BUFFER_SIZE, "buffer");
_Static_assert(2 * FRAME_RX_SLOTS <= QUEUE_SIZE && 2 * FRAME_SENDS_MAX <= QUEUE_SIZE, "queues");

struct net_hdr {                       /* virtio 1.2 5.1.6 */
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};
_Static_assert(sizeof(struct net_hdr) == HDR_LEN, "virtio_net_hdr");

enum { R_IDLE, R_DEVICE, R_READY, R_CLIENT };

struct buffer {
    bool used;
    long vmo;
    uint64_t iova;
    uint64_t iova_not;                 /* ~iova: a record that lost its address is caught */
    unsigned refs;
};

struct send {
    bool busy;
    long rcvid;
    size_t rep_len;
    struct buffer *buf;
};

struct receiver {
    long rcvid;
    size_t rep_len;
    uint64_t deadline;                 /* clock ns: at most FRAME_WAIT_MAX from its start */
};

static struct {
    struct virtio_dev d;
    struct virtq rxq, txq;
    long irq, timer;
    uint64_t timer_at;                 /* the deadline the timer is set for, or 0 */
    uint64_t irq_badge;
    uint8_t mac[6];
    volatile struct net_hdr *hdrs;     /* the DMA page: a header per receive slot, then tx's */
    uint64_t page_iova, page_iova_not;
    uint8_t rx_state[FRAME_RX_SLOTS];
    struct buffer *rx_buf[FRAME_RX_SLOTS];
    uint32_t rx_len[FRAME_RX_SLOTS];
    uint16_t rx_used[FRAME_RX_SLOTS];  /* where in the used ring its frame was reported */
    uint8_t ready[FRAME_RX_SLOTS];     /* ready slots, oldest first (a ring) */
    unsigned ready_head, ready_count;
    struct send tx[FRAME_SENDS_MAX];
    unsigned tx_slots;
    struct receiver rcv[FRAME_RECEIVES_MAX];
    unsigned nrcv;
    struct buffer bufs[BUFFERS];
    struct buffer *session;            /* this life's session's buffer, or NULL */
    struct frame_stats_rep st;
} N;

static struct srv server;
static int session_token;              /* the srv client data of the session */
static bool cur_session;               /* the message came through this life's session */
static uint64_t cur_badge;
static long cur_handle;
static uint16_t cur_version;

#define TX_HDR_IOVA (N.page_iova + FRAME_RX_SLOTS * 16ULL)

static size_t rep_len(unsigned msg)
{
    return frame_protocol()->msgs[msg].rep_size[cur_version];
}

static void buf_put(struct buffer *b)
{
    if (--b->refs)
        return;
    k_dma_unmap(N.d.fn, (long)b->iova, FRAME_BUFFER_SIZE);
    k_handle_close(b->vmo);
    *b = (struct buffer){ 0 };
}

/* ---- the device ---- */

/* Fail-stop checks (as virtio-blk's): a descriptor is compared with what
 * it must say before the device is told of it, and a receive slot's
 * again before its frame is handed over; a mismatch of the driver's own
 * state is a deliberate fault: the driver stops and is replaced (the
 * client resends), rather than send bytes the client did not name or
 * hand it a frame from another place or of another length (its answer
 * is compared with the device's used entry, read again).  Cheap: a few
 * comparisons a frame. */
static void verify_rx(unsigned i)
{
    const struct buffer *b = N.rx_buf[i];
    uint16_t d0 = (uint16_t)(2 * i);
    volatile struct virtq_desc *d = N.rxq.desc;
    if (i >= FRAME_RX_SLOTS || !b || !b->used || b->iova != ~b->iova_not ||
        N.page_iova != ~N.page_iova_not || d[d0].addr != N.page_iova + 16ULL * i ||
        d[d0].len != HDR_LEN || d[d0].flags != (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE) ||
        d[d0].next != d0 + 1 || d[d0 + 1].addr != b->iova + (uint64_t)i * FRAME_SLOT ||
        d[d0 + 1].len != FRAME_SLOT || d[d0 + 1].flags != VIRTQ_DESC_F_WRITE)
        __builtin_trap();
}

/* A frame's answer (slot I, LEN) against the device's used entry, read
 * again: it stays in the ring until the slot is posted again (fewer
 * chains are out than the ring has entries), and it is the slot's latest
 * (none after it names the slot: the answer is not an older frame's). */
static void verify_answer(unsigned i, const struct frame_receive_rep *rep)
{
    const volatile uint32_t *ring = (const volatile uint32_t *)(N.rxq.used + 4);
    uint16_t at = N.rx_used[i];
    const volatile uint32_t *e = ring + 2 * (at % N.rxq.size);
    bool ok = rep->slot == i && i < FRAME_RX_SLOTS && N.rx_state[i] == R_READY &&
              e[0] == 2 * i && rep->len + HDR_LEN == e[1] && rep->len <= FRAME_MAX &&
              rep->len >= FRAME_HEADER && (uint16_t)(N.rxq.last_used - at) <= N.rxq.size;
    for (uint16_t k = (uint16_t)(at + 1); ok && k != N.rxq.last_used; k++)
        ok = ring[2 * (k % N.rxq.size)] != 2 * i;
    if (!ok)
        __builtin_trap();
}

static void verify_tx(unsigned j, uint64_t offset, uint32_t len)
{
    const struct buffer *b = N.tx[j].buf;
    uint16_t d0 = (uint16_t)(2 * j);
    volatile struct virtq_desc *d = N.txq.desc;
    if (j >= N.tx_slots || !N.tx[j].busy || !b || b != N.session || b->iova != ~b->iova_not ||
        N.page_iova != ~N.page_iova_not || len < FRAME_HEADER ||
        len > FRAME_MAX || offset > FRAME_BUFFER_SIZE || len > FRAME_BUFFER_SIZE - offset ||
        d[d0].addr != TX_HDR_IOVA || d[d0].len != HDR_LEN || d[d0].flags != VIRTQ_DESC_F_NEXT ||
        d[d0].next != d0 + 1 || d[d0 + 1].addr != b->iova + offset || d[d0 + 1].len != len ||
        d[d0 + 1].flags != 0)
        __builtin_trap();
}

/* Gives receive slot I (idle) of the session's buffer to the device. */
static void post(unsigned i)
{
    struct buffer *b = N.session;
    N.rx_state[i] = R_DEVICE;
    N.rx_buf[i] = b;
    b->refs++;
    uint16_t d0 = (uint16_t)(2 * i);
    volatile struct virtq_desc *d = N.rxq.desc;
    d[d0] = (struct virtq_desc){ N.page_iova + 16ULL * i, HDR_LEN,
                                 VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, (uint16_t)(d0 + 1) };
    d[d0 + 1] = (struct virtq_desc){ b->iova + (uint64_t)i * FRAME_SLOT, FRAME_SLOT,
                                     VIRTQ_DESC_F_WRITE, 0 };
    verify_rx(i);
    virtq_submit(&N.rxq, d0);
}

/* Slot I back from the device, the client or a gone session: idle, and
 * posted again if there is a session. */
static void recycle(unsigned i)
{
    struct buffer *b = N.rx_buf[i];
    N.rx_state[i] = R_IDLE;
    N.rx_buf[i] = NULL;
    if (b)
        buf_put(b);
    if (N.session)
        post(i);
}

/* Hands ready frames to waiting receives, oldest of each first. */
static void deliver(void)
{
    while (N.nrcv && N.ready_count) {
        unsigned i = N.ready[N.ready_head];
        struct receiver r = N.rcv[0];
        memmove(&N.rcv[0], &N.rcv[1], --N.nrcv * sizeof(N.rcv[0]));
        struct frame_receive_rep rep = { .slot = i, .len = N.rx_len[i] };
        verify_answer(i, &rep);
        if (proto_reply(r.rcvid, 0, &rep, r.rep_len) < 0)
            continue;                            /* that client is gone: the next one */
        N.rx_state[i] = R_CLIENT;
        N.ready_head = (N.ready_head + 1) % FRAME_RX_SLOTS;
        N.ready_count--;
        N.st.rx_frames++;
    }
}

static void rx_complete(void)
{
    uint32_t len;
    long id;
    while ((id = virtq_used(&N.rxq, &len)) != -E_AGAIN) {
        unsigned i = (unsigned)id / 2;
        if (id < 0 || (id & 1) || i >= FRAME_RX_SLOTS || N.rx_state[i] != R_DEVICE) {
            N.st.stray_used++;
            continue;
        }
        if (N.rx_buf[i] != N.session) {
            N.st.rx_orphaned++;                  /* a gone session's buffer */
            recycle(i);
            continue;
        }
        if (len < HDR_LEN + FRAME_HEADER || len > HDR_LEN + FRAME_MAX) {
            N.st.rx_bad++;
            recycle(i);
            continue;
        }
        verify_rx(i);                            /* the frame is where the slot says */
        N.rx_used[i] = (uint16_t)(N.rxq.last_used - 1);
        N.rx_len[i] = len - HDR_LEN;
        N.rx_state[i] = R_READY;
        N.ready[(N.ready_head + N.ready_count++) % FRAME_RX_SLOTS] = (uint8_t)i;
    }
}

static void tx_complete(void)
{
    uint32_t len;
    long id;
    while ((id = virtq_used(&N.txq, &len)) != -E_AGAIN) {
        unsigned j = (unsigned)id / 2;
        if (id < 0 || (id & 1) || j >= N.tx_slots || !N.tx[j].busy) {
            N.st.stray_used++;
            continue;
        }
        struct send *s = &N.tx[j];
        struct frame_send_rep rep = { 0 };
        proto_reply(s->rcvid, 0, &rep, s->rep_len);   /* fails if the client is gone */
        N.st.tx_frames++;
        s->busy = false;
        buf_put(s->buf);
    }
}

static void complete(void)
{
    tx_complete();
    rx_complete();
    deliver();
}

/* The receive timer: set for the earliest deadline of a waiting receive,
 * unless it is set already for one no later (it then fires early, and
 * expire sets it again): a receive answered before its deadline costs no
 * timer call, and most are. */
static void arm_timer(void)
{
    uint64_t first = UINT64_MAX;
    for (unsigned k = 0; k < N.nrcv; k++)
        if (N.rcv[k].deadline < first)
            first = N.rcv[k].deadline;
    if (first == UINT64_MAX || (N.timer_at && N.timer_at <= first))
        return;
    uint64_t now = (uint64_t)k_clock_get();
    if (k_timer_set(N.timer, first > now ? (long)(first - now) : 1, 0) == 0)
        N.timer_at = first;
}

static void expire(void)
{
    N.timer_at = 0;                              /* it fired */
    uint64_t now = (uint64_t)k_clock_get();
    unsigned k = 0;
    while (k < N.nrcv) {
        if (N.rcv[k].deadline > now) {
            k++;
            continue;
        }
        k_msg_error(N.rcv[k].rcvid, E_TIMEOUT);
        memmove(&N.rcv[k], &N.rcv[k + 1], (--N.nrcv - k) * sizeof(N.rcv[0]));
    }
    arm_timer();
}

/* ---- the protocol ---- */

static long no_session(void)
{
    return cur_badge >> 61 == 1 ? -E_REVOKED : -E_PERM;   /* a past life's, or none */
}

static long on_info(void *ctx, long rcvid, const struct frame_info_req *req,
                    struct frame_info_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    memcpy(rep->mac, N.mac, 6);
    rep->mtu = MTU;
    rep->flags = FRAME_LINK_UP;
    if ((N.d.features & F_STATUS) && !(*(volatile uint16_t *)(N.d.device_cfg + 6) & S_LINK_UP))
        rep->flags = 0;
    return 0;
}

static long on_attach(void *ctx, long rcvid, const struct frame_attach_req *req,
                      struct frame_attach_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    if (cur_session)
        return -E_PERM;
    struct buffer *b = NULL;
    for (unsigned i = 0; i < BUFFERS && !b; i++)
        if (!N.bufs[i].used)
            b = &N.bufs[i];
    uint64_t iova;
    long size = virtio_map_buffer(&N.d, cur_handle, FRAME_BUFFER_SIZE, FRAME_BUFFER_SIZE, &iova);
    if (size < 0)
        return size;
    if (N.session || !b) {
        k_dma_unmap(N.d.fn, (long)iova, size);
        return -E_BUSY;                          /* one session a life (or old buffers linger) */
    }
    long conn = srv_client_new(&server, &session_token);
    if (conn < 0) {
        k_dma_unmap(N.d.fn, (long)iova, size);
        return conn;
    }
    *b = (struct buffer){ .used = true, .vmo = cur_handle, .iova = iova, .iova_not = ~iova,
                          .refs = 1 };
    cur_handle = 0;                              /* kept */
    N.session = b;
    for (unsigned i = 0; i < FRAME_RX_SLOTS; i++)
        if (N.rx_state[i] == R_IDLE)
            post(i);
    rep->size = (uint64_t)size;
    long r = k_handle_attach(conn, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    return r < 0 ? r : 0;
}

/* The send as the client sent it, read again from the client (the kernel
 * keeps it until the reply): a fault in decoding it is caught too.  A
 * mismatch fails the send (E_INVAL), it does not stop the driver: a
 * client could change its own message under it to make it stop. */
static bool as_sent(long rcvid, const struct frame_send_req *q)
{
    struct {
        struct k_proto_hdr h;
        struct frame_send_req q;
    } m = { 0 };
    long got = k_msg_read(rcvid, 0, (long)&m, sizeof(m));
    return got == (long)sizeof(m) && m.h.msg == FRAME_MSG_SEND && m.q.offset == q->offset &&
           m.q.len == q->len && m.q.reserved == 0;
}

static long on_send(void *ctx, long rcvid, const struct frame_send_req *q,
                    struct frame_send_rep *rep)
{
    (void)ctx, (void)rep;
    if (!cur_session)
        return no_session();
    if (!as_sent(rcvid, q))
        return -E_INVAL;
    if (q->reserved || q->len < FRAME_HEADER)
        return -E_INVAL;
    if (q->len > FRAME_MAX || q->offset > FRAME_BUFFER_SIZE ||
        q->len > FRAME_BUFFER_SIZE - q->offset)
        return -E_TOOBIG;
    unsigned j = 0;
    while (j < N.tx_slots && N.tx[j].busy)
        j++;
    if (j == N.tx_slots)
        return -E_BUSY;
    struct buffer *b = N.session;
    b->refs++;
    N.tx[j] = (struct send){ true, rcvid, rep_len(FRAME_MSG_SEND), b };
    uint16_t d0 = (uint16_t)(2 * j);
    volatile struct virtq_desc *d = N.txq.desc;
    d[d0] = (struct virtq_desc){ TX_HDR_IOVA, HDR_LEN, VIRTQ_DESC_F_NEXT, (uint16_t)(d0 + 1) };
    d[d0 + 1] = (struct virtq_desc){ b->iova + q->offset, q->len, 0, 0 };
    verify_tx(j, q->offset, q->len);
    virtq_submit(&N.txq, d0);
    return PROTO_NO_REPLY;
}

/* Slot I given back by the session's client: checked, then posted again. */
static long give_back(uint32_t i)
{
    if (i >= FRAME_RX_SLOTS)
        return -E_TOOBIG;
    if (N.rx_state[i] != R_CLIENT)
        return -E_INVAL;
    recycle(i);
    return 0;
}

static long on_receive(void *ctx, long rcvid, const struct frame_receive_req *q,
                       struct frame_receive_rep *rep)
{
    (void)ctx, (void)rep;
    if (!cur_session)
        return no_session();
    if (q->give != FRAME_NONE) {
        long r = give_back(q->give);
        if (r < 0)
            return r;
    }
    if (q->wait_ms == 0) {
        if (!N.ready_count)
            complete();                          /* what came since the last interrupt */
        if (!N.ready_count || N.nrcv)
            return -E_AGAIN;                     /* none, or older receives come first */
    }
    if (N.nrcv == FRAME_RECEIVES_MAX)
        return -E_BUSY;
    uint32_t ms = q->wait_ms < FRAME_WAIT_MAX ? q->wait_ms : FRAME_WAIT_MAX;   /* FOREVER too */
    uint64_t deadline = (uint64_t)k_clock_get() + (uint64_t)ms * 1000000ULL;
    N.rcv[N.nrcv++] = (struct receiver){ rcvid, rep_len(FRAME_MSG_RECEIVE), deadline };
    deliver();
    arm_timer();
    return PROTO_NO_REPLY;
}

static long on_release(void *ctx, long rcvid, const struct frame_release_req *q,
                       struct frame_release_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    if (!cur_session)
        return no_session();
    return give_back(q->slot);
}

static long on_stats(void *ctx, long rcvid, const struct frame_stats_req *q,
                     struct frame_stats_rep *rep)
{
    (void)ctx, (void)rcvid, (void)q;
    *rep = N.st;
    return 0;
}

static const struct frame_server table = { .info = on_info, .attach = on_attach,
                                           .send = on_send, .receive = on_receive,
                                           .release = on_release, .stats = on_stats };

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];    /* one thread */
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    cur_session = m->client == &session_token;
    cur_badge = m->info.badge;
    cur_handle = m->info.handle;
    cur_version = FRAME_VERSION;
    if (m->len >= sizeof(struct k_proto_hdr)) {
        uint16_t v = ((const struct k_proto_hdr *)m->data)->version;
        if (v >= 1 && v <= FRAME_VERSION)
            cur_version = v;
    }
    frame_dispatch(&table, m->rcvid, m->data, m->len);
    m->info.handle = cur_handle;                 /* 0 if attach kept it */
    cur_session = false;
    return SRV_REPLIED;
}

static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    (void)s;
    if (info->badge == N.irq_badge && info->code == (int32_t)FRAME_IRQ_CODE) {
        N.st.interrupts++;
        complete();
        k_irq_ack(N.irq);
        complete();                              /* what came before the ack's pulse */
    } else if (info->badge == N.irq_badge && info->code == TIMER_CODE) {
        expire();
    } else {
        N.st.client_pulses++;
    }
}

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    if (data != &session_token || !N.session)
        return;
    for (unsigned k = 0; k < N.nrcv; k++)
        k_msg_error(N.rcv[k].rcvid, E_DEAD);
    N.nrcv = 0;
    N.ready_count = 0;
    struct buffer *b = N.session;
    N.session = NULL;
    for (unsigned i = 0; i < FRAME_RX_SLOTS; i++)
        if (N.rx_state[i] == R_READY || N.rx_state[i] == R_CLIENT)
            recycle(i);                          /* idle: no session to post for */
    buf_put(b);                                  /* freed now, or by the device's last slot */
}

/* stall_ms: a request held 2 s that is neither a receive waiting for a
 * frame nor a send at the device stops the heartbeats: a driver that
 * lost a call is replaced.  Those two are bounded from outside: a receive
 * waits at most FRAME_WAIT_MAX, and a send the device holds for seconds
 * is judged by the supervisor (the manifest line's stall=), which this
 * code, gone wrong, cannot talk out of it. */
static unsigned waiting(struct srv *s)
{
    (void)s;
    unsigned n = N.nrcv;
    for (unsigned j = 0; j < N.tx_slots; j++)
        n += N.tx[j].busy;
    return n;
}

static const struct srv_ops ops = { .message = on_message, .pulse = on_pulse,
                                    .disconnect = on_disconnect, .stall_ms = 2000,
                                    .waiting = waiting };

/* ---- start-up ---- */

static long queue(struct virtq *q, uint16_t index)
{
    uint16_t size = QUEUE_SIZE;
    long r;
    while ((r = virtio_queue(&N.d, q, index, size, 0)) == -E_INVAL && size > 4)
        size /= 2;                               /* the device's queue is smaller */
    return r < 0 ? r : size;
}

static int setup(uint16_t instance)
{
    long pci = rt_handle("pci"), chan = rt_handle("chan");
    if (pci < 0 || chan < 0) {
        printf("virtio-net: no \"%s\" handle (grant connect=pci; start me from init)\n",
               pci < 0 ? "pci" : "chan");
        return -1;
    }
    long r = virtio_open(&N.d, pci, DEVICE_ID, instance, F_MAC | F_STATUS);
    if (r < 0)
        return r == -E_NOENT ? -E_NOENT : -1;
    if (!N.d.device_cfg && (N.d.features & (F_MAC | F_STATUS))) {
        printf("virtio-net: the device offers MAC or STATUS without a configuration structure\n");
        return -1;
    }
    if (N.d.features & F_MAC) {
        for (int i = 0; i < 6; i++)
            N.mac[i] = N.d.device_cfg[i];
    } else {                                     /* our own: locally administered, unicast */
        uint64_t t = (uint64_t)k_clock_get();
        N.mac[0] = 0x02;
        for (int i = 1; i < 6; i++)
            N.mac[i] = (uint8_t)(t >> (8 * i));
    }
    N.irq_badge = srv_self_badge();
    long conn = k_chan_connect(chan, (long)N.irq_badge, 0);
    N.irq = conn < 0 ? conn : virtio_msix(&N.d, 0, conn, FRAME_IRQ_CODE);
    if (N.irq < 0)
        return -1;
    N.timer = k_timer_create(conn, TIMER_CODE, 0);
    if (N.timer < 0) {
        printf("virtio-net: no timer (%s): receives could not be bounded\n", k_strerror(N.timer));
        return -1;
    }
    long rs = queue(&N.rxq, RXQ), ts = rs < 0 ? rs : queue(&N.txq, TXQ);
    if (ts < 0)
        return -1;
    if (rs < 2 * FRAME_RX_SLOTS) {
        printf("virtio-net: a receive queue of %ld entries is too small\n", rs);
        return -1;
    }
    N.tx_slots = ts / 2 < FRAME_SENDS_MAX ? (unsigned)ts / 2 : FRAME_SENDS_MAX;
    long v = k_vmo_create(4096, K_VMO_CONTIG, 0, 0);
    long a = v < 0 ? v : k_vmo_map(0, v, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    long iova = a < 0 ? a : k_dma_map(N.d.fn, v, 0, 4096);
    if (iova < 0) {
        printf("virtio-net: headers: %s\n", k_strerror(iova));
        return -1;
    }
    N.hdrs = (volatile struct net_hdr *)a;       /* zero: the transmit header asks nothing */
    N.page_iova = (uint64_t)iova;
    N.page_iova_not = ~(uint64_t)iova;
    virtio_ready(&N.d);
    bool up = !(N.d.features & F_STATUS) ||
              (*(volatile uint16_t *)(N.d.device_cfg + 6) & S_LINK_UP);
    printf("virtio-net: MAC %02x:%02x:%02x:%02x:%02x:%02x%s, link %s, %u receive slots, "
           "%u sends at once\n", N.mac[0], N.mac[1], N.mac[2], N.mac[3], N.mac[4], N.mac[5],
           N.d.features & F_MAC ? "" : " (our own)", up ? "up" : "down", FRAME_RX_SLOTS,
           N.tx_slots);
    return 0;
}

/* No device (a machine without one): every call gets E_NOENT, rather
 * than restart after restart of a driver with nothing to drive. */
static long on_message_none(struct srv_msg *m)
{
    (void)m;
    return -E_NOENT;
}

static const struct srv_ops ops_none = { .message = on_message_none };

int main(int argc, char **argv)
{
    long instance = virtio_instance_arg(argc, argv, "virtio-net");
    if (instance < 0)
        return 1;
    int r = setup((uint16_t)instance);
    if (r == -E_NOENT) {
        printf("virtio-net: no network device %ld: every call gets E_NOENT\n", instance);
        return srv_main(&server, "virtio-net", &ops_none, 0);
    }
    if (r < 0)
        return 1;
    return srv_main(&server, "virtio-net", &ops, 0);
}
