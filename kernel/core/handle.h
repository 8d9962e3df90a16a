/*
 * handle: per-process handle tables.  A handle is a small integer naming
 * (object, rights) in one process; it is the only way a process refers to
 * a kernel object.  Value = slot index (low 16 bits) | generation << 16,
 * so a closed handle's value does not silently name the slot's next user.
 * Locking: the table's spinlock; lookups take a reference on the object
 * (released by the caller with object_put).
 */
#ifndef KESTREL_CORE_HANDLE_H
#define KESTREL_CORE_HANDLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/object.h"
#include "core/spinlock.h"
#include "kestrel/errors.h"

#define HANDLE_MAX 4096

struct handle_slot {
    struct kobject *obj;      /* NULL: free */
    uint32_t rights;
    uint16_t gen;
};

struct handle_table {
    spinlock_t lock;
    struct handle_slot *slots;
    uint32_t cap;             /* slots allocated */
    uint32_t used;
    uint32_t low;             /* no free slot below it: installs search from here */
};

int handle_table_init(struct handle_table *t);
/* Closes every handle (dropping the references) and frees the table. */
/* Closes every handle in T (the table stays, empty); no lock held. */
void handle_table_empty(struct handle_table *t);
void handle_table_destroy(struct handle_table *t);

/* Installs OBJ (taking a new reference) with RIGHTS; returns the handle
 * value or -E_FULL / -E_NOMEM. */
long handle_install(struct handle_table *t, struct kobject *obj, uint32_t rights);
/* Looks up H: checks existence, type (K_OBJ_NONE: any) and that all of
 * RIGHTS are present; on success *out holds a new reference and *rights_out
 * (if not NULL) the handle's rights.  Returns 0 or -E_BADHANDLE /
 * -E_WRONGTYPE / -E_RIGHTS. */
int handle_get(struct handle_table *t, long h, uint32_t type, uint32_t rights,
               struct kobject **out, uint32_t *rights_out);
int handle_get_error(struct handle_table *t, long h, uint32_t type);

/* The slot H names, or NULL.  Lock held. */
static inline struct handle_slot *handle_find(struct handle_table *t, long h)
{
    if (h < 0 || h > 0xffffffffL)
        return NULL;
    uint32_t i = (uint32_t)h & 0xffff;
    if (i >= t->cap)
        return NULL;
    struct handle_slot *s = &t->slots[i];
    if (!s->obj || s->gen != (uint16_t)((uint32_t)h >> 16))
        return NULL;
    return s;
}

/* handle_get, inline for the message-passing path (core/channel.c). */
static inline int handle_get_fast(struct handle_table *t, long h, uint32_t type, uint32_t rights,
                                  struct kobject **out, uint32_t *rights_out)
{
    spin_lock(&t->lock);
    struct handle_slot *s = handle_find(t, h);
    if (__builtin_expect(s && (type == K_OBJ_NONE || s->obj->type == type) &&
                         (s->rights & rights) == rights, 1)) {
        object_get(s->obj);
        *out = s->obj;
        if (rights_out)
            *rights_out = s->rights;
        spin_unlock(&t->lock);
        return 0;
    }
    spin_unlock(&t->lock);
    *out = NULL;
    return handle_get_error(t, h, type);
}
int handle_close(struct handle_table *t, long h);
/* New handle to the same object with a subset of the rights (needs DUP). */
long handle_dup(struct handle_table *t, long h, uint32_t rights);

#endif
