/*
 * Host tests for kernel/core/pmm, the bitmap frame allocator: init, marking
 * unaligned and clipped ranges free and used, allocation until exhaustion,
 * free and reuse, rejected frees (double, partial double, misaligned, out
 * of range) that must change nothing, alloc_contig with alignment and
 * limit, ranges near UINT64_MAX, and a random sequence checked against a
 * simple model.  After every step the free count is recounted from the
 * bitmap (check_consistent), and the bitmap is an exact-size heap block.
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/pmm.h"
#include "check.h"

#define NFRAMES 200    /* not a multiple of 64: the last word is partial */

struct fixture {
    struct pmm p;
    uint64_t *bitmap;
};

static void setup(struct fixture *f, uint64_t nframes)
{
    f->bitmap = malloc(pmm_bitmap_bytes(nframes) ? pmm_bitmap_bytes(nframes) : 1);
    CHECK(f->bitmap != NULL);
    pmm_init(&f->p, f->bitmap, nframes);
}

/* Free bits among the first nframes must equal p->free, and the bits
 * past nframes in the last word must stay set. */
static void consistent(const struct pmm *p, const char *file, int line)
{
    uint64_t nfree = 0;
    for (uint64_t i = 0; i < p->nframes; i++)
        nfree += !(p->bitmap[i / 64] >> (i % 64) & 1);
    if (nfree != p->free)
        check_fail(file, line, "bitmap has %llu free frames, counter %llu",
                   (unsigned long long)nfree, (unsigned long long)p->free);
    for (uint64_t i = p->nframes; i % 64; i++)
        if (!(p->bitmap[i / 64] >> (i % 64) & 1))
            check_fail(file, line, "padding bit %llu is clear", (unsigned long long)i);
}
#define CHECK_CONSISTENT(p) consistent(p, __FILE__, __LINE__)

/* A copy of the whole state, to show that a rejected call changed nothing. */
struct snapshot {
    uint64_t words[(NFRAMES + 63) / 64];
    struct pmm p;
};

static void take(struct snapshot *s, const struct pmm *p)
{
    s->p = *p;
    memcpy(s->words, p->bitmap, pmm_bitmap_bytes(p->nframes));
}

static bool same(const struct snapshot *s, const struct pmm *p)
{
    return s->p.free == p->free && s->p.hint == p->hint &&
           memcmp(s->words, p->bitmap, pmm_bitmap_bytes(p->nframes)) == 0;
}

