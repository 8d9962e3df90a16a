/* interrupt: device interrupts as pulses (see interrupt.h). */
#include "core/interrupt.h"

#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/iommu.h"
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
#define MSI_PER_FN 32             /* a driver cannot take every vector */
#define MSI_ADDRESS 0xfee00000u   /* the local APICs' window (SDM vol. 3, 11.11.1) */

static spinlock_t irq_lock = SPINLOCK_CLASS(LOCK_IRQ);
static struct kinterrupt *attached[K_IRQ_MAX];
static struct kinterrupt *msi_attached[VEC_MSI_COUNT];

static void pulse(struct kinterrupt *k)
{
    k->masked = true;
    k->count++;
    int r = connection_pulse_irq(k->conn, k->code, k->irq, IRQ_PULSE_PRIORITY);
    if (r)
        kprintf("%s %u: pulse not delivered (error %d); %s\n", k->msi ? "msi" : "irq", k->irq,
                -r, k->msi ? "waits for its ack" : "line stays masked");
}

static void irq_handler(struct trap_frame *tf)
{
    unsigned irq = (unsigned)tf->vector - VEC_IRQ_BASE;
    spin_lock(&irq_lock);
    struct kinterrupt *k = irq < K_IRQ_MAX ? attached[irq] : NULL;
    if (k) {
        ioapic_mask_gsi(ioapic_isa_to_gsi(irq));
        pulse(k);
    }
    spin_unlock(&irq_lock);
}

static void msi_handler(struct trap_frame *tf)
{
    unsigned i = (unsigned)tf->vector - VEC_MSI_BASE;
    spin_lock(&irq_lock);
    struct kinterrupt *k = i < VEC_MSI_COUNT ? msi_attached[i] : NULL;
    if (k && k->masked)
        k->pending = true;              /* its pulse goes at the ack */
    else if (k)
        pulse(k);
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

struct kinterrupt *interrupt_attach_msi(uint32_t fn, struct connection *conn, uint32_t code,
                                        uint64_t *addr, uint32_t *data, int *err)
{
    struct kinterrupt *k = kzalloc(sizeof(*k));
    if (!k) {
        *err = -E_NOMEM;
        return NULL;
    }
    object_init(&k->obj, K_OBJ_IRQ);
    k->msi = true;
    k->fn = fn;
    k->conn = conn;
    k->code = code;
    bool was = spin_lock_irqsave(&irq_lock);
    unsigned free = VEC_MSI_COUNT, mine = 0;
    for (unsigned i = VEC_MSI_COUNT; i-- > 0;) {
        if (!msi_attached[i])
            free = i;
        else if (msi_attached[i]->fn == fn)
            mine++;
    }
    if (free == VEC_MSI_COUNT || mine >= MSI_PER_FN) {
        spin_unlock_irqrestore(&irq_lock, was);
        kfree(k);
        *err = free == VEC_MSI_COUNT ? -E_FULL : -E_TOOBIG;
        return NULL;
    }
    object_get(&conn->obj);
    k->irq = free;
    msi_attached[free] = k;
    trap_set_handler(VEC_MSI_BASE + free, msi_handler);
    spin_unlock_irqrestore(&irq_lock, was);
    /* Fixed delivery, edge, physical destination: the boot CPU.  Remapped
     * where the IOMMU can (only FN may use its entry): the message names
     * the entry (remappable format, handle bits 19:5 and 2, no
     * subhandle), not the vector. */
    unsigned entry = IOMMU_IRTE_MSI + free;
    k->remapped = iommu_irte_set(entry, (uint16_t)fn, (uint8_t)(VEC_MSI_BASE + free),
                                 cpus[0].apic_id, false);
    if (k->remapped) {
        *addr = MSI_ADDRESS | (entry & 0x7fff) << 5 | 1u << 4 | (entry >> 15) << 2;
        *data = 0;
    } else {
        *addr = MSI_ADDRESS | ((uint64_t)cpus[0].apic_id << 12);
        *data = VEC_MSI_BASE + free;
    }
    *err = 0;
    return k;
}

int interrupt_ack(struct kinterrupt *k)
{
    bool was = spin_lock_irqsave(&irq_lock);
    if (k->msi) {
        if (k->pending) {
            k->pending = false;
            pulse(k);                   /* stays masked: the next ack ends it */
        } else {
            k->masked = false;
        }
    } else if (k->masked && attached[k->irq] == k) {
        k->masked = false;
        ioapic_route_isa(k->irq, (uint8_t)(VEC_IRQ_BASE + k->irq), cpus[0].apic_id);
    }
    spin_unlock_irqrestore(&irq_lock, was);
    return 0;
}

void interrupt_destroy(struct kinterrupt *k)
{
    /* Its device's messages are refused from now on; first, while the
     * entry is still this one's (the next attachment may take it). */
    if (k->remapped)
        iommu_irte_clear(IOMMU_IRTE_MSI + k->irq, (uint16_t)k->fn);
    bool was = spin_lock_irqsave(&irq_lock);
    if (k->msi) {
        /* The device may still send it: the vector stays handled (its
         * interrupts are dropped) until another attachment takes it. */
        if (msi_attached[k->irq] == k)
            msi_attached[k->irq] = NULL;
    } else if (attached[k->irq] == k) {
        ioapic_mask_gsi(ioapic_isa_to_gsi(k->irq));
        attached[k->irq] = NULL;
    }
    spin_unlock_irqrestore(&irq_lock, was);
    object_put(&k->conn->obj);
    kfree(k);
}
