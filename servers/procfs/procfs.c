/*
 * procfs: /proc, served on protocols/file.proto, for ps, top, free,
 * uptime and df.
 *
 *     bin/procfs [--mount PATH:TYPE ...]
 *
 * What it shows:
 *   meminfo, stat, uptime, loadavg    from the kernel (sys_info) and the clock
 *   mounts                            the file systems the manifest gave it (--mount)
 *   PID/stat, status, cmdline, comm   for each process that told us about itself
 *   self                              the caller's own PID directory
 * A Linux process tells procfs about itself by writing a record to
 * /proc/self/kestrel (the personality does, at start, after fork and
 * exec, and when its group or state changes): "STATE PPID PGID SID
 * NTHREADS [SIGBLK SIGIGN SIGCGT CPUS]\nCOMM\nARGV0\0ARGV1\0..." (the
 * masks in hexadecimal, status's SigBlk, SigIgn, SigCgt, Cpus_allowed).  The record is keyed by the
 * writer's pid as the kernel reports it, so a process can describe only
 * itself, and it goes when the connection it was written through ends
 * (the process died).  Processes that never write (native services) are
 * not listed yet: there is no system call that lists processes.
 *
 * Start-up handles: "chan" (from init).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "protocols/file.h"
#include "rt/malloc.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/filesrv.h"
#include "srv/srv.h"

#define ERR(e) FILE_ERR(e)
#define ENOENT 2
#define EBADF 9
#define ENOMEM 12
#define EACCES 13
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENOSPC 28
#define ESPIPE 29
#define ENOTTY 25
#define S_IFDIR 0040000
#define S_IFREG 0100000
#define S_IFLNK 0120000
#define POS_CURRENT (~0ULL)

#define MAX_PROCS 256
#define RECORD_MAX 4096
#define MAX_MOUNTS 16

struct proc {
    uint64_t pid;                      /* 0: free */
    void *owner;                       /* the open file it was written through */
    char state;
    uint64_t ppid, pgid, sid, nthreads;
    uint64_t sigblk, sigign, sigcgt, cpus;     /* as of its last registration; cpus 0: unknown */
    int64_t start_ns;
    char comm[16];
    char cmdline[1024];                /* NUL-separated */
    size_t cmdline_len;
};

/* What an open file is: a directory (the root or a PID's), a generated
 * file (its text made at open, read from there), or the registration file. */
enum kind { K_ROOT, K_PIDDIR, K_FILE, K_REGISTER };

struct ocb {
    enum kind kind;
    uint64_t pid;                      /* K_PIDDIR */
    char *text;                        /* K_FILE */
    size_t len;
    uint64_t pos;
};

static struct proc procs[MAX_PROCS];
static struct {
    char path[64], type[16];
} mounts[MAX_MOUNTS];
static unsigned nmounts;
static struct srv server;
static struct srv_msg *cur;
static int64_t boot_ns_at_start;

static struct proc *proc_of(uint64_t pid)
{
    for (unsigned i = 0; i < MAX_PROCS; i++)
        if (procs[i].pid == pid && pid)
            return &procs[i];
    return NULL;
}

/* ---- generated files ---- */

struct text {
    char *buf;
    size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (t->len < t->cap) {
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        if (n > 0)
            t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
    }
    va_end(ap);
}

static struct k_sysinfo sysinfo(void)
{
    struct k_sysinfo s;
    memset(&s, 0, sizeof(s));
    k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&s, 0);
    return s;
}

static unsigned nprocs(unsigned *running)
{
    unsigned n = 0, r = 0;
    for (unsigned i = 0; i < MAX_PROCS; i++)
        if (procs[i].pid) {
            n++;
            r += procs[i].state == 'R';
        }
    if (running)
        *running = r;
    return n;
}

