/* kmem: small sizes through kmalloc, large ones as contiguous pages (see kmem.h). */
#include "core/kmem.h"

#include "base/string.h"
#include "core/frame.h"
#include "core/slab.h"

uint64_t kmem_big_live;

static uint64_t pages_for(size_t size)
{
    return (size + PAGE_SIZE - 1) / PAGE_SIZE;
}

void *kmem_alloc(size_t size)
{
    if (size <= SLAB_MAX_OBJECT)
        return kmalloc(size);
    uint64_t pa = frame_alloc_contig(pages_for(size), 1);
    if (pa == PMM_NONE)
        return NULL;
    __atomic_add_fetch(&kmem_big_live, 1, __ATOMIC_RELAXED);
    return phys_to_virt(pa);
}

void *kmem_zalloc(size_t size)
{
    void *p = kmem_alloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void kmem_free(void *p, size_t size)
{
    if (!p)
        return;
    if (size <= SLAB_MAX_OBJECT) {
        kfree(p);
        return;
    }
    frame_free_contig((uintptr_t)p - phys_offset, pages_for(size));
    __atomic_sub_fetch(&kmem_big_live, 1, __ATOMIC_RELAXED);
}
