/*
 * devfs: the character devices of /dev that need no hardware, served on
 * protocols/file.proto at /dev.
 *
 *     null      reads: end of file; writes: swallowed
 *     zero      reads: zeros; writes: swallowed
 *     full      reads: zeros; writes: ENOSPC
 *     random    reads: pseudo-random bytes; writes: swallowed
 *     urandom   the same
 *
 * Their numbers are Linux's (major 1; minor 3, 5, 7, 8, 9; rdev is
 * major << 8 | minor), so programs that look at st_rdev see what they
 * expect.  Every open is a connection of its own (lib/srv minted) with
 * its open flags and, for random and urandom, its own generator.
 *
 * random and urandom are NOT cryptographic: there is no entropy source
 * here yet (no RDRAND use, no interrupt timing).  Each open file's
 * generator is xoshiro256** seeded through splitmix64 from k_clock_get,
 * a counter of opens and the state's address; good statistically,
 * predictable to anyone who can guess the boot's clock.
 *
 * The name space: procmgr resolves the longest prefix, so /dev/console
 * and /dev/tty (the tty server), /dev/pipe (pipes), /dev/log and
 * /dev/uart stay with their servers, and the rest of /dev comes here.
 * readdir of /dev lists our devices and then those of the well-known
 * names (others[] below) that some other server has attached exactly
 * (resolving "/dev/NAME" gives an empty rest) and that answer stat
 * there: ls /dev shows the terminal (console, tty) too, but not
 * /dev/pipe, /dev/log or /dev/uart, whose servers do not stat their
 * mounts.  Their d_type is DT_UNKNOWN, so a reader that wants the
 * type stats them, which asks their own server.  Without a "procmgr"
 * start-up handle only our own names are listed.
 *
 * Reads of zero, full and the generators give what was asked up to
 * READ_MAX (16 MiB) per call, a short read beyond that (Linux's urandom
 * stops at 32 MiB).  Writes are answered from their header: the data is
 * never read.  Nothing here waits, so notify always reports ready, seek
 * answers 0 as Linux's do for these, and ioctl is ENOTTY.
 *
 * One thread (srv_main): the state below needs no lock.
 * Start-up handles: "chan" (from init), "procmgr" (optional, readdir).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "protocols/file.h"
#include "rt/malloc.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/filesrv.h"
#include "srv/srv.h"

#define ERR(e) FILE_ERR(e)
#define ENOENT 2
#define EBADF 9
#define ENOMEM 12
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENOTTY 25
#define ENOSPC 28
#define EROFS 30

#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define O_ACCMODE 3
#define O_RDONLY 0
#define O_WRONLY 1
#define O_CREAT 0100
#define O_DIRECTORY 0200000
#define DT_UNKNOWN 0
#define DT_CHR 2
#define DT_DIR 4

#define DEVFS_DEV 6                 /* st_dev of everything here */
#define READ_MAX (16u << 20)
#define CHUNK 65536

enum kind { DIR, NUL, ZERO, FULL, RANDOM };

struct dev {
    const char *name;
    enum kind kind;
    uint32_t minor;                 /* major 1 */
};

/* [0] is the directory itself; ino = index + 1. */
static const struct dev devs[] = {
    { "", DIR, 0 },
    { "null", NUL, 3 },
    { "zero", ZERO, 5 },
    { "full", FULL, 7 },
    { "random", RANDOM, 8 },
    { "urandom", RANDOM, 9 },
};
#define NDEVS (sizeof(devs) / sizeof(devs[0]))

/* Names of /dev that other servers serve, listed when they are attached. */
static const char *const others[] = { "console", "tty", "ptmx", "pts", "pipe", "log", "uart" };
#define NOTHERS (sizeof(others) / sizeof(others[0]))

struct ocb {
    const struct dev *dev;
    uint32_t flags;
    uint64_t s[4];                  /* xoshiro256** (random, urandom) */
};

static struct srv server;
static struct srv_msg *cur;
static int64_t start_ns;            /* the times stat reports */
static uint64_t opens;

/* ---- the generator ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t *s)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static void seed(struct ocb *o)
{
    uint64_t x = (uint64_t)k_clock_get() ^ (++opens << 32) ^ (uint64_t)(uintptr_t)o;
    for (int i = 0; i < 4; i++)
        o->s[i] = splitmix64(&x);
}

static void fill_random(struct ocb *o, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = xoshiro_next(o->s);
        memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
    }
}

/* ---- names ---- */

/* The device PATH (LEN bytes, relative to /dev) names, or NULL with *ERR. */
static const struct dev *lookup(const char *path, size_t len, long *err)
{
    while (len && path[len - 1] == '/')
        len--;
    while (len && path[0] == '/')
        path++, len--;
    if (len == 0 || (len == 1 && path[0] == '.'))
        return &devs[0];
    const char *slash = memchr(path, '/', len);
    size_t first = slash ? (size_t)(slash - path) : len;
    for (size_t i = 1; i < NDEVS; i++)
        if (strlen(devs[i].name) == first && memcmp(devs[i].name, path, first) == 0) {
            if (!slash)
                return &devs[i];
            *err = ERR(ENOTDIR);            /* "null/x" */
            return NULL;
        }
    if (first == 2 && path[0] == '.' && path[1] == '.' && !slash)
        return &devs[0];                    /* the client normalises paths; be kind */
    *err = ERR(ENOENT);
    return NULL;
}

