/*
 * cpio: a reader for "newc" cpio archives (the boot image format).
 *
 * The archive is untrusted input: every header field is checked, every
 * length is bounded by the archive's size, and a malformed archive gives a
 * negative error, never a read outside [archive, archive + size).
 */
#ifndef KESTREL_BASE_CPIO_H
#define KESTREL_BASE_CPIO_H

#include <stddef.h>
#include <stdint.h>

enum cpio_error {
    CPIO_END = 0,            /* the TRAILER!!! entry was reached */
    CPIO_OK = 1,             /* an entry was returned */
    CPIO_ETRUNC = -1,        /* header, name or data runs past the end */
    CPIO_EMAGIC = -2,        /* not "070701" */
    CPIO_EHEX = -3,          /* a header field is not 8 hex digits */
    CPIO_ENAME = -4,         /* empty name or name not NUL-terminated */
};

struct cpio_entry {
    const char *name;        /* NUL-terminated, inside the archive */
    size_t namesize;         /* including the NUL */
    const void *data;
    size_t size;
    uint32_t mode;
    uint32_t ino;
};

/* Reads the entry at *offset and advances *offset past it. */
int cpio_next(const void *archive, size_t size, size_t *offset,
              struct cpio_entry *out);

/* Finds a file by exact name ("./" prefixes in the archive are ignored).
 * Returns CPIO_OK, CPIO_END when absent, or a negative error. */
int cpio_find(const void *archive, size_t size, const char *name,
              struct cpio_entry *out);

const char *cpio_strerror(int err);

#endif
