/*
 * Host tests for lib/rt/heap.c, the allocator behind the runtime's malloc:
 * fixed cases (alignment, reuse, in-place realloc, exhaustion, bad and
 * double frees) and long random alloc/free/realloc sequences checked
 * against a model: every live block keeps its own fill pattern (so an
 * overlap shows as a corrupted pattern), intervals are checked for
 * overlap, and heap_check verifies the heap's invariants throughout.
 * Memory comes from a test source of host chunks, freed after each test.
 */
#include "check.h"

#include <stdint.h>

#include "rt/heap.h"

/* ---- memory source: CHUNK-byte host allocations, at most MAX of them ---- */

#define SRC_MAX 256

struct source {
    size_t chunk;
    int max;
    int count;
    void *mem[SRC_MAX];
};

static void *source_grow(void *ctx, size_t min, size_t *got)
{
    struct source *s = ctx;
    if (s->count >= s->max || s->count >= SRC_MAX)
        return NULL;
    size_t n = min > s->chunk ? min : s->chunk;
    n = (n + 15) & ~(size_t)15;
    void *m = aligned_alloc(16, n);
    if (!m)
        return NULL;
    s->mem[s->count++] = m;
    *got = n;
    return m;
}

static void source_release(struct source *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->mem[i]);
    s->count = 0;
}

static void heap_setup(struct heap *h, struct source *s, size_t chunk, int max)
{
    memset(s, 0, sizeof(*s));
    s->chunk = chunk;
    s->max = max;
    memset(h, 0, sizeof(*h));
    h->grow = source_grow;
    h->ctx = s;
}

/* ---- fixed cases ---- */

static void test_basic(void)
{
    struct heap h;
    struct source s;
    heap_setup(&h, &s, 1 << 20, 1);
    void *a = heap_alloc(&h, 1), *b = heap_alloc(&h, 100), *c = heap_alloc(&h, 5000);
    CHECK(a && b && c);
    CHECK_EQ((uintptr_t)a % 16, 0);
    CHECK_EQ((uintptr_t)b % 16, 0);
    CHECK_EQ((uintptr_t)c % 16, 0);
    CHECK(heap_usable_size(&h, b) >= 100);
    memset(c, 0xab, 5000);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    CHECK_EQ(h.blocks_used, 3);
    CHECK_EQ(heap_free(&h, b), HEAP_OK);
    void *d = heap_alloc(&h, 90);
    CHECK(d == b);                           /* the freed block is reused */
    CHECK_EQ(heap_free(&h, a), HEAP_OK);
    CHECK_EQ(heap_free(&h, c), HEAP_OK);
    CHECK_EQ(heap_free(&h, d), HEAP_OK);
    CHECK_EQ(heap_free(&h, NULL), HEAP_OK);
    CHECK_EQ(h.blocks_used, 0);
    CHECK_EQ(h.bytes_used, 0);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    source_release(&s);
}

static void test_zero_size(void)
{
    struct heap h;
    struct source s;
    heap_setup(&h, &s, 1 << 16, 1);
    void *a = heap_alloc(&h, 0), *b = heap_alloc(&h, 0);
    CHECK(a && b && a != b);
    CHECK_EQ(heap_free(&h, a), HEAP_OK);
    CHECK_EQ(heap_free(&h, b), HEAP_OK);
    source_release(&s);
}

/* All memory used up gives NULL; freeing it all coalesces back into one
 * block that serves a request of nearly the whole region. */
static void test_exhaustion(void)
{
    struct heap h;
    struct source s;
    enum { REGION = 64 * 1024, MAXP = 2000 };
    heap_setup(&h, &s, REGION, 1);
    static void *p[MAXP];
    int n = 0;
    while (n < MAXP && (p[n] = heap_alloc(&h, 100)) != NULL)
        n++;
    CHECK(n > 100 && n < MAXP);
    CHECK(heap_alloc(&h, 100) == NULL);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    for (int i = 0; i < n; i += 2)           /* free odd then even: merges both ways */
        CHECK_EQ(heap_free(&h, p[i]), HEAP_OK);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    for (int i = 1; i < n; i += 2)
        CHECK_EQ(heap_free(&h, p[i]), HEAP_OK);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    size_t big = REGION - heap_region_overhead() - 16;
    void *q = heap_alloc(&h, big);
    CHECK(q != NULL);
    memset(q, 1, big);
    CHECK(heap_alloc(&h, 1) == NULL);
    CHECK_EQ(heap_free(&h, q), HEAP_OK);
    CHECK_EQ(s.count, 1);
    source_release(&s);
}

