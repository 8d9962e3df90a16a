/*
 * acpi: RSDP -> RSDT/XSDT -> MADT, read once at boot on the BSP (see acpi.h).
 *
 * Firmware tables are untrusted input.  Every table is mapped header first
 * (paging_map_phys, cached), its length is checked against a sane bound,
 * then the whole table is mapped and its checksum verified; a table that
 * fails is reported and ignored.  MADT entries are walked with explicit
 * bounds: an entry shorter than its type needs, or running past the end of
 * the table, ends the walk.  Multi-byte fields are read with memcpy because
 * firmware does not align them.
 *
 * Result: `acpi` (IOAPICs, overrides, CPU APIC IDs), cpu_count and
 * cpus[i].apic_id, with cpus[0] always the BSP (its real APIC ID).
 * No locking: runs before any other CPU is started.
 */
#include "arch/x86_64/acpi.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "base/string.h"
#include "core/frame.h"
#include "core/printk.h"

#define SDT_HEADER_LEN 36
#define SDT_MAX_LEN (1u << 20)      /* no table we read is anywhere near this */
#define RSDP_V1_LEN 20
#define RSDP_V2_LEN 36

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_OVERRIDE 2
#define MADT_LAPIC_ADDR 5
#define MADT_X2APIC 9

#define LAPIC_ENABLED 1u
#define LAPIC_ONLINE_CAPABLE 2u

struct acpi_info acpi;

static uint32_t read_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t read_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint16_t read_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static bool checksum_ok(const uint8_t *p, uint32_t len)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

/* Checks an RSDP candidate at P (which has at least RSDP_V2_LEN readable
 * bytes); returns the physical address of the RSDT or XSDT, or 0. */
static uint64_t rsdp_check(const uint8_t *p, bool *xsdt)
{
    if (memcmp(p, "RSD PTR ", 8) != 0 || !checksum_ok(p, RSDP_V1_LEN))
        return 0;
    *xsdt = false;
    if (p[15] >= 2 && read_u32(p + 20) >= RSDP_V2_LEN && checksum_ok(p, RSDP_V2_LEN)) {
        uint64_t x = read_u64(p + 24);
        if (x) {
            *xsdt = true;
            return x;
        }
    }
    return read_u32(p + 16);
}

/* Scans [base, base+len) of the first MiB on 16-byte boundaries. */
static uint64_t rsdp_scan(uint64_t base, uint64_t len, bool *xsdt)
{
    const uint8_t *p = phys_to_virt(base);
    for (uint64_t off = 0; off + RSDP_V2_LEN <= len; off += 16) {
        uint64_t root = rsdp_check(p + off, xsdt);
        if (root) {
            kprintf("acpi: RSDP at %#lx, %s at %#lx\n", base + off, *xsdt ? "XSDT" : "RSDT", root);
            return root;
        }
    }
    return 0;
}

static uint64_t rsdp_find(bool *xsdt)
{
    uint64_t ebda = (uint64_t)*(const volatile uint16_t *)phys_to_virt(0x40E) << 4;
    uint64_t root = 0;
    if (ebda >= 0x80000 && ebda < 0xA0000)
        root = rsdp_scan(ebda, 1024, xsdt);
    if (!root)
        root = rsdp_scan(0xE0000, 0x20000, xsdt);
    return root;
}

/* Maps and verifies the table at PHYS; SIG may be NULL (any signature).
 * Returns the table and its length, or NULL after reporting why. */
static const uint8_t *table_map(uint64_t phys, const char *sig, uint32_t *len_out)
{
    if (!phys)
        return NULL;
    const uint8_t *h = paging_map_phys(phys, SDT_HEADER_LEN, MAP_CACHED);
    if (sig && memcmp(h, sig, 4) != 0)
        return NULL;
    uint32_t len = read_u32(h + 4);
    if (len < SDT_HEADER_LEN || len > SDT_MAX_LEN) {
        kprintf("acpi: table %.4s at %#lx has bad length %u; ignored\n", (const char *)h, phys, len);
        return NULL;
    }
    const uint8_t *t = paging_map_phys(phys, len, MAP_CACHED);
    if (!checksum_ok(t, len)) {
        kprintf("acpi: table %.4s at %#lx has a bad checksum; ignored\n", (const char *)t, phys);
        return NULL;
    }
    *len_out = len;
    return t;
}

