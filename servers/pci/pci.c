/*
 * pci: the PCI server (protocols/pci.proto), on /dev/pci.  It finds PCI
 * express configuration space where the kernel says the firmware's MCFG
 * puts it (sys_info K_INFO_PLATFORM), enumerates bus 0 and every bus
 * behind a bridge, sizes each function's BARs, finds its MSI-X
 * capability, prints one line a function, and answers list and bar.
 *
 * It is the one process that maps configuration space: a driver will be
 * given its own device from here, never the space itself (a driver that
 * could write any function's registers could move BARs over another
 * device's, or let a device master the bus unasked).
 *
 * Enumeration runs once, before serving, with the memory and I/O decode
 * of each function off while its BARs are sized (the firmware's
 * assignment is kept: a BAR is written all ones, read back, and restored).
 * Configuration space is untrusted input too: a capability list is walked
 * at most CAP_WALK_MAX steps and only inside the function's 256 bytes; a
 * bridge's secondary bus is followed only if it is above the bridge's own
 * bus, inside the ECAM window, and not seen before.
 *
 * A driver claims its device (claim): it gets a connection of its own,
 * and through it the function (for dma_map) and its memory BARs, never
 * configuration space.  When that connection's last handle goes (the
 * driver died), the device's bus mastering and decode go off and its DMA
 * mappings are dropped (dma_reset), in that order (decision 0021).
 *
 * Driver lines (manifest match=, decision 0026): with the boot manifest
 * ("manifest", which init grants the service named pci), each function
 * found (header type 0, in enumeration order) is bound to the first free
 * instance of the first driver line that matches it; the binding is a
 * function of the manifest and the bus, so every life of this server
 * makes the same one.  Each binding is reported to the supervisor (a
 * pulse through "heartbeat"), which starts only the instances reported;
 * a line that matched nothing is said once, here.  An instance (its
 * connection's badge: service index + 1) may claim only its own function,
 * and no other service may claim one that is bound: so a driver restarted
 * gets the same device back, and none can take another's.
 *
 * Start-up handles: "chan" (serve), "mmio" (must cover configuration
 * space and the BARs; the manifest grants it), "pci" (every function, to
 * hand out), "manifest" (read-only; without it no function is bound and
 * any granted service may claim any), "heartbeat" (the supervisor), "log"
 * optional.  One thread (srv_main).
 */
#include "base/manifest.h"
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/msg.h"
#include "kestrel/resource.h"
#include "kestrel/rights.h"
#include "kestrel/supervise.h"
#include "kestrel/vm.h"
#include "protocols/pci.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/srv.h"

#define FUNCS_MAX 256
#define BUS_BYTES (1UL << 20)          /* ECAM: 32 devices x 8 functions x 4 KiB */
#define CAP_WALK_MAX 48
#define MSG_MAX (sizeof(struct k_proto_hdr) + sizeof(struct pci_claim_req))

enum {                                 /* configuration space registers */
    CFG_VENDOR = 0x00, CFG_DEVICE = 0x02, CFG_COMMAND = 0x04, CFG_STATUS = 0x06,
    CFG_REVISION = 0x08, CFG_PROGIF = 0x09, CFG_SUBCLASS = 0x0a, CFG_CLASS = 0x0b,
    CFG_HEADER = 0x0e, CFG_BAR0 = 0x10, CFG_SECONDARY_BUS = 0x19,
    CFG_SUBSYS_VENDOR = 0x2c, CFG_SUBSYS = 0x2e, CFG_CAPS = 0x34, CFG_IRQ_PIN = 0x3d,
};

#define CMD_IO 1u
#define CMD_MEM 2u
#define CMD_MASTER 4u
#define STATUS_CAPS 0x10u
#define CAP_MSIX 0x11u
#define CAP_PCIE 0x10u
#define CAP_VENDOR 0x09u               /* virtio's structures are vendor capabilities */
#define VIRTIO_VENDOR 0x1af4u
#define VIRTIO_COMMON_CFG 1u           /* virtio 1.2, 4.1.4: cfg_type of the common structure */
#define VIRTIO_STATUS_OFF 20u          /* device_status in it */
#define PCIE_DEVCAP_FLR (1u << 28)
#define PCIE_DEVCTL_FLR (1u << 15)

struct bar {
    uint64_t base, size;
    uint32_t flags;                    /* PCI_BAR_* */
};

