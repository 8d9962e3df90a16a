/*
 * interrupt: a device interrupt delivered as a pulse.  irq_attach routes an
 * ISA IRQ (through the IOAPIC) to a connection; each interrupt masks the
 * line and sends one pulse (code, value = IRQ number); the driver handles
 * the device and calls irq_ack, which unmasks it.  At most one attachment
 * per IRQ.
 *
 * msi_attach gives a PCI function a message-signalled interrupt: a vector
 * of the kernel's own (VEC_MSI_BASE up), delivered to the boot CPU, and
 * the address and data its device must write (the PCI server programs
 * them into the function's MSI-X table; a driver never sees the table).
 * MSIs are edge-triggered and cannot be masked here: one that comes
 * before irq_ack is remembered and its pulse sent at the ack, so pulses
 * never pile up and none is lost.  At most MSI_PER_FN per function.
 *
 * Locking: irq_lock for the tables; pulses go through ipc_lock.
 */
#ifndef KESTREL_CORE_INTERRUPT_H
#define KESTREL_CORE_INTERRUPT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/object.h"

struct connection;

struct kinterrupt {
    struct kobject obj;
    unsigned irq;               /* IOAPIC line, or the MSI vector's index */
    bool msi;
    uint32_t fn;                /* MSI: the K_PCI_FN it belongs to */
    bool remapped;              /* MSI: through the IOMMU's entry IOMMU_IRTE_MSI + irq */
    struct connection *conn;
    uint32_t code;
    volatile bool masked;       /* fired, waiting for irq_ack */
    volatile bool pending;      /* MSI: came again before the ack */
    uint64_t count;             /* interrupts taken */
};

/* Attaches IRQ; the new object (one reference) or NULL with *err set. */
struct kinterrupt *interrupt_attach(unsigned irq, struct connection *conn, uint32_t code,
                                    int *err);
/* A message-signalled interrupt for function FN; *ADDR and *DATA are
 * what its device must write. */
struct kinterrupt *interrupt_attach_msi(uint32_t fn, struct connection *conn, uint32_t code,
                                        uint64_t *addr, uint32_t *data, int *err);
int interrupt_ack(struct kinterrupt *k);
void interrupt_destroy(struct kinterrupt *k);

#endif
