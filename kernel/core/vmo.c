/* vmo: memory objects (see vmo.h).  Immutable after creation, so no lock. */
#include "core/vmo.h"

#include "core/frame.h"
#include "core/kmem.h"
#include "core/slab.h"
#include "core/vm.h"
#include "kestrel/errors.h"
#include "kestrel/vm.h"

static int fill(struct vmo *v, uint64_t phys)
{
    if (v->kind == K_VMO_PHYS) {
        if (phys & (PAGE_SIZE - 1))
            return -E_INVAL;
        v->phys = phys;
        return 0;
    }
    if (v->kind == K_VMO_CONTIG) {
        v->phys = frame_alloc_contig(v->npages, 1);
        if (v->phys == PMM_NONE)
            return -E_NOMEM;
        for (uint64_t i = 0; i < v->npages; i++)
            frame_zero(v->phys + i * PAGE_SIZE);
        return 0;
    }
    /* Anonymous: every page untouched (0), a frame reserved for each. */
    v->pages = kmem_zalloc(v->npages * sizeof(uint64_t));
    if (!v->pages)
        return -E_NOMEM;
    if (!frame_reserve(v->npages)) {
        kmem_free(v->pages, v->npages * sizeof(uint64_t));
        return -E_NOMEM;
    }
    return 0;
}

struct vmo *vmo_create(uint64_t size, uint32_t kind, uint64_t phys, int *err)
{
    if (size == 0 || size > K_VMO_MAX_SIZE) {
        *err = -E_TOOBIG;
        return NULL;
    }
    if (kind > K_VMO_CONTIG) {
        *err = -E_INVAL;
        return NULL;
    }
    struct vmo *v = kzalloc(sizeof(*v));
    if (!v) {
        *err = -E_NOMEM;
        return NULL;
    }
    object_init(&v->obj, K_OBJ_VMO);
    v->kind = kind;
    v->npages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    *err = fill(v, phys);
    if (*err) {
        kfree(v);
        return NULL;
    }
    return v;
}

uint64_t vmo_page_phys(const struct vmo *v, uint64_t index)
{
    return v->kind == K_VMO_ANON ? v->pages[index] : v->phys + index * PAGE_SIZE;
}

uint64_t vmo_page_touch_locked(struct vmo *v, uint64_t index)
{
    if (v->kind == K_VMO_ANON && !v->pages[index]) {
        v->pages[index] = frame_alloc_reserved();
        if (!v->touched++ || index < v->touch_lo)
            v->touch_lo = index;
        if (index >= v->touch_hi)
            v->touch_hi = index + 1;
    }
    return vmo_page_phys(v, index);
}

uint64_t vmo_page_touch(struct vmo *v, uint64_t index)
{
    spin_lock(&vm_lock);
    uint64_t pa = vmo_page_touch_locked(v, index);
    spin_unlock(&vm_lock);
    return pa;
}

void vmo_destroy(struct vmo *v)
{
    if (v->kind == K_VMO_ANON) {
        vmo_release_pages(v);
        kmem_free(v->pages, v->npages * sizeof(uint64_t));
    }
    if (v->kind == K_VMO_CONTIG)
        frame_free_contig(v->phys, v->npages);
    kfree(v);
}