struct func {
    uint8_t bus, dev, fn, header;
    uint16_t vendor, device, subsys_vendor, subsys;
    uint8_t class, subclass, progif, revision, irq_pin;
    uint8_t msix;
    uint16_t msix_vectors;
    uint8_t msix_cap;                  /* the capability's offset */
    uint8_t msix_bar, pba_bar;         /* where the table and its pending bits are */
    uint32_t msix_off, pba_off;
    volatile uint32_t *msix_table;     /* mapped when first programmed */
    uint8_t pcie_cap;                  /* the PCI express capability's offset, or 0 */
    bool flr;                          /* it has function level reset */
    bool virtio_common;                /* a modern virtio function: its common structure */
    uint8_t virtio_bar;
    uint32_t virtio_off;
    volatile uint8_t *virtio_status;   /* mapped at the first reset */
    uint8_t nbars;
    struct bar bars[6];
    bool claimed;                      /* a driver holds its device connection */
    uint8_t bound;                     /* the driver instance's service index + 1; 0 none */
    uint8_t holder;                    /* the claimer's service index + 1 while claimed */
};

static struct {
    struct k_platform pf;
    long mmio, pci;                    /* configuration space and BARs; every function */
    volatile uint8_t *bus_map[256];    /* each bus's 1 MiB, mapped when first read */
    bool bus_seen[256];
    struct func funcs[FUNCS_MAX];
    unsigned nfuncs, dropped;
    bool have_manifest;
    struct manifest manifest;
    int16_t bound_fn[MANIFEST_SERVICES_MAX];   /* a service's function (index in funcs), or -1 */
} P;

/* ---- configuration space ---- */

/* The 4 KiB of BUS:DEV.FN, or NULL if its bus cannot be mapped. */
static volatile uint8_t *cfg(unsigned bus, unsigned dev, unsigned fn)
{
    if (bus < P.pf.bus_start || bus > P.pf.bus_end)
        return NULL;
    if (!P.bus_map[bus]) {
        uint64_t pa = P.pf.ecam_base + (uint64_t)bus * BUS_BYTES;   /* the base is bus 0's */
        long v = k_vmo_create((long)BUS_BYTES, K_VMO_PHYS, (long)pa, P.mmio);
        long a = v < 0 ? v : k_vmo_map(0, v, 0, (long)BUS_BYTES, K_PROT_READ | K_PROT_WRITE);
        if (v >= 0)
            k_handle_close(v);                 /* the mapping keeps it */
        if (a < 0) {
            printf("pci: cannot map bus %u's configuration space at %#lx: %s\n", bus,
                   (unsigned long)pa, k_strerror(a));
            return NULL;
        }
        P.bus_map[bus] = (volatile uint8_t *)a;
    }
    return P.bus_map[bus] + ((dev << 15) | (fn << 12));
}

static uint8_t rd8(volatile uint8_t *c, unsigned off) { return c[off]; }
static uint16_t rd16c(volatile uint8_t *c, unsigned off) { return *(volatile uint16_t *)(c + off); }
static uint32_t rd32c(volatile uint8_t *c, unsigned off) { return *(volatile uint32_t *)(c + off); }
static void wr16c(volatile uint8_t *c, unsigned off, uint16_t v) { *(volatile uint16_t *)(c + off) = v; }
static void wr32c(volatile uint8_t *c, unsigned off, uint32_t v) { *(volatile uint32_t *)(c + off) = v; }

/* Sizes the BARs of C (a header type 0 function: 6, a bridge: 2) with
 * its decode off; the firmware's addresses are put back. */
static void bars_read(volatile uint8_t *c, struct func *f)
{
    unsigned n = f->header == 0 ? 6 : f->header == 1 ? 2 : 0;
    uint16_t cmd = rd16c(c, CFG_COMMAND);
    wr16c(c, CFG_COMMAND, (uint16_t)(cmd & ~(CMD_IO | CMD_MEM)));
    for (unsigned i = 0; i < n; i++) {
        unsigned off = CFG_BAR0 + 4 * i;
        uint32_t lo = rd32c(c, off);
        wr32c(c, off, 0xffffffffu);
        uint32_t mask = rd32c(c, off);
        wr32c(c, off, lo);
        if (mask == 0 || mask == 0xffffffffu)
            continue;                          /* not implemented */
        struct bar *b = &f->bars[i];
        if (lo & 1) {                          /* I/O ports */
            uint32_t m = mask & ~3u;
            b->flags = PCI_BAR_IO;
            b->base = lo & ~3u;
            b->size = m ? (uint64_t)(~m & 0xffff) + 1 : 0;
        } else {
            uint64_t m = mask & ~15u, base = lo & ~15u;
            b->flags = PCI_BAR_MEM | (lo & 8 ? PCI_BAR_PREFETCH : 0);
            if ((lo & 6) == 4 && i + 1 < n) {  /* 64-bit: the next slot is the high half */
                uint32_t hi = rd32c(c, off + 4);
                wr32c(c, off + 4, 0xffffffffu);
                uint32_t mhi = rd32c(c, off + 4);
                wr32c(c, off + 4, hi);
                m |= (uint64_t)mhi << 32;
                base |= (uint64_t)hi << 32;
                b->flags |= PCI_BAR_64;
                i++;
            } else {
                m |= 0xffffffff00000000ULL;
            }
            b->base = base;
            b->size = m ? ~m + 1 : 0;
        }
        if (b->size)
            f->nbars++;
        else
            *b = (struct bar){ 0 };
    }
    wr16c(c, CFG_COMMAND, cmd);
}

