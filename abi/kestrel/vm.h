/* Memory objects and mappings: kinds and protection bits (vmo_create,
 * vmo_map, vm_protect). */
#ifndef KESTREL_ABI_VM_H
#define KESTREL_ABI_VM_H

#define K_VMO_ANON   0     /* zero-filled memory */
#define K_VMO_PHYS   1     /* a physical/MMIO range (needs a resource capability) */
#define K_VMO_CONTIG 2     /* physically contiguous RAM, for DMA */
/* vmo_create's kind may carry this flag (with K_VMO_ANON only): fork's
 * vm_clone maps the object itself into the child, shared, instead of a
 * copy-on-write clone (MAP_SHARED memory, a page another process keeps
 * current). */
#define K_VMO_FORK_SHARED 0x100u

#define K_PROT_READ  1u
#define K_PROT_WRITE 2u
#define K_PROT_EXEC  4u    /* never together with K_PROT_WRITE (W^X) */

#define K_VMO_MAX_SIZE (1ULL << 32)

/* process_regions: one mapped region of a process. */
struct k_region {
    unsigned long long start;
    unsigned long long size;
    unsigned int prot;        /* K_PROT_* */
    unsigned int reserved;
};

#endif
