/* virtio: modern PCI transport and split virtqueues (see virtio.h). */
#include "virtio/virtio.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/pci.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"

enum {                              /* common configuration */
    C_DFSELECT = 0x00, C_DF = 0x04, C_GFSELECT = 0x08, C_GF = 0x0c, C_MSIX_CONFIG = 0x10,
    C_NUMQ = 0x12,
    C_STATUS = 0x14, C_QSELECT = 0x16, C_QSIZE = 0x18, C_QMSIX = 0x1a, C_QENABLE = 0x1c,
    C_QNOTIFY = 0x1e, C_QDESC = 0x20, C_QDRIVER = 0x28, C_QDEVICE = 0x30,
};

enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_FAILED = 0x80 };
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };

#define R8(b, o) (*(volatile uint8_t *)((b) + (o)))
#define R16(b, o) (*(volatile uint16_t *)((b) + (o)))
#define R32(b, o) (*(volatile uint32_t *)((b) + (o)))

static long cfg_read(struct virtio_dev *d, uint32_t off, uint32_t len)
{
    struct pci_config_read_req q = { .offset = off, .len = len };
    struct pci_config_read_rep r;
    long e = pci_config_read(d->dev, &q, &r);
    return e < 0 ? e : (long)r.value;
}

static long fail(const char *what, long err)
{
    printf("virtio: %s: %s\n", what, k_strerror(err));
    return err < 0 ? err : -E_INVAL;
}

/* Finds the capabilities (all in one BAR: what QEMU does) and maps it. */
static long map_caps(struct virtio_dev *d)
{
    long p = cfg_read(d, 0x34, 1);
    int bar = -1;
    uint32_t off[5] = { 0 };
    bool have[5] = { false };
    for (int i = 0; i < 48 && p >= 0x40 && p <= 0xfc; i++) {
        long id = cfg_read(d, (uint32_t)p, 1), type = cfg_read(d, (uint32_t)p + 3, 1);
        if (id < 0 || type < 0)
            return fail("configuration space", id < 0 ? id : type);
        if (id == 0x09 && type >= CAP_COMMON && type <= CAP_DEVICE && !have[type]) {
            long b = cfg_read(d, (uint32_t)p + 4, 1), o = cfg_read(d, (uint32_t)p + 8, 4);
            if (bar >= 0 && b != bar)
                return fail("capabilities in more than one BAR", -E_INVAL);
            bar = (int)b;
            off[type] = (uint32_t)o;
            have[type] = true;
            if (type == CAP_NOTIFY)
                d->notify_mult = (uint32_t)cfg_read(d, (uint32_t)p + 16, 4);
        }
        p = cfg_read(d, (uint32_t)p + 1, 1) & ~3L;
    }
    if (bar < 0 || bar > 5 || !have[CAP_COMMON] || !have[CAP_NOTIFY] || !have[CAP_ISR])
        return fail("no modern virtio capabilities", -E_NOENT);
    struct pci_resource_req rq = { .what = PCI_RES_BAR0 + (uint32_t)bar };
    struct pci_resource_rep rr;
    long r = pci_resource(d->dev, &rq, &rr);
    long mm = r < 0 ? r : k_handle_received();
    if (mm < 0)
        return fail("its BAR", mm);
    d->bar_vmo = k_vmo_create((long)rr.count, K_VMO_PHYS, (long)rr.base, mm);
    k_handle_close(mm);
    long a = d->bar_vmo < 0 ? d->bar_vmo
           : k_vmo_map(0, d->bar_vmo, 0, (long)rr.count, K_PROT_READ | K_PROT_WRITE);
    if (a < 0)
        return fail("mapping its BAR", a);
    volatile uint8_t *base = (volatile uint8_t *)a;
    d->common = base + off[CAP_COMMON];
    d->notify_base = base + off[CAP_NOTIFY];
    d->isr = base + off[CAP_ISR];
    d->device_cfg = have[CAP_DEVICE] ? base + off[CAP_DEVICE] : NULL;
    return 0;
}

