/*
 * dmatest: DMA through the IOMMU, as a driver does it and as a broken
 * driver does it, on the virtio block device (lib/virtio, polled).  The
 * disk (tools/runtests makes it) holds in each 512-byte sector its number
 * as 64-bit words.  Checks: a read of sector 5 lands in the buffer the
 * driver mapped; a write of sector 7 (a new pattern) reads back (the host
 * checks the image file after shutdown); then a request whose data
 * address is one the driver never mapped: the IOMMU refuses the device's
 * write (the kernel prints the fault; QEMU's device still reports
 * success) and the driver's own buffer keeps its sentinel.  Interrupt
 * remapping: requests whose data address is in the interrupt window
 * (0xfee00000, remappable format): the device's write is an interrupt
 * request, delivered (a pulse) for the entry of our own MSI-X vector and
 * refused (the kernel prints it) for an entry that is not present.  "dmatest: ok WHAT" / "FAIL WHAT", then "DMATEST DONE: N
 * failed".
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "protocols/pci.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "virtio/virtio.h"

#define SECTOR 512
#define BAD_IOVA 0x40000000UL          /* never mapped in the domain */

static int failed;

static void check(int ok, const char *what)
{
    printf("dmatest: %s %s\n", ok ? "ok" : "FAIL", what);
    failed += !ok;
}

struct blk_req { uint32_t type, reserved; uint64_t sector; };

static struct virtio_dev d;
static struct virtq q;
static volatile uint8_t *buf;          /* header at 0, status at 64, data at 4096 */
static uint64_t buf_iova;

/* One request of TYPE (0 read, 1 write, 8 get id) for SECTOR, LEN bytes
 * of data at device address DATA; the status byte, or a negative error. */
static long request_len(uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
    struct blk_req *h = (struct blk_req *)buf;
    *h = (struct blk_req){ .type = type, .sector = sector };
    buf[64] = 0xff;
    q.desc[0] = (struct virtq_desc){ buf_iova, sizeof(*h), VIRTQ_DESC_F_NEXT, 1 };
    q.desc[1] = (struct virtq_desc){ data, len,
                                     (uint16_t)(VIRTQ_DESC_F_NEXT | (type != 1 ? VIRTQ_DESC_F_WRITE : 0)), 2 };
    q.desc[2] = (struct virtq_desc){ buf_iova + 64, 1, VIRTQ_DESC_F_WRITE, 0 };
    virtq_submit(&q, 0);
    long id = virtq_wait(&q, 2000);
    return id < 0 ? id : buf[64];
}

static long request(uint32_t type, uint64_t sector, uint64_t data)
{
    return request_len(type, sector, data, SECTOR);
}

/* The interrupt window's address of remapping entry E, remappable format
 * (handle E, no subhandle); a 16-byte write there is four requests of E. */
static uint64_t irq_window(unsigned e)
{
    return 0xfee00000u | (e & 0x7fff) << 5 | 1u << 4 | (e >> 15) << 2;
}

#define IRQ_CODE 0x77
#define TIMEOUT_CODE 0x78

/* A pulse on CHAN within 1 s: its code, or 0 for none. */
static uint32_t next_pulse(long chan, long conn)
{
    long t = k_timer_create(conn, TIMEOUT_CODE, 0);
    k_timer_set(t, 1000 * 1000000L, 0);
    struct k_msg_info info;
    char b[8];
    long r = k_msg_receive(chan, (long)b, -(long)sizeof(b), (long)&info);
    k_handle_close(t);
    return r == 0 && info.code != TIMEOUT_CODE ? info.code : 0;
}

