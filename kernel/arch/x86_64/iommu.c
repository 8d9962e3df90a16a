/*
 * iommu: VT-d DMA remapping (see iommu.h).  Facts from the VT-d
 * specification (registers, root and context entries, second-level
 * tables); checked on QEMU 7.2's intel-iommu.
 *
 * Tables: one root table a unit (256 buses), a context table for each
 * bus that has a translated function, and for each function with a
 * domain a second-level page table of 3 or 4 levels (what the unit's
 * SAGAW offers, 39 or 48 bits).  Context entries say "untranslated
 * requests only, through this table"; a function without one is blocked
 * (fault reason 0x2 or 0x3), which is what "a device without a driver
 * reaches nothing" means here.  Device addresses of a domain are handed
 * out upwards from 1 MiB, with an unmapped page after each mapping (a
 * device that runs past its buffer faults), and start again when the
 * domain is reset.
 *
 * Interrupt remapping, where the unit has it (ECAP.IR, with queued
 * invalidation, ECAP.QI, which its interrupt entry cache needs): one
 * table of IRT_ENTRIES entries, each delivering one vector to one CPU and
 * only for the requester it names (SVT = 1: the PCI function of an MSI,
 * the IOAPIC of its inputs).  Compatibility-format interrupts stay blocked
 * (GCMD.CFI is never set), so a device can raise only its own vectors,
 * whatever its driver makes it write where.  QEMU 7.2's unit models less:
 * it lets compatibility-format messages through regardless, and a
 * device's DMA into the interrupt window carries no requester id, so
 * only an MSI-X message is checked against its entry's (decision 0022).
 * Once queued invalidation is on, every invalidation goes through the
 * queue.
 *
 * Locking: iommu_lock (a leaf) over the tables and domains; frames are
 * allocated under it (the frame allocator's lock is a leaf below it).
 */
#include "arch/x86_64/iommu.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/paging.h"
#include "core/frame.h"
#include "core/printk.h"
#include "core/spinlock.h"
#include "kestrel/errors.h"

enum {                               /* registers */
    REG_CAP = 0x08, REG_ECAP = 0x10, REG_GCMD = 0x18, REG_GSTS = 0x1c,
    REG_RTADDR = 0x20, REG_CCMD = 0x28, REG_FSTS = 0x34, REG_IQT = 0x88, REG_IQA = 0x90,
    REG_IRTA = 0xb8,
};

#define GCMD_TE (1u << 31)
#define GCMD_SRTP (1u << 30)
#define GCMD_QIE (1u << 26)
#define GCMD_IRE (1u << 25)
#define GCMD_SIRTP (1u << 24)
#define ECAP_QI (1ULL << 1)
#define ECAP_IR (1ULL << 3)
#define IQ_ENTRIES 256                  /* one page of 16-byte descriptors (IQA.QS = 0) */
#define IRT_ENTRIES 256                 /* one page of 16-byte entries (IRTA.S = 7) */
#define FSTS_IQE (1u << 4)
#define GCMD_PERSISTENT 0x96ffffffu  /* GSTS bits that are not one-shot commands */
#define CAP_CM (1ULL << 7)
#define PTE_RW 3ULL
#define IOVA_BASE (1ULL << 20)
#define MAX_DOMAINS 64
#define FAULTS_PRINTED 16

struct unit {
    volatile uint8_t *regs;
    const struct acpi_drhd *d;
    uint64_t cap;
    unsigned levels, aw, iotlb, fro, nfr;
    bool coherent;
    uint64_t *root;
    uint64_t *ctx[256];
    unsigned faults;
    uint64_t *iq;                    /* the invalidation queue, when on */
    unsigned iq_tail;
    volatile uint32_t *iq_done;      /* an invalidation wait's status */
    uint64_t *irt;                   /* the interrupt remapping table, when on */
};

struct domain {
    bool used;
    uint32_t fn;
    struct unit *u;
    uint64_t *pt;                    /* its top table */
    uint64_t next;                   /* the next device address handed out */
};

static struct unit units[ACPI_MAX_DRHD];
static unsigned nunits;
static struct domain domains[MAX_DOMAINS];
static spinlock_t iommu_lock = SPINLOCK_INIT;
unsigned iommu_units_on;

