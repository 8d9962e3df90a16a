/*
 * iommu: Intel VT-d DMA remapping (the units the DMAR names).  Each PCI
 * function a unit translates gets a domain of its own, empty until its
 * driver maps memory into it (dma_map, kernel/core/dma.c): a device
 * without a driver, or whose domain was reset, reaches nothing.  Register-
 * based invalidation only (no queued invalidation); table writes are
 * flushed from the cache when the unit is not coherent (QEMU's is not).
 * Faults are read from the fault recording registers on the boot CPU's
 * timer tick and reported on the console.
 */
#ifndef KESTREL_ARCH_IOMMU_H
#define KESTREL_ARCH_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

/* Takes every unit the DMAR names into use, translation on. */
void iommu_init(void);

/* True if a unit translates function FN (K_PCI_FN numbers): its device
 * reaches only what iommu_map gave it. */
bool iommu_translates(uint32_t fn);

/* Maps [phys, phys + size) (pages) into FN's domain; the device address,
 * or a negative error (-E_NOMEM, -E_FULL). */
long iommu_map(uint32_t fn, uint64_t phys, uint64_t size);

/* Unmaps what iommu_map returned at IOVA, SIZE bytes. */
void iommu_unmap(uint32_t fn, uint64_t iova, uint64_t size);

/* Empties FN's domain: no translation left, its tables freed. */
void iommu_reset(uint32_t fn);

/* Interrupt remapping (units with it; see iommu.c).  Entry INDEX (below
 * 256) made to deliver VECTOR to the CPU APIC_ID (fixed, edge or LEVEL)
 * for requests from SID only (a K_PCI_FN function, or an IOAPIC's, from
 * iommu_ioapic_sid); true if made, and then the source must send
 * remappable messages of handle INDEX; false if no unit remaps SID's. */
#define IOMMU_IRTE_MSI 32          /* entries 0-31: IOAPIC inputs (GSIs); from 32: MSIs */
bool iommu_irte_set(unsigned index, uint16_t sid, uint8_t vector, uint32_t apic_id, bool level);
/* Entry INDEX of SID's unit not present: its interrupts are refused. */
void iommu_irte_clear(unsigned index, uint16_t sid);
/* The requester id of IOAPIC IOAPIC_ID (its DMAR scope); true if a unit
 * remaps its interrupts. */
bool iommu_ioapic_sid(unsigned ioapic_id, uint16_t *sid);

/* Reports recorded faults (the boot CPU's timer tick). */
void iommu_poll_faults(void);

/* Units with translation on. */
extern unsigned iommu_units_on;

#endif
