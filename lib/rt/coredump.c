/*
 * coredump: core files kept in memory and copied to the console (see
 * coredump.h).
 */
#include "rt/coredump.h"

#include "base/corefile.h"
#include "base/string.h"
#include "kestrel/vm.h"
#include "rt/lock.h"
#include "rt/rt.h"
#include "rt/stdio.h"

#define CORE_REGION_MAX (1UL << 20)
#define MAX_REGIONS 32

static void lock(struct rt_cores *s)
{
    rt_lock(&s->lock);
}

static void unlock(struct rt_cores *s)
{
    rt_unlock(&s->lock);
}

struct b64 {
    unsigned char in[3];
    unsigned nin;
    char line[80];
    unsigned nline;
    uint64_t bytes;
};

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_flush_line(struct b64 *b)
{
    b->line[b->nline] = 0;
    printf("%s\n", b->line);
    b->nline = 0;
}

static void b64_group(struct b64 *b, unsigned n)
{
    unsigned v = (unsigned)b->in[0] << 16 | (unsigned)b->in[1] << 8 | b->in[2];
    b->line[b->nline++] = alphabet[v >> 18 & 63];
    b->line[b->nline++] = alphabet[v >> 12 & 63];
    b->line[b->nline++] = n > 1 ? alphabet[v >> 6 & 63] : '=';
    b->line[b->nline++] = n > 2 ? alphabet[v & 63] : '=';
    if (b->nline >= 76)
        b64_flush_line(b);
}

static int b64_sink(void *ctx, const void *data, size_t len)
{
    struct b64 *b = ctx;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        b->in[b->nin++] = p[i];
        if (b->nin == 3) {
            b64_group(b, 3);
            b->nin = 0;
        }
    }
    b->bytes += len;
    return 0;
}

static void b64_end(struct b64 *b)
{
    if (b->nin) {
        for (unsigned i = b->nin; i < 3; i++)
            b->in[i] = 0;
        b64_group(b, b->nin);
    }
    if (b->nline)
        b64_flush_line(b);
}

static int read_process(void *ctx, uint64_t vaddr, void *buf, size_t len)
{
    long proc = *(long *)ctx;
    for (size_t done = 0; done < len;) {
        size_t n = len - done > 65536 ? 65536 : len - done;
        if (k_process_read(proc, (long)(vaddr + done), (long)buf + (long)done, (long)n) != (long)n)
            return -1;
        done += n;
    }
    return 0;
}

static void release(struct rt_core *c)
{
    if (!c->vmo)
        return;
    k_vm_unmap(0, (long)c->data, (long)((c->size + 4095) & ~4095UL));
    k_handle_close(c->vmo);
    c->vmo = 0;
}

/* Writes the core of IN into a VMO of its exact size, mapped here:
 * 0, or an error (too large, no memory, bad input). */
static long keep(const struct core_input *in, struct rt_core *c)
{
    uint64_t size;
    if (core_size(in, &size) != CORE_OK || size == 0 || size > RT_CORE_KEEP_MAX)
        return -E_TOOBIG;
    long mapped = (long)((size + 4095) & ~4095UL);
    long vmo = k_vmo_create(mapped, K_VMO_ANON, 0, 0);
    long base = vmo >= 0 ? k_vmo_map(0, vmo, 0, mapped, K_PROT_READ | K_PROT_WRITE) : vmo;
    if (base < 0 || core_write_buf(in, (void *)base, (size_t)size, 0) != CORE_OK) {
        if (base >= 0)
            k_vm_unmap(0, base, mapped);
        if (vmo >= 0)
            k_handle_close(vmo);
        return base < 0 ? base : -E_INVAL;
    }
    c->vmo = vmo;
    c->data = (const char *)base;
    c->size = size;
    return 0;
}

static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

