/*
 * cow: copy-on-write clones of anonymous memory objects (vmo_clone) and
 * the write faults that end the sharing.
 *
 * A clone starts with the same frames as its original; every shared page
 * is marked in both objects' `cow` bitmaps and mapped without write access
 * wherever either object is mapped.  How many objects share a frame is
 * kept in a small hash table (frames shared by no one are not in it).  A
 * write fault on such a page (vm_cow_break) gives the faulting object a
 * private copy, or, when it is the last sharer, simply keeps the frame;
 * then it remaps that page, writable, everywhere the object is mapped.
 *
 * Locking: vm_lock (core/vm.c) for everything here, then a space's lock
 * to edit its page tables.  Faults are resolved with interrupts on, from
 * the user fault path or from a kernel copy that faulted with interrupts
 * on; message copies break COW ahead (vm_prepare_write) and again when a
 * page of theirs faults (vm_xfer).  TLB flushes are waited for with only
 * vm_lock held (docs/decisions/0012).
 */
#include "core/vm.h"

#include "arch/x86_64/paging.h"
#include "base/string.h"
#include "core/frame.h"
#include "core/kmem.h"
#include "core/slab.h"
#include "kestrel/errors.h"
#include "kestrel/vm.h"

struct share {
    struct share *next;
    uint64_t frame;
    uint64_t extra;           /* objects sharing it beyond the first */
};

#define SHARE_BUCKETS 256
static struct share *buckets[SHARE_BUCKETS];

static struct share **bucket(uint64_t frame)
{
    return &buckets[(frame >> PAGE_SHIFT) % SHARE_BUCKETS];
}

static struct share *share_find(uint64_t frame)
{
    for (struct share *e = *bucket(frame); e; e = e->next)
        if (e->frame == frame)
            return e;
    return NULL;
}

/* One more object shares FRAME; SPARE supplies the entry if needed. */
static void share_add(uint64_t frame, struct share **spare)
{
    struct share *e = share_find(frame);
    if (!e) {
        e = *spare;
        *spare = e->next;
        e->frame = frame;
        e->extra = 0;
        e->next = *bucket(frame);
        *bucket(frame) = e;
    }
    e->extra++;
}

/* One object stops using FRAME.  Returns true when it was the last user
 * (the caller frees or keeps the frame). */
static bool share_drop(uint64_t frame)
{
    struct share *e = share_find(frame);
    if (!e)
        return true;
    if (--e->extra == 0) {
        struct share **pp = bucket(frame);
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
        kfree(e);
    }
    return false;
}

static size_t bitmap_bytes(uint64_t npages)
{
    return (size_t)((npages + 7) / 8);
}

/* Makes every mapping of V match its COW state.  vm_lock held. */
static void refresh_mappings(struct vmo *v)
{
    for (struct vm_region *r = v->maps; r; r = r->vmo_next) {
        spin_lock(&r->space->lock);
        if (!r->space->dead)
            vm_region_refresh(r);
        spin_unlock(&r->space->lock);
        flush_space(r->space);       /* waits for other CPUs: vm_lock only */
    }
}

/* Remaps page I of V (after its COW state changed) wherever V is mapped.
 * vm_lock held. */
static void refresh_page(struct vmo *v, uint64_t i)
{
    uint64_t off = i * PAGE_SIZE;
    for (struct vm_region *r = v->maps; r; r = r->vmo_next) {
        if (off < r->offset || off - r->offset >= r->size)
            continue;
        uintptr_t va = r->start + (off - r->offset);
        uint64_t flags = (r->prot & K_PROT_WRITE ? PTE_W : 0) | (r->prot & K_PROT_EXEC ? 0 : pte_nx);
        spin_lock(&r->space->lock);
        if (!r->space->dead)
            pt_map(r->space->pml4, va, v->pages[i], flags);
        spin_unlock(&r->space->lock);
        flush_space(r->space);
    }
}

static void free_spares(struct share *s)
{
    while (s) {
        struct share *n = s->next;
        kfree(s);
        s = n;
    }
}

