/*
 * nettest: the virtio network driver (drivers/virtio-net) through
 * lib/netdev, on QEMU's user networking (bootimage/tests/net.manifest,
 * boot net_udp_echo).  The guest is 10.0.2.15, the gateway 10.0.2.2, and
 * QEMU forwards the host's UDP port (tools/runtests chooses it) to our
 * port 7777.
 *
 *   - the interface (MAC, MTU, link); hostile calls (malformed messages,
 *     frames outside the buffer or over the MTU, slots that are not ours
 *     or do not exist, no session, attach without a handle, with a
 *     channel, with memory that is not contiguous, of the wrong size or
 *     without the rights, a second session, a client's pulses) each get
 *     their error and the driver answers on, its counters unchanged but
 *     for the pulses it counted;
 *   - an ARP request for the gateway, and its reply (the gateway's MAC);
 *   - then "ready for datagrams": the host sends numbered datagrams, one
 *     every 20 ms, which a receiving thread echoes (answering ARP
 *     requests for 10.0.2.15 too), while the main thread restarts the
 *     driver through the supervisor after ECHOES_A echoes and again
 *     ECHOES_A echoes after that: the echoes must resume after each
 *     restart (lib/netdev attaches again), until the host's "END";
 *   - a second session; a receive asked to wait for ever ends at WAIT_MAX
 *     in the driver, and netdev_receive waits longer with several; frames
 *     rejected (netdev_reject) make a complaint only in a run of
 *     RT_ATTACH_FAIL_COMPLAIN, and the driver complained of is replaced;
 *   - the driver stopped: a send fails with E_DEAD at once.
 *
 * "nettest: ok WHAT" / "FAIL WHAT", then "NETTEST DONE: N failed".
 */
#include <stdbool.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/proto.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "netdev/netdev.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define PORT 7777
#define ECHOES_A 100                   /* echoes before each restart */
#define STACK 16384
#define MS 1000000L

static const uint8_t OUR_IP[4] = { 10, 0, 2, 15 }, GW_IP[4] = { 10, 0, 2, 2 };
static const uint8_t BROADCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int failed;
static struct netdev n;
static long vnet, sup;
static uint8_t gw_mac[6];
static volatile bool gw_known;

static void check(int ok, const char *what)
{
    printf("nettest: %s %s\n", ok ? "ok" : "FAIL", what);
    failed += !ok;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071) of LEN bytes. */
static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ---- frames ---- */

/* An ARP packet (RFC 826) of OPER in transmit slot SLOT; its length. */
static uint32_t arp(unsigned slot, uint16_t oper, const uint8_t *dst_mac, const uint8_t *tha,
                    const uint8_t *tpa)
{
    uint8_t *f = netdev_tx_slot(&n, slot);
    memset(f, 0, 60);
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, n.info.mac, 6);
    put16(f + 12, 0x0806);
    put16(f + 14, 1);                            /* Ethernet */
    put16(f + 16, 0x0800);                       /* IPv4 */
    f[18] = 6, f[19] = 4;
    put16(f + 20, oper);
    memcpy(f + 22, n.info.mac, 6);
    memcpy(f + 28, OUR_IP, 4);
    memcpy(f + 32, tha, 6);
    memcpy(f + 38, tpa, 4);
    return 60;                                   /* padded to Ethernet's minimum */
}

static volatile long echoes, arp_answered, bad_ip, send_errors, receive_errors;
static volatile long last_echo_ns;
static volatile bool ended, stop_rx;

/* One received frame: ARP for us answered, a gateway's ARP reply noted,
 * a UDP datagram to PORT echoed from transmit slot 1. */
