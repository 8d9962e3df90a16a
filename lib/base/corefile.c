/*
 * corefile: ELF64 core files for x86-64 (see corefile.h for the rules).
 *
 * The file is produced strictly in order through a sink, piece by piece
 * (header, program headers, notes, padding, region bytes), so no piece
 * needs more than a small stack buffer.  core_size validates the input and
 * computes every offset with overflow checks; the writers call it first,
 * so the arithmetic they repeat cannot overflow.
 *
 * The note payloads use the layouts of Linux's x86-64 struct elf_prstatus
 * and struct elf_prpsinfo, which gdb reads; they are defined here from
 * their documented field lists, with the offsets checked at compile time.
 */
#include "base/corefile.h"

#include <stdbool.h>

#define EH_SIZE     64u
#define PH_SIZE     56u
#define ET_CORE     4u
#define EM_X86_64   62u
#define PT_LOAD     1u
#define PT_NOTE     4u
#define NT_PRSTATUS 1u
#define NT_PRPSINFO 3u
#define NOTE_HDR    12u
#define NOTE_NAME   8u              /* "CORE" and its NUL, padded to 4 */
#define CHUNK       512u            /* bytes read and zero-filled at a time */

/* Linux x86-64 struct elf_prstatus: signal info, ids, times, registers. */
struct core_prstatus {
    int32_t si_signo, si_code, si_errno;
    int16_t cursig;
    uint16_t pad0;
    uint64_t sigpend, sighold;
    int32_t pid, ppid, pgrp, sid;
    uint64_t times[8];              /* utime, stime, cutime, cstime (timevals) */
    struct core_regs regs;
    int32_t fpvalid;
    uint32_t pad1;
};
_Static_assert(offsetof(struct core_prstatus, cursig) == 12, "prstatus.cursig");
_Static_assert(offsetof(struct core_prstatus, sigpend) == 16, "prstatus.sigpend");
_Static_assert(offsetof(struct core_prstatus, pid) == 32, "prstatus.pid");
_Static_assert(offsetof(struct core_prstatus, times) == 48, "prstatus.times");
_Static_assert(offsetof(struct core_prstatus, regs) == 112, "prstatus.regs");
_Static_assert(offsetof(struct core_prstatus, fpvalid) == 328, "prstatus.fpvalid");
_Static_assert(sizeof(struct core_prstatus) == 336, "prstatus size");

/* Linux x86-64 struct elf_prpsinfo: state, ids, command name and line. */
struct core_prpsinfo {
    char state, sname, zomb, nice;
    uint32_t pad0;
    uint64_t flag;
    uint32_t uid, gid;
    int32_t pid, ppid, pgrp, sid;
    char fname[16];
    char psargs[80];
};
_Static_assert(offsetof(struct core_prpsinfo, flag) == 8, "prpsinfo.flag");
_Static_assert(offsetof(struct core_prpsinfo, uid) == 16, "prpsinfo.uid");
_Static_assert(offsetof(struct core_prpsinfo, pid) == 24, "prpsinfo.pid");
_Static_assert(offsetof(struct core_prpsinfo, fname) == 40, "prpsinfo.fname");
_Static_assert(offsetof(struct core_prpsinfo, psargs) == 56, "prpsinfo.psargs");
_Static_assert(sizeof(struct core_prpsinfo) == 136, "prpsinfo size");

#define NOTES_SIZE (2 * (NOTE_HDR + NOTE_NAME) + sizeof(struct core_prstatus) + \
                    sizeof(struct core_prpsinfo))

struct out {
    core_sink_fn sink;
    void *ctx;
    uint64_t pos;
};

