/*
 * malloc: the process heap.  The allocator logic is rt/heap.c; this file
 * gives it memory and turns its errors into aborts.
 *
 * The memory source is arena_grow: a static RT_HEAP_ARENA-byte arena in
 * .bss, handed out once.  To grow through the kernel instead, replace it
 * with a function that rounds MIN up to a large chunk, creates a VMO of
 * that size (k_vmo_create), maps it read-write (k_vmo_map) and returns the
 * address; the heap takes any number of regions.
 */
#include "rt/lock.h"
#include "rt/malloc.h"
#include "rt/syscall.h"
#include "rt/heap.h"
#include "rt/rt.h"

#include "base/string.h"

static unsigned char arena[RT_HEAP_ARENA] __attribute__((aligned(4096)));
static int arena_given;

static void *arena_grow(void *ctx, size_t min, size_t *got)
{
    (void)ctx;
    if (arena_given || min > sizeof(arena))
        return NULL;
    arena_given = 1;
    *got = sizeof(arena);
    return arena;
}

static struct heap rt_heap = { .grow = arena_grow };

static void heap_fail(int err)
{
    if (err != HEAP_OK && err != HEAP_ENOMEM)
        rt_abort(heap_strerror(err));
}

/* One lock for the heap: threads of a process (server pools) allocate.
 * A thread that finds it taken yields rather than spins. */
static volatile int heap_lock;

static void lock(void)
{
    rt_lock(&heap_lock);
}

static void unlock(void)
{
    rt_unlock(&heap_lock);
}

void *malloc(size_t n)
{
    lock();
    void *p = heap_alloc(&rt_heap, n);
    unlock();
    return p;
}

void free(void *p)
{
    lock();
    int err = heap_free(&rt_heap, p);
    unlock();
    heap_fail(err);
}

void *calloc(size_t count, size_t size)
{
    if (size != 0 && count > (size_t)-1 / size)
        return NULL;
    void *p = malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *realloc(void *p, size_t n)
{
    void *out = NULL;
    lock();
    int err = heap_realloc(&rt_heap, p, n, &out);
    unlock();
    heap_fail(err);
    return out;
}