static void handle(const uint8_t *f, long len)
{
    if (len >= 42 && get16(f + 12) == 0x0806 && get16(f + 14) == 1 && get16(f + 16) == 0x0800 &&
        f[18] == 6 && f[19] == 4) {
        uint16_t oper = get16(f + 20);
        if (oper == 1 && !memcmp(f + 38, OUR_IP, 4)) {
            uint8_t sha[6], spa[4];
            memcpy(sha, f + 22, 6);
            memcpy(spa, f + 28, 4);
            uint32_t l = arp(1, 2, sha, sha, spa);
            if (netdev_send(&n, netdev_tx_offset(1), l) == 0)
                arp_answered++;
        } else if (oper == 2 && !memcmp(f + 28, GW_IP, 4) && !memcmp(f + 32, n.info.mac, 6)) {
            memcpy(gw_mac, f + 22, 6);
            gw_known = true;
        }
        return;
    }
    if (len < 14 + 20 + 8 || get16(f + 12) != 0x0800)
        return;
    const uint8_t *ip = f + 14;
    unsigned ihl = (ip[0] & 15) * 4u, total = get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl + 8 || 14 + total > (unsigned long)len ||
        ip[9] != 17 || memcmp(ip + 16, OUR_IP, 4) || (get16(ip + 6) & 0x3fff))
        return;                                  /* not IPv4 UDP to us, or a fragment */
    if (csum(ip, ihl) != 0) {
        bad_ip++;
        return;
    }
    const uint8_t *udp = ip + ihl;
    unsigned ulen = get16(udp + 4);
    if (get16(udp + 2) != PORT || ulen < 8 || ulen > total - ihl)
        return;
    uint8_t *o = netdev_tx_slot(&n, 1);
    memcpy(o, f + 6, 6);
    memcpy(o + 6, n.info.mac, 6);
    put16(o + 12, 0x0800);
    uint8_t *oip = o + 14;
    memset(oip, 0, 20);
    oip[0] = 0x45;
    put16(oip + 2, (uint16_t)(20 + ulen));
    put16(oip + 4, (uint16_t)echoes);            /* identification */
    put16(oip + 6, 0x4000);                      /* don't fragment */
    oip[8] = 64;
    oip[9] = 17;
    memcpy(oip + 12, OUR_IP, 4);
    memcpy(oip + 16, ip + 12, 4);
    put16(oip + 10, csum(oip, 20));
    uint8_t *oudp = oip + 20;
    put16(oudp, PORT);
    memcpy(oudp + 2, udp, 2);                    /* back to its source port */
    put16(oudp + 4, (uint16_t)ulen);
    put16(oudp + 6, 0);                          /* no UDP checksum */
    memcpy(oudp + 8, udp + 8, ulen - 8);
    bool end = ulen - 8 >= 3 && !memcmp(udp + 8, "END", 3);
    if (netdev_send(&n, netdev_tx_offset(1), 14 + 20 + ulen) == 0) {
        if (!end) {
            echoes++;
            last_echo_ns = k_clock_get();
        }
    } else {
        send_errors++;
    }
    if (end)
        ended = true;
}

static struct rt_thread rx_thread;
static uint8_t rx_stack[STACK] __attribute__((aligned(16)));

static long receiver(void *arg)
{
    (void)arg;
    while (!stop_rx) {
        uint8_t f[FRAME_SLOT];
        long len = netdev_receive(&n, 100, f);
        if (len == -E_TIMEOUT)
            continue;
        if (len < 0) {
            if (receive_errors++ < 3)
                printf("nettest: receive: %s\n", k_strerror(len));
            if (len == -E_DEAD)
                return 1;
            continue;
        }
        handle(f, len);
    }
    return 0;
}

/* ---- hostile calls ---- */

static long raw(long conn, uint16_t version, uint16_t msg, const void *body, size_t len)
{
    static uint8_t buf[128], rep[64];
    struct k_proto_hdr h = { .proto = FRAME_PROTO_ID, .version = version, .msg = msg };
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), body, len);
    return k_msg_send(conn, (long)buf, -(long)(sizeof(h) + len), (long)rep, -(long)sizeof(rep));
}

static long send_raw(long conn, uint64_t offset, uint32_t len, uint32_t reserved)
{
    struct frame_send_req q = { .offset = offset, .len = len, .reserved = reserved };
    struct frame_send_rep r;
    return frame_send(conn, &q, &r);
}

static long attach_with(long h, uint32_t rights, long conn)
{
    if (h > 0 && k_handle_attach(h, rights, 0) < 0)
        return -1000;
    struct frame_attach_req q = { 0 };
    struct frame_attach_rep r;
    long e = frame_attach(conn, &q, &r);
    if (e == 0) {
        long s = k_handle_received();
        if (s > 0)
            k_handle_close(s);
    }
    return e;
}

