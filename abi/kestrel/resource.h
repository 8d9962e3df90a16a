/*
 * Resources: capabilities over hardware the kernel does not own.  init
 * receives one of each kind covering everything (start-up handles "irq",
 * "ioport", "mmio", "pci"); it hands narrower ones to drivers (issue 4).
 */
#ifndef KESTREL_ABI_RESOURCE_H
#define KESTREL_ABI_RESOURCE_H

#define K_RES_IRQ    1        /* ISA IRQ numbers [base, base + count) */
#define K_RES_IOPORT 2        /* I/O ports; ioport_enable lets its holder use them from user mode */
#define K_RES_MMIO   3        /* physical addresses */
#define K_RES_PCI    4        /* PCI functions of segment 0, by K_PCI_FN numbers; one
                                 function's (count 1) is what dma_map takes */

#define K_PCI_FN(bus, dev, fn) (((bus) << 8) | ((dev) << 3) | (fn))
#define K_PCI_FNS 65536

#define K_IRQ_MAX 24          /* IRQs (GSIs) of the first IOAPIC */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* msi_attach's answer: what the function's device writes to interrupt
 * (an MSI-X table entry's address and data), and the kernel's vector. */
struct k_msi {
    uint64_t address;
    uint32_t data;
    uint32_t vector;
};
#endif

#endif