static void test_too_big(void)
{
    struct heap h;
    struct source s;
    heap_setup(&h, &s, 1 << 16, 1);
    CHECK(heap_alloc(&h, SIZE_MAX) == NULL);
    CHECK(heap_alloc(&h, SIZE_MAX - 8) == NULL);
    CHECK(heap_alloc(&h, HEAP_MAX_ALLOC + 1) == NULL);
    void *p = heap_alloc(&h, 32), *out = p;
    CHECK(p != NULL);
    memset(p, 7, 32);
    CHECK_EQ(heap_realloc(&h, p, SIZE_MAX, &out), HEAP_ENOMEM);
    CHECK_EQ(heap_realloc(&h, p, 1 << 20, &out), HEAP_ENOMEM);   /* source refuses */
    CHECK_EQ(((unsigned char *)p)[31], 7);
    CHECK_EQ(heap_free(&h, p), HEAP_OK);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    source_release(&s);
}

static void test_bad_pointers(void)
{
    struct heap h;
    struct source s;
    heap_setup(&h, &s, 1 << 16, 1);
    char *p = heap_alloc(&h, 64);
    char local[64];
    CHECK_EQ(heap_free(&h, local + 16), HEAP_EBADPTR);     /* foreign */
    CHECK_EQ(heap_free(&h, p + 1), HEAP_EBADPTR);          /* misaligned */
    CHECK_EQ(heap_free(&h, p + 16), HEAP_EBADPTR);         /* inside a block */
    void *out;
    CHECK_EQ(heap_realloc(&h, local + 16, 8, &out), HEAP_EBADPTR);
    CHECK_EQ(heap_usable_size(&h, local + 16), 0);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    CHECK_EQ(heap_free(&h, p), HEAP_OK);
    source_release(&s);
}

static void test_double_free(void)
{
    struct heap h;
    struct source s;
    heap_setup(&h, &s, 1 << 16, 1);
    void *a = heap_alloc(&h, 64), *b = heap_alloc(&h, 64), *c = heap_alloc(&h, 64);
    CHECK_EQ(heap_free(&h, b), HEAP_OK);
    CHECK_EQ(heap_free(&h, b), HEAP_EDOUBLE);
    void *out;
    CHECK_EQ(heap_realloc(&h, b, 10, &out), HEAP_EDOUBLE);
    CHECK_EQ(heap_free(&h, c), HEAP_OK);     /* c merges into b's free block */
    CHECK(heap_free(&h, c) < 0);             /* its header is gone: still caught */
    CHECK_EQ(heap_check(&h), HEAP_OK);
    CHECK_EQ(heap_free(&h, a), HEAP_OK);
    CHECK(heap_free(&h, a) < 0);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    CHECK_EQ(h.blocks_used, 0);
    source_release(&s);
}

static void test_realloc_in_place(void)
{
    struct heap h;
    struct source s;
    heap_setup(&h, &s, 1 << 16, 1);
    unsigned char *a = heap_alloc(&h, 100);
    void *b = heap_alloc(&h, 1000), *guard = heap_alloc(&h, 16), *out = NULL;
    memset(a, 0x5a, 100);
    CHECK_EQ(heap_free(&h, b), HEAP_OK);
    CHECK_EQ(heap_realloc(&h, a, 800, &out), HEAP_OK);
    CHECK(out == a);                         /* grew over the free neighbour */
    CHECK_EQ(a[99], 0x5a);
    CHECK_EQ(heap_realloc(&h, a, 40, &out), HEAP_OK);
    CHECK(out == a);                         /* shrank in place */
    CHECK_EQ(a[39], 0x5a);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    CHECK_EQ(heap_realloc(&h, a, 0, &out), HEAP_OK);
    CHECK(out == NULL);
    CHECK_EQ(heap_realloc(&h, NULL, 24, &out), HEAP_OK);
    CHECK(out != NULL);
    CHECK_EQ(heap_free(&h, out), HEAP_OK);
    CHECK_EQ(heap_free(&h, guard), HEAP_OK);
    CHECK_EQ(heap_check(&h), HEAP_OK);
    source_release(&s);
}

/* ---- random sequences against a model ---- */

#define LIVE_MAX 512

struct live {
    unsigned char *p;
    size_t n;
    unsigned char tag;
};

struct model {
    struct heap h;
    struct live live[LIVE_MAX];
    int count;
    uint64_t rng;
    unsigned char next_tag;
};

