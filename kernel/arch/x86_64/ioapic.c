/*
 * ioapic: the I/O APICs that ACPI lists (see ioapic.h).
 *
 * Each IOAPIC serves GSIs [gsi_base, gsi_base + inputs).  At init every
 * input is masked; the legacy 8259 PICs were already moved off the
 * exception vectors (to VEC_IRQ_BASE..+15) and fully masked by
 * pic_disable (called early in kmain, see pic.c), so device interrupts
 * only arrive through routes made here.  ISA IRQs map to GSIs one to one,
 * except where the MADT has an interrupt source override, whose polarity
 * and trigger flags then apply (ISA default: edge, active high).
 *
 * Locking: one spinlock around the select/window register pair, taken with
 * interrupts off.
 */
#include "arch/x86_64/ioapic.h"

#include <stddef.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/iommu.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/trap.h"
#include "core/printk.h"
#include "core/spinlock.h"

#define REG_VER 0x01
#define REG_REDIR 0x10
#define RTE_MASKED (1u << 16)
#define RTE_LEVEL (1u << 15)
#define RTE_ACTIVE_LOW (1u << 13)

#define MPS_POLARITY_MASK 0x3
#define MPS_POLARITY_LOW 0x3
#define MPS_TRIGGER_MASK 0xC
#define MPS_TRIGGER_LEVEL 0xC

struct ioapic {
    volatile uint32_t *regs;
    uint8_t id;
    uint32_t gsi_base;
    unsigned inputs;
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static unsigned nioapics;
static spinlock_t lock = SPINLOCK_INIT;

static uint32_t reg_read(struct ioapic *io, uint32_t reg)
{
    io->regs[0] = reg;
    return io->regs[4];
}

static void reg_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->regs[0] = reg;
    io->regs[4] = v;
}

static struct ioapic *ioapic_for_gsi(uint32_t gsi)
{
    for (unsigned i = 0; i < nioapics; i++)
        if (gsi >= ioapics[i].gsi_base && gsi - ioapics[i].gsi_base < ioapics[i].inputs)
            return &ioapics[i];
    return NULL;
}

static void rte_write(struct ioapic *io, unsigned pin, uint32_t lo, uint32_t hi)
{
    bool was = spin_lock_irqsave(&lock);
    reg_write(io, REG_REDIR + 2 * pin, RTE_MASKED);   /* masked while changing */
    reg_write(io, REG_REDIR + 2 * pin + 1, hi);
    reg_write(io, REG_REDIR + 2 * pin, lo);
    spin_unlock_irqrestore(&lock, was);
}

void ioapic_init(void)
{
    for (unsigned i = 0; i < acpi.nioapics; i++) {
        struct ioapic *io = &ioapics[nioapics];
        io->regs = paging_map_phys(acpi.ioapics[i].addr, 4096, MAP_UNCACHED);
        io->gsi_base = acpi.ioapics[i].gsi_base;
        io->id = (uint8_t)acpi.ioapics[i].id;
        io->inputs = ((reg_read(io, REG_VER) >> 16) & 0xff) + 1;
        for (unsigned pin = 0; pin < io->inputs; pin++)
            rte_write(io, pin, RTE_MASKED, 0);
        kprintf("ioapic: id %u at %#x, GSIs %u-%u\n", acpi.ioapics[i].id,
                acpi.ioapics[i].addr, io->gsi_base, io->gsi_base + io->inputs - 1);
        nioapics++;
    }
    if (!nioapics)
        kprintf("ioapic: none found; device interrupts unavailable\n");
}

unsigned ioapic_gsi_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nioapics; i++)
        n += ioapics[i].inputs;
    return n;
}

bool ioapic_route_gsi(uint32_t gsi, uint8_t vector, uint32_t dest, bool level, bool active_low)
{
    struct ioapic *io = ioapic_for_gsi(gsi);
    if (!io)
        return false;
    uint32_t lo = vector | (level ? RTE_LEVEL : 0) | (active_low ? RTE_ACTIVE_LOW : 0);
    uint32_t hi = dest << 24;
    uint16_t sid;
    /* Remapped (the IOMMU's entry GSI, only for this IOAPIC): the entry in
     * remappable format, handle GSI (bit 48, bits 63:49); the vector stays
     * for the EOI of a level-triggered line. */
    if (gsi < IOMMU_IRTE_MSI && iommu_ioapic_sid(io->id, &sid) &&
        iommu_irte_set(gsi, sid, vector, dest, level))
        hi = 1u << 16 | gsi << 17;
    rte_write(io, gsi - io->gsi_base, lo, hi);
    return true;
}

void ioapic_mask_gsi(uint32_t gsi)
{
    struct ioapic *io = ioapic_for_gsi(gsi);
    if (io)
        rte_write(io, gsi - io->gsi_base, RTE_MASKED, 0);
}

static const struct acpi_override *override_for(unsigned irq)
{
    for (unsigned i = 0; i < acpi.noverrides; i++)
        if (acpi.overrides[i].irq == irq)
            return &acpi.overrides[i];
    return NULL;
}

uint32_t ioapic_isa_to_gsi(unsigned irq)
{
    const struct acpi_override *o = override_for(irq);
    return o ? o->gsi : irq;
}

bool ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t dest)
{
    const struct acpi_override *o = override_for(irq);
    if (!o)
        return ioapic_route_gsi(irq, vector, dest, false, false);
    bool level = (o->flags & MPS_TRIGGER_MASK) == MPS_TRIGGER_LEVEL;
    bool low = (o->flags & MPS_POLARITY_MASK) == MPS_POLARITY_LOW;
    return ioapic_route_gsi(o->gsi, vector, dest, level, low);
}
