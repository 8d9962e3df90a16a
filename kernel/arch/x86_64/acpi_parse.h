/*
 * acpi_parse: pure parsers for the ACPI tables the kernel reads (RSDP,
 * RSDT/XSDT, MADT, MCFG, DMAR).  No hardware access, no console, no globals: each
 * function reads only [buf, buf + len) and fills a result, so the same code
 * runs in the kernel and in host unit tests (tests/host/test_acpi.c).
 *
 * Invariants: the input is untrusted firmware data.  Nothing is read
 * outside the buffer whatever the length fields say; multi-byte fields are
 * read unaligned (memcpy); every walk advances by at least one byte per
 * step, so it ends; result arrays never exceed their capacity, and what did
 * not fit is counted instead.
 */
#ifndef KESTREL_ARCH_ACPI_PARSE_H
#define KESTREL_ARCH_ACPI_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_SDT_HEADER_LEN 36
#define ACPI_SDT_MAX_LEN (1u << 20)     /* no table we read is anywhere near this */
#define ACPI_RSDP_V1_LEN 20
#define ACPI_RSDP_V2_LEN 36

#define ACPI_MAX_CPUS 64
#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_OVERRIDES 24

/* MADT entry types read; others are skipped. */
enum {
    ACPI_MADT_LAPIC = 0,
    ACPI_MADT_IOAPIC = 1,
    ACPI_MADT_OVERRIDE = 2,
    ACPI_MADT_LAPIC_ADDR = 5,
    ACPI_MADT_X2APIC = 9,
};

#define ACPI_LAPIC_ENABLED 1u
#define ACPI_LAPIC_ONLINE_CAPABLE 2u

enum acpi_error {
    ACPI_OK = 0,
    ACPI_ETRUNC = -1,       /* buffer shorter than the structure or its length field */
    ACPI_ESIG = -2,         /* wrong signature */
    ACPI_ECHECKSUM = -3,    /* bytes do not sum to zero */
    ACPI_ELENGTH = -4,      /* length field below the header size or above the bound */
    ACPI_ENOROOT = -5,      /* RSDP valid but names no RSDT/XSDT */
    ACPI_EENTRY = -6,       /* a malformed MADT entry ended the walk */
};

struct acpi_rsdp {
    uint8_t revision;
    bool xsdt;              /* root is an XSDT (64-bit entries), else an RSDT */
    bool ext_bad;           /* revision >= 2 but the extended part was unusable */
    uint64_t root;          /* physical address of the root table, never 0 */
};

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

/* What the MADT says; acpi_madt_parse fills all of it. */
struct acpi_info {
    bool found;                 /* the MADT header was valid */
    uint32_t lapic_addr;
    unsigned ncpus;             /* distinct usable APIC IDs, MADT order */
    uint32_t cpu_apic_ids[ACPI_MAX_CPUS];
    unsigned nioapics;
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    unsigned noverrides;
    struct acpi_override overrides[ACPI_MAX_OVERRIDES];
    /* Entries read but not used. */
    unsigned cpus_disabled;     /* neither enabled nor online-capable */
    unsigned cpus_duplicate;    /* APIC ID already listed */
    unsigned cpus_dropped;      /* no room left in cpu_apic_ids */
    unsigned x2apic_unreachable;/* x2APIC ID above 254: not usable in xAPIC mode */
    unsigned ioapics_dropped;
    unsigned overrides_dropped;
    unsigned overrides_other_bus;
    unsigned lapic_addr_high;   /* 64-bit LAPIC address override above 4 GiB */
    uint32_t bad_offset;        /* offset of the malformed entry (ACPI_EENTRY) */
};

/* MCFG: where PCI express configuration space is (ECAM), per segment. */
#define ACPI_MAX_ECAM 4

struct acpi_ecam {
    uint64_t base;              /* physical address of bus 0's space (1 MiB a bus) */
    uint16_t segment;
    uint8_t bus_start, bus_end;
};

struct acpi_mcfg {
    unsigned n;
    struct acpi_ecam ecam[ACPI_MAX_ECAM];
    unsigned dropped;           /* entries past ACPI_MAX_ECAM */
    unsigned bad;               /* base 0 or not 1 MiB aligned, or end < start */
};

