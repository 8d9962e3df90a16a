/*
 * Host tests for kernel/core/elf.c: a valid image built here, then one
 * hostile variant per rule of elf.h.  Each image is allocated at its exact
 * size, so ASan reports any read past its end; a truncation sweep and a
 * byte-corruption sweep check that no input makes the parser misbehave.
 * The real build/user/hello.elf is parsed too (path from host.mk).
 */
#include "check.h"

#include <stdint.h>

#include "core/elf.h"
#include "kestrel/startup.h"

#define MAX_PH 12

struct ph {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz;
};

struct spec {
    unsigned char ident[16];
    uint16_t type, machine, phentsize, phnum;
    uint32_t version;
    uint64_t phoff, entry;
    struct ph ph[MAX_PH];
    size_t size;
};

/* Writes the N-byte little-endian V at OFF, skipping bytes past SIZE. */
static void put(unsigned char *buf, size_t size, uint64_t off, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++, v >>= 8)
        if (off + i < size)
            buf[off + i] = (unsigned char)v;
}

/* Text R+X at 0x400000, rodata R at 0x401000, data+bss R+W at 0x402000. */
static void spec_valid(struct spec *s)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->ident, "\x7f" "ELF\x02\x01\x01", 7);
    s->type = 2;
    s->machine = 62;
    s->version = 1;
    s->phentsize = 56;
    s->phnum = 3;
    s->phoff = 64;
    s->entry = 0x400010;
    s->ph[0] = (struct ph){ 1, ELF_SEG_R | ELF_SEG_X, 0x1000, 0x400000, 0x100, 0x100 };
    s->ph[1] = (struct ph){ 1, ELF_SEG_R, 0x2000, 0x401000, 0x40, 0x40 };
    s->ph[2] = (struct ph){ 1, ELF_SEG_R | ELF_SEG_W, 0x2040, 0x402040, 0x20, 0x3000 };
    s->size = 0x2060;
}

static unsigned char *spec_build(const struct spec *s)
{
    unsigned char *b = calloc(1, s->size ? s->size : 1);
    size_t n = s->size;
    for (unsigned i = 0; i < 16 && i < n; i++)
        b[i] = s->ident[i];
    put(b, n, 16, s->type, 2);
    put(b, n, 18, s->machine, 2);
    put(b, n, 20, s->version, 4);
    put(b, n, 24, s->entry, 8);
    put(b, n, 32, s->phoff, 8);
    put(b, n, 52, 64, 2);
    put(b, n, 54, s->phentsize, 2);
    put(b, n, 56, s->phnum, 2);
    for (unsigned i = 0; i < s->phnum && i < MAX_PH; i++) {
        uint64_t o = s->phoff + i * 56ull;
        put(b, n, o, s->ph[i].type, 4);
        put(b, n, o + 4, s->ph[i].flags, 4);
        put(b, n, o + 8, s->ph[i].offset, 8);
        put(b, n, o + 16, s->ph[i].vaddr, 8);
        put(b, n, o + 24, s->ph[i].vaddr, 8);
        put(b, n, o + 32, s->ph[i].filesz, 8);
        put(b, n, o + 40, s->ph[i].memsz, 8);
    }
    return b;
}

static int spec_parse(const struct spec *s)
{
    unsigned char *b = spec_build(s);
    struct elf_image img;
    int r = elf_parse(b, s->size, &img);
    free(b);
    return r;
}

static void test_valid(void)
{
    struct spec s;
    spec_valid(&s);
    unsigned char *b = spec_build(&s);
    struct elf_image img;
    CHECK_EQ(elf_parse(b, s.size, &img), ELF_OK);
    free(b);
    CHECK_EQ(img.entry, 0x400010);
    CHECK_EQ(img.nsegments, 3);
    CHECK_EQ(img.segments[0].vaddr, 0x400000);
    CHECK_EQ(img.segments[0].flags, ELF_SEG_R | ELF_SEG_X);
    CHECK_EQ(img.segments[2].offset, 0x2040);
    CHECK_EQ(img.segments[2].filesz, 0x20);
    CHECK_EQ(img.segments[2].memsz, 0x3000);
    CHECK_EQ(img.segments[2].flags, ELF_SEG_R | ELF_SEG_W);
}

/* The file need not be aligned in memory (cpio data is 4-byte aligned). */
static void test_unaligned_file(void)
{
    struct spec s;
    spec_valid(&s);
    unsigned char *b = spec_build(&s);
    unsigned char *u = malloc(s.size + 1);
    memcpy(u + 1, b, s.size);
    struct elf_image img;
    CHECK_EQ(elf_parse(u + 1, s.size, &img), ELF_OK);
    free(u);
    free(b);
}

static void test_truncated_header(void)
{
    struct spec s;
    spec_valid(&s);
    s.size = 63;
    CHECK_EQ(spec_parse(&s), ELF_ETRUNC);
    s.size = 0;
    CHECK_EQ(spec_parse(&s), ELF_ETRUNC);
}

