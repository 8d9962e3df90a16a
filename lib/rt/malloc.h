/*
 * malloc: C's allocation functions for native user programs, over the
 * heap in rt/heap.h.  Blocks are 16-byte aligned.  Freeing a pointer that
 * malloc did not return, or freeing twice, aborts the program with a
 * message.  Not thread-safe yet (one thread per process).
 */
#ifndef KESTREL_RT_MALLOC_H
#define KESTREL_RT_MALLOC_H

#include <stddef.h>

/* Size of the static arena the heap starts from. */
#define RT_HEAP_ARENA (4u << 20)

void *malloc(size_t n);
void free(void *p);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);

#endif
