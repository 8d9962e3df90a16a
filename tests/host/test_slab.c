/*
 * Host tests for kernel/core/slab (built with -DKESTREL_HOST) over a page
 * provider of aligned_alloc'ed pages that counts the pages outstanding and
 * can be told to fail.  Covered: many objects allocated and freed with the
 * live/slabs/allocs/frees/failures counters, object size rounding and
 * layout, double frees and foreign pointers rejected with nothing changed,
 * empty slabs given back, provider failure, caches too big for a page,
 * and the kmalloc size classes (0, 1, 16, 17, 2048, 2049 and beyond).
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/slab.h"
#include "check.h"

#define PAGE 4096

static long pages_out;          /* pages handed out and not yet returned */
static bool pages_fail;         /* the provider returns NULL */

static void *page_alloc(void)
{
    if (pages_fail)
        return NULL;
    void *p = aligned_alloc(PAGE, PAGE);
    if (p) {
        memset(p, 0xa5, PAGE);   /* no help from zeroed memory */
        pages_out++;
    }
    return p;
}

static void page_free(void *page)
{
    CHECK(page != NULL && (uintptr_t)page % PAGE == 0);
    pages_out--;
    free(page);
}

static const struct slab_pages provider = { page_alloc, page_free };

struct counters {
    uint64_t live, slabs, allocs, frees, failures;
};

static struct counters counters(const struct slab_cache *c)
{
    struct counters k = { c->live, c->slabs, c->allocs, c->frees, c->failures };
    return k;
}

static bool counters_equal(struct counters a, struct counters b)
{
    return a.live == b.live && a.slabs == b.slabs && a.allocs == b.allocs &&
           a.frees == b.frees && a.failures == b.failures;
}

/* A fresh cache; the provider starts with nothing outstanding. */
static void setup(struct slab_cache *c, size_t size)
{
    pages_out = 0;
    pages_fail = false;
    slab_cache_init(c, "test", size, &provider);
}

/* Gives back every page; none may remain outstanding. */
static void teardown(struct slab_cache *c)
{
    CHECK_EQ(c->live, 0);
    slab_shrink(c);
    CHECK_EQ(c->slabs, 0);
    CHECK_EQ(pages_out, 0);
}

static void test_alloc_free_many(void)
{
    struct slab_cache c;
    setup(&c, 100);
    enum { N = 1000 };
    static unsigned char *obj[N];
    for (int i = 0; i < N; i++) {
        obj[i] = slab_alloc(&c);
        CHECK(obj[i] != NULL);
        CHECK_EQ((uintptr_t)obj[i] % 16, 0);
        memset(obj[i], i & 0xff, c.size);
    }
    uint64_t slabs = (N + c.per_slab - 1) / c.per_slab;
    CHECK_EQ(c.live, N);
    CHECK_EQ(c.allocs, N);
    CHECK_EQ(c.slabs, slabs);
    CHECK_EQ(pages_out, slabs);
    for (int i = 0; i < N; i++)       /* no object overwrote another */
        for (size_t j = 0; j < c.size; j++)
            CHECK_EQ(obj[i][j], i & 0xff);
    for (int i = 0; i < N; i++)
        CHECK_EQ(slab_free(&c, obj[(i * 7) % N]), 0);   /* 7 is prime to N */
    CHECK_EQ(c.live, 0);
    CHECK_EQ(c.frees, N);
    CHECK_EQ(c.slabs, 1);             /* the last partial slab is kept */
    CHECK_EQ(pages_out, 1);
    CHECK_EQ(slab_shrink(&c), 1);
    teardown(&c);
}

static void test_size_rounding(void)
{
    static const size_t sizes[][2] = { { 0, 16 }, { 1, 16 }, { 16, 16 }, { 17, 32 },
                                       { 100, 112 }, { 2048, 2048 } };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct slab_cache c;
        setup(&c, sizes[i][0]);
        CHECK_EQ(c.size, sizes[i][1]);
        CHECK(c.per_slab >= 1);
        CHECK(c.per_slab * c.size + 80 <= PAGE);    /* room for a header (with its used map) */
        CHECK((c.per_slab + 1) * c.size + 96 > PAGE);  /* and not wasteful */
        teardown(&c);
    }
}

