/*
 * paging: kernel page tables (see paging.h).
 *
 * paging_init replaces the boot tables with tables that give each part of
 * the image only the rights it needs (W^X), map RAM once in the direct map
 * and leave the lower half empty.  Table pages come from the frame
 * allocator; before the switch they are reached through the boot mapping,
 * which covers the first 1 GiB, where the allocator's first frames lie.
 *
 * Locking: one lock for changes to kernel mappings.  There is no TLB
 * shootdown yet: kernel mappings are only added (never changed) while
 * other CPUs run, except the AP trampoline, which only a booting AP uses.
 */
#include "arch/x86_64/paging.h"

#include "arch/x86_64/asm.h"
#include "arch/x86_64/cpu.h"
#include "base/string.h"
#include "core/bootinfo.h"
#include "core/frame.h"
#include "core/printk.h"
#include "core/spinlock.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/smp.h"
#include "kestrel/errors.h"

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __bss_end[], boot_stack_bottom[];

uint64_t pte_nx;
static uint64_t kernel_pml4_phys;
static uint64_t *kernel_pml4;
static spinlock_t lock = SPINLOCK_INIT;
static uintptr_t device_next = DEVICE_WINDOW;
static uintptr_t kstack_next = KSTACK_AREA;
static bool has_1g_pages;
static uint64_t iobm_deny;           /* a frame of all ones: every port denied */
static uint64_t entry_native, entry_redirect;    /* the two syscall entry pages */
/* The slot's PML4 entry that every space sharing the deny-all bitmap with
 * the redirecting entry uses (Linux processes): the kernel's has the
 * native one.  A space with ports of its own has its own tables. */
static uint64_t redirect_slot;
extern char syscall_entry[], syscall_entry_redirect[];
static bool tss_alias_ready;

#define CPUS_SPAN ((sizeof(cpus) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
_Static_assert(CPUS_SPAN + IOBM_BYTES < 0x10000, "a TSS's I/O map base is 16 bits");

static uint64_t *table_of(uint64_t entry)
{
    return phys_to_virt(entry & PTE_ADDR);
}

static uint64_t new_table(void)
{
    uint64_t pa = frame_alloc_zeroed();
    if (pa == PMM_NONE)
        panic("paging: out of memory for page tables");
    return pa;
}

/* Returns the entry for VA at LEVEL (1 = PT ... 3 = PDPT), creating
 * intermediate tables. */
static uint64_t *walk(uint64_t *pml4, uintptr_t va, int level)
{
    uint64_t *table = pml4;
    for (int l = 4; l > level; l--) {
        unsigned idx = (va >> (12 + 9 * (l - 1))) & 511;
        if (!(table[idx] & PTE_P))
            table[idx] = new_table() | PTE_P | PTE_W;
        else if (table[idx] & PTE_PS)
            panic("paging: %#lx is inside a large page", va);
        table = table_of(table[idx]);
    }
    return &table[(va >> (12 + 9 * (level - 1))) & 511];
}

/* Maps [va, va+len) to [pa, ...) with the largest pages alignment allows. */
static void map_range(uint64_t *pml4, uintptr_t va, uint64_t pa, uint64_t len, uint64_t flags)
{
    uint64_t end = va + len;
    while (va < end) {
        uint64_t left = end - va;
        if (has_1g_pages && !(va & ((1UL << 30) - 1)) && !(pa & ((1UL << 30) - 1)) && left >= (1UL << 30)) {
            *walk(pml4, va, 3) = pa | flags | PTE_PS;
            va += 1UL << 30, pa += 1UL << 30;
        } else if (!(va & ((1UL << 21) - 1)) && !(pa & ((1UL << 21) - 1)) && left >= (1UL << 21)) {
            *walk(pml4, va, 2) = pa | flags | PTE_PS;
            va += 1UL << 21, pa += 1UL << 21;
        } else {
            *walk(pml4, va, 1) = pa | flags;
            va += PAGE_SIZE, pa += PAGE_SIZE;
        }
    }
}

