/*
 * mb_parse: Multiboot v1 memory map and module list over a byte buffer
 * (see mb_parse.h).  Memory map entry layout: u32 size (of what follows),
 * u64 base, u64 length, u32 type; the next entry starts size + 4 bytes
 * later.  Module entry: u32 start, end, string, reserved.
 */
#include "core/mb_parse.h"

#ifdef KESTREL_HOST
#include <string.h>
#else
#include "base/string.h"
#endif
#include "base/unaligned.h"

#define MMAP_HDR 24     /* the size field plus the 20 bytes we read */

/* E has MMAP_HDR readable bytes. */
static void mmap_entry(const uint8_t *e, struct boot_region *regions, unsigned max,
                       struct mb_mmap_result *res)
{
    uint64_t len = rd64(e + 12);
    if (len == 0) {
        res->empty++;
        return;
    }
    if (res->nregions >= max) {
        res->dropped++;
        return;
    }
    struct boot_region *r = &regions[res->nregions++];
    r->base = rd64(e + 4);
    r->len = len;
    r->type = rd32(e + 20);
}

int mb_mmap_parse(const void *buf, size_t len, struct boot_region *regions,
                  unsigned max, struct mb_mmap_result *res)
{
    const uint8_t *p = buf;
    *res = (struct mb_mmap_result){ 0 };
    size_t off = 0;
    while (len - off >= MMAP_HDR) {
        uint64_t step = (uint64_t)rd32(p + off) + 4;
        res->bad_offset = off;
        if (step < MMAP_HDR)
            return MB_ESIZE;
        if (step > len - off)
            return MB_ETRUNC;
        mmap_entry(p + off, regions, max, res);
        off += step;
    }
    res->bad_offset = 0;
    res->trailing = len - off;
    return MB_OK;
}

int mb_mods_parse(const void *buf, size_t len, uint32_t count, struct mb_module *mods,
                  unsigned max, struct mb_mods_result *res)
{
    const uint8_t *p = buf;
    *res = (struct mb_mods_result){ 0 };
    if (len / MB_MOD_ENTRY_LEN < count)
        return MB_ETRUNC;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = p + (size_t)i * MB_MOD_ENTRY_LEN;
        struct mb_module m = { rd32(e), rd32(e + 4), rd32(e + 8), i };
        if (m.end < m.start)
            res->bad++;
        else if (res->nmodules >= max)
            res->dropped++;
        else
            mods[res->nmodules++] = m;
    }
    return MB_OK;
}