/* The file NAME of the PID directory of P, or of the root (P NULL). */
static bool generate(struct proc *p, const char *name, struct text *t)
{
    long now = k_clock_get();
    if (!p && strcmp(name, "meminfo") == 0) {
        struct k_sysinfo s = sysinfo();
        uint64_t total = s.ram_bytes / 1024, free = s.free_bytes / 1024;
        put(t, "MemTotal:       %8lu kB\nMemFree:        %8lu kB\nMemAvailable:   %8lu kB\n"
               "Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n"
               "Active:                0 kB\nInactive:              0 kB\nSwapTotal:             0 kB\n"
               "SwapFree:              0 kB\nShmem:                 0 kB\nSlab:           %8lu kB\n",
            (unsigned long)total, (unsigned long)free, (unsigned long)free,
            (unsigned long)(s.kmem_pages * 4 + s.kmalloc_objects / 16));
        return true;
    }
    if (!p && strcmp(name, "uptime") == 0) {
        long cs = now / 10000000;
        put(t, "%ld.%02ld 0.00\n", cs / 100, cs % 100);
        return true;
    }
    if (!p && strcmp(name, "loadavg") == 0) {
        unsigned running;
        unsigned n = nprocs(&running);
        put(t, "0.00 0.00 0.00 %u/%u 0\n", running, n);
        return true;
    }
    if (!p && strcmp(name, "stat") == 0) {
        struct k_sysinfo s = sysinfo();
        /* No per-CPU time accounting yet: idle shows as all of it. */
        long ticks = now / 10000000;
        put(t, "cpu  0 0 0 %ld 0 0 0 0 0 0\n", ticks * (long)s.ncpus);
        for (uint64_t c = 0; c < s.ncpus; c++)
            put(t, "cpu%lu 0 0 0 %ld 0 0 0 0 0 0\n", (unsigned long)c, ticks);
        unsigned running;
        unsigned n = nprocs(&running);
        put(t, "intr 0\nctxt 0\nbtime %lu\nprocesses %u\nprocs_running %u\nprocs_blocked 0\n",
            (unsigned long)(1767225600UL), n, running);
        return true;
    }
    if (!p && strcmp(name, "mounts") == 0) {
        for (unsigned i = 0; i < nmounts; i++)
            put(t, "%s %s %s rw 0 0\n", mounts[i].type, mounts[i].path, mounts[i].type);
        return true;
    }
    if (!p && strcmp(name, "filesystems") == 0) {
        put(t, "nodev\tramfs\nnodev\ttmpfs\nnodev\tproc\n");
        return true;
    }
    if (!p)
        return false;
    long age = (now - p->start_ns) / 10000000;
    if (strcmp(name, "stat") == 0) {
        /* pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
         * majflt cmajflt utime stime cutime cstime priority nice num_threads
         * itrealvalue starttime vsize rss ... */
        put(t, "%lu (%s) %c %lu %lu %lu 0 -1 0 0 0 0 0 0 0 0 0 20 0 %lu 0 %ld 0 0 "
               "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            (unsigned long)p->pid, p->comm, p->state, (unsigned long)p->ppid,
            (unsigned long)p->pgid, (unsigned long)p->sid, (unsigned long)p->nthreads,
            (long)(p->start_ns / 10000000));
        (void)age;
        return true;
    }
    if (strcmp(name, "status") == 0) {
        const char *st = p->state == 'T' ? "T (stopped)" : p->state == 'S' ? "S (sleeping)"
                                                                            : "R (running)";
        put(t, "Name:\t%s\nState:\t%s\nTgid:\t%lu\nPid:\t%lu\nPPid:\t%lu\nUid:\t0\t0\t0\t0\n"
               "Gid:\t0\t0\t0\t0\nThreads:\t%lu\nSigPnd:\t%016lx\nSigBlk:\t%016lx\n"
               "SigIgn:\t%016lx\nSigCgt:\t%016lx\n",
            p->comm, st, (unsigned long)p->pid, (unsigned long)p->pid, (unsigned long)p->ppid,
            (unsigned long)p->nthreads, 0UL, (unsigned long)p->sigblk,
            (unsigned long)p->sigign, (unsigned long)p->sigcgt);
        if (p->cpus)
            put(t, "Cpus_allowed:\t%lx\n", (unsigned long)p->cpus);
        return true;
    }
    if (strcmp(name, "cmdline") == 0) {
        size_t n = p->cmdline_len < t->cap ? p->cmdline_len : t->cap;
        memcpy(t->buf, p->cmdline, n);
        t->len = n;
        return true;
    }
    if (strcmp(name, "comm") == 0) {
        put(t, "%s\n", p->comm);
        return true;
    }
    return false;
}