long virtio_instance_arg(int argc, char **argv, const char *who)
{
    if (argc == 1)
        return 0;
    long n = -1;
    if (argc == 3 && strcmp(argv[1], "--instance") == 0 && argv[2][0]) {
        n = 0;
        for (const char *p = argv[2]; *p && n >= 0; p++)
            n = *p >= '0' && *p <= '9' && n < 0xffff ? n * 10 + (*p - '0') : -1;
    }
    if (n < 0 || n > 0xfffe) {
        printf("%s: usage: %s [--instance N] (N: which of the matching devices, 0 the "
               "first, at most 65534)\n", who, who);
        return -E_INVAL;
    }
    return n;
}

long virtio_open(struct virtio_dev *d, long pci, uint16_t device, uint16_t instance,
                 uint64_t want)
{
    memset(d, 0, sizeof(*d));
    struct pci_claim_req q = { .vendor = 0x1af4, .device = device, .class = 0xff,
                               .subclass = 0xff, .instance = instance };
    struct pci_claim_rep cr;
    long r = pci_claim(pci, &q, &cr);
    for (int i = 0; r == -E_BUSY && i < 1000; i++) {    /* a past driver's, being released */
        k_thread_sleep(2 * 1000000L);
        r = pci_claim(pci, &q, &cr);
    }
    d->dev = r < 0 ? r : k_handle_received();
    if (d->dev == -E_NOENT) {
        printf("virtio: no device 1af4:%04x number %u (instances count from 0)\n", device,
               instance);
        return -E_NOENT;
    }
    if (d->dev < 0)
        return fail("claim", d->dev);
    struct pci_resource_req rq = { .what = PCI_RES_FUNCTION };
    struct pci_resource_rep rr;
    r = pci_resource(d->dev, &rq, &rr);
    d->fn = r < 0 ? r : k_handle_received();
    if (d->fn < 0)
        return fail("its function", d->fn);
    d->pci_fn = (unsigned)rr.base;
    printf("virtio: claimed %02x:%02x.%u (1af4:%04x)\n", d->pci_fn >> 8, (d->pci_fn >> 3) & 31,
           d->pci_fn & 7, device);
    if ((r = map_caps(d)) < 0)
        return r;
    volatile uint8_t *c = d->common;
    R16(c, C_MSIX_CONFIG) = VIRTIO_NO_VECTOR;
    R8(c, C_STATUS) = 0;                                  /* reset */
    for (int i = 0; i < 1000 && R8(c, C_STATUS); i++)
        k_thread_sleep(1000000);
    R8(c, C_STATUS) = S_ACK;
    R8(c, C_STATUS) = S_ACK | S_DRIVER;
    R32(c, C_DFSELECT) = 0;
    uint64_t offered = R32(c, C_DF);
    R32(c, C_DFSELECT) = 1;
    offered |= (uint64_t)R32(c, C_DF) << 32;
    uint64_t need = VIRTIO_F_VERSION_1 | VIRTIO_F_ACCESS_PLATFORM;
    if ((offered & need) != need) {
        R8(c, C_STATUS) = S_FAILED;
        printf("virtio: the device offers features %#lx, without VERSION_1 and ACCESS_PLATFORM "
               "(start QEMU with disable-legacy=on,iommu_platform=on)\n", (unsigned long)offered);
        return -E_INVAL;
    }
    d->features = offered & (want | need);
    R32(c, C_GFSELECT) = 0;
    R32(c, C_GF) = (uint32_t)d->features;
    R32(c, C_GFSELECT) = 1;
    R32(c, C_GF) = (uint32_t)(d->features >> 32);
    R8(c, C_STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK;
    if (!(R8(c, C_STATUS) & S_FEATURES_OK)) {
        R8(c, C_STATUS) = S_FAILED;
        return fail("the device refused the features", -E_INVAL);
    }
    return 0;
}

long virtio_msix(struct virtio_dev *d, uint16_t entry, long conn, uint32_t code)
{
    struct pci_msix_req q = { .entry = entry, .code = code };
    struct pci_msix_rep r;
    long e = k_handle_attach(conn, K_RIGHT_SEND, 0);
    e = e < 0 ? e : pci_msix(d->dev, &q, &r);
    long irq = e < 0 ? e : k_handle_received();
    if (irq < 0)
        return fail("MSI-X", irq);
    return irq;
}

long virtio_queue(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t size,
                  uint16_t vector)
{
    volatile uint8_t *c = d->common;
    memset(q, 0, sizeof(*q));
    if (index >= R16(c, C_NUMQ))
        return fail("no such queue", -E_NOENT);
    R16(c, C_QSELECT) = index;
    uint16_t max = R16(c, C_QSIZE);
    if (!size || (size & (size - 1)) || size > max)
        return fail("queue size", -E_INVAL);
    R16(c, C_QSIZE) = size;
    /* Descriptors, then the driver ring, then (4 KiB aligned) the device's. */
    uint64_t used_off = ((uint64_t)size * 16 + 6 + 2 * size + 4095) & ~4095ULL;
    uint64_t bytes = used_off + ((6 + 8 * (uint64_t)size + 4095) & ~4095ULL);
    q->vmo = k_vmo_create((long)bytes, K_VMO_CONTIG, 0, 0);
    long a = q->vmo < 0 ? q->vmo
           : k_vmo_map(0, q->vmo, 0, (long)bytes, K_PROT_READ | K_PROT_WRITE);
    long iova = a < 0 ? a : k_dma_map(d->fn, q->vmo, 0, (long)bytes);
    if (iova < 0)
        return fail("queue memory", iova);
    q->size = size;
    q->index = index;
    q->iova = (uint64_t)iova;
    q->desc = (volatile struct virtq_desc *)a;
    q->avail = (volatile uint16_t *)(a + 16L * size);
    q->used = (volatile uint8_t *)(a + (long)used_off);
    *(volatile uint64_t *)(c + C_QDESC) = q->iova;
    *(volatile uint64_t *)(c + C_QDRIVER) = q->iova + 16ULL * size;
    *(volatile uint64_t *)(c + C_QDEVICE) = q->iova + used_off;
    R16(c, C_QMSIX) = vector;
    if (R16(c, C_QMSIX) != vector)                        /* the device could not take it */
        return fail("the queue's MSI-X vector", -E_NOENT);
    q->notify = (volatile uint16_t *)(d->notify_base + (uint64_t)R16(c, C_QNOTIFY) * d->notify_mult);
    R16(c, C_QENABLE) = 1;
    return 0;
}

long virtio_map_buffer(struct virtio_dev *d, long handle, uint64_t min, uint64_t max,
                       uint64_t *iova)
{
    if (handle <= 0)
        return -E_BADHANDLE;
    long size = k_vmo_size(handle);
    if (size < 0)
        return size;
    if ((uint64_t)size < min || (uint64_t)size > max)
        return -E_TOOBIG;
    long a = k_dma_map(d->fn, handle, 0, size);
    if (a < 0)
        return a;
    *iova = (uint64_t)a;
    return size;
}

long virtio_ready(struct virtio_dev *d)
{
    R8(d->common, C_STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK;
    return 0;
}

uint8_t virtio_status(struct virtio_dev *d)
{
    return R8(d->common, C_STATUS);
}

void virtq_submit(struct virtq *q, uint16_t head)
{
    uint16_t idx = q->avail[1];
    q->avail[2 + idx % q->size] = head;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    q->avail[1] = (uint16_t)(idx + 1);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Fail-stop: the device is told only of the chain meant (a driver
     * gone wrong could otherwise give it an old chain again). */
    if (head >= q->size || q->avail[2 + idx % q->size] != head ||
        q->avail[1] != (uint16_t)(idx + 1))
        __builtin_trap();
    *q->notify = q->index;
}

long virtq_used(struct virtq *q, uint32_t *len)
{
    uint16_t used_idx = *(volatile uint16_t *)(q->used + 2);
    if (used_idx == q->last_used)
        return -E_AGAIN;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    volatile uint32_t *e = (volatile uint32_t *)(q->used + 4 + 8 * (q->last_used % q->size));
    uint32_t id = e[0];
    *len = e[1];
    q->last_used++;
    return id;
}

long virtq_wait(struct virtq *q, long timeout_ms)
{
    for (long i = 0; i <= timeout_ms * 10; i++) {
        uint16_t used_idx = *(volatile uint16_t *)(q->used + 2);
        if (used_idx != q->last_used) {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            uint32_t id = *(volatile uint32_t *)(q->used + 4 + 8 * (q->last_used % q->size));
            q->last_used++;
            return id;
        }
        k_thread_sleep(100000);                           /* 0.1 ms */
    }
    return -E_TIMEOUT;
}
