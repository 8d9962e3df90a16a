/*
 * Resources: capabilities over hardware the kernel does not own.  init
 * receives one of each kind covering everything (start-up handles "irq",
 * "ioport", "mmio"); it hands narrower ones to drivers (issue 4).
 */
#ifndef KESTREL_ABI_RESOURCE_H
#define KESTREL_ABI_RESOURCE_H

#define K_RES_IRQ    1        /* ISA IRQ numbers [base, base + count) */
#define K_RES_IOPORT 2        /* I/O ports; ioport_enable lets its holder use them from user mode */
#define K_RES_MMIO   3        /* physical addresses */

#define K_IRQ_MAX 24          /* IRQs (GSIs) of the first IOAPIC */

#endif
