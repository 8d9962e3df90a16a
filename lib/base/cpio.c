/*
 * cpio newc reader (see cpio.h).  Layout of one entry: a 110-byte ASCII
 * header ("070701" then 13 fields of 8 hex digits), the name (namesize bytes
 * including NUL), padding to 4 bytes, the data, padding to 4 bytes.
 */
#include "base/cpio.h"

#include <stdbool.h>

#define HDR_SIZE 110

static const char TRAILER[] = "TRAILER!!!";

static bool hex8(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

static size_t align4(size_t v)
{
    return (v + 3) & ~(size_t)3;
}

static bool same(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

int cpio_next(const void *archive, size_t size, size_t *offset,
              struct cpio_entry *out)
{
    const char *base = archive;
    size_t off = *offset;

    if (off > size || size - off < HDR_SIZE)
        return CPIO_ETRUNC;
    const char *h = base + off;
    if (!same(h, "070701", 6))
        return CPIO_EMAGIC;

    uint32_t f[13];
    for (int i = 0; i < 13; i++)
        if (!hex8(h + 6 + 8 * i, &f[i]))
            return CPIO_EHEX;
    uint32_t ino = f[0], mode = f[1], filesize = f[6], namesize = f[11];

    size_t name_off = off + HDR_SIZE;
    if (namesize < 2)          /* at least one character and the NUL */
        return CPIO_ENAME;
    if (namesize > size - name_off)
        return CPIO_ETRUNC;
    const char *name = base + name_off;
    if (name[namesize - 1] != 0)
        return CPIO_ENAME;
    for (size_t i = 0; i + 1 < namesize; i++)
        if (name[i] == 0)
            return CPIO_ENAME;

    size_t data_off = align4(name_off + namesize);
    if (data_off > size || filesize > size - data_off)
        return CPIO_ETRUNC;

    out->name = name;
    out->namesize = namesize;
    out->data = base + data_off;
    out->size = filesize;
    out->mode = mode;
    out->ino = ino;
    *offset = align4(data_off + filesize);
    if (namesize == sizeof(TRAILER) && same(name, TRAILER, sizeof(TRAILER)))
        return CPIO_END;
    return CPIO_OK;
}

static const char *strip_dot(const char *s)
{
    while (s[0] == '.' && s[1] == '/')
        s += 2;
    return s;
}

int cpio_find(const void *archive, size_t size, const char *name,
              struct cpio_entry *out)
{
    size_t off = 0;
    name = strip_dot(name);
    for (;;) {
        int r = cpio_next(archive, size, &off, out);
        if (r != CPIO_OK)
            return r;
        const char *a = strip_dot(out->name), *b = name;
        while (*a && *a == *b)
            a++, b++;
        if (*a == 0 && *b == 0)
            return CPIO_OK;
    }
}

const char *cpio_strerror(int err)
{
    switch (err) {
    case CPIO_END: return "end of archive";
    case CPIO_OK: return "ok";
    case CPIO_ETRUNC: return "truncated archive";
    case CPIO_EMAGIC: return "bad magic (not a newc cpio archive)";
    case CPIO_EHEX: return "bad header field";
    case CPIO_ENAME: return "bad file name";
    default: return "unknown error";
    }
}
