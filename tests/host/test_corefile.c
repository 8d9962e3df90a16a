/*
 * Host tests for lib/base/corefile, the ELF64 core file writer.
 *
 * Structure: the produced bytes are parsed back (ELF header, program
 * headers, the "CORE" notes and their payload offsets, page-aligned
 * PT_LOAD offsets, region contents) and compared with the input.  Hostile
 * input: zero regions, too many, empty/unaligned/wrapping/overlapping
 * regions, sizes whose sum overflows, unreadable memory, a failing sink,
 * buffers one byte short (nothing may be written) and exactly sized heap
 * buffers (ASan catches any write past them).
 *
 * End to end: tests/host/corefile_crash.c is built static for the host
 * (COREFILE_CRASH); the test takes its PT_LOAD segments as memory, adds a
 * synthetic stack holding a frame for main, sets rip to crash_here, writes
 * the core to a temporary file and runs "gdb -batch -ex bt" on it: the
 * backtrace must name crash_here and main.
 */
#define _POSIX_C_SOURCE 200809L     /* mkstemp, fdopen, popen */

#include <stdint.h>
#include <unistd.h>

#include "base/corefile.h"
#include "base/unaligned.h"
#include "check.h"

#define PAGE 4096u

/* ---- memory served by the read callback ---- */

/* Region bytes are a function of the address; reads in [bad_lo, bad_hi) fail. */
struct fake_mem {
    uint64_t bad_lo, bad_hi;
    unsigned reads;
};

static unsigned char pattern(uint64_t va)
{
    return (unsigned char)(va * 7 + (va >> 12) * 13 + 1);
}

static int fake_read(void *ctx, uint64_t va, void *buf, size_t len)
{
    struct fake_mem *m = ctx;
    m->reads++;
    if (va < m->bad_hi && va + len > m->bad_lo)
        return -1;
    unsigned char *b = buf;
    for (size_t i = 0; i < len; i++)
        b[i] = pattern(va + i);
    return 0;
}

static struct core_regs sample_regs(void)
{
    struct core_regs r;
    memset(&r, 0, sizeof(r));
    r.rax = 0x1111; r.rbx = 0x2222; r.r15 = 0xf15f15;
    r.rip = 0x401234; r.rsp = 0x7fff0000ff00; r.rbp = 0x7fff0000ff80;
    r.rflags = 0x10246; r.cs = 0x33; r.ss = 0x2b;
    r.fs_base = 0x4c8000; r.gs_base = 0; r.orig_rax = (uint64_t)-1;
    return r;
}

static struct core_input sample_input(const struct core_regs *regs,
                                      const struct core_region *rg, size_t n,
                                      struct fake_mem *m)
{
    struct core_input in = {
        .regs = regs, .vector = 14, .pid = 7, .tid = 9, .name = "bin/hello",
        .regions = rg, .nregions = n, .read = fake_read, .read_ctx = m,
    };
    return in;
}

/* Writes the core into an exactly sized heap buffer; returns it. */
static unsigned char *write_core(const struct core_input *in, size_t *size,
                                 struct core_result *res)
{
    uint64_t sz;
    CHECK_EQ(core_size(in, &sz), CORE_OK);
    unsigned char *buf = malloc(sz);
    CHECK(buf != NULL);
    CHECK_EQ(core_write_buf(in, buf, sz, res), CORE_OK);
    CHECK_EQ(res->size, sz);
    *size = sz;
    return buf;
}

/* ---- parsing the result back ---- */

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

static struct phdr phdr_at(const unsigned char *f, size_t size, unsigned i)
{
    uint64_t off = rd64(f + 32) + (uint64_t)i * 56;
    CHECK(off + 56 <= size);
    const unsigned char *p = f + off;
    struct phdr h = { rd32(p), rd32(p + 4), rd64(p + 8), rd64(p + 16),
                      rd64(p + 32), rd64(p + 40), rd64(p + 48) };
    CHECK(h.offset <= size && h.filesz <= size - h.offset);
    return h;
}

