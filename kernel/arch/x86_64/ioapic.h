/* ioapic: routing device interrupts (GSIs) to vectors on a CPU. */
#ifndef KESTREL_ARCH_IOAPIC_H
#define KESTREL_ARCH_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

void ioapic_init(void);                 /* maps all IOAPICs, masks every input */
/* Routes ISA IRQ (applying ACPI overrides) or a GSI to VECTOR on the CPU
 * with APIC ID DEST; unmasked.  Returns false if no IOAPIC serves it. */
bool ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t dest);
bool ioapic_route_gsi(uint32_t gsi, uint8_t vector, uint32_t dest, bool level, bool active_low);
void ioapic_mask_gsi(uint32_t gsi);
/* The GSI an ISA IRQ arrives on (after ACPI overrides). */
uint32_t ioapic_isa_to_gsi(unsigned irq);
unsigned ioapic_gsi_count(void);

#endif
