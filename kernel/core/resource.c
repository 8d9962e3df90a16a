/* resource: hardware capabilities (see resource.h). */
#include "core/resource.h"

#include "core/slab.h"

struct resource *resource_create(uint32_t kind, uint64_t base, uint64_t count)
{
    struct resource *r = kzalloc(sizeof(*r));
    if (!r)
        return NULL;
    object_init(&r->obj, K_OBJ_RESOURCE);
    r->kind = kind;
    r->base = base;
    r->count = count;
    return r;
}

bool resource_covers(const struct resource *r, uint32_t kind, uint64_t base, uint64_t count)
{
    return r->kind == kind && base >= r->base && count <= r->count &&
           base - r->base <= r->count - count;
}

void resource_destroy(struct resource *r)
{
    kfree(r);
}
