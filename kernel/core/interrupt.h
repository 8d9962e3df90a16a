/*
 * interrupt: a device interrupt delivered as a pulse.  irq_attach routes an
 * ISA IRQ (through the IOAPIC) to a connection; each interrupt masks the
 * line and sends one pulse (code, value = IRQ number); the driver handles
 * the device and calls irq_ack, which unmasks it.  At most one attachment
 * per IRQ.  Locking: irq_lock for the table; pulses go through ipc_lock.
 */
#ifndef KESTREL_CORE_INTERRUPT_H
#define KESTREL_CORE_INTERRUPT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/object.h"

struct connection;

struct kinterrupt {
    struct kobject obj;
    unsigned irq;
    struct connection *conn;
    uint32_t code;
    volatile bool masked;       /* fired, waiting for irq_ack */
    uint64_t count;             /* interrupts taken */
};

/* Attaches IRQ; the new object (one reference) or NULL with *err set. */
struct kinterrupt *interrupt_attach(unsigned irq, struct connection *conn, uint32_t code,
                                    int *err);
int interrupt_ack(struct kinterrupt *k);
void interrupt_destroy(struct kinterrupt *k);

#endif
