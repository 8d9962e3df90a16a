/*
 * virtio-blk: the virtio block driver (virtio 1.2 section 5.2), serving
 * protocols/blk.proto on its manifest line's names (/dev/vblk0).
 *
 * It claims its device through the PCI server (lib/virtio: connect=pci),
 * sets up one request queue interrupting through MSI-X entry 0 and then
 * runs one thread on lib/srv: client messages and the queue's interrupt
 * pulses arrive on the same channel.
 *
 * Data goes between the device and the clients' own buffers: a client
 * attaches a contiguous memory object once (attach), the driver maps it
 * for the device (dma_map, so the IOMMU lets the device reach it and
 * nothing else) and never touches the bytes.  A request takes a slot: a
 * request header and a status byte in the driver's own DMA page, and
 * three descriptors (header, data, status; flush has no data).  A request
 * that finds no free slot waits in a FIFO (REQUESTS_MAX); its reply goes
 * when its used entry comes back.
 *
 * The device is not trusted either: a used entry that names no slot in
 * flight is counted and ignored, and the bytes of a request are what the
 * driver asked for, never what the device says it wrote.  A slot not in
 * flight keeps a header of no type (T_NONE): a stale chain given to the
 * device again moves no data.
 *
 * A session of a past life (the driver restarted; its badge is not this
 * life's) gets E_REVOKED: lib/blk attaches again and resends.  A client
 * that goes while its requests are in flight: the replies fail, and its
 * buffer stays mapped until the device is done with them.
 *
 * Arguments: [--instance N]: the Nth block device (0, the first, by
 * default; the PCI server's order), the same one in every life.
 *
 * Start-up handles: "chan", "pci" (connect=pci), "log" optional.
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/proto.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/blk.h"
#include "rt/proto.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/srv.h"
#include "virtio/virtio.h"

#define DEVICE_ID 0x1042               /* virtio block, modern */
#define F_SIZE_MAX (1ULL << 1)
#define F_SEG_MAX (1ULL << 2)
#define F_RO (1ULL << 5)
#define F_FLUSH (1ULL << 9)
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4 };
/* A finished slot's header says this: a type no device does anything for
 * (S_UNSUPP, no data touched), so its chain, should the device be given it
 * again (a stale ring entry of a driver gone wrong), moves no bytes. */
#define T_NONE 0x7ffffff0u
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

#define QUEUE_MAX 256
#define SLOTS 64                       /* requests at the device at once (3 descriptors each) */
#define SESSIONS 64
#define MAX_TRANSFER (4u << 20)        /* bytes a request at most (one descriptor) */
#define BUFFER_MAX (256ULL << 20)      /* a session's buffer at most */
#define MSG_MAX (sizeof(struct k_proto_hdr) + sizeof(struct blk_read_req))

struct session {
    bool used, gone;                   /* gone: its connection is closed */
    long vmo;
    uint64_t size, iova;
    uint64_t size_inv, iova_inv;       /* the same, inverted: verify checks both */
    unsigned inflight;                 /* its requests at the device or waiting */
};

struct request {
    long rcvid;
    struct session *s;
    uint32_t type, count;
    uint64_t sector, offset;
};

struct hdr {
    uint32_t type, reserved;
    uint64_t sector;
};

static struct {
    struct virtio_dev d;
    struct virtq q;
    long irq;
    uint64_t irq_badge;
    uint64_t sectors;
    uint32_t max_transfer, flags;
    unsigned slots;
    volatile struct hdr *hdrs;         /* the DMA page: headers, then status bytes */
    volatile uint8_t *status;
    uint64_t page_iova, page_iova_inv;
    struct request inflight[SLOTS];
    bool busy[SLOTS];
    uint8_t at_device[SLOTS];          /* kept apart from busy: set at the notify, cleared at the used entry */
    struct request waiting[BLK_REQUESTS_MAX];
    unsigned wait_head, wait_count;
    struct session sessions[SESSIONS];
    uint64_t stray_used, client_pulses;
} B;

static struct srv server;
static struct session *cur_session;    /* the message's, or NULL */
static uint64_t cur_badge;
static long cur_handle;

/* ---- the device ---- */

