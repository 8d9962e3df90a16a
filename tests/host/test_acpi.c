/*
 * Host tests for kernel/arch/x86_64/acpi_parse: RSDP, SDT headers,
 * RSDT/XSDT entries and the MADT walk.  Tables are built by a small
 * builder (header, entries, then length and checksum fixed up) and copied
 * into a heap block of exactly the size under test, so ASan reports any
 * read past the end.  Covered: a realistic MADT (LAPIC, IOAPIC, overrides,
 * x2APIC, LAPIC address override, unknown types); hostile input: bad
 * signature, bad checksum, length field above the buffer or below the
 * header, every truncation, entry length 0 and 1, entries shorter than
 * their type, entries running past the end, capacity limits, disabled and
 * duplicate CPUs; RSDP v1/v2, bad extended part, truncation; MCFG (q35's,
 * unusable and surplus entries, truncation) and DMAR (QEMU-like units and
 * scopes, lying structure and scope lengths, capacity, random bytes).
 */
#include <stdint.h>

#include "arch/x86_64/acpi_parse.h"
#include "check.h"

struct tbl {
    uint8_t b[4096];
    size_t len;
};

static void put(struct tbl *t, const void *p, size_t n)
{
    CHECK(t->len + n <= sizeof(t->b));
    memcpy(t->b + t->len, p, n);
    t->len += n;
}

static void put8(struct tbl *t, uint8_t v) { put(t, &v, 1); }
static void put16(struct tbl *t, uint16_t v) { put(t, &v, 2); }
static void put32(struct tbl *t, uint32_t v) { put(t, &v, 4); }
static void put64(struct tbl *t, uint64_t v) { put(t, &v, 8); }

static void set32(struct tbl *t, size_t off, uint32_t v)
{
    memcpy(t->b + off, &v, 4);
}

/* Makes the LEN bytes at OFF sum to zero by adjusting the byte at CSUM. */
static void fix_sum(struct tbl *t, size_t off, size_t len, size_t csum)
{
    uint8_t s = 0;
    t->b[csum] = 0;
    for (size_t i = 0; i < len; i++)
        s += t->b[off + i];
    t->b[csum] = (uint8_t)-s;
}

static void sdt_begin(struct tbl *t, const char *sig)
{
    memset(t, 0, sizeof(*t));
    put(t, sig, 4);
    put32(t, 0);                 /* length, set by sdt_end */
    put8(t, 1);                  /* revision */
    put8(t, 0);                  /* checksum */
    put(t, "KESTRL", 6);         /* OEM ID */
    put(t, "TESTTABL", 8);       /* OEM table ID */
    put32(t, 1);                 /* OEM revision */
    put(t, "TEST", 4);           /* creator ID */
    put32(t, 1);                 /* creator revision */
    CHECK_EQ(t->len, ACPI_SDT_HEADER_LEN);
}

/* Sets the length field to the current size and fixes the checksum. */
static void sdt_end(struct tbl *t)
{
    set32(t, 4, (uint32_t)t->len);
    fix_sum(t, 0, t->len, 9);
}

static void madt_begin(struct tbl *t)
{
    sdt_begin(t, "APIC");
    put32(t, 0xFEE00000);
    put32(t, 1);                 /* PC-AT compatible */
}

static void e_lapic(struct tbl *t, uint8_t id, uint32_t flags)
{
    put8(t, ACPI_MADT_LAPIC); put8(t, 8); put8(t, id); put8(t, id); put32(t, flags);
}

static void e_ioapic(struct tbl *t, uint8_t id, uint32_t addr, uint32_t gsi)
{
    put8(t, ACPI_MADT_IOAPIC); put8(t, 12); put8(t, id); put8(t, 0);
    put32(t, addr); put32(t, gsi);
}

static void e_override(struct tbl *t, uint8_t bus, uint8_t irq, uint32_t gsi, uint16_t flags)
{
    put8(t, ACPI_MADT_OVERRIDE); put8(t, 10); put8(t, bus); put8(t, irq);
    put32(t, gsi); put16(t, flags);
}

static void e_x2apic(struct tbl *t, uint32_t id, uint32_t flags)
{
    put8(t, ACPI_MADT_X2APIC); put8(t, 16); put16(t, 0);
    put32(t, id); put32(t, flags); put32(t, id);
}

static void e_lapic_addr(struct tbl *t, uint64_t addr)
{
    put8(t, ACPI_MADT_LAPIC_ADDR); put8(t, 12); put16(t, 0); put64(t, addr);
}

/* An entry of type TYPE claiming length ELEN, followed by BODY zero bytes
 * (which need not match ELEN). */
static void e_raw(struct tbl *t, uint8_t type, uint8_t elen, size_t body)
{
    put8(t, type); put8(t, elen);
    for (size_t i = 0; i < body; i++)
        put8(t, 0);
}

/* An exact-size heap copy of the first LEN bytes. */
static uint8_t *exact(const struct tbl *t, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    CHECK(p != NULL);
    memcpy(p, t->b, len);
    return p;
}

