/*
 * dma: what a device may reach, per PCI function (issue 10), and its
 * message-signalled interrupts (msi_attach, at the end).
 *
 * A driver holds its function as a K_RES_PCI resource of count 1 (the PCI
 * server narrows its own to that and passes it).  dma_map gives the
 * function's device a memory object the driver holds, READ and WRITE, and
 * returns the address the device must use; dma_unmap takes one back;
 * dma_reset, for the PCI server once it has stopped the device (bus
 * mastering off, or a function reset), drops every one of the function's.
 *
 * Each mapping keeps a reference to its memory object: the pages stay
 * the device's until the mapping goes, even if the driver that made it
 * dies (its device may still be writing there; only the one that stops
 * the device may let them go).  That is why a driver's death does not
 * drop its mappings: the PCI server resets the device, then dma_reset.
 *
 * Only physically contiguous memory (K_VMO_CONTIG) can be given: its
 * frames never change while it lives.  Where an IOMMU translates the
 * function (arch/x86_64/iommu.c), the mapping goes into the function's
 * own domain and the device address is the domain's; dma_reset empties
 * the domain before anything else.  Without one the device address is
 * the physical one, and nothing stops a device from reaching the rest of
 * memory (the PCI server says so at boot).
 *
 * Locking: dma_lock (a leaf) over the list; memory is allocated and
 * references dropped outside it.
 */
#include "arch/x86_64/iommu.h"
#include "arch/x86_64/trap.h"
#include "core/channel.h"
#include "core/frame.h"
#include "core/interrupt.h"
#include "core/handle.h"
#include "core/process.h"
#include "core/resource.h"
#include "core/sched.h"
#include "core/slab.h"
#include "core/spinlock.h"
#include "core/syscall.h"
#include "core/thread.h"
#include "core/vm.h"
#include "core/vmo.h"
#include "kestrel/errors.h"
#include "kestrel/resource.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"

#define DMA_MAPS_PER_FN 1024      /* a driver cannot fill kernel memory with mappings */

struct dma_map {
    struct dma_map *next;
    uint32_t fn;                  /* K_PCI_FN */
    uint64_t addr, size;          /* as the device sees it */
    struct vmo *vmo;              /* one reference */
};

static spinlock_t dma_lock = SPINLOCK_INIT;
static struct dma_map *dma_maps;

/* The function named by resource handle RH (MANAGE, count 1), or an error. */
static long function_of(long rh)
{
    struct kobject *o;
    int err = handle_get(&current_thread()->proc->handles, rh, K_OBJ_RESOURCE,
                         K_RIGHT_MANAGE, &o, NULL);
    if (err)
        return err;
    const struct resource *r = (const struct resource *)o;
    long fn = r->kind != K_RES_PCI ? -E_PERM : r->count != 1 ? -E_INVAL : (long)r->base;
    object_put(o);
    return fn;
}

long sys_dma_map(long rh, long vh, long offset, long size)
{
    long fn = function_of(rh);
    if (fn < 0)
        return fn;
    if (offset < 0 || size <= 0 || ((offset | size) & (PAGE_SIZE - 1)))
        return -E_INVAL;
    struct kobject *o;
    int err = handle_get(&current_thread()->proc->handles, vh, K_OBJ_VMO,
                         K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, &o, NULL);
    if (err)
        return err;
    struct vmo *v = (struct vmo *)o;
    uint64_t bytes = v->npages * PAGE_SIZE;
    if ((uint64_t)offset > bytes || (uint64_t)size > bytes - (uint64_t)offset)
        err = -E_TOOBIG;
    else if (v->kind != K_VMO_CONTIG)
        err = -E_PERM;            /* no IOMMU: only what is contiguous in physical memory */
    struct dma_map *m = err ? NULL : kzalloc(sizeof(*m));
    if (!err && !m)
        err = -E_NOMEM;
    if (err) {
        object_put(o);
        return err;
    }
    *m = (struct dma_map){ .fn = (uint32_t)fn, .addr = v->phys + (uint64_t)offset,
                           .size = (uint64_t)size, .vmo = v };     /* takes our reference */
    bool translated = iommu_translates((uint32_t)fn);
    if (translated) {
        long a = iommu_map((uint32_t)fn, m->addr, m->size);
        if (a < 0) {
            object_put(o);
            kfree(m);
            return a;
        }
        m->addr = (uint64_t)a;
    }
    spin_lock(&dma_lock);
    unsigned n = 0;
    for (struct dma_map *p = dma_maps; p; p = p->next)
        n += p->fn == m->fn;
    if (n < DMA_MAPS_PER_FN) {
        m->next = dma_maps;
        dma_maps = m;
    }
    spin_unlock(&dma_lock);
    if (n >= DMA_MAPS_PER_FN) {
        if (translated)
            iommu_unmap(m->fn, m->addr, m->size);
        object_put(o);
        kfree(m);
        return -E_FULL;
    }
    return (long)m->addr;
}