static void check_ehdr(const unsigned char *f, size_t size, size_t nregions)
{
    CHECK(size >= 64);
    CHECK(memcmp(f, "\x7f" "ELF", 4) == 0);
    CHECK_EQ(f[4], 2);
    CHECK_EQ(f[5], 1);
    CHECK_EQ(f[6], 1);
    CHECK_EQ(rd16(f + 16), 4);            /* ET_CORE */
    CHECK_EQ(rd16(f + 18), 62);           /* EM_X86_64 */
    CHECK_EQ(rd32(f + 20), 1);
    CHECK_EQ(rd64(f + 32), 64);
    CHECK_EQ(rd16(f + 52), 64);
    CHECK_EQ(rd16(f + 54), 56);
    CHECK_EQ(rd16(f + 56), 1 + nregions);
}

/* Checks one note at *off and returns its descriptor. */
static const unsigned char *note_at(const unsigned char *f, uint64_t *off, uint64_t end,
                                    uint32_t type, uint32_t descsz)
{
    CHECK(*off + 20 <= end);
    CHECK_EQ(*off % 4, 0);
    CHECK_EQ(rd32(f + *off), 5);
    CHECK_EQ(rd32(f + *off + 4), descsz);
    CHECK_EQ(rd32(f + *off + 8), type);
    CHECK(memcmp(f + *off + 12, "CORE\0\0\0", 8) == 0);
    const unsigned char *desc = f + *off + 20;
    *off += 20 + ((descsz + 3u) & ~3u);
    CHECK(*off <= end);
    return desc;
}

static void check_notes(const unsigned char *f, size_t size, const struct core_input *in)
{
    struct phdr n = phdr_at(f, size, 0);
    CHECK_EQ(n.type, 4);                  /* PT_NOTE */
    CHECK_EQ(n.offset, 64 + 56 * (1 + in->nregions));
    CHECK_EQ(n.filesz, n.memsz);
    uint64_t off = n.offset, end = n.offset + n.filesz;
    const unsigned char *st = note_at(f, &off, end, 1, 336);
    CHECK_EQ(rd32(st), (uint32_t)core_signal(in->vector));   /* si_signo */
    CHECK_EQ(rd16(st + 12), (uint32_t)core_signal(in->vector)); /* pr_cursig */
    CHECK_EQ(rd32(st + 32), in->tid);     /* pr_pid */
    CHECK(memcmp(st + 112, in->regs, 216) == 0);
    CHECK_EQ(rd64(st + 112 + 16 * 8), in->regs->rip);
    CHECK_EQ(rd64(st + 112 + 19 * 8), in->regs->rsp);
    const unsigned char *ps = note_at(f, &off, end, 3, 136);
    CHECK_EQ(rd32(ps + 24), in->pid);
    CHECK_EQ(ps[40 + 15], 0);
    CHECK_EQ(ps[56 + 79], 0);
    CHECK_EQ(off, end);
}

static void check_loads(const unsigned char *f, size_t size, const struct core_input *in)
{
    uint64_t prev_end = phdr_at(f, size, 0).offset + phdr_at(f, size, 0).filesz;
    for (unsigned i = 0; i < in->nregions; i++) {
        struct phdr h = phdr_at(f, size, 1 + i);
        const struct core_region *r = &in->regions[i];
        CHECK_EQ(h.type, 1);
        CHECK_EQ(h.flags, r->flags);
        CHECK_EQ(h.vaddr, r->vaddr);
        CHECK_EQ(h.filesz, r->size);
        CHECK_EQ(h.memsz, r->size);
        CHECK_EQ(h.align, PAGE);
        CHECK_EQ(h.offset % PAGE, 0);
        CHECK(h.offset >= prev_end);
        prev_end = h.offset + h.filesz;
    }
    CHECK_EQ(prev_end, size);
}

static void check_core(const unsigned char *f, size_t size, const struct core_input *in)
{
    check_ehdr(f, size, in->nregions);
    check_notes(f, size, in);
    check_loads(f, size, in);
}