static int madt_at(const struct tbl *t, size_t len, struct acpi_info *info)
{
    uint8_t *p = exact(t, len);
    int r = acpi_madt_parse(p, len, info);
    free(p);
    return r;
}

static int madt(const struct tbl *t, struct acpi_info *info)
{
    return madt_at(t, t->len, info);
}

/* A QEMU-like MADT: 2 CPUs, one IOAPIC, ISA overrides, plus x2APIC. */
static void build_realistic(struct tbl *t)
{
    madt_begin(t);
    e_lapic(t, 0, ACPI_LAPIC_ENABLED);
    e_lapic(t, 1, ACPI_LAPIC_ENABLED);
    e_lapic(t, 7, 0);                            /* disabled */
    e_ioapic(t, 0, 0xFEC00000, 0);
    e_override(t, 0, 0, 2, 0);
    e_override(t, 0, 9, 9, 0x000D);
    e_override(t, 1, 4, 20, 0);                  /* not ISA: ignored */
    e_raw(t, 4, 6, 4);                           /* local APIC NMI: skipped */
    e_x2apic(t, 2, ACPI_LAPIC_ONLINE_CAPABLE);
    e_x2apic(t, 300, ACPI_LAPIC_ENABLED);        /* beyond xAPIC */
    e_lapic_addr(t, 0xFEE10000);
    sdt_end(t);
}

static void test_madt_realistic(void)
{
    struct tbl t;
    struct acpi_info a;
    build_realistic(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK(a.found);
    CHECK_EQ(a.lapic_addr, 0xFEE10000);
    CHECK_EQ(a.ncpus, 3);
    CHECK_EQ(a.cpu_apic_ids[0], 0);
    CHECK_EQ(a.cpu_apic_ids[1], 1);
    CHECK_EQ(a.cpu_apic_ids[2], 2);
    CHECK_EQ(a.cpus_disabled, 1);
    CHECK_EQ(a.x2apic_unreachable, 1);
    CHECK_EQ(a.nioapics, 1);
    CHECK_EQ(a.ioapics[0].id, 0);
    CHECK_EQ(a.ioapics[0].addr, 0xFEC00000);
    CHECK_EQ(a.ioapics[0].gsi_base, 0);
    CHECK_EQ(a.noverrides, 2);
    CHECK_EQ(a.overrides[0].irq, 0);
    CHECK_EQ(a.overrides[0].gsi, 2);
    CHECK_EQ(a.overrides[1].irq, 9);
    CHECK_EQ(a.overrides[1].gsi, 9);
    CHECK_EQ(a.overrides[1].flags, 0x000D);
    CHECK_EQ(a.overrides_other_bus, 1);
    CHECK_EQ(a.cpus_duplicate + a.cpus_dropped + a.ioapics_dropped + a.overrides_dropped, 0);
}

static void test_madt_no_entries(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK(a.found);
    CHECK_EQ(a.lapic_addr, 0xFEE00000);
    CHECK_EQ(a.ncpus, 0);
}

static void test_madt_bad_signature(void)
{
    struct tbl t;
    struct acpi_info a;
    build_realistic(&t);
    memcpy(t.b, "APIX", 4);
    fix_sum(&t, 0, t.len, 9);
    CHECK_EQ(madt(&t, &a), ACPI_ESIG);
    CHECK(!a.found);
    CHECK_EQ(a.ncpus, 0);
}

static void test_madt_bad_checksum(void)
{
    struct tbl t;
    struct acpi_info a;
    build_realistic(&t);
    t.b[t.len - 1] ^= 0x40;
    CHECK_EQ(madt(&t, &a), ACPI_ECHECKSUM);
    CHECK(!a.found);
    CHECK_EQ(a.ncpus + a.nioapics + a.noverrides, 0);
}

/* The length field says more than the buffer holds. */
static void test_madt_length_above_buffer(void)
{
    struct tbl t;
    struct acpi_info a;
    build_realistic(&t);
    size_t real = t.len;
    set32(&t, 4, (uint32_t)real + 100);
    fix_sum(&t, 0, real, 9);
    CHECK_EQ(madt_at(&t, real, &a), ACPI_ETRUNC);
    CHECK(!a.found);
    set32(&t, 4, 0xFFFFFFFF);
    CHECK_EQ(madt_at(&t, real, &a), ACPI_ELENGTH);
    set32(&t, 4, ACPI_SDT_MAX_LEN + 1);
    CHECK_EQ(madt_at(&t, real, &a), ACPI_ELENGTH);
}

static void test_madt_length_below_header(void)
{
    struct tbl t;
    struct acpi_info a;
    build_realistic(&t);
    for (uint32_t l = 0; l < ACPI_SDT_HEADER_LEN; l++) {
        set32(&t, 4, l);
        CHECK_EQ(madt(&t, &a), ACPI_ELENGTH);
        CHECK(!a.found);
    }
}

/* A valid header whose length leaves no room for the MADT's own fields. */
static void test_madt_length_below_fixed_fields(void)
{
    struct tbl t;
    struct acpi_info a;
    for (size_t l = ACPI_SDT_HEADER_LEN; l < ACPI_SDT_HEADER_LEN + 8; l++) {
        madt_begin(&t);
        t.len = l;
        sdt_end(&t);
        CHECK_EQ(madt(&t, &a), ACPI_ETRUNC);
        CHECK(!a.found);
    }
}

/* Every prefix of a valid table: an error, never a read past the end. */
static void test_madt_every_truncation(void)
{
    struct tbl t;
    struct acpi_info a;
    build_realistic(&t);
    for (size_t l = 0; l < t.len; l++) {
        CHECK_EQ(madt_at(&t, l, &a), ACPI_ETRUNC);
        CHECK(!a.found);
    }
}

/* Length field shorter than the buffer: the walk stops at the length. */
static void test_madt_buffer_longer_than_table(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    e_lapic(&t, 0, 1);
    sdt_end(&t);
    e_lapic(&t, 1, 1);            /* outside the table */
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.ncpus, 1);
}