/* The MSI-X capability, if the list (walked inside the 256 bytes, at
 * most CAP_WALK_MAX steps) has one. */
static void caps_read(volatile uint8_t *c, struct func *f)
{
    if (!(rd16c(c, CFG_STATUS) & STATUS_CAPS))
        return;
    unsigned p = rd8(c, CFG_CAPS) & ~3u;
    for (int i = 0; i < CAP_WALK_MAX && p >= 0x40 && p <= 0xfc; i++) {
        if (rd8(c, p) == CAP_MSIX && !f->msix) {
            uint32_t table = rd32c(c, p + 4), pba = rd32c(c, p + 8);
            f->msix = 1;
            f->msix_cap = (uint8_t)p;
            f->msix_vectors = (uint16_t)((rd16c(c, p + 2) & 0x7ff) + 1);
            f->msix_bar = table & 7, f->msix_off = table & ~7u;
            f->pba_bar = pba & 7, f->pba_off = pba & ~7u;
        } else if (rd8(c, p) == CAP_PCIE && !f->pcie_cap) {
            f->pcie_cap = (uint8_t)p;
            f->flr = (rd32c(c, p + 4) & PCIE_DEVCAP_FLR) != 0;
        } else if (rd8(c, p) == CAP_VENDOR && rd16c(c, CFG_VENDOR) == VIRTIO_VENDOR &&
                   rd8(c, p + 2) >= 16 && rd8(c, p + 3) == VIRTIO_COMMON_CFG &&
                   !f->virtio_common) {
            f->virtio_common = true;
            f->virtio_bar = rd8(c, p + 4);
            f->virtio_off = rd32c(c, p + 8);
        }
        p = rd8(c, p + 1) & ~3u;
    }
}

static void scan_bus(unsigned bus);

static void scan_func(unsigned bus, unsigned dev, unsigned fn, volatile uint8_t *c)
{
    if (P.nfuncs == FUNCS_MAX) {
        P.dropped++;
        return;
    }
    struct func *f = &P.funcs[P.nfuncs++];
    *f = (struct func){ .bus = (uint8_t)bus, .dev = (uint8_t)dev, .fn = (uint8_t)fn,
                        .header = rd8(c, CFG_HEADER) & 0x7f,
                        .vendor = rd16c(c, CFG_VENDOR), .device = rd16c(c, CFG_DEVICE),
                        .class = rd8(c, CFG_CLASS), .subclass = rd8(c, CFG_SUBCLASS),
                        .progif = rd8(c, CFG_PROGIF), .revision = rd8(c, CFG_REVISION) };
    if (f->header == 0) {
        f->subsys_vendor = rd16c(c, CFG_SUBSYS_VENDOR);
        f->subsys = rd16c(c, CFG_SUBSYS);
        f->irq_pin = rd8(c, CFG_IRQ_PIN);
    }
    bars_read(c, f);
    caps_read(c, f);
    if (f->header == 1) {
        unsigned sec = rd8(c, CFG_SECONDARY_BUS);
        if (sec > bus)
            scan_bus(sec);
        else
            printf("pci: bridge %02x:%02x.%u names secondary bus %u, not below it: not followed\n",
                   bus, dev, fn, sec);
    }
}

static void scan_bus(unsigned bus)
{
    if (bus > P.pf.bus_end || P.bus_seen[bus])
        return;
    P.bus_seen[bus] = true;
    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            volatile uint8_t *c = cfg(bus, dev, fn);
            if (!c)
                return;
            if (rd16c(c, CFG_VENDOR) == 0xffff) {
                if (fn == 0)
                    break;                     /* no device */
                continue;
            }
            bool multi = fn == 0 && (rd8(c, CFG_HEADER) & 0x80);
            scan_func(bus, dev, fn, c);
            if (fn == 0 && !multi)
                break;
        }
    }
}

