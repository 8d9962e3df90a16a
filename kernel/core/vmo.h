/*
 * vmo: memory objects.  An anonymous object owns zeroed frames, allocated
 * when it is created (no demand paging yet); a contiguous one owns one run
 * of frames (DMA); a physical one names a range it does not own (MMIO).
 * Mappings (core/vm.c) hold references; the frames go back to the
 * allocator when the last reference is dropped.
 */
#ifndef KESTREL_CORE_VMO_H
#define KESTREL_CORE_VMO_H

#include <stdint.h>

#include "core/object.h"

struct vmo {
    struct kobject obj;
    uint32_t kind;            /* K_VMO_* */
    uint64_t npages;
    uint64_t phys;            /* PHYS and CONTIG: first frame */
    uint64_t *pages;          /* ANON: one frame per page */
};

/* Returns the object or NULL with *err set (-E_TOOBIG, -E_NOMEM, -E_INVAL). */
struct vmo *vmo_create(uint64_t size, uint32_t kind, uint64_t phys, int *err);
uint64_t vmo_page_phys(const struct vmo *v, uint64_t index);
void vmo_destroy(struct vmo *v);

#endif