static uint32_t r32(struct unit *u, unsigned off) { return *(volatile uint32_t *)(u->regs + off); }
static uint64_t r64(struct unit *u, unsigned off) { return *(volatile uint64_t *)(u->regs + off); }
static void w32(struct unit *u, unsigned off, uint32_t v) { *(volatile uint32_t *)(u->regs + off) = v; }
static void w64(struct unit *u, unsigned off, uint64_t v) { *(volatile uint64_t *)(u->regs + off) = v; }

/* Table writes reach memory before the unit reads them (ECAP.C = 0). */
static void flush(struct unit *u, const void *p, uint64_t len)
{
    if (u->coherent)
        return;
    for (uintptr_t a = (uintptr_t)p & ~63UL; a < (uintptr_t)p + len; a += 64)
        __asm__ volatile("clflush (%0)" :: "r"(a) : "memory");
    __asm__ volatile("mfence" ::: "memory");
}

static bool wait_bits(struct unit *u, unsigned off, uint64_t mask, bool set)
{
    for (int i = 0; i < 1000000; i++) {
        uint64_t v = off == REG_GSTS ? r32(u, off) : r64(u, off);
        if (((v & mask) != 0) == set)
            return true;
        __asm__ volatile("pause");
    }
    return false;
}

static bool command(struct unit *u, uint32_t bit)
{
    w32(u, REG_GCMD, (r32(u, REG_GSTS) & GCMD_PERSISTENT) | bit);
    return wait_bits(u, REG_GSTS, bit, true);
}

static uint64_t virt_to_phys(const void *p) { return (uint64_t)(uintptr_t)p - phys_offset; }

/* Queued invalidation: descriptor (LO, HI) at the tail. */
static void qi_post(struct unit *u, uint64_t lo, uint64_t hi)
{
    u->iq[2 * u->iq_tail] = lo;
    u->iq[2 * u->iq_tail + 1] = hi;
    flush(u, &u->iq[2 * u->iq_tail], 16);
    u->iq_tail = (u->iq_tail + 1) % IQ_ENTRIES;
}

/* Posts an invalidation wait after what was posted, hands the queue to
 * the unit and waits until it has done all of it; false if it did not
 * (a queue error, or no answer). */
static bool qi_sync(struct unit *u)
{
    *u->iq_done = 0;
    flush(u, (const void *)u->iq_done, 4);
    qi_post(u, 0x5 | 1ULL << 5 | 1ULL << 6 | 1ULL << 32, virt_to_phys((const void *)u->iq_done));
    w64(u, REG_IQT, (uint64_t)u->iq_tail << 4);
    for (int i = 0; i < 1000000; i++) {
        if (*u->iq_done == 1)
            return true;
        if (r32(u, REG_FSTS) & FSTS_IQE)
            break;
        __asm__ volatile("pause");
    }
    kprintf("iommu: unit at %#lx: an invalidation did not complete (fault status %#x)\n",
            u->d->base, r32(u, REG_FSTS));
    return false;
}

/* Context cache and IOTLB, globally: after any table change. */
static void invalidate(struct unit *u)
{
    if (u->iq) {
        qi_post(u, 0x1 | 1ULL << 4, 0);          /* context cache, global */
        qi_post(u, 0x2 | 1ULL << 4, 0);          /* IOTLB, global */
        qi_sync(u);
        return;
    }
    w64(u, REG_CCMD, 1ULL << 63 | 1ULL << 61);
    wait_bits(u, REG_CCMD, 1ULL << 63, false);
    w64(u, u->iotlb + 8, 1ULL << 63 | 1ULL << 60);
    wait_bits(u, u->iotlb + 8, 1ULL << 63, false);
}

static struct unit *unit_of(uint32_t fn)
{
    unsigned bus = fn >> 8, dev = (fn >> 3) & 31, f = fn & 7;
    for (unsigned i = 0; i < nunits; i++) {
        const struct acpi_drhd *d = units[i].d;
        for (unsigned s = 0; s < d->nscopes; s++) {
            const struct acpi_scope *sc = &d->scopes[s];
            if (sc->type == ACPI_SCOPE_ENDPOINT && sc->depth == 1 && sc->bus == bus &&
                sc->dev == dev && sc->fn == f)
                return &units[i];
        }
    }
    for (unsigned i = 0; i < nunits; i++)
        if (units[i].d->flags & ACPI_DRHD_INCLUDE_PCI_ALL)
            return &units[i];
    return NULL;
}

bool iommu_translates(uint32_t fn)
{
    return unit_of(fn) != NULL;
}

static uint64_t *table_new(void)
{
    uint64_t pa = frame_alloc_zeroed();
    return pa == PMM_NONE ? NULL : phys_to_virt(pa);
}