static void test_init_all_used(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    CHECK_EQ(f.p.free, 0);
    CHECK_CONSISTENT(&f.p);
    for (uint64_t i = 0; i < NFRAMES + 70; i++)
        CHECK(pmm_is_used(&f.p, i * PAGE_SIZE));
    CHECK_EQ(pmm_alloc(&f.p), PMM_NONE);
    CHECK_EQ(pmm_alloc_contig(&f.p, 1, 1, 0), PMM_NONE);
    CHECK_EQ(pmm_free(&f.p, 0, 1), 0);     /* frames start allocated */
    CHECK_EQ(f.p.free, 1);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_mark_unaligned(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    /* [0x1800, 0x4800) wholly contains frames 2 and 3 only */
    CHECK_EQ(pmm_mark_free(&f.p, 0x1800, 0x3000), 2);
    CHECK(pmm_is_used(&f.p, 0x1000) && pmm_is_used(&f.p, 0x4000));
    CHECK(!pmm_is_used(&f.p, 0x2000) && !pmm_is_used(&f.p, 0x3fff));
    CHECK_EQ(pmm_mark_free(&f.p, 0x1800, 0x3000), 0);
    CHECK_EQ(pmm_mark_free(&f.p, 0x2001, 0xfff), 0);      /* no whole frame */
    CHECK_CONSISTENT(&f.p);
    /* mark_used takes every frame touched: one byte of frame 3 */
    CHECK_EQ(pmm_mark_used(&f.p, 0x3fff, 1), 1);
    CHECK_EQ(pmm_mark_used(&f.p, 0x1fff, 2), 1);          /* frames 1, 2 */
    CHECK_EQ(f.p.free, 0);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_mark_clipped(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    CHECK_EQ(pmm_mark_free(&f.p, 0, (uint64_t)NFRAMES * 2 * PAGE_SIZE), NFRAMES);
    CHECK_EQ(f.p.free, NFRAMES);
    CHECK_CONSISTENT(&f.p);
    CHECK_EQ(pmm_mark_used(&f.p, (NFRAMES - 2) * PAGE_SIZE, 100 * PAGE_SIZE), 2);
    CHECK_EQ(pmm_mark_used(&f.p, NFRAMES * PAGE_SIZE, PAGE_SIZE), 0);
    CHECK_EQ(pmm_mark_free(&f.p, NFRAMES * PAGE_SIZE, PAGE_SIZE), 0);
    CHECK_EQ(pmm_mark_free(&f.p, 0, 0), 0);
    CHECK_EQ(pmm_mark_used(&f.p, 0, 0), 0);
    CHECK_EQ(f.p.free, NFRAMES - 2);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_huge_ranges(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    CHECK_EQ(pmm_mark_free(&f.p, UINT64_MAX - 10, 5), 0);
    CHECK_EQ(pmm_mark_free(&f.p, UINT64_MAX - 10, 20), 0);
    CHECK_EQ(pmm_mark_free(&f.p, UINT64_MAX - PAGE_SIZE + 1, PAGE_SIZE - 1), 0);
    CHECK_EQ(pmm_mark_free(&f.p, UINT64_MAX, UINT64_MAX), 0);
    CHECK_EQ(f.p.free, 0);
    CHECK_EQ(pmm_mark_free(&f.p, 0, UINT64_MAX), NFRAMES);
    CHECK_CONSISTENT(&f.p);
    CHECK_EQ(pmm_mark_used(&f.p, UINT64_MAX - 10, 5), 0);
    CHECK_EQ(pmm_mark_used(&f.p, UINT64_MAX - 10, 20), 0);
    CHECK_EQ(pmm_mark_used(&f.p, UINT64_MAX - PAGE_SIZE, PAGE_SIZE), 0);
    CHECK_EQ(f.p.free, NFRAMES);
    CHECK_EQ(pmm_mark_used(&f.p, 5 * PAGE_SIZE, UINT64_MAX - 5 * PAGE_SIZE), NFRAMES - 5);
    CHECK_EQ(f.p.free, 5);
    CHECK_CONSISTENT(&f.p);
    CHECK_EQ(pmm_mark_used(&f.p, 0, UINT64_MAX), 5);
    CHECK_EQ(f.p.free, 0);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_alloc_exhaustion(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    pmm_mark_free(&f.p, 0, NFRAMES * PAGE_SIZE);
    static bool seen[NFRAMES];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < NFRAMES; i++) {
        uint64_t a = pmm_alloc(&f.p);
        CHECK(a != PMM_NONE);
        CHECK_EQ(a % PAGE_SIZE, 0);
        CHECK(a / PAGE_SIZE < NFRAMES);
        CHECK(!seen[a / PAGE_SIZE]);
        seen[a / PAGE_SIZE] = true;
        CHECK(pmm_is_used(&f.p, a));
        CHECK_EQ(f.p.free, NFRAMES - 1 - i);
    }
    CHECK_EQ(pmm_alloc(&f.p), PMM_NONE);
    CHECK_EQ(pmm_alloc(&f.p), PMM_NONE);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_free_and_reuse(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    pmm_mark_free(&f.p, 0, NFRAMES * PAGE_SIZE);
    while (pmm_alloc(&f.p) != PMM_NONE)
        ;
    CHECK_EQ(pmm_free(&f.p, 150 * PAGE_SIZE, 1), 0);
    CHECK_EQ(pmm_free(&f.p, 7 * PAGE_SIZE, 3), 0);
    CHECK_EQ(f.p.free, 4);
    CHECK(!pmm_is_used(&f.p, 8 * PAGE_SIZE));
    CHECK_CONSISTENT(&f.p);
    uint64_t got = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t a = pmm_alloc(&f.p);
        CHECK(a == 150 * PAGE_SIZE || (a >= 7 * PAGE_SIZE && a < 10 * PAGE_SIZE));
        got |= 1ULL << (a == 150 * PAGE_SIZE ? 0 : a / PAGE_SIZE - 6);
    }
    CHECK_EQ(got, 0xf);
    CHECK_EQ(pmm_alloc(&f.p), PMM_NONE);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_double_free(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    pmm_mark_free(&f.p, 0, NFRAMES * PAGE_SIZE);
    uint64_t a = pmm_alloc_contig(&f.p, 4, 1, 0);
    CHECK(a != PMM_NONE);
    CHECK_EQ(pmm_free(&f.p, a + PAGE_SIZE, 1), 0);
    struct snapshot s;
    take(&s, &f.p);
    CHECK_EQ(pmm_free(&f.p, a + PAGE_SIZE, 1), -1);      /* double */
    CHECK(same(&s, &f.p));
    CHECK_EQ(pmm_free(&f.p, a, 4), -1);                  /* partly free */
    CHECK(same(&s, &f.p));
    CHECK(pmm_is_used(&f.p, a) && pmm_is_used(&f.p, a + 2 * PAGE_SIZE));
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_free_invalid(void)
{
    struct fixture f;
    setup(&f, NFRAMES);           /* all frames allocated */
    struct snapshot s;
    take(&s, &f.p);
    static const struct { uint64_t phys, count; } bad[] = {
        { 0x1001, 1 }, { 0x800, 1 }, { 0, 0 },
        { NFRAMES * PAGE_SIZE, 1 }, { (NFRAMES - 1) * PAGE_SIZE, 2 },
        { 0, NFRAMES + 1 }, { PAGE_SIZE, UINT64_MAX }, { 0, UINT64_MAX },
        { UINT64_MAX & ~(PAGE_SIZE - 1), 1 }, { UINT64_MAX, 1 },
        { 1ULL << 63, 1ULL << 52 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (pmm_free(&f.p, bad[i].phys, bad[i].count) != -1 || !same(&s, &f.p))
            check_fail(__FILE__, __LINE__, "free(%#llx, %llu) accepted",
                       (unsigned long long)bad[i].phys, (unsigned long long)bad[i].count);
    }
    CHECK_EQ(pmm_free(&f.p, (NFRAMES - 1) * PAGE_SIZE, 1), 0);   /* the last frame is fine */
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

/* Is [start, start+count) free, inside the bitmap and under LIMIT? */
static bool range_fits(const struct pmm *p, uint64_t start, uint64_t count, uint64_t limit)
{
    if (start + count > p->nframes || (limit && (start + count) * PAGE_SIZE > limit))
        return false;
    for (uint64_t i = start; i < start + count; i++)
        if (pmm_is_used(p, i * PAGE_SIZE))
            return false;
    return true;
}

/* pmm_alloc_contig, checked against a brute-force search. */
static void contig(struct pmm *p, uint64_t count, uint64_t align, uint64_t limit)
{
    uint64_t want = PMM_NONE;
    for (uint64_t s = 0; s < p->nframes && want == PMM_NONE; s += align)
        if (range_fits(p, s, count, limit))
            want = s * PAGE_SIZE;
    uint64_t before = p->free;
    uint64_t got = pmm_alloc_contig(p, count, align, limit);
    if (got != want)
        check_fail(__FILE__, __LINE__, "contig(%llu, %llu, %#llx) = %#llx, expected %#llx",
                   (unsigned long long)count, (unsigned long long)align,
                   (unsigned long long)limit, (unsigned long long)got,
                   (unsigned long long)want);
    CHECK_EQ(p->free, before - (got == PMM_NONE ? 0 : count));
    for (uint64_t i = 0; got != PMM_NONE && i < count; i++)
        CHECK(pmm_is_used(p, got + i * PAGE_SIZE));
    CHECK_CONSISTENT(p);
}

static void test_alloc_contig(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    pmm_mark_free(&f.p, 0, NFRAMES * PAGE_SIZE);
    pmm_mark_used(&f.p, 3 * PAGE_SIZE, 1);     /* holes at 3 and 17 */
    pmm_mark_used(&f.p, 17 * PAGE_SIZE, 1);
    contig(&f.p, 4, 1, 0);        /* 4..7 */
    contig(&f.p, 4, 4, 0);        /* 8..11 */
    contig(&f.p, 8, 8, 0);        /* 24..31 */
    contig(&f.p, 3, 1, 0);        /* 0..2 */
    contig(&f.p, 16, 16, 0);
    contig(&f.p, 1, 128, 0);      /* 128 */
    contig(&f.p, 1, 256, 0);      /* none */
    contig(&f.p, NFRAMES, 1, 0);  /* none */
    CHECK_EQ(pmm_alloc_contig(&f.p, 0, 1, 0), PMM_NONE);
    CHECK_EQ(pmm_alloc_contig(&f.p, 1, 0, 0), PMM_NONE);
    CHECK_EQ(pmm_alloc_contig(&f.p, 1, 3, 0), PMM_NONE);
    CHECK_EQ(pmm_alloc_contig(&f.p, UINT64_MAX, 1, 0), PMM_NONE);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_alloc_contig_limit(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    pmm_mark_free(&f.p, 0, NFRAMES * PAGE_SIZE);
    pmm_mark_used(&f.p, 0, 10 * PAGE_SIZE);
    contig(&f.p, 2, 1, 12 * PAGE_SIZE);           /* 10..11: ends at the limit */
    contig(&f.p, 1, 1, 12 * PAGE_SIZE);           /* none */
    contig(&f.p, 1, 1, 13 * PAGE_SIZE - 1);       /* none: frame 12 ends past it */
    contig(&f.p, 1, 1, 13 * PAGE_SIZE);           /* 12 */
    contig(&f.p, 4, 4, 20 * PAGE_SIZE);           /* 16..19 */
    contig(&f.p, 4, 4, 20 * PAGE_SIZE);           /* none */
    contig(&f.p, 4, 1, UINT64_MAX);
    contig(&f.p, 1, 1, 1);
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static void test_no_frames(void)
{
    struct fixture f;
    setup(&f, 0);
    CHECK_EQ(pmm_mark_free(&f.p, 0, UINT64_MAX), 0);
    CHECK_EQ(pmm_alloc(&f.p), PMM_NONE);
    CHECK_EQ(pmm_alloc_contig(&f.p, 1, 1, 0), PMM_NONE);
    CHECK_EQ(pmm_free(&f.p, 0, 1), -1);
    CHECK(pmm_is_used(&f.p, 0));
    CHECK_CONSISTENT(&f.p);
    free(f.bitmap);
}

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Random operations; after each, the bitmap matches a plain bool array. */
static void test_random_against_model(void)
{
    struct fixture f;
    setup(&f, NFRAMES);
    static bool used[NFRAMES];
    for (int i = 0; i < NFRAMES; i++)
        used[i] = true;
    uint64_t seed = 12345;
    for (int step = 0; step < 20000; step++) {
        uint64_t op = rnd(&seed) % 4, fr = rnd(&seed) % (NFRAMES + 8);
        uint64_t n = 1 + rnd(&seed) % 5;
        if (op == 0) {
            uint64_t a = pmm_alloc(&f.p);
            if (a != PMM_NONE) {
                CHECK(!used[a / PAGE_SIZE]);
                used[a / PAGE_SIZE] = true;
            }
        } else if (op == 1) {
            bool ok = fr + n <= NFRAMES;
            for (uint64_t i = fr; ok && i < fr + n; i++)
                ok = used[i];
            CHECK_EQ(pmm_free(&f.p, fr * PAGE_SIZE, n), ok ? 0 : -1);
            for (uint64_t i = fr; ok && i < fr + n; i++)
                used[i] = false;
        } else if (op == 2) {
            pmm_mark_used(&f.p, fr * PAGE_SIZE + 7, n * PAGE_SIZE - 100);
            for (uint64_t i = fr; i < fr + n && i < NFRAMES; i++)
                used[i] = true;
        } else {
            contig(&f.p, n, 1ULL << (rnd(&seed) % 3), 0);
            for (uint64_t i = 0; i < NFRAMES; i++)
                used[i] = pmm_is_used(&f.p, i * PAGE_SIZE);
        }
        for (uint64_t i = 0; i < NFRAMES; i++)
            if (used[i] != pmm_is_used(&f.p, i * PAGE_SIZE))
                check_fail(__FILE__, __LINE__, "step %d: frame %llu differs", step,
                           (unsigned long long)i);
        CHECK_CONSISTENT(&f.p);
    }
    free(f.bitmap);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_init_all_used),
    CHECK_TEST(test_mark_unaligned),
    CHECK_TEST(test_mark_clipped),
    CHECK_TEST(test_huge_ranges),
    CHECK_TEST(test_alloc_exhaustion),
    CHECK_TEST(test_free_and_reuse),
    CHECK_TEST(test_double_free),
    CHECK_TEST(test_free_invalid),
    CHECK_TEST(test_alloc_contig),
    CHECK_TEST(test_alloc_contig_limit),
    CHECK_TEST(test_no_frames),
    CHECK_TEST(test_random_against_model),
};

CHECK_MAIN("pmm", tests)