static void test_madt_entry_length_zero(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    e_lapic(&t, 0, 1);
    size_t bad = t.len;
    e_raw(&t, ACPI_MADT_LAPIC, 0, 6);
    e_lapic(&t, 1, 1);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_EENTRY);       /* returns: no endless loop */
    CHECK(a.found);
    CHECK_EQ(a.bad_offset, bad);
    CHECK_EQ(a.ncpus, 1);
}

static void test_madt_entry_length_one(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    size_t bad = t.len;
    e_raw(&t, 200, 1, 6);          /* unknown type, still needs 2 bytes */
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_EENTRY);
    CHECK_EQ(a.bad_offset, bad);
}

/* Each known type with a length one byte short of what it needs. */
static void test_madt_entry_too_short_for_type(void)
{
    static const struct { uint8_t type, need; } cases[] = {
        { ACPI_MADT_LAPIC, 8 }, { ACPI_MADT_IOAPIC, 12 }, { ACPI_MADT_OVERRIDE, 10 },
        { ACPI_MADT_LAPIC_ADDR, 12 }, { ACPI_MADT_X2APIC, 16 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tbl t;
        struct acpi_info a;
        madt_begin(&t);
        size_t bad = t.len;
        e_raw(&t, cases[i].type, cases[i].need - 1, cases[i].need - 3);
        sdt_end(&t);
        CHECK_EQ(madt(&t, &a), ACPI_EENTRY);
        CHECK_EQ(a.bad_offset, bad);
        CHECK_EQ(a.ncpus + a.nioapics + a.noverrides, 0);
        CHECK_EQ(a.lapic_addr, 0xFEE00000);
    }
}

static void test_madt_entry_past_end(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    e_lapic(&t, 0, 1);
    size_t bad = t.len;
    e_raw(&t, ACPI_MADT_IOAPIC, 12, 6);        /* 8 bytes present, 12 claimed */
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_EENTRY);
    CHECK_EQ(a.bad_offset, bad);
    CHECK_EQ(a.ncpus, 1);
    CHECK_EQ(a.nioapics, 0);
    /* Unknown type, length 255, near the end. */
    madt_begin(&t);
    e_raw(&t, 99, 255, 2);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_EENTRY);
}

/* One stray byte at the end cannot hold an entry header: ignored. */
static void test_madt_trailing_byte(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    e_lapic(&t, 0, 1);
    put8(&t, ACPI_MADT_X2APIC);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.ncpus, 1);
}

static void test_madt_too_many_cpus(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    for (unsigned i = 0; i < ACPI_MAX_CPUS + 6; i++)
        e_lapic(&t, (uint8_t)i, ACPI_LAPIC_ENABLED);
    e_x2apic(&t, 200, ACPI_LAPIC_ENABLED);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.ncpus, ACPI_MAX_CPUS);
    CHECK_EQ(a.cpus_dropped, 7);
    CHECK_EQ(a.cpu_apic_ids[ACPI_MAX_CPUS - 1], ACPI_MAX_CPUS - 1);
}

static void test_madt_too_many_ioapics(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    for (unsigned i = 0; i < ACPI_MAX_IOAPICS + 2; i++)
        e_ioapic(&t, (uint8_t)i, 0xFEC00000 + 0x1000 * i, 24 * i);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.nioapics, ACPI_MAX_IOAPICS);
    CHECK_EQ(a.ioapics_dropped, 2);
    CHECK_EQ(a.ioapics[ACPI_MAX_IOAPICS - 1].gsi_base, 24 * (ACPI_MAX_IOAPICS - 1));
}

static void test_madt_too_many_overrides(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    for (unsigned i = 0; i < ACPI_MAX_OVERRIDES + 6; i++)
        e_override(&t, 0, (uint8_t)i, i + 100, 0);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.noverrides, ACPI_MAX_OVERRIDES);
    CHECK_EQ(a.overrides_dropped, 6);
}