/* ---- names for the listing ---- */

static const char *class_name(const struct func *f)
{
    static const struct { uint8_t class, subclass; const char *name; } names[] = {
        { 0x01, 0x00, "SCSI storage" }, { 0x01, 0x01, "IDE storage" },
        { 0x01, 0x06, "SATA storage" }, { 0x01, 0x08, "NVM storage" },
        { 0x01, 0xff, "storage" }, { 0x02, 0x00, "Ethernet" }, { 0x02, 0xff, "network" },
        { 0x03, 0x00, "VGA display" }, { 0x03, 0xff, "display" },
        { 0x06, 0x00, "host bridge" }, { 0x06, 0x01, "ISA bridge" },
        { 0x06, 0x04, "PCI bridge" }, { 0x06, 0xff, "bridge" },
        { 0x0c, 0x03, "USB" }, { 0x0c, 0x05, "SMBus" }, { 0x0c, 0xff, "serial bus" },
        { 0x00, 0xff, "other" },
    };
    const char *any = "device";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].class != f->class)
            continue;
        if (names[i].subclass == f->subclass)
            return names[i].name;
        if (names[i].subclass == 0xff)
            any = names[i].name;
    }
    return any;
}

/* Virtio's modern device IDs are 0x1040 + the virtio device type. */
static const char *virtio_name(const struct func *f)
{
    if (f->vendor != 0x1af4)
        return "";
    switch (f->device) {
    case 0x1041: return " (virtio network, modern)";
    case 0x1042: return " (virtio block, modern)";
    case 0x1000: return " (virtio network, transitional)";
    case 0x1001: return " (virtio block, transitional)";
    default: return f->device >= 0x1040 ? " (virtio, modern)" : " (virtio, transitional)";
    }
}

static void print_func(const struct func *f)
{
    printf("pci: %02x:%02x.%u %04x:%04x class %02x%02x%02x %s%s%s\n", f->bus, f->dev, f->fn,
           f->vendor, f->device, f->class, f->subclass, f->progif, class_name(f), virtio_name(f),
           f->msix ? ", MSI-X" : "");
    for (unsigned i = 0; i < 6; i++) {
        const struct bar *b = &f->bars[i];
        if (b->size)
            printf("pci:   BAR%u %s at %#lx, %lu %s\n", i,
                   b->flags & PCI_BAR_IO ? "I/O" : b->flags & PCI_BAR_64 ? "mem64" : "mem32",
                   (unsigned long)b->base,
                   (unsigned long)(b->size >= 1024 ? b->size / 1024 : b->size),
                   b->size >= 1024 ? "KiB" : "bytes");
    }
}

/* ---- driver lines: binding functions to instances ---- */

static void read_manifest(void)
{
    for (unsigned i = 0; i < MANIFEST_SERVICES_MAX; i++)
        P.bound_fn[i] = -1;
    size_t len;
    const char *text = rt_handle_text("manifest", &len);
    if (!text) {
        printf("pci: no manifest: no driver lines, functions bound to no one\n");
        return;
    }
    manifest_parse(text, len, &P.manifest);   /* init reported errors */
    P.have_manifest = true;
}

/* The first driver instance free of a function whose line matches F, or -1. */
static int instance_for(const struct func *f)
{
    for (unsigned i = 0; i < P.manifest.nservices; i++) {
        const struct manifest_service *s = &P.manifest.services[i];
        if (s->nmatch && P.bound_fn[i] < 0 &&
            manifest_matches(s, f->vendor, f->device, f->class, f->subclass))
            return (int)i;
    }
    return -1;
}

/* Whether some instance of line GROUP (its first instance's index) got a
 * function. */
static bool line_bound(unsigned first)
{
    const struct manifest_service *s = &P.manifest.services[first];
    for (unsigned k = 0; k < s->instances && first + k < P.manifest.nservices; k++)
        if (P.bound_fn[first + k] >= 0)
            return true;
    return false;
}

/* Binds every function a driver line matches, tells the supervisor, and
 * says which lines matched nothing. */