static const char *const root_files[] = { "meminfo", "stat", "uptime", "loadavg", "mounts",
                                          "filesystems" };
static const char *const pid_files[] = { "stat", "status", "cmdline", "comm" };

/* ---- paths ---- */

static bool parse_pid(const char *s, size_t n, uint64_t *pid)
{
    if (n == 0 || n > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *pid = v;
    return v != 0;
}

/* What PATH names: its kind, pid and file name (NAME, 32 bytes). */
static long lookup(const char *path, size_t len, enum kind *kind, uint64_t *pid, char *name,
                   bool *is_link)
{
    const char *c[3];
    size_t cl[3];
    unsigned n = 0;
    size_t i = 0;
    *is_link = false;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        if (i == len)
            break;
        size_t s = i;
        while (i < len && path[i] != '/')
            i++;
        if (n == 3)
            return ERR(ENOENT);
        c[n] = path + s;
        cl[n++] = i - s;
    }
    for (unsigned k = 0; k < n; k++)
        if (memchr(c[k], 0, cl[k]))
            return ERR(EINVAL);
    name[0] = 0;
    if (n == 0) {
        *kind = K_ROOT;
        return 0;
    }
    uint64_t p = 0;
    if (cl[0] == 4 && memcmp(c[0], "self", 4) == 0) {
        p = cur->info.pid;
        if (n == 1)
            *is_link = true;
    } else if (!parse_pid(c[0], cl[0], &p)) {
        if (n != 1 || cl[0] >= 32)
            return ERR(ENOENT);
        memcpy(name, c[0], cl[0]);
        name[cl[0]] = 0;
        for (size_t k = 0; k < sizeof(root_files) / sizeof(root_files[0]); k++)
            if (strcmp(name, root_files[k]) == 0) {
                *kind = K_FILE;
                *pid = 0;
                return 0;
            }
        return ERR(ENOENT);
    }
    *pid = p;
    if (n == 1) {
        if (!proc_of(p) && !*is_link)
            return ERR(ENOENT);
        *kind = K_PIDDIR;
        return 0;
    }
    if (cl[1] >= 32)
        return ERR(ENOENT);
    memcpy(name, c[1], cl[1]);
    name[cl[1]] = 0;
    if (n == 2 && strcmp(name, "kestrel") == 0 && p == cur->info.pid) {
        *kind = K_REGISTER;
        return 0;
    }
    if (n != 2 || !proc_of(p))
        return ERR(ENOENT);
    for (size_t k = 0; k < sizeof(pid_files) / sizeof(pid_files[0]); k++)
        if (strcmp(name, pid_files[k]) == 0) {
            *kind = K_FILE;
            return 0;
        }
    return ERR(ENOENT);
}

/* ---- messages ---- */