/* A device reaches the CPU only through its own remapping entries. */
static void remapping(void)
{
    long chan = rt_handle("chan");
    long conn = chan < 0 ? chan : k_chan_connect(chan, 5, 0);
    struct pci_msix_req mq = { .entry = 0, .code = IRQ_CODE };
    struct pci_msix_rep mr;
    long e = conn < 0 ? conn : k_handle_attach(conn, K_RIGHT_SEND, 0);
    e = e < 0 ? e : pci_msix(d.dev, &mq, &mr);
    long irq = e < 0 ? e : k_handle_received();
    check(irq > 0, "an MSI-X vector of our own (entry 0, the queue does not use it)");
    if (irq <= 0)
        return;
    /* The kernel's entry for an MSI vector (kernel/arch/x86_64/iommu.h). */
    unsigned entry = 32 + mr.vector - 0x40;
    long st = request_len(8, 0, irq_window(entry), 16);      /* its id string, 16 bytes */
    uint32_t code = next_pulse(chan, conn);
    printf("dmatest: a write into our own entry %u's window: status %ld, pulse %#x\n", entry,
           st, code);
    check(code == IRQ_CODE, "a device's write to its own entry is its interrupt (remapped)");
    k_irq_ack(irq);
    st = request_len(8, 0, irq_window(entry + 1), 16);
    code = next_pulse(chan, conn);
    printf("dmatest: a write into entry %u's window (not present): status %ld, pulse %#x\n",
           entry + 1, st, code);
    check(code == 0, "and to an entry not present, no interrupt");
    k_handle_close(irq);
    k_handle_close(conn);
}

static bool sector_is(volatile uint8_t *p, uint64_t word)
{
    for (int i = 0; i < SECTOR / 8; i++)
        if (((volatile uint64_t *)p)[i] != word)
            return false;
    return true;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long pci = rt_handle("pci");
    if (virtio_open(&d, pci, 0x1042, 0, 0) < 0 || virtio_queue(&d, &q, 0, 16, VIRTIO_NO_VECTOR) < 0) {
        check(0, "the virtio block device set up");
        printf("DMATEST DONE: %d failed\n", failed);
        return 1;
    }
    virtio_ready(&d);
    check(1, "the virtio block device set up (VERSION_1, ACCESS_PLATFORM, queue 0)");
    long v = k_vmo_create(2 * 4096, K_VMO_CONTIG, 0, 0);
    long a = v < 0 ? v : k_vmo_map(0, v, 0, 2 * 4096, K_PROT_READ | K_PROT_WRITE);
    long iova = a < 0 ? a : k_dma_map(d.fn, v, 0, 2 * 4096);
    check(iova > 0, "a buffer mapped for the device");
    if (iova <= 0) {
        printf("DMATEST DONE: %d failed\n", failed);
        return 1;
    }
    buf = (volatile uint8_t *)a;
    buf_iova = (uint64_t)iova;
    volatile uint8_t *data = buf + 4096;

    memset((void *)data, 0xee, SECTOR);
    long st = request(0, 5, buf_iova + 4096);
    check(st == 0 && sector_is(data, 5), "read of sector 5: its pattern, in our buffer");

    for (int i = 0; i < SECTOR / 8; i++)
        ((volatile uint64_t *)data)[i] = 0x4b45535452454c37ULL;       /* "KESTREL7" */
    st = request(1, 7, buf_iova + 4096);
    memset((void *)data, 0, SECTOR);
    long st2 = st == 0 ? request(0, 7, buf_iova + 4096) : -1;
    check(st == 0 && st2 == 0 && sector_is(data, 0x4b45535452454c37ULL),
          "write of sector 7, read back");

    /* A broken driver: the data address is one it never mapped. */
    memset((void *)data, 0xa5, SECTOR);
    st = request(0, 5, BAD_IOVA);
    printf("dmatest: the request with an unmapped address ended with %ld, device status %#x\n",
           st, virtio_status(&d));
    /* QEMU's device still answers 0 (its status byte is mapped): the
     * refusal is the IOMMU's, reported by the kernel (runtests checks). */
    bool kept = true;
    for (int i = 0; i < SECTOR; i++)
        kept &= data[i] == 0xa5;
    check(kept, "and our own buffer is untouched");
    k_thread_sleep(50 * 1000000L);      /* the kernel reports faults on its timer tick */
    remapping();
    k_thread_sleep(50 * 1000000L);
    printf("DMATEST DONE: %d failed\n", failed);
    return failed != 0;
}