static void hostile(void)
{
    long s = n.at.session;
    struct frame_stats_req sq = { 0 };
    struct frame_stats_rep before, after;
    long st = frame_stats(vnet, &sq, &before);
    check(st == 0, "stats on the driver's connection");

    uint8_t *f = netdev_tx_slot(&n, 2);
    memset(f, 0, 64);
    uint32_t junk[6] = { 0 };
    check(raw(s, FRAME_VERSION, FRAME_MSG_SEND, junk, 6) == -E_INVAL, "a truncated send: E_INVAL");
    check(raw(s, FRAME_VERSION + 1, FRAME_MSG_SEND, junk, 16) == -E_NOSYS, "a newer client: E_NOSYS");
    check(raw(s, FRAME_VERSION, 99, junk, 16) < 0, "an unknown message: an error");
    check(send_raw(s, netdev_tx_offset(2), 0, 0) == -E_INVAL, "a frame of 0 bytes: E_INVAL");
    check(send_raw(s, netdev_tx_offset(2), 13, 0) == -E_INVAL, "a frame under a header: E_INVAL");
    check(send_raw(s, netdev_tx_offset(2), 60, 1) == -E_INVAL, "reserved bits set: E_INVAL");
    check(send_raw(s, netdev_tx_offset(2), FRAME_HEADER + n.info.mtu + 1, 0) == -E_TOOBIG,
          "a frame over the MTU: E_TOOBIG");
    check(send_raw(s, FRAME_BUFFER_SIZE - 30, 60, 0) == -E_TOOBIG,
          "a frame past the buffer's end: E_TOOBIG");
    check(send_raw(s, FRAME_BUFFER_SIZE, 60, 0) == -E_TOOBIG, "an offset at the end: E_TOOBIG");
    check(send_raw(s, ~0ULL - 20, 60, 0) == -E_TOOBIG, "an offset that wraps: E_TOOBIG");
    struct frame_receive_req rq = { .give = FRAME_RX_SLOTS, .wait_ms = 0 };
    struct frame_receive_rep rr;
    check(frame_receive(s, &rq, &rr) == -E_TOOBIG, "giving back a slot that does not exist: E_TOOBIG");
    rq = (struct frame_receive_req){ .give = 0x7fffffff, .wait_ms = 0 };
    check(frame_receive(s, &rq, &rr) == -E_TOOBIG, "giving back slot 2^31-1: E_TOOBIG");
    rq = (struct frame_receive_req){ .give = 3, .wait_ms = 0 };
    check(frame_receive(s, &rq, &rr) == -E_INVAL, "giving back a slot the device has: E_INVAL");
    struct frame_release_req lq = { .slot = 5 };
    struct frame_release_rep lr;
    check(frame_release(s, &lq, &lr) == -E_INVAL, "releasing a slot not ours: E_INVAL");
    lq.slot = 1000;
    check(frame_release(s, &lq, &lr) == -E_TOOBIG, "releasing a slot past the last: E_TOOBIG");
    check(send_raw(vnet, netdev_tx_offset(2), 60, 0) == -E_PERM,
          "a send on a connection that is no session: E_PERM");
    rq = (struct frame_receive_req){ .give = FRAME_NONE, .wait_ms = 0 };
    check(frame_receive(vnet, &rq, &rr) == -E_PERM, "a receive without a session: E_PERM");
    lq.slot = 0;
    check(frame_release(vnet, &lq, &lr) == -E_PERM, "a release without a session: E_PERM");

    check(attach_with(0, 0, vnet) == -E_BADHANDLE, "attach with no handle: E_BADHANDLE");
    long ch = k_chan_create(0);
    check(attach_with(ch, K_RIGHT_DUP | K_RIGHT_TRANSFER, vnet) == -E_WRONGTYPE,
          "attach with a channel: E_WRONGTYPE");
    k_handle_close(ch);
    long anon = k_vmo_create(FRAME_BUFFER_SIZE, K_VMO_ANON, 0, 0);
    check(attach_with(anon, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, vnet) == -E_PERM,
          "attach with memory that is not contiguous: E_PERM");
    k_handle_close(anon);
    long small = k_vmo_create(FRAME_BUFFER_SIZE / 2, K_VMO_CONTIG, 0, 0);
    check(attach_with(small, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, vnet) == -E_TOOBIG,
          "attach with a buffer of the wrong size: E_TOOBIG");
    k_handle_close(small);
    long other = k_vmo_create(FRAME_BUFFER_SIZE, K_VMO_CONTIG, 0, 0);
    check(attach_with(other, K_RIGHT_READ | K_RIGHT_MAP, vnet) == -E_RIGHTS,
          "attach with memory the device could not write: E_RIGHTS");
    check(attach_with(other, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, vnet) == -E_BUSY,
          "a second session while one lives: E_BUSY");
    k_handle_close(other);
    check(attach_with(n.at.vmo, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, s) == -E_PERM,
          "attach on a session: E_PERM");

    check(k_pulse_send(s, FRAME_IRQ_CODE, 0, 0) == 0 && k_pulse_send(vnet, FRAME_IRQ_CODE, 0, 0) == 0,
          "pulses with the interrupt's code from a client: sent");
    struct frame_info_req iq = { 0 };
    struct frame_info_rep ir;
    long r = frame_info(vnet, &iq, &ir);
    check(r == 0 && !memcmp(ir.mac, n.info.mac, 6) && ir.mtu == n.info.mtu,
          "the driver still answers, the same");
    st = frame_stats(vnet, &sq, &after);
    check(st == 0 && after.client_pulses == before.client_pulses + 2 &&
          after.stray_used == before.stray_used && after.tx_frames == before.tx_frames,
          "the pulses counted and ignored, nothing sent");
}