void rt_core_capture(struct rt_cores *s, const char *name, const char *program, long proc,
                     const struct k_exception *e, uint64_t owner, struct rt_core *c)
{
    static struct k_region kr[MAX_REGIONS];
    static struct core_region regions[MAX_REGIONS];
    memset(c, 0, sizeof(*c));
    copy_str(c->name, sizeof(c->name), name);
    copy_str(c->program, sizeof(c->program), program);
    c->time = k_clock_get();
    c->owner = owner;
    long n = k_process_regions(proc, (long)kr, MAX_REGIONS);
    size_t nreg = 0;
    for (long i = 0; i < n && i < MAX_REGIONS; i++) {
        if (!(kr[i].prot & K_PROT_WRITE) || kr[i].size > CORE_REGION_MAX)
            continue;                     /* text is in the program file; skip big heaps */
        regions[nreg++] = (struct core_region){ kr[i].start, kr[i].size, CORE_R | CORE_W };
    }
    struct core_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = e->rip;
    regs.rsp = e->rsp;
    regs.rbp = e->rbp;
    regs.rflags = e->rflags;
    regs.rax = e->rax, regs.rbx = e->rbx, regs.rcx = e->rcx, regs.rdx = e->rdx;
    regs.rsi = e->rsi, regs.rdi = e->rdi, regs.r8 = e->r8, regs.r9 = e->r9;
    regs.r10 = e->r10, regs.r11 = e->r11, regs.r12 = e->r12, regs.r13 = e->r13;
    regs.r14 = e->r14, regs.r15 = e->r15;
    regs.orig_rax = ~0ULL;                /* not in a system call */
    regs.cs = 0x2b;
    regs.ss = 0x23;
    struct core_input in = { &regs, e->vector, (uint32_t)e->pid, (uint32_t)e->tid, program,
                             regions, nreg, read_process, &proc };
    if (keep(&in, c) == 0)
        return;
    /* Not kept: to the console now, while the memory is there to read. */
    printf("%s: %s: core file not kept in memory (too large or no memory)\n", s->who, name);
    struct b64 b = { .nin = 0 };
    struct core_result res;
    printf("CORE BEGIN %s %s\n", name, program);
    int r = core_write(&in, b64_sink, &b, &res);
    b64_end(&b);
    printf("CORE END %lu bytes%s\n", (unsigned long)b.bytes, r ? " (incomplete)" : "");
}

void rt_core_finish(struct rt_cores *s, struct rt_core *c, bool print)
{
    if (!c->vmo)
        return;
    if (print) {
        struct b64 b = { .nin = 0 };
        printf("CORE BEGIN %s %s\n", c->name, c->program);
        b64_sink(&b, c->data, c->size);
        b64_end(&b);
        printf("CORE END %lu bytes\n", (unsigned long)b.bytes);
    }
    lock(s);
    struct rt_core old = s->kept[RT_CORES_KEPT - 1];
    for (unsigned i = RT_CORES_KEPT - 1; i > 0; i--)
        s->kept[i] = s->kept[i - 1];
    s->kept[0] = *c;
    unlock(s);
    c->vmo = 0;                       /* the store's now */
    release(&old);
}

long rt_core_get(struct rt_cores *s, uint64_t owner, unsigned index, uint64_t offset,
                 uint32_t *count, char name[32], uint64_t *size, uint64_t *time_ms, void *buf,
                 uint32_t *len, size_t cap)
{
    lock(s);
    const struct rt_core *mine[RT_CORES_KEPT];
    unsigned n = 0;
    for (unsigned i = 0; i < RT_CORES_KEPT; i++)
        if (s->kept[i].vmo && (owner == RT_CORE_ANY_OWNER || s->kept[i].owner == owner))
            mine[n++] = &s->kept[i];
    *count = n;
    *len = 0;
    if (index >= n) {
        unlock(s);
        return -E_NOENT;
    }
    const struct rt_core *c = mine[index];
    memcpy(name, c->name, 32);
    *size = c->size;
    *time_ms = (uint64_t)c->time / 1000000;
    if (offset < c->size) {
        uint64_t left = c->size - offset;
        *len = (uint32_t)(left < cap ? left : cap);
        memcpy(buf, c->data + offset, *len);
    }
    unlock(s);
    return 0;
}
