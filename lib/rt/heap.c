/*
 * heap: segregated fits with boundary tags (see heap.h for the design).
 *
 * Block header: size (a multiple of 16) with flags in the low bits, and a
 * check word = address ^ magic ^ size, where the magic says used or free.
 * Invariants, verified by heap_check:
 *   - blocks tile each region from region->first to region->fence;
 *   - F_PREV_USED of a block is set iff the block before it is in use
 *     (the first block of a region counts as preceded by a used one);
 *   - a free block ends with its size (footer) and is on the bin of its
 *     size class; no two free blocks are adjacent;
 *   - the header of a block swallowed by coalescing has check word 0, so
 *     a stale pointer to it is rejected.
 * No locking (see heap.h).
 */
#include "rt/heap.h"

#ifdef KESTREL_HOST
#include <string.h>
#else
#include "base/string.h"
#endif

#define F_USED      1u
#define F_PREV_USED 2u
#define F_MASK      15u
#define MAGIC_USED  0x55e0b10c4b455354ULL
#define MAGIC_FREE  0xf4eeb10c4b455354ULL
#define HDR         16u
#define MIN_BLOCK   48u     /* header, two list links, footer; rounded to 16 */

struct heap_block {
    uint64_t size;
    uint64_t check;
    struct heap_block *next, *prev;     /* free blocks only */
};

struct heap_region {
    struct heap_region *next;
    struct heap_block *first;
    struct heap_block *fence;
    uint64_t bytes;
};

#define REGION_HDR sizeof(struct heap_region)
_Static_assert(sizeof(struct heap_region) % HEAP_ALIGN == 0, "region header alignment");

/* ---- block fields ---- */

static size_t block_size(const struct heap_block *b)
{
    return b->size & ~(uint64_t)F_MASK;
}

static int block_used(const struct heap_block *b)
{
    return (b->size & F_USED) != 0;
}

static uint64_t block_prev_flag(const struct heap_block *b)
{
    return b->size & F_PREV_USED;
}

static struct heap_block *block_at(void *base, size_t off)
{
    return (struct heap_block *)((char *)base + off);
}

static struct heap_block *block_next(struct heap_block *b)
{
    return block_at(b, block_size(b));
}

static uint64_t *block_footer(struct heap_block *b)
{
    return (uint64_t *)((char *)b + block_size(b) - sizeof(uint64_t));
}

static uint64_t check_word(const struct heap_block *b, uint64_t magic)
{
    return (uintptr_t)b ^ magic ^ block_size(b);
}

static void block_set_used(struct heap_block *b, size_t size, uint64_t prev_flag)
{
    b->size = size | F_USED | prev_flag;
    b->check = check_word(b, MAGIC_USED);
}

static void block_set_free(struct heap_block *b, size_t size, uint64_t prev_flag)
{
    b->size = size | prev_flag;
    b->check = check_word(b, MAGIC_FREE);
    *block_footer(b) = size;
}

static void block_mark_prev(struct heap_block *b, int used)
{
    if (used)
        b->size |= F_PREV_USED;
    else
        b->size &= ~(uint64_t)F_PREV_USED;
}

/* ---- bins ---- */

static unsigned bin_index(size_t size)
{
    return (unsigned)(63 - __builtin_clzll(size)) - 5;     /* 48 -> 0 */
}

static void bin_insert(struct heap *h, struct heap_block *b)
{
    unsigned i = bin_index(block_size(b));
    b->prev = NULL;
    b->next = h->bins[i];
    if (b->next)
        b->next->prev = b;
    h->bins[i] = b;
    h->nonempty |= 1ULL << i;
}

static void bin_remove(struct heap *h, struct heap_block *b)
{
    unsigned i = bin_index(block_size(b));
    if (b->prev)
        b->prev->next = b->next;
    else
        h->bins[i] = b->next;
    if (b->next)
        b->next->prev = b->prev;
    if (!h->bins[i])
        h->nonempty &= ~(1ULL << i);
}

/* First fit in the request's own class, else any block of a larger class
 * (all of which are big enough). */
static struct heap_block *bin_find(struct heap *h, size_t need)
{
    unsigned i = bin_index(need);
    for (struct heap_block *b = h->bins[i]; b; b = b->next)
        if (block_size(b) >= need)
            return b;
    uint64_t larger = h->nonempty & ~((2ULL << i) - 1);
    return larger ? h->bins[__builtin_ctzll(larger)] : NULL;
}

/* ---- regions ---- */

size_t heap_region_overhead(void)
{
    return REGION_HDR + HDR + 2 * HEAP_ALIGN;
}