static void test_madt_disabled_cpus(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    e_lapic(&t, 0, ACPI_LAPIC_ENABLED);
    e_lapic(&t, 1, 0);
    e_lapic(&t, 2, ACPI_LAPIC_ONLINE_CAPABLE);
    e_lapic(&t, 3, 0xFFFFFFFC);                /* only reserved bits */
    e_x2apic(&t, 4, 0);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.ncpus, 2);
    CHECK_EQ(a.cpu_apic_ids[0], 0);
    CHECK_EQ(a.cpu_apic_ids[1], 2);
    CHECK_EQ(a.cpus_disabled, 3);
}

static void test_madt_duplicate_apic_ids(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    e_lapic(&t, 3, ACPI_LAPIC_ENABLED);
    e_lapic(&t, 5, ACPI_LAPIC_ENABLED);
    e_lapic(&t, 3, ACPI_LAPIC_ENABLED);
    e_x2apic(&t, 3, ACPI_LAPIC_ENABLED);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.ncpus, 2);
    CHECK_EQ(a.cpu_apic_ids[0], 3);
    CHECK_EQ(a.cpu_apic_ids[1], 5);
    CHECK_EQ(a.cpus_duplicate, 2);
}

static void test_madt_lapic_addr_above_4g(void)
{
    struct tbl t;
    struct acpi_info a;
    madt_begin(&t);
    e_lapic_addr(&t, 0x1FEE00000ull);
    sdt_end(&t);
    CHECK_EQ(madt(&t, &a), ACPI_OK);
    CHECK_EQ(a.lapic_addr, 0xFEE00000);
    CHECK_EQ(a.lapic_addr_high, 1);
}

/* Random entry bytes with a fixed-up checksum: any result, within bounds. */
static void test_madt_random_entries(void)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        struct tbl t;
        struct acpi_info a;
        madt_begin(&t);
        size_t n = (size_t)(seed % 200);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            uint8_t v = (uint8_t)(seed >> 16);
            put8(&t, (i % 8 == 0) ? v % 10 : (i % 8 == 1) ? v % 20 : v);
        }
        sdt_end(&t);
        int r = madt(&t, &a);
        CHECK(r == ACPI_OK || r == ACPI_EENTRY);
        CHECK(a.ncpus <= ACPI_MAX_CPUS && a.nioapics <= ACPI_MAX_IOAPICS);
        CHECK(a.noverrides <= ACPI_MAX_OVERRIDES);
        if (r == ACPI_EENTRY)
            CHECK(a.bad_offset >= 44 && a.bad_offset < t.len);
    }
}

/* ---- RSDP ---- */

static void build_rsdp(struct tbl *t, uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
    memset(t, 0, sizeof(*t));
    put(t, "RSD PTR ", 8);
    put8(t, 0);
    put(t, "KESTRL", 6);
    put8(t, rev);
    put32(t, rsdt);
    if (rev >= 2) {
        put32(t, ACPI_RSDP_V2_LEN);
        put64(t, xsdt);
        put8(t, 0);
        put8(t, 0); put8(t, 0); put8(t, 0);
        fix_sum(t, 0, ACPI_RSDP_V1_LEN, 8);
        fix_sum(t, 0, ACPI_RSDP_V2_LEN, 32);
    } else {
        fix_sum(t, 0, ACPI_RSDP_V1_LEN, 8);
    }
}

static int rsdp_at(const struct tbl *t, size_t len, struct acpi_rsdp *r)
{
    uint8_t *p = exact(t, len);
    int res = acpi_rsdp_parse(p, len, r);
    free(p);
    return res;
}

static void test_rsdp_v1(void)
{
    struct tbl t;
    struct acpi_rsdp r;
    build_rsdp(&t, 0, 0x7FE1000, 0);
    CHECK_EQ(t.len, ACPI_RSDP_V1_LEN);
    CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_OK);
    CHECK(!r.xsdt);
    CHECK(!r.ext_bad);
    CHECK_EQ(r.revision, 0);
    CHECK_EQ(r.root, 0x7FE1000);
}

static void test_rsdp_v2(void)
{
    struct tbl t;
    struct acpi_rsdp r;
    build_rsdp(&t, 2, 0x7FE1000, 0x7FE2000);
    CHECK_EQ(t.len, ACPI_RSDP_V2_LEN);
    CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_OK);
    CHECK(r.xsdt);
    CHECK_EQ(r.revision, 2);
    CHECK_EQ(r.root, 0x7FE2000);
}

static void test_rsdp_bad_signature(void)
{
    struct tbl t;
    struct acpi_rsdp r;
    build_rsdp(&t, 0, 0x1000, 0);
    t.b[3] = 'x';
    fix_sum(&t, 0, ACPI_RSDP_V1_LEN, 8);
    CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_ESIG);
}

