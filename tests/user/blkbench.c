/*
 * blkbench: the virtio block driver's figures (tools/bench boots it with
 * bootimage/tests/blkbench.manifest on a 64 MiB disk image).  Argument:
 *
 *   insns   under TCG -icount (guest ns = instructions):
 *           blk_read_4k_ns       one 4 KiB read round trip through the
 *                                driver, the same sectors again and again
 *                                (the host's cache has them), mean of 2,000:
 *                                the guest ns of the loop (total) less those
 *                                a spinning lowest-priority thread took
 *                                while the CPU would have been idle (spin)
 *           iommu_map_unmap_ns   dma_map + dma_unmap of one 4 KiB page in the
 *                                disk's IOMMU domain (00:03.0, granted by
 *                                the manifest's pci=), mean of 2,000
 *   wall    under plain TCG (guest clock = wall clock):
 *           blk_write_ns_64mib, blk_read_ns_64mib  64 MiB sequentially in
 *                                1 MiB requests (written first, then read)
 *           driver_restart_ns    the driver killed (supervisor restart) to
 *                                the first request it serves again, median
 *                                of 5
 *   net     under TCG -icount, with the virtio network driver on QEMU's
 *           user networking (bootimage/tests/netbench.manifest):
 *           net_frame_rtt_ns     one frame out and its answer in through
 *                                the driver (an ARP request for the
 *                                gateway 10.0.2.2, which QEMU answers),
 *                                mean of 1,000, less the spinner's (as
 *                                blk_read_4k_ns)
 *
 * Lines "blkbench NAME VALUE", then "blkbench done" (or "blkbench FAIL
 * WHY").
 */
#include "base/string.h"
#include "bdev/bdev.h"
#include "netdev/netdev.h"
#include "kestrel/errors.h"
#include "kestrel/resource.h"
#include "kestrel/vm.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define MIB (1u << 20)
#define DISK_MIB 64
#define ROUNDS 2000

static struct bdev b;

static int fail(const char *why, long r)
{
    printf("blkbench FAIL %s: %s\n", why, k_strerror(r));
    return 1;
}

/* Under -icount the guest clock jumps ahead while every CPU is halted
 * (the vCPU waits for the host to do the I/O): a thread of the lowest
 * priority spins instead, and the instructions it spent are taken off. */
static volatile unsigned long spins;

static long spinner(void *arg)
{
    (void)arg;
    for (;;)
        spins++;
    return 0;
}

static uint8_t spin_stack[8192] __attribute__((aligned(16)));

/* ROUNDS calls of OP, with the spinner: prints NAME_total_ns, NAME_spin_ns
 * and NAME_ns (the difference), each a mean; 0, or OP's first error. */
static long measure(const char *name, long (*op)(void), int rounds)
{
    static struct rt_thread th;
    static bool spinning;
    struct k_thread_attr low = { .priority = 1, .policy = K_SCHED_FIFO, .cpu_mask = 0 };
    if (!spinning && rt_thread_spawn(&th, spinner, 0, spin_stack, sizeof(spin_stack), &low) < 0)
        return -E_NOMEM;
    spinning = true;
    /* Its rate: instructions (guest ns) per turn, alone for 50 ms. */
    unsigned long s0 = spins;
    long t0 = k_clock_get();
    k_thread_sleep(50 * 1000000L);
    long calib_ns = k_clock_get() - t0;
    unsigned long calib_spins = spins - s0;
    s0 = spins;
    t0 = k_clock_get();
    long err = 0;
    for (int i = 0; i < rounds; i++) {
        long r = op();
        err = err ? err : r;
    }
    long total = k_clock_get() - t0;
    long spun = (long)((double)(spins - s0) * (double)calib_ns / (double)calib_spins);
    printf("blkbench %s_total_ns %ld\n", name, total / rounds);
    printf("blkbench %s_spin_ns %ld\n", name, spun / rounds);
    printf("blkbench %s_ns %ld\n", name, (total - spun) / rounds);
    return err;
}

static long read_4k(void)
{
    long r = bdev_read(&b, 8, 8, 0);
    return r == 4096 ? 0 : r < 0 ? r : -E_IO;
}