static long on_open(void *ctx, long rcvid, const struct file_open_req *req, const void *payload,
                    size_t len, struct file_open_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)out;
    enum kind kind;
    uint64_t pid = 0;
    char name[32];
    bool link;
    long r = lookup(payload, len, &kind, &pid, name, &link);
    if (r < 0)
        return r;
    bool wants_write = (req->flags & 3) != 0;
    if (kind == K_REGISTER ? !wants_write : wants_write)
        return kind == K_ROOT || kind == K_PIDDIR ? ERR(EISDIR) : ERR(EACCES);
    if (req->flags & 0100)
        return ERR(EACCES);             /* O_CREAT: nothing is made here */
    struct ocb *o = calloc(1, sizeof(*o));
    if (!o)
        return ERR(ENOMEM);
    o->kind = kind;
    o->pid = pid;
    if (kind == K_FILE) {
        struct text t = { malloc(8192), 0, 8192 };
        if (!t.buf || !generate(pid ? proc_of(pid) : NULL, name, &t)) {
            free(t.buf);
            free(o);
            return ERR(ENOENT);
        }
        o->text = t.buf;
        o->len = t.len;
    }
    long c = srv_client_new(&server, o);
    if (c < 0) {
        free(o->text);
        free(o);
        return ERR(ENOMEM);
    }
    k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    rep->mode = kind == K_ROOT || kind == K_PIDDIR ? S_IFDIR | 0555 : S_IFREG | 0444;
    rep->ino = pid * 16 + (uint64_t)kind;
    return 0;
}

static struct ocb *ocb_of(void)
{
    return cur->client;
}

static long on_read(void *ctx, long rcvid, const struct file_read_req *req,
                    struct file_read_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)rep;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (o->kind == K_ROOT || o->kind == K_PIDDIR)
        return ERR(EISDIR);
    if (o->kind != K_FILE)
        return ERR(EBADF);
    uint64_t at = req->offset == POS_CURRENT ? o->pos : req->offset;
    size_t n = at >= o->len ? 0 : o->len - (size_t)at;
    if (n > req->len)
        n = req->len;
    out->data = o->text + (n ? at : 0);
    out->len = n;
    if (req->offset == POS_CURRENT)
        o->pos = at + n;
    return (long)n;
}

/* The registration: "STATE PPID PGID SID NTHREADS [SIGBLK SIGIGN SIGCGT
 * CPUS]\nCOMM\nCMDLINE", the four in brackets hexadecimal masks. */
static long do_register(struct ocb *o, const char *rec, size_t len)
{
    if (!o || o->kind != K_REGISTER)
        return ERR(EBADF);
    if (len == 0 || len > RECORD_MAX)
        return ERR(EINVAL);
    char head[160];
    const char *nl = memchr(rec, '\n', len < sizeof(head) ? len : sizeof(head));
    if (!nl)
        return ERR(EINVAL);
    size_t hl = (size_t)(nl - rec);
    memcpy(head, rec, hl);
    head[hl] = 0;
    uint64_t v[4] = { 0 };
    char state = head[0];
    if (state != 'R' && state != 'S' && state != 'T')
        return ERR(EINVAL);
    const char *p = head + 1;
    for (int k = 0; k < 4; k++) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            return ERR(EINVAL);
        while (*p >= '0' && *p <= '9')
            v[k] = v[k] * 10 + (uint64_t)(*p++ - '0');
    }
    uint64_t m[4] = { 0 };
    for (int k = 0; k < 4; k++) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        int digits = 0;
        for (;; p++, digits++) {
            int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
            if (d < 0)
                break;
            if (digits == 16)
                return ERR(EINVAL);
            m[k] = m[k] << 4 | (uint64_t)d;
        }
        if (!digits || (*p && *p != ' '))
            return ERR(EINVAL);
    }
    const char *comm = nl + 1, *end = rec + len;
    const char *nl2 = memchr(comm, '\n', (size_t)(end - comm));
    if (!nl2)
        return ERR(EINVAL);
    struct proc *pr = proc_of(o->pid);
    if (!pr) {
        for (unsigned i = 0; i < MAX_PROCS && !pr; i++)
            if (!procs[i].pid)
                pr = &procs[i];
        if (!pr)
            return ERR(ENOSPC);
        memset(pr, 0, sizeof(*pr));
        pr->pid = o->pid;
        pr->start_ns = k_clock_get();
    }
    pr->owner = o;
    pr->state = state;
    pr->ppid = v[0], pr->pgid = v[1], pr->sid = v[2], pr->nthreads = v[3] ? v[3] : 1;
    pr->sigblk = m[0], pr->sigign = m[1], pr->sigcgt = m[2], pr->cpus = m[3];
    size_t cl = (size_t)(nl2 - comm) < sizeof(pr->comm) - 1 ? (size_t)(nl2 - comm)
                                                           : sizeof(pr->comm) - 1;
    memcpy(pr->comm, comm, cl);
    pr->comm[cl] = 0;
    for (size_t i = 0; i < cl; i++)
        if (pr->comm[i] == ')' || pr->comm[i] == ' ')
            pr->comm[i] = '_';          /* ps parses "(comm)" */
    size_t al = (size_t)(end - (nl2 + 1));
    if (al > sizeof(pr->cmdline))
        al = sizeof(pr->cmdline);
    memcpy(pr->cmdline, nl2 + 1, al);
    pr->cmdline_len = al;
    return (long)len;
}

