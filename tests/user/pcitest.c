/*
 * pcitest: the PCI server (servers/pci) as its clients see it, on a q35
 * machine with a virtio block and a virtio network device (modern only):
 * the host bridge first, both virtio functions with their memory BARs
 * and MSI-X, the listing consistent from call to call; and hostile
 * messages (an index past the end, a BAR number over 5, a truncated
 * request, a wrong protocol, a newer version), each a clean error with
 * the server still answering.  "pcitest: ok WHAT" / "FAIL WHAT", then
 * "PCITEST DONE: N failed".
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/proto.h"
#include "kestrel/resource.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/pci.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"

static int failed;

static void check(int ok, const char *what)
{
    printf("pcitest: %s %s\n", ok ? "ok" : "FAIL", what);
    failed += !ok;
}

static long raw(long conn, uint32_t proto, uint16_t version, uint16_t msg, const void *body,
                size_t len)
{
    static uint8_t buf[128], rep[256];
    struct k_proto_hdr h = { .proto = proto, .version = version, .msg = msg };
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), body, len);
    return k_msg_send(conn, (long)buf, -(long)(sizeof(h) + len), (long)rep, -(long)sizeof(rep));
}

/* The function with VENDOR:DEVICE, or -1. */
static long find(long conn, uint16_t vendor, uint16_t device, struct pci_list_rep *out)
{
    for (uint32_t i = 0;; i++) {
        struct pci_list_req q = { .index = i };
        if (pci_list(conn, &q, out) < 0)
            return -1;
        if (out->vendor == vendor && out->device == device)
            return i;
    }
}

/* A virtio modern function: a 64-bit memory BAR (its capabilities' home)
 * and MSI-X with a vector or more. */
static void virtio_checks(long conn, uint16_t device, const char *what)
{
    char line[96];
    struct pci_list_rep f;
    long i = find(conn, 0x1af4, device, &f);
    snprintf(line, sizeof(line), "%s found (1af4:%04x)", what, device);
    check(i >= 0, line);
    if (i < 0)
        return;
    int mem64 = 0;
    for (uint32_t b = 0; b < 6; b++) {
        struct pci_bar_req q = { .index = (uint32_t)i, .bar = b };
        struct pci_bar_rep r;
        if (pci_bar(conn, &q, &r) == 0 && r.size && (r.flags & PCI_BAR_64) &&
            (r.flags & PCI_BAR_MEM) && r.base && !(r.base & (r.size - 1)))
            mem64++;
    }
    snprintf(line, sizeof(line), "%s: a 64-bit memory BAR, aligned to its size", what);
    check(mem64 >= 1, line);
    snprintf(line, sizeof(line), "%s: MSI-X with %u vectors", what, f.msix_vectors);
    check(f.msix && f.msix_vectors >= 2, line);
}

/* Interrupts: the MSI-X table is the server's (its BAR is never handed
 * out); msix programs an entry for the driver's channel and gives the
 * interrupt; hostile requests fail cleanly. */
static void msix(long anyone, long dev, long fn)
{
    struct pci_resource_req rq = { .what = PCI_RES_BAR0 + 1 };
    struct pci_resource_rep rr;
    check(pci_resource(dev, &rq, &rr) == -E_PERM,
          "resource: BAR 1 (the MSI-X table) is the server's: E_PERM");
    long ch = k_chan_create(0);
    long conn = k_chan_connect(ch, 77, 0);
    struct pci_msix_req mq = { .entry = 0, .code = 0x99 };
    struct pci_msix_rep mr;
    check(pci_msix(dev, &mq, &mr) == -E_BADHANDLE, "msix with no connection: E_BADHANDLE");
    k_handle_attach(conn, K_RIGHT_SEND, 0);
    check(pci_msix(anyone, &mq, &mr) == -E_PERM, "msix on /dev/pci: E_PERM");
    mq.entry = 0xffff;
    k_handle_attach(conn, K_RIGHT_SEND, 0);
    check(pci_msix(dev, &mq, &mr) == -E_INVAL, "msix past the table: E_INVAL");
    mq.entry = 1;
    k_handle_attach(conn, K_RIGHT_SEND, 0);
    long r = pci_msix(dev, &mq, &mr);
    long irq = r == 0 ? k_handle_received() : r;
    check(irq > 0 && mr.vector >= 0x40 && mr.vector < 0xe0 && k_irq_ack(irq) == 0,
          "msix: entry 1 programmed, an interrupt of a kernel vector (0x40-0xdf)");
    struct k_msi m;
    int bad = 0;
    bad += k_msi_attach(fn, conn, 1, 0) == -E_FAULT;
    bad += k_msi_attach(fn, conn, -1, (long)&m) == -E_INVAL;
    bad += k_msi_attach(fn, ch, 1, (long)&m) == -E_WRONGTYPE;
    bad += k_msi_attach(rt_handle("log"), conn, 1, (long)&m) < 0;
    long mine[40];
    int got = 0;
    for (int i = 0; i < 40; i++)
        if ((mine[i] = k_msi_attach(fn, conn, 2, (long)&m)) > 0)
            got++;
    check(bad == 4 && got == 31,
          "msi_attach: a bad pointer, code, connection or resource refused; 32 a function at most");
    for (int i = 0; i < 40; i++)
        if (mine[i] > 0)
            k_handle_close(mine[i]);
    k_handle_close(irq);
    k_handle_close(conn);
    k_handle_close(ch);
}