/* ---- structural tests ---- */

static const struct core_region two_regions[] = {
    { 0x400000, 3 * PAGE, CORE_R | CORE_X },
    { 0x7fff00000000, 2 * PAGE, CORE_R | CORE_W },
};

static void test_structure(void)
{
    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_input in = sample_input(&regs, two_regions, 2, &m);
    struct core_result res;
    size_t size;
    unsigned char *f = write_core(&in, &size, &res);
    check_core(f, size, &in);
    CHECK_EQ(res.unreadable, 0);
    for (unsigned i = 0; i < 2; i++) {
        struct phdr h = phdr_at(f, size, 1 + i);
        for (uint64_t b = 0; b < h.filesz; b++)
            if (f[h.offset + b] != pattern(h.vaddr + b))
                CHECK_EQ(f[h.offset + b], pattern(h.vaddr + b));
    }
    free(f);
}

static void test_names(void)
{
    struct core_regs regs = sample_regs();
    struct core_input in = sample_input(&regs, NULL, 0, NULL);
    struct core_result res;
    size_t size;
    in.name = "/usr/local/bin/a-program-with-a-rather-long-name-that-goes-on-and-on-"
              "and-on-past-eighty-characters";
    unsigned char *f = write_core(&in, &size, &res);
    check_core(f, size, &in);
    const unsigned char *ps = f + 64 + 56 + 20 + 336 + 20;
    CHECK_EQ(memcmp(ps + 40, "a-program-with-", 15), 0);
    CHECK_EQ(memcmp(ps + 56, in.name, 79), 0);
    free(f);

    in.name = "hello";
    f = write_core(&in, &size, &res);
    ps = f + 64 + 56 + 20 + 336 + 20;
    CHECK_STR((const char *)ps + 40, "hello");
    CHECK_STR((const char *)ps + 56, "hello");
    free(f);
}

static void test_signals(void)
{
    CHECK_EQ(core_signal(14), 11);
    CHECK_EQ(core_signal(13), 11);
    CHECK_EQ(core_signal(6), 4);
    CHECK_EQ(core_signal(0), 8);
    CHECK_EQ(core_signal(3), 5);
    CHECK_EQ(core_signal(1), 5);
    CHECK_EQ(core_signal(19), 8);
    CHECK_EQ(core_signal(17), 7);
    CHECK_EQ(core_signal(200), 11);
}

static void test_zero_regions(void)
{
    struct core_regs regs = sample_regs();
    struct core_input in = sample_input(&regs, NULL, 0, NULL);
    in.read = NULL;
    struct core_result res;
    size_t size;
    unsigned char *f = write_core(&in, &size, &res);
    CHECK_EQ(size, 64 + 56 + 512);
    check_core(f, size, &in);
    free(f);
}

static void test_unreadable(void)
{
    struct core_regs regs = sample_regs();
    /* Reads of the second page of the first region fail. */
    struct fake_mem m = { 0x401000, 0x402000, 0 };
    struct core_region rg[3] = { two_regions[0], two_regions[1],
                                 { 0x500000, PAGE, CORE_R } };
    struct core_input in = sample_input(&regs, rg, 3, &m);
    struct core_result res;
    size_t size;
    unsigned char *f = write_core(&in, &size, &res);
    check_core(f, size, &in);
    CHECK_EQ(res.unreadable, 1);
    struct phdr h = phdr_at(f, size, 1);
    for (uint64_t b = 0; b < h.filesz; b++) {
        uint64_t va = h.vaddr + b;
        unsigned char want = va >= 0x401000 && va < 0x402000 ? 0 : pattern(va);
        if (f[h.offset + b] != want)
            CHECK_EQ(f[h.offset + b], want);
    }
    free(f);
}

