/*
 * ksyms: binary search over the generated table (see ksyms.h).  The table
 * is sorted by address; a symbol extends to the next one.
 */
#include "core/ksyms.h"

#include <stddef.h>

struct ksym {
    uint32_t offset;          /* from __text_start */
    uint32_t name;            /* offset in ksyms_names */
};

/* Provided by the generated build/ksyms.c (empty in the first link). */
extern const struct ksym ksyms_table[];
extern const char ksyms_names[];
extern const size_t ksyms_count;
extern char __text_start[], __text_end[];

const char *ksyms_lookup(uintptr_t addr, uintptr_t *offset)
{
    if (addr < (uintptr_t)__text_start || addr >= (uintptr_t)__text_end || ksyms_count == 0)
        return NULL;
    uint32_t off = (uint32_t)(addr - (uintptr_t)__text_start);
    size_t lo = 0, hi = ksyms_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ksyms_table[mid].offset <= off)
            lo = mid;
        else
            hi = mid;
    }
    if (ksyms_table[lo].offset > off)
        return NULL;
    *offset = off - ksyms_table[lo].offset;
    return ksyms_names + ksyms_table[lo].name;
}