static void map_image_part(char *start, char *end, uint64_t flags)
{
    uintptr_t va = (uintptr_t)start;
    map_range(kernel_pml4, va, va - KERNEL_VMA, (uintptr_t)end - va, flags | PTE_P | PTE_G);
}

static void map_direct(uint64_t base, uint64_t len)
{
    uint64_t lo = base & ~(PAGE_SIZE - 1);
    uint64_t hi = (base + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    /* Round to 2 MiB where that stays inside RAM is not worth the risk:
     * map exactly the pages listed. */
    map_range(kernel_pml4, DIRECT_MAP + lo, lo, hi - lo, PTE_P | PTE_W | PTE_G | pte_nx);
}

/* The shared bitmap that denies every port, in slot IOBM_SLOT (copied
 * into every space by pt_create), and the TSS alias just below it.  The
 * bitmap's pages are not global: each space has its own at that address. */
static void iobm_init(void)
{
    iobm_deny = new_table();
    memset(phys_to_virt(iobm_deny), 0xff, PAGE_SIZE);
    for (unsigned i = 0; i <= IOBM_BYTES / PAGE_SIZE; i++)
        *walk(kernel_pml4, IOBM_VA + i * PAGE_SIZE, 1) = iobm_deny | PTE_P | pte_nx;
    uintptr_t va = (uintptr_t)cpus;
    map_range(kernel_pml4, IOBM_VA - CPUS_SPAN, va - KERNEL_VMA, CPUS_SPAN,
              PTE_P | PTE_W | PTE_G | pte_nx);
    tss_alias_ready = true;
    /* The entry pages: the text page itself, and a copy whose first
     * instruction is "jmp syscall_entry_redirect" (rel32, same page). */
    entry_native = (uintptr_t)syscall_entry - KERNEL_VMA;
    entry_redirect = new_table();
    uint8_t *copy = phys_to_virt(entry_redirect);
    memcpy(copy, syscall_entry, PAGE_SIZE);
    int32_t rel = (int32_t)(syscall_entry_redirect - syscall_entry - 5);
    copy[0] = 0xe9;
    memcpy(copy + 1, &rel, 4);
    *walk(kernel_pml4, K_ENTRY_VA, 1) = entry_native | PTE_P;
    uint64_t pdpt = new_table(), pd = new_table(), pt = new_table();
    memcpy(phys_to_virt(pt), table_of(table_of(table_of(kernel_pml4[IOBM_SLOT])[0])[0]), PAGE_SIZE);
    ((uint64_t *)phys_to_virt(pt))[(K_ENTRY_VA - IOBM_VA) / PAGE_SIZE] = entry_redirect | PTE_P;
    ((uint64_t *)phys_to_virt(pd))[0] = pt | PTE_P | PTE_W;
    ((uint64_t *)phys_to_virt(pdpt))[0] = pd | PTE_P | PTE_W;
    redirect_slot = pdpt | PTE_P | PTE_W;
}

uintptr_t paging_tss_linear(const void *tss)
{
    if (!tss_alias_ready)
        return (uintptr_t)tss;
    return IOBM_VA - CPUS_SPAN + ((uintptr_t)tss - (uintptr_t)cpus);
}

void paging_init(void)
{
    uint32_t r[4];
    cpuid(0x80000001, 0, r);
    pte_nx = (r[3] >> 20 & 1) ? PTE_NX : 0;
    has_1g_pages = r[3] >> 26 & 1;

    kernel_pml4_phys = new_table();
    kernel_pml4 = phys_to_virt(kernel_pml4_phys);
    /* Pre-create every kernel-half PDPT so that address spaces made later
     * can share them and see kernel mappings added after they were made. */
    for (unsigned i = 256; i < 512; i++)
        kernel_pml4[i] = new_table() | PTE_P | PTE_W;

    map_image_part(__text_start, __text_end, 0);
    map_image_part(__rodata_start, __rodata_end, pte_nx);
    map_image_part(__data_start, __bss_end, PTE_W | pte_nx);
    /* Guard page below the boot stack: an overflow faults (#DF on IST). */
    *walk(kernel_pml4, (uintptr_t)boot_stack_bottom, 1) = 0;

    map_direct(0, 1UL << 20);
    for (unsigned i = 0; i < bootinfo.nregions; i++) {
        const struct boot_region *reg = &bootinfo.regions[i];
        if (reg->type == REGION_RAM || reg->type == REGION_ACPI || reg->type == REGION_NVS)
            map_direct(reg->base, reg->len);
    }

    iobm_init();

    write_cr4(read_cr4() | CR4_PGE);
    write_cr3(kernel_pml4_phys);
    phys_offset = DIRECT_MAP;
    kernel_pml4 = phys_to_virt(kernel_pml4_phys);
    frame_use_direct_map();
}

uint64_t paging_kernel_cr3(void)
{
    return kernel_pml4_phys;
}

void paging_map_page(uintptr_t va, uint64_t pa, uint64_t flags)
{
    bool was = spin_lock_irqsave(&lock);
    *walk(kernel_pml4, va, 1) = (pa & PTE_ADDR) | flags | PTE_P;
    invlpg(va);
    spin_unlock_irqrestore(&lock, was);
}

void paging_unmap_page(uintptr_t va)
{
    bool was = spin_lock_irqsave(&lock);
    *walk(kernel_pml4, va, 1) = 0;
    invlpg(va);
    spin_unlock_irqrestore(&lock, was);
}

bool paging_query(uintptr_t va, uint64_t *pa, uint64_t *flags)
{
    uint64_t *table = phys_to_virt(read_cr3() & PTE_ADDR);
    uint64_t eff = PTE_W | PTE_U;   /* W and U are ANDed down the walk, NX ORed */
    uint64_t nx = 0;
    for (int l = 4; l >= 1; l--) {
        uint64_t e = table[(va >> (12 + 9 * (l - 1))) & 511];
        if (!(e & PTE_P))
            return false;
        eff &= e | ~(PTE_W | PTE_U);
        nx |= e & PTE_NX;
        if (l == 1 || (e & PTE_PS)) {
            uint64_t size = 1UL << (12 + 9 * (l - 1));
            *pa = (e & PTE_ADDR & ~(size - 1)) | (va & (size - 1));
            *flags = (eff & (PTE_W | PTE_U)) | nx | (e & (PTE_P | PTE_G | PTE_PCD)) |
                     (l > 1 ? PTE_PS : 0);
            return true;
        }
        table = table_of(e);
    }
    return false;
}

static bool in_direct_map(uint64_t phys, uint64_t len)
{
    for (unsigned i = 0; i < bootinfo.nregions; i++) {
        const struct boot_region *r = &bootinfo.regions[i];
        if ((r->type == REGION_RAM || r->type == REGION_ACPI || r->type == REGION_NVS) &&
            phys >= r->base && len <= r->len && phys - r->base <= r->len - len)
            return true;
    }
    return phys + len <= (1UL << 20);
}

void *paging_map_phys(uint64_t phys, uint64_t len, enum map_cache cache)
{
    if (cache == MAP_CACHED && in_direct_map(phys, len))
        return phys_to_virt(phys);
    uint64_t lo = phys & ~(PAGE_SIZE - 1);
    uint64_t hi = (phys + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint64_t flags = PTE_P | PTE_W | PTE_G | pte_nx | (cache == MAP_UNCACHED ? PTE_PCD | PTE_PWT : 0);
    bool was = spin_lock_irqsave(&lock);
    uintptr_t va = device_next;
    device_next += hi - lo;
    for (uint64_t off = 0; off < hi - lo; off += PAGE_SIZE)
        *walk(kernel_pml4, va + off, 1) = (lo + off) | flags;
    spin_unlock_irqrestore(&lock, was);
    return (void *)(va + (phys - lo));
}

#define KSTACK_FREE_MAX 256
static struct { uintptr_t top; unsigned pages; } kstack_free_list[KSTACK_FREE_MAX];
static unsigned kstack_nfree;

/* A freed address range of PAGES pages (its base), or a new one. Lock held. */
static uintptr_t kstack_range(unsigned pages)
{
    for (unsigned i = 0; i < kstack_nfree; i++) {
        if (kstack_free_list[i].pages == pages) {
            uintptr_t top = kstack_free_list[i].top;
            kstack_free_list[i] = kstack_free_list[--kstack_nfree];
            return top - (uint64_t)pages * PAGE_SIZE;
        }
    }
    uintptr_t base = kstack_next + PAGE_SIZE;   /* leave the guard unmapped */
    kstack_next += (uint64_t)(pages + 1) * PAGE_SIZE;
    return base;
}

struct flush_range { uintptr_t start; unsigned pages; };

static void flush_range_here(void *arg)
{
    struct flush_range *r = arg;
    for (unsigned i = 0; i < r->pages; i++)
        invlpg(r->start + (uint64_t)i * PAGE_SIZE);
}

/* Removes a kernel range from every CPU's TLB (its entries are global, so
 * a CR3 reload would not).  Interrupts on, no locks held. */
static void kernel_tlb_shootdown(uintptr_t start, unsigned pages)
{
    struct flush_range r = { start, pages };
    flush_range_here(&r);
    for (unsigned c = 0; c < cpu_count; c++)
        if (c != this_cpu()->id && cpus[c].online && !smp_call(c, flush_range_here, &r))
            panic("paging: cpu %u did not flush its TLB", c);
}

void kstack_free(uintptr_t top, unsigned pages)
{
    uint64_t frames[16];
    KASSERT(pages <= 16);
    uintptr_t base = top - (uint64_t)pages * PAGE_SIZE;
    bool was = spin_lock_irqsave(&lock);
    for (unsigned i = 0; i < pages; i++) {
        uint64_t *pte = walk(kernel_pml4, base + (uint64_t)i * PAGE_SIZE, 1);
        frames[i] = *pte & PTE_ADDR;
        *pte = 0;
    }
    spin_unlock_irqrestore(&lock, was);
    kernel_tlb_shootdown(base, pages);
    for (unsigned i = 0; i < pages; i++)
        frame_free(frames[i]);
    was = spin_lock_irqsave(&lock);
    for (unsigned i = 0; i < kstack_nfree; i++)
        KASSERT(kstack_free_list[i].top != top);      /* freed twice */
    if (kstack_nfree < KSTACK_FREE_MAX) {
        kstack_free_list[kstack_nfree].top = top;
        kstack_free_list[kstack_nfree].pages = pages;
        kstack_nfree++;
    }
    spin_unlock_irqrestore(&lock, was);
}

uintptr_t kstack_alloc(unsigned pages)
{
    bool was = spin_lock_irqsave(&lock);
    uintptr_t base = kstack_range(pages);
    for (unsigned i = 0; i < pages; i++) {
        uint64_t pa = frame_alloc_zeroed();
        if (pa == PMM_NONE) {
            while (i--) {
                uint64_t *pte = walk(kernel_pml4, base + i * PAGE_SIZE, 1);
                frame_free(*pte & PTE_ADDR);
                *pte = 0;
            }
            spin_unlock_irqrestore(&lock, was);
            return 0;       /* the range was never visible: no flush needed */
        }
        *walk(kernel_pml4, base + i * PAGE_SIZE, 1) = pa | PTE_P | PTE_W | PTE_G | pte_nx;
    }
    spin_unlock_irqrestore(&lock, was);
    return base + (uint64_t)pages * PAGE_SIZE;
}

/* ---- user page tables ---- */

uint64_t pt_create(void)
{
    uint64_t pa = frame_alloc_zeroed();
    if (pa == PMM_NONE)
        return PMM_NONE;
    uint64_t *pml4 = phys_to_virt(pa);
    for (unsigned i = 256; i < 512; i++)
        pml4[i] = kernel_pml4[i];
    return pa;
}

static void free_level(uint64_t table_pa, int level)
{
    uint64_t *t = phys_to_virt(table_pa);
    if (level > 1) {
        for (unsigned g = 0; g < 512; g += 8) {     /* most of a table is empty: 8 at a look */
            if (!((t[g] | t[g + 1] | t[g + 2] | t[g + 3] | t[g + 4] | t[g + 5] | t[g + 6] |
                   t[g + 7]) & PTE_P))
                continue;
            for (unsigned i = g; i < g + 8; i++)
                if (t[i] & PTE_P)
                    free_level(t[i] & PTE_ADDR, level - 1);
        }
    }
    frame_free(table_pa);
}

/* The level-1 table of a private I/O bitmap (slot IOBM_SLOT's first). */
/* Whether PML4 has its own bitmap (addresses compared: the CPU sets the
 * accessed bit in the copy it walks). */
static bool iobm_private(const uint64_t *pml4)
{
    uint64_t a = pml4[IOBM_SLOT] & PTE_ADDR;
    return a != (kernel_pml4[IOBM_SLOT] & PTE_ADDR) && a != (redirect_slot & PTE_ADDR);
}

static uint64_t *iobm_pt(uint64_t *pml4)
{
    uint64_t *pdpt = table_of(pml4[IOBM_SLOT]);
    return table_of(table_of(pdpt[0])[0]);
}

/* Gives space T its own tables for the slot (a copy of the shared ones
 * it had: every port denied, its entry).  0 or -E_NOMEM. */
static int kslot_private(uint64_t *t)
{
    uint64_t f[5];
    unsigned n = 0;
    for (; n < 5; n++)
        if ((f[n] = frame_alloc_zeroed()) == PMM_NONE)
            break;
    if (n < 5) {
        while (n)
            frame_free(f[--n]);
        return -E_NOMEM;
    }
    uint64_t *pdpt = phys_to_virt(f[0]), *pd = phys_to_virt(f[1]), *pt = phys_to_virt(f[2]);
    memcpy(pt, iobm_pt(t), PAGE_SIZE);
    memset(phys_to_virt(f[3]), 0xff, PAGE_SIZE);
    memset(phys_to_virt(f[4]), 0xff, PAGE_SIZE);
    pt[0] = f[3] | PTE_P | pte_nx;
    pt[1] = f[4] | PTE_P | pte_nx;
    pd[0] = f[2] | PTE_P | PTE_W;
    pdpt[0] = f[1] | PTE_P | PTE_W;
    __atomic_store_n(&t[IOBM_SLOT], f[0] | PTE_P | PTE_W, __ATOMIC_RELEASE);
    return 0;
}

int pt_iobm(uint64_t pml4, bool alloc, uint8_t *pages[2], bool *fresh)
{
    uint64_t *t = phys_to_virt(pml4);
    *fresh = false;
    if (!iobm_private(t)) {
        if (!alloc)
            return -E_NOENT;
        if (kslot_private(t))
            return -E_NOMEM;
        *fresh = true;
    }
    uint64_t *pt = iobm_pt(t);
    pages[0] = (uint8_t *)table_of(pt[0]);
    pages[1] = (uint8_t *)table_of(pt[1]);
    return 0;
}

int pt_set_entry(uint64_t pml4, bool redirect, bool *fresh)
{
    uint64_t *t = phys_to_virt(pml4);
    *fresh = false;
    if (!iobm_private(t)) {         /* one of the shared slots: the other */
        uint64_t want = redirect ? redirect_slot : kernel_pml4[IOBM_SLOT];
        if ((t[IOBM_SLOT] & PTE_ADDR) != (want & PTE_ADDR)) {
            __atomic_store_n(&t[IOBM_SLOT], want, __ATOMIC_RELEASE);
            *fresh = true;
        }
        return 0;
    }
    iobm_pt(t)[(K_ENTRY_VA - IOBM_VA) / PAGE_SIZE] = (redirect ? entry_redirect : entry_native) | PTE_P;
    *fresh = true;
    return 0;
}

void pt_destroy(uint64_t pml4)
{
    uint64_t *t = phys_to_virt(pml4);
    for (unsigned g = 0; g < 256; g += 8)
        if ((t[g] | t[g + 1] | t[g + 2] | t[g + 3] | t[g + 4] | t[g + 5] | t[g + 6] | t[g + 7]) &
            PTE_P)
            for (unsigned i = g; i < g + 8; i++)
                if (t[i] & PTE_P)
                    free_level(t[i] & PTE_ADDR, 3);
    if (iobm_private(t)) {
        uint64_t *pt = iobm_pt(t);
        frame_free(pt[0] & PTE_ADDR);
        frame_free(pt[1] & PTE_ADDR);
        free_level(t[IOBM_SLOT] & PTE_ADDR, 3);
    }
    frame_free(pml4);
}

/* The level-1 entry for a user VA, creating tables when ALLOC; NULL when
 * absent (or out of memory). */
static uint64_t *user_pte(uint64_t pml4, uintptr_t va, bool alloc)
{
    uint64_t *table = phys_to_virt(pml4);
    for (int l = 4; l > 1; l--) {
        uint64_t *e = &table[(va >> (12 + 9 * (l - 1))) & 511];
        if (!(*e & PTE_P)) {
            if (!alloc)
                return NULL;
            uint64_t pa = frame_alloc_zeroed();
            if (pa == PMM_NONE)
                return NULL;
            *e = pa | PTE_P | PTE_W | PTE_U;
        }
        table = table_of(*e);
    }
    return &table[(va >> 12) & 511];
}

int pt_map(uint64_t pml4, uintptr_t va, uint64_t pa, uint64_t flags)
{
    uint64_t *pte = user_pte(pml4, va, true);
    if (!pte)
        return -E_NOMEM;
    *pte = (pa & PTE_ADDR) | flags | PTE_P | PTE_U;
    return 0;
}

int pt_map_run(struct pt_cursor *c, uintptr_t va, uint64_t pa, uint64_t flags)
{
    if (!c->pt || (va >> 21) != c->va2m) {
        uint64_t *pte = user_pte(c->pml4, va, true);
        if (!pte)
            return -E_NOMEM;
        c->pt = pte - ((va >> 12) & 511);
        c->va2m = va >> 21;
    }
    c->pt[(va >> 12) & 511] = (pa & PTE_ADDR) | flags | PTE_P | PTE_U;
    return 0;
}

int pt_prepare(uint64_t pml4, uintptr_t va)
{
    return user_pte(pml4, va, true) ? 0 : -E_NOMEM;
}

uint64_t pt_unmap(uint64_t pml4, uintptr_t va)
{
    uint64_t *pte = user_pte(pml4, va, false);
    if (!pte || !(*pte & PTE_P))
        return 0;
    uint64_t old = *pte & PTE_ADDR;
    *pte = 0;
    return old;
}

bool pt_translate(uint64_t pml4, uintptr_t va, uint64_t *pa, uint64_t *flags)
{
    uint64_t *pte = user_pte(pml4, va, false);
    if (!pte || !(*pte & PTE_P))
        return false;
    *pa = (*pte & PTE_ADDR) | (va & (PAGE_SIZE - 1));
    *flags = *pte & ~PTE_ADDR;
    return true;
}
