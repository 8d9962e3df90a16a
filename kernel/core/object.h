/*
 * object: the header every kernel object starts with, and reference
 * counting.  An object lives while a handle or a kernel structure refers
 * to it; the last object_put destroys it through its type's destructor.
 * Counts are atomic: puts may come from any CPU.
 */
#ifndef KESTREL_CORE_OBJECT_H
#define KESTREL_CORE_OBJECT_H

#include <stdint.h>

#include "kestrel/startup.h"   /* enum k_object_type */

struct kobject {
    uint32_t type;            /* enum k_object_type */
    uint32_t refs;
};

static inline void object_init(struct kobject *o, uint32_t type)
{
    o->type = type;
    o->refs = 1;
}

static inline void object_get(struct kobject *o)
{
    __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
}

/* Drops a reference; destroys the object when it was the last. */
void object_put(struct kobject *o);


#endif
