/*
 * slab: per-size object caches (see slab.h).
 *
 * A slab is one page: a header (struct slab_page) and then per_slab
 * objects.  Free objects are chained through their first word.  A slab
 * with free objects sits on the cache's partial list, a slab without on
 * the full list; an empty slab is given back to the page provider at once
 * unless it is the cache's last partial slab (avoids thrashing).
 * kfree finds the slab (and so the cache) by rounding the address down to
 * its page, and checks the header's magic, the object's alignment and its
 * bit in the header's map of objects in use (a double free is caught
 * without walking the free list) before touching anything.
 */
#include "core/slab.h"

#ifdef KESTREL_HOST
#include <string.h>
#define KPANIC(...) abort()
#include <stdlib.h>
#else
#include "base/string.h"
#include "core/printk.h"
#define KPANIC(...) panic(__VA_ARGS__)
#endif

#define SLAB_MAGIC 0x5ab1ab1e5ab1ab1eULL
#define PAGE 4096

struct slab_page {
    uint64_t magic;
    struct slab_cache *cache;
    struct slab_page *prev, *next;
    void *free_list;
    unsigned inuse;
    unsigned pad;
    uint64_t used[4];           /* a bit per object: handed out (16-byte objects: 251) */
};

#define HEADER ((sizeof(struct slab_page) + 15) & ~(size_t)15)
_Static_assert((PAGE - HEADER) / 16 <= 64 * 4, "slab: the used map is too small for 16-byte objects");

static void list_remove(struct slab_page **head, struct slab_page *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void list_push(struct slab_page **head, struct slab_page *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
}

void slab_cache_init(struct slab_cache *c, const char *name, size_t size,
                     const struct slab_pages *pages)
{
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->size = size < 16 ? 16 : (size + 15) & ~(size_t)15;
    c->per_slab = (PAGE - HEADER) / c->size;
    c->pages = pages;
}

static struct slab_page *grow(struct slab_cache *c)
{
    if (c->per_slab == 0)     /* objects too big to share a page with the header */
        return NULL;
    struct slab_page *s = c->pages->alloc();
    if (!s)
        return NULL;
    memset(s, 0, HEADER);
    s->magic = SLAB_MAGIC;
    s->cache = c;
    char *obj = (char *)s + HEADER;
    for (unsigned i = 0; i < c->per_slab; i++) {
        void *o = obj + (size_t)i * c->size;
        *(void **)o = s->free_list;
        s->free_list = o;
    }
    c->slabs++;
    list_push(&c->partial, s);
    return s;
}

void *slab_alloc(struct slab_cache *c)
{
    spin_lock(&c->lock);
    struct slab_page *s = c->partial ? c->partial : grow(c);
    if (!s) {
        c->failures++;
        spin_unlock(&c->lock);
        return NULL;
    }
    void *o = s->free_list;
    s->free_list = *(void **)o;
    size_t k = ((uintptr_t)o - (uintptr_t)s - HEADER) / c->size;
    s->used[k / 64] |= 1UL << (k % 64);
    s->inuse++;
    if (!s->free_list) {
        list_remove(&c->partial, s);
        list_push(&c->full, s);
    }
    c->live++;
    c->allocs++;
    spin_unlock(&c->lock);
    return o;
}

static struct slab_page *slab_of(void *ptr)
{
    return (struct slab_page *)((uintptr_t)ptr & ~(uintptr_t)(PAGE - 1));
}

/* Is PTR the start of an object slot of S that is handed out?  Its index
 * in *K. */
static int valid_object(struct slab_cache *c, struct slab_page *s, void *ptr, size_t *k)
{
    uintptr_t off = (uintptr_t)ptr - (uintptr_t)s;
    if (off < HEADER || (off - HEADER) % c->size || (off - HEADER) / c->size >= c->per_slab)
        return 0;
    *k = (off - HEADER) / c->size;
    return (int)(s->used[*k / 64] >> (*k % 64) & 1);
}

int slab_free(struct slab_cache *c, void *ptr)
{
    struct slab_page *s = slab_of(ptr);
    if (!ptr || s->magic != SLAB_MAGIC || s->cache != c)
        return -1;
    spin_lock(&c->lock);
    size_t k;
    if (!valid_object(c, s, ptr, &k)) {
        spin_unlock(&c->lock);
        return -1;
    }
    s->used[k / 64] &= ~(1UL << (k % 64));
    bool was_full = s->free_list == NULL;
#ifdef KESTREL_LOCKDEP
    /* Debug builds poison freed objects, so a use after free reads
     * 0x6b bytes (wild pointers, impossible states) instead of stale
     * values that happen to work. */
    memset(ptr, 0x6b, c->size);
#endif
    *(void **)ptr = s->free_list;
    s->free_list = ptr;
    s->inuse--;
    c->live--;
    c->frees++;
    if (was_full) {
        list_remove(&c->full, s);
        list_push(&c->partial, s);
    }
    bool release = s->inuse == 0 && (s->prev || s->next);
    if (release) {
        list_remove(&c->partial, s);
        s->magic = 0;
        c->slabs--;
    }
    spin_unlock(&c->lock);
    if (release)
        c->pages->free(s);
    return 0;
}

unsigned slab_shrink(struct slab_cache *c)
{
    unsigned n = 0;
    spin_lock(&c->lock);
    struct slab_page *s = c->partial, *next;
    struct slab_page *empty = NULL;
    for (; s; s = next) {
        next = s->next;
        if (s->inuse == 0) {
            list_remove(&c->partial, s);
            s->magic = 0;
            s->next = empty;
            empty = s;
            c->slabs--;
            n++;
        }
    }
    spin_unlock(&c->lock);
    while (empty) {
        next = empty->next;
        c->pages->free(empty);
        empty = next;
    }
    return n;
}

/* kmalloc: size classes 16, 32, ..., 2048. */
static const char *const class_names[] = {
    "kmalloc-16", "kmalloc-32", "kmalloc-64", "kmalloc-128",
    "kmalloc-256", "kmalloc-512", "kmalloc-1024", "kmalloc-2048",
};
#define NCLASSES (sizeof(class_names) / sizeof(class_names[0]))
static struct slab_cache classes[NCLASSES];

void kmalloc_init(const struct slab_pages *pages)
{
    for (unsigned i = 0; i < NCLASSES; i++) {
        slab_cache_init(&classes[i], class_names[i], (size_t)16 << i, pages);
        classes[i].lock.cls = LOCK_SLAB;
    }
}

void *kmalloc(size_t size)
{
    for (unsigned i = 0; i < NCLASSES; i++)
        if (size <= classes[i].size)
            return slab_alloc(&classes[i]);
    return NULL;
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void kfree(void *ptr)
{
    if (!ptr)
        return;
    struct slab_page *s = slab_of(ptr);
    if (s->magic != SLAB_MAGIC || !s->cache || slab_free(s->cache, ptr) != 0)
        KPANIC("kfree: %p is not a live kmalloc object", ptr);
}

uint64_t kmalloc_live_objects(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < NCLASSES; i++)
        n += __atomic_load_n(&classes[i].live, __ATOMIC_RELAXED);
    return n;
}

uint64_t kmalloc_pages(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < NCLASSES; i++)
        n += __atomic_load_n(&classes[i].slabs, __ATOMIC_RELAXED);
    return n;
}
