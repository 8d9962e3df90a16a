/*
 * vmo: memory objects.  An anonymous object's pages read as zeros; each
 * gets its frame when it is first touched (a fault, or the kernel writing
 * it), from frames reserved when the object was made, so touching never
 * runs out of memory; a contiguous one owns one run of frames (DMA); a
 * physical one names a range it does not own (MMIO).
 * Mappings (core/vm.c) hold references; the frames go back to the
 * allocator when the last reference is dropped.
 */
#ifndef KESTREL_CORE_VMO_H
#define KESTREL_CORE_VMO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/object.h"

struct vm_region;

struct vmo {
    struct kobject obj;
    uint32_t kind;            /* K_VMO_* */
    bool uncached;            /* device registers: mapped uncached */
    bool fork_shared;         /* ANON made with K_VMO_FORK_SHARED: vm_clone shares it */
    uint64_t npages;
    uint64_t phys;            /* PHYS and CONTIG: first frame */
    uint64_t *pages;          /* ANON: one frame per page, 0 while untouched (vm_lock) */
    uint64_t touched;         /* ANON: pages that have a frame (vm_lock) */
    uint64_t touch_lo, touch_hi;  /* ANON: every page with a frame is in [lo, hi) (vm_lock) */
    uint8_t *cow;             /* ANON: bit set = page shared copy-on-write (vm_lock) */
    struct vm_region *maps;   /* where it is mapped (vm_lock) */
};

static inline bool vmo_page_cow(const struct vmo *v, uint64_t i)
{
    return v->cow && (v->cow[i / 8] >> (i % 8) & 1);
}

/* The first page index in [I, END) of the anonymous object V that has a
 * frame, or END: eight entries at a time over untouched runs (an object
 * is mostly untouched: stacks, heaps, bss).  vm_lock held. */
static inline uint64_t vmo_next_touched(const struct vmo *v, uint64_t i, uint64_t end)
{
    const uint64_t *p = v->pages;
    uint64_t stop = end < v->touch_hi ? end : v->touch_hi;     /* none past the range */
    if (i < v->touch_lo)
        i = v->touch_lo;
    for (; i < stop && (i & 7); i++)
        if (p[i])
            return i;
    while (i + 8 <= stop && !(p[i] | p[i + 1] | p[i + 2] | p[i + 3] | p[i + 4] | p[i + 5] |
                              p[i + 6] | p[i + 7]))
        i += 8;
    while (i < stop && !p[i])
        i++;
    return i < stop ? i : end;
}

/* A copy-on-write clone of the anonymous object V (core/cow.c). */
struct vmo *vmo_clone(struct vmo *v, int *err);
/* Gives back an anonymous object's frames, or its share of them. */
void vmo_release_pages(struct vmo *v);

/* Returns the object or NULL with *err set (-E_TOOBIG, -E_NOMEM, -E_INVAL). */
struct vmo *vmo_create(uint64_t size, uint32_t kind, uint64_t phys, int *err);
/* The frame of page INDEX (0: an untouched anonymous page). */
uint64_t vmo_page_phys(const struct vmo *v, uint64_t index);
/* The frame of page INDEX, given one (zeroed, from the reservation) if it
 * was untouched.  The _locked form with vm_lock held. */
uint64_t vmo_page_touch(struct vmo *v, uint64_t index);
uint64_t vmo_page_touch_locked(struct vmo *v, uint64_t index);
void vmo_destroy(struct vmo *v);

#endif