static uint64_t model_rand(struct model *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

/* Mostly small sizes, some medium, a few large. */
static size_t model_size(struct model *m)
{
    uint64_t r = model_rand(m);
    switch (r % 8) {
    case 0: return (r >> 8) % 8192;
    case 1: return (r >> 8) % 40000;
    default: return (r >> 8) % 200;
    }
}

static void live_fill(struct live *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->p[i] = (unsigned char)(l->tag + i * 7);
}

static void live_verify(const struct live *l, size_t upto)
{
    for (size_t i = 0; i < upto && i < l->n; i++)
        if (l->p[i] != (unsigned char)(l->tag + i * 7))
            CHECK(!"block contents changed");
}

static void model_alloc(struct model *m)
{
    if (m->count == LIVE_MAX)
        return;
    size_t n = model_size(m);
    unsigned char *p = heap_alloc(&m->h, n);
    if (!p)
        return;                              /* exhaustion is allowed */
    CHECK_EQ((uintptr_t)p % 16, 0);
    CHECK(heap_usable_size(&m->h, p) >= n);
    struct live *l = &m->live[m->count++];
    *l = (struct live){ p, n, m->next_tag++ };
    live_fill(l);
}

static void model_free(struct model *m)
{
    if (m->count == 0)
        return;
    int i = (int)(model_rand(m) % (uint64_t)m->count);
    live_verify(&m->live[i], SIZE_MAX);
    CHECK_EQ(heap_free(&m->h, m->live[i].p), HEAP_OK);
    m->live[i] = m->live[--m->count];
}

static void model_realloc(struct model *m)
{
    if (m->count == 0)
        return;
    struct live *l = &m->live[model_rand(m) % (uint64_t)m->count];
    size_t n = model_size(m) + 1;
    void *out = NULL;
    int r = heap_realloc(&m->h, l->p, n, &out);
    if (r == HEAP_ENOMEM) {
        live_verify(l, SIZE_MAX);            /* untouched on failure */
        return;
    }
    CHECK_EQ(r, HEAP_OK);
    CHECK_EQ((uintptr_t)out % 16, 0);
    l->p = out;
    live_verify(l, n);                       /* the common prefix survived */
    l->n = n;
    live_fill(l);
}

static int live_cmp(const void *a, const void *b)
{
    const struct live *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void model_check(struct model *m)
{
    CHECK_EQ(heap_check(&m->h), HEAP_OK);
    CHECK_EQ(m->h.blocks_used, m->count);
    struct live sorted[LIVE_MAX];
    memcpy(sorted, m->live, sizeof(struct live) * (size_t)m->count);
    qsort(sorted, (size_t)m->count, sizeof(struct live), live_cmp);
    for (int i = 1; i < m->count; i++)
        CHECK(sorted[i - 1].p + sorted[i - 1].n <= sorted[i].p);
}

static void model_run(size_t chunk, int max_chunks, uint64_t seed, int ops)
{
    static struct model m;
    struct source s;
    memset(&m, 0, sizeof(m));
    heap_setup(&m.h, &s, chunk, max_chunks);
    m.rng = seed;
    for (int op = 0; op < ops; op++) {
        uint64_t r = model_rand(&m) % 10;
        if (r < 5)
            model_alloc(&m);
        else if (r < 8)
            model_free(&m);
        else
            model_realloc(&m);
        if (op % 500 == 0)
            model_check(&m);
    }
    model_check(&m);
    while (m.count > 0)
        model_free(&m);
    model_check(&m);
    CHECK_EQ(m.h.bytes_used, 0);
    source_release(&s);
}

static void test_random_one_region(void)
{
    model_run(4 << 20, 1, 0x9e3779b97f4a7c15ULL, 30000);
}

/* A tight single region: allocation failures are frequent. */
static void test_random_tight(void)
{
    model_run(256 << 10, 1, 0x243f6a8885a308d3ULL, 30000);
}

/* Many small regions, as when the heap grows through VMOs. */
static void test_random_many_regions(void)
{
    model_run(64 << 10, 200, 0x13198a2e03707344ULL, 30000);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_basic),
    CHECK_TEST(test_zero_size),
    CHECK_TEST(test_exhaustion),
    CHECK_TEST(test_too_big),
    CHECK_TEST(test_bad_pointers),
    CHECK_TEST(test_double_free),
    CHECK_TEST(test_realloc_in_place),
    CHECK_TEST(test_random_one_region),
    CHECK_TEST(test_random_tight),
    CHECK_TEST(test_random_many_regions),
};

CHECK_MAIN("malloc", tests)
