/*
 * faults_net: the network workload of the fault campaign
 * (tests/user/faults.c, bin/netfaults, bootimage/tests/netfaults.manifest):
 * two virtio network devices on one QEMU hub, each with its own driver
 * (side 0: the faulted one, vnet0; side 1: a clean one, vnet1), so that
 * what one sends the other receives.  Through lib/netdev, a sending
 * thread on each side sends frames to the other (direction 0: side 0 to
 * side 1; direction 1 back) and a receiving thread on each side checks
 * what comes.
 *
 * A frame says its direction, its sequence number and its length (as an
 * IP header says its total length), and carries a checksum of all of it
 * but the checksum (as UDP's covers its data and headers; FNV-1a, 32
 * bits); its payload is made from the direction and the number, its
 * length (60 .. 1514) too.  The receiver judges a frame as a network
 * stack does (decision 0027): one longer than its length field says is
 * trimmed (the rest is padding: Ethernet pads short frames, so a stack
 * never takes the frame's length for the packet's), one shorter than
 * that, or whose checksum fails, is dropped; either is counted
 * (frames_trimmed, frames_short, frames_corrupt), and a frame dropped or
 * seen already is rejected to lib/netdev (netdev_reject: a driver that
 * hands only such frames is complained of).  A frame may be lost (a wire
 * may drop, a dying driver loses what it held): counted, not an error.
 * So is one that comes twice (lib/netdev sends again what a dying driver
 * may or may not have sent).  A data error is a frame the stack would
 * take, its checksum right, that is not what was sent: other content,
 * a length other than its number's, never sent (its number not yet given
 * out), not one of ours, or at the side that sent it.
 *
 * Progress is new frames (numbered after the last one) received right, in
 * the direction that has had fewer: a driver that passes frames one way
 * only, or the same frames again and again, is not serving.  The faulted
 * side judges it as a transport's timeouts would: no progress for
 * SILENT_MS while both sides send is a complaint (netdev_complain,
 * counted in silent_complaints), once a SILENT_MS.  A sender
 * keeps at most WINDOW frames ahead of what its peer received (waiting
 * up to 20 ms, then taking what did not come as lost), so that losses are
 * the drivers' and not a flood's.
 *
 * Hostile calls: before and after the campaign the clean driver is sent
 * malformed sends and must refuse each with its error (after the faulted
 * one has put whatever it put on the wire); and the clean driver must
 * not have died (peer_deaths: deaths the supervisor counted of it).
 */
#include <stdbool.h>

#include "base/string.h"
#include "faults.h"
#include "kestrel/errors.h"
#include "netdev/netdev.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define PEER "vnet1"                   /* the clean driver */
#define ETHERTYPE 0x88b5               /* IEEE local experimental */
#define MAGIC 0x4b464e54u
#define F_MAGIC 14                     /* u32 fields after the Ethernet header */
#define F_DIR 18
#define F_SEQ 22
#define F_LEN 26
#define F_SUM 30
#define PAYLOAD 34
#define LEN_MIN 60
#define LEN_MAX 1514
#define WINDOW 24
#define STACK 16384

struct side {
    struct netdev n;
    uint8_t mac[6];
    struct rt_thread tx_th, rx_th;
    long tx, rx;                       /* the threads */
};

static struct side sides[2];
static volatile long sent[2];          /* numbers given out, by direction */
static volatile long got[2];           /* frames received right and new, by direction */
static long dups[2], foreign, hostile_failed;
static long trimmed, dropped_short, dropped_corrupt, drops_shown;
static long silent_complaints;          /* netdev_complain: nothing came through for SILENT_MS */
static long quiet_since, quiet_at;       /* faults_progress, when it last moved */
#define SILENT_MS 1000
static uint8_t stacks[4][STACK] __attribute__((aligned(16)));

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31, x *= 0x7fb5d329728ea185ULL, x ^= x >> 27, x *= 0x81dadef4bc2dd44dULL;
    return x ^ (x >> 33);
}

static uint32_t frame_len(unsigned dir, uint32_t seq)
{
    return LEN_MIN + (uint32_t)(mix(((uint64_t)dir << 32 | seq) ^ 0x4c454e) %
                                (LEN_MAX - LEN_MIN + 1));
}