static long on_write(void *ctx, long rcvid, const struct file_write_req *req, const void *payload,
                     size_t len, struct file_write_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    return do_register(ocb_of(), payload, len);
}

static void fill_stat(enum kind kind, uint64_t pid, struct file_stat_rep *rep)
{
    bool dir = kind == K_ROOT || kind == K_PIDDIR;
    *rep = (struct file_stat_rep){ .dev = 5, .ino = pid * 16 + (uint64_t)kind,
                                   .mode = dir ? S_IFDIR | 0555 : S_IFREG | 0444,
                                   .nlink = dir ? 2 : 1, .blksize = 1024 };
    struct proc *p = proc_of(pid);
    if (p)
        rep->mtime_ns = rep->ctime_ns = rep->atime_ns = 1767225600LL * 1000000000 + p->start_ns;
}

static long on_stat(void *ctx, long rcvid, const struct file_stat_req *req, const void *payload,
                    size_t len, struct file_stat_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!len) {
        if (o)
            fill_stat(o->kind, o->pid, rep);
        else
            fill_stat(K_ROOT, 0, rep);
        return 0;
    }
    enum kind kind;
    uint64_t pid = 0;
    char name[32];
    bool link;
    long r = lookup(payload, len, &kind, &pid, name, &link);
    if (r < 0)
        return r;
    fill_stat(kind, pid, rep);
    if (link && (req->flags & 0x100))
        rep->mode = S_IFLNK | 0777;
    return 0;
}

static long on_readlink(void *ctx, long rcvid, const struct file_readlink_req *req,
                        const void *payload, size_t len, struct file_readlink_rep *rep,
                        struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    if (len == 4 && memcmp(payload, "self", 4) == 0) {
        static char buf[24];
        snprintf(buf, sizeof(buf), "%lu", (unsigned long)cur->info.pid);
        out->data = buf;
        out->len = strlen(buf);
        return (long)out->len;
    }
    return ERR(EINVAL);
}

static long on_readdir(void *ctx, long rcvid, const struct file_readdir_req *req,
                       struct file_readdir_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)rep;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (o->kind != K_ROOT && o->kind != K_PIDDIR)
        return ERR(ENOTDIR);
    static uint8_t buf[8192];
    size_t cap = req->len < sizeof(buf) ? req->len : sizeof(buf), used = 0;
    /* Cookies: 1 ".", 2 "..", 3... the names, then 1000 + slot for PIDs. */
    uint64_t c = req->cookie;
    const char *const *files = o->kind == K_ROOT ? root_files : pid_files;
    size_t nfiles = o->kind == K_ROOT ? sizeof(root_files) / sizeof(root_files[0])
                                      : sizeof(pid_files) / sizeof(pid_files[0]);
    for (;;) {
        char name[32];
        uint8_t type = 4;
        uint64_t next = c + 1;
        if (c == 0) {
            memcpy(name, ".", 2);
        } else if (c == 1) {
            memcpy(name, "..", 3);
        } else if (c - 2 < nfiles) {
            memcpy(name, files[c - 2], strlen(files[c - 2]) + 1);
            type = 8;
        } else if (o->kind == K_ROOT && c - 2 == nfiles) {
            memcpy(name, "self", 5);
            type = 10;
            next = 1000;
        } else if (o->kind == K_ROOT && c >= 1000 && c < 1000 + MAX_PROCS) {
            unsigned i = (unsigned)(c - 1000);
            while (i < MAX_PROCS && !procs[i].pid)
                i++;
            if (i == MAX_PROCS)
                break;
            snprintf(name, sizeof(name), "%lu", (unsigned long)procs[i].pid);
            next = 1000 + i + 1;
        } else {
            break;
        }
        if (!filesrv_dirent(buf, cap, &used, c + 1, next, type, name)) {
            if (!used)
                return ERR(EINVAL);
            break;
        }
        c = next;
    }
    out->data = buf;
    out->len = used;
    return (long)used;
}