static void session_put(struct session *s)
{
    if (--s->inflight || !s->gone)
        return;
    k_dma_unmap(B.d.fn, (long)s->iova, (long)((s->size + 4095) & ~4095ULL));
    k_handle_close(s->vmo);
    *s = (struct session){ 0 };
}

/* Slot I is free again: its header of no type, its session's count down. */
static void slot_free(unsigned i)
{
    B.hdrs[i].type = T_NONE;
    B.busy[i] = false;
    session_put(B.inflight[i].s);
}

/* Fail-stop: what the device is about to do (slot I's header and
 * descriptors) is checked once more against the request it came from,
 * computed again here, before the device is told and before the client
 * is answered.  A driver whose code went wrong (a fault in it: see
 * tests/user/faults.c) then stops with a fault and is replaced, and the
 * client resends, instead of writing a client's data to a sector or a
 * place it did not name.  Cheap: a few comparisons a request. */
/* The request as the client sent it, read again from the client (the
 * kernel keeps it until the reply): a fault in decoding it is caught too,
 * not only one in building the descriptors.  A mismatch fails the
 * request (E_INVAL), it does not stop the driver: a client could change
 * its own message under it to make it stop. */
static bool as_sent(const struct request *r)
{
    struct {
        struct k_proto_hdr h;
        struct blk_read_req q;                   /* read's and write's are alike */
    } m = { 0 };
    long got = k_msg_read(r->rcvid, 0, (long)&m, sizeof(m));
    uint16_t msg = r->type == T_IN ? BLK_MSG_READ : r->type == T_OUT ? BLK_MSG_WRITE : BLK_MSG_FLUSH;
    return got >= (long)sizeof(m.h) && m.h.msg == msg &&
           (r->type == T_FLUSH || (got == (long)sizeof(m) && m.q.sector == r->sector &&
                                   m.q.offset == r->offset && m.q.count == r->count));
}

static void verify(unsigned i, const struct request *r)
{
    const struct session *s = r->s;
    uint64_t bytes = (uint64_t)r->count * BLK_SECTOR;
    uint16_t d0 = (uint16_t)(3 * i);
    volatile struct virtq_desc *d = B.q.desc;
    /* The addresses it compares with are kept twice (once inverted): a
     * fault that changed a session's device address would otherwise build
     * descriptors and their check from the same wrong value, and every
     * read would go elsewhere, answered as done. */
    bool ok = i < B.slots && B.busy[i] && B.hdrs[i].type == r->type &&
              B.page_iova == ~B.page_iova_inv &&
              B.hdrs[i].sector == r->sector &&
              d[d0].addr == B.page_iova + i * sizeof(struct hdr) &&
              d[d0 + 2].addr == B.page_iova + SLOTS * sizeof(struct hdr) + i &&
              d[d0 + 2].len == 1 && d[d0 + 2].flags == VIRTQ_DESC_F_WRITE;
    if (r->type != T_FLUSH)
        ok = ok && s && s->used && s->iova == ~s->iova_inv && s->size == ~s->size_inv &&
             r->sector <= B.sectors && r->count <= B.sectors - r->sector &&
             r->offset <= s->size && bytes <= s->size - r->offset && d[d0].next == d0 + 1 &&
             d[d0 + 1].addr == s->iova + r->offset && d[d0 + 1].len == bytes &&
             d[d0 + 1].next == d0 + 2 &&
             (d[d0 + 1].flags & VIRTQ_DESC_F_WRITE) == (r->type == T_IN ? VIRTQ_DESC_F_WRITE : 0);
    else
        ok = ok && d[d0].next == d0 + 2;
    if (!ok)
        __builtin_trap();
}

/* Gives R to the device in slot I; false if R is not what its client
 * sent (answered E_INVAL, the slot free again). */
