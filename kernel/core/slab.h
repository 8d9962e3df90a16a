/*
 * slab: the kernel object allocator.  Objects of one size live in slabs of
 * one page each; kmalloc rounds up to a size class (16 B ... 2 KiB).
 * Every cache counts its live objects and pages, so tests can check that
 * an operation leaked nothing (slab_live_objects before == after).
 *
 * Pure logic plus a page provider (struct slab_pages) so that host unit
 * tests run it over malloc'ed pages.  Locking: one spinlock per cache.
 */
#ifndef KESTREL_CORE_SLAB_H
#define KESTREL_CORE_SLAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/spinlock.h"

struct slab_page;

struct slab_pages {
    void *(*alloc)(void);     /* one 4 KiB-aligned page, or NULL */
    void (*free)(void *page);
};

struct slab_cache {
    const char *name;
    size_t size;              /* object size, a multiple of 16 */
    unsigned per_slab;
    spinlock_t lock;
    struct slab_page *partial;  /* slabs with free objects */
    struct slab_page *full;
    const struct slab_pages *pages;
    uint64_t live;            /* objects allocated and not freed */
    uint64_t slabs;           /* pages held */
    uint64_t allocs, frees, failures;
};

void slab_cache_init(struct slab_cache *c, const char *name, size_t size,
                     const struct slab_pages *pages);
void *slab_alloc(struct slab_cache *c);       /* NULL when out of memory */
/* Returns 0, or -1 when PTR is not a live object of C (nothing changes). */
int slab_free(struct slab_cache *c, void *ptr);
/* Frees all empty slabs; returns the number of pages given back. */
unsigned slab_shrink(struct slab_cache *c);

#define SLAB_MAX_OBJECT 2048

/* The kernel's general-purpose heap over the size classes. */
void kmalloc_init(const struct slab_pages *pages);
void *kmalloc(size_t size);                    /* NULL if size > SLAB_MAX_OBJECT or no memory */
void *kzalloc(size_t size);
void kfree(void *ptr);                         /* NULL is ignored; a bad pointer panics */
uint64_t kmalloc_live_objects(void);
uint64_t kmalloc_pages(void);

#endif
