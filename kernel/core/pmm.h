/*
 * pmm: physical frame bookkeeping, pure logic (no locking, no globals) so
 * that it runs in host unit tests.  One bit per 4 KiB frame, 1 = in use,
 * for every frame from 0 to the highest address of the memory map; holes
 * and reserved ranges stay marked in use.  The kernel's instance, with its
 * lock and boot-time setup, is in frame.c.
 */
#ifndef KESTREL_CORE_PMM_H
#define KESTREL_CORE_PMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096UL
#define PAGE_SHIFT 12
#define PMM_NONE UINT64_MAX

struct pmm {
    uint64_t *bitmap;
    uint64_t nframes;
    uint64_t free;
    uint64_t hint;            /* word index where the next search starts */
};

static inline size_t pmm_bitmap_bytes(uint64_t nframes)
{
    return (size_t)((nframes + 63) / 64 * 8);
}

/* All frames start in use; the caller then frees the RAM it knows of. */
void pmm_init(struct pmm *p, uint64_t *bitmap, uint64_t nframes);
/* Mark the frames wholly inside [base, base+len) free / in use.  Return the
 * number of frames whose state changed. */
uint64_t pmm_mark_free(struct pmm *p, uint64_t base, uint64_t len);
uint64_t pmm_mark_used(struct pmm *p, uint64_t base, uint64_t len);

/* One frame (physical address) or PMM_NONE. */
uint64_t pmm_alloc(struct pmm *p);
/* COUNT contiguous frames aligned to ALIGN frames (a power of two), or
 * PMM_NONE; LIMIT bounds the end address (0: no bound). */
uint64_t pmm_alloc_contig(struct pmm *p, uint64_t count, uint64_t align, uint64_t limit);
/* Returns 0, or -1 if the range is misaligned, out of range or not
 * entirely allocated (a double free); nothing changes on error. */
int pmm_free(struct pmm *p, uint64_t phys, uint64_t count);
bool pmm_is_used(const struct pmm *p, uint64_t phys);

#endif