/* A driver's view: claim the virtio block device through the manifest's
 * connect=pci grant; its function (for DMA) and its BAR, nothing more;
 * released when the device connection goes, and claimable again, its DMA
 * domain empty. */
static void claims(long anyone)
{
    struct pci_claim_req q = { .vendor = 0x1af4, .device = 0x1042, .class = 0xff,
                               .subclass = 0xff };
    struct pci_claim_rep cr;
    check(pci_claim(anyone, &q, &cr) == -E_PERM, "claim through /dev/pci (anyone's): E_PERM");
    long granted = rt_handle("pci");
    long r = pci_claim(granted, &q, &cr);
    long dev = r == 0 ? k_handle_received() : -1;
    check(r == 0 && dev > 0, "claim through the manifest's connect=pci: a device connection");
    if (dev <= 0)
        return;
    check(pci_claim(granted, &q, &cr) == -E_BUSY, "claimed twice: E_BUSY (none unclaimed)");
    struct pci_resource_req rq = { .what = PCI_RES_FUNCTION };
    struct pci_resource_rep rr;
    r = pci_resource(dev, &rq, &rr);
    long fn = r == 0 ? k_handle_received() : -1;
    check(fn > 0 && rr.count == 1, "resource: the function");
    check(k_resource_narrow(fn, (long)rr.base, 2) == -E_RIGHTS &&
          k_handle_dup(fn, K_RIGHT_MANAGE) == -E_RIGHTS,
          "MANAGE only: it cannot be widened, copied or passed on");
    check(pci_resource(anyone, &rq, &rr) == -E_PERM, "resource on /dev/pci: E_PERM");
    long v = k_vmo_create(2 * 4096, K_VMO_CONTIG, 0, 0);
    long a = k_dma_map(fn, v, 0, 2 * 4096);
    long b = k_dma_map(fn, v, 4096, 4096);
    struct k_platform pf;
    k_sys_info(K_INFO_PLATFORM, (long)&pf, 0);
    /* Behind the IOMMU: addresses of the function's own domain, from
     * 1 MiB up, a guard page after each mapping. */
    check(pf.dma_confined && a == 0x100000 && b == 0x100000 + 3 * 4096,
          "DMA addresses are the function's domain's (1 MiB up, guard pages between)");
    /* BAR 4: the virtio capabilities' home; its common configuration at
     * 0 says how many queues there are (num_queues at 0x12). */
    rq.what = PCI_RES_BAR0 + 4;
    r = pci_resource(dev, &rq, &rr);
    long mm = r == 0 ? k_handle_received() : -1;
    long bv = mm > 0 ? k_vmo_create((long)rr.count, K_VMO_PHYS, (long)rr.base, mm) : -1;
    long ba = bv > 0 ? k_vmo_map(0, bv, 0, (long)rr.count, K_PROT_READ) : -1;
    check(ba > 0 && *(volatile uint16_t *)(ba + 0x12) >= 1,
          "resource: BAR 4, mapped: the device's common configuration (num_queues >= 1)");
    check(mm > 0 && k_vmo_create(4096, K_VMO_PHYS, (long)(rr.base + rr.count), mm) == -E_PERM,
          "and nothing past it");
    rq.what = PCI_RES_BAR0;
    check(pci_resource(dev, &rq, &rr) == -E_NOENT, "resource: an absent BAR: E_NOENT");
    rq.what = 7;
    check(pci_resource(dev, &rq, &rr) == -E_INVAL, "resource 7: E_INVAL");
    struct pci_config_read_req cq = { .offset = 0, .len = 4 };
    struct pci_config_read_rep cv;
    check(pci_config_read(dev, &cq, &cv) == 0 && cv.value == 0x10421af4,
          "config_read: its own vendor and device");
    int bad = 0;
    static const uint32_t offs[][2] = { { 1, 4 }, { 2, 4 }, { 4096, 1 }, { 0xfffffffc, 4 },
                                        { 0, 3 }, { 0, 0 }, { 0, 8 } };
    for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        cq = (struct pci_config_read_req){ .offset = offs[i][0], .len = offs[i][1] };
        bad += pci_config_read(dev, &cq, &cv) == -E_INVAL;
    }
    check(bad == 7, "config_read unaligned, past 4 KiB or of a bad length: E_INVAL");
    cq = (struct pci_config_read_req){ .offset = 0, .len = 4 };
    check(pci_config_read(anyone, &cq, &cv) == -E_PERM, "config_read on /dev/pci: E_PERM");
    msix(anyone, dev, fn);
    if (ba > 0)
        k_vm_unmap(0, ba, (long)rr.count);
    k_handle_close(bv);
    k_handle_close(mm);
    /* The driver goes: the server stops the device and empties its domain. */
    k_handle_close(dev);
    r = -1;
    long dev2 = -1;
    for (int i = 0; i < 100 && r != 0; i++) {
        r = pci_claim(granted, &q, &cr);
        if (r != 0)
            k_thread_sleep(10 * 1000000L);
    }
    dev2 = r == 0 ? k_handle_received() : -1;
    check(dev2 > 0, "released when the device connection is gone: claimable again");
    check(k_dma_map(fn, v, 0, 4096) == 0x100000 && k_dma_reset(fn) == 1,
          "and its DMA domain was emptied (addresses start afresh)");
    k_handle_close(dev2);
    k_handle_close(v);
    k_handle_close(fn);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    struct rt_service pci = { .path = "/dev/pci", .wait_ms = 5000 };
    long r = rt_service_connect(&pci);
    check(r == 0, "/dev/pci answers");
    if (r < 0) {
        printf("PCITEST DONE: %d failed\n", failed);
        return 1;
    }
    long c = pci.conn;
    struct pci_list_req q = { .index = 0 };
    struct pci_list_rep f0;
    r = pci_list(c, &q, &f0);
    check(r == 0 && f0.bus == 0 && f0.dev == 0 && f0.fn == 0 && f0.vendor == 0x8086 &&
          f0.device == 0x29c0 && f0.class == 6 && f0.subclass == 0,
          "00:00.0 is q35's host bridge (8086:29c0, class 0600)");
    uint32_t n = f0.count, same = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct pci_list_req qi = { .index = i };
        struct pci_list_rep fi;
        same += pci_list(c, &qi, &fi) == 0 && fi.count == n && fi.vendor != 0xffff;
    }
    check(n >= 4 && same == n, "every index below count answers, with the same count");
    virtio_checks(c, 0x1042, "virtio block");
    virtio_checks(c, 0x1041, "virtio network");

    /* Hostile. */
    struct pci_list_req past = { .index = n };
    struct pci_list_rep junk;
    check(pci_list(c, &past, &junk) == -E_NOENT, "list past the last: E_NOENT");
    past.index = 0xffffffffu;
    check(pci_list(c, &past, &junk) == -E_NOENT, "list at index 2^32-1: E_NOENT");
    struct pci_bar_req b6 = { .index = 0, .bar = 6 };
    struct pci_bar_rep br;
    check(pci_bar(c, &b6, &br) == -E_INVAL, "BAR 6: E_INVAL");
    b6.bar = 0xffffffffu;
    check(pci_bar(c, &b6, &br) == -E_INVAL, "BAR 2^32-1: E_INVAL");
    struct pci_bar_req bn = { .index = n, .bar = 0 };
    check(pci_bar(c, &bn, &br) == -E_NOENT, "a BAR of a function past the last: E_NOENT");
    uint32_t idx = 0;
    check(raw(c, PCI_PROTO_ID, PCI_VERSION, PCI_MSG_BAR, &idx, 2) == -E_INVAL,
          "a truncated bar request: E_INVAL");
    check(raw(c, 0x12345678, PCI_VERSION, PCI_MSG_LIST, &idx, 4) == -E_INVAL,
          "another protocol's id: E_INVAL");
    check(raw(c, PCI_PROTO_ID, PCI_VERSION + 1, PCI_MSG_LIST, &idx, 4) == -E_NOSYS,
          "a newer client: E_NOSYS");
    check(raw(c, PCI_PROTO_ID, PCI_VERSION, 99, &idx, 4) < 0, "an unknown message: an error");
    check(k_msg_send(c, 0, 0, 0, 0) < 0, "an empty message: an error");
    r = pci_list(c, &q, &f0);
    check(r == 0 && f0.count == n, "the server still answers, the same");

    claims(c);
    printf("PCITEST DONE: %d failed\n", failed);
    return failed != 0;
}