static void bind_drivers(void)
{
    if (!P.have_manifest)
        return;
    long hb = rt_handle("heartbeat");
    for (unsigned n = 0; n < P.nfuncs; n++) {
        struct func *f = &P.funcs[n];
        bool wanted = false;
        for (unsigned i = 0; i < P.manifest.nservices; i++)
            wanted |= P.manifest.services[i].nmatch &&
                      manifest_matches(&P.manifest.services[i], f->vendor, f->device,
                                       f->class, f->subclass);
        if (f->header != 0 || !wanted)
            continue;
        int i = instance_for(f);
        if (i < 0) {
            printf("pci: %02x:%02x.%u %04x:%04x: every instance of the driver lines that "
                   "match it is taken: not driven\n", f->bus, f->dev, f->fn, f->vendor, f->device);
            continue;
        }
        P.bound_fn[i] = (int16_t)n;
        f->bound = (uint8_t)(i + 1);
        const struct manifest_service *s = &P.manifest.services[i];
        long r = hb < 0 ? hb : k_pulse_send(hb, K_DEVICE_CODE,
                                            (long)K_DEVICE_VALUE(i, K_PCI_FN(f->bus, f->dev, f->fn)), 0);
        printf("pci: %02x:%02x.%u %04x:%04x is %s's (manifest:%u)%s%s\n", f->bus, f->dev, f->fn,
               f->vendor, f->device, s->name, s->line, r < 0 ? ": cannot tell the supervisor: " : "",
               r < 0 ? k_strerror(r) : "");
    }
    for (unsigned i = 0; i < P.manifest.nservices; i++) {
        const struct manifest_service *s = &P.manifest.services[i];
        if (s->nmatch && s->instance == 0 && !line_bound(i))
            printf("pci: manifest:%u: %s matched no device: no instance started\n", s->line,
                   s->group);
    }
}

/* The service name of index + 1 B, or "". */
static const char *service_name(unsigned b)
{
    return P.have_manifest && b >= 1 && b <= P.manifest.nservices ? P.manifest.services[b - 1].name : "";
}

/* ---- serving ---- */

static long on_list(void *ctx, long rcvid, const struct pci_list_req *req,
                    struct pci_list_rep *rep)
{
    (void)ctx, (void)rcvid;
    if (req->index >= P.nfuncs)
        return -E_NOENT;
    const struct func *f = &P.funcs[req->index];
    *rep = (struct pci_list_rep){
        .count = P.nfuncs, .bus = f->bus, .dev = f->dev, .fn = f->fn, .header = f->header,
        .vendor = f->vendor, .device = f->device, .subsystem_vendor = f->subsys_vendor,
        .subsystem = f->subsys, .class = f->class, .subclass = f->subclass,
        .progif = f->progif, .revision = f->revision, .irq_pin = f->irq_pin,
        .msix = f->msix, .msix_vectors = f->msix_vectors, .bars = f->nbars,
        .claimed = f->claimed };
    const char *d = service_name(f->claimed ? f->holder : f->bound);
    memcpy(rep->driver, d, strnlen(d, sizeof(rep->driver) - 1));
    return 0;
}

static long on_bar(void *ctx, long rcvid, const struct pci_bar_req *req, struct pci_bar_rep *rep)
{
    (void)ctx, (void)rcvid;
    if (req->index >= P.nfuncs)
        return -E_NOENT;
    if (req->bar >= 6)
        return -E_INVAL;
    const struct bar *b = &P.funcs[req->index].bars[req->bar];
    *rep = (struct pci_bar_rep){ .base = b->base, .size = b->size, .flags = b->flags };
    return 0;
}

static struct srv server;
static struct func *cur_client;        /* the device connection's function, or NULL */
static uint64_t cur_badge;

static bool matches(const struct func *f, const struct pci_claim_req *q)
{
    return f->header == 0 && (q->vendor == PCI_ANY || q->vendor == f->vendor) &&
           (q->device == PCI_ANY || q->device == f->device) &&
           (q->class == 0xff || q->class == f->class) &&
           (q->subclass == 0xff || q->subclass == f->subclass);
}

/* The device's bus mastering and decode on or off. */
static void device_enable(const struct func *f, bool on)
{
    volatile uint8_t *c = cfg(f->bus, f->dev, f->fn);
    if (!c)
        return;
    uint16_t cmd = rd16c(c, CFG_COMMAND);
    cmd = on ? (uint16_t)(cmd | CMD_MEM | CMD_MASTER) : (uint16_t)(cmd & ~(CMD_MEM | CMD_IO | CMD_MASTER));
    wr16c(c, CFG_COMMAND, cmd);
}

static long fn_resource(const struct func *f)
{
    return k_resource_narrow(P.pci, K_PCI_FN(f->bus, f->dev, f->fn), 1);
}