static bool start(unsigned i, const struct request *r)
{
    if (i >= B.slots || B.busy[i] || B.at_device[i])
        __builtin_trap();                        /* a slot the device still has */
    B.inflight[i] = *r;
    B.busy[i] = true;
    B.hdrs[i] = (struct hdr){ .type = r->type, .sector = r->sector };
    B.status[i] = 0xff;
    uint16_t d0 = (uint16_t)(3 * i);
    uint64_t hdr_iova = B.page_iova + i * sizeof(struct hdr);
    uint64_t st_iova = B.page_iova + SLOTS * sizeof(struct hdr) + i;
    volatile struct virtq_desc *d = B.q.desc;
    if (r->type == T_FLUSH) {
        d[d0] = (struct virtq_desc){ hdr_iova, sizeof(struct hdr), VIRTQ_DESC_F_NEXT,
                                     (uint16_t)(d0 + 2) };
    } else {
        d[d0] = (struct virtq_desc){ hdr_iova, sizeof(struct hdr), VIRTQ_DESC_F_NEXT,
                                     (uint16_t)(d0 + 1) };
        d[d0 + 1] = (struct virtq_desc){
            r->s->iova + r->offset, r->count * BLK_SECTOR,
            (uint16_t)(VIRTQ_DESC_F_NEXT | (r->type == T_IN ? VIRTQ_DESC_F_WRITE : 0)),
            (uint16_t)(d0 + 2) };
    }
    d[d0 + 2] = (struct virtq_desc){ st_iova, 1, VIRTQ_DESC_F_WRITE, 0 };
    verify(i, &B.inflight[i]);
    /* What the device will do is checked against the client's own
     * message too (not only the driver's copy of it, which a fault may
     * have changed along with the header): a write to a sector the
     * client did not name cannot be taken back. */
    if (!as_sent(&B.inflight[i])) {
        k_msg_error(r->rcvid, E_INVAL);
        slot_free(i);
        return false;
    }
    if (B.status[i] != 0xff)
        __builtin_trap();                        /* a status the device did not write */
    /* Writing this slot must not have changed another the device may
     * not have read yet. */
    for (unsigned j = 0; j < B.slots; j++)
        if (B.at_device[j])
            verify(j, &B.inflight[j]);
    B.at_device[i] = 1;
    virtq_submit(&B.q, d0);
    return true;
}

/* Starts R now, or queues it; PROTO_NO_REPLY, or E_BUSY when full (its
 * message is checked against the client's when it starts). */
static long submit(const struct request *r)
{
    if (B.wait_count == 0) {
        for (unsigned i = 0; i < B.slots; i++) {
            if (!B.busy[i]) {
                r->s->inflight++;
                start(i, r);
                return PROTO_NO_REPLY;
            }
        }
    }
    if (B.wait_count == BLK_REQUESTS_MAX)
        return -E_BUSY;
    r->s->inflight++;
    B.waiting[(B.wait_head + B.wait_count++) % BLK_REQUESTS_MAX] = *r;
    return PROTO_NO_REPLY;
}

/* Answers every request the device has finished, then starts waiting
 * ones in the slots that freed. */
static void complete(void)
{
    uint32_t len;
    long id;
    while ((id = virtq_used(&B.q, &len)) != -E_AGAIN) {
        unsigned i = (unsigned)id / 3;
        if (id < 0 || (unsigned)id % 3 || i >= B.slots || !B.busy[i]) {
            B.stray_used++;
            continue;
        }
        if (!B.at_device[i] || (uint32_t)id != 3 * i)
            __builtin_trap();                        /* the slot's state and the device's disagree */
        B.at_device[i] = 0;
        struct request *r = &B.inflight[i];
        verify(i, r);
        uint8_t st = B.status[i];
        long bytes = r->type == T_FLUSH ? 0 : (long)r->count * BLK_SECTOR;
        /* The device says how much it wrote: a read's data and the status
         * byte, else the status byte.  Anything else, or a request that is
         * not the one its client sent, is not answered as done. */
        uint32_t wrote = r->type == T_IN ? (uint32_t)bytes + 1 : 1;
        if (len != wrote || st == 0xff || !as_sent(r))
            k_msg_error(r->rcvid, E_INVAL);
        else if (st == S_OK)
            k_msg_reply(r->rcvid, bytes, 0, 0);
        else
            k_msg_error(r->rcvid, E_IO);
        slot_free(i);
    }
    for (unsigned i = 0; i < B.slots && B.wait_count; i++) {
        if (B.busy[i])
            continue;
        start(i, &B.waiting[B.wait_head]);
        B.wait_head = (B.wait_head + 1) % BLK_REQUESTS_MAX;
        B.wait_count--;
    }
}

