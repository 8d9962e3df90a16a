/*
 * Self tests of the memory subsystem as the running kernel sees it: the
 * frame allocator over the real memory map, the page tables' rights (W^X,
 * NX, guard pages, empty lower half) checked both in the tables and by the
 * hardware (probe accesses that must fault), and the slab counters.
 */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/trap.h"
#include "base/cpio.h"
#include "base/string.h"
#include "core/bootinfo.h"
#include "core/frame.h"
#include "core/selftest.h"
#include "core/slab.h"

extern char __text_start[], __rodata_start[], __data_start[];

SELFTEST(frame_alloc_free)
{
    enum { N = 200 };
    static uint64_t pages[N];
    struct frame_stats before, during, after;
    frame_get_stats(&before);
    for (int i = 0; i < N; i++) {
        pages[i] = frame_alloc();
        ST_CHECK(pages[i] != PMM_NONE);
        ST_CHECK((pages[i] & (PAGE_SIZE - 1)) == 0);
        ST_CHECK(pages[i] >= (1UL << 20) && pages[i] < before.max_phys);
        for (int j = 0; j < i; j++)
            ST_CHECK(pages[j] != pages[i]);
        memset(phys_to_virt(pages[i]), i & 0xff, PAGE_SIZE);
    }
    frame_get_stats(&during);
    ST_CHECK(during.free_bytes == before.free_bytes - N * PAGE_SIZE);
    for (int i = 0; i < N; i++)
        ST_CHECK(*(uint8_t *)phys_to_virt(pages[i]) == (i & 0xff));
    for (int i = 0; i < N; i++)
        frame_free(pages[i]);
    frame_get_stats(&after);
    ST_CHECK(after.free_bytes == before.free_bytes);
    return true;
}

SELFTEST(frame_contig_aligned)
{
    struct frame_stats before, after;
    frame_get_stats(&before);
    uint64_t pa = frame_alloc_contig(16, 16);
    ST_CHECK(pa != PMM_NONE);
    ST_CHECK((pa & (16 * PAGE_SIZE - 1)) == 0);
    memset(phys_to_virt(pa), 0x5a, 16 * PAGE_SIZE);
    ST_CHECK(((uint8_t *)phys_to_virt(pa))[16 * PAGE_SIZE - 1] == 0x5a);
    frame_free_contig(pa, 16);
    frame_get_stats(&after);
    ST_CHECK(after.free_bytes == before.free_bytes);
    ST_CHECK(frame_alloc_contig(0, 1) == PMM_NONE);
    ST_CHECK(frame_alloc_contig(1, 3) == PMM_NONE);   /* alignment not a power of two */
    return true;
}

/* The allocator covers all RAM: the last page of the highest RAM region is
 * usable through the direct map, and nearly all RAM is free after boot. */
SELFTEST(frame_covers_all_ram)
{
    struct frame_stats st;
    frame_get_stats(&st);
    ST_CHECK(st.ram_bytes > 0 && st.free_bytes <= st.ram_bytes);
    ST_CHECK(st.ram_bytes - st.free_bytes < 16UL << 20);
    uint64_t last = (st.max_phys - PAGE_SIZE) & ~(PAGE_SIZE - 1);
    uint64_t pa, flags;
    volatile uint8_t *p = phys_to_virt(last);
    ST_CHECK(paging_query((uintptr_t)p, &pa, &flags));
    ST_CHECK(pa == last && (flags & PTE_W));
    uint8_t old = p[PAGE_SIZE - 1];
    p[PAGE_SIZE - 1] = 0xa5;
    ST_CHECK(p[PAGE_SIZE - 1] == 0xa5);
    p[PAGE_SIZE - 1] = old;
    return true;
}

