/*
 * Host tests for kernel/core/mb_parse: the Multiboot v1 memory map and
 * module list.  Input is built by a small builder and copied into a heap
 * block of exactly the size under test, so ASan reports any read past the
 * end.  Covered: a realistic map and module list; hostile input: entry
 * size below 20, huge sizes (including ones that wrap a 32-bit offset),
 * mmap_length not a multiple of the entry size, every truncation,
 * zero-length regions, more regions than BOOT_MAX_REGIONS, module end
 * before start, more modules than capacity, a count the buffer cannot hold.
 */
#include <stdint.h>

#include "core/mb_parse.h"
#include "check.h"

struct buf {
    uint8_t b[8192];
    size_t len;
};

static void put(struct buf *t, const void *p, size_t n)
{
    CHECK(t->len + n <= sizeof(t->b));
    memcpy(t->b + t->len, p, n);
    t->len += n;
}

static void put32(struct buf *t, uint32_t v) { put(t, &v, 4); }
static void put64(struct buf *t, uint64_t v) { put(t, &v, 8); }

/* One memory map entry with size field SIZE and SIZE - 20 extra bytes
 * (none when SIZE < 20). */
static void e_mmap_sized(struct buf *t, uint32_t size, uint64_t base, uint64_t len, uint32_t type)
{
    put32(t, size);
    put64(t, base);
    put64(t, len);
    put32(t, type);
    for (uint32_t i = 20; i < size; i++)
        put(t, "\xAA", 1);
}

static void e_mmap(struct buf *t, uint64_t base, uint64_t len, uint32_t type)
{
    e_mmap_sized(t, 20, base, len, type);
}

static void e_mod(struct buf *t, uint32_t start, uint32_t end, uint32_t string)
{
    put32(t, start);
    put32(t, end);
    put32(t, string);
    put32(t, 0);
}

static uint8_t *exact(const struct buf *t, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    CHECK(p != NULL);
    memcpy(p, t->b, len);
    return p;
}

static struct boot_region regions[BOOT_MAX_REGIONS];

static int parse_map_at(const struct buf *t, size_t len, struct mb_mmap_result *res)
{
    uint8_t *p = exact(t, len);
    memset(regions, 0, sizeof(regions));
    int r = mb_mmap_parse(p, len, regions, BOOT_MAX_REGIONS, res);
    free(p);
    return r;
}

static int parse_map(const struct buf *t, struct mb_mmap_result *res)
{
    return parse_map_at(t, t->len, res);
}

/* What QEMU's Multiboot loader gives a 1 GiB guest. */
static void build_qemu_map(struct buf *t)
{
    t->len = 0;
    e_mmap(t, 0, 0x9FC00, REGION_RAM);
    e_mmap(t, 0x9FC00, 0x400, REGION_RESERVED);
    e_mmap(t, 0xF0000, 0x10000, REGION_RESERVED);
    e_mmap(t, 0x100000, 0x3FEE0000, REGION_RAM);
    e_mmap(t, 0x3FFE0000, 0x20000, REGION_RESERVED);
    e_mmap(t, 0xFFFC0000, 0x40000, REGION_RESERVED);
}

static void test_mmap_realistic(void)
{
    struct buf t;
    struct mb_mmap_result res;
    build_qemu_map(&t);
    CHECK_EQ(parse_map(&t, &res), MB_OK);
    CHECK_EQ(res.nregions, 6);
    CHECK_EQ(res.empty + res.dropped + res.trailing, 0);
    CHECK_EQ(regions[0].base, 0);
    CHECK_EQ(regions[0].len, 0x9FC00);
    CHECK_EQ(regions[0].type, REGION_RAM);
    CHECK_EQ(regions[3].base, 0x100000);
    CHECK_EQ(regions[3].len, 0x3FEE0000);
    CHECK_EQ(regions[5].base, 0xFFFC0000);
    CHECK_EQ(regions[5].type, REGION_RESERVED);
}

static void test_mmap_empty(void)
{
    struct buf t = { .len = 0 };
    struct mb_mmap_result res;
    CHECK_EQ(parse_map(&t, &res), MB_OK);
    CHECK_EQ(res.nregions, 0);
}

/* Entries with a larger size field: the extra bytes are skipped. */
static void test_mmap_larger_entries(void)
{
    struct buf t = { .len = 0 };
    struct mb_mmap_result res;
    e_mmap_sized(&t, 28, 0x1000, 0x2000, REGION_RAM);
    e_mmap(&t, 0x5000, 0x1000, REGION_ACPI);
    e_mmap_sized(&t, 21, 0x9000, 0x1000, REGION_NVS);
    CHECK_EQ(parse_map(&t, &res), MB_OK);
    CHECK_EQ(res.nregions, 3);
    CHECK_EQ(regions[1].base, 0x5000);
    CHECK_EQ(regions[1].type, REGION_ACPI);
    CHECK_EQ(regions[2].base, 0x9000);
    CHECK_EQ(regions[2].type, REGION_NVS);
}