static void test_rsdp_bad_checksum(void)
{
    struct tbl t;
    struct acpi_rsdp r;
    build_rsdp(&t, 2, 0x1000, 0x2000);
    t.b[8]++;
    CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_ECHECKSUM);
}

/* A bad extended part falls back to the RSDT. */
static void test_rsdp_bad_extended_checksum(void)
{
    struct tbl t;
    struct acpi_rsdp r;
    build_rsdp(&t, 2, 0x1000, 0x2000);
    t.b[32]++;
    CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_OK);
    CHECK(!r.xsdt);
    CHECK(r.ext_bad);
    CHECK_EQ(r.root, 0x1000);
}

static void test_rsdp_extended_length_hostile(void)
{
    static const uint32_t lens[] = { 0, 20, 35, 37, 0x10000, 0xFFFFFFFF };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct tbl t;
        struct acpi_rsdp r;
        build_rsdp(&t, 2, 0x1000, 0x2000);
        set32(&t, 20, lens[i]);
        fix_sum(&t, 0, ACPI_RSDP_V2_LEN, 32);
        CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_OK);
        CHECK(!r.xsdt);
        CHECK_EQ(r.root, 0x1000);
    }
}

/* Revision 2 but only the v1 part is readable. */
static void test_rsdp_v2_truncated(void)
{
    struct tbl t;
    struct acpi_rsdp r;
    build_rsdp(&t, 2, 0x1000, 0x2000);
    for (size_t l = ACPI_RSDP_V1_LEN; l < ACPI_RSDP_V2_LEN; l++) {
        CHECK_EQ(rsdp_at(&t, l, &r), ACPI_OK);
        CHECK(!r.xsdt);
        CHECK(r.ext_bad);
    }
    for (size_t l = 0; l < ACPI_RSDP_V1_LEN; l++)
        CHECK_EQ(rsdp_at(&t, l, &r), ACPI_ETRUNC);
}

static void test_rsdp_zero_addresses(void)
{
    struct tbl t;
    struct acpi_rsdp r;
    build_rsdp(&t, 2, 0x1000, 0);
    CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_OK);
    CHECK(!r.xsdt);
    CHECK_EQ(r.root, 0x1000);
    build_rsdp(&t, 0, 0, 0);
    CHECK_EQ(rsdp_at(&t, t.len, &r), ACPI_ENOROOT);
}

/* ---- SDT header, RSDT/XSDT ---- */

static void test_sdt_check(void)
{
    struct tbl t;
    sdt_begin(&t, "FACP");
    put32(&t, 0xdeadbeef);
    sdt_end(&t);
    uint8_t *p = exact(&t, t.len);
    CHECK_EQ(acpi_sdt_check(p, t.len, "FACP"), ACPI_OK);
    CHECK_EQ(acpi_sdt_check(p, t.len, NULL), ACPI_OK);
    CHECK_EQ(acpi_sdt_check(p, t.len, "APIC"), ACPI_ESIG);
    CHECK_EQ(acpi_sdt_check(p, t.len - 1, NULL), ACPI_ETRUNC);
    CHECK_EQ(acpi_sdt_check(p, 10, NULL), ACPI_ETRUNC);
    uint32_t l = 0;
    CHECK_EQ(acpi_sdt_header(p, ACPI_SDT_HEADER_LEN, "FACP", &l), ACPI_OK);
    CHECK_EQ(l, t.len);
    p[20] ^= 1;
    CHECK_EQ(acpi_sdt_check(p, t.len, NULL), ACPI_ECHECKSUM);
    free(p);
    CHECK(acpi_checksum_ok(t.b, 0));
}

static void test_root_entries(void)
{
    struct tbl t;
    sdt_begin(&t, "RSDT");
    put32(&t, 0x1000);
    put32(&t, 0x2000);
    sdt_end(&t);
    uint8_t *p = exact(&t, t.len);
    CHECK_EQ(acpi_root_count(t.len, false), 2);
    CHECK_EQ(acpi_root_entry(p, t.len, false, 0), 0x1000);
    CHECK_EQ(acpi_root_entry(p, t.len, false, 1), 0x2000);
    CHECK_EQ(acpi_root_entry(p, t.len, false, 2), 0);
    /* The same bytes read as an XSDT: one 64-bit entry. */
    CHECK_EQ(acpi_root_count(t.len, true), 1);
    CHECK_EQ(acpi_root_entry(p, t.len, true, 0), 0x200000001000ull);
    CHECK_EQ(acpi_root_entry(p, t.len, true, 1), 0);
    free(p);
    /* Partial trailing entry and tables shorter than a header. */
    CHECK_EQ(acpi_root_count(ACPI_SDT_HEADER_LEN + 7, true), 0);
    CHECK_EQ(acpi_root_count(ACPI_SDT_HEADER_LEN + 7, false), 1);
    CHECK_EQ(acpi_root_count(3, false), 0);
    CHECK_EQ(acpi_root_entry(t.b, 3, false, 0), 0);
}

/* ---- MCFG ---- */

