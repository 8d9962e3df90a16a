/*
 * frame: boot-time setup of the kernel's pmm instance and its locked
 * interface (see frame.h).
 *
 * Reserved at boot: the first 1 MiB (BIOS data, the AP trampoline), the
 * kernel image, the boot modules, the Multiboot information page and the
 * bitmap itself.  Everything else the memory map calls RAM is free.
 */
#include "core/frame.h"

#include "arch/x86_64/asm.h"
#include "base/string.h"
#include "core/bootinfo.h"
#include "core/printk.h"
#include "core/spinlock.h"

extern char __boot_start[], __bss_end_phys[];

uintptr_t phys_offset = KERNEL_VMA;
static struct pmm pmm;
static spinlock_t lock = SPINLOCK_INIT;
static uint64_t ram_bytes, max_phys;
/* Frames promised to anonymous memory objects' untouched pages
 * (frame_reserve): never handed out by anything else. */
static uint64_t reserved;
static uint64_t bitmap_phys;

#define LOW_RESERVED (1UL << 20)
#define EARLY_LIMIT (1UL << 30)

struct range { uint64_t base, end; };

static unsigned reserved_ranges(struct range *r)
{
    unsigned n = 0;
    r[n++] = (struct range){ 0, LOW_RESERVED };
    r[n++] = (struct range){ (uintptr_t)__boot_start, (uintptr_t)__bss_end_phys };
    r[n++] = (struct range){ bootinfo.info_phys & ~(PAGE_SIZE - 1),
                             (bootinfo.info_phys & ~(PAGE_SIZE - 1)) + PAGE_SIZE };
    for (unsigned i = 0; i < bootinfo.nmodules; i++)
        r[n++] = (struct range){ bootinfo.modules[i].start, bootinfo.modules[i].end };
    return n;
}

/* First page-aligned place of SIZE bytes in RAM below the early limit that
 * overlaps no reserved range. */
static uint64_t find_bitmap_place(uint64_t size, const struct range *res, unsigned nres)
{
    for (unsigned i = 0; i < bootinfo.nregions; i++) {
        const struct boot_region *reg = &bootinfo.regions[i];
        if (reg->type != REGION_RAM)
            continue;
        uint64_t end = reg->base + reg->len;
        uint64_t at = (reg->base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        bool moved = true;
        while (moved) {
            moved = false;
            for (unsigned j = 0; j < nres; j++) {
                if (at < res[j].end && at + size > res[j].base) {
                    at = (res[j].end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
                    moved = true;
                }
            }
        }
        if (at + size <= end && at + size <= EARLY_LIMIT)
            return at;
    }
    return PMM_NONE;
}

void frame_init(void)
{
    for (unsigned i = 0; i < bootinfo.nregions; i++) {
        const struct boot_region *r = &bootinfo.regions[i];
        if (r->type != REGION_RAM)
            continue;
        ram_bytes += r->len;
        if (r->base + r->len > max_phys)
            max_phys = r->base + r->len;
    }
    if (ram_bytes == 0)
        panic("memory: the memory map lists no RAM");

    uint64_t nframes = max_phys >> PAGE_SHIFT;
    uint64_t bytes = (pmm_bitmap_bytes(nframes) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    struct range res[3 + BOOT_MAX_MODULES];
    unsigned nres = reserved_ranges(res);
    bitmap_phys = find_bitmap_place(bytes, res, nres);
    if (bitmap_phys == PMM_NONE)
        panic("memory: no room below 1 GiB for the %lu-byte frame bitmap", bytes);

    pmm_init(&pmm, phys_to_virt(bitmap_phys), nframes);
    for (unsigned i = 0; i < bootinfo.nregions; i++)
        if (bootinfo.regions[i].type == REGION_RAM)
            pmm_mark_free(&pmm, bootinfo.regions[i].base, bootinfo.regions[i].len);
    /* Overlapping or duplicate RAM entries must not count twice. */
    for (unsigned i = 0; i < bootinfo.nregions; i++)
        if (bootinfo.regions[i].type != REGION_RAM)
            pmm_mark_used(&pmm, bootinfo.regions[i].base, bootinfo.regions[i].len);
    for (unsigned i = 0; i < nres; i++)
        pmm_mark_used(&pmm, res[i].base, res[i].end - res[i].base);
    pmm_mark_used(&pmm, bitmap_phys, bytes);
}

void frame_use_direct_map(void)
{
    pmm.bitmap = phys_to_virt(bitmap_phys);
}

uint64_t frame_alloc(void)
{
    bool was = spin_lock_irqsave(&lock);
    uint64_t pa = pmm.free > reserved ? pmm_alloc(&pmm) : PMM_NONE;
    spin_unlock_irqrestore(&lock, was);
    return pa;
}

void frame_zero(uint64_t phys)
{
    memset(phys_to_virt(phys), 0, PAGE_SIZE);     /* rep stosq */
}

uint64_t frame_alloc_zeroed(void)
{
    uint64_t pa = frame_alloc();
    if (pa != PMM_NONE)
        frame_zero(pa);
    return pa;
}

uint64_t frame_alloc_contig(uint64_t count, uint64_t align_frames)
{
    bool was = spin_lock_irqsave(&lock);
    uint64_t pa = pmm.free >= reserved + count ? pmm_alloc_contig(&pmm, count, align_frames, 0)
                                               : PMM_NONE;
    spin_unlock_irqrestore(&lock, was);
    return pa;
}

bool frame_reserve(uint64_t count)
{
    bool was = spin_lock_irqsave(&lock);
    bool ok = pmm.free >= reserved && pmm.free - reserved >= count;
    if (ok)
        reserved += count;
    spin_unlock_irqrestore(&lock, was);
    return ok;
}

void frame_unreserve(uint64_t count)
{
    bool was = spin_lock_irqsave(&lock);
    if (count > reserved)
        panic("memory: %lu reserved frames given back, %lu were reserved", count, reserved);
    reserved -= count;
    spin_unlock_irqrestore(&lock, was);
}

uint64_t frame_alloc_reserved(void)
{
    bool was = spin_lock_irqsave(&lock);
    uint64_t pa = reserved ? pmm_alloc(&pmm) : PMM_NONE;
    if (pa != PMM_NONE)
        reserved--;
    spin_unlock_irqrestore(&lock, was);
    if (pa == PMM_NONE)
        panic("memory: a reserved frame was not there (%lu reserved)", reserved);
    frame_zero(pa);
    return pa;
}

void frame_free_contig(uint64_t phys, uint64_t count)
{
    bool was = spin_lock_irqsave(&lock);
    int r = pmm_free(&pmm, phys, count);
    spin_unlock_irqrestore(&lock, was);
    if (r)
        panic("memory: bad free of %lu frame(s) at %#lx (double free?)", count, phys);
}

void frame_free(uint64_t phys)
{
    frame_free_contig(phys, 1);
}

void frame_get_stats(struct frame_stats *st)
{
    bool was = spin_lock_irqsave(&lock);
    st->free_bytes = (pmm.free - reserved) << PAGE_SHIFT;     /* what can still be promised */
    st->reserved_bytes = reserved << PAGE_SHIFT;
    spin_unlock_irqrestore(&lock, was);
    st->ram_bytes = ram_bytes;
    st->max_phys = max_phys;
}
