/*
 * kmem: kernel memory of any size.  Up to SLAB_MAX_OBJECT bytes it is a
 * kmalloc object; above, whole contiguous pages from the frame allocator
 * seen through the direct map.  The caller passes the size back to
 * kmem_free (like seL4's untyped memory, the kernel always knows it).
 */
#ifndef KESTREL_CORE_KMEM_H
#define KESTREL_CORE_KMEM_H

#include <stddef.h>
#include <stdint.h>

void *kmem_alloc(size_t size);
void *kmem_zalloc(size_t size);
void kmem_free(void *p, size_t size);
/* Page-sized allocations outstanding (for leak tests). */
extern uint64_t kmem_big_live;

#endif