static void test_ident(void)
{
    struct spec s;
    spec_valid(&s);
    s.ident[1] = 'e';
    CHECK_EQ(spec_parse(&s), ELF_EMAGIC);
    spec_valid(&s);
    s.ident[4] = 1;
    CHECK_EQ(spec_parse(&s), ELF_ECLASS);
    spec_valid(&s);
    s.ident[5] = 2;
    CHECK_EQ(spec_parse(&s), ELF_EDATA);
    spec_valid(&s);
    s.ident[6] = 0;
    CHECK_EQ(spec_parse(&s), ELF_EVERSION);
    spec_valid(&s);
    s.version = 2;
    CHECK_EQ(spec_parse(&s), ELF_EVERSION);
}

static void test_machine_and_type(void)
{
    struct spec s;
    spec_valid(&s);
    s.machine = 3;
    CHECK_EQ(spec_parse(&s), ELF_EMACHINE);
    spec_valid(&s);
    s.type = 3;
    CHECK_EQ(spec_parse(&s), ELF_ETYPE);
}

static void test_phdr_table(void)
{
    struct spec s;
    spec_valid(&s);
    s.phoff = s.size;
    CHECK_EQ(spec_parse(&s), ELF_EPHDR);
    s.phoff = s.size - 100;
    CHECK_EQ(spec_parse(&s), ELF_EPHDR);
    s.phoff = UINT64_MAX - 8;                /* the table itself is not written */
    s.phnum = 0;
    unsigned char *b = spec_build(&s);
    put(b, s.size, 56, 3, 2);
    struct elf_image img;
    CHECK_EQ(elf_parse(b, s.size, &img), ELF_EPHDR);
    free(b);
    spec_valid(&s);
    s.phnum = 0xffff;
    CHECK_EQ(spec_parse(&s), ELF_ETOOMANY);
    spec_valid(&s);
    s.phnum = 40;
    s.size = 64 + 39 * 56;
    CHECK_EQ(spec_parse(&s), ELF_EPHDR);
    spec_valid(&s);
    s.phentsize = 32;
    CHECK_EQ(spec_parse(&s), ELF_EPHDR);
    spec_valid(&s);
    s.phnum = 0;
    CHECK_EQ(spec_parse(&s), ELF_EPHDR);
}

static void test_segment_sizes(void)
{
    struct spec s;
    spec_valid(&s);
    s.ph[1].filesz = 0x41;
    CHECK_EQ(spec_parse(&s), ELF_ESIZE);
    spec_valid(&s);
    s.ph[2].filesz = 0x21;
    CHECK_EQ(spec_parse(&s), ELF_EFILE);
    spec_valid(&s);
    s.ph[1].offset = s.size + 0x1000;
    s.ph[1].vaddr = 0x401000 + s.size;
    CHECK_EQ(spec_parse(&s), ELF_EFILE);
    spec_valid(&s);
    s.ph[1].offset = UINT64_MAX - 0xfff;     /* offset + filesz wraps */
    CHECK_EQ(spec_parse(&s), ELF_EFILE);
}

static void test_segment_addresses(void)
{
    struct spec s;
    spec_valid(&s);
    s.ph[1].vaddr = 0xffffffff80001000ULL;
    CHECK_EQ(spec_parse(&s), ELF_EADDR);
    s.ph[1].vaddr = 0x1000;
    CHECK_EQ(spec_parse(&s), ELF_EADDR);
    s.ph[1].vaddr = K_USER_TOP - 0x1000;
    s.ph[1].memsz = 0x1001;
    CHECK_EQ(spec_parse(&s), ELF_EADDR);
    s.ph[1].memsz = UINT64_MAX;              /* vaddr + memsz wraps */
    CHECK_EQ(spec_parse(&s), ELF_EADDR);
    s.ph[1].memsz = 0x1000;                  /* ends exactly at the top: fine */
    CHECK_EQ(spec_parse(&s), ELF_OK);
}

static void test_misaligned_offset(void)
{
    struct spec s;
    spec_valid(&s);
    s.ph[1].offset = 0x2010;
    CHECK_EQ(spec_parse(&s), ELF_EALIGN);
}

static void test_overlap(void)
{
    struct spec s;
    spec_valid(&s);
    s.ph[1].vaddr = 0x400000;
    CHECK_EQ(spec_parse(&s), ELF_EOVERLAP);
    spec_valid(&s);
    s.ph[2].vaddr = 0x401040;                /* shares rodata's page */
    CHECK_EQ(spec_parse(&s), ELF_EOVERLAP);
    spec_valid(&s);
    s.ph[0].memsz = 0x1001;                  /* text's zero fill runs into rodata */
    CHECK_EQ(spec_parse(&s), ELF_EOVERLAP);
}

static void test_write_execute(void)
{
    struct spec s;
    spec_valid(&s);
    s.ph[2].flags = ELF_SEG_R | ELF_SEG_W | ELF_SEG_X;
    CHECK_EQ(spec_parse(&s), ELF_EWX);
}