static void mcfg_begin(struct tbl *t)
{
    sdt_begin(t, "MCFG");
    put64(t, 0);                 /* reserved */
}

static void e_ecam(struct tbl *t, uint64_t base, uint16_t seg, uint8_t b0, uint8_t b1)
{
    put64(t, base); put16(t, seg); put8(t, b0); put8(t, b1); put32(t, 0);
}

static int mcfg_at(const struct tbl *t, size_t len, struct acpi_mcfg *m)
{
    uint8_t *p = exact(t, len);
    int r = acpi_mcfg_parse(p, len, m);
    free(p);
    return r;
}

/* QEMU q35's: one segment, buses 0-255 at 0xb0000000. */
static void test_mcfg_q35(void)
{
    struct tbl t;
    struct acpi_mcfg m;
    mcfg_begin(&t);
    e_ecam(&t, 0xb0000000, 0, 0, 255);
    sdt_end(&t);
    CHECK_EQ(mcfg_at(&t, t.len, &m), ACPI_OK);
    CHECK_EQ(m.n, 1u);
    CHECK_EQ(m.ecam[0].base, 0xb0000000u);
    CHECK(m.ecam[0].segment == 0 && m.ecam[0].bus_start == 0 && m.ecam[0].bus_end == 255);
    CHECK(m.bad == 0 && m.dropped == 0);
}

/* Unusable entries are counted, not kept; past the capacity, dropped; a
 * partial entry at the end is not read. */
static void test_mcfg_hostile_entries(void)
{
    struct tbl t;
    struct acpi_mcfg m;
    mcfg_begin(&t);
    e_ecam(&t, 0, 0, 0, 255);                   /* no base */
    e_ecam(&t, 0xb0000800, 0, 0, 255);          /* not 1 MiB aligned */
    e_ecam(&t, 0xb0000000, 0, 9, 3);            /* end below start */
    for (int i = 0; i < ACPI_MAX_ECAM + 2; i++)
        e_ecam(&t, 0xc0000000ULL + (uint64_t)i * (256u << 20), (uint16_t)i, 0, 255);
    put32(&t, 0x12345678);                      /* 4 bytes of a 16-byte entry */
    sdt_end(&t);
    CHECK_EQ(mcfg_at(&t, t.len, &m), ACPI_OK);
    CHECK_EQ(m.bad, 3u);
    CHECK_EQ(m.n, (unsigned)ACPI_MAX_ECAM);
    CHECK_EQ(m.dropped, 2u);
    CHECK_EQ(m.ecam[ACPI_MAX_ECAM - 1].segment, (uint16_t)(ACPI_MAX_ECAM - 1));
}

static void test_mcfg_every_truncation(void)
{
    struct tbl t;
    struct acpi_mcfg m;
    mcfg_begin(&t);
    e_ecam(&t, 0xb0000000, 0, 0, 255);
    sdt_end(&t);
    for (size_t l = 0; l < t.len; l++) {
        CHECK_EQ(mcfg_at(&t, l, &m), ACPI_ETRUNC);
        CHECK_EQ(m.n, 0u);
    }
    t.b[20] ^= 1;                                /* checksum */
    CHECK_EQ(mcfg_at(&t, t.len, &m), ACPI_ECHECKSUM);
    t.b[20] ^= 1;
    t.b[0] = 'X';
    CHECK_EQ(mcfg_at(&t, t.len, &m), ACPI_ESIG);
}

/* ---- DMAR ---- */

static void dmar_begin(struct tbl *t, uint8_t haw_field, uint8_t flags)
{
    sdt_begin(t, "DMAR");
    put8(t, haw_field); put8(t, flags);
    for (int i = 0; i < 10; i++)
        put8(t, 0);
}

/* A DRHD with NSCOPES scopes to follow (scope_*), each LEN bytes long. */
static void e_drhd(struct tbl *t, uint8_t flags, uint64_t base, uint16_t len)
{
    put16(t, 0); put16(t, len); put8(t, flags); put8(t, 0); put16(t, 0); put64(t, base);
}

static void e_scope(struct tbl *t, uint8_t type, uint8_t id, uint8_t bus, uint8_t dev, uint8_t fn)
{
    put8(t, type); put8(t, 8); put16(t, 0); put8(t, id); put8(t, bus); put8(t, dev); put8(t, fn);
}

static int dmar_at(const struct tbl *t, size_t len, struct acpi_dmar *d)
{
    uint8_t *p = exact(t, len);
    int r = acpi_dmar_parse(p, len, d);
    free(p);
    return r;
}

/* QEMU's intel-iommu: one unit for everything (INCLUDE_PCI_ALL) with the
 * IOAPIC in its scope; here also a second unit for two endpoints, an
 * RMRR, and a structure of an unknown type. */
