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

    /* The manifest's pci=0x10 grant: function 00:02.0 and no other. */
    long fn = rt_handle("pci");
    check(fn > 0 && k_resource_narrow(fn, K_PCI_FN(0, 2, 0), 1) > 0,
          "pci=0x10 grants function 00:02.0");
    check(fn > 0 && k_resource_narrow(fn, K_PCI_FN(0, 3, 0), 1) == -E_PERM,
          "and not 00:03.0");
    long v = k_vmo_create(2 * 4096, K_VMO_CONTIG, 0, 0);
    long a = k_dma_map(fn, v, 0, 2 * 4096);
    long b = k_dma_map(fn, v, 4096, 4096);
    struct k_platform pf;
    k_sys_info(K_INFO_PLATFORM, (long)&pf);
    /* Behind the IOMMU: addresses of the function's own domain, from
     * 1 MiB up, a guard page after each mapping. */
    check(pf.dma_confined && a == 0x100000 && b == 0x100000 + 3 * 4096,
          "DMA addresses are the function's domain's (1 MiB up, guard pages between)");
    check(a > 0 && k_dma_reset(fn) == 2, "its device can be given DMA memory, and it taken back");
    a = k_dma_map(fn, v, 0, 4096);
    check(a == 0x100000 && k_dma_reset(fn) == 1, "a reset domain starts afresh");
    k_handle_close(v);
    printf("PCITEST DONE: %d failed\n", failed);
    return failed != 0;
}
