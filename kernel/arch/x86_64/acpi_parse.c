/*
 * acpi_parse: RSDP, SDT header, RSDT/XSDT and MADT parsing over a byte
 * buffer (see acpi_parse.h).  Every read is preceded by a bounds check
 * against the buffer length or a length already checked against it.
 */
#include "arch/x86_64/acpi_parse.h"

#ifdef KESTREL_HOST
#include <string.h>
#else
#include "base/string.h"
#endif
#include "base/unaligned.h"

#define MADT_FIXED_LEN 8        /* local APIC address + flags after the header */

bool acpi_checksum_ok(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

/* The XSDT address of a revision >= 2 RSDP, or 0 if the extended part is
 * unusable: length field out of [36, len], bad checksum, or no address. */
static uint64_t rsdp_xsdt(const uint8_t *p, size_t len)
{
    if (len < ACPI_RSDP_V2_LEN)
        return 0;
    uint32_t ext_len = rd32(p + 20);
    if (ext_len < ACPI_RSDP_V2_LEN || ext_len > len || !acpi_checksum_ok(p, ext_len))
        return 0;
    return rd64(p + 24);
}

int acpi_rsdp_parse(const void *buf, size_t len, struct acpi_rsdp *out)
{
    const uint8_t *p = buf;
    *out = (struct acpi_rsdp){ 0 };
    if (len < ACPI_RSDP_V1_LEN)
        return ACPI_ETRUNC;
    if (memcmp(p, "RSD PTR ", 8) != 0)
        return ACPI_ESIG;
    if (!acpi_checksum_ok(p, ACPI_RSDP_V1_LEN))
        return ACPI_ECHECKSUM;
    out->revision = p[15];
    if (out->revision >= 2) {
        uint64_t x = rsdp_xsdt(p, len);
        if (x) {
            out->xsdt = true;
            out->root = x;
            return ACPI_OK;
        }
        out->ext_bad = true;
    }
    out->root = rd32(p + 16);
    return out->root ? ACPI_OK : ACPI_ENOROOT;
}

int acpi_sdt_header(const void *buf, size_t len, const char *sig, uint32_t *table_len)
{
    const uint8_t *p = buf;
    if (len < ACPI_SDT_HEADER_LEN)
        return ACPI_ETRUNC;
    if (sig && memcmp(p, sig, 4) != 0)
        return ACPI_ESIG;
    uint32_t tlen = rd32(p + 4);
    if (tlen < ACPI_SDT_HEADER_LEN || tlen > ACPI_SDT_MAX_LEN)
        return ACPI_ELENGTH;
    *table_len = tlen;
    return ACPI_OK;
}

int acpi_sdt_check(const void *buf, size_t len, const char *sig)
{
    uint32_t tlen;
    int r = acpi_sdt_header(buf, len, sig, &tlen);
    if (r != ACPI_OK)
        return r;
    if (tlen > len)
        return ACPI_ETRUNC;
    return acpi_checksum_ok(buf, tlen) ? ACPI_OK : ACPI_ECHECKSUM;
}

size_t acpi_root_count(size_t len, bool xsdt)
{
    if (len < ACPI_SDT_HEADER_LEN)
        return 0;
    return (len - ACPI_SDT_HEADER_LEN) / (xsdt ? 8 : 4);
}

uint64_t acpi_root_entry(const void *buf, size_t len, bool xsdt, size_t i)
{
    if (i >= acpi_root_count(len, xsdt))
        return 0;
    const uint8_t *e = (const uint8_t *)buf + ACPI_SDT_HEADER_LEN + i * (xsdt ? 8 : 4);
    return xsdt ? rd64(e) : rd32(e);
}

static void cpu_add(struct acpi_info *info, uint32_t apic_id, uint32_t flags)
{
    if (!(flags & (ACPI_LAPIC_ENABLED | ACPI_LAPIC_ONLINE_CAPABLE))) {
        info->cpus_disabled++;
        return;
    }
    for (unsigned i = 0; i < info->ncpus; i++) {
        if (info->cpu_apic_ids[i] == apic_id) {
            info->cpus_duplicate++;
            return;
        }
    }
    if (info->ncpus >= ACPI_MAX_CPUS) {
        info->cpus_dropped++;
        return;
    }
    info->cpu_apic_ids[info->ncpus++] = apic_id;
}

static void x2apic_add(struct acpi_info *info, const uint8_t *e)
{
    uint32_t id = rd32(e + 4);
    if (id > 254)
        info->x2apic_unreachable++;
    else
        cpu_add(info, id, rd32(e + 8));
}

static void ioapic_add(struct acpi_info *info, const uint8_t *e)
{
    if (info->nioapics >= ACPI_MAX_IOAPICS) {
        info->ioapics_dropped++;
        return;
    }
    struct acpi_ioapic *io = &info->ioapics[info->nioapics++];
    io->id = e[2];
    io->addr = rd32(e + 4);
    io->gsi_base = rd32(e + 8);
}

static void override_add(struct acpi_info *info, const uint8_t *e)
{
    if (e[2] != 0) {            /* bus 0 = ISA is the only one defined */
        info->overrides_other_bus++;
        return;
    }
    if (info->noverrides >= ACPI_MAX_OVERRIDES) {
        info->overrides_dropped++;
        return;
    }
    struct acpi_override *o = &info->overrides[info->noverrides++];
    o->irq = e[3];
    o->gsi = rd32(e + 4);
    o->flags = rd16(e + 8);
}

static void lapic_addr_set(struct acpi_info *info, const uint8_t *e)
{
    uint64_t a = rd64(e + 4);
    if (a >> 32)
        info->lapic_addr_high++;
    else
        info->lapic_addr = (uint32_t)a;
}

/* Minimum length of each MADT entry type we read (2 for the others). */
static unsigned madt_entry_min(uint8_t type)
{
    switch (type) {
    case ACPI_MADT_LAPIC: return 8;
    case ACPI_MADT_IOAPIC: return 12;
    case ACPI_MADT_OVERRIDE: return 10;
    case ACPI_MADT_LAPIC_ADDR: return 12;
    case ACPI_MADT_X2APIC: return 16;
    default: return 2;
    }
}

/* E has at least madt_entry_min(E[0]) readable bytes. */
static void madt_entry(struct acpi_info *info, const uint8_t *e)
{
    switch (e[0]) {
    case ACPI_MADT_LAPIC: cpu_add(info, e[3], rd32(e + 4)); break;
    case ACPI_MADT_IOAPIC: ioapic_add(info, e); break;
    case ACPI_MADT_OVERRIDE: override_add(info, e); break;
    case ACPI_MADT_LAPIC_ADDR: lapic_addr_set(info, e); break;
    case ACPI_MADT_X2APIC: x2apic_add(info, e); break;
    }
}

int acpi_madt_parse(const void *buf, size_t len, struct acpi_info *info)
{
    const uint8_t *t = buf;
    *info = (struct acpi_info){ 0 };
    int r = acpi_sdt_check(buf, len, "APIC");
    if (r != ACPI_OK)
        return r;
    uint32_t tlen = rd32(t + 4);          /* checked: 36 <= tlen <= len */
    if (tlen < ACPI_SDT_HEADER_LEN + MADT_FIXED_LEN)
        return ACPI_ETRUNC;
    info->found = true;
    info->lapic_addr = rd32(t + ACPI_SDT_HEADER_LEN);
    for (uint32_t off = ACPI_SDT_HEADER_LEN + MADT_FIXED_LEN; off + 2 <= tlen;) {
        const uint8_t *e = t + off;
        unsigned elen = e[1];
        if (elen < madt_entry_min(e[0]) || elen > tlen - off) {
            info->bad_offset = off;
            return ACPI_EENTRY;
        }
        madt_entry(info, e);
        off += elen;
    }
    return ACPI_OK;
}

/* ---- MCFG ---- */

#define MCFG_FIXED_LEN 8        /* reserved, after the header */
#define MCFG_ENTRY_LEN 16

int acpi_mcfg_parse(const void *buf, size_t len, struct acpi_mcfg *out)
{
    const uint8_t *t = buf;
    *out = (struct acpi_mcfg){ 0 };
    int r = acpi_sdt_check(buf, len, "MCFG");
    if (r != ACPI_OK)
        return r;
    uint32_t tlen = rd32(t + 4);
    for (uint32_t off = ACPI_SDT_HEADER_LEN + MCFG_FIXED_LEN; off + MCFG_ENTRY_LEN <= tlen;
         off += MCFG_ENTRY_LEN) {
        const uint8_t *e = t + off;
        struct acpi_ecam c = { .base = rd64(e), .segment = rd16(e + 8),
                               .bus_start = e[10], .bus_end = e[11] };
        if (!c.base || (c.base & ((1u << 20) - 1)) || c.bus_end < c.bus_start)
            out->bad++;
        else if (out->n == ACPI_MAX_ECAM)
            out->dropped++;
        else
            out->ecam[out->n++] = c;
    }
    return ACPI_OK;
}

/* ---- DMAR ---- */

#define DMAR_FIXED_LEN 12       /* host address width, flags, reserved */
#define DMAR_DRHD 0
#define DMAR_RMRR 1
#define DRHD_FIXED_LEN 16
#define SCOPE_FIXED_LEN 6

/* The scopes in [s, end) into D; false if one is malformed. */
static bool drhd_scopes(struct acpi_drhd *d, const uint8_t *s, const uint8_t *end)
{
    while (s < end) {
        if ((size_t)(end - s) < 2 || s[1] < SCOPE_FIXED_LEN + 2 || s[1] > end - s ||
            (s[1] - SCOPE_FIXED_LEN) % 2)
            return false;
        unsigned npath = (s[1] - SCOPE_FIXED_LEN) / 2;
        const uint8_t *last = s + SCOPE_FIXED_LEN + 2 * (npath - 1);
        struct acpi_scope sc = { .type = s[0], .enum_id = s[4], .bus = s[5],
                                 .depth = (uint8_t)npath, .dev = last[0], .fn = last[1] };
        if (d->nscopes == ACPI_MAX_SCOPES)
            d->scopes_dropped++;
        else
            d->scopes[d->nscopes++] = sc;
        s += s[1];
    }
    return true;
}

int acpi_dmar_parse(const void *buf, size_t len, struct acpi_dmar *out)
{
    const uint8_t *t = buf;
    *out = (struct acpi_dmar){ 0 };
    int r = acpi_sdt_check(buf, len, "DMAR");
    if (r != ACPI_OK)
        return r;
    uint32_t tlen = rd32(t + 4);
    if (tlen < ACPI_SDT_HEADER_LEN + DMAR_FIXED_LEN)
        return ACPI_ETRUNC;
    out->found = true;
    out->haw = (uint8_t)(t[ACPI_SDT_HEADER_LEN] + 1);
    out->flags = t[ACPI_SDT_HEADER_LEN + 1];
    for (uint32_t off = ACPI_SDT_HEADER_LEN + DMAR_FIXED_LEN; off + 4 <= tlen;) {
        const uint8_t *e = t + off;
        uint16_t type = rd16(e), elen = rd16(e + 2);
        if (elen < 4 || elen > tlen - off || (type == DMAR_DRHD && elen < DRHD_FIXED_LEN)) {
            out->bad_offset = off;
            return ACPI_EENTRY;
        }
        if (type == DMAR_DRHD) {
            struct acpi_drhd d = { .flags = e[4], .segment = rd16(e + 6), .base = rd64(e + 8) };
            if (!drhd_scopes(&d, e + DRHD_FIXED_LEN, e + elen)) {
                out->bad_offset = off;
                return ACPI_EENTRY;
            }
            if (out->ndrhd == ACPI_MAX_DRHD)
                out->drhd_dropped++;
            else
                out->drhd[out->ndrhd++] = d;
        } else if (type == DMAR_RMRR) {
            out->rmrr++;
        }
        off += elen;
    }
    return ACPI_OK;
}
