/*
 * core: init's exception handler.  A service that faults sends its
 * exception here (exception_set, through a connection whose badge names
 * the service); init writes an ELF core file of it (lib/base/corefile:
 * registers, the writable regions up to 1 MiB, read with process_read)
 * and, until there is a disk, sends it to the console as base64 between
 * "CORE BEGIN" and "CORE END" lines, which tools/runtests (or a person)
 * turns back into a file for gdb.  Then the service dies with its fault
 * status and init's restart policy applies.
 */
#include "core.h"

#include "base/corefile.h"
#include "base/string.h"
#include "kestrel/exception.h"
#include "kestrel/vm.h"
#include "rt/rt.h"
#include "rt/stdio.h"

#define CORE_REGION_MAX (1UL << 20)

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

void core_dump(const char *service, const char *program, long proc, const struct k_exception *e)
{
    static struct k_region kr[32];
    static struct core_region regions[32];
    long n = k_process_regions(proc, (long)kr, 32);
    size_t nreg = 0;
    for (long i = 0; i < n && i < 32; i++) {
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
    regs.cs = 0x2b;
    regs.ss = 0x23;
    struct core_input in = { &regs, e->vector, (uint32_t)e->pid, (uint32_t)e->tid, program,
                             regions, nreg, read_process, &proc };
    struct b64 b = { .nin = 0 };
    struct core_result res;
    printf("CORE BEGIN %s %s\n", service, program);
    int r = core_write(&in, b64_sink, &b, &res);
    b64_end(&b);
    printf("CORE END %lu bytes%s\n", (unsigned long)b.bytes, r ? " (incomplete)" : "");
}
