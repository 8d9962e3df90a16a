/*
 * mb_parse: pure parsers for the Multiboot v1 memory map and module list.
 * No memory access beyond the given buffer, no console, no globals: the
 * kernel (bootinfo.c) maps the loader's structures and reports; host unit
 * tests (tests/host/test_multiboot.c) feed hostile buffers.
 *
 * Invariants: nothing is read outside [buf, buf + len) whatever the size
 * fields say; every walk advances by at least 24 bytes per step, computed
 * in 64 bits (no wrap-around); output arrays never exceed their capacity,
 * and what did not fit is counted instead.
 */
#ifndef KESTREL_CORE_MB_PARSE_H
#define KESTREL_CORE_MB_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/bootinfo.h"

#define MB_MMAP_ENTRY_MIN 20    /* size field of an entry: base, length, type */
#define MB_MOD_ENTRY_LEN 16

enum mb_error {
    MB_OK = 0,
    MB_ESIZE = -1,          /* a memory map entry's size field is below 20 */
    MB_ETRUNC = -2,         /* an entry's size field runs past the buffer */
};

struct mb_mmap_result {
    unsigned nregions;      /* regions stored */
    unsigned empty;         /* zero-length entries skipped */
    unsigned dropped;       /* non-empty entries beyond the capacity */
    size_t trailing;        /* bytes at the end too few for an entry header */
    size_t bad_offset;      /* offset of the bad entry (MB_ESIZE, MB_ETRUNC) */
};

/* A module as listed; the name is a physical address the caller reads. */
struct mb_module {
    uint32_t start, end;    /* physical, [start, end) */
    uint32_t string;
    uint32_t index;         /* position in the loader's list */
};

struct mb_mods_result {
    unsigned nmodules;      /* modules stored */
    unsigned bad;           /* end before start: skipped */
    unsigned dropped;       /* valid modules beyond the capacity */
};

/* Walks the memory map in BUF (LEN = mmap_length bytes) into REGIONS (room
 * for MAX).  Returns MB_OK or an error for a malformed entry, with the
 * regions before it stored. */
int mb_mmap_parse(const void *buf, size_t len, struct boot_region *regions,
                  unsigned max, struct mb_mmap_result *res);

/* Reads COUNT module entries from BUF (LEN bytes) into MODS (room for
 * MAX).  Returns MB_OK, or MB_ETRUNC with nothing stored when LEN cannot
 * hold COUNT entries. */
int mb_mods_parse(const void *buf, size_t len, uint32_t count, struct mb_module *mods,
                  unsigned max, struct mb_mods_result *res);

#endif