/* Queued invalidation on, then interrupt remapping (an empty table: no
 * entry present, so no remapped interrupt gets through until one is
 * made), compatibility format left blocked. */
static void remapping_start(struct unit *u)
{
    uint64_t *q = table_new(), *irt = table_new(), *done = table_new();
    if (!q || !irt || !done) {
        kprintf("iommu: unit at %#lx: no memory for interrupt remapping\n", u->d->base);
        return;
    }
    flush(u, q, 4096);
    flush(u, irt, 4096);
    w64(u, REG_IQT, 0);
    w64(u, REG_IQA, virt_to_phys(q));             /* QS = 0: one page */
    if (!command(u, GCMD_QIE)) {
        kprintf("iommu: unit at %#lx did not take its invalidation queue\n", u->d->base);
        return;
    }
    u->iq = q;
    u->iq_done = (volatile uint32_t *)done;
    invalidate(u);
    w64(u, REG_IRTA, virt_to_phys(irt) | 7);      /* 2^(7+1) entries, xAPIC destinations */
    if (!command(u, GCMD_SIRTP)) {
        kprintf("iommu: unit at %#lx did not take its interrupt remapping table\n", u->d->base);
        return;
    }
    qi_post(u, 0x4, 0);                           /* interrupt entry cache, global */
    if (!qi_sync(u) || !command(u, GCMD_IRE)) {
        kprintf("iommu: unit at %#lx did not turn interrupt remapping on\n", u->d->base);
        return;
    }
    u->irt = irt;
    kprintf("iommu: unit at %#lx: interrupt remapping on, %u entries, compatibility format "
            "left off (CFI clear)\n", u->d->base, IRT_ENTRIES);
}

static void unit_start(struct unit *u, const struct acpi_drhd *d)
{
    u->d = d;
    u->regs = paging_map_phys(d->base, 4096, MAP_UNCACHED);
    u->cap = r64(u, REG_CAP);
    uint64_t ecap = r64(u, REG_ECAP);
    u->coherent = ecap & 1;
    u->iotlb = (unsigned)((ecap >> 8) & 0x3ff) * 16;
    u->fro = (unsigned)((u->cap >> 24) & 0x3ff) * 16;
    u->nfr = (unsigned)((u->cap >> 40) & 0xff) + 1;
    unsigned sagaw = (unsigned)(u->cap >> 8) & 0x1f;
    u->levels = sagaw & 2 ? 3 : sagaw & 4 ? 4 : 0;
    u->aw = u->levels == 3 ? 1 : 2;
    u->root = u->levels ? table_new() : NULL;
    if (!u->root) {
        kprintf("iommu: unit at %#lx: %s; DMA through it is unconfined\n", d->base,
                u->levels ? "no memory for its root table" : "no 3- or 4-level tables");
        return;
    }
    flush(u, u->root, 4096);
    w64(u, REG_RTADDR, virt_to_phys(u->root));
    if (!command(u, GCMD_SRTP)) {
        kprintf("iommu: unit at %#lx did not take its root table; left off\n", d->base);
        return;
    }
    invalidate(u);
    if (!command(u, GCMD_TE)) {
        kprintf("iommu: unit at %#lx did not turn translation on\n", d->base);
        return;
    }
    iommu_units_on++;
    kprintf("iommu: unit at %#lx: DMA remapping on, %u-level tables, %u fault records%s\n",
            d->base, u->levels, u->nfr, u->coherent ? "" : ", tables flushed (not coherent)");
    if ((ecap & (ECAP_QI | ECAP_IR)) == (ECAP_QI | ECAP_IR))
        remapping_start(u);
    else
        kprintf("iommu: unit at %#lx: no interrupt remapping; a device may raise any vector\n",
                d->base);
}

void iommu_init(void)
{
    for (unsigned i = 0; i < acpi_dmar.ndrhd; i++) {
        if (acpi_dmar.drhd[i].segment != 0 || (acpi_dmar.drhd[i].base & 4095)) {
            kprintf("iommu: unit at %#lx not used (segment %u)\n", acpi_dmar.drhd[i].base,
                    acpi_dmar.drhd[i].segment);
            continue;
        }
        struct unit *u = &units[nunits];
        unit_start(u, &acpi_dmar.drhd[i]);
        if (u->root && (r32(u, REG_GSTS) & GCMD_TE))
            nunits++;
    }
}