/* Hands F to the claimer (badge B): its device connection, attached to
 * the reply. */
static long give(struct func *f, unsigned i, uint64_t b, struct pci_claim_rep *rep)
{
    long c = srv_client_new(&server, f);
    if (c < 0)
        return c;
    f->claimed = true;
    f->holder = (uint8_t)b;
    device_enable(f, true);
    printf("pci: %02x:%02x.%u claimed by %s\n", f->bus, f->dev, f->fn,
           *service_name((unsigned)b) ? service_name((unsigned)b) : "a granted service");
    /* Last before the reply: an attachment rides with the next send,
     * and printf sends. */
    k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    rep->index = i;
    return 0;
}

/* A driver instance's claim: its own function, or nothing. */
static long claim_bound(unsigned svc, const struct pci_claim_req *req, struct pci_claim_rep *rep)
{
    if (P.bound_fn[svc] < 0)
        return -E_NOENT;
    unsigned i = (unsigned)P.bound_fn[svc];
    struct func *f = &P.funcs[i];
    if (!matches(f, req) || req->instance != 0)
        return -E_PERM;                        /* another's, or none */
    if (f->claimed)
        return -E_BUSY;                        /* its past life's, being released */
    return give(f, i, svc + 1, rep);
}

static long on_claim(void *ctx, long rcvid, const struct pci_claim_req *req,
                     struct pci_claim_rep *rep)
{
    (void)ctx, (void)rcvid;
    if (P.pci < 0)
        return -E_PERM;                          /* not granted the functions: cannot hand one out */
    /* Only through a connection the manifest granted (connect=pci: the
     * service's badge, 1 and up); not through /dev/pci, which anyone may
     * resolve (badge 0), nor a device connection. */
    if (cur_client || cur_badge == 0 || cur_badge > MANIFEST_SERVICES_MAX)
        return -E_PERM;
    unsigned svc = (unsigned)cur_badge - 1;
    if (P.have_manifest && svc < P.manifest.nservices && P.manifest.services[svc].nmatch)
        return claim_bound(svc, req, rep);
    /* Instance N is the Nth match in the list's order that no driver
     * instance is bound to, claimed or not (decision 0025): a driver's
     * instance names the same function in every life of it. */
    unsigned seen = 0;
    bool bound = false;
    for (unsigned i = 0; i < P.nfuncs; i++) {
        struct func *f = &P.funcs[i];
        if (!matches(f, req))
            continue;
        if (f->bound) {                        /* a driver instance's */
            bound = true;
            continue;
        }
        if (seen++ != req->instance)
            continue;
        if (f->claimed)
            return -E_BUSY;                    /* another driver's, or a past life's */
        return give(f, i, cur_badge, rep);
    }
    return bound ? -E_PERM : -E_NOENT;
}

static long on_resource(void *ctx, long rcvid, const struct pci_resource_req *req,
                        struct pci_resource_rep *rep)
{
    (void)ctx, (void)rcvid;
    const struct func *f = cur_client;
    if (!f)
        return -E_PERM;
    long h;
    if (req->what == PCI_RES_FUNCTION) {
        h = fn_resource(f);
        *rep = (struct pci_resource_rep){ .base = K_PCI_FN(f->bus, f->dev, f->fn), .count = 1 };
    } else if (req->what >= PCI_RES_BAR0 && req->what < PCI_RES_BAR0 + 6) {
        unsigned n = req->what - PCI_RES_BAR0;
        const struct bar *b = &f->bars[n];
        if (!b->size || !(b->flags & PCI_BAR_MEM))
            return -E_NOENT;
        /* The MSI-X table is the server's: whoever writes it chooses the
         * vectors its device raises, any of the kernel's. */
        if (f->msix && (n == f->msix_bar || n == f->pba_bar))
            return -E_PERM;
        h = k_resource_narrow(P.mmio, (long)b->base, (long)b->size);
        *rep = (struct pci_resource_rep){ .base = b->base, .count = b->size };
    } else {
        return -E_INVAL;
    }
    if (h < 0) {
        printf("pci: %02x:%02x.%u: cannot make resource %u: %s\n", f->bus, f->dev, f->fn,
               req->what, k_strerror(h));
        return h;
    }
    return k_handle_attach(h, K_RIGHT_MANAGE, 1);
}

/* ---- MSI-X ---- */

#define MSIX_ENABLE 0x8000u            /* message control */
#define MSIX_FUNCTION_MASK 0x4000u
#define MSIX_ENTRY_MASKED 1u           /* an entry's vector control */

