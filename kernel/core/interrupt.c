/* interrupt: device interrupts as pulses (see interrupt.h). */
#include "core/interrupt.h"

#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/percpu.h"
#include "core/channel.h"
#include "core/printk.h"
#include "core/slab.h"
#include "core/spinlock.h"
#include "kestrel/errors.h"
#include "kestrel/resource.h"

#define IRQ_PULSE_PRIORITY 200

static spinlock_t irq_lock = SPINLOCK_CLASS(LOCK_IRQ);
static struct kinterrupt *attached[K_IRQ_MAX];

static void irq_handler(struct trap_frame *tf)
{
    unsigned irq = (unsigned)tf->vector - VEC_IRQ_BASE;
    spin_lock(&irq_lock);
    struct kinterrupt *k = irq < K_IRQ_MAX ? attached[irq] : NULL;
    if (k) {
        ioapic_mask_gsi(ioapic_isa_to_gsi(irq));
        k->masked = true;
        k->count++;
        int r = connection_pulse(k->conn, k->code, irq, IRQ_PULSE_PRIORITY);
        if (r)
            kprintf("irq %u: pulse not delivered (error %d); line stays masked\n", irq, -r);
    }
    spin_unlock(&irq_lock);
}

struct kinterrupt *interrupt_attach(unsigned irq, struct connection *conn, uint32_t code,
                                    int *err)
{
    if (irq >= K_IRQ_MAX) {
        *err = -E_INVAL;
        return NULL;
    }
    struct kinterrupt *k = kzalloc(sizeof(*k));
    if (!k) {
        *err = -E_NOMEM;
        return NULL;
    }
    object_init(&k->obj, K_OBJ_IRQ);
    k->irq = irq;
    k->conn = conn;
    k->code = code;
    bool was = spin_lock_irqsave(&irq_lock);
    if (attached[irq]) {
        spin_unlock_irqrestore(&irq_lock, was);
        kfree(k);
        *err = -E_BUSY;
        return NULL;
    }
    object_get(&conn->obj);
    attached[irq] = k;
    trap_set_handler(VEC_IRQ_BASE + irq, irq_handler);
    bool routed = ioapic_route_isa(irq, (uint8_t)(VEC_IRQ_BASE + irq), cpus[0].apic_id);
    spin_unlock_irqrestore(&irq_lock, was);
    if (!routed) {
        interrupt_destroy(k);
        *err = -E_INVAL;
        return NULL;
    }
    *err = 0;
    return k;
}

int interrupt_ack(struct kinterrupt *k)
{
    bool was = spin_lock_irqsave(&irq_lock);
    if (k->masked && attached[k->irq] == k) {
        k->masked = false;
        ioapic_route_isa(k->irq, (uint8_t)(VEC_IRQ_BASE + k->irq), cpus[0].apic_id);
    }
    spin_unlock_irqrestore(&irq_lock, was);
    return 0;
}

void interrupt_destroy(struct kinterrupt *k)
{
    bool was = spin_lock_irqsave(&irq_lock);
    if (attached[k->irq] == k) {
        ioapic_mask_gsi(ioapic_isa_to_gsi(k->irq));
        attached[k->irq] = NULL;
    }
    spin_unlock_irqrestore(&irq_lock, was);
    object_put(&k->conn->obj);
    kfree(k);
}