static void test_too_many_regions(void)
{
    static struct core_region rg[CORE_MAX_REGIONS + 1];
    for (unsigned i = 0; i < CORE_MAX_REGIONS + 1; i++)
        rg[i] = (struct core_region){ 0x10000000 + (uint64_t)i * 2 * PAGE, PAGE, CORE_R };
    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_input in = sample_input(&regs, rg, CORE_MAX_REGIONS + 1, &m);
    uint64_t size;
    CHECK_EQ(core_size(&in, &size), CORE_ETOOMANY);
    in.nregions = (size_t)-1;
    CHECK_EQ(core_size(&in, &size), CORE_ETOOMANY);
    in.nregions = CORE_MAX_REGIONS;
    struct core_result res;
    size_t sz;
    unsigned char *f = write_core(&in, &sz, &res);
    check_core(f, sz, &in);
    free(f);
}

static int size_of_one(uint64_t vaddr, uint64_t rsize)
{
    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_region r = { vaddr, rsize, CORE_R };
    struct core_input in = sample_input(&regs, &r, 1, &m);
    uint64_t size;
    return core_size(&in, &size);
}

static void test_bad_regions(void)
{
    CHECK_EQ(size_of_one(0x400000, 0), CORE_EREGION);
    CHECK_EQ(size_of_one(0x400001, PAGE), CORE_EREGION);
    CHECK_EQ(size_of_one(0x400000, PAGE + 1), CORE_EREGION);
    CHECK_EQ(size_of_one(UINT64_MAX - PAGE + 1, 2 * PAGE), CORE_EREGION);
    CHECK_EQ(size_of_one(2 * PAGE, UINT64_MAX - PAGE + 1), CORE_EREGION);
    /* The last page of the address space is a valid region. */
    CHECK_EQ(size_of_one(UINT64_MAX - PAGE + 1, PAGE), CORE_OK);
    /* One region of 2^64 - 4096 bytes: the file would not fit in 2^64. */
    CHECK_EQ(size_of_one(0, UINT64_MAX - PAGE + 1), CORE_EOVERFLOW);

    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_region ov[2] = { { 0x400000, 4 * PAGE, CORE_R },
                                 { 0x403000, PAGE, CORE_R } };
    struct core_input in = sample_input(&regs, ov, 2, &m);
    uint64_t size;
    CHECK_EQ(core_size(&in, &size), CORE_EREGION);
}

static void test_overflowing_sum(void)
{
    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_region rg[2] = { { 0, (uint64_t)1 << 63, CORE_R },
                                 { (uint64_t)1 << 63, ((uint64_t)1 << 63) - PAGE, CORE_R } };
    struct core_input in = sample_input(&regs, rg, 2, &m);
    uint64_t size;
    CHECK_EQ(core_size(&in, &size), CORE_EOVERFLOW);
    unsigned char buf[64];
    CHECK_EQ(core_write_buf(&in, buf, sizeof(buf), NULL), CORE_EOVERFLOW);
    CHECK_EQ(m.reads, 0);
    /* Huge but representable: computed, then refused for lack of space. */
    rg[1].size = (uint64_t)1 << 40;
    rg[0].size = (uint64_t)1 << 62;
    CHECK_EQ(core_size(&in, &size), CORE_OK);
    CHECK(size > ((uint64_t)1 << 62));
    CHECK_EQ(core_write_buf(&in, buf, sizeof(buf), NULL), CORE_ESPACE);
    CHECK_EQ(m.reads, 0);
}

static void test_invalid(void)
{
    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_input in = sample_input(&regs, two_regions, 2, &m);
    uint64_t size;
    CHECK_EQ(core_size(NULL, &size), CORE_EINVAL);
    CHECK_EQ(core_size(&in, NULL), CORE_EINVAL);
    in.regs = NULL;
    CHECK_EQ(core_size(&in, &size), CORE_EINVAL);
    in.regs = &regs;
    in.name = NULL;
    CHECK_EQ(core_size(&in, &size), CORE_EINVAL);
    in.name = "x";
    in.read = NULL;
    CHECK_EQ(core_size(&in, &size), CORE_EINVAL);
    in.read = fake_read;
    in.regions = NULL;
    CHECK_EQ(core_size(&in, &size), CORE_EINVAL);
    in.regions = two_regions;
    CHECK_EQ(core_write(&in, NULL, NULL, NULL), CORE_EINVAL);
    CHECK_EQ(core_write_buf(&in, NULL, 100, NULL), CORE_EINVAL);
    CHECK(strcmp(core_strerror(CORE_ESPACE), "unknown error") != 0);
    CHECK_STR(core_strerror(12345), "unknown error");
}