/* FN's domain, made (with its context entry) when CREATE; NULL if none. */
static struct domain *domain_of(uint32_t fn, bool create)
{
    struct domain *free = NULL;
    for (unsigned i = 0; i < MAX_DOMAINS; i++) {
        if (domains[i].used && domains[i].fn == fn)
            return &domains[i];
        if (!domains[i].used && !free)
            free = &domains[i];
    }
    struct unit *u = create && free ? unit_of(fn) : NULL;
    if (!u)
        return NULL;
    unsigned bus = fn >> 8, devfn = fn & 0xff;
    if (!u->ctx[bus]) {
        u->ctx[bus] = table_new();
        if (!u->ctx[bus])
            return NULL;
        flush(u, u->ctx[bus], 4096);
        u->root[2 * bus] = virt_to_phys(u->ctx[bus]) | 1;
        flush(u, &u->root[2 * bus], 16);
    }
    uint64_t *pt = table_new();
    if (!pt)
        return NULL;
    flush(u, pt, 4096);
    *free = (struct domain){ .used = true, .fn = fn, .u = u, .pt = pt, .next = IOVA_BASE };
    uint64_t *ce = &u->ctx[bus][2 * devfn];
    ce[1] = u->aw | (uint64_t)(free - domains + 1) << 8;    /* domain id */
    ce[0] = virt_to_phys(pt) | 1;                          /* present, untranslated only */
    flush(u, ce, 16);
    invalidate(u);
    return free;
}

/* The leaf entry for IOVA, tables made on the way when ALLOC; NULL if
 * absent (or out of memory). */
static uint64_t *leaf(struct domain *d, uint64_t iova, bool alloc)
{
    uint64_t *t = d->pt;
    for (unsigned l = d->u->levels; l > 1; l--) {
        uint64_t *e = &t[(iova >> (12 + 9 * (l - 1))) & 511];
        if (!(*e & 1)) {
            uint64_t *n = alloc ? table_new() : NULL;
            if (!n)
                return NULL;
            flush(d->u, n, 4096);
            *e = virt_to_phys(n) | PTE_RW;
            flush(d->u, e, 8);
        }
        t = phys_to_virt(*e & 0x000ffffffffff000ULL);
    }
    return &t[(iova >> 12) & 511];
}

static void unmap_locked(struct domain *d, uint64_t iova, uint64_t size)
{
    for (uint64_t off = 0; off < size; off += 4096) {
        uint64_t *e = leaf(d, iova + off, false);
        if (e) {
            *e = 0;
            flush(d->u, e, 8);
        }
    }
    invalidate(d->u);
}

long iommu_map(uint32_t fn, uint64_t phys, uint64_t size)
{
    spin_lock(&iommu_lock);
    struct domain *d = domain_of(fn, true);
    long r = d ? 0 : -E_NOMEM;
    uint64_t iova = d ? d->next : 0;
    if (d && (size > (1ULL << (12 + 9 * d->u->levels)) - iova - 4096))
        r = -E_FULL;                                 /* the domain's addresses are used up */
    for (uint64_t off = 0; r == 0 && off < size; off += 4096) {
        uint64_t *e = leaf(d, iova + off, true);
        if (!e) {
            unmap_locked(d, iova, off);
            r = -E_NOMEM;
            break;
        }
        *e = (phys + off) | PTE_RW;
        flush(d->u, e, 8);
    }
    if (r == 0) {
        d->next = iova + size + 4096;                /* a guard page after it */
        if (d->u->cap & CAP_CM)
            invalidate(d->u);                        /* absent entries may be cached */
    }
    spin_unlock(&iommu_lock);
    return r ? r : (long)iova;
}

void iommu_unmap(uint32_t fn, uint64_t iova, uint64_t size)
{
    spin_lock(&iommu_lock);
    struct domain *d = domain_of(fn, false);
    if (d)
        unmap_locked(d, iova, size);
    spin_unlock(&iommu_lock);
}

static void free_table(uint64_t *t, unsigned level)
{
    for (unsigned i = 0; level > 1 && i < 512; i++)
        if (t[i] & 1)
            free_table(phys_to_virt(t[i] & 0x000ffffffffff000ULL), level - 1);
    frame_free(virt_to_phys(t));
}

void iommu_reset(uint32_t fn)
{
    spin_lock(&iommu_lock);
    struct domain *d = domain_of(fn, false);
    if (d) {
        uint64_t *ce = &d->u->ctx[fn >> 8][2 * (fn & 0xff)];
        ce[0] = ce[1] = 0;
        flush(d->u, ce, 16);
        invalidate(d->u);
        free_table(d->pt, d->u->levels);
        *d = (struct domain){ 0 };
    }
    spin_unlock(&iommu_lock);
}

