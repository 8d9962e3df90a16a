/*
 * acpi: the few ACPI tables the kernel reads at boot: RSDP -> RSDT/XSDT ->
 * MADT (CPUs, IOAPICs, interrupt source overrides), MCFG (PCI express
 * configuration space) and DMAR (IOMMUs).  Tables are firmware
 * input: checksums and lengths are verified before use.
 */
#ifndef KESTREL_ARCH_ACPI_H
#define KESTREL_ARCH_ACPI_H

#include "arch/x86_64/acpi_parse.h"

/* The parsed MADT (struct acpi_info, see acpi_parse.h); lapic_addr is the
 * architectural default when no MADT was found. */
extern struct acpi_info acpi;

/* MCFG's ECAM windows and DMAR's IOMMU units; zeros where there are none. */
extern struct acpi_mcfg acpi_mcfg;
extern struct acpi_dmar acpi_dmar;

/* Finds and parses the tables; without ACPI the machine runs on one CPU. */
void acpi_init(void);

#endif