/* BYTES at OFF of F's BAR N, mapped for the server itself (the BAR
 * checked: memory, the range inside), or NULL (said, as WHAT). */
static volatile uint8_t *bar_range(const struct func *f, unsigned n, uint64_t off,
                                   uint64_t bytes, const char *what)
{
    const struct bar *b = n < 6 ? &f->bars[n] : NULL;
    if (!b || !(b->flags & PCI_BAR_MEM) || off > b->size || bytes > b->size - off)
        return NULL;
    uint64_t first = (b->base + off) & ~0xfffULL;
    uint64_t len = ((b->base + off + bytes + 0xfff) & ~0xfffULL) - first;
    long v = k_vmo_create((long)len, K_VMO_PHYS, (long)first, P.mmio);
    long a = v < 0 ? v : k_vmo_map(0, v, 0, (long)len, K_PROT_READ | K_PROT_WRITE);
    if (v >= 0)
        k_handle_close(v);
    if (a < 0) {
        printf("pci: %02x:%02x.%u: cannot map its %s: %s\n", f->bus, f->dev, f->fn, what,
               k_strerror(a));
        return NULL;
    }
    return (volatile uint8_t *)(a + (long)((b->base + off) & 0xfff));
}

/* F's MSI-X table, mapped, or NULL. */
static volatile uint32_t *msix_table(struct func *f)
{
    if (!f->msix_table)
        f->msix_table = (volatile uint32_t *)bar_range(f, f->msix_bar, f->msix_off,
                                                       (uint64_t)f->msix_vectors * 16,
                                                       "MSI-X table");
    return f->msix_table;
}

/* Every entry masked and MSI-X off: F's device raises nothing. */
static void msix_off(struct func *f)
{
    volatile uint8_t *c = f->msix ? cfg(f->bus, f->dev, f->fn) : NULL;
    if (!c)
        return;
    if (f->msix_table)
        for (unsigned i = 0; i < f->msix_vectors; i++)
            f->msix_table[i * 4 + 3] = MSIX_ENTRY_MASKED;
    uint16_t ctl = rd16c(c, f->msix_cap + 2);
    wr16c(c, f->msix_cap + 2, (uint16_t)(ctl & ~MSIX_ENABLE));
}

static long cur_handle;                /* the handle the message brought, or 0 */

/* Entry ENTRY of the device's table raises a kernel vector that pulses
 * the connection the driver sent (its own channel) with CODE; the reply
 * carries the interrupt (irq_ack after each pulse). */
static long on_msix(void *ctx, long rcvid, const struct pci_msix_req *req,
                    struct pci_msix_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct func *f = cur_client;
    if (!f)
        return -E_PERM;
    if (!f->msix)
        return -E_NOENT;
    if (req->entry >= f->msix_vectors)
        return -E_INVAL;
    if (cur_handle <= 0)
        return -E_BADHANDLE;             /* no connection came with it */
    volatile uint8_t *c = cfg(f->bus, f->dev, f->fn);
    volatile uint32_t *t = c ? msix_table(f) : NULL;
    if (!t)
        return -E_NOENT;
    long fh = fn_resource(f);
    struct k_msi m;
    long irq = fh < 0 ? fh : k_msi_attach(fh, cur_handle, req->code, (long)&m);
    k_handle_close(fh);
    if (irq < 0)
        return irq;
    volatile uint32_t *e = t + req->entry * 4;
    e[3] = MSIX_ENTRY_MASKED;
    e[0] = (uint32_t)m.address;
    e[1] = (uint32_t)(m.address >> 32);
    e[2] = m.data;
    uint16_t ctl = rd16c(c, f->msix_cap + 2);
    wr16c(c, f->msix_cap + 2, (uint16_t)((ctl | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK));
    e[3] = 0;
    rep->vector = m.vector;
    return k_handle_attach(irq, K_RIGHT_MANAGE, 1);
}

/* Resets F's device, so that it does nothing more with what its driver
 * gave it (a device may still be finishing requests: QEMU's complete
 * theirs into memory they mapped at the start, whatever the IOMMU says
 * since, and that memory is freed once the domain is emptied).  A modern
 * virtio function: device_status 0, read back until 0 (virtio 1.2,
 * 4.1.4.3: the device is reset when it reads 0); otherwise function level
 * reset where it has it.  With memory decoding still on.  Says how. */
static const char *device_reset(struct func *f)
{
    volatile uint8_t *c = cfg(f->bus, f->dev, f->fn);
    if (f->virtio_common && !f->virtio_status)
        f->virtio_status = bar_range(f, f->virtio_bar, f->virtio_off + VIRTIO_STATUS_OFF, 1,
                                     "virtio common structure");
    if (f->virtio_status) {
        *f->virtio_status = 0;
        for (long end = k_clock_get() + 1000000000L; *f->virtio_status != 0;)
            if (k_clock_get() > end)
                return "virtio reset did not complete in 1 s";
        return "reset (virtio)";
    }
    if (c && f->pcie_cap && f->flr) {
        uint16_t ctl = rd16c(c, f->pcie_cap + 8);
        wr16c(c, f->pcie_cap + 8, (uint16_t)(ctl | PCIE_DEVCTL_FLR));
        k_thread_sleep(100 * 1000000L);          /* PCIe: 100 ms before it may be used */
        return "reset (function level)";
    }
    return "no way to reset it: only stopped";
}

/* Its driver is gone: the device stops and is reset, its DMA mappings
 * go, then it may be claimed again. */
static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    struct func *f = data;
    msix_off(f);
    const char *reset = device_reset(f);
    device_enable(f, false);
    long fh = fn_resource(f);
    long n = fh < 0 ? fh : k_dma_reset(fh);
    k_handle_close(fh);
    f->claimed = false;
    f->holder = 0;
    printf("pci: %02x:%02x.%u released: bus mastering off, DMA mappings dropped (%ld); %s\n",
           f->bus, f->dev, f->fn, n, reset);
}