/* ---- the protocol ---- */

static long on_info(void *ctx, long rcvid, const struct blk_info_req *req,
                    struct blk_info_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    *rep = (struct blk_info_rep){ .sectors = B.sectors, .max_transfer = B.max_transfer,
                                  .flags = B.flags, .queue_depth = B.slots };
    return 0;
}

static long on_attach(void *ctx, long rcvid, const struct blk_attach_req *req,
                      struct blk_attach_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    if (cur_session)
        return -E_PERM;
    struct session *s = NULL;
    for (unsigned i = 0; i < SESSIONS && !s; i++)
        if (!B.sessions[i].used)
            s = &B.sessions[i];
    if (!s)
        return -E_FULL;
    uint64_t iova;
    long size = virtio_map_buffer(&B.d, cur_handle, BLK_SECTOR, BUFFER_MAX, &iova);
    if (size < 0)
        return size;
    long conn = srv_client_new(&server, s);
    if (conn < 0) {
        k_dma_unmap(B.d.fn, (long)iova, size);
        return conn;
    }
    *s = (struct session){ .used = true, .vmo = cur_handle, .size = (uint64_t)size,
                           .iova = iova, .size_inv = ~(uint64_t)size, .iova_inv = ~iova };
    cur_handle = 0;                              /* kept */
    rep->size = (uint64_t)size;
    long r = k_handle_attach(conn, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    return r < 0 ? r : 0;
}

/* A session's request, checked: the sectors on the disk, the bytes in
 * the buffer and within max_transfer. */
static long transfer(long rcvid, uint32_t type, uint64_t sector, uint64_t offset,
                     uint32_t count, uint32_t reserved)
{
    struct session *s = cur_session;
    if (!s)
        return cur_badge >> 61 == 1 ? -E_REVOKED : -E_PERM;   /* a past life's, or none */
    if (count == 0 || reserved)
        return -E_INVAL;
    uint64_t bytes = (uint64_t)count * BLK_SECTOR;
    if (sector > B.sectors || count > B.sectors - sector || bytes > B.max_transfer ||
        offset > s->size || bytes > s->size - offset)
        return -E_TOOBIG;
    if (type == T_OUT && (B.flags & BLK_READ_ONLY))
        return -E_PERM;
    struct request r = { rcvid, s, type, count, sector, offset };
    return submit(&r);
}

static long on_read(void *ctx, long rcvid, const struct blk_read_req *q, struct blk_read_rep *rep)
{
    (void)ctx, (void)rep;
    return transfer(rcvid, T_IN, q->sector, q->offset, q->count, q->reserved);
}

static long on_write(void *ctx, long rcvid, const struct blk_write_req *q,
                     struct blk_write_rep *rep)
{
    (void)ctx, (void)rep;
    return transfer(rcvid, T_OUT, q->sector, q->offset, q->count, q->reserved);
}

static long on_flush(void *ctx, long rcvid, const struct blk_flush_req *q,
                     struct blk_flush_rep *rep)
{
    (void)ctx, (void)q, (void)rep;
    if (!cur_session)
        return cur_badge >> 61 == 1 ? -E_REVOKED : -E_PERM;
    if (!(B.flags & BLK_FLUSH))
        return 0;                                /* no write cache: written is durable */
    struct request r = { rcvid, cur_session, T_FLUSH, 0, 0, 0 };
    return submit(&r);
}

static const struct blk_server table = { .info = on_info, .attach = on_attach,
                                         .read = on_read, .write = on_write,
                                         .flush = on_flush };

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];    /* one thread */
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    cur_session = m->client;
    cur_badge = m->info.badge;
    cur_handle = m->info.handle;
    blk_dispatch(&table, m->rcvid, m->data, m->len);
    m->info.handle = cur_handle;                 /* 0 if attach kept it */
    cur_session = NULL;
    return SRV_REPLIED;
}