static uint64_t ino_of(const struct dev *d)
{
    return (uint64_t)(d - devs) + 1;
}

static uint32_t mode_of(const struct dev *d)
{
    return d->kind == DIR ? S_IFDIR | 0755 : S_IFCHR | 0666;
}

/* Whether another server has attached "/dev/NAME" itself, and answers
 * stat there (a listed name that ls cannot stat is an error on screen). */
static bool attached_elsewhere(const char *name)
{
    char path[32], rest[64];
    snprintf(path, sizeof(path), "/dev/%s", name);
    long c = rt_resolve(path, rest, sizeof(rest));
    if (c < 0)
        return false;
    const char *p = rest;
    while (*p == '/')
        p++;
    struct file_stat_req q = { 0 };
    struct file_stat_rep st;
    bool ok = *p == 0 && file_stat(c, &q, "", 0, &st) >= 0;
    k_handle_close(c);
    return ok;
}

/* ---- messages ---- */

static struct ocb *ocb_of(void)
{
    return cur->client;
}

static long on_open(void *ctx, long rcvid, const struct file_open_req *req, const void *payload,
                    size_t len, struct file_open_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)out;
    long err = 0;
    const struct dev *d = lookup(payload, len, &err);
    if (!d)
        return err == ERR(ENOENT) && (req->flags & O_CREAT) ? ERR(EROFS) : err;
    if (d->kind == DIR && (req->flags & O_ACCMODE) != O_RDONLY)
        return ERR(EISDIR);
    if (d->kind != DIR && (req->flags & O_DIRECTORY))
        return ERR(ENOTDIR);
    struct ocb *o = calloc(1, sizeof(*o));
    if (!o)
        return ERR(ENOMEM);
    o->dev = d;
    o->flags = req->flags;
    if (d->kind == RANDOM)
        seed(o);
    long c = srv_client_new(&server, o);
    if (c < 0) {
        free(o);
        return ERR(ENOMEM);
    }
    k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    rep->mode = mode_of(d);
    rep->oflags = 0;                        /* not seekable, not a terminal */
    rep->ino = ino_of(d);
    rep->size = 0;
    return 0;
}

static long on_read(void *ctx, long rcvid, const struct file_read_req *req,
                    struct file_read_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rep;
    struct ocb *o = ocb_of();
    if (!o || (o->flags & O_ACCMODE) == O_WRONLY)
        return ERR(EBADF);
    if (o->dev->kind == DIR)
        return ERR(EISDIR);
    if (o->dev->kind == NUL)
        return 0;
    static uint8_t buf[CHUNK];
    static bool zeroed;                     /* buf holds zeros (not random bytes) */
    uint32_t want = req->len < READ_MAX ? req->len : READ_MAX;
    /* No more than the reader's buffer takes after the reply struct (a
     * k_msg_write past it fails: the read would be E_FAULT). */
    uint64_t room = cur->info.reply_len > out->rep_len ? cur->info.reply_len - out->rep_len : 0;
    if (want > room)
        want = (uint32_t)room;
    bool random = o->dev->kind == RANDOM;
    if (!random && !zeroed) {
        memset(buf, 0, sizeof(buf));
        zeroed = true;
    }
    for (uint32_t done = 0; done < want;) {
        uint32_t n = want - done < CHUNK ? want - done : CHUNK;
        if (random) {
            fill_random(o, buf, n);
            zeroed = false;
        }
        long w = k_msg_write(rcvid, (long)(out->rep_len + done), (long)buf, n);
        if (w != (long)n)
            return w < 0 ? w : -E_FAULT;    /* the reader's buffer is bad or gone */
        done += n;
    }
    return (long)want;
}

/* A write of LEN bytes: answered from its header. */
static long do_write(struct ocb *o, uint64_t len)
{
    if (!o || (o->flags & O_ACCMODE) == O_RDONLY)
        return ERR(EBADF);
    if (o->dev->kind == DIR)
        return ERR(EISDIR);
    if (o->dev->kind == FULL)
        return len ? ERR(ENOSPC) : 0;
    return (long)(len > 0x7ffff000 ? 0x7ffff000 : len);
}

static long on_write(void *ctx, long rcvid, const struct file_write_req *req, const void *payload,
                     size_t len, struct file_write_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)payload, (void)rep;
    return do_write(ocb_of(), len);
}

static long on_seek(void *ctx, long rcvid, const struct file_seek_req *req,
                    struct file_seek_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    if (!ocb_of())
        return ERR(EBADF);
    rep->position = 0;
    return 0;
}