static int region_add(struct heap *h, void *mem, size_t len)
{
    uintptr_t base = ((uintptr_t)mem + HEAP_ALIGN - 1) & ~(uintptr_t)(HEAP_ALIGN - 1);
    uintptr_t end = ((uintptr_t)mem + len) & ~(uintptr_t)(HEAP_ALIGN - 1);
    if (end < base || end - base < REGION_HDR + MIN_BLOCK + HDR)
        return 0;
    struct heap_region *r = (struct heap_region *)base;
    r->first = block_at(r, REGION_HDR);
    r->fence = (struct heap_block *)(end - HDR);
    r->bytes = end - base;
    block_set_free(r->first, (uintptr_t)r->fence - (uintptr_t)r->first, F_PREV_USED);
    r->fence->size = F_USED;
    r->fence->check = check_word(r->fence, MAGIC_USED);
    r->next = h->regions;
    h->regions = r;
    h->bytes_total += r->bytes;
    bin_insert(h, r->first);
    return 1;
}

static int heap_grow(struct heap *h, size_t need)
{
    if (!h->grow)
        return 0;
    size_t got = 0;
    void *mem = h->grow(h->ctx, need + heap_region_overhead(), &got);
    return mem && region_add(h, mem, got);
}

static const struct heap_region *region_of(const struct heap *h, uintptr_t addr)
{
    for (const struct heap_region *r = h->regions; r; r = r->next)
        if (addr >= (uintptr_t)r->first && addr < (uintptr_t)r->fence)
            return r;
    return NULL;
}

/* ---- allocation ---- */

