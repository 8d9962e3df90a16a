/*
 * elf: parser and validator for the executables the kernel loads (static
 * ELF64 x86-64 ET_EXEC, as linked by lib/rt/user.ld).
 *
 * The file is untrusted: elf_parse reads only inside [file, file + size),
 * with no alignment assumption and no arithmetic overflow, and accepts an
 * image only if it can be mapped safely into user space:
 *   - every PT_LOAD lies inside [K_USER_BASE, K_USER_TOP), its file bytes
 *     inside the file, filesz <= memsz, offset == vaddr modulo the page;
 *   - the page ranges of the PT_LOAD segments do not overlap (each page
 *     gets one set of rights);
 *   - no segment is both writable and executable (W^X);
 *   - the entry point is inside an executable segment;
 *   - no PT_INTERP (no dynamic linking).
 * Segments with memsz 0 are ignored.  Pure code: no allocation, no kernel
 * headers, host-tested with -DKESTREL_HOST.
 */
#ifndef KESTREL_CORE_ELF_H
#define KESTREL_CORE_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 8
#define ELF_MAX_PHDRS 64        /* program headers of any type */
#define ELF_PAGE 4096u

/* Segment rights (the ELF p_flags bits). */
#define ELF_SEG_X 1u
#define ELF_SEG_W 2u
#define ELF_SEG_R 4u

struct elf_segment {
    uint64_t vaddr;
    uint64_t memsz;             /* bytes mapped; beyond filesz they are zero */
    uint64_t offset;            /* in the file */
    uint64_t filesz;
    uint32_t flags;             /* ELF_SEG_* */
};

struct elf_image {
    uint64_t entry;
    unsigned nsegments;
    struct elf_segment segments[ELF_MAX_SEGMENTS];  /* in program-header order */
};

enum elf_error {
    ELF_OK = 0,
    ELF_ETRUNC = -1,            /* shorter than an ELF header */
    ELF_EMAGIC = -2,
    ELF_ECLASS = -3,            /* not 64-bit */
    ELF_EDATA = -4,             /* not little-endian */
    ELF_EVERSION = -5,
    ELF_EMACHINE = -6,          /* not x86-64 */
    ELF_ETYPE = -7,             /* not ET_EXEC */
    ELF_EPHDR = -8,             /* program header table malformed or outside the file */
    ELF_ETOOMANY = -9,          /* more than ELF_MAX_SEGMENTS loadable segments */
    ELF_ESIZE = -10,            /* filesz > memsz */
    ELF_EFILE = -11,            /* segment's file bytes outside the file */
    ELF_EADDR = -12,            /* segment outside user space */
    ELF_EALIGN = -13,           /* offset and vaddr differ modulo the page */
    ELF_EOVERLAP = -14,         /* two segments share a page */
    ELF_EWX = -15,              /* writable and executable */
    ELF_EENTRY = -16,           /* entry not in an executable segment */
    ELF_ENOLOAD = -17,          /* nothing to load */
    ELF_EINTERP = -18,          /* asks for a dynamic linker */
};

/* Returns ELF_OK and fills OUT, or a negative enum elf_error. */
int elf_parse(const void *file, size_t size, struct elf_image *out);

const char *elf_strerror(int err);

#endif