static uint8_t payload_byte(unsigned dir, uint32_t seq, unsigned i)
{
    return (uint8_t)(mix(((uint64_t)dir << 63) ^ ((uint64_t)seq << 16) ^ (i / 8)) >> (8 * (i % 8)));
}

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;              /* FNV-1a */
    return h;
}

/* The checksum of a LEN-byte frame at P: every byte but its own field. */
static uint32_t checksum(const uint8_t *p, size_t len)
{
    return fnv(fnv(2166136261u, p, F_SUM), p + PAYLOAD, len - PAYLOAD);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Frame SEQ of direction DIR into P; its length. */
static uint32_t build(uint8_t *p, unsigned dir, uint32_t seq)
{
    uint32_t len = frame_len(dir, seq);
    memcpy(p, sides[1 - dir].mac, 6);
    memcpy(p + 6, sides[dir].mac, 6);
    p[12] = ETHERTYPE >> 8, p[13] = ETHERTYPE & 0xff;
    put32(p + F_MAGIC, MAGIC), put32(p + F_DIR, dir), put32(p + F_SEQ, seq);
    put32(p + F_LEN, len);
    for (unsigned i = 0; i < len - PAYLOAD; i++)
        p[PAYLOAD + i] = payload_byte(dir, seq, i);
    put32(p + F_SUM, checksum(p, len));
    return len;
}

/* Frame F of *LEN bytes received by side S, as a stack takes it: NULL,
 * or why it drops it (*DATA_ERROR false: it fails the checks a stack
 * makes) or why it is wrong though it passes them (*DATA_ERROR true).  A
 * frame longer than its length field says is trimmed (*LEN). */
static const char *judge(unsigned s, const uint8_t *f, long *len, uint32_t *seq_out,
                         bool *data_error)
{
    *data_error = false;
    uint32_t flen = *len >= PAYLOAD ? get32(f + F_LEN) : 0;
    *seq_out = *len >= PAYLOAD ? get32(f + F_SEQ) : 0;
    if (*len < PAYLOAD || flen > (uint32_t)*len) {
        __atomic_fetch_add(&dropped_short, 1, __ATOMIC_RELAXED);
        return "shorter than its length field says";
    }
    if (flen < PAYLOAD || checksum(f, flen) != get32(f + F_SUM)) {
        __atomic_fetch_add(&dropped_corrupt, 1, __ATOMIC_RELAXED);
        return "with a wrong checksum";
    }
    if (flen < (uint32_t)*len)
        __atomic_fetch_add(&trimmed, 1, __ATOMIC_RELAXED), *len = flen;
    *data_error = true;
    if (get32(f + F_MAGIC) != MAGIC || f[12] != ETHERTYPE >> 8 || f[13] != (ETHERTYPE & 0xff))
        return "not one of ours";
    unsigned dir = get32(f + F_DIR);
    uint32_t seq = *seq_out;
    if (dir != 1 - s || memcmp(f, sides[s].mac, 6) || memcmp(f + 6, sides[1 - s].mac, 6))
        return "to the wrong side";
    if ((long)seq >= sent[dir])
        return "never sent";
    if (flen != frame_len(dir, seq))
        return "of the wrong length";
    for (unsigned i = 0; i < flen - PAYLOAD; i++)
        if (f[PAYLOAD + i] != payload_byte(dir, seq, i))
            return "with other bytes than were sent";
    *data_error = false;
    return NULL;
}

static void advance(void)
{
    long p = got[0] < got[1] ? got[0] : got[1];
    long cur = __atomic_load_n(&faults_progress, __ATOMIC_RELAXED);
    while (p > cur && !__atomic_compare_exchange_n(&faults_progress, &cur, p, false,
                                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* The faulted side's end-to-end judgement, as a transport's timeouts
 * give one: both sides keep sending (their drivers answer each send),
 * and when for SILENT_MS no new frame has come through in one direction
 * or the other (progress) the faulted driver is complained of, once a
 * SILENT_MS (the new life has as long to prove itself). */
static void silence(void)
{
    long now = k_clock_get(), p = faults_progress;
    if (p != quiet_since || !quiet_at) {
        quiet_since = p, quiet_at = now;
        return;
    }
    if (now - quiet_at < SILENT_MS * FAULTS_MS)
        return;
    netdev_complain(&sides[0].n);
    silent_complaints++;
    quiet_at = now;
}

static long receiver(void *arg)
{
    unsigned s = (unsigned)(uintptr_t)arg, dir = 1 - s;
    long last = -1;
    while (!faults_done) {
        uint8_t f[FRAME_SLOT];
        long len = netdev_receive(&sides[s].n, 100, f);
        if (s == 0)
            silence();
        if (len == -E_TIMEOUT)
            continue;
        if (len < 0) {
            faults_io_error(len);
            k_thread_sleep(FAULTS_MS);
            continue;
        }
        uint32_t seq = 0;
        long got_len = len;
        bool data_error;
        const char *why = judge(s, f, &len, &seq, &data_error);
        if (why) {
            long n = data_error ? __atomic_add_fetch(&faults_data_errors, 1, __ATOMIC_RELAXED)
                                : ++drops_shown;
            foreign += why[0] == 'n' && why[1] == 'o' && why[2] == 't';
            if (n <= (data_error ? 5 : 3)) {
                printf("faults: %s: side %u received a frame of %ld bytes %s "
                       "(its number %u, %ld sent):", data_error ? "DATA ERROR" : "dropped", s,
                       got_len, why, seq, sent[dir]);
                for (unsigned i = 0; i < 34 && i < got_len; i++)
                    printf(" %02x", f[i]);
                printf("\n");
            }
            netdev_reject(&sides[s].n);
            continue;
        }
        if ((long)seq <= last) {
            dups[dir]++;                         /* again, or late: no progress */
            netdev_reject(&sides[s].n);
            continue;
        }
        last = seq;
        __atomic_fetch_add(&got[dir], 1, __ATOMIC_RELAXED);
        advance();
    }
    netdev_release(&sides[s].n);
    return 0;
}

static long sender(void *arg)
{
    unsigned dir = (unsigned)(uintptr_t)arg;
    struct netdev *n = &sides[dir].n;
    long lost = 0;                               /* sent, not received, given up on */
    while (!faults_done) {
        for (int t = 0; t < 2 && sent[dir] - got[dir] - lost > WINDOW; t++)
            k_thread_sleep(FAULTS_MS);           /* a tick or two for the peer */
        if (sent[dir] - got[dir] - lost > WINDOW)
            lost = sent[dir] - got[dir];         /* what has not come by now is lost */
        uint32_t seq = (uint32_t)sent[dir];
        uint32_t len = build(netdev_tx_slot(n, 0), dir, seq);
        __atomic_store_n(&sent[dir], seq + 1, __ATOMIC_RELEASE);   /* before it can arrive */
        long r = netdev_send(n, netdev_tx_offset(0), len);
        if (r < 0) {
            faults_io_error(r);
            k_thread_sleep(FAULTS_MS);
        }
    }
    return 0;
}

/* Malformed sends to the clean driver: each refused with its error. */
static void hostile(void)
{
    struct netdev *n = &sides[1].n;
    long s = n->at.session;
    static const struct { uint64_t offset; uint32_t len, reserved; long want; } calls[] = {
        { FRAME_TX_OFFSET, FRAME_HEADER - 1, 0, -E_INVAL },
        { FRAME_TX_OFFSET, LEN_MIN, 1, -E_INVAL },
        { FRAME_TX_OFFSET, LEN_MAX + 1, 0, -E_TOOBIG },
        { FRAME_BUFFER_SIZE - 20, LEN_MIN, 0, -E_TOOBIG },
    };
    for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        struct frame_send_req q = { calls[i].offset, calls[i].len, calls[i].reserved };
        struct frame_send_rep rep;
        long r = s > 0 ? frame_send(s, &q, &rep) : -E_NOENT;
        if (r != calls[i].want && r != -E_REVOKED) {
            hostile_failed++;
            printf("faults: the clean driver answered a malformed send (%u) %s, not %s\n", i,
                   k_strerror(r), k_strerror(calls[i].want));
        }
    }
}

static bool start_threads(void)
{
    faults_done = 0;
    quiet_at = 0;
    for (unsigned s = 0; s < 2; s++) {
        sides[s].rx = rt_thread_spawn(&sides[s].rx_th, receiver, (void *)(uintptr_t)s,
                                      stacks[2 * s], STACK, 0);
        sides[s].tx = rt_thread_spawn(&sides[s].tx_th, sender, (void *)(uintptr_t)s,
                                      stacks[2 * s + 1], STACK, 0);
        if (sides[s].rx < 0 || sides[s].tx < 0)
            return false;
    }
    return true;
}

static void stop(void)
{
    faults_done = 1;
    for (unsigned s = 0; s < 2; s++)
        k_thread_join(sides[s].tx, 0), k_thread_join(sides[s].rx, 0);
}

/* Until N more frames went both ways (or FAULTS_BACK_MS); whether they did. */
static bool flows(long n)
{
    long target = faults_progress + n;
    for (long end = k_clock_get() + FAULTS_BACK_MS * FAULTS_MS; k_clock_get() < end;) {
        if (faults_progress >= target)
            return true;
        k_thread_sleep(FAULTS_MS);
    }
    return false;
}

static int start(const char *driver)
{
    const char *names[2] = { driver, PEER };
    for (unsigned s = 0; s < 2; s++) {
        long conn = rt_handle(names[s]);
        long r = conn < 0 ? -E_NOENT : netdev_open(&sides[s].n, conn);
        if (r < 0) {
            printf("faults: cannot start (%s, a session): %s\n", names[s], k_strerror(r));
            return 2;
        }
        memcpy(sides[s].mac, sides[s].n.info.mac, 6);
    }
    if (memcmp(sides[0].mac, sides[1].mac, 6) == 0) {
        printf("faults: both drivers say the same MAC: one device twice?\n");
        return 2;
    }
    sides[0].n.at.driver = driver;     /* complaints: lib/netdev names it to the supervisor */
    hostile();
    /* Frames both ways, through drivers with no fault. */
    if (!start_threads() || !flows(200)) {
        printf("faults: no frames both ways before the first fault\n");
        return 2;
    }
    return 0;
}

static bool final_check(void)
{
    if (!start_threads())
        return false;
    bool ok = flows(500);
    stop();
    hostile();
    return ok;
}

/* frames_received, frames_out, frames_in: new frames received right (in
 * all, from the faulted side, by it); duplicates: right but not new;
 * frames_lost: sent and never received (those dropped too); frames_trimmed,
 * frames_short, frames_corrupt: as judge() took them; rejected: frames
 * the faulted side rejected to lib/netdev. */
static void detail(void)
{
    long peer = faults_deaths(PEER);
    printf(" resends=%u garbage_replies=%u complaints=%u frames_sent=%ld frames_received=%ld "
           "frames_out=%ld frames_in=%ld frames_lost=%ld duplicates=%ld foreign_frames=%ld "
           "frames_trimmed=%ld frames_short=%ld frames_corrupt=%ld rejected=%u "
           "silent_complaints=%ld peer_deaths=%ld peer_resends=%u hostile_failed=%ld",
           sides[0].n.resends, sides[0].n.garbage, sides[0].n.at.complaints, sent[0] + sent[1],
           got[0] + got[1], got[0], got[1], sent[0] + sent[1] - got[0] - got[1],
           dups[0] + dups[1], foreign, trimmed, dropped_short, dropped_corrupt,
           sides[0].n.rejected, silent_complaints, peer, sides[1].n.resends, hostile_failed);
}

/* Which way frames stopped (not the driver's stats: a call to a driver
 * that may have lost calls could wait for ever). */
static void hung(void)
{
    printf("faults:   frames out %ld of %ld sent, in %ld of %ld, %ld and %ld again; the last "
           "answer lib/netdev did not take: %s\n", got[0], sent[0], got[1], sent[1], dups[0],
           dups[1], sides[0].n.at.last_wrong > 0 ? "garbage" : k_strerror(sides[0].n.at.last_wrong));
}

const struct faults_workload faults_workload = {
    .driver = "vnet0", .start = start, .stop = stop, .final_check = final_check,
    .detail = detail, .hung = hung, .what = "frames both ways between it and a clean vnet1",
};