static void test_buffer_too_small(void)
{
    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_input in = sample_input(&regs, two_regions, 2, &m);
    uint64_t size;
    CHECK_EQ(core_size(&in, &size), CORE_OK);
    size_t cap = (size_t)size - 1, guard = 256;
    unsigned char *buf = malloc(cap + guard);
    CHECK(buf != NULL);
    memset(buf, 0xa5, cap + guard);
    struct core_result res = { 99, 99 };
    CHECK_EQ(core_write_buf(&in, buf, cap, &res), CORE_ESPACE);
    for (size_t i = 0; i < cap + guard; i++)
        if (buf[i] != 0xa5)
            CHECK_EQ(buf[i], 0xa5);
    CHECK_EQ(m.reads, 0);
    CHECK_EQ(core_write_buf(&in, buf, 0, NULL), CORE_ESPACE);
    free(buf);
}

/* A sink that accepts limit bytes, then fails. */
struct limited {
    size_t limit, got;
};

static int limited_put(void *ctx, const void *buf, size_t len)
{
    struct limited *l = ctx;
    (void)buf;
    if (len > l->limit - l->got)
        return 1;
    l->got += len;
    return 0;
}

static void test_sink(void)
{
    struct core_regs regs = sample_regs();
    struct fake_mem m = { 0, 0, 0 };
    struct core_input in = sample_input(&regs, two_regions, 2, &m);
    uint64_t size;
    CHECK_EQ(core_size(&in, &size), CORE_OK);
    struct limited all = { (size_t)size, 0 };
    struct core_result res;
    CHECK_EQ(core_write(&in, limited_put, &all, &res), CORE_OK);
    CHECK_EQ(all.got, size);
    size_t cuts[] = { 0, 63, 64, 200, 700, 4096, 4097, (size_t)size - 1 };
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct limited l = { cuts[i], 0 };
        CHECK_EQ(core_write(&in, limited_put, &l, &res), CORE_ESINK);
        CHECK(l.got <= cuts[i]);
        CHECK_EQ(res.size, l.got);
    }
}

/* ---- end to end: gdb reads a synthesised core of corefile_crash ---- */

#define STACK_VA   0x7ffff7000000ull
#define STACK_SIZE (2 * PAGE)
#define MAX_LOADS  16