/* Unlinks the function's mappings that ALL or (ADDR, SIZE) select (the
 * first such one only unless ALL) onto a list of its own; their count. */
static long take(uint32_t fn, bool all, uint64_t addr, uint64_t size, struct dma_map **out)
{
    long n = 0;
    spin_lock(&dma_lock);
    for (struct dma_map **pp = &dma_maps; *pp;) {
        struct dma_map *m = *pp;
        if (m->fn == fn && (all || (m->addr == addr && m->size == size))) {
            *pp = m->next;
            m->next = *out;
            *out = m;
            n++;
            if (!all)
                break;
        } else {
            pp = &m->next;
        }
    }
    spin_unlock(&dma_lock);
    return n;
}

static void release(struct dma_map *list, bool unmap)
{
    while (list) {
        struct dma_map *m = list;
        list = m->next;
        if (unmap && iommu_translates(m->fn))
            iommu_unmap(m->fn, m->addr, m->size);
        object_put(&m->vmo->obj);
        kfree(m);
    }
}

long sys_dma_unmap(long rh, long addr, long size)
{
    long fn = function_of(rh);
    if (fn < 0)
        return fn;
    struct dma_map *list = NULL;
    long n = take((uint32_t)fn, false, (uint64_t)addr, (uint64_t)size, &list);
    release(list, true);
    return n ? 0 : -E_NOENT;
}

long sys_dma_reset(long rh)
{
    long fn = function_of(rh);
    if (fn < 0)
        return fn;
    struct dma_map *list = NULL;
    long n = take((uint32_t)fn, true, 0, 0, &list);
    iommu_reset((uint32_t)fn);              /* the domain goes empty at once, whole */
    release(list, false);
    return n;
}

/* A message-signalled interrupt of the function: pulses (CODE, value the
 * vector's index) on connection CH, each after the last one's irq_ack;
 * *OUT says what the device must write.  The PCI server calls it and
 * programs the function's MSI-X table (a driver holds the function too,
 * but not the table: the address and data do it no good). */
long sys_msi_attach(long rh, long ch, long code, long out)
{
    long fn = function_of(rh);
    if (fn < 0)
        return fn;
    if (code < 0 || code > 0xffffffffL)
        return -E_INVAL;
    struct k_msi m = { 0 };
    if (copy_to_user((void *)out, &m, sizeof(m)))
        return -E_FAULT;                  /* before anything is taken */
    struct connection *c;
    int err = connection_lookup(ch, K_RIGHT_SEND, &c);
    if (err)
        return err;
    struct kinterrupt *k = interrupt_attach_msi((uint32_t)fn, c, (uint32_t)code, &m.address,
                                                &m.data, &err);
    object_put(&c->obj);
    if (!k)
        return err;
    m.vector = VEC_MSI_BASE + k->irq;
    long h = handle_install(&current_thread()->proc->handles, &k->obj,
                            K_RIGHT_MANAGE | K_RIGHT_DUP | K_RIGHT_TRANSFER);
    object_put(&k->obj);
    if (h >= 0 && copy_to_user((void *)out, &m, sizeof(m))) {
        handle_close(&current_thread()->proc->handles, h);
        return -E_FAULT;
    }
    return h;
}