/* Reading is harmless (a driver finds its capabilities so); writes are
 * the server's own. */
static long on_config_read(void *ctx, long rcvid, const struct pci_config_read_req *req,
                           struct pci_config_read_rep *rep)
{
    (void)ctx, (void)rcvid;
    const struct func *f = cur_client;
    if (!f)
        return -E_PERM;
    uint32_t off = req->offset, len = req->len;
    if ((len != 1 && len != 2 && len != 4) || off >= 4096 || off % len)
        return -E_INVAL;
    volatile uint8_t *c = cfg(f->bus, f->dev, f->fn);
    if (!c)
        return -E_NOENT;
    rep->value = len == 1 ? rd8(c, off) : len == 2 ? rd16c(c, off) : rd32c(c, off);
    return 0;
}

static const struct pci_server table = { .list = on_list, .bar = on_bar, .claim = on_claim,
                                         .resource = on_resource,
                                         .config_read = on_config_read, .msix = on_msix };

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];    /* one thread: srv_main */
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    cur_client = m->client;
    cur_badge = m->info.badge;
    cur_handle = m->info.handle;
    pci_dispatch(&table, m->rcvid, m->data, m->len);
    cur_client = NULL;
    cur_handle = 0;
    return SRV_REPLIED;
}

static const struct srv_ops ops = { .message = on_message, .disconnect = on_disconnect };

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long r = k_sys_info(K_INFO_PLATFORM, (long)&P.pf, 0);
    if (r < 0 || !P.pf.ecam_base) {
        printf("pci: the firmware names no PCI express configuration space (no MCFG): "
               "no devices\n");
        return 1;
    }
    P.mmio = rt_handle("mmio");
    if (P.mmio < 0) {
        printf("pci: no \"mmio\" handle (grant mmio= covering %#lx): not starting\n",
               (unsigned long)P.pf.ecam_base);
        return 1;
    }
    if (!cfg(P.pf.bus_start, 0, 0))
        return 1;
    P.pci = rt_handle("pci");
    if (P.pci < 0)
        printf("pci: no \"pci\" handle (grant pci=0x0000-0xffff): devices are listed, "
               "not handed to drivers\n");
    read_manifest();
    scan_bus(P.pf.bus_start);
    printf("pci: %u functions on segment %u%s\n", P.nfuncs, P.pf.ecam_segment,
           P.dropped ? " (more than the table holds: the rest not listed)" : "");
    for (unsigned i = 0; i < P.nfuncs; i++)
        print_func(&P.funcs[i]);
    if (P.pci >= 0)
        bind_drivers();
    if (P.pf.iommus == 0)
        printf("pci: no IOMMU: device DMA is unconfined\n");
    else if (!P.pf.dma_confined)
        printf("pci: %u IOMMU unit(s), not all on: device DMA is unconfined\n", P.pf.iommus);
    else
        printf("pci: device DMA confined by %u IOMMU unit(s): a device reaches only what "
               "its driver maps\n", P.pf.iommus);
    return srv_main(&server, "pci", &ops, 0);
}