SELFTEST(paging_kernel_wx)
{
    uint64_t pa, flags;
    ST_CHECK(paging_query((uintptr_t)__text_start, &pa, &flags));
    ST_CHECK(!(flags & PTE_W) && !(flags & PTE_NX) && !(flags & PTE_U));
    ST_CHECK(paging_query((uintptr_t)__rodata_start, &pa, &flags));
    ST_CHECK(!(flags & PTE_W) && (flags & PTE_NX) == pte_nx);
    ST_CHECK(paging_query((uintptr_t)__data_start, &pa, &flags));
    ST_CHECK((flags & PTE_W) && (flags & PTE_NX) == pte_nx);
    ST_CHECK(pte_nx == PTE_NX);   /* every CPU Kestrel targets has NX */
    return true;
}

/* The hardware enforces it: writes to text and rodata fault. */
SELFTEST(paging_wx_enforced)
{
    uint64_t fixups = trap_fixups;
    static volatile uint8_t data_byte;
    ST_CHECK(probe_write_u8((volatile void *)__text_start, 0x90) == -1);
    ST_CHECK(probe_write_u8((volatile void *)__rodata_start, 0) == -1);
    ST_CHECK(probe_write_u8(&data_byte, 7) == 0 && data_byte == 7);
    ST_CHECK(trap_fixups == fixups + 2);
    return true;
}

SELFTEST(paging_lower_half_empty)
{
    uint64_t pa, flags;
    uint8_t v;
    ST_CHECK(!paging_query(0, &pa, &flags));
    ST_CHECK(!paging_query(0x100000, &pa, &flags));
    ST_CHECK(probe_read_u8((const volatile void *)0, &v) == -1);
    ST_CHECK(probe_read_u8((const volatile void *)0x100000, &v) == -1);
    return true;
}

SELFTEST(kstack_guard_page)
{
    uintptr_t top = kstack_alloc(2);
    uint8_t v;
    ST_CHECK((top & 15) == 0);
    ST_CHECK(probe_write_u8((volatile void *)(top - 1), 1) == 0);
    ST_CHECK(probe_write_u8((volatile void *)(top - 2 * PAGE_SIZE), 1) == 0);
    ST_CHECK(probe_read_u8((const volatile void *)(top - 2 * PAGE_SIZE - 1), &v) == -1);
    return true;
}

SELFTEST(kmalloc_counters_balance)
{
    enum { N = 300 };
    static void *objs[N];
    uint64_t live = kmalloc_live_objects();
    for (int i = 0; i < N; i++) {
        size_t size = 1 + (size_t)(i * 37) % SLAB_MAX_OBJECT;
        objs[i] = kmalloc(size);
        ST_CHECK(objs[i] != NULL);
        memset(objs[i], i, size);
    }
    ST_CHECK(kmalloc_live_objects() == live + N);
    for (int i = 0; i < N; i++)
        ST_CHECK(*(uint8_t *)objs[i] == (uint8_t)i);
    for (int i = 0; i < N; i++)
        kfree(objs[i]);
    ST_CHECK(kmalloc_live_objects() == live);
    ST_CHECK(kmalloc(SLAB_MAX_OBJECT + 1) == NULL);
    return true;
}

SELFTEST(boot_image_readable)
{
    ST_CHECK(bootinfo.nmodules >= 1);
    const struct boot_module *m = &bootinfo.modules[0];
    struct cpio_entry e;
    const void *img = phys_to_virt(m->start);
    ST_CHECK(cpio_find(img, m->end - m->start, "manifest", &e) == CPIO_OK);
    ST_CHECK(e.size > 0 && memcmp(e.data, "# Kestrel boot manifest", 23) == 0);
    ST_CHECK(cpio_find(img, m->end - m->start, "no-such-file", &e) == CPIO_END);
    return true;
}

/* Not a test: the cost of one address-space switch (a CR3 write, which
 * also flushes the non-global TLB), printed for tools/bench as
 * "kbench cr3_switch_cycles N".  Opt-in; always passes. */
SELFTEST_OPTIN(bench_cr3)
{
    enum { N = 2000 };
    uint64_t cr3 = read_cr3();
    bool was = irq_save();
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N; i++)
        write_cr3(cr3);
    uint64_t t1 = rdtsc();
    irq_restore(was);
    kprintf("kbench cr3_switch_cycles %lu\n", (t1 - t0) / N);
    return true;
}