static long on_stat(void *ctx, long rcvid, const struct file_stat_req *req, const void *payload,
                    size_t len, struct file_stat_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    const struct dev *d = &devs[0];
    long err = 0;
    if (len)
        d = lookup(payload, len, &err);
    else if (ocb_of())
        d = ocb_of()->dev;
    if (!d)
        return err;
    *rep = (struct file_stat_rep){
        .dev = DEVFS_DEV, .ino = ino_of(d), .mode = mode_of(d),
        .nlink = d->kind == DIR ? 2 : 1, .blksize = 4096,
        .rdev = d->kind == DIR ? 0 : (1u << 8) | d->minor,
        .atime_ns = start_ns, .mtime_ns = start_ns, .ctime_ns = start_ns,
    };
    return 0;
}

/* Entries by cookie: 0 ".", 1 "..", 2..NDEVS our devices, then others[]
 * (each entry's off is its cookie + 1, so cookies are stable). */
static long on_readdir(void *ctx, long rcvid, const struct file_readdir_req *req,
                       struct file_readdir_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)rep;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (o->dev->kind != DIR)
        return ERR(ENOTDIR);
    static uint8_t buf[1024];
    size_t cap = req->len < sizeof(buf) ? req->len : sizeof(buf), used = 0;
    uint64_t last = 1 + NDEVS + NOTHERS;
    for (uint64_t k = req->cookie; k < last; k++) {
        const char *name;
        uint64_t ino;
        uint8_t type;
        if (k < 2) {
            name = k ? ".." : ".", ino = 1, type = DT_DIR;
        } else if (k < 1 + NDEVS) {
            const struct dev *d = &devs[k - 1];
            name = d->name, ino = ino_of(d), type = DT_CHR;
        } else {
            name = others[k - 1 - NDEVS], ino = 100 + k, type = DT_UNKNOWN;
            if (!attached_elsewhere(name))
                continue;
        }
        if (!filesrv_dirent(buf, cap, &used, ino, k + 1, type, name)) {
            if (used == 0)
                return ERR(EINVAL);
            break;
        }
    }
    out->data = buf;
    out->len = used;
    return (long)used;
}

static long on_truncate(void *ctx, long rcvid, const struct file_truncate_req *req,
                        const void *payload, size_t len, struct file_truncate_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    const struct dev *d = ocb_of() ? ocb_of()->dev : &devs[0];
    long err = 0;
    if (len && !(d = lookup(payload, len, &err)))
        return err;
    return d->kind == DIR ? ERR(EISDIR) : ERR(EINVAL);      /* as Linux: not a regular file */
}

static long on_utimens(void *ctx, long rcvid, const struct file_utimens_req *req,
                       const void *payload, size_t len, struct file_utimens_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    long err = 0;
    if (len && !lookup(payload, len, &err))
        return err;
    return 0;                               /* touch /dev/null: fine, and not kept */
}

static long on_fsync(void *ctx, long rcvid, const struct file_fsync_req *req,
                     struct file_fsync_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    return o->dev->kind == DIR ? 0 : ERR(EINVAL);
}

static long on_statfs(void *ctx, long rcvid, const struct file_statfs_req *req,
                      struct file_statfs_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    *rep = (struct file_statfs_rep){ .type = 0x01021994, .bsize = 4096, .files = NDEVS,
                                     .namelen = 255 };      /* devtmpfs: tmpfs's magic */
    return 0;
}

static long on_ioctl(void *ctx, long rcvid, const struct file_ioctl_req *req, const void *payload,
                     size_t len, struct file_ioctl_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)req, (void)payload, (void)len, (void)rep, (void)out;
    return ocb_of() ? ERR(ENOTTY) : ERR(EBADF);
}

static long on_notify(void *ctx, long rcvid, const struct file_notify_req *req,
                      struct file_notify_rep *rep)
{
    (void)ctx, (void)rcvid;
    if (!ocb_of())
        return ERR(EBADF);
    rep->revents = req->events & 5;         /* POLLIN, POLLOUT: nothing here waits */
    return 0;
}

static const struct file_server table = {
    .open = on_open, .read = on_read, .write = on_write, .seek = on_seek, .stat = on_stat,
    .readdir = on_readdir, .truncate = on_truncate, .utimens = on_utimens, .fsync = on_fsync,
    .statfs = on_statfs, .ioctl = on_ioctl, .notify = on_notify,
};

#define MSG_MAX (sizeof(struct k_proto_hdr) + 64 + 4096)

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];
    cur = m;
    /* A write of any length: its header is all we need. */
    struct file_write_req q;
    size_t at, len;
    if (filesrv_write(m, &q, &at, &len)) {
        struct file_write_rep rep = { 0 };
        proto_finish(m->rcvid, do_write(m->client, len), &rep, sizeof(rep));
        return SRV_REPLIED;
    }
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    file_dispatch(&table, m->rcvid, m->data, m->len);
    return SRV_REPLIED;
}

static void on_disconnect(struct srv *s, void *data)
{
    (void)s;
    free(data);
}

static const struct srv_ops ops = { .message = on_message, .disconnect = on_disconnect };

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    start_ns = k_clock_get();
    return srv_main(&server, "devfs", &ops, 0);
}