struct vmo *vmo_clone(struct vmo *v, int *err)
{
    if (v->kind != K_VMO_ANON) {
        *err = -E_INVAL;
        return NULL;
    }
    struct vmo *c = kzalloc(sizeof(*c));
    uint64_t *pages = kmem_alloc(v->npages * sizeof(uint64_t));
    uint8_t *cbits = kmem_zalloc(bitmap_bytes(v->npages));
    uint8_t *vbits = v->cow ? NULL : kmem_zalloc(bitmap_bytes(v->npages));
    struct share *spare = NULL;
    uint64_t nspare = 0;
    bool ok = c && pages && cbits && (v->cow || vbits);
    /* A share entry for each touched page (untouched ones stay untouched
     * in both, each with its own reservation); pages are only ever
     * touched, never untouched, so look again under the lock. */
    uint64_t need = 0;
    for (;;) {
        spin_lock(&vm_lock);
        need = v->touched;
        if (!ok || need <= nspare)
            break;
        spin_unlock(&vm_lock);
        for (; ok && nspare < need; nspare++) {
            struct share *e = kmalloc(sizeof(*e));
            ok = e != NULL;
            if (e) {
                e->next = spare;
                spare = e;
            }
        }
    }
    /* vm_lock held */
    uint64_t untouched = ok ? v->npages - need : 0;
    if (ok && !frame_reserve(untouched))
        ok = false;
    if (!ok) {
        spin_unlock(&vm_lock);
        kfree(c);
        kmem_free(pages, v->npages * sizeof(uint64_t));
        kmem_free(cbits, bitmap_bytes(v->npages));
        kmem_free(vbits, bitmap_bytes(v->npages));
        free_spares(spare);
        *err = -E_NOMEM;
        return NULL;
    }
    object_init(&c->obj, K_OBJ_VMO);
    c->kind = K_VMO_ANON;
    c->npages = v->npages;
    c->pages = pages;
    c->touched = need;
    c->touch_lo = v->touch_lo;
    c->touch_hi = v->touch_hi;
    c->cow = cbits;
    if (!v->cow) {
        v->cow = vbits;
        vbits = NULL;
        for (struct vm_region *r = v->maps; r; r = r->vmo_next)
            __atomic_add_fetch(&r->space->cow_regions, 1, __ATOMIC_RELAXED);
    }
    memcpy(c->pages, v->pages, v->npages * sizeof(uint64_t));
    for (uint64_t i = vmo_next_touched(v, 0, v->npages); i < v->npages;
         i = vmo_next_touched(v, i + 1, v->npages)) {
        share_add(v->pages[i], &spare);
        v->cow[i / 8] |= (uint8_t)(1u << (i % 8));
        c->cow[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    refresh_mappings(v);
    spin_unlock(&vm_lock);
    kmem_free(vbits, bitmap_bytes(v->npages));
    free_spares(spare);
    *err = 0;
    return c;
}

/* Frees or unshares an anonymous object's frames (vmo_destroy), and gives
 * back the reservations of its untouched pages. */
void vmo_release_pages(struct vmo *v)
{
    spin_lock(&vm_lock);
    uint64_t untouched = v->npages - v->touched;
    for (uint64_t i = vmo_next_touched(v, 0, v->npages), left = v->touched;
         i < v->npages && left; i = vmo_next_touched(v, i + 1, v->npages)) {
        left--;
        bool last = !vmo_page_cow(v, i) || share_drop(v->pages[i]);
        if (last)
            frame_free(v->pages[i]);
    }
    spin_unlock(&vm_lock);
    frame_unreserve(untouched);
    kmem_free(v->cow, bitmap_bytes(v->npages));
    v->cow = NULL;
}

/* The region of S containing ADDR.  S's lock held. */
static struct vm_region *region_at(struct vm_space *s, uintptr_t addr)
{
    for (struct vm_region *r = s->regions; r; r = r->next)
        if (addr >= r->start && addr - r->start < r->size)
            return r;
    return NULL;
}

bool vm_cow_break(struct vm_space *s, uintptr_t addr)
{
    uint64_t fresh = frame_alloc();       /* may not be needed; freed if not */
    spin_lock(&vm_lock);
    spin_lock(&s->lock);
    struct vm_region *r = region_at(s, addr);
    struct vmo *v = r ? r->vmo : NULL;
    uint64_t i = r ? (r->offset + (addr - r->start)) / PAGE_SIZE : 0;
    bool cow = r && (r->prot & K_PROT_WRITE) && vmo_page_cow(v, i);
    spin_unlock(&s->lock);
    bool done = false;
    if (cow) {
        uint64_t old = v->pages[i];
        if (!share_drop(old)) {           /* others still use it: copy */
            if (fresh != PMM_NONE) {
                memcpy(phys_to_virt(fresh), phys_to_virt(old), PAGE_SIZE);
                v->pages[i] = fresh;
                fresh = PMM_NONE;
                done = true;
            } else {
                struct share *spare = kmalloc(sizeof(*spare));
                if (spare) {              /* out of memory: undo, let it fault */
                    spare->next = NULL;
                    share_add(old, &spare);
                    kfree(spare);
                }
            }
        } else {
            done = true;                  /* we were the last: keep the frame */
        }
        if (done) {
            v->cow[i / 8] &= (uint8_t)~(1u << (i % 8));
            refresh_page(v, i);
        }
    }
    spin_unlock(&vm_lock);
    if (fresh != PMM_NONE)
        frame_free(fresh);
    return done;
}

/* Maps page I of V, just given its frame, wherever V is mapped.  No TLB
 * flush: a page that was not present is cached nowhere.  vm_lock held. */
static void map_touched(struct vmo *v, uint64_t i)
{
    uint64_t off = i * PAGE_SIZE;
    for (struct vm_region *r = v->maps; r; r = r->vmo_next) {
        if (off < r->offset || off - r->offset >= r->size)
            continue;
        uint64_t flags = (r->prot & K_PROT_WRITE ? PTE_W : 0) | (r->prot & K_PROT_EXEC ? 0 : pte_nx);
        spin_lock(&r->space->lock);
        if (!r->space->dead)
            pt_map(r->space->pml4, r->start + (off - r->offset), v->pages[i], flags);
        spin_unlock(&r->space->lock);
    }
}

bool vm_fault_untouched(struct vm_space *s, uintptr_t addr, bool write, bool exec)
{
    spin_lock(&vm_lock);
    spin_lock(&s->lock);
    struct vm_region *r = s->dead ? NULL : region_at(s, addr);
    struct vmo *v = r ? r->vmo : NULL;
    uint64_t i = r ? (r->offset + (addr - r->start)) / PAGE_SIZE : 0;
    bool allowed = r && v->kind == K_VMO_ANON && (r->prot & (K_PROT_READ | K_PROT_WRITE)) &&
                   (!write || (r->prot & K_PROT_WRITE)) && (!exec || (r->prot & K_PROT_EXEC));
    spin_unlock(&s->lock);
    bool done = false;
    if (allowed) {
        if (!v->pages[i]) {
            vmo_page_touch_locked(v, i);
            map_touched(v, i);
        }
        /* Retry if it is mapped here now (touched by another thread
         * meanwhile, too); never a fault loop. */
        uint64_t pa, flags;
        spin_lock(&s->lock);
        done = !s->dead && pt_translate(s->pml4, addr, &pa, &flags);
        spin_unlock(&s->lock);
    }
    spin_unlock(&vm_lock);
    return done;
}

/* Untouched pages of [addr, addr+len) get their frames; WRITE: pages
 * shared copy-on-write are broken too. */
static void prepare(struct vm_space *s, uintptr_t addr, size_t len, bool write)
{
    if (!len || !user_range_ok(addr, len))
        return;
    for (uintptr_t a = addr & ~(PAGE_SIZE - 1); a < addr + len; a += PAGE_SIZE) {
        uint64_t pa, flags;
        spin_lock(&s->lock);
        bool present = !s->dead && pt_translate(s->pml4, a, &pa, &flags);
        bool ro = present && !(flags & PTE_W);
        spin_unlock(&s->lock);
        if (!present)
            vm_fault_untouched(s, a, write, false);
        else if (ro && write)
            vm_cow_break(s, a);
    }
}

void vm_prepare_write(struct vm_space *s, uintptr_t addr, size_t len)
{
    prepare(s, addr, len, true);
}

void vm_prepare_read(struct vm_space *s, uintptr_t addr, size_t len)
{
    prepare(s, addr, len, false);
}
