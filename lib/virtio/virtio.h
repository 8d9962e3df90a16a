/*
 * virtio: the shared part of Kestrel's virtio drivers (virtio 1.x, modern
 * PCI only; facts from the virtio 1.2 specification).  A driver claims
 * its device from the PCI server (servers/pci), and this library finds
 * the device's capabilities (config_read), maps the BAR that holds them,
 * negotiates features (VERSION_1 and ACCESS_PLATFORM always: the device's
 * DMA goes through the IOMMU) and sets up split virtqueues in memory the
 * device reaches through dma_map.
 *
 *   struct virtio_dev d;
 *   virtio_open(&d, pci_conn, 0x1042, 0, wanted_features); // the first, claimed, reset, features agreed
 *   struct virtq q;
 *   long irq = virtio_msix(&d, 0, conn, CODE);             // MSI-X entry 0 pulses conn
 *   virtio_queue(&d, &q, 0, 16, 0);                        // queue 0, 16 entries, entry 0
 *   virtio_ready(&d);                                      // DRIVER_OK
 *   ... descriptors into q.desc, virtq_submit(&q, head); at each pulse
 *   virtq_used(&q, &len) until -E_AGAIN, then k_irq_ack(irq) ...
 *
 * (virtio_queue with VIRTIO_NO_VECTOR and virtq_wait: polled, for tests.)
 *
 * Not thread-safe: one thread a device.
 */
#ifndef KESTREL_VIRTIO_VIRTIO_H
#define KESTREL_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_F_VERSION_1 (1ULL << 32)
#define VIRTIO_F_ACCESS_PLATFORM (1ULL << 33)

#define VIRTIO_NO_VECTOR 0xffff

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

struct virtq_desc {
    uint64_t addr;                  /* device address (dma_map's) */
    uint32_t len;
    uint16_t flags, next;
};

struct virtq {
    uint16_t size, index, last_used;
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail;       /* flags, idx, ring[size] */
    volatile uint8_t *used;         /* flags, idx, ring[size] of (id u32, len u32) */
    long vmo;                       /* the rings' memory (contiguous) */
    uint64_t iova;                  /* its device address */
    volatile uint16_t *notify;
};

struct virtio_dev {
    long dev;                       /* the device connection (pci) */
    long fn;                        /* the function (dma_map) */
    unsigned pci_fn;                /* which: bus << 8 | device << 3 | function */
    long bar_vmo;
    volatile uint8_t *common, *isr, *device_cfg, *notify_base;
    uint32_t notify_mult;
    uint64_t features;              /* agreed */
};

/* The driver's arguments: none (instance 0) or "--instance N"; N, or
 * E_INVAL after printing WHO's usage. */
long virtio_instance_arg(int argc, char **argv, const char *who);

/* Claims function 1af4:DEVICE number INSTANCE (0: the first; the PCI
 * server numbers the matches in its list's order, claimed or not, so an
 * instance is the same device in every life of its driver) through PCI
 * (the manifest's connect=pci grant; while it is still claimed, a past
 * life's being released, for up to 2 s), maps its capabilities, resets
 * it and agrees on WANT (plus VERSION_1 and ACCESS_PLATFORM, which the
 * device must offer).  0, or a negative error after printing why
 * (E_NOENT: there is no such device). */
long virtio_open(struct virtio_dev *d, long pci, uint16_t device, uint16_t instance,
                 uint64_t want);

/* MSI-X table entry ENTRY pulses connection CONN (to the driver's own
 * channel) with CODE; the interrupt's handle (irq_ack after each pulse),
 * or an error.  The PCI server programs the table: the driver never
 * maps it.  Configuration-change interrupts stay off. */
long virtio_msix(struct virtio_dev *d, uint16_t entry, long conn, uint32_t code);

/* Queue INDEX with SIZE entries (a power of two, at most the device's),
 * its rings in contiguous memory mapped for the device, interrupting
 * through MSI-X entry VECTOR (VIRTIO_NO_VECTOR: polled). */
long virtio_queue(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t size,
                  uint16_t vector);

/* A client's buffer: the memory object HANDLE (brought by its attach
 * message; <= 0: none, E_BADHANDLE) of MIN to MAX bytes (else E_TOOBIG;
 * not a memory object: E_WRONGTYPE), mapped for the device (dma_map: it
 * must be contiguous, with READ WRITE MAP); its size, *IOVA its device
 * address. */
long virtio_map_buffer(struct virtio_dev *d, long handle, uint64_t min, uint64_t max,
                       uint64_t *iova);

/* DRIVER_OK: the device may use the queues. */
long virtio_ready(struct virtio_dev *d);

/* Makes the chain at HEAD available and tells the device (after reading
 * back what it wrote: a mismatch stops the driver with a fault). */
void virtq_submit(struct virtq *q, uint16_t head);

/* The next used entry's id (its chain's head) and, in *LEN, the bytes
 * the device wrote; -E_AGAIN if there is none.  An id that names no
 * descriptor is returned as it is: the caller checks it (the device is
 * not trusted either). */
long virtq_used(struct virtq *q, uint32_t *len);

/* Waits (polling, up to TIMEOUT_MS) for the next used entry; its id, or
 * -E_TIMEOUT. */
long virtq_wait(struct virtq *q, long timeout_ms);

/* The device status register (for a test: NEEDS_RESET is 0x40). */
uint8_t virtio_status(struct virtio_dev *d);

#endif
