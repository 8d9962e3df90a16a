/*
 * resource: a capability over a range of IRQs, I/O ports or physical
 * addresses (abi/kestrel/resource.h).  Immutable once made, so no lock.
 */
#ifndef KESTREL_CORE_RESOURCE_H
#define KESTREL_CORE_RESOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/object.h"

struct resource {
    struct kobject obj;
    uint32_t kind;            /* K_RES_* */
    uint64_t base, count;
};

struct resource *resource_create(uint32_t kind, uint64_t base, uint64_t count);
bool resource_covers(const struct resource *r, uint32_t kind, uint64_t base, uint64_t count);
void resource_destroy(struct resource *r);

#endif