static void test_double_free(void)
{
    struct slab_cache c;
    setup(&c, 64);
    void *a = slab_alloc(&c), *b = slab_alloc(&c);
    CHECK(a && b && a != b);
    CHECK_EQ(slab_free(&c, a), 0);
    struct counters before = counters(&c);
    CHECK_EQ(slab_free(&c, a), -1);
    CHECK(counters_equal(before, counters(&c)));
    /* The free list is intact: a comes back once, then fresh objects. */
    void *x = slab_alloc(&c), *y = slab_alloc(&c);
    CHECK(x == a);
    CHECK(y != a && y != b);
    CHECK_EQ(slab_free(&c, x), 0);
    CHECK_EQ(slab_free(&c, y), 0);
    CHECK_EQ(slab_free(&c, b), 0);
    CHECK_EQ(slab_free(&c, b), -1);
    teardown(&c);
}

static void test_foreign_pointers(void)
{
    struct slab_cache c, d;
    setup(&c, 64);
    slab_cache_init(&d, "other", 64, &provider);
    char *a = slab_alloc(&c), *o = slab_alloc(&d);
    CHECK(a && o);
    char *plain = aligned_alloc(PAGE, PAGE);     /* a page that is no slab */
    CHECK(plain != NULL);
    memset(plain, 0, PAGE);
    struct counters before = counters(&c);
    char *slab = (char *)((uintptr_t)a & ~(uintptr_t)(PAGE - 1));
    void *bad[] = { NULL, o, a + 1, a + 8, a + 63, slab, slab + 16, slab + PAGE - 16,
                    plain, plain + 64 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (slab_free(&c, bad[i]) != -1 || !counters_equal(before, counters(&c)))
            check_fail(__FILE__, __LINE__, "bad pointer %zu accepted", i);
    free(plain);
    CHECK_EQ(slab_free(&d, a), -1);
    CHECK_EQ(slab_free(&d, o), 0);
    CHECK_EQ(slab_free(&c, a), 0);
    slab_shrink(&d);
    teardown(&c);
}

/* A slab whose objects are all freed goes back to the provider, unless it
 * is the only partial slab. */
static void test_empty_slab_returned(void)
{
    struct slab_cache c;
    setup(&c, 512);
    unsigned per = c.per_slab;
    static void *obj[64];
    CHECK(2 * per + 1 <= 64);
    for (unsigned i = 0; i < 2 * per + 1; i++)
        CHECK((obj[i] = slab_alloc(&c)) != NULL);
    CHECK_EQ(pages_out, 3);
    for (unsigned i = 0; i < per; i++)            /* empty the first slab */
        CHECK_EQ(slab_free(&c, obj[i]), 0);
    CHECK_EQ(pages_out, 2);
    CHECK_EQ(c.slabs, 2);
    for (unsigned i = per; i < 2 * per; i++)      /* and the second */
        CHECK_EQ(slab_free(&c, obj[i]), 0);
    CHECK_EQ(pages_out, 1);
    CHECK_EQ(slab_free(&c, obj[2 * per]), 0);     /* the last one is kept */
    CHECK_EQ(pages_out, 1);
    CHECK_EQ(c.live, 0);
    teardown(&c);
}

static void test_provider_failure(void)
{
    struct slab_cache c;
    setup(&c, 1024);
    pages_fail = true;
    CHECK(slab_alloc(&c) == NULL);
    CHECK_EQ(c.failures, 1);
    CHECK_EQ(c.allocs, 0);
    CHECK_EQ(c.live, 0);
    CHECK_EQ(c.slabs, 0);
    pages_fail = false;
    void *a = slab_alloc(&c);
    CHECK(a != NULL);
    pages_fail = true;            /* the partial slab still serves */
    static void *obj[16];
    unsigned n = 0;
    while (n < 16 && (obj[n] = slab_alloc(&c)) != NULL)
        n++;
    CHECK_EQ(n, c.per_slab - 1);
    CHECK_EQ(c.failures, 2);
    CHECK_EQ(c.live, c.per_slab);
    pages_fail = false;
    for (unsigned i = 0; i < n; i++)
        CHECK_EQ(slab_free(&c, obj[i]), 0);
    CHECK_EQ(slab_free(&c, a), 0);
    teardown(&c);
}

/* Objects that cannot fit a page next to the header: NULL, no page kept. */
static void test_object_too_big(void)
{
    struct slab_cache c;
    setup(&c, PAGE);
    CHECK(slab_alloc(&c) == NULL);
    CHECK_EQ(c.failures, 1);
    CHECK_EQ(c.live, 0);
    teardown(&c);
}

static void kmalloc_setup(void)
{
    static bool done;     /* kmalloc's caches are global: set up once */
    if (!done)
        kmalloc_init(&provider);
    done = true;
    pages_fail = false;
}

/* Two objects allocated in a row from a fresh page are adjacent. */
static size_t class_of(size_t size)
{
    char *a = kmalloc(size), *b = kmalloc(size);
    CHECK(a && b);
    size_t d = a > b ? (size_t)(a - b) : (size_t)(b - a);
    kfree(a);
    kfree(b);
    return d;
}

static void test_kmalloc_classes(void)
{
    kmalloc_setup();
    uint64_t live = kmalloc_live_objects();
    CHECK_EQ(class_of(0), 16);
    CHECK_EQ(class_of(1), 16);
    CHECK_EQ(class_of(16), 16);
    CHECK_EQ(class_of(17), 32);
    CHECK_EQ(class_of(1000), 1024);
    CHECK_EQ(kmalloc_live_objects(), live);
    for (size_t size = 0; size <= SLAB_MAX_OBJECT; size += 97) {
        char *p = kmalloc(size);
        CHECK(p != NULL);
        memset(p, 0x5a, size);
        kfree(p);
    }
    CHECK(kmalloc(2049) == NULL);
    CHECK(kmalloc(4096) == NULL);
    CHECK(kmalloc(SIZE_MAX) == NULL);
    CHECK_EQ(kmalloc_live_objects(), live);
}

static void test_kmalloc_2048(void)
{
    kmalloc_setup();
    uint64_t live = kmalloc_live_objects();
    char *a = kmalloc(2048), *b = kmalloc(2048);
    CHECK(a && b && a != b);
    memset(a, 1, 2048);
    memset(b, 2, 2048);
    CHECK(a[2047] == 1 && b[0] == 2);
    CHECK_EQ(kmalloc_live_objects(), live + 2);
    CHECK(kmalloc_pages() >= 2);
    kfree(a);
    kfree(b);
    CHECK_EQ(kmalloc_live_objects(), live);
}

static void test_kzalloc_and_kfree_null(void)
{
    kmalloc_setup();
    uint64_t live = kmalloc_live_objects();
    unsigned char *p = kmalloc(200);
    CHECK(p != NULL);
    memset(p, 0xff, 200);
    kfree(p);
    unsigned char *z = kzalloc(200);
    CHECK(z != NULL);
    for (int i = 0; i < 200; i++)
        CHECK_EQ(z[i], 0);
    kfree(z);
    kfree(NULL);
    CHECK(kzalloc(2049) == NULL);
    CHECK_EQ(kmalloc_live_objects(), live);
}

static void test_kmalloc_out_of_pages(void)
{
    kmalloc_setup();
    uint64_t live = kmalloc_live_objects();
    pages_fail = true;
    static void *obj[8];
    int n = 0;
    while (n < 8 && (obj[n] = kmalloc(1500)) != NULL)
        n++;
    CHECK(n < 8);                 /* at most the slab already held */
    pages_fail = false;
    while (n > 0)
        kfree(obj[--n]);
    CHECK_EQ(kmalloc_live_objects(), live);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_alloc_free_many),
    CHECK_TEST(test_size_rounding),
    CHECK_TEST(test_double_free),
    CHECK_TEST(test_foreign_pointers),
    CHECK_TEST(test_empty_slab_returned),
    CHECK_TEST(test_provider_failure),
    CHECK_TEST(test_object_too_big),
    CHECK_TEST(test_kmalloc_classes),
    CHECK_TEST(test_kmalloc_2048),
    CHECK_TEST(test_kzalloc_and_kfree_null),
    CHECK_TEST(test_kmalloc_out_of_pages),
};

CHECK_MAIN("slab", tests)