/* ---- restarts ---- */

static bool restart_vnet(void)
{
    struct supervisor_restart_req rq = { 0 };
    memcpy(rq.name, "vnet0", 6);
    struct supervisor_restart_rep rr;
    long r = supervisor_restart(sup, &rq, &rr);
    if (r < 0)
        printf("nettest: the supervisor's restart of vnet: %s\n", k_strerror(r));
    return r == 0;
}

/* Waits until echoes reaches COUNT (up to LIMIT_MS); whether it did. */
static bool wait_echoes(long count, long limit_ms)
{
    long t0 = k_clock_get();
    while (echoes < count && !ended) {
        if (k_clock_get() - t0 > limit_ms * MS)
            return false;
        k_thread_sleep(5 * MS);
    }
    return echoes >= count;
}

/* ---- bounded waits, rejected frames ---- */

/* A receive that asks to wait for ever waits at most FRAME_WAIT_MAX in
 * the driver; netdev_receive makes a longer wait of several. */
static void waits(void)
{
    long s = n.at.session, r = 0, ms = 0;
    uint32_t give = FRAME_NONE;
    for (int i = 0; i < 5; i++) {                /* a frame may come first: again */
        struct frame_receive_req q = { .give = give, .wait_ms = FRAME_FOREVER };
        struct frame_receive_rep rep;
        long t0 = k_clock_get();
        r = frame_receive(s, &q, &rep);
        ms = (k_clock_get() - t0) / MS;
        give = r == 0 ? rep.slot : FRAME_NONE;
        if (r != 0)
            break;
    }
    if (give != FRAME_NONE) {
        struct frame_release_req q = { .slot = give };
        struct frame_release_rep rep;
        frame_release(s, &q, &rep);
    }
    printf("nettest: a receive for ever ended with %s after %ld ms\n", k_strerror(r), ms);
    check(r == -E_TIMEOUT && ms >= FRAME_WAIT_MAX - 50 && ms < FRAME_WAIT_MAX + 1000,
          "a receive waits at most WAIT_MAX in the driver");
    uint8_t f[FRAME_SLOT];
    for (int i = 0; i < 5; i++) {
        long t0 = k_clock_get();
        r = netdev_receive(&n, 2500, f);
        ms = (k_clock_get() - t0) / MS;
        if (r < 0)
            break;
    }
    printf("nettest: netdev_receive for 2500 ms ended with %s after %ld ms\n",
           r < 0 ? k_strerror(r) : "a frame", ms);
    check(r == -E_TIMEOUT && ms >= 2450 && ms < 4000,
          "netdev_receive waits longer than WAIT_MAX, with several receives");
}

/* Frames (gateway ARP replies, asked for every 20 ms): COUNT of them
 * rejected (netdev_reject) and, with TAKE, one more taken; whether they
 * came. */
static bool replies(long count, bool take)
{
    uint8_t zero[6] = { 0 };
    long got = 0, asked = 0, t0 = k_clock_get();
    while (got < count + take && k_clock_get() - t0 < 10000 * MS) {
        if (k_clock_get() - asked > 20 * MS) {
            netdev_send(&n, netdev_tx_offset(0), arp(0, 1, BROADCAST, zero, GW_IP));
            asked = k_clock_get();
        }
        uint8_t f[FRAME_SLOT];
        if (netdev_receive(&n, 10, f) >= 0 && ++got <= count)
            netdev_reject(&n);
    }
    return got == count + take;
}