/* DMAR: the IOMMU (VT-d) units and which devices each one translates. */
#define ACPI_MAX_DRHD 4
#define ACPI_MAX_SCOPES 16
#define ACPI_DMAR_INTR_REMAP 1u                 /* DMAR flags */
#define ACPI_DRHD_INCLUDE_PCI_ALL 1u            /* DRHD flags */

enum {
    ACPI_SCOPE_ENDPOINT = 1,    /* one PCI function */
    ACPI_SCOPE_BRIDGE = 2,      /* a bridge and everything behind it */
    ACPI_SCOPE_IOAPIC = 3,
    ACPI_SCOPE_HPET = 4,
    ACPI_SCOPE_NAMESPACE = 5,
};

struct acpi_scope {
    uint8_t type;               /* ACPI_SCOPE_* */
    uint8_t enum_id;            /* IOAPIC or HPET number */
    uint8_t bus;                /* the start bus */
    uint8_t depth;              /* path entries (device, function) after the first */
    uint8_t dev, fn;            /* the path's last entry: the function itself
                                   (below bridges that the bus number does not
                                   resolve: only depth 1 is used) */
};

struct acpi_drhd {
    uint64_t base;              /* register set, 4 KiB aligned */
    uint16_t segment;
    uint8_t flags;              /* ACPI_DRHD_* */
    unsigned nscopes;
    struct acpi_scope scopes[ACPI_MAX_SCOPES];
    unsigned scopes_dropped;
};

struct acpi_dmar {
    bool found;
    uint8_t haw;                /* host address width in bits (the field + 1) */
    uint8_t flags;              /* ACPI_DMAR_* */
    unsigned ndrhd;
    struct acpi_drhd drhd[ACPI_MAX_DRHD];
    unsigned drhd_dropped;
    unsigned rmrr;              /* reserved memory regions (none kept) */
    uint32_t bad_offset;        /* the malformed structure (ACPI_EENTRY) */
};

/* True if the LEN bytes at BUF sum to zero (mod 256). */
bool acpi_checksum_ok(const void *buf, size_t len);

/* Validates an RSDP candidate at the start of BUF (LEN readable bytes).
 * An RSDP of revision >= 2 whose extended part is bad (length, checksum,
 * zero XSDT address) falls back to the RSDT, with out->ext_bad set. */
int acpi_rsdp_parse(const void *buf, size_t len, struct acpi_rsdp *out);

/* Checks an SDT header (LEN >= 36 readable bytes): signature SIG (any if
 * NULL) and a length field within [36, ACPI_SDT_MAX_LEN], stored in
 * *table_len.  Does not look past the header. */
int acpi_sdt_header(const void *buf, size_t len, const char *sig, uint32_t *table_len);

/* Checks a whole table: the header as above, a length field no larger than
 * LEN, and the checksum over that length. */
int acpi_sdt_check(const void *buf, size_t len, const char *sig);

/* Entries of a verified RSDT/XSDT of LEN bytes: their number, and the
 * physical address of entry I (0 when I is out of range). */
size_t acpi_root_count(size_t len, bool xsdt);
uint64_t acpi_root_entry(const void *buf, size_t len, bool xsdt, size_t i);

/* Checks the MADT in BUF (as acpi_sdt_check) and walks its entries into
 * *info.  Returns ACPI_OK, a header error (info->found false, nothing
 * else filled but zeros), or ACPI_EENTRY when a malformed entry (length
 * under 2 or under what its type needs, or running past the table) ended
 * the walk: the entries before it are kept. */
int acpi_madt_parse(const void *buf, size_t len, struct acpi_info *info);

/* Checks the MCFG in BUF and reads its allocations into *out (entries
 * that are not usable are counted in bad, those past the capacity in
 * dropped).  ACPI_OK or a header error (nothing filled). */
int acpi_mcfg_parse(const void *buf, size_t len, struct acpi_mcfg *out);

/* Checks the DMAR in BUF and reads its hardware units with their device
 * scopes into *out.  ACPI_OK, a header error (found false), or ACPI_EENTRY
 * when a malformed structure or scope (length under its fixed part or past
 * its parent) ended the walk: the units before it are kept, the one it is
 * in is not. */
int acpi_dmar_parse(const void *buf, size_t len, struct acpi_dmar *out);

#endif