static int insns(void)
{
    long r = bdev_read(&b, 0, 8, 0);             /* warm: the driver, the host cache */
    if (r != 4096)
        return fail("a 4 KiB read", r);
    r = measure("blk_read_4k", read_4k, ROUNDS);
    if (r < 0)
        return fail("the 4 KiB reads", r);
    long t0;

    long fn = k_resource_narrow(rt_handle("pci"), K_PCI_FN(0, 3, 0), 1);
    long v = k_vmo_create(4096, K_VMO_CONTIG, 0, 0);
    long a = fn < 0 ? fn : v < 0 ? v : k_dma_map(fn, v, 0, 4096);
    if (a < 0)
        return fail("dma_map", a);
    k_dma_unmap(fn, a, 4096);
    t0 = k_clock_get();
    for (int i = 0; i < ROUNDS; i++) {
        a = k_dma_map(fn, v, 0, 4096);
        k_dma_unmap(fn, a, 4096);
    }
    printf("blkbench iommu_map_unmap_ns %ld\n", (k_clock_get() - t0) / ROUNDS);
    return 0;
}

static int wall(void)
{
    for (unsigned i = 0; i < MIB / 8; i++)
        ((uint64_t *)b.buf)[i] = i * 0x9e3779b97f4a7c15ULL;
    long t0 = k_clock_get();
    for (unsigned m = 0; m < DISK_MIB; m++) {
        long r = bdev_write(&b, (uint64_t)m * (MIB / 512), MIB / 512, 0);
        if (r != MIB)
            return fail("a 1 MiB write", r);
    }
    if (bdev_flush(&b) < 0)
        return fail("flush", -E_IO);
    printf("blkbench blk_write_ns_64mib %ld\n", k_clock_get() - t0);
    t0 = k_clock_get();
    for (unsigned m = 0; m < DISK_MIB; m++) {
        long r = bdev_read(&b, (uint64_t)m * (MIB / 512), MIB / 512, 0);
        if (r != MIB)
            return fail("a 1 MiB read", r);
    }
    printf("blkbench blk_read_ns_64mib %ld\n", k_clock_get() - t0);

    long sup = rt_handle("supervisor");
    long times[5];
    for (int i = 0; i < 5; i++) {
        struct supervisor_restart_req q = { 0 };
        memcpy(q.name, "vblk", 5);
        struct supervisor_restart_rep rep;
        t0 = k_clock_get();
        long r = supervisor_restart(sup, &q, &rep);
        if (r < 0)
            return fail("restart", r);
        r = bdev_read(&b, 0, 8, 0);
        if (r != 4096)
            return fail("a read after the restart", r);
        times[i] = k_clock_get() - t0;
        k_thread_sleep(50 * 1000000L);
    }
    for (int i = 0; i < 5; i++)                   /* sort, for the median */
        for (int j = i + 1; j < 5; j++)
            if (times[j] < times[i]) {
                long t = times[i];
                times[i] = times[j], times[j] = t;
            }
    printf("blkbench driver_restart_ns %ld\n", times[2]);
    return 0;
}

/* ---- the network driver ---- */

static struct netdev nd;

/* Who has 10.0.2.2? asks 10.0.2.15 (RFC 826; QEMU's user network answers). */
static const uint8_t arp_who_has[42] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 10, 0, 2, 15,
    0, 0, 0, 0, 0, 0, 10, 0, 2, 2,
};

/* One ARP request out, its reply in (other frames are passed over). */
static long arp_round_trip(void)
{
    long r = netdev_send(&nd, netdev_tx_offset(0), 60);
    for (int tries = 0; r == 0 && tries < 16; tries++) {
        uint8_t f[FRAME_SLOT];
        long len = netdev_receive(&nd, 1000, f);
        if (len < 0)
            return len;
        if (len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && f[28] == 10 &&
            f[31] == 2)
            return 0;                            /* 10.0.2.2 is at ... */
    }
    return r ? r : -E_IO;
}

static int net(void)
{
    long r = netdev_open(&nd, rt_handle("vnet"));
    if (r < 0)
        return fail("a session with the network driver", r);
    uint8_t *f = netdev_tx_slot(&nd, 0);
    memset(f, 0, 60);                            /* padded to Ethernet's minimum */
    memcpy(f, arp_who_has, sizeof(arp_who_has));
    memcpy(f + 6, nd.info.mac, 6);
    memcpy(f + 22, nd.info.mac, 6);
    r = arp_round_trip();                        /* warm: the driver, QEMU's ARP */
    r = r < 0 ? r : measure("net_frame_rtt", arp_round_trip, ROUNDS / 2);
    if (r < 0)
        return fail("ARP round trips with the gateway", r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "net") == 0) {
        int e = net();
        if (!e)
            printf("blkbench done\n");
        return e;
    }
    long r = bdev_open(&b, rt_handle("vblk"), MIB);
    if (r < 0)
        return fail("a session", r);
    int e = argc > 1 && strcmp(argv[1], "wall") == 0 ? wall() : insns();
    if (!e)
        printf("blkbench done\n");
    return e;
}