static void build_dmar(struct tbl *t)
{
    dmar_begin(t, 38, ACPI_DMAR_INTR_REMAP);
    e_drhd(t, 0, 0xfed91000, 16 + 2 * 8);
    e_scope(t, ACPI_SCOPE_ENDPOINT, 0, 0, 3, 0);
    e_scope(t, ACPI_SCOPE_BRIDGE, 0, 0, 0x1c, 1);
    put16(t, 1); put16(t, 32); put16(t, 0); put16(t, 0);   /* RMRR */
    put64(t, 0x7f000000); put64(t, 0x7f0fffff); put32(t, 0); put32(t, 0);
    put16(t, 9); put16(t, 6); put16(t, 0);                 /* unknown type */
    e_drhd(t, ACPI_DRHD_INCLUDE_PCI_ALL, 0xfed90000, 16 + 8);
    e_scope(t, ACPI_SCOPE_IOAPIC, 0, 0, 0x1f, 0);
    sdt_end(t);
}

static void test_dmar_realistic(void)
{
    struct tbl t;
    struct acpi_dmar d;
    build_dmar(&t);
    CHECK_EQ(dmar_at(&t, t.len, &d), ACPI_OK);
    CHECK(d.found && d.haw == 39 && d.flags == ACPI_DMAR_INTR_REMAP);
    CHECK_EQ(d.ndrhd, 2u);
    CHECK_EQ(d.rmrr, 1u);
    CHECK(d.drhd[0].base == 0xfed91000 && d.drhd[0].flags == 0 && d.drhd[0].nscopes == 2);
    CHECK(d.drhd[0].scopes[0].type == ACPI_SCOPE_ENDPOINT && d.drhd[0].scopes[0].dev == 3);
    CHECK(d.drhd[0].scopes[1].type == ACPI_SCOPE_BRIDGE && d.drhd[0].scopes[1].fn == 1);
    CHECK(d.drhd[1].base == 0xfed90000 && d.drhd[1].flags == ACPI_DRHD_INCLUDE_PCI_ALL);
    CHECK(d.drhd[1].nscopes == 1 && d.drhd[1].scopes[0].type == ACPI_SCOPE_IOAPIC);
    CHECK_EQ(d.drhd[1].scopes[0].dev, 0x1f);
}

/* A deeper path: the last (device, function) is the one reported. */
static void test_dmar_scope_path(void)
{
    struct tbl t;
    struct acpi_dmar d;
    dmar_begin(&t, 38, 0);
    e_drhd(&t, 0, 0xfed90000, 16 + 10);
    put8(&t, ACPI_SCOPE_ENDPOINT); put8(&t, 10); put16(&t, 0); put8(&t, 0); put8(&t, 0);
    put8(&t, 0x1c); put8(&t, 0); put8(&t, 0); put8(&t, 2);
    sdt_end(&t);
    CHECK_EQ(dmar_at(&t, t.len, &d), ACPI_OK);
    CHECK(d.ndrhd == 1 && d.drhd[0].nscopes == 1);
    CHECK(d.drhd[0].scopes[0].depth == 2 && d.drhd[0].scopes[0].dev == 0 &&
          d.drhd[0].scopes[0].fn == 2);
}

static void test_dmar_every_truncation(void)
{
    struct tbl t;
    struct acpi_dmar d;
    build_dmar(&t);
    for (size_t l = 0; l < t.len; l++) {
        CHECK_EQ(dmar_at(&t, l, &d), ACPI_ETRUNC);
        CHECK(!d.found && d.ndrhd == 0);
    }
}

/* Structure and scope lengths that lie: each ends the walk cleanly. */
static void test_dmar_hostile_lengths(void)
{
    static const uint16_t struct_lens[] = { 0, 1, 3, 15, 200 };
    for (size_t i = 0; i < sizeof(struct_lens) / sizeof(struct_lens[0]); i++) {
        struct tbl t;
        struct acpi_dmar d;
        dmar_begin(&t, 38, 0);
        e_drhd(&t, 1, 0xfed90000, 16);            /* a good one first */
        e_drhd(&t, 1, 0xfed91000, struct_lens[i]);
        sdt_end(&t);
        CHECK_EQ(dmar_at(&t, t.len, &d), ACPI_EENTRY);
        CHECK_EQ(d.ndrhd, 1u);
        CHECK_EQ(d.bad_offset, 48u + 16u);
    }
    static const uint8_t scope_lens[] = { 0, 1, 6, 7, 9, 30 };
    for (size_t i = 0; i < sizeof(scope_lens); i++) {
        struct tbl t;
        struct acpi_dmar d;
        dmar_begin(&t, 38, 0);
        e_drhd(&t, 0, 0xfed90000, 16 + 8);
        put8(&t, ACPI_SCOPE_ENDPOINT); put8(&t, scope_lens[i]);
        put16(&t, 0); put8(&t, 0); put8(&t, 0); put8(&t, 1); put8(&t, 0);
        sdt_end(&t);
        CHECK_EQ(dmar_at(&t, t.len, &d), ACPI_EENTRY);
        CHECK_EQ(d.ndrhd, 0u);
    }
    struct tbl t;                                  /* below the fixed part */
    struct acpi_dmar d;
    sdt_begin(&t, "DMAR");
    put8(&t, 38);
    sdt_end(&t);
    CHECK_EQ(dmar_at(&t, t.len, &d), ACPI_ETRUNC);
}