struct prog {
    unsigned char *file;
    size_t size;
    struct phdr loads[MAX_LOADS];
    unsigned nloads;
    unsigned char stack[STACK_SIZE];
};

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        check_fail(__FILE__, __LINE__, "cannot open %s", path);
    CHECK(fseek(fp, 0, SEEK_END) == 0);
    long n = ftell(fp);
    CHECK(n > 64);
    rewind(fp);
    unsigned char *buf = malloc((size_t)n);
    CHECK(buf != NULL);
    CHECK_EQ(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

static void prog_load(struct prog *p, const char *path)
{
    p->file = read_file(path, &p->size);
    CHECK_EQ(rd16(p->file + 16), 2);                       /* ET_EXEC */
    p->nloads = 0;
    for (unsigned i = 0; i < rd16(p->file + 56); i++) {
        struct phdr h = phdr_at(p->file, p->size, i);
        if (h.type != 1)
            continue;
        CHECK(p->nloads < MAX_LOADS);
        p->loads[p->nloads++] = h;
    }
    CHECK(p->nloads > 0);
}

/* The value and size of a symbol of .symtab. */
static uint64_t symbol(const struct prog *p, const char *name, uint64_t *size)
{
    const unsigned char *f = p->file;
    uint64_t shoff = rd64(f + 40);
    unsigned shnum = rd16(f + 60);
    CHECK(shoff <= p->size && (uint64_t)shnum * 64 <= p->size - shoff);
    for (unsigned i = 0; i < shnum; i++) {
        const unsigned char *sh = f + shoff + i * 64;
        if (rd32(sh + 4) != 2)                                /* SHT_SYMTAB */
            continue;
        const unsigned char *str = f + shoff + rd32(sh + 40) * 64;
        uint64_t off = rd64(sh + 24), n = rd64(sh + 32) / 24, stroff = rd64(str + 24);
        CHECK(off + n * 24 <= p->size);
        for (uint64_t j = 0; j < n; j++) {
            const unsigned char *sym = f + off + j * 24;
            uint64_t nm = stroff + rd32(sym);
            CHECK(nm < p->size);
            if (strncmp((const char *)f + nm, name, p->size - nm) == 0) {
                *size = rd64(sym + 16);
                return rd64(sym + 8);
            }
        }
    }
    check_fail(__FILE__, __LINE__, "no symbol %s in %s", name, COREFILE_CRASH);
}

/* The file bytes at virtual address va (n of them), or NULL. */
static const unsigned char *prog_bytes(const struct prog *p, uint64_t va, uint64_t n)
{
    for (unsigned i = 0; i < p->nloads; i++) {
        const struct phdr *h = &p->loads[i];
        if (va >= h->vaddr && n <= h->filesz && va - h->vaddr <= h->filesz - n)
            return p->file + h->offset + (va - h->vaddr);
    }
    return NULL;
}

/* The address just after main's "call crash_here". */
static uint64_t return_into_main(const struct prog *p, uint64_t crash)
{
    uint64_t size, main_va = symbol(p, "main", &size);
    const unsigned char *code = prog_bytes(p, main_va, size);
    CHECK(code != NULL && size > 5);
    for (uint64_t i = 0; i + 5 <= size; i++) {
        int32_t rel = (int32_t)rd32(code + i + 1);
        if (code[i] == 0xe8 && main_va + i + 5 + (uint64_t)(int64_t)rel == crash)
            return main_va + i + 5;
    }
    check_fail(__FILE__, __LINE__, "no call to crash_here in main");
}

/* Memory as the loaded program would have it: file bytes, zeros past
 * p_filesz, and the synthetic stack. */
static int prog_read(void *ctx, uint64_t va, void *buf, size_t len)
{
    struct prog *p = ctx;
    unsigned char *b = buf;
    memset(b, 0, len);
    if (va >= STACK_VA && va - STACK_VA < STACK_SIZE)
        memcpy(b, p->stack + (va - STACK_VA), len);
    for (unsigned i = 0; i < p->nloads; i++) {
        const struct phdr *h = &p->loads[i];
        uint64_t lo = va > h->vaddr ? va : h->vaddr;
        uint64_t hi = va + len < h->vaddr + h->filesz ? va + len : h->vaddr + h->filesz;
        if (lo < hi)
            memcpy(b + (lo - va), p->file + h->offset + (lo - h->vaddr), hi - lo);
    }
    return 0;
}

/* One page-aligned region per PT_LOAD (merged where they share a page),
 * then the stack; returns the count. */
static size_t prog_regions(const struct prog *p, struct core_region *rg)
{
    size_t n = 0;
    for (unsigned i = 0; i < p->nloads; i++) {
        const struct phdr *h = &p->loads[i];
        uint64_t lo = h->vaddr & ~(uint64_t)(PAGE - 1);
        uint64_t hi = (h->vaddr + h->memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        uint32_t fl = h->flags & 7;
        if (n && lo < rg[n - 1].vaddr + rg[n - 1].size) {
            CHECK(lo >= rg[n - 1].vaddr);
            if (hi > rg[n - 1].vaddr + rg[n - 1].size)
                rg[n - 1].size = hi - rg[n - 1].vaddr;
            rg[n - 1].flags |= fl;
            continue;
        }
        rg[n++] = (struct core_region){ lo, hi - lo, fl };
    }
    rg[n++] = (struct core_region){ STACK_VA, STACK_SIZE, CORE_R | CORE_W };
    return n;
}

/* Registers at the first instruction of crash_here(NULL), called from main:
 * [rsp] is the return address; main's frame (rbp) returns to 0. */
static struct core_regs crash_regs(struct prog *p, uint64_t crash)
{
    uint64_t ret = return_into_main(p, crash), zero = 0;
    memcpy(p->stack + 0x1000, &ret, 8);
    memcpy(p->stack + 0x1100, &zero, 8);
    memcpy(p->stack + 0x1108, &zero, 8);
    struct core_regs r;
    memset(&r, 0, sizeof(r));
    r.rip = crash;
    r.rsp = STACK_VA + 0x1000;
    r.rbp = STACK_VA + 0x1100;
    r.rdi = 0;
    r.rflags = 0x246;
    r.cs = 0x33;
    r.ss = 0x2b;
    r.orig_rax = (uint64_t)-1;
    return r;
}

static int file_put(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? 0 : 1;
}

static void write_core_file(const struct core_input *in, char *path)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *fp = fdopen(fd, "wb");
    CHECK(fp != NULL);
    struct core_result res;
    int err = core_write(in, file_put, fp, &res);
    CHECK_EQ(fclose(fp), 0);
    if (err)
        check_fail(__FILE__, __LINE__, "core_write: %s", core_strerror(err));
    CHECK_EQ(res.unreadable, 0);
}

/* Runs gdb's bt on the program and core; returns its output. */
static void gdb_backtrace(const char *core, char *out, size_t cap)
{
    if (system("command -v gdb >/dev/null 2>&1") != 0)
        check_fail(__FILE__, __LINE__, "gdb is not installed (tools/setup installs it: "
                   "apt-get install gdb)");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "gdb -batch -nx -iex 'set debuginfod enabled off' "
             "-ex bt '%s' '%s' 2>&1", COREFILE_CRASH, core);
    FILE *fp = popen(cmd, "r");
    CHECK(fp != NULL);
    size_t n = fread(out, 1, cap - 1, fp);
    out[n] = 0;
    pclose(fp);
}

