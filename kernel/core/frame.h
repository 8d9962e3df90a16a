/*
 * frame: the kernel's physical memory allocator, built at boot from the
 * memory map over all RAM (the bitmap is sized by the highest RAM address,
 * no fixed limit).  Locking: one spinlock, interrupts off while held.
 */
#ifndef KESTREL_CORE_FRAME_H
#define KESTREL_CORE_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pmm.h"

void frame_init(void);
/* Called by paging_init once the direct map is live. */
void frame_use_direct_map(void);

uint64_t frame_alloc(void);              /* PMM_NONE when out of memory */
uint64_t frame_alloc_zeroed(void);
void frame_zero(uint64_t phys);
uint64_t frame_alloc_contig(uint64_t count, uint64_t align_frames);
void frame_free(uint64_t phys);          /* panics on a double free */
void frame_free_contig(uint64_t phys, uint64_t count);
/* Reservations: COUNT frames promised (to an anonymous memory object's
 * untouched pages), so that touching them later cannot run out of memory.
 * Nothing else allocates a reserved frame.  frame_reserve is false when
 * fewer are free; frame_alloc_reserved turns one promise into a zeroed
 * frame (it cannot fail); frame_unreserve gives promises back. */
bool frame_reserve(uint64_t count);
void frame_unreserve(uint64_t count);
uint64_t frame_alloc_reserved(void);

struct frame_stats {
    uint64_t ram_bytes;       /* all usable RAM in the memory map */
    uint64_t free_bytes;      /* free and not reserved */
    uint64_t reserved_bytes;  /* promised to untouched pages */
    uint64_t max_phys;        /* end of the highest RAM region */
};
void frame_get_stats(struct frame_stats *st);

/* Kernel virtual address of physical memory (direct map once paging_init
 * has run; before that only the first 1 GiB, through the boot mapping). */
extern uintptr_t phys_offset;
static inline void *phys_to_virt(uint64_t phys) { return (void *)(phys + phys_offset); }

#endif
