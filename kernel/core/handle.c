/*
 * handle: per-process handle tables (see handle.h).
 *
 * The slot array starts small and doubles up to HANDLE_MAX; growing
 * allocates outside the lock and retries, so the lock is never held across
 * an allocation.  A lookup takes its object reference under the lock, so a
 * concurrent close cannot free the object under the caller.
 */
#include "core/handle.h"

#include "base/string.h"
#include "core/kmem.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"

#define INITIAL_SLOTS 32

int handle_table_init(struct handle_table *t)
{
    t->lock = (spinlock_t)SPINLOCK_CLASS(LOCK_HANDLES);
    t->slots = kmem_zalloc(INITIAL_SLOTS * sizeof(struct handle_slot));
    if (!t->slots)
        return -E_NOMEM;
    t->cap = INITIAL_SLOTS;
    t->used = 0;
    t->low = 0;
    return 0;
}

void handle_table_empty(struct handle_table *t)
{
    for (;;) {
        struct kobject *obj = NULL;
        spin_lock(&t->lock);
        for (uint32_t i = 0; i < t->cap && !obj; i++) {
            if (t->slots[i].obj) {
                obj = t->slots[i].obj;
                t->slots[i].obj = NULL;
                t->used--;
            }
        }
        t->low = 0;
        spin_unlock(&t->lock);
        if (!obj)
            break;
        object_put(obj);
    }
}

void handle_table_destroy(struct handle_table *t)
{
    handle_table_empty(t);
    kmem_free(t->slots, t->cap * sizeof(struct handle_slot));
    t->slots = NULL;
    t->cap = 0;
}

static long slot_value(struct handle_table *t, uint32_t i)
{
    return (long)(i | (uint32_t)t->slots[i].gen << 16);
}

/* Doubles the table; called without the lock.  Returns false if full. */
static bool grow(struct handle_table *t, uint32_t seen_cap)
{
    if (seen_cap >= HANDLE_MAX)
        return false;
    uint32_t ncap = seen_cap * 2;
    struct handle_slot *n = kmem_zalloc(ncap * sizeof(*n));
    if (!n)
        return false;
    spin_lock(&t->lock);
    if (t->cap != seen_cap) {          /* someone else grew it */
        spin_unlock(&t->lock);
        kmem_free(n, ncap * sizeof(*n));
        return true;
    }
    memcpy(n, t->slots, seen_cap * sizeof(*n));
    struct handle_slot *old = t->slots;
    t->slots = n;
    t->cap = ncap;
    spin_unlock(&t->lock);
    kmem_free(old, seen_cap * sizeof(*n));
    return true;
}

long handle_install(struct handle_table *t, struct kobject *obj, uint32_t rights)
{
    for (;;) {
        spin_lock(&t->lock);
        if (t->used < t->cap) {
            for (uint32_t i = t->low; i < t->cap; i++) {
                if (!t->slots[i].obj) {
                    object_get(obj);
                    t->slots[i].obj = obj;
                    t->slots[i].rights = rights;
                    t->slots[i].gen++;
                    t->used++;
                    t->low = i + 1;
                    long v = slot_value(t, i);
                    spin_unlock(&t->lock);
                    return v;
                }
            }
        }
        uint32_t cap = t->cap;
        spin_unlock(&t->lock);
        if (!grow(t, cap))
            return cap >= HANDLE_MAX ? -E_FULL : -E_NOMEM;
    }
}

int handle_get(struct handle_table *t, long h, uint32_t type, uint32_t rights,
               struct kobject **out, uint32_t *rights_out)
{
    return handle_get_fast(t, h, type, rights, out, rights_out);
}

int handle_get_error(struct handle_table *t, long h, uint32_t type)
{
    spin_lock(&t->lock);
    struct handle_slot *s = handle_find(t, h);
    int err = !s ? -E_BADHANDLE : (type != K_OBJ_NONE && s->obj->type != type) ? -E_WRONGTYPE
                                                                            : -E_RIGHTS;
    spin_unlock(&t->lock);
    return err;
}

int handle_close(struct handle_table *t, long h)
{
    spin_lock(&t->lock);
    struct handle_slot *s = handle_find(t, h);
    if (!s) {
        spin_unlock(&t->lock);
        return -E_BADHANDLE;
    }
    struct kobject *obj = s->obj;
    s->obj = NULL;
    t->used--;
    if ((uint32_t)(s - t->slots) < t->low)
        t->low = (uint32_t)(s - t->slots);
    spin_unlock(&t->lock);
    object_put(obj);
    return 0;
}

long handle_dup(struct handle_table *t, long h, uint32_t rights)
{
    struct kobject *obj;
    uint32_t have = 0;
    int err = handle_get(t, h, K_OBJ_NONE, K_RIGHT_DUP, &obj, &have);
    if (err)
        return err;
    long r = (rights & ~have) ? -E_RIGHTS : handle_install(t, obj, rights);
    object_put(obj);
    return r;
}