static void test_gdb_backtrace(void)
{
    static struct prog p;
    static struct core_region rg[MAX_LOADS + 1];
    prog_load(&p, COREFILE_CRASH);
    uint64_t size, crash = symbol(&p, "crash_here", &size);
    struct core_regs regs = crash_regs(&p, crash);
    struct core_input in = {
        .regs = &regs, .vector = 14, .pid = 4242, .tid = 4242,
        .name = COREFILE_CRASH, .regions = rg, .nregions = prog_regions(&p, rg),
        .read = prog_read, .read_ctx = &p,
    };
    char core[] = "/tmp/kestrel-core-XXXXXX";
    write_core_file(&in, core);
    static char out[16384];
    gdb_backtrace(core, out, sizeof(out));
    unlink(core);
    free(p.file);
    const char *f0 = strstr(out, "#0 "), *f1 = strstr(out, "#1 ");
    if (!f0 || !f1 || !strstr(f0, "crash_here") || !strstr(f1, "main"))
        check_fail(__FILE__, __LINE__, "gdb backtrace lacks crash_here/main:\n%s", out);
    CHECK(strstr(out, "SIGSEGV") != NULL);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_structure),
    CHECK_TEST(test_names),
    CHECK_TEST(test_signals),
    CHECK_TEST(test_zero_regions),
    CHECK_TEST(test_unreadable),
    CHECK_TEST(test_too_many_regions),
    CHECK_TEST(test_bad_regions),
    CHECK_TEST(test_overflowing_sum),
    CHECK_TEST(test_invalid),
    CHECK_TEST(test_buffer_too_small),
    CHECK_TEST(test_sink),
    CHECK_TEST(test_gdb_backtrace),
};

CHECK_MAIN("corefile", tests)
