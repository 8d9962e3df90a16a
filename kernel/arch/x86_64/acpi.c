/*
 * acpi: RSDP -> RSDT/XSDT -> MADT, MCFG and DMAR, read once at boot on the
 * BSP (see acpi.h).
 *
 * Firmware tables are untrusted input.  The parsing itself is in
 * acpi_parse.c (pure, host-tested); this file finds and maps the tables and
 * reports what was wrong.  Every table is mapped header first
 * (paging_map_phys, cached), its length is checked against a sane bound,
 * then the whole table is mapped and checked (length, checksum); a table
 * that fails is reported and ignored.
 *
 * Result: `acpi` (IOAPICs, overrides, CPU APIC IDs), cpu_count and
 * cpus[i].apic_id, with cpus[0] always the BSP (its real APIC ID);
 * `acpi_mcfg` (PCI express configuration space) and `acpi_dmar` (IOMMUs).
 * No locking: runs before any other CPU is started.
 */
#include "arch/x86_64/acpi.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "base/string.h"
#include "core/frame.h"
#include "core/printk.h"

#define LAPIC_DEFAULT_ADDR 0xFEE00000u

struct acpi_info acpi;
struct acpi_mcfg acpi_mcfg;
struct acpi_dmar acpi_dmar;

/* Scans [base, base+len) of the first MiB on 16-byte boundaries. */
static bool rsdp_scan(uint64_t base, uint64_t len, struct acpi_rsdp *r)
{
    const uint8_t *p = phys_to_virt(base);
    for (uint64_t off = 0; off + ACPI_RSDP_V1_LEN <= len; off += 16) {
        if (acpi_rsdp_parse(p + off, len - off, r) == ACPI_OK) {
            kprintf("acpi: RSDP at %#lx (revision %u), %s at %#lx\n", base + off,
                    r->revision, r->xsdt ? "XSDT" : "RSDT", r->root);
            if (r->ext_bad)
                kprintf("acpi: RSDP extended part is invalid; using the RSDT\n");
            return true;
        }
    }
    return false;
}

static bool rsdp_find(struct acpi_rsdp *r)
{
    uint64_t ebda = (uint64_t)*(const volatile uint16_t *)phys_to_virt(0x40E) << 4;
    if (ebda >= 0x80000 && ebda < 0xA0000 && rsdp_scan(ebda, 1024, r))
        return true;
    return rsdp_scan(0xE0000, 0x20000, r);
}

/* Maps and verifies the table at PHYS; SIG may be NULL (any signature).
 * Returns the table and its length, or NULL after reporting why. */
static const uint8_t *table_map(uint64_t phys, const char *sig, uint32_t *len_out)
{
    if (!phys)
        return NULL;
    const uint8_t *h = paging_map_phys(phys, ACPI_SDT_HEADER_LEN, MAP_CACHED);
    uint32_t len = 0;
    int r = acpi_sdt_header(h, ACPI_SDT_HEADER_LEN, sig, &len);
    if (r == ACPI_ESIG)
        return NULL;
    if (r != ACPI_OK) {
        kprintf("acpi: table %.4s at %#lx has a bad length; ignored\n", (const char *)h, phys);
        return NULL;
    }
    const uint8_t *t = paging_map_phys(phys, len, MAP_CACHED);
    if (acpi_sdt_check(t, len, sig) != ACPI_OK) {
        kprintf("acpi: table %.4s at %#lx has a bad checksum; ignored\n", (const char *)t, phys);
        return NULL;
    }
    *len_out = len;
    return t;
}

/* Finds the table with signature SIG through the RSDT/XSDT. */
static const uint8_t *table_find(const struct acpi_rsdp *rsdp, const char *sig, uint32_t *len)
{
    const char *rname = rsdp->xsdt ? "XSDT" : "RSDT";
    uint32_t root_len;
    const uint8_t *root = table_map(rsdp->root, rname, &root_len);
    if (!root) {
        kprintf("acpi: no valid %s at %#lx\n", rname, rsdp->root);
        return NULL;
    }
    size_t n = acpi_root_count(root_len, rsdp->xsdt);
    for (size_t i = 0; i < n; i++) {
        uint64_t pa = acpi_root_entry(root, root_len, rsdp->xsdt, i);
        const uint8_t *h = pa ? paging_map_phys(pa, ACPI_SDT_HEADER_LEN, MAP_CACHED) : NULL;
        if (h && memcmp(h, sig, 4) == 0) {
            const uint8_t *t = table_map(pa, sig, len);
            if (t)
                return t;
        }
    }
    return NULL;
}