static void zero(void *p, size_t n)
{
    unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

static void put_le(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

int core_signal(uint32_t vector)
{
    switch (vector) {
    case 0: case 16: case 19: return 8;     /* SIGFPE */
    case 1: case 3:           return 5;     /* SIGTRAP */
    case 6:                   return 4;     /* SIGILL */
    case 12: case 17:         return 7;     /* SIGBUS */
    default:                  return 11;    /* SIGSEGV */
    }
}

/* *off rounded up to a page; false on overflow. */
static bool page_up(uint64_t *off)
{
    uint64_t mask = CORE_PAGE - 1;
    if (*off > UINT64_MAX - mask)
        return false;
    *off = (*off + mask) & ~mask;
    return true;
}

static int region_check(const struct core_region *r)
{
    uint64_t mask = CORE_PAGE - 1;
    if (r->size == 0 || (r->vaddr & mask) || (r->size & mask))
        return CORE_EREGION;
    if (r->vaddr > UINT64_MAX - r->size + 1)    /* size >= 1 here */
        return CORE_EREGION;
    return CORE_OK;
}

/* Compared by last bytes, so a region may end exactly at 2^64. */
static bool overlap(const struct core_region *a, const struct core_region *b)
{
    uint64_t a_last = a->vaddr + (a->size - 1), b_last = b->vaddr + (b->size - 1);
    return a->vaddr <= b_last && b->vaddr <= a_last;
}

static int regions_check(const struct core_input *in)
{
    if (in->nregions > CORE_MAX_REGIONS)
        return CORE_ETOOMANY;
    if (in->nregions && !in->regions)
        return CORE_EINVAL;
    for (size_t i = 0; i < in->nregions; i++) {
        int err = region_check(&in->regions[i]);
        if (err)
            return err;
        for (size_t j = 0; j < i; j++)
            if (overlap(&in->regions[i], &in->regions[j]))
                return CORE_EREGION;
    }
    return CORE_OK;
}

static uint64_t notes_offset(size_t nregions)
{
    return EH_SIZE + (uint64_t)(1 + nregions) * PH_SIZE;
}

/* The file offset of the first region's bytes (the end of the notes,
 * page-aligned); cannot overflow. */
static uint64_t data_offset(size_t nregions)
{
    uint64_t off = notes_offset(nregions) + NOTES_SIZE;
    page_up(&off);
    return off;
}

int core_size(const struct core_input *in, uint64_t *size)
{
    if (!in || !size || !in->regs || !in->name || (in->nregions && !in->read))
        return CORE_EINVAL;
    int err = regions_check(in);
    if (err)
        return err;
    uint64_t off = in->nregions ? data_offset(in->nregions)
                                : notes_offset(0) + NOTES_SIZE;
    for (size_t i = 0; i < in->nregions; i++) {
        if (!page_up(&off) || in->regions[i].size > UINT64_MAX - off)
            return CORE_EOVERFLOW;
        off += in->regions[i].size;
    }
    *size = off;
    return CORE_OK;
}

static int emit(struct out *o, const void *buf, size_t len)
{
    if (len && o->sink(o->ctx, buf, len) != 0)
        return CORE_ESINK;
    o->pos += len;
    return CORE_OK;
}

/* Zeros up to file offset off. */
static int pad_to(struct out *o, uint64_t off)
{
    unsigned char z[CHUNK];
    zero(z, sizeof(z));
    while (o->pos < off) {
        uint64_t n = off - o->pos < CHUNK ? off - o->pos : CHUNK;
        int err = emit(o, z, (size_t)n);
        if (err)
            return err;
    }
    return CORE_OK;
}

static int emit_ehdr(struct out *o, size_t nregions)
{
    unsigned char h[EH_SIZE];
    zero(h, sizeof(h));
    h[0] = 0x7f; h[1] = 'E'; h[2] = 'L'; h[3] = 'F';
    h[4] = 2;                                   /* ELFCLASS64 */
    h[5] = 1;                                   /* little-endian */
    h[6] = 1;                                   /* EV_CURRENT */
    put_le(h + 16, ET_CORE, 2);
    put_le(h + 18, EM_X86_64, 2);
    put_le(h + 20, 1, 4);                       /* e_version */
    put_le(h + 32, EH_SIZE, 8);                 /* e_phoff */
    put_le(h + 52, EH_SIZE, 2);                 /* e_ehsize */
    put_le(h + 54, PH_SIZE, 2);                 /* e_phentsize */
    put_le(h + 56, 1 + nregions, 2);            /* e_phnum */
    return emit(o, h, sizeof(h));
}

static int emit_phdr(struct out *o, uint32_t type, uint32_t flags, uint64_t off,
                     uint64_t vaddr, uint64_t size, uint64_t align)
{
    unsigned char p[PH_SIZE];
    zero(p, sizeof(p));
    put_le(p + 0, type, 4);
    put_le(p + 4, flags, 4);
    put_le(p + 8, off, 8);
    put_le(p + 16, vaddr, 8);
    put_le(p + 32, size, 8);                    /* p_filesz */
    put_le(p + 40, size, 8);                    /* p_memsz */
    put_le(p + 48, align, 8);
    return emit(o, p, sizeof(p));
}

static int emit_phdrs(struct out *o, const struct core_input *in)
{
    int err = emit_phdr(o, PT_NOTE, 0, notes_offset(in->nregions), 0, NOTES_SIZE, 4);
    uint64_t off = data_offset(in->nregions);
    for (size_t i = 0; i < in->nregions && !err; i++) {
        const struct core_region *r = &in->regions[i];
        err = emit_phdr(o, PT_LOAD, r->flags & (CORE_R | CORE_W | CORE_X), off,
                        r->vaddr, r->size, CORE_PAGE);
        off += r->size;
    }
    return err;
}

/* One note named "CORE"; desc sizes here are multiples of 4. */
static int emit_note(struct out *o, uint32_t type, const void *desc, size_t size)
{
    unsigned char h[NOTE_HDR + NOTE_NAME];
    zero(h, sizeof(h));
    put_le(h + 0, 5, 4);                        /* namesz, with the NUL */
    put_le(h + 4, size, 4);
    put_le(h + 8, type, 4);
    h[12] = 'C'; h[13] = 'O'; h[14] = 'R'; h[15] = 'E';
    int err = emit(o, h, sizeof(h));
    return err ? err : emit(o, desc, size);
}

static int emit_prstatus(struct out *o, const struct core_input *in)
{
    struct core_prstatus s;
    zero(&s, sizeof(s));
    s.si_signo = core_signal(in->vector);
    s.cursig = (int16_t)s.si_signo;
    s.pid = (int32_t)in->tid;                   /* gdb's LWP: the thread */
    s.pgrp = (int32_t)in->pid;
    s.sid = (int32_t)in->pid;
    s.regs = *in->regs;
    return emit_note(o, NT_PRSTATUS, &s, sizeof(s));
}

/* Copies at most cap - 1 bytes of src and a NUL into dst[cap] (zeroed). */
static void copy_name(char *dst, size_t cap, const char *src)
{
    for (size_t i = 0; i + 1 < cap && src[i]; i++)
        dst[i] = src[i];
}

static const char *base_name(const char *path)
{
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' && p[1])
            base = p + 1;
    return base;
}

static int emit_prpsinfo(struct out *o, const struct core_input *in)
{
    struct core_prpsinfo s;
    zero(&s, sizeof(s));
    s.sname = 'R';
    s.pid = (int32_t)in->pid;
    s.pgrp = (int32_t)in->pid;
    s.sid = (int32_t)in->pid;
    copy_name(s.fname, sizeof(s.fname), base_name(in->name));
    copy_name(s.psargs, sizeof(s.psargs), in->name);
    return emit_note(o, NT_PRPSINFO, &s, sizeof(s));
}

/* A region's bytes, CHUNK at a time; unreadable chunks become zeros. */
static int emit_region(struct out *o, const struct core_input *in, size_t i,
                       struct core_result *res)
{
    const struct core_region *r = &in->regions[i];
    unsigned char buf[CHUNK];
    for (uint64_t done = 0; done < r->size; done += CHUNK) {
        if (in->read(in->read_ctx, r->vaddr + done, buf, CHUNK) != 0) {
            zero(buf, sizeof(buf));
            res->unreadable |= (uint64_t)1 << i;
        }
        int err = emit(o, buf, CHUNK);
        if (err)
            return err;
    }
    return CORE_OK;
}

static int emit_all(struct out *o, const struct core_input *in, struct core_result *res)
{
    int err = emit_ehdr(o, in->nregions);
    if (!err)
        err = emit_phdrs(o, in);
    if (!err)
        err = emit_prstatus(o, in);
    if (!err)
        err = emit_prpsinfo(o, in);
    for (size_t i = 0; i < in->nregions && !err; i++) {
        err = pad_to(o, i ? o->pos : data_offset(in->nregions));
        if (!err)
            err = emit_region(o, in, i, res);
    }
    return err;
}

int core_write(const struct core_input *in, core_sink_fn sink, void *sink_ctx,
               struct core_result *res)
{
    uint64_t size;
    int err = core_size(in, &size);
    if (err)
        return err;
    if (!sink)
        return CORE_EINVAL;
    struct core_result local;
    if (!res)
        res = &local;
    zero(res, sizeof(*res));
    struct out o = { sink, sink_ctx, 0 };
    err = emit_all(&o, in, res);
    res->size = o.pos;
    return err;
}

struct buf_sink {
    unsigned char *buf;
    size_t cap, used;
};

/* Refuses (rather than truncates) anything past the end of the buffer. */
static int buf_put(void *ctx, const void *src, size_t len)
{
    struct buf_sink *b = ctx;
    if (len > b->cap - b->used)
        return 1;
    const unsigned char *s = src;
    for (size_t i = 0; i < len; i++)
        b->buf[b->used + i] = s[i];
    b->used += len;
    return 0;
}

int core_write_buf(const struct core_input *in, void *buf, size_t cap,
                   struct core_result *res)
{
    uint64_t size;
    int err = core_size(in, &size);
    if (err)
        return err;
    if (!buf && cap)
        return CORE_EINVAL;
    if (size > cap)
        return CORE_ESPACE;
    struct buf_sink b = { buf, cap, 0 };
    return core_write(in, buf_put, &b, res);
}

const char *core_strerror(int err)
{
    switch (err) {
    case CORE_OK:        return "ok";
    case CORE_EINVAL:    return "missing registers, name, callback or buffer";
    case CORE_ETOOMANY:  return "too many regions";
    case CORE_EREGION:   return "empty, unaligned, wrapping or overlapping region";
    case CORE_EOVERFLOW: return "core file too large";
    case CORE_ESPACE:    return "buffer too small";
    case CORE_ESINK:     return "output failed";
    default:             return "unknown error";
    }
}
