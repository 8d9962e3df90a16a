/*
 * paging: the kernel's page tables.  Kernel virtual layout:
 *   0xffff800000000000  direct map of RAM (and firmware regions), RW NX
 *   0xffffc00000000000  device/firmware window (paging_map_phys)
 *   0xfffffe8000000000  minus a few pages: every CPU's TSS (an alias of cpus[])
 *   0xfffffe8000000000  the I/O permission bitmap: per address space
 *   0xffffff0000000000  kernel stacks, each below an unmapped guard page
 *   0xffffffff80000000  the kernel image: text RX, rodata R, data RW NX
 */
#ifndef KESTREL_ARCH_PAGING_H
#define KESTREL_ARCH_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#define PTE_P    (1UL << 0)
#define PTE_W    (1UL << 1)
#define PTE_U    (1UL << 2)
#define PTE_PWT  (1UL << 3)
#define PTE_PCD  (1UL << 4)
#define PTE_PS   (1UL << 7)
#define PTE_G    (1UL << 8)
#define PTE_NX   (1UL << 63)
#define PTE_ADDR 0x000ffffffffff000UL

#define DEVICE_WINDOW 0xffffc00000000000UL
#define KSTACK_AREA   0xffffff0000000000UL

/*
 * I/O permission bitmaps.  The CPU checks an in/out at CPL 3 against the
 * bitmap at its TSS's I/O map base, read through the page tables loaded.
 * Every CPU's TSS is therefore reached through an alias of cpus[] that
 * ends where IOBM_VA (PML4 slot 509, kernel only) begins, and each address
 * space maps its own bitmap there: switching CR3 switches the bitmap, and
 * the context switch does no extra work.  Spaces share one bitmap that
 * denies every port until pt_iobm gives one its own.  The byte after the
 * 8 KiB (all ones, as the SDM asks) is in every space.
 */
#define IOBM_VA       0xfffffe8000000000UL
#define IOBM_SLOT     509
#define IOBM_BYTES    8192

/*
 * The system call entry, also per address space (the same slot): LSTAR
 * is K_ENTRY_VA, where a space maps either the first page of kernel text
 * (syscall_entry, arch syscall.S) or a copy of it that begins with a jump
 * to syscall_entry_redirect (a space whose calls go to its personality).
 * Either way the native path runs exactly the same instructions.
 */
#define K_ENTRY_VA    (IOBM_VA + 4 * 4096UL)

enum map_cache { MAP_CACHED, MAP_UNCACHED };

/* Builds the kernel's page tables, switches to them, and moves the frame
 * allocator onto the direct map. */
void paging_init(void);

/* The linear address through which a CPU uses TSS (the alias once
 * paging_init has made it, else TSS itself). */
uintptr_t paging_tss_linear(const void *tss);

/* The I/O bitmap of address space PML4, as its two 4 KiB pages (kernel
 * addresses; a set bit denies a port).  A space still sharing the bitmap
 * that denies everything gets its own (all denied) when ALLOC, and *FRESH
 * says so (its TLB entries must be flushed).  Returns 0, -E_NOMEM, or
 * -E_NOENT (shared, !ALLOC).  The space's lock held. */
int pt_iobm(uint64_t pml4, bool alloc, uint8_t *pages[2], bool *fresh);

/* Maps the redirecting (REDIRECT) or the native syscall entry in space
 * PML4: a space that shares the deny-all bitmap shares the slot's tables
 * made for that entry; one with its own changes them (*FRESH: flush).  0
 * or -E_NOMEM.  The space's lock held. */
int pt_set_entry(uint64_t pml4, bool redirect, bool *fresh);

/* Maps [phys, phys+len) for kernel access (firmware tables: cached; device
 * registers: uncached) and returns its virtual address.  Direct-mapped RAM
 * is returned as is. */
void *paging_map_phys(uint64_t phys, uint64_t len, enum map_cache cache);

/* Maps one 4 KiB page in the kernel page tables (any address, including low
 * identity mappings for the AP trampoline); unmap removes it. */
void paging_map_page(uintptr_t va, uint64_t pa, uint64_t flags);
void paging_unmap_page(uintptr_t va);

/* Looks up VA in the current tables: returns false if not mapped, else the
 * physical address and the effective leaf flags (P W U NX G PS). */
bool paging_query(uintptr_t va, uint64_t *pa, uint64_t *flags);

/* Allocates a kernel stack of PAGES pages with a guard page below it;
 * returns its top (16-byte aligned), or 0 when out of memory. */
uintptr_t kstack_alloc(unsigned pages);
/* Gives back a stack from kstack_alloc (same PAGES); its address range is
 * reused by a later kstack_alloc of the same size. */
void kstack_free(uintptr_t top, unsigned pages);

uint64_t paging_kernel_cr3(void);

/*
 * User page tables.  A PML4 for a process shares the kernel's upper half
 * (the kernel PDPTs all exist from boot, so later kernel mappings appear in
 * every process).  The functions below touch only the lower half; the
 * caller (core/vm.c) serialises changes to one space and owns the frames
 * that leaf entries point to.
 */
uint64_t pt_create(void);                    /* PML4 physical address or PMM_NONE */
void pt_destroy(uint64_t pml4);              /* frees the lower-half tables only */
int pt_map(uint64_t pml4, uintptr_t va, uint64_t pa, uint64_t flags);   /* 0 or -E_NOMEM */
/* The tables down to VA's entry exist (for a page mapped later, when first
 * touched, which must not run out of memory then): 0 or -E_NOMEM. */
int pt_prepare(uint64_t pml4, uintptr_t va);
/* pt_map for the pages of a run, in one hold of the space's lock (tables
 * do not go meanwhile): the cursor keeps the last level-1 table, so pages
 * in the same 2 MiB take no walk.  Start it with { .pml4 = PML4 }. */
struct pt_cursor {
    uint64_t pml4;
    uintptr_t va2m;               /* va >> 21 of the table */
    uint64_t *pt;                 /* NULL: none yet */
};
int pt_map_run(struct pt_cursor *c, uintptr_t va, uint64_t pa, uint64_t flags);
uint64_t pt_unmap(uint64_t pml4, uintptr_t va);  /* old physical address, 0 if none */
bool pt_translate(uint64_t pml4, uintptr_t va, uint64_t *pa, uint64_t *flags);
extern uint64_t pte_nx;       /* PTE_NX when the CPU supports it, else 0 */

#endif
