/*
 * pmm: bitmap frame allocator (see pmm.h).
 *
 * Single-frame allocation scans 64 frames per word from a rotating hint,
 * so the common case touches one word.  Contiguous allocation (DMA
 * buffers, rare) scans frame by frame from the bottom.  Every operation
 * checks its arguments first and changes nothing when they are wrong.
 */
#include "core/pmm.h"

static inline bool test_bit(const struct pmm *p, uint64_t f)
{
    return p->bitmap[f / 64] >> (f % 64) & 1;
}

static inline void set_bit(struct pmm *p, uint64_t f)
{
    p->bitmap[f / 64] |= 1UL << (f % 64);
}

static inline void clear_bit(struct pmm *p, uint64_t f)
{
    p->bitmap[f / 64] &= ~(1UL << (f % 64));
}

void pmm_init(struct pmm *p, uint64_t *bitmap, uint64_t nframes)
{
    p->bitmap = bitmap;
    p->nframes = nframes;
    p->free = 0;
    p->hint = 0;
    uint64_t words = (nframes + 63) / 64;
    for (uint64_t i = 0; i < words; i++)
        bitmap[i] = ~0UL;
}

/* Frames wholly inside [base, base+len), clipped to the bitmap. */
static bool frame_range(const struct pmm *p, uint64_t base, uint64_t len,
                        uint64_t *first, uint64_t *end)
{
    if (len == 0 || base > UINT64_MAX - len)
        return false;
    uint64_t lo = (base + PAGE_SIZE - 1) >> PAGE_SHIFT;
    if (base > UINT64_MAX - (PAGE_SIZE - 1))
        return false;
    uint64_t hi = (base + len) >> PAGE_SHIFT;
    if (hi > p->nframes)
        hi = p->nframes;
    if (lo >= hi)
        return false;
    *first = lo;
    *end = hi;
    return true;
}

uint64_t pmm_mark_free(struct pmm *p, uint64_t base, uint64_t len)
{
    uint64_t f, end, n = 0;
    if (!frame_range(p, base, len, &f, &end))
        return 0;
    for (; f < end; f++) {
        if (test_bit(p, f)) {
            clear_bit(p, f);
            n++;
        }
    }
    p->free += n;
    return n;
}

uint64_t pmm_mark_used(struct pmm *p, uint64_t base, uint64_t len)
{
    /* Reserve every frame touched, not only whole ones. */
    if (len == 0 || base > UINT64_MAX - len)
        return 0;
    uint64_t f = base >> PAGE_SHIFT;
    uint64_t end = (base + len + PAGE_SIZE - 1) >> PAGE_SHIFT;
    if (base + len > UINT64_MAX - PAGE_SIZE)
        end = p->nframes;
    if (end > p->nframes)
        end = p->nframes;
    uint64_t n = 0;
    for (; f < end; f++) {
        if (!test_bit(p, f)) {
            set_bit(p, f);
            n++;
        }
    }
    p->free -= n;
    return n;
}

uint64_t pmm_alloc(struct pmm *p)
{
    uint64_t words = (p->nframes + 63) / 64;
    if (p->free == 0 || words == 0)
        return PMM_NONE;
    for (uint64_t i = 0; i < words; i++) {
        uint64_t w = (p->hint + i) % words;
        uint64_t bits = p->bitmap[w];
        if (bits == ~0UL)
            continue;
        uint64_t f = w * 64 + (uint64_t)__builtin_ctzll(~bits);
        if (f >= p->nframes)
            continue;
        set_bit(p, f);
        p->free--;
        p->hint = w;
        return f << PAGE_SHIFT;
    }
    return PMM_NONE;
}

/* The first free frame at or after F and below TOP (TOP when none): a
 * word of 64 used frames is passed over at once. */
static uint64_t next_free(const struct pmm *p, uint64_t f, uint64_t top)
{
    while (f < top) {
        uint64_t free_bits = ~p->bitmap[f / 64] & (~0UL << (f % 64));
        if (free_bits) {
            f = f / 64 * 64 + (uint64_t)__builtin_ctzll(free_bits);
            return f < top ? f : top;
        }
        f = (f / 64 + 1) * 64;
    }
    return top;
}

uint64_t pmm_alloc_contig(struct pmm *p, uint64_t count, uint64_t align, uint64_t limit)
{
    if (count == 0 || align == 0 || (align & (align - 1)) || count > p->free)
        return PMM_NONE;
    uint64_t top = p->nframes;
    if (limit && (limit >> PAGE_SHIFT) < top)
        top = limit >> PAGE_SHIFT;
    if (count == 1 && align == 1 && top == p->nframes)
        return pmm_alloc(p);            /* any frame: from the rotating hint */
    for (uint64_t start = 0; start < top && count <= top - start;) {
        uint64_t i = 0;
        while (i < count && !test_bit(p, start + i))
            i++;
        if (i == count) {
            for (i = 0; i < count; i++)
                set_bit(p, start + i);
            p->free -= count;
            return start << PAGE_SHIFT;
        }
        /* on past the used frame to the next free one, keeping alignment */
        uint64_t next = next_free(p, start + i + 1, top);
        start = (next + align - 1) / align * align;
    }
    return PMM_NONE;
}

int pmm_free(struct pmm *p, uint64_t phys, uint64_t count)
{
    if ((phys & (PAGE_SIZE - 1)) || count == 0)
        return -1;
    uint64_t f = phys >> PAGE_SHIFT;
    if (f >= p->nframes || count > p->nframes - f)
        return -1;
    for (uint64_t i = 0; i < count; i++)
        if (!test_bit(p, f + i))
            return -1;
    for (uint64_t i = 0; i < count; i++)
        clear_bit(p, f + i);
    p->free += count;
    if (f / 64 < p->hint)
        p->hint = f / 64;
    return 0;
}

bool pmm_is_used(const struct pmm *p, uint64_t phys)
{
    uint64_t f = phys >> PAGE_SHIFT;
    return f >= p->nframes || test_bit(p, f);
}