/* More units and scopes than fit: counted, nothing overflows. */
static void test_dmar_capacity(void)
{
    struct tbl t;
    struct acpi_dmar d;
    dmar_begin(&t, 38, 0);
    e_drhd(&t, 0, 0xfed90000, (uint16_t)(16 + 8 * (ACPI_MAX_SCOPES + 3)));
    for (int i = 0; i < ACPI_MAX_SCOPES + 3; i++)
        e_scope(&t, ACPI_SCOPE_ENDPOINT, 0, 0, (uint8_t)i, 0);
    for (int i = 0; i < ACPI_MAX_DRHD + 1; i++)
        e_drhd(&t, 0, 0xfed91000 + (uint64_t)i * 4096, 16);
    sdt_end(&t);
    CHECK_EQ(dmar_at(&t, t.len, &d), ACPI_OK);
    CHECK_EQ(d.ndrhd, (unsigned)ACPI_MAX_DRHD);
    CHECK_EQ(d.drhd_dropped, 2u);
    CHECK_EQ(d.drhd[0].nscopes, (unsigned)ACPI_MAX_SCOPES);
    CHECK_EQ(d.drhd[0].scopes_dropped, 3u);
}

/* Random bytes after the fixed part: OK or EENTRY, never out of bounds
 * (ASan watches the exact-size copy). */
static void test_dmar_random(void)
{
    uint32_t seed = 777;
    for (int round = 0; round < 3000; round++) {
        struct tbl t;
        struct acpi_dmar d;
        dmar_begin(&t, 38, 1);
        size_t n = (size_t)(seed % 300);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            uint8_t v = (uint8_t)(seed >> 16);
            put8(&t, (i % 16 == 0) ? v % 3 : (i % 16 == 2) ? v % 40 : (i % 16 == 3) ? 0 : v);
        }
        sdt_end(&t);
        int r = dmar_at(&t, t.len, &d);
        CHECK(r == ACPI_OK || r == ACPI_EENTRY);
        CHECK(d.ndrhd <= ACPI_MAX_DRHD);
        for (unsigned i = 0; i < d.ndrhd; i++)
            CHECK(d.drhd[i].nscopes <= ACPI_MAX_SCOPES);
        if (r == ACPI_EENTRY)
            CHECK(d.bad_offset >= 48 && d.bad_offset < t.len);
    }
}

static const struct check_test tests[] = {
    CHECK_TEST(test_madt_realistic),
    CHECK_TEST(test_madt_no_entries),
    CHECK_TEST(test_madt_bad_signature),
    CHECK_TEST(test_madt_bad_checksum),
    CHECK_TEST(test_madt_length_above_buffer),
    CHECK_TEST(test_madt_length_below_header),
    CHECK_TEST(test_madt_length_below_fixed_fields),
    CHECK_TEST(test_madt_every_truncation),
    CHECK_TEST(test_madt_buffer_longer_than_table),
    CHECK_TEST(test_madt_entry_length_zero),
    CHECK_TEST(test_madt_entry_length_one),
    CHECK_TEST(test_madt_entry_too_short_for_type),
    CHECK_TEST(test_madt_entry_past_end),
    CHECK_TEST(test_madt_trailing_byte),
    CHECK_TEST(test_madt_too_many_cpus),
    CHECK_TEST(test_madt_too_many_ioapics),
    CHECK_TEST(test_madt_too_many_overrides),
    CHECK_TEST(test_madt_disabled_cpus),
    CHECK_TEST(test_madt_duplicate_apic_ids),
    CHECK_TEST(test_madt_lapic_addr_above_4g),
    CHECK_TEST(test_madt_random_entries),
    CHECK_TEST(test_rsdp_v1),
    CHECK_TEST(test_rsdp_v2),
    CHECK_TEST(test_rsdp_bad_signature),
    CHECK_TEST(test_rsdp_bad_checksum),
    CHECK_TEST(test_rsdp_bad_extended_checksum),
    CHECK_TEST(test_rsdp_extended_length_hostile),
    CHECK_TEST(test_rsdp_v2_truncated),
    CHECK_TEST(test_rsdp_zero_addresses),
    CHECK_TEST(test_sdt_check),
    CHECK_TEST(test_root_entries),
    CHECK_TEST(test_mcfg_q35),
    CHECK_TEST(test_mcfg_hostile_entries),
    CHECK_TEST(test_mcfg_every_truncation),
    CHECK_TEST(test_dmar_realistic),
    CHECK_TEST(test_dmar_scope_path),
    CHECK_TEST(test_dmar_every_truncation),
    CHECK_TEST(test_dmar_hostile_lengths),
    CHECK_TEST(test_dmar_capacity),
    CHECK_TEST(test_dmar_random),
};

CHECK_MAIN("acpi", tests)
