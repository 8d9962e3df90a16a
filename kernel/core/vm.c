/*
 * vm: address spaces (see vm.h).
 *
 * Regions never overlap and are kept sorted; mapping fills every page at
 * once from the memory object, unmapping clears them, flushes TLBs on the
 * CPUs where the space may be live, and drops the region's reference on
 * its object.  The kernel picks addresses for vm_map(addr = 0) by first fit
 * above MAP_BASE.
 */
#include "core/vm.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/smp.h"
#include "base/string.h"
#include "core/frame.h"
#include "core/printk.h"
#include "core/process.h"
#include "core/sched.h"
#include "core/slab.h"
#include "kestrel/errors.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"

#define MAP_BASE 0x0000100000000000UL


spinlock_t vm_lock = SPINLOCK_CLASS(LOCK_VM);

/* Adds / removes R in its object's mapping list.  vm_lock held. */
static void maps_add(struct vm_region *r)
{
    r->vmo_next = r->vmo->maps;
    r->vmo->maps = r;
    if (r->vmo->cow)
        __atomic_add_fetch(&r->space->cow_regions, 1, __ATOMIC_RELAXED);
}

static void maps_remove(struct vm_region *r)
{
    struct vm_region **pp = &r->vmo->maps;
    while (*pp && *pp != r)
        pp = &(*pp)->vmo_next;
    if (*pp)
        *pp = r->vmo_next;
    if (r->vmo->cow)
        __atomic_sub_fetch(&r->space->cow_regions, 1, __ATOMIC_RELAXED);
}

int vm_space_init(struct vm_space *s)
{
    s->lock = (spinlock_t)SPINLOCK_CLASS(LOCK_SPACE);
    s->regions = NULL;
    s->cpus = 0;
    s->dead = false;
    s->pml4 = pt_create();
    return s->pml4 == PMM_NONE ? -E_NOMEM : 0;
}

static uint64_t pte_flags(uint32_t prot)
{
    uint64_t f = 0;
    if (prot & K_PROT_WRITE)
        f |= PTE_W;
    if (!(prot & K_PROT_EXEC))
        f |= pte_nx;
    return f;
}

void vm_region_refresh(struct vm_region *r)
{
    uint64_t flags = pte_flags(r->prot);
    if (r->vmo->uncached)
        flags |= PTE_PCD | PTE_PWT;
    uint64_t first = r->offset / PAGE_SIZE, end = first + r->size / PAGE_SIZE;
    if (r->vmo->kind == K_VMO_ANON) {        /* untouched pages: mapped when first touched */
        struct pt_cursor c = { .pml4 = r->space->pml4 };
        for (uint64_t i = vmo_next_touched(r->vmo, first, end); i < end;
             i = vmo_next_touched(r->vmo, i + 1, end)) {
            uint64_t f = vmo_page_cow(r->vmo, i) ? flags & ~PTE_W : flags;
            pt_map_run(&c, r->start + (i - first) * PAGE_SIZE, r->vmo->pages[i], f);
        }
        return;
    }
    for (uint64_t i = first; i < end; i++) {
        uint64_t pa = vmo_page_phys(r->vmo, i);
        if (pa)
            pt_map(r->space->pml4, r->start + (i - first) * PAGE_SIZE, pa, flags);
    }
}

static void flush_one(void *arg)
{
    (void)arg;
    write_cr3(read_cr3());
}

/* Flushes the TLB wherever the space may be cached.  Waits for the other
 * CPUs, so no lock but vm_lock may be held: a CPU spinning with
 * interrupts off on a lock we held would never answer. */
void flush_space(struct vm_space *s)
{
    lock_assert_may_wait();
    uint64_t mask = s->cpus;
    unsigned me = this_cpu()->id;
    if (mask & (1UL << me))
        write_cr3(read_cr3());
    for (unsigned c = 0; c < cpu_count; c++)
        if (c != me && (mask & (1UL << c)) && cpus[c].online && !smp_call(c, flush_one, NULL))
            panic("vm: cpu %u did not flush its TLB", c);
}

static void unmap_pages(struct vm_space *s, uintptr_t start, uint64_t size)
{
    for (uint64_t off = 0; off < size; off += PAGE_SIZE)
        pt_unmap(s->pml4, start + off);
}

/* Marks S dead first, under its lock: whoever walks its page tables
 * holds that lock and checks `dead`, so nothing walks freed tables. */
void vm_space_destroy(struct vm_space *s)
{
    spin_lock(&vm_lock);
    bool was = spin_lock_irqwait(&s->lock);
    s->dead = true;
    struct vm_region *r = s->regions;
    s->regions = NULL;
    spin_unlock_irqrestore(&s->lock, was);
    for (struct vm_region *x = r; x; x = x->next)
        maps_remove(x);
    spin_unlock(&vm_lock);
    while (r) {
        struct vm_region *next = r->next;
        object_put(&r->vmo->obj);
        kfree(r);
        r = next;
    }
    pt_destroy(s->pml4);
    s->pml4 = 0;
}

