/*
 * smp: finding the CPUs (ACPI MADT) and starting the application processors
 * with INIT-SIPI-SIPI through a real-mode trampoline at TRAMPOLINE_PHYS.
 */
#ifndef KESTREL_ARCH_SMP_H
#define KESTREL_ARCH_SMP_H

#define TRAMPOLINE_PHYS 0x8000

/* Starts every enabled CPU that ACPI lists; returns when each is online or
 * has been reported as failing to start. */
void smp_start_aps(void);

#endif
