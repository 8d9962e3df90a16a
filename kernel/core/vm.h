/*
 * vm: a process's address space: its page tables and the list of regions
 * (a memory object mapped at an address with a protection).  Mappings are
 * made eagerly: every page of a region that has a frame is in the page
 * tables while the region exists; an untouched anonymous page is not, and
 * the first access to it (vm_fault_untouched) gives it a frame and maps it
 * wherever its object is mapped.
 *
 * Locking (docs/decisions/0012-lock-order.md): vm_lock, then a space's
 * lock.  The space's lock covers the region list, the page tables and
 * `dead`; it is never held while waiting for another CPU (TLB flushes are
 * waited for under vm_lock alone) and never taken under ipc_lock.  Copies
 * into or out of another space (message passing, process_read) hold the
 * target's lock for one page at a time, so its pages cannot be unmapped
 * and freed mid-copy, and fail cleanly once the space is dead.
 */
#ifndef KESTREL_CORE_VM_H
#define KESTREL_CORE_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/spinlock.h"
#include "core/vmo.h"
#include "kestrel/errors.h"

struct vm_space;

struct vm_region {
    struct vm_region *next;   /* sorted by start */
    uintptr_t start;
    uint64_t size;
    struct vmo *vmo;
    uint64_t offset;          /* into the vmo, page-aligned */
    uint32_t prot;            /* K_PROT_* */
    uint32_t max_prot;        /* what the handle it was mapped through allowed */
    struct vm_space *space;
    struct vm_region *vmo_next;   /* the vmo's list of its mappings (vm_lock) */
};

/* vm_lock: the order of all mapping changes and copy-on-write: the
 * memory objects' mapping lists and COW state.  Taken before a space's
 * lock, never with interrupts off. */
extern spinlock_t vm_lock;

struct vm_space {
    spinlock_t lock;
    volatile unsigned cow_regions;    /* regions whose object has COW pages (hint) */
    uint64_t pml4;            /* physical; 0 once dead */
    bool dead;                /* torn down: every operation fails (-E_DEAD) */
    struct vm_region *regions;
    volatile uint64_t cpus;   /* CPUs that may hold TLB entries (bit per CPU) */
};

int vm_space_init(struct vm_space *s);
void vm_space_destroy(struct vm_space *s);

/* Maps SIZE bytes of V from OFFSET at ADDR (0: the kernel chooses), at
 * most MAX_PROT ever (vm_protect cannot raise it past that).  Returns the
 * address or a negative error (-E_DEAD: the space is torn down). */
long vm_map(struct vm_space *s, struct vmo *v, uint64_t offset, uint64_t size,
            uint32_t prot, uintptr_t addr, uint32_t max_prot);
/* Unmaps / re-protects exactly one whole region (-E_RIGHTS: above its
 * max_prot). */
int vm_unmap(struct vm_space *s, uintptr_t addr, uint64_t size);
int vm_protect(struct vm_space *s, uintptr_t addr, uint64_t size, uint32_t prot);

/* Allows (or denies again) in/out on ports [BASE, BASE+COUNT) from user
 * mode in space S: its own I/O bitmap (arch paging.h).  0, -E_NOMEM or
 * -E_DEAD. */
int vm_ioport_set(struct vm_space *s, uint32_t base, uint32_t count, bool allow);
/* Maps the redirecting (REDIRECT) or the native system call entry in S
 * (arch paging.h K_ENTRY_VA).  0, -E_NOMEM or -E_DEAD. */
int vm_set_entry(struct vm_space *s, bool redirect);

/* Copies between kernel memory and space S's user memory through the
 * direct map (S need not be the current space).  Returns 0 or -E_FAULT if
 * any byte is unmapped or (for copy_out) not writable. */
int vm_copy_in(struct vm_space *s, void *dst, uintptr_t src, size_t len);
int vm_copy_out(struct vm_space *s, uintptr_t dst, const void *src, size_t len);
/* A debugger's write (process_write): LEN bytes at DST in S, whatever the
 * pages' protection (code too), but only into memory S alone holds: pages
 * present, of an anonymous object mapped once, with no handle to it and
 * not shared copy-on-write (else -E_BUSY: the write would reach another
 * process).  -E_FAULT where nothing is mapped. */
int vm_poke(struct vm_space *s, uintptr_t dst, const void *src, size_t len);

/* Copies N bytes between user address CUR of the current space and user
 * address OTHER of space S (TO_OTHER: current -> S).  Returns 0, -1 when
 * the current side faulted, -2 when S's side is unmapped, read-only or
 * dead, -3 when the current thread was killed meanwhile.  No lock held,
 * interrupts on: it yields to higher priorities between pages. */
int vm_xfer(struct vm_space *s, uintptr_t other, uintptr_t cur, size_t n, bool to_other);

/* Copy-on-write (core/cow.c).  vm_cow_break: a write to ADDR in S hit a
 * page shared copy-on-write; gives S's object a private copy (or the page
 * itself when no one else shares it) and maps it writable everywhere the
 * object is mapped.  True when the write can be retried.  Interrupts on,
 * no locks held. */
bool vm_cow_break(struct vm_space *s, uintptr_t addr);
/* An access (WRITE, EXEC) to ADDR in S found no page: if ADDR is in a
 * region that allows the access and its object's page is untouched, gives
 * the page a zeroed frame and maps it wherever the object is mapped.  True
 * when the access can be retried.  Interrupts on, no locks held. */
bool vm_fault_untouched(struct vm_space *s, uintptr_t addr, bool write, bool exec);
/* Before a kernel copy that must not fault under a lock: gives the
 * untouched pages of [addr, addr+len) of S their frames and (for a write)
 * breaks COW ahead. */
void vm_prepare_write(struct vm_space *s, uintptr_t addr, size_t len);
void vm_prepare_read(struct vm_space *s, uintptr_t addr, size_t len);
/* Remaps region R's pages with the W bit only where the object's page is
 * private.  vm_lock held, space lock held. */
void vm_region_refresh(struct vm_region *r);
/* Flushes S's TLB entries on every CPU that may hold them.  No lock held
 * but vm_lock (it waits for the other CPUs). */
void flush_space(struct vm_space *s);


/* Is [addr, addr+len) inside user space (no overflow)? */
static inline int user_range_ok(uintptr_t addr, size_t len)
{
    return addr <= 0x00007ffffffff000UL && len <= 0x00007ffffffff000UL - addr;
}

/* Copies with the current space's user memory by the hardware, faults
 * absorbed (arch/x86_64/usercopy.S).  Return 0 or -E_FAULT. */
int arch_user_copy(void *dst, const void *src, size_t len);

static inline int copy_from_user(void *dst, const void *usrc, size_t len)
{
    if (!user_range_ok((uintptr_t)usrc, len) || arch_user_copy(dst, usrc, len))
        return -E_FAULT;
    return 0;
}

static inline int copy_to_user(void *udst, const void *src, size_t len)
{
    if (!user_range_ok((uintptr_t)udst, len) || arch_user_copy(udst, src, len))
        return -E_FAULT;
    return 0;
}

#endif