int vm_ioport_set(struct vm_space *s, uint32_t base, uint32_t count, bool allow)
{
    spin_lock(&vm_lock);
    spin_lock(&s->lock);
    uint8_t *bm[2];
    bool fresh = false;
    int err = s->dead ? -E_DEAD : pt_iobm(s->pml4, allow, bm, &fresh);
    if (!err) {
        for (uint32_t p = base; p < base + count; p++) {
            uint8_t *b = &bm[p >> 15][(p & 0x7fff) >> 3];
            uint8_t bit = (uint8_t)(1u << (p & 7));
            *b = allow ? (uint8_t)(*b & ~bit) : (uint8_t)(*b | bit);
        }
    }
    spin_unlock(&s->lock);
    /* A CPU running another of its threads may still hold the shared
     * bitmap's translation (deny all): not a leak, but flush it. */
    if (fresh)
        flush_space(s);
    spin_unlock(&vm_lock);
    return err == -E_NOENT ? 0 : err;          /* denying on a shared bitmap: done */
}

int vm_set_entry(struct vm_space *s, bool redirect)
{
    spin_lock(&vm_lock);
    spin_lock(&s->lock);
    bool fresh = false;
    int err = s->dead ? -E_DEAD : pt_set_entry(s->pml4, redirect, &fresh);
    spin_unlock(&s->lock);
    if (fresh)
        flush_space(s);
    spin_unlock(&vm_lock);
    return err;
}

/* First gap of SIZE bytes at or above MAP_BASE.  Lock held. */
static uintptr_t find_gap(struct vm_space *s, uint64_t size)
{
    uintptr_t at = MAP_BASE;
    for (struct vm_region *r = s->regions; r; r = r->next) {
        if (r->start + r->size <= at)
            continue;
        if (r->start >= at + size)
            break;
        at = r->start + r->size;
    }
    return user_range_ok(at, size) ? at : 0;
}

static bool overlaps(struct vm_space *s, uintptr_t addr, uint64_t size)
{
    for (struct vm_region *r = s->regions; r; r = r->next)
        if (addr < r->start + r->size && r->start < addr + size)
            return true;
    return false;
}

static void insert_sorted(struct vm_space *s, struct vm_region *n)
{
    struct vm_region **pp = &s->regions;
    while (*pp && (*pp)->start < n->start)
        pp = &(*pp)->next;
    n->next = *pp;
    *pp = n;
}

static int check_map_args(struct vmo *v, uint64_t offset, uint64_t size,
                          uint32_t prot, uintptr_t addr)
{
    if (size == 0 || (size & (PAGE_SIZE - 1)) || (offset & (PAGE_SIZE - 1)) ||
        (addr & (PAGE_SIZE - 1)))
        return -E_INVAL;
    if (prot & ~(K_PROT_READ | K_PROT_WRITE | K_PROT_EXEC))
        return -E_INVAL;
    if ((prot & K_PROT_WRITE) && (prot & K_PROT_EXEC))
        return -E_PERM;
    uint64_t vsize = v->npages * PAGE_SIZE;
    if (offset > vsize || size > vsize - offset)
        return -E_TOOBIG;
    if (addr && (!user_range_ok(addr, size) || addr < K_USER_BASE))
        return -E_INVAL;
    return 0;
}