static long on_seek(void *ctx, long rcvid, const struct file_seek_req *req,
                    struct file_seek_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    int64_t base = req->whence == 0 ? 0 : req->whence == 1 ? (int64_t)o->pos
                 : req->whence == 2 ? (int64_t)o->len : -1;
    if (base < 0 || base + req->offset < 0)
        return ERR(EINVAL);
    o->pos = (uint64_t)(base + req->offset);
    rep->position = o->pos;
    return 0;
}

static long on_statfs(void *ctx, long rcvid, const struct file_statfs_req *req,
                      struct file_statfs_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    *rep = (struct file_statfs_rep){ .type = 0x9fa0, .bsize = 4096, .namelen = 255, .flags = 1 };
    return 0;
}

static long on_notify(void *ctx, long rcvid, const struct file_notify_req *req,
                      struct file_notify_rep *rep)
{
    (void)ctx, (void)rcvid;
    rep->revents = req->events & 5;
    return ocb_of() ? 0 : ERR(EBADF);
}

static long on_ioctl(void *ctx, long rcvid, const struct file_ioctl_req *req, const void *payload,
                     size_t len, struct file_ioctl_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)req, (void)payload, (void)len, (void)rep, (void)out;
    return ERR(ENOTTY);
}

static const struct file_server table = {
    .open = on_open, .read = on_read, .write = on_write, .stat = on_stat, .readdir = on_readdir,
    .readlink = on_readlink, .seek = on_seek, .statfs = on_statfs, .notify = on_notify,
    .ioctl = on_ioctl,
};

#define MSG_MAX (sizeof(struct k_proto_hdr) + 64 + RECORD_MAX + 64)

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];
    cur = m;
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    file_dispatch(&table, m->rcvid, m->data, m->len);
    return SRV_REPLIED;
}

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    struct ocb *o = data;
    if (o->kind == K_REGISTER)
        for (unsigned i = 0; i < MAX_PROCS; i++)
            if (procs[i].pid && procs[i].owner == o)
                memset(&procs[i], 0, sizeof(procs[i]));     /* the process is gone */
    free(o->text);
    free(o);
}

static const struct srv_ops ops = { .message = on_message, .disconnect = on_disconnect };

int main(int argc, char **argv)
{
    boot_ns_at_start = k_clock_get();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mount") == 0 && i + 1 < argc && nmounts < MAX_MOUNTS) {
            const char *a = argv[++i], *colon = strchr(a, ':');
            size_t pl = colon ? (size_t)(colon - a) : 0;
            if (!colon || pl == 0 || pl >= sizeof(mounts[0].path) ||
                strlen(colon + 1) >= sizeof(mounts[0].type)) {
                printf("procfs: bad --mount %s (PATH:TYPE)\n", a);
                return 2;
            }
            memcpy(mounts[nmounts].path, a, pl);
            memcpy(mounts[nmounts].type, colon + 1, strlen(colon + 1) + 1);
            nmounts++;
        } else {
            printf("procfs: usage: bin/procfs [--mount PATH:TYPE ...]\n");
            return 2;
        }
    }
    return srv_main(&server, "procfs", &ops, procs);
}
