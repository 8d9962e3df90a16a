/*
 * vmo: memory objects.  An anonymous object owns zeroed frames, allocated
 * when it is created (no demand paging yet); a contiguous one owns one run
 * of frames (DMA); a physical one names a range it does not own (MMIO).
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
    uint64_t npages;
    uint64_t phys;            /* PHYS and CONTIG: first frame */
    uint64_t *pages;          /* ANON: one frame per page */
    uint8_t *cow;             /* ANON: bit set = page shared copy-on-write (vm_lock) */
    struct vm_region *maps;   /* where it is mapped (vm_lock) */
};

static inline bool vmo_page_cow(const struct vmo *v, uint64_t i)
{
    return v->cow && (v->cow[i / 8] >> (i % 8) & 1);
}

/* A copy-on-write clone of the anonymous object V (core/cow.c). */
struct vmo *vmo_clone(struct vmo *v, int *err);
/* Gives back an anonymous object's frames, or its share of them. */
void vmo_release_pages(struct vmo *v);

/* Returns the object or NULL with *err set (-E_TOOBIG, -E_NOMEM, -E_INVAL). */
struct vmo *vmo_create(uint64_t size, uint32_t kind, uint64_t phys, int *err);
uint64_t vmo_page_phys(const struct vmo *v, uint64_t index);
void vmo_destroy(struct vmo *v);

#endif