long vm_map(struct vm_space *s, struct vmo *v, uint64_t offset, uint64_t size,
            uint32_t prot, uintptr_t addr, uint32_t max_prot)
{
    int err = check_map_args(v, offset, size, prot, addr);
    if (err)
        return err;
    if (prot & ~max_prot)
        return -E_RIGHTS;
    struct vm_region *r = kzalloc(sizeof(*r));
    if (!r)
        return -E_NOMEM;
    spin_lock(&vm_lock);
    spin_lock(&s->lock);
    if (s->dead) {
        spin_unlock(&s->lock);
        spin_unlock(&vm_lock);
        kfree(r);
        return -E_DEAD;
    }
    if (!addr)
        addr = find_gap(s, size);
    if (!addr || overlaps(s, addr, size)) {
        spin_unlock(&s->lock);
        spin_unlock(&vm_lock);
        kfree(r);
        return addr ? -E_BUSY : -E_NOMEM;
    }
    uint64_t flags = pte_flags(prot);
    if (v->uncached)
        flags |= PTE_PCD | PTE_PWT;          /* device registers */
    bool anon = v->kind == K_VMO_ANON;
    uint64_t first = offset / PAGE_SIZE, end = first + size / PAGE_SIZE;
    /* An untouched page is mapped at its first touch, into tables made
     * now (one per 2 MiB); an anonymous object's untouched runs are
     * skipped eight pages at a time. */
    int fail = 0;
    for (uint64_t off = 0; off < size && !fail;
         off = (((addr + off) | ((2UL << 20) - 1)) + 1) - addr)
        fail = pt_prepare(s->pml4, addr + off);
    struct pt_cursor c = { .pml4 = s->pml4 };
    for (uint64_t i = anon ? vmo_next_touched(v, first, end) : first; i < end && !fail;
         i = anon ? vmo_next_touched(v, i + 1, end) : i + 1) {
        uint64_t pa = anon ? v->pages[i] : vmo_page_phys(v, i);
        if (pa)
            fail = pt_map_run(&c, addr + (i - first) * PAGE_SIZE, pa,
                              vmo_page_cow(v, i) ? flags & ~PTE_W : flags);
    }
    if (fail) {
        unmap_pages(s, addr, size);
        spin_unlock(&s->lock);
        spin_unlock(&vm_lock);
        kfree(r);
        return -E_NOMEM;
    }
    object_get(&v->obj);
    *r = (struct vm_region){ NULL, addr, size, v, offset, prot, max_prot, s, NULL };
    insert_sorted(s, r);
    maps_add(r);
    spin_unlock(&s->lock);
    spin_unlock(&vm_lock);
    return (long)addr;
}

/* Unlinks and returns the region exactly at [addr, addr+size).  Lock held. */
static struct vm_region *take_region(struct vm_space *s, uintptr_t addr, uint64_t size)
{
    for (struct vm_region **pp = &s->regions; *pp; pp = &(*pp)->next) {
        struct vm_region *r = *pp;
        if (r->start == addr && r->size == size) {
            *pp = r->next;
            return r;
        }
    }
    return NULL;
}

int vm_unmap(struct vm_space *s, uintptr_t addr, uint64_t size)
{
    spin_lock(&vm_lock);
    spin_lock(&s->lock);
    bool dead = s->dead;
    struct vm_region *r = dead ? NULL : take_region(s, addr, size);
    if (r) {
        maps_remove(r);
        unmap_pages(s, addr, size);
    }
    spin_unlock(&s->lock);
    /* The frames stay the object's until the flush is done (the region
     * still holds its reference): no CPU can reach freed memory. */
    if (r)
        flush_space(s);
    spin_unlock(&vm_lock);
    if (!r)
        return dead ? -E_DEAD : -E_INVAL;
    object_put(&r->vmo->obj);
    kfree(r);
    return 0;
}

int vm_protect(struct vm_space *s, uintptr_t addr, uint64_t size, uint32_t prot)
{
    if (prot & ~(K_PROT_READ | K_PROT_WRITE | K_PROT_EXEC))
        return -E_INVAL;
    if ((prot & K_PROT_WRITE) && (prot & K_PROT_EXEC))
        return -E_PERM;
    spin_lock(&vm_lock);
    spin_lock(&s->lock);
    struct vm_region *r = NULL;
    for (struct vm_region *x = s->regions; x; x = x->next)
        if (x->start == addr && x->size == size)
            r = x;
    int err = s->dead ? -E_DEAD : !r ? -E_INVAL : (prot & ~r->max_prot) ? -E_RIGHTS : 0;
    if (!err) {
        r->prot = prot;
        vm_region_refresh(r);
    }
    spin_unlock(&s->lock);
    if (!err)
        flush_space(s);
    spin_unlock(&vm_lock);
    return err;
}

/* Copies LEN bytes between kernel BUF and user ADDR of S, page by page
 * through the direct map, holding S's lock for one page at a time.  OUT:
 * kernel -> user.  An untouched page is given its frame first. */
static int copy_space(struct vm_space *s, uintptr_t addr, void *buf, size_t len, bool out)
{
    if (!user_range_ok(addr, len))
        return -E_FAULT;
    while (len) {
        size_t chunk = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
        if (chunk > len)
            chunk = len;
        for (int tries = 0;; tries++) {
            bool was = spin_lock_irqwait(&s->lock);
            if (s->dead) {
                spin_unlock_irqrestore(&s->lock, was);
                return -E_DEAD;
            }
            uint64_t pa, flags;
            bool ok = pt_translate(s->pml4, addr, &pa, &flags) && (!out || (flags & PTE_W));
            if (ok && (flags & PTE_PCD)) {
                spin_unlock_irqrestore(&s->lock, was);
                return -E_FAULT;            /* device registers: not RAM, not copied */
            }
            if (ok && out)
                memcpy(phys_to_virt(pa), buf, chunk);
            else if (ok)
                memcpy(buf, phys_to_virt(pa), chunk);
            spin_unlock_irqrestore(&s->lock, was);
            if (ok)
                break;
            /* untouched, then (for a write) shared copy-on-write */
            if (tries == 0)
                vm_fault_untouched(s, addr, out, false);
            else if (tries > 1 || !out || !vm_cow_break(s, addr))
                return -E_FAULT;
        }
        addr += chunk;
        buf = (char *)buf + chunk;
        len -= chunk;
    }
    return 0;
}

