/*
 * heap: the allocator behind malloc, as pure logic over memory obtained
 * from a pluggable source, so that it also builds and is tested on the host
 * (-DKESTREL_HOST).
 *
 * Design: segregated fits with boundary tags.  Memory comes in regions
 * (one per call to the source); a region is a run of blocks ended by a
 * zero-size "fence" block that is always in use.  Each block starts with a
 * 16-byte header (size with flags, and a check word derived from the
 * block's address, size and state); free blocks also end with a copy of
 * their size (footer) and sit on one of HEAP_BINS doubly linked lists by
 * power-of-two size class.  Free blocks are always coalesced with free
 * neighbours, so no two free blocks are adjacent.  Payloads are 16-byte
 * aligned.  heap_free and heap_realloc validate the pointer first: outside
 * every region or misaligned is HEAP_EBADPTR, a block already free is
 * HEAP_EDOUBLE, and nothing is changed in either case.
 *
 * No locking: the caller serializes (the runtime has one thread for now).
 */
#ifndef KESTREL_RT_HEAP_H
#define KESTREL_RT_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_BINS 64
#define HEAP_ALIGN 16
/* Largest request served; more fails (keeps every size sum far from overflow). */
#define HEAP_MAX_ALLOC ((size_t)1 << 46)

/* The source of memory: returns at least MIN bytes (16-byte aligned),
 * storing the real amount in *got, or NULL when there is no more. */
typedef void *(*heap_grow_fn)(void *ctx, size_t min, size_t *got);

struct heap_block;
struct heap_region;

/* A zero-filled struct heap with .grow set is a valid empty heap. */
struct heap {
    heap_grow_fn grow;
    void *ctx;
    struct heap_region *regions;
    struct heap_block *bins[HEAP_BINS];
    uint64_t nonempty;          /* bit i: bins[i] has a block */
    size_t bytes_total;         /* all regions, overheads included */
    size_t bytes_used;          /* blocks in use, headers included */
    size_t blocks_used;
};

enum heap_error {
    HEAP_OK = 0,
    HEAP_EBADPTR = -1,          /* not a block of this heap */
    HEAP_EDOUBLE = -2,          /* the block is already free */
    HEAP_ENOMEM = -3,
    HEAP_ECORRUPT = -4,         /* heap_check found a broken invariant */
};

/* Region overhead: what a source must give beyond the largest block. */
size_t heap_region_overhead(void);

/* NULL when N is too big or the source is exhausted.  N == 0 gives a
 * unique pointer (a minimal block). */
void *heap_alloc(struct heap *h, size_t n);

/* P == NULL is a no-op. */
int heap_free(struct heap *h, void *p);

/* C's realloc: on success *out is the (maybe moved) block, or NULL when
 * N == 0 (P is then freed).  On HEAP_ENOMEM P is untouched. */
int heap_realloc(struct heap *h, void *p, size_t n, void **out);

/* Bytes usable at P (at least what was asked), or 0 for a bad pointer. */
size_t heap_usable_size(struct heap *h, const void *p);

/* Walks every region and bin: HEAP_OK or HEAP_ECORRUPT. */
int heap_check(const struct heap *h);

const char *heap_strerror(int err);

#endif