static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    (void)s;
    if (info->badge != B.irq_badge || info->code != BLK_IRQ_CODE) {
        B.client_pulses++;
        return;
    }
    complete();
    k_irq_ack(B.irq);
    complete();                                  /* what came before the ack's pulse */
}

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    struct session *ss = data;
    ss->gone = true;
    ss->inflight++;
    session_put(ss);                             /* freed now, or by its last request */
}

/* stall_ms: a request unanswered for 2 s (QEMU's take microseconds; a
 * real disk's at most a few hundred milliseconds) means this driver or
 * its device lost it: the heartbeats stop and the supervisor replaces
 * the driver; the client library resends. */
static const struct srv_ops ops = { .message = on_message, .pulse = on_pulse,
                                    .disconnect = on_disconnect, .stall_ms = 2000 };

/* ---- start-up ---- */

static int setup(uint16_t instance)
{
    long pci = rt_handle("pci"), chan = rt_handle("chan");
    if (pci < 0 || chan < 0) {
        printf("virtio-blk: no \"%s\" handle (grant connect=pci; start me from init)\n",
               pci < 0 ? "pci" : "chan");
        return -1;
    }
    if (virtio_open(&B.d, pci, DEVICE_ID, instance, F_SIZE_MAX | F_SEG_MAX | F_RO | F_FLUSH) < 0)
        return -1;
    volatile uint8_t *cfg = B.d.device_cfg;
    if (!cfg) {
        printf("virtio-blk: the device has no configuration structure\n");
        return -1;
    }
    B.sectors = *(volatile uint64_t *)cfg;
    B.max_transfer = MAX_TRANSFER;
    if (B.d.features & F_SIZE_MAX) {
        uint32_t m = *(volatile uint32_t *)(cfg + 8) & ~(BLK_SECTOR - 1);
        if (m && m < B.max_transfer)
            B.max_transfer = m;
    }
    B.flags = (B.d.features & F_RO ? BLK_READ_ONLY : 0) | (B.d.features & F_FLUSH ? BLK_FLUSH : 0);
    B.irq_badge = srv_self_badge();
    long conn = k_chan_connect(chan, (long)B.irq_badge, 0);
    B.irq = conn < 0 ? conn : virtio_msix(&B.d, 0, conn, BLK_IRQ_CODE);
    if (conn >= 0)
        k_handle_close(conn);                    /* the interrupt holds it */
    if (B.irq < 0)
        return -1;
    uint16_t size = QUEUE_MAX;
    long r;
    while ((r = virtio_queue(&B.d, &B.q, 0, size, 0)) == -E_INVAL && size > 4)
        size /= 2;                               /* the device's queue is smaller */
    if (r < 0)
        return -1;
    B.slots = size / 3 < SLOTS ? size / 3 : SLOTS;
    long v = k_vmo_create(4096, K_VMO_CONTIG, 0, 0);
    long a = v < 0 ? v : k_vmo_map(0, v, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    long iova = a < 0 ? a : k_dma_map(B.d.fn, v, 0, 4096);
    if (iova < 0) {
        printf("virtio-blk: request headers: %s\n", k_strerror(iova));
        return -1;
    }
    B.hdrs = (volatile struct hdr *)a;
    for (unsigned i = 0; i < SLOTS; i++)
        B.hdrs[i].type = T_NONE;
    B.status = (volatile uint8_t *)(a + SLOTS * sizeof(struct hdr));
    B.page_iova = (uint64_t)iova;
    B.page_iova_inv = ~(uint64_t)iova;
    virtio_ready(&B.d);
    printf("virtio-blk: %lu sectors (%lu MiB)%s%s, %u requests at once, %u KiB each at most\n",
           (unsigned long)B.sectors, (unsigned long)(B.sectors >> 11),
           B.flags & BLK_READ_ONLY ? ", read-only" : "",
           B.flags & BLK_FLUSH ? ", write cache (flush)" : "", B.slots,
           B.max_transfer / 1024);
    return 0;
}

int main(int argc, char **argv)
{
    long instance = virtio_instance_arg(argc, argv, "virtio-blk");
    if (instance < 0 || setup((uint16_t)instance) < 0)
        return 1;
    return srv_main(&server, "virtio-blk", &ops, 0);
}