int vm_poke(struct vm_space *s, uintptr_t dst, const void *src, size_t len)
{
    if (!user_range_ok(dst, len))
        return -E_FAULT;
    int err = 0;
    spin_lock(&vm_lock);
    bool was = spin_lock_irqwait(&s->lock);
    for (size_t done = 0; done < len && !err;) {
        uintptr_t a = dst + done;
        size_t chunk = PAGE_SIZE - (a & (PAGE_SIZE - 1));
        if (chunk > len - done)
            chunk = len - done;
        struct vm_region *r = s->regions;
        while (r && !(a >= r->start && a - r->start < r->size))
            r = r->next;
        uint64_t pa, flags;
        if (s->dead)
            err = -E_DEAD;
        else if (!r || !pt_translate(s->pml4, a, &pa, &flags) || (flags & PTE_PCD))
            err = -E_FAULT;
        else if (r->vmo->kind != K_VMO_ANON || r->vmo->obj.refs != 1 || r->vmo->maps != r ||
                 r->vmo_next || r->vmo->fork_shared ||
                 vmo_page_cow(r->vmo, (r->offset + (a - r->start)) / PAGE_SIZE))
            err = -E_BUSY;
        else
            memcpy(phys_to_virt(pa), (const char *)src + done, chunk);
        done += chunk;
    }
    spin_unlock_irqrestore(&s->lock, was);
    spin_unlock(&vm_lock);
    return err;
}

int vm_copy_in(struct vm_space *s, void *dst, uintptr_t src, size_t len)
{
    return copy_space(s, src, dst, len, false);
}

int vm_copy_out(struct vm_space *s, uintptr_t dst, const void *src, size_t len)
{
    return copy_space(s, dst, (void *)src, len, true);
}

/* One chunk (within one page of S) of vm_xfer, with S's lock held and
 * interrupts off for that page only: a fault on the current side is not
 * resolved here (that needs vm_lock), it returns -1 and the caller
 * breaks copy-on-write and retries. */
static int xfer_chunk(struct vm_space *s, uintptr_t other, uintptr_t cur, size_t chunk,
                      bool to_other)
{
    bool was = spin_lock_irqwait(&s->lock);
    uint64_t pa, flags;
    int r = -2;
    /* Device registers (uncached) are not RAM: the direct map does not
     * have them, and the kernel never copies them (-2: S's side is bad). */
    if (!s->dead && pt_translate(s->pml4, other, &pa, &flags) && !(flags & PTE_PCD) &&
        (!to_other || (flags & PTE_W))) {
        void *k = phys_to_virt(pa);
        r = (to_other ? arch_user_copy(k, (const void *)cur, chunk)
                      : arch_user_copy((void *)cur, k, chunk)) ? -1 : 0;
    }
    spin_unlock_irqrestore(&s->lock, was);
    return r;
}

int vm_xfer(struct vm_space *s, uintptr_t other, uintptr_t cur, size_t n, bool to_other)
{
    if (!user_range_ok(other, n))
        return -2;
    if (!user_range_ok(cur, n))
        return -1;
    lock_assert_copy_ok();
    struct thread *t = current_thread();
    while (n) {
        size_t chunk = PAGE_SIZE - (other & (PAGE_SIZE - 1));
        if (chunk > n)
            chunk = n;
        int r = xfer_chunk(s, other, cur, chunk, to_other);
        if (r == -2) {          /* S's page may be untouched, or shared copy-on-write */
            vm_fault_untouched(s, other, to_other, false);
            r = xfer_chunk(s, other, cur, chunk, to_other);
            if (r == -2 && to_other && vm_cow_break(s, other))
                r = xfer_chunk(s, other, cur, chunk, to_other);
        }
        if (r == -1 && t->proc) {
            /* Our own page may be untouched, or (to be written) shared
             * copy-on-write: make it ready, once. */
            if (to_other)
                vm_prepare_read(&t->proc->vm, cur, chunk);
            else
                vm_prepare_write(&t->proc->vm, cur, chunk);
            r = xfer_chunk(s, other, cur, chunk, to_other);
        }
        if (r)
            return r;
        other += chunk;
        cur += chunk;
        n -= chunk;
        /* A long copy is preemptible between pages. */
        if (n && this_cpu()->need_resched)
            schedule();
        if (n && thread_killed(t))
            return -3;
    }
    return 0;
}
