/* Temporary single-CPU stand-ins until ACPI/LAPIC/IOAPIC/SMP land. */
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/cpu.h"

struct acpi_info acpi;
uint64_t lapic_timer_hz, tsc_hz;
void acpi_init(void) {}
void lapic_init_bsp(void) {}
void lapic_init_cpu(void) {}
bool lapic_ready(void) { return false; }
uint32_t lapic_id(void) { return 0; }
void lapic_eoi(void) {}
void lapic_send_ipi(uint32_t a, uint8_t v) { (void)a; (void)v; }
void lapic_send_ipi_all_but_self_nmi(void) {}
void lapic_send_init(uint32_t a) { (void)a; }
void lapic_send_sipi(uint32_t a, uint8_t p) { (void)a; (void)p; }
void udelay(uint64_t us) { (void)us; }
uint64_t time_ns(void) { return 0; }
void ioapic_init(void) {}
void smp_start_aps(void) {}