static void test_entry(void)
{
    struct spec s;
    spec_valid(&s);
    s.entry = 0x401000;                      /* rodata */
    CHECK_EQ(spec_parse(&s), ELF_EENTRY);
    s.entry = 0x400100;                      /* one past text */
    CHECK_EQ(spec_parse(&s), ELF_EENTRY);
    s.entry = 0;
    CHECK_EQ(spec_parse(&s), ELF_EENTRY);
    s.entry = 0x4000ff;
    CHECK_EQ(spec_parse(&s), ELF_OK);
}

static void test_no_load(void)
{
    struct spec s;
    spec_valid(&s);
    for (int i = 0; i < 3; i++)
        s.ph[i].type = 4;                    /* PT_NOTE */
    CHECK_EQ(spec_parse(&s), ELF_ENOLOAD);
    spec_valid(&s);
    s.ph[1].type = 3;                        /* PT_INTERP */
    CHECK_EQ(spec_parse(&s), ELF_EINTERP);
}

static void test_empty_segment_ignored(void)
{
    struct spec s;
    spec_valid(&s);
    s.phnum = 4;
    s.ph[3] = (struct ph){ 1, ELF_SEG_R | ELF_SEG_W | ELF_SEG_X, 0, 0x400000, 0, 0 };
    unsigned char *b = spec_build(&s);
    struct elf_image img;
    CHECK_EQ(elf_parse(b, s.size, &img), ELF_OK);
    free(b);
    CHECK_EQ(img.nsegments, 3);
}

static void test_too_many_segments(void)
{
    struct spec s;
    spec_valid(&s);
    s.phnum = ELF_MAX_SEGMENTS + 1;
    s.size = 64 + 56 * s.phnum;
    for (unsigned i = 0; i < s.phnum; i++)
        s.ph[i] = (struct ph){ 1, ELF_SEG_R | ELF_SEG_X, 0, 0x400000 + 0x1000 * i, 0, 0x10 };
    CHECK_EQ(spec_parse(&s), ELF_ETOOMANY);
    s.phnum = ELF_MAX_SEGMENTS;
    s.entry = 0x400000;
    CHECK_EQ(spec_parse(&s), ELF_OK);
}

/* Every prefix of a valid image is rejected without a stray read. */
static void test_truncation_sweep(void)
{
    struct spec s;
    spec_valid(&s);
    size_t full = s.size;
    for (size_t n = 0; n < full; n++) {
        s.size = n;
        CHECK(spec_parse(&s) < 0);
    }
}

/* Random byte corruption: any result is fine, crashes and over-reads are not. */
static void test_corruption_sweep(void)
{
    struct spec s;
    spec_valid(&s);
    unsigned char *good = spec_build(&s);
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        unsigned char *b = malloc(s.size);
        memcpy(b, good, s.size);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            b[(seed >> 8) % 400] = (unsigned char)(seed >> 24);
        }
        struct elf_image img;
        int r = elf_parse(b, s.size, &img);
        CHECK(r <= 0);
        if (r == ELF_OK)
            CHECK(img.nsegments >= 1 && img.nsegments <= ELF_MAX_SEGMENTS);
        free(b);
    }
    free(good);
}

static void test_strerror(void)
{
    for (int e = ELF_OK; e >= ELF_EINTERP; e--)
        CHECK(strcmp(elf_strerror(e), "unknown ELF error") != 0);
    CHECK_STR(elf_strerror(1), "unknown ELF error");
}

/* The program `make user` links: what the loader will really see. */
static void test_real_hello(void)
{
#ifdef TEST_HELLO_ELF
    FILE *f = fopen(TEST_HELLO_ELF, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    CHECK_EQ(fread(b, 1, (size_t)n, f), n);
    fclose(f);
    struct elf_image img;
    int r = elf_parse(b, (size_t)n, &img);
    free(b);
    CHECK_STR(elf_strerror(r), "ok");
    CHECK_EQ(img.nsegments, 3);
    CHECK_EQ(img.segments[0].vaddr, K_NATIVE_BASE);
    CHECK_EQ(img.segments[0].flags, ELF_SEG_R | ELF_SEG_X);
    CHECK_EQ(img.segments[1].flags, ELF_SEG_R);
    CHECK_EQ(img.segments[2].flags, ELF_SEG_R | ELF_SEG_W);
    CHECK_EQ(img.entry, K_NATIVE_BASE);
#endif
}

static const struct check_test tests[] = {
    CHECK_TEST(test_valid),
    CHECK_TEST(test_unaligned_file),
    CHECK_TEST(test_truncated_header),
    CHECK_TEST(test_ident),
    CHECK_TEST(test_machine_and_type),
    CHECK_TEST(test_phdr_table),
    CHECK_TEST(test_segment_sizes),
    CHECK_TEST(test_segment_addresses),
    CHECK_TEST(test_misaligned_offset),
    CHECK_TEST(test_overlap),
    CHECK_TEST(test_write_execute),
    CHECK_TEST(test_entry),
    CHECK_TEST(test_no_load),
    CHECK_TEST(test_empty_segment_ignored),
    CHECK_TEST(test_too_many_segments),
    CHECK_TEST(test_truncation_sweep),
    CHECK_TEST(test_corruption_sweep),
    CHECK_TEST(test_strerror),
    CHECK_TEST(test_real_hello),
};

CHECK_MAIN("elf", tests)