/* ---- interrupt remapping ---- */

/* The unit remapping interrupts of requester SID (a PCI function, or an
 * IOAPIC's scope), or NULL. */
static struct unit *remapper(uint16_t sid)
{
    struct unit *u = unit_of(sid);
    if (!u)
        for (unsigned i = 0; i < nunits && !u; i++)
            for (unsigned s = 0; s < units[i].d->nscopes; s++) {
                const struct acpi_scope *sc = &units[i].d->scopes[s];
                if (sc->type == ACPI_SCOPE_IOAPIC && sc->depth == 1 &&
                    (uint16_t)(sc->bus << 8 | sc->dev << 3 | sc->fn) == sid)
                    u = &units[i];
            }
    return u && u->irt ? u : NULL;
}

bool iommu_ioapic_sid(unsigned ioapic_id, uint16_t *sid)
{
    for (unsigned i = 0; i < nunits; i++)
        for (unsigned s = 0; s < units[i].d->nscopes; s++) {
            const struct acpi_scope *sc = &units[i].d->scopes[s];
            if (sc->type == ACPI_SCOPE_IOAPIC && sc->enum_id == ioapic_id && sc->depth == 1) {
                *sid = (uint16_t)(sc->bus << 8 | sc->dev << 3 | sc->fn);
                return units[i].irt != NULL;
            }
        }
    return false;
}

/* Entry INDEX of SID's unit made (LO, HI): LO 0 clears it; false if no
 * unit remaps SID's interrupts. */
static bool irte_write(unsigned index, uint16_t sid, uint64_t lo, uint64_t hi)
{
    struct unit *u = index < IRT_ENTRIES ? remapper(sid) : NULL;
    if (!u)
        return false;
    spin_lock(&iommu_lock);
    uint64_t *e = &u->irt[2 * index];
    e[0] = 0;                                     /* not present while it changes */
    flush(u, e, 16);
    e[1] = hi;
    e[0] = lo;
    flush(u, e, 16);
    qi_post(u, 0x4 | 1ULL << 4 | (uint64_t)index << 32, 0);   /* this entry's cached copy */
    qi_sync(u);
    spin_unlock(&iommu_lock);
    return true;
}

bool iommu_irte_set(unsigned index, uint16_t sid, uint8_t vector, uint32_t apic_id, bool level)
{
    /* Present, physical destination, fixed delivery, remapped (not
     * posted); only SID may use it (SVT 1, SQ 0: all 16 bits compared). */
    return irte_write(index, sid,
                      1 | (level ? 1ULL << 4 : 0) | (uint64_t)vector << 16 |
                          (uint64_t)(apic_id & 0xff) << 40,
                      sid | 1ULL << 18);
}

void iommu_irte_clear(unsigned index, uint16_t sid)
{
    irte_write(index, sid, 0, 0);
}

void iommu_poll_faults(void)
{
    for (unsigned i = 0; i < nunits; i++) {
        struct unit *u = &units[i];
        uint32_t fsts = r32(u, REG_FSTS);
        if (!(fsts & 3))
            continue;
        for (unsigned f = 0; f < u->nfr; f++) {
            unsigned off = u->fro + 16 * f;
            uint64_t hi = r64(u, off + 8);
            if (!(hi >> 63))
                continue;
            uint64_t lo = r64(u, off), addr = lo & ~4095ULL;
            unsigned sid = hi & 0xffff, reason = (unsigned)(hi >> 32) & 0xff;
            if (u->faults++ >= FAULTS_PRINTED)
                ;
            else if (reason >= 0x20)                    /* interrupt remapping's */
                kprintf("iommu: interrupt refused: device %02x:%02x.%u, entry %u (reason %#x)\n",
                        sid >> 8, (sid >> 3) & 31, sid & 7, (unsigned)(lo >> 48), reason);
            else
                kprintf("iommu: DMA fault: device %02x:%02x.%u %s at %#lx refused (reason %#x)\n",
                        sid >> 8, (sid >> 3) & 31, sid & 7, (hi >> 62) & 1 ? "read" : "write",
                        addr, reason);
            w32(u, off + 12, 1u << 31);                 /* done with this record */
        }
        w32(u, REG_FSTS, fsts & 1);                       /* overflow seen */
    }
}