/* A driver whose frames its client keeps rejecting is complained of:
 * RT_ATTACH_FAIL_COMPLAIN in a row, not fewer, not with one taken
 * between them; the supervisor then replaces it. */
static void rejects(void)
{
    n.at.driver = "vnet0";
    uint32_t attaches = n.at.attaches;
    long half = RT_ATTACH_FAIL_COMPLAIN / 2 + 5;
    bool ok = replies(half, true) && replies(half, false);
    check(ok && n.at.complaints == 0 && n.rejected == 2 * (uint32_t)half,
          "frames rejected with one taken between them: no complaint");
    ok = ok && replies(RT_ATTACH_FAIL_COMPLAIN - half - 1, false);
    check(ok && n.at.complaints == 0, "one rejected frame short of the run: no complaint");
    ok = ok && replies(1, false);
    check(ok && n.at.complaints == 1, "a run of rejected frames: a complaint to the supervisor");
    long t0 = k_clock_get();
    while (ok && n.at.attaches == attaches && k_clock_get() - t0 < 5000 * MS) {
        uint8_t f[FRAME_SLOT];
        netdev_receive(&n, 10, f);              /* a past life's session: attaches again */
    }
    printf("nettest: %u frames rejected, %u complaints, %u sessions after them\n", n.rejected,
           n.at.complaints, n.at.attaches - attaches);
    check(n.at.attaches > attaches, "the complained-of driver was replaced (a new session)");
    n.at.driver = NULL;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    vnet = rt_handle("vnet0");
    sup = rt_handle("supervisor");
    long r = vnet < 0 ? vnet : netdev_open(&n, vnet);
    check(r == 0, "a session with the driver (its buffer attached)");
    if (r < 0 || sup < 0) {
        printf("nettest: %s\nNETTEST DONE: %d failed\n", k_strerror(r < 0 ? r : sup), failed + 1);
        return 1;
    }
    const uint8_t *m = (const uint8_t *)n.info.mac;
    printf("nettest: interface %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, link %s\n", m[0], m[1],
           m[2], m[3], m[4], m[5], n.info.mtu, n.info.flags & FRAME_LINK_UP ? "up" : "down");
    check(n.info.mtu == 1500 && (n.info.flags & FRAME_LINK_UP) && !(m[0] & 1) &&
          (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]),
          "info: a unicast MAC, MTU 1500, link up");
    hostile();

    /* ARP for the gateway, asked again every 500 ms, for up to 5 s. */
    uint8_t zero[6] = { 0 };
    long t0 = k_clock_get(), asked = 0;
    while (!gw_known && k_clock_get() - t0 < 5000 * MS) {
        if (k_clock_get() - asked > 500 * MS) {
            uint32_t l = arp(0, 1, BROADCAST, zero, GW_IP);
            r = netdev_send(&n, netdev_tx_offset(0), l);
            if (r < 0)
                printf("nettest: ARP request: %s\n", k_strerror(r));
            asked = k_clock_get();
        }
        uint8_t f[FRAME_SLOT];
        long len = netdev_receive(&n, 100, f);
        if (len >= 0)
            handle(f, len);
    }
    long arp_ms = (k_clock_get() - t0) / MS;
    if (gw_known)
        printf("nettest: the gateway 10.0.2.2 is at %02x:%02x:%02x:%02x:%02x:%02x (%ld ms)\n",
               gw_mac[0], gw_mac[1], gw_mac[2], gw_mac[3], gw_mac[4], gw_mac[5], arp_ms);
    check(gw_known, "an ARP reply from the gateway 10.0.2.2");
    netdev_release(&n);

    long h = rt_thread_spawn(&rx_thread, receiver, 0, rx_stack, STACK, 0);
    check(h >= 0, "the receiving thread started");
    printf("nettest: ready for datagrams on UDP port %d\n", PORT);

    long before = 0, restarts = 0, resumed = 0;
    bool a = wait_echoes(ECHOES_A, 30000);
    before = echoes;
    printf("nettest: %ld echoes before the first restart\n", before);
    check(a, "echoes before the first restart");
    for (int i = 1; i <= 2 && a; i++) {
        long at = echoes, t = k_clock_get();
        restarts += restart_vnet();
        bool back = wait_echoes(at + 1, 10000);
        long gap = back ? (last_echo_ns - t) / MS : -1;
        printf("nettest: restart %d of vnet done; the first echo after it %ld ms later\n", i, gap);
        resumed += back;
        if (i == 2 || !back)
            break;
        a = wait_echoes(echoes + ECHOES_A, 20000);
    }
    long after_last = echoes;
    t0 = k_clock_get();
    while (!ended && k_clock_get() - t0 < 30000 * MS)
        k_thread_sleep(10 * MS);
    after_last = echoes - after_last;
    stop_rx = true;
    if (h >= 0)
        k_thread_join(h, 0);

    struct frame_stats_req sq = { 0 };
    struct frame_stats_rep st = { 0 };
    frame_stats(vnet, &sq, &st);
    printf("nettest: %ld echoes (%ld after the last restart), %ld ARP requests answered, "
           "%ld bad IPv4 checksums, %u sessions, %u calls resent, %u replies garbage\n",
           (long)echoes, after_last, (long)arp_answered, (long)bad_ip, n.at.attaches, n.resends,
           n.garbage);
    printf("nettest: this life of the driver: %lu frames in, %lu out, %lu bad, %lu orphaned, "
           "%lu stray used entries, %lu interrupts\n", (unsigned long)st.rx_frames,
           (unsigned long)st.tx_frames, (unsigned long)st.rx_bad, (unsigned long)st.rx_orphaned,
           (unsigned long)st.stray_used, (unsigned long)st.interrupts);
    check(restarts == 2, "the driver restarted twice by the supervisor");
    check(resumed == 2, "echoes resumed after each restart");
    check(after_last >= 20, "echoes after the last restart");
    check(ended, "the host's END came");
    check(n.at.attaches == 3 && n.resends >= 2, "lib/netdev attached again after each restart");
    check(n.garbage == 0 && send_errors == 0, "no call failed, no reply made no sense");
    check(st.stray_used == 0, "the device named nothing that was not in flight");

    /* A new session in the same life: the old one's slots at the device
     * come back as orphans and are posted again with the new buffer. */
    netdev_close(&n);
    r = -E_BUSY;
    for (int i = 0; i < 50 && r == -E_BUSY; i++) {
        k_thread_sleep(10 * MS);                 /* the driver hears of the close */
        r = netdev_open(&n, vnet);
    }
    check(r == 0, "a new session once the first one closed");
    gw_known = false;
    t0 = k_clock_get(), asked = 0;
    long requests = 0;
    while (r == 0 && !gw_known && k_clock_get() - t0 < 8000 * MS) {
        if (k_clock_get() - asked > 20 * MS) {
            uint32_t l = arp(0, 1, BROADCAST, zero, GW_IP);
            requests += netdev_send(&n, netdev_tx_offset(0), l) == 0;
            asked = k_clock_get();
        }
        uint8_t f[FRAME_SLOT];
        long len = netdev_receive(&n, 10, f);
        if (len >= 0)
            handle(f, len);
    }
    struct frame_stats_rep st2 = { 0 };
    frame_stats(vnet, &sq, &st2);
    printf("nettest: the new session: %ld ARP requests, the gateway %s, %lu frames orphaned\n",
           requests, gw_known ? "answered" : "did not answer",
           (unsigned long)(st2.rx_orphaned - st.rx_orphaned));
    check(gw_known && st2.rx_orphaned > st.rx_orphaned && st2.rx_orphaned - st.rx_orphaned <= FRAME_RX_SLOTS,
          "the new session receives, after the old one's slots came back orphaned");

    waits();
    rejects();

    /* The driver stopped: a call fails with E_DEAD, at once. */
    struct supervisor_stop_req tq = { 0 };
    memcpy(tq.name, "vnet0", 6);
    struct supervisor_stop_rep tr;
    r = supervisor_stop(sup, &tq, &tr);
    k_thread_sleep(200 * MS);
    t0 = k_clock_get();
    r = r < 0 ? r : netdev_send(&n, netdev_tx_offset(0), 60);
    long ms = (k_clock_get() - t0) / MS;
    printf("nettest: with the driver stopped a send ended with %s after %ld ms\n",
           k_strerror(r), ms);
    check(r == -E_DEAD && ms < 1000, "the driver stopped: a send fails with E_DEAD, at once");
    printf("NETTEST DONE: %d failed\n", failed);
    return failed != 0;
}