static void test_mmap_entry_size_below_20(void)
{
    static const uint32_t sizes[] = { 0, 1, 4, 16, 19 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct buf t = { .len = 0 };
        struct mb_mmap_result res;
        e_mmap(&t, 0, 0x1000, REGION_RAM);
        size_t bad = t.len;
        e_mmap_sized(&t, sizes[i], 0x2000, 0x1000, REGION_RAM);
        e_mmap(&t, 0x3000, 0x1000, REGION_RAM);
        CHECK_EQ(parse_map(&t, &res), MB_ESIZE);
        CHECK_EQ(res.bad_offset, bad);
        CHECK_EQ(res.nregions, 1);
    }
}

/* Huge size fields: an error, no wrap-around of the offset, no overread.
 * 0xFFFFFFFC + 4 wraps a 32-bit offset back to the same entry (an endless
 * loop); 0xFFFFFFFF + 4 wraps to 3. */
static void test_mmap_entry_size_huge(void)
{
    static const uint32_t sizes[] = { 0xFFFFFFFF, 0xFFFFFFFC, 0xFFFFFFEC, 0x80000000, 1000 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct buf t = { .len = 0 };
        struct mb_mmap_result res;
        e_mmap(&t, 0, 0x1000, REGION_RAM);
        size_t bad = t.len;
        e_mmap_sized(&t, 20, 0x2000, 0, REGION_RAM);
        memcpy(t.b + bad, &sizes[i], 4);
        e_mmap(&t, 0x3000, 0x1000, REGION_RAM);
        CHECK_EQ(parse_map(&t, &res), MB_ETRUNC);
        CHECK_EQ(res.bad_offset, bad);
        CHECK_EQ(res.nregions, 1);
    }
}

/* mmap_length not a multiple of 24: the stray tail is ignored. */
static void test_mmap_length_not_multiple(void)
{
    for (size_t extra = 1; extra < 24; extra++) {
        struct buf t;
        struct mb_mmap_result res;
        build_qemu_map(&t);
        for (size_t i = 0; i < extra; i++)
            put(&t, "\x14", 1);
        CHECK_EQ(parse_map(&t, &res), MB_OK);
        CHECK_EQ(res.nregions, 6);
        CHECK_EQ(res.trailing, extra);
    }
}

/* Every prefix of a valid map: whole entries are read, the rest ignored. */
static void test_mmap_every_truncation(void)
{
    struct buf t;
    struct mb_mmap_result res;
    build_qemu_map(&t);
    for (size_t l = 0; l <= t.len; l++) {
        CHECK_EQ(parse_map_at(&t, l, &res), MB_OK);
        CHECK_EQ(res.nregions, l / 24);
        CHECK_EQ(res.trailing, l % 24);
    }
}

/* A truncated last entry whose size field is larger than 20: the 24 bytes
 * are there but the entry runs past the map. */
static void test_mmap_last_entry_past_end(void)
{
    struct buf t = { .len = 0 };
    struct mb_mmap_result res;
    e_mmap(&t, 0, 0x1000, REGION_RAM);
    e_mmap_sized(&t, 28, 0x2000, 0x1000, REGION_RAM);
    CHECK_EQ(parse_map_at(&t, t.len - 1, &res), MB_ETRUNC);
    CHECK_EQ(res.bad_offset, 24);
    CHECK_EQ(res.nregions, 1);
}

static void test_mmap_zero_length_regions(void)
{
    struct buf t = { .len = 0 };
    struct mb_mmap_result res;
    e_mmap(&t, 0, 0, REGION_RAM);
    e_mmap(&t, 0x1000, 0x1000, REGION_RAM);
    e_mmap(&t, 0x2000, 0, REGION_RESERVED);
    CHECK_EQ(parse_map(&t, &res), MB_OK);
    CHECK_EQ(res.nregions, 1);
    CHECK_EQ(res.empty, 2);
    CHECK_EQ(regions[0].base, 0x1000);
}

static void test_mmap_too_many_regions(void)
{
    struct buf t = { .len = 0 };
    struct mb_mmap_result res;
    for (unsigned i = 0; i < BOOT_MAX_REGIONS + 5; i++)
        e_mmap(&t, 0x1000ull * i, 0x1000, REGION_RAM);
    e_mmap(&t, 0, 0, REGION_RAM);               /* empty, not "dropped" */
    CHECK_EQ(parse_map(&t, &res), MB_OK);
    CHECK_EQ(res.nregions, BOOT_MAX_REGIONS);
    CHECK_EQ(res.dropped, 5);
    CHECK_EQ(res.empty, 1);
    CHECK_EQ(regions[BOOT_MAX_REGIONS - 1].base, 0x1000ull * (BOOT_MAX_REGIONS - 1));
}