/* Finds the table with signature SIG through the RSDT/XSDT. */
static const uint8_t *table_find(uint64_t root_phys, bool xsdt, const char *sig, uint32_t *len)
{
    uint32_t root_len;
    const uint8_t *root = table_map(root_phys, xsdt ? "XSDT" : "RSDT", &root_len);
    if (!root) {
        kprintf("acpi: no valid %s at %#lx\n", xsdt ? "XSDT" : "RSDT", root_phys);
        return NULL;
    }
    unsigned esize = xsdt ? 8 : 4;
    for (uint32_t off = SDT_HEADER_LEN; off + esize <= root_len; off += esize) {
        uint64_t pa = xsdt ? read_u64(root + off) : read_u32(root + off);
        const uint8_t *h = pa ? paging_map_phys(pa, SDT_HEADER_LEN, MAP_CACHED) : NULL;
        if (h && memcmp(h, sig, 4) == 0) {
            const uint8_t *t = table_map(pa, sig, len);
            if (t)
                return t;
        }
    }
    return NULL;
}

static void cpu_add(uint32_t apic_id, uint32_t flags)
{
    if (!(flags & (LAPIC_ENABLED | LAPIC_ONLINE_CAPABLE)))
        return;
    for (unsigned i = 0; i < acpi.ncpus; i++)
        if (acpi.cpu_apic_ids[i] == apic_id)
            return;
    if (acpi.ncpus >= sizeof(acpi.cpu_apic_ids) / sizeof(acpi.cpu_apic_ids[0])) {
        kprintf("acpi: too many CPUs; APIC ID %u ignored\n", apic_id);
        return;
    }
    acpi.cpu_apic_ids[acpi.ncpus++] = apic_id;
}

static void ioapic_add(const uint8_t *e)
{
    if (acpi.nioapics >= ACPI_MAX_IOAPICS) {
        kprintf("acpi: too many IOAPICs; one ignored\n");
        return;
    }
    struct acpi_ioapic *io = &acpi.ioapics[acpi.nioapics++];
    io->id = e[2];
    io->addr = read_u32(e + 4);
    io->gsi_base = read_u32(e + 8);
}

static void override_add(const uint8_t *e)
{
    if (e[2] != 0)      /* bus 0 = ISA is the only one defined */
        return;
    if (acpi.noverrides >= ACPI_MAX_OVERRIDES) {
        kprintf("acpi: too many interrupt overrides; one ignored\n");
        return;
    }
    struct acpi_override *o = &acpi.overrides[acpi.noverrides++];
    o->irq = e[3];
    o->gsi = read_u32(e + 4);
    o->flags = read_u16(e + 8);
}

/* Minimum length of each MADT entry type we read (0: not read). */
static unsigned madt_entry_min(uint8_t type)
{
    switch (type) {
    case MADT_LAPIC: return 8;
    case MADT_IOAPIC: return 12;
    case MADT_OVERRIDE: return 10;
    case MADT_LAPIC_ADDR: return 12;
    case MADT_X2APIC: return 16;
    default: return 0;
    }
}

static void madt_entry(const uint8_t *e)
{
    switch (e[0]) {
    case MADT_LAPIC: cpu_add(e[3], read_u32(e + 4)); break;
    case MADT_IOAPIC: ioapic_add(e); break;
    case MADT_OVERRIDE: override_add(e); break;
    case MADT_LAPIC_ADDR: acpi.lapic_addr = (uint32_t)read_u64(e + 4); break;
    case MADT_X2APIC:
        if (read_u32(e + 4) > 254)
            kprintf("acpi: x2APIC ID %u cannot be reached in xAPIC mode; ignored\n", read_u32(e + 4));
        else
            cpu_add(read_u32(e + 4), read_u32(e + 8));
        break;
    }
}

static void madt_parse(const uint8_t *t, uint32_t len)
{
    if (len < SDT_HEADER_LEN + 8) {
        kprintf("acpi: MADT too short; ignored\n");
        return;
    }
    acpi.lapic_addr = read_u32(t + SDT_HEADER_LEN);
    uint32_t off = SDT_HEADER_LEN + 8;
    while (off + 2 <= len) {
        const uint8_t *e = t + off;
        unsigned elen = e[1];
        if (elen < 2 || elen > len - off || elen < madt_entry_min(e[0])) {
            kprintf("acpi: MADT entry at offset %u (type %u, length %u) is malformed; rest ignored\n",
                    off, e[0], elen);
            return;
        }
        madt_entry(e);
        off += elen;
    }
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

void acpi_init(void)
{
    acpi.lapic_addr = 0xFEE00000;
    bool xsdt = false;
    uint64_t root = rsdp_find(&xsdt);
    uint32_t len = 0;
    const uint8_t *madt = root ? table_find(root, xsdt, "APIC", &len) : NULL;
    if (!madt) {
        kprintf("acpi: no usable MADT; running on the boot CPU only\n");
        cpus_fill();
        return;
    }
    madt_parse(madt, len);
    acpi.found = true;
    cpus_fill();
    kprintf("acpi: %u CPUs, %u IOAPICs, %u interrupt overrides\n",
            acpi.ncpus, acpi.nioapics, acpi.noverrides);
}