/* One line for each kind of MADT entry that was read but not used. */
static void madt_report(const struct acpi_info *a)
{
    if (a->cpus_disabled)
        kprintf("acpi: %u disabled CPUs skipped\n", a->cpus_disabled);
    if (a->cpus_duplicate)
        kprintf("acpi: %u duplicate APIC IDs ignored\n", a->cpus_duplicate);
    if (a->cpus_dropped)
        kprintf("acpi: more than %d CPUs; %u ignored\n", ACPI_MAX_CPUS, a->cpus_dropped);
    if (a->x2apic_unreachable)
        kprintf("acpi: %u x2APIC IDs cannot be reached in xAPIC mode; ignored\n",
                a->x2apic_unreachable);
    if (a->ioapics_dropped)
        kprintf("acpi: more than %d IOAPICs; %u ignored\n", ACPI_MAX_IOAPICS, a->ioapics_dropped);
    if (a->overrides_dropped)
        kprintf("acpi: more than %d interrupt overrides; %u ignored\n",
                ACPI_MAX_OVERRIDES, a->overrides_dropped);
    if (a->lapic_addr_high)
        kprintf("acpi: local APIC address above 4 GiB ignored\n");
}

/* Parses the MADT into `acpi`; false if its header is unusable. */
static bool madt_load(const uint8_t *t, uint32_t len)
{
    int r = acpi_madt_parse(t, len, &acpi);
    if (r == ACPI_EENTRY)
        kprintf("acpi: MADT entry at offset %u (type %u, length %u) is malformed; rest ignored\n",
                acpi.bad_offset, t[acpi.bad_offset], t[acpi.bad_offset + 1]);
    else if (r != ACPI_OK)
        kprintf("acpi: MADT unusable (error %d); ignored\n", r);
    madt_report(&acpi);
    return acpi.found;
}

static uint32_t bsp_apic_id(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    return r[1] >> 24;
}

/* cpus[0] = BSP, then every other listed CPU in MADT order, up to MAX_CPUS. */
static void cpus_fill(void)
{
    uint32_t bsp = bsp_apic_id();
    cpus[0].apic_id = bsp;
    cpu_count = 1;
    for (unsigned i = 0; i < acpi.ncpus; i++) {
        if (acpi.cpu_apic_ids[i] == bsp)
            continue;
        if (cpu_count >= MAX_CPUS) {
            kprintf("acpi: more than %d CPUs; APIC ID %u not used\n", MAX_CPUS, acpi.cpu_apic_ids[i]);
            continue;
        }
        cpus[cpu_count++].apic_id = acpi.cpu_apic_ids[i];
    }
}

/* MCFG and DMAR, for the PCI server (sys_info) and the IOMMU; each is
 * optional, and said so. */
static void devices_load(const struct acpi_rsdp *rsdp)
{
    uint32_t len = 0;
    const uint8_t *t = table_find(rsdp, "MCFG", &len);
    if (t && acpi_mcfg_parse(t, len, &acpi_mcfg) == ACPI_OK && acpi_mcfg.n) {
        const struct acpi_ecam *e = &acpi_mcfg.ecam[0];
        kprintf("acpi: PCI express configuration space at %#lx (segment %u, buses %u-%u)\n",
                e->base, e->segment, e->bus_start, e->bus_end);
    } else {
        kprintf("acpi: no usable MCFG: no PCI express configuration space\n");
    }
    if (acpi_mcfg.bad || acpi_mcfg.dropped)
        kprintf("acpi: MCFG: %u unusable and %u surplus entries ignored\n", acpi_mcfg.bad,
                acpi_mcfg.dropped);
    t = table_find(rsdp, "DMAR", &len);
    int r = t ? acpi_dmar_parse(t, len, &acpi_dmar) : ACPI_ESIG;
    if (r == ACPI_EENTRY)
        kprintf("acpi: DMAR structure at offset %u is malformed; rest ignored\n",
                acpi_dmar.bad_offset);
    for (unsigned i = 0; i < acpi_dmar.ndrhd; i++) {
        const struct acpi_drhd *d = &acpi_dmar.drhd[i];
        kprintf("acpi: IOMMU (VT-d) at %#lx, segment %u, %s, %u device scopes\n", d->base,
                d->segment, d->flags & ACPI_DRHD_INCLUDE_PCI_ALL ? "every other device" :
                "listed devices only", d->nscopes);
    }
}

void acpi_init(void)
{
    struct acpi_rsdp rsdp;
    uint32_t len = 0;
    bool have_rsdp = rsdp_find(&rsdp);
    if (have_rsdp)
        devices_load(&rsdp);
    const uint8_t *madt = have_rsdp ? table_find(&rsdp, "APIC", &len) : NULL;
    if (!madt || !madt_load(madt, len)) {
        acpi = (struct acpi_info){ .lapic_addr = LAPIC_DEFAULT_ADDR };
        kprintf("acpi: no usable MADT; running on the boot CPU only\n");
        cpus_fill();
        return;
    }
    cpus_fill();
    kprintf("acpi: %u CPUs, %u IOAPICs, %u interrupt overrides\n",
            acpi.ncpus, acpi.nioapics, acpi.noverrides);
}
