/*
 * elf: ELF64 executable validation (see elf.h for the rules).
 *
 * Every field is read byte by byte (little-endian) from offsets checked
 * against the file size first, so a hostile or misaligned file never causes
 * an out-of-bounds or unaligned read.  Ranges are compared as "length <=
 * limit - start" after checking start <= limit, which cannot overflow.
 */
#include "core/elf.h"

#include "kestrel/startup.h"

#define EH_SIZE      64u
#define PH_SIZE      56u
#define EM_X86_64    62u
#define ET_EXEC      2u
#define PT_LOAD      1u
#define PT_INTERP    3u
#define EV_CURRENT   1u

static uint64_t read_le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    while (n--)
        v = (v << 8) | p[n];
    return v;
}

static int header_check(const unsigned char *f, size_t size)
{
    if (size < EH_SIZE)
        return ELF_ETRUNC;
    if (f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' || f[3] != 'F')
        return ELF_EMAGIC;
    if (f[4] != 2)
        return ELF_ECLASS;
    if (f[5] != 1)
        return ELF_EDATA;
    if (f[6] != EV_CURRENT || read_le(f + 20, 4) != EV_CURRENT)
        return ELF_EVERSION;
    if (read_le(f + 18, 2) != EM_X86_64)
        return ELF_EMACHINE;
    if (read_le(f + 16, 2) != ET_EXEC)
        return ELF_ETYPE;
    return ELF_OK;
}

/* The program header table must be inside the file. */
static int phdrs_check(const unsigned char *f, size_t size)
{
    uint64_t phoff = read_le(f + 32, 8);
    uint64_t phentsize = read_le(f + 54, 2);
    uint64_t phnum = read_le(f + 56, 2);
    if (phentsize != PH_SIZE || phnum == 0)
        return ELF_EPHDR;
    if (phnum > ELF_MAX_PHDRS)
        return ELF_ETOOMANY;
    if (phoff > size || phnum * PH_SIZE > size - phoff)
        return ELF_EPHDR;
    return ELF_OK;
}

static void segment_read(const unsigned char *ph, struct elf_segment *s)
{
    s->flags = (uint32_t)read_le(ph + 4, 4) & (ELF_SEG_R | ELF_SEG_W | ELF_SEG_X);
    s->offset = read_le(ph + 8, 8);
    s->vaddr = read_le(ph + 16, 8);
    s->filesz = read_le(ph + 32, 8);
    s->memsz = read_le(ph + 40, 8);
}

static int segment_check(const struct elf_segment *s, size_t size)
{
    if (s->filesz > s->memsz)
        return ELF_ESIZE;
    if (s->offset > size || s->filesz > size - s->offset)
        return ELF_EFILE;
    if (s->vaddr < K_USER_BASE || s->vaddr >= K_USER_TOP ||
        s->memsz > K_USER_TOP - s->vaddr)
        return ELF_EADDR;
    if (s->offset % ELF_PAGE != s->vaddr % ELF_PAGE)
        return ELF_EALIGN;
    if ((s->flags & ELF_SEG_W) && (s->flags & ELF_SEG_X))
        return ELF_EWX;
    return ELF_OK;
}

/* Page-rounded ranges; the ends cannot overflow since K_USER_TOP is a
 * page boundary far below 2^64. */
static int segments_overlap(const struct elf_segment *a, const struct elf_segment *b)
{
    uint64_t a0 = a->vaddr & ~(uint64_t)(ELF_PAGE - 1);
    uint64_t b0 = b->vaddr & ~(uint64_t)(ELF_PAGE - 1);
    uint64_t a1 = (a->vaddr + a->memsz + ELF_PAGE - 1) & ~(uint64_t)(ELF_PAGE - 1);
    uint64_t b1 = (b->vaddr + b->memsz + ELF_PAGE - 1) & ~(uint64_t)(ELF_PAGE - 1);
    return a0 < b1 && b0 < a1;
}

/* Validates S and appends it to OUT. */
static int segment_add(struct elf_image *out, const struct elf_segment *s, size_t size)
{
    int err = segment_check(s, size);
    if (err)
        return err;
    for (unsigned i = 0; i < out->nsegments; i++)
        if (segments_overlap(&out->segments[i], s))
            return ELF_EOVERLAP;
    if (out->nsegments == ELF_MAX_SEGMENTS)
        return ELF_ETOOMANY;
    out->segments[out->nsegments++] = *s;
    return ELF_OK;
}

static int entry_check(const struct elf_image *img)
{
    for (unsigned i = 0; i < img->nsegments; i++) {
        const struct elf_segment *s = &img->segments[i];
        if ((s->flags & ELF_SEG_X) && img->entry >= s->vaddr &&
            img->entry - s->vaddr < s->memsz)
            return ELF_OK;
    }
    return ELF_EENTRY;
}

static int segments_load(const unsigned char *f, size_t size, struct elf_image *out)
{
    uint64_t phoff = read_le(f + 32, 8);
    unsigned phnum = (unsigned)read_le(f + 56, 2);
    for (unsigned i = 0; i < phnum; i++) {
        const unsigned char *ph = f + phoff + (uint64_t)i * PH_SIZE;
        uint64_t type = read_le(ph, 4);
        if (type == PT_INTERP)
            return ELF_EINTERP;
        struct elf_segment s;
        segment_read(ph, &s);
        if (type != PT_LOAD || s.memsz == 0)
            continue;
        int err = segment_add(out, &s, size);
        if (err)
            return err;
    }
    return out->nsegments ? ELF_OK : ELF_ENOLOAD;
}

int elf_parse(const void *file, size_t size, struct elf_image *out)
{
    const unsigned char *f = file;
    out->entry = 0;
    out->nsegments = 0;
    int err = header_check(f, size);
    if (!err)
        err = phdrs_check(f, size);
    if (!err)
        err = segments_load(f, size, out);
    if (err)
        return err;
    out->entry = read_le(f + 24, 8);
    return entry_check(out);
}

const char *elf_strerror(int err)
{
    switch (err) {
    case ELF_OK: return "ok";
    case ELF_ETRUNC: return "truncated ELF header";
    case ELF_EMAGIC: return "not an ELF file";
    case ELF_ECLASS: return "not a 64-bit ELF file";
    case ELF_EDATA: return "not little-endian";
    case ELF_EVERSION: return "unknown ELF version";
    case ELF_EMACHINE: return "not an x86-64 program";
    case ELF_ETYPE: return "not a static executable (ET_EXEC)";
    case ELF_EPHDR: return "bad program header table";
    case ELF_ETOOMANY: return "too many segments";
    case ELF_ESIZE: return "segment file size exceeds memory size";
    case ELF_EFILE: return "segment data outside the file";
    case ELF_EADDR: return "segment outside user space";
    case ELF_EALIGN: return "segment offset and address misaligned";
    case ELF_EOVERLAP: return "segments overlap";
    case ELF_EWX: return "segment both writable and executable";
    case ELF_EENTRY: return "entry point not in an executable segment";
    case ELF_ENOLOAD: return "no loadable segment";
    case ELF_EINTERP: return "dynamically linked (PT_INTERP)";
    default: return "unknown ELF error";
    }
}