/* The block size for an N-byte request, or 0 if N is too big. */
static size_t request_size(size_t n)
{
    if (n > HEAP_MAX_ALLOC)
        return 0;
    size_t need = (n + HDR + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1);
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* B is free and off the bins: uses NEED bytes of it, returns the rest to
 * the bins if it can hold a block. */
static void block_take(struct heap *h, struct heap_block *b, size_t need)
{
    size_t size = block_size(b);
    uint64_t prev_flag = block_prev_flag(b);
    if (size - need >= MIN_BLOCK) {
        block_set_used(b, need, prev_flag);
        struct heap_block *rest = block_next(b);
        block_set_free(rest, size - need, F_PREV_USED);
        bin_insert(h, rest);
    } else {
        block_set_used(b, size, prev_flag);
        block_mark_prev(block_next(b), 1);
    }
    h->bytes_used += block_size(b);
    h->blocks_used++;
}

void *heap_alloc(struct heap *h, size_t n)
{
    size_t need = request_size(n);
    if (!need)
        return NULL;
    struct heap_block *b = bin_find(h, need);
    if (!b && heap_grow(h, need))
        b = bin_find(h, need);
    if (!b)
        return NULL;
    bin_remove(h, b);
    block_take(h, b, need);
    return block_at(b, HDR);
}

/* Finds the used block whose payload is P; nothing is written. */
static int block_lookup(const struct heap *h, const void *p, struct heap_block **out)
{
    uintptr_t addr = (uintptr_t)p;
    if (addr % HEAP_ALIGN != 0 || addr < HDR)
        return HEAP_EBADPTR;
    const struct heap_region *r = region_of(h, addr - HDR);
    if (!r)
        return HEAP_EBADPTR;
    struct heap_block *b = (struct heap_block *)(addr - HDR);
    size_t room = (uintptr_t)r->fence - (uintptr_t)b;
    if (block_size(b) < MIN_BLOCK || block_size(b) > room)
        return HEAP_EBADPTR;
    if (block_used(b) && b->check == check_word(b, MAGIC_USED)) {
        *out = b;
        return HEAP_OK;
    }
    if (!block_used(b) && b->check == check_word(b, MAGIC_FREE))
        return HEAP_EDOUBLE;
    return HEAP_EBADPTR;
}

/* B is in use: frees it and merges it with free neighbours. */
static void block_release(struct heap *h, struct heap_block *b)
{
    size_t size = block_size(b);
    uint64_t prev_flag = block_prev_flag(b);
    h->bytes_used -= size;
    h->blocks_used--;
    struct heap_block *next = block_next(b);
    if (!block_used(next)) {
        bin_remove(h, next);
        size += block_size(next);
        next->check = 0;
    }
    if (!prev_flag) {
        uint64_t prev_size = *((uint64_t *)b - 1);
        struct heap_block *prev = (struct heap_block *)((char *)b - prev_size);
        bin_remove(h, prev);
        b->check = 0;
        b = prev;
        size += prev_size;
        prev_flag = block_prev_flag(prev);
    }
    block_set_free(b, size, prev_flag);
    block_mark_prev(block_next(b), 0);
    bin_insert(h, b);
}

int heap_free(struct heap *h, void *p)
{
    if (!p)
        return HEAP_OK;
    struct heap_block *b;
    int err = block_lookup(h, p, &b);
    if (err)
        return err;
    block_release(h, b);
    return HEAP_OK;
}

/* B is in use and at least NEED bytes: gives its tail back if that can
 * form a block. */
static void block_shrink(struct heap *h, struct heap_block *b, size_t need)
{
    size_t size = block_size(b);
    if (size - need < MIN_BLOCK)
        return;
    block_set_used(b, need, block_prev_flag(b));
    struct heap_block *tail = block_next(b);
    block_set_used(tail, size - need, F_PREV_USED);
    h->blocks_used++;
    block_release(h, tail);
}

/* B is in use: grows it over a free next block if that gives NEED bytes. */
static int block_extend(struct heap *h, struct heap_block *b, size_t need)
{
    struct heap_block *next = block_next(b);
    size_t size = block_size(b);
    if (block_used(next) || size + block_size(next) < need)
        return 0;
    bin_remove(h, next);
    next->check = 0;
    h->bytes_used -= size;
    h->blocks_used--;
    b->size = (size + block_size(next)) | block_prev_flag(b);
    block_take(h, b, need);
    return 1;
}

int heap_realloc(struct heap *h, void *p, size_t n, void **out)
{
    if (!p) {
        *out = heap_alloc(h, n);
        return *out ? HEAP_OK : HEAP_ENOMEM;
    }
    struct heap_block *b;
    int err = block_lookup(h, p, &b);
    if (err)
        return err;
    *out = NULL;
    if (n == 0) {
        block_release(h, b);
        return HEAP_OK;
    }
    size_t need = request_size(n);
    if (!need)
        return HEAP_ENOMEM;
    if (need <= block_size(b))
        block_shrink(h, b, need);
    else if (!block_extend(h, b, need)) {
        void *np = heap_alloc(h, n);
        if (!np)
            return HEAP_ENOMEM;
        memcpy(np, p, block_size(b) - HDR);
        block_release(h, b);
        p = np;
    }
    *out = p;
    return HEAP_OK;
}

size_t heap_usable_size(struct heap *h, const void *p)
{
    struct heap_block *b;
    return block_lookup(h, p, &b) == HEAP_OK ? block_size(b) - HDR : 0;
}

/* ---- consistency ---- */

struct walk_totals {
    size_t free_blocks, used_blocks, used_bytes;
};

static int block_valid(struct heap_block *b, const struct heap_region *r, int prev_free)
{
    size_t size = block_size(b);
    if (size < MIN_BLOCK || size % HEAP_ALIGN || size > (uintptr_t)r->fence - (uintptr_t)b)
        return 0;
    if ((block_prev_flag(b) != 0) == prev_free)
        return 0;
    if (block_used(b))
        return b->check == check_word(b, MAGIC_USED);
    return !prev_free && b->check == check_word(b, MAGIC_FREE) && *block_footer(b) == size;
}

static int region_check(const struct heap_region *r, struct walk_totals *t)
{
    int prev_free = 0;
    struct heap_block *b = r->first;
    for (; b != r->fence; b = block_next(b)) {
        if (!block_valid(b, r, prev_free))
            return HEAP_ECORRUPT;
        prev_free = !block_used(b);
        t->free_blocks += prev_free;
        if (!prev_free) {
            t->used_blocks++;
            t->used_bytes += block_size(b);
        }
    }
    struct heap_block *f = r->fence;
    if (block_size(f) != 0 || !block_used(f) || (block_prev_flag(f) != 0) == prev_free ||
        f->check != check_word(f, MAGIC_USED))
        return HEAP_ECORRUPT;
    return HEAP_OK;
}

static int bins_check(const struct heap *h, size_t free_blocks)
{
    size_t seen = 0;
    for (unsigned i = 0; i < HEAP_BINS; i++) {
        if (((h->nonempty >> i) & 1) != (h->bins[i] != NULL))
            return HEAP_ECORRUPT;
        const struct heap_block *prev = NULL;
        for (const struct heap_block *b = h->bins[i]; b; prev = b, b = b->next) {
            if (++seen > free_blocks || block_used(b) || b->prev != prev ||
                bin_index(block_size(b)) != i || !region_of(h, (uintptr_t)b))
                return HEAP_ECORRUPT;
        }
    }
    return seen == free_blocks ? HEAP_OK : HEAP_ECORRUPT;
}

int heap_check(const struct heap *h)
{
    struct walk_totals t = { 0, 0, 0 };
    size_t total = 0;
    for (const struct heap_region *r = h->regions; r; r = r->next) {
        if (region_check(r, &t) != HEAP_OK)
            return HEAP_ECORRUPT;
        total += r->bytes;
    }
    if (t.used_blocks != h->blocks_used || t.used_bytes != h->bytes_used ||
        total != h->bytes_total)
        return HEAP_ECORRUPT;
    return bins_check(h, t.free_blocks);
}

const char *heap_strerror(int err)
{
    switch (err) {
    case HEAP_OK: return "ok";
    case HEAP_EBADPTR: return "pointer not allocated by this heap";
    case HEAP_EDOUBLE: return "block already free (double free)";
    case HEAP_ENOMEM: return "out of memory";
    case HEAP_ECORRUPT: return "heap corrupted";
    default: return "unknown heap error";
    }
}
