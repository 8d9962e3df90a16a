/*
 * acpi: the few ACPI tables the kernel reads at boot: RSDP -> RSDT/XSDT ->
 * MADT (CPUs, IOAPICs, interrupt source overrides).  Tables are firmware
 * input: checksums and lengths are verified before use.
 */
#ifndef KESTREL_ARCH_ACPI_H
#define KESTREL_ARCH_ACPI_H

#include "arch/x86_64/acpi_parse.h"

/* The parsed MADT (struct acpi_info, see acpi_parse.h); lapic_addr is the
 * architectural default when no MADT was found. */
extern struct acpi_info acpi;

/* Finds and parses the tables; without ACPI the machine runs on one CPU. */
void acpi_init(void);

#endif