/* A smaller capacity is respected exactly (no write past MAX). */
static void test_mmap_small_capacity(void)
{
    struct buf t;
    struct mb_mmap_result res;
    build_qemu_map(&t);
    uint8_t *p = exact(&t, t.len);
    struct boot_region *few = malloc(2 * sizeof(*few));
    CHECK(few != NULL);
    CHECK_EQ(mb_mmap_parse(p, t.len, few, 2, &res), MB_OK);
    CHECK_EQ(res.nregions, 2);
    CHECK_EQ(res.dropped, 4);
    CHECK_EQ(mb_mmap_parse(p, t.len, NULL, 0, &res), MB_OK);
    CHECK_EQ(res.dropped, 6);
    free(few);
    free(p);
}

/* ---- modules ---- */

static struct mb_module mods[BOOT_MAX_MODULES];

static int mods_at(const struct buf *t, size_t len, uint32_t count, struct mb_mods_result *res)
{
    uint8_t *p = exact(t, len);
    memset(mods, 0, sizeof(mods));
    int r = mb_mods_parse(p, len, count, mods, BOOT_MAX_MODULES, res);
    free(p);
    return r;
}

static void test_mods_realistic(void)
{
    struct buf t = { .len = 0 };
    struct mb_mods_result res;
    e_mod(&t, 0x200000, 0x230000, 0x9000);
    e_mod(&t, 0x230000, 0x230000, 0x9100);       /* empty module: allowed */
    CHECK_EQ(mods_at(&t, t.len, 2, &res), MB_OK);
    CHECK_EQ(res.nmodules, 2);
    CHECK_EQ(res.bad + res.dropped, 0);
    CHECK_EQ(mods[0].start, 0x200000);
    CHECK_EQ(mods[0].end, 0x230000);
    CHECK_EQ(mods[0].string, 0x9000);
    CHECK_EQ(mods[1].index, 1);
    CHECK_EQ(mods[1].string, 0x9100);
}

static void test_mods_none(void)
{
    struct buf t = { .len = 0 };
    struct mb_mods_result res;
    CHECK_EQ(mods_at(&t, 0, 0, &res), MB_OK);
    CHECK_EQ(res.nmodules, 0);
}

static void test_mods_end_before_start(void)
{
    struct buf t = { .len = 0 };
    struct mb_mods_result res;
    e_mod(&t, 0x300000, 0x2FFFFF, 0);
    e_mod(&t, 0x400000, 0x401000, 0x9000);
    e_mod(&t, 0xFFFFFFFF, 0, 0);
    CHECK_EQ(mods_at(&t, t.len, 3, &res), MB_OK);
    CHECK_EQ(res.nmodules, 1);
    CHECK_EQ(res.bad, 2);
    CHECK_EQ(mods[0].start, 0x400000);
    CHECK_EQ(mods[0].index, 1);
}

static void test_mods_too_many(void)
{
    struct buf t = { .len = 0 };
    struct mb_mods_result res;
    for (unsigned i = 0; i < BOOT_MAX_MODULES + 3; i++)
        e_mod(&t, 0x100000 * (i + 1), 0x100000 * (i + 1) + 0x1000, 0);
    CHECK_EQ(mods_at(&t, t.len, BOOT_MAX_MODULES + 3, &res), MB_OK);
    CHECK_EQ(res.nmodules, BOOT_MAX_MODULES);
    CHECK_EQ(res.dropped, 3);
    CHECK_EQ(mods[BOOT_MAX_MODULES - 1].index, BOOT_MAX_MODULES - 1);
}

/* A count the buffer cannot hold (including huge ones): nothing read. */
static void test_mods_count_past_buffer(void)
{
    static const uint32_t counts[] = { 3, 4, 0x10000000, 0xFFFFFFFF };
    struct buf t = { .len = 0 };
    struct mb_mods_result res;
    e_mod(&t, 0x200000, 0x201000, 0);
    e_mod(&t, 0x300000, 0x301000, 0);
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        CHECK_EQ(mods_at(&t, t.len, counts[i], &res), MB_ETRUNC);
        CHECK_EQ(res.nmodules, 0);
    }
    CHECK_EQ(mods_at(&t, t.len - 1, 2, &res), MB_ETRUNC);
    CHECK_EQ(mods_at(&t, t.len - 1, 1, &res), MB_OK);
    CHECK_EQ(res.nmodules, 1);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_mmap_realistic),
    CHECK_TEST(test_mmap_empty),
    CHECK_TEST(test_mmap_larger_entries),
    CHECK_TEST(test_mmap_entry_size_below_20),
    CHECK_TEST(test_mmap_entry_size_huge),
    CHECK_TEST(test_mmap_length_not_multiple),
    CHECK_TEST(test_mmap_every_truncation),
    CHECK_TEST(test_mmap_last_entry_past_end),
    CHECK_TEST(test_mmap_zero_length_regions),
    CHECK_TEST(test_mmap_too_many_regions),
    CHECK_TEST(test_mmap_small_capacity),
    CHECK_TEST(test_mods_realistic),
    CHECK_TEST(test_mods_none),
    CHECK_TEST(test_mods_end_before_start),
    CHECK_TEST(test_mods_too_many),
    CHECK_TEST(test_mods_count_past_buffer),
};

CHECK_MAIN("multiboot", tests)
