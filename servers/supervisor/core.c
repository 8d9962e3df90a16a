/*
 * core: the supervisor's exception handler.  A service that faults sends
 * its exception here (exception_set, through a connection whose badge
 * names the service); the supervisor writes an ELF core file of it
 * (lib/base/corefile: registers, the writable regions up to 1 MiB, read
 * with process_read) into memory, keeps the last CORES_KEPT of them (read back through the
 * control interface, core_get) and, the way to the host until there is a
 * disk, sends each to the console as base64 between "CORE BEGIN" and
 * "CORE END" lines, which tools/runtests (or a person) turns back into a
 * file for gdb.  Then the service dies with its fault status and its
 * restart policy applies.  A core too large to keep (CORE_KEEP_MAX) or
 * with no memory for it is only streamed to the console.
 *
 * Locking: the exception thread writes the kept cores, the main thread
 * reads them (core_get): a spinning lock.
 */
#include "core.h"

#include "base/corefile.h"
#include "base/string.h"
#include "kestrel/exception.h"
#include "kestrel/vm.h"
#include "rt/rt.h"
#include "rt/stdio.h"

#define CORE_REGION_MAX (1UL << 20)
#define CORE_KEEP_MAX (8UL << 20)
#define CORES_KEPT 4

struct kept {
    long vmo;                   /* 0: empty slot */
    const char *data;           /* mapped read-write here */
    uint64_t size;
    long time;                  /* clock, ns */
    char service[32];
};

static struct kept kept[CORES_KEPT];     /* kept[0] the newest */
static volatile int kept_lock;

static void lock(void)
{
    while (__atomic_exchange_n(&kept_lock, 1, __ATOMIC_ACQUIRE))
        k_thread_yield();
}

static void unlock(void)
{
    __atomic_store_n(&kept_lock, 0, __ATOMIC_RELEASE);
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

/* Writes the core of IN into a VMO of its exact size, mapped here:
 * 0, or an error (too large, no memory, bad input). */
static long keep(const struct core_input *in, struct kept *k)
{
    uint64_t size;
    if (core_size(in, &size) != CORE_OK || size == 0 || size > CORE_KEEP_MAX)
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
    *k = (struct kept){ .vmo = vmo, .data = (const char *)base, .size = size };
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
    struct kept k = { .vmo = 0 };
    if (keep(&in, &k) < 0)
        printf("supervisor: %s: core file not kept in memory (too large or no memory)\n", service);
    printf("CORE BEGIN %s %s\n", service, program);
    int r = k.vmo ? b64_sink(&b, k.data, k.size) : core_write(&in, b64_sink, &b, &res);
    b64_end(&b);
    printf("CORE END %lu bytes%s\n", (unsigned long)b.bytes, r ? " (incomplete)" : "");
    if (!k.vmo)
        return;
    size_t len = strnlen(service, sizeof(k.service) - 1);
    memcpy(k.service, service, len);
    k.service[len] = 0;
    k.time = k_clock_get();
    lock();
    struct kept old = kept[CORES_KEPT - 1];
    for (unsigned i = CORES_KEPT - 1; i > 0; i--)
        kept[i] = kept[i - 1];
    kept[0] = k;
    unlock();
    if (old.vmo) {
        k_vm_unmap(0, (long)old.data, (long)((old.size + 4095) & ~4095UL));
        k_handle_close(old.vmo);
    }
}

long core_get(unsigned index, uint64_t offset, struct supervisor_core_rep *rep)
{
    lock();
    unsigned count = 0;
    while (count < CORES_KEPT && kept[count].vmo)
        count++;
    rep->count = count;
    if (index >= count) {
        unlock();
        return -E_NOENT;
    }
    const struct kept *k = &kept[index];
    memcpy(rep->service, k->service, sizeof(rep->service));
    rep->size = k->size;
    rep->time_ms = (uint64_t)k->time / 1000000;
    if (offset < k->size) {
        uint64_t n = k->size - offset;
        rep->len = (uint32_t)(n < sizeof(rep->data) ? n : sizeof(rep->data));
        memcpy(rep->data, k->data + offset, rep->len);
    }
    unlock();
    return 0;
}
