/*
 * acpi: the few ACPI tables the kernel reads at boot: RSDP -> RSDT/XSDT ->
 * MADT (CPUs, IOAPICs, interrupt source overrides).  Tables are firmware
 * input: checksums and lengths are verified before use.
 */
#ifndef KESTREL_ARCH_ACPI_H
#define KESTREL_ARCH_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_OVERRIDES 24

struct acpi_ioapic {
    uint8_t id;
    uint32_t addr;
    uint32_t gsi_base;
};

struct acpi_override {          /* ISA IRQ -> GSI, with polarity/trigger */
    uint8_t irq;
    uint32_t gsi;
    uint16_t flags;
};

struct acpi_info {
    bool found;
    uint32_t lapic_addr;
    unsigned ncpus;
    uint32_t cpu_apic_ids[64];
    unsigned nioapics;
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    unsigned noverrides;
    struct acpi_override overrides[ACPI_MAX_OVERRIDES];
};

extern struct acpi_info acpi;

/* Finds and parses the tables; without ACPI the machine runs on one CPU. */
void acpi_init(void);

#endif
