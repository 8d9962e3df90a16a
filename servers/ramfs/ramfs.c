/*
 * ramfs: a file system in memory, serving protocols/file.proto.
 *
 *     bin/ramfs [--image] [--max MIB]
 *
 * With --image it starts as the boot image (the "bootfs" start-up
 * handle): its directories, files and symbolic links, the files' data
 * read where the image lies in memory until a file is written (then it
 * gets its own copy).  Without, it starts empty: that is tmpfs.  The
 * manifest mounts one of each: the image at / and an empty one at /tmp.
 *
 * Every open file is a connection of its own (lib/srv minted, so its end
 * is reported): its state, the position and the open flags, is shared
 * by every descriptor that holds a handle to it.  A file's data is one
 * mapping of a memory object, grown by doubling; a read is answered from
 * it directly (no copy here: the kernel copies once, into the reader).
 * A write larger than the receive buffer is read from the writer straight
 * into the file.
 *
 * Symbolic links: a relative target is followed inside; an absolute one
 * makes open answer with the path to resolve instead (file.proto), since
 * another server may hold it.  Path calls other than open that meet an
 * absolute link in the middle of a path get ELOOP.
 *
 * FIFOs (mknod S_IFIFO): the pipe server (/dev/pipe) holds their data
 * and does their opens; a FIFO node keeps the FIFO's connection there
 * (made at its first open, through procmgr) and open answers with a copy
 * of it (file.proto: oflags 8).  Without a "procmgr" handle or a pipe
 * server a FIFO can be made and listed but not opened (ENXIO).
 *
 * Start-up handles: "chan" (from init), "bootfs" (with --image),
 * "procmgr" (optional: FIFOs).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cpio.h"
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/file.h"
#include "rt/malloc.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/fileview.h"
#include "srv/filesrv.h"
#include "srv/srv.h"

#define ERR(e) FILE_ERR(e)
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define ENXIO 6
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EEXIST 17
#define EXDEV 18
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define EFBIG 27
#define ENOSPC 28
#define ESPIPE 29
#define EROFS 30
#define EMLINK 31
#define ENAMETOOLONG 36
#define ENOTEMPTY 39
#define ELOOP 40
#define ENOTTY 25

#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFREG 0100000
#define S_IFLNK 0120000
#define S_IFIFO 0010000
#define O_PATH 010000000
#define O_ACCMODE 3
#define O_CREAT 0100
#define O_EXCL 0200
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define NAME_MAX 255
#define PATH_MAX 4096
#define POS_CURRENT (~0ULL)

struct node {
    uint32_t mode, nlink;
    uint64_t ino;
    uint64_t size, cap;             /* bytes, and bytes mapped at data */
    uint8_t *data;                  /* files and links; for image files, in the image */
    bool image_data;                /* data is the boot image's: copy before writing */
    long vmo;                       /* the memory object behind data (0: none) */
    struct node *parent;            /* directories */
    struct dirent *entries;         /* directories: in insertion order */
    uint32_t opens;                 /* open files on it */
    long fifo;                      /* FIFOs: the FIFO's connection at the pipe server (0: none yet) */
    int64_t atime, mtime, ctime;
};

struct dirent {
    struct dirent *next;
    struct node *node;
    uint64_t cookie;                /* its place, for readdir: never reused in a directory */
    char name[];
};

struct ocb {
    struct node *node;
    uint64_t pos;
    uint32_t flags;
};

static struct {
    struct node *root;
    uint64_t next_ino, next_cookie;
    uint64_t bytes, max_bytes;      /* file data in use, and the limit */
    uint64_t nodes;
    bool image;
} fs;

static struct srv server;
static struct srv_msg *cur;         /* the message being served (one thread) */

/* Time stamps as the Linux personality tells time (posix/linux.c's
 * lx_wall_seconds: there is no real-time clock driver yet, so the time
 * since boot from 2026-01-01). */
static int64_t now(void)
{
    return 1767225600LL * 1000000000LL + k_clock_get();
}

/* ---- nodes ---- */

static struct node *node_new(uint32_t mode)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->mode = mode;
    n->ino = ++fs.next_ino;
    n->atime = n->mtime = n->ctime = now();
    fs.nodes++;
    return n;
}

/* The header after a file's data (file.proto's view): NULL without an
 * object of its own. */
static struct file_view *view_of(struct node *n)
{
    return n->vmo ? (struct file_view *)(n->data + n->cap) : NULL;
}

/* Readers through a view learn the new size (after the bytes it covers). */
static void view_size(struct node *n)
{
    struct file_view *v = view_of(n);
    if (v)
        __atomic_store_n(&v->size, n->size, __ATOMIC_RELEASE);
}

static void data_free(struct node *n)
{
    if (n->vmo) {
        __atomic_store_n(&view_of(n)->moved, 1, __ATOMIC_SEQ_CST);     /* readers: ask again */
        k_vm_unmap(0, (long)n->data, (long)(n->cap + FILE_VIEW_PAGE));
        k_handle_close(n->vmo);
        fs.bytes -= n->cap;
    }
    n->vmo = 0;
    n->data = NULL;
    n->cap = 0;
    n->image_data = false;
}

/* Frees N once nothing names it and nothing has it open. */
static void node_maybe_free(struct node *n)
{
    if (n->nlink || n->opens || n == fs.root)
        return;
    data_free(n);
    if (n->fifo > 0)
        k_handle_close(n->fifo);
    fs.nodes--;
    free(n);
}

/* Room for SIZE bytes of data, keeping what is there; 0 or an error. */
static long reserve(struct node *n, uint64_t size)
{
    if (size <= n->cap && !n->image_data)
        return 0;
    if (size > (1ULL << 32))
        return ERR(EFBIG);
    uint64_t cap = n->cap && !n->image_data ? n->cap : 4096;
    while (cap < size)
        cap *= 2;
    if (fs.bytes - (n->vmo ? n->cap : 0) + cap > fs.max_bytes)
        return ERR(ENOSPC);
    /* The header page after the data (view); shared, not copied, by a
     * reader's fork. */
    long v = k_vmo_create((long)(cap + FILE_VIEW_PAGE), K_VMO_ANON | K_VMO_FORK_SHARED, 0, 0);
    long a = v < 0 ? v : k_vmo_map(0, v, 0, (long)(cap + FILE_VIEW_PAGE), K_PROT_READ | K_PROT_WRITE);
    if (a < 0) {
        if (v >= 0)
            k_handle_close(v);
        return ERR(ENOSPC);
    }
    if (n->size)
        memcpy((void *)a, n->data, n->size);
    data_free(n);
    n->vmo = v;
    n->data = (uint8_t *)a;
    n->cap = cap;
    fs.bytes += cap;
    view_size(n);
    return 0;
}

static long set_size(struct node *n, uint64_t size)
{
    if (size > n->size) {
        long r = reserve(n, size);
        if (r < 0)
            return r;
        memset(n->data + n->size, 0, size - n->size);
    } else if (size < n->size && n->image_data) {
        /* shrinking an image file: the image stays as it is */
    }
    n->size = size;
    view_size(n);
    n->mtime = n->ctime = now();
    return 0;
}

/* ---- directories ---- */

static struct dirent *dir_find(struct node *d, const char *name, size_t len)
{
    for (struct dirent *e = d->entries; e; e = e->next)
        if (strlen(e->name) == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

static long dir_add(struct node *d, const char *name, size_t len, struct node *n)
{
    if (len > NAME_MAX)
        return ERR(ENAMETOOLONG);
    struct dirent *e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return ERR(ENOSPC);
    e->node = n;
    e->cookie = ++fs.next_cookie;
    memcpy(e->name, name, len);
    e->name[len] = 0;
    e->next = NULL;
    struct dirent **pp = &d->entries;
    while (*pp)
        pp = &(*pp)->next;
    *pp = e;
    n->nlink++;
    if ((n->mode & S_IFMT) == S_IFDIR) {
        n->parent = d;
        d->nlink++;                 /* its ".." */
    }
    d->mtime = d->ctime = now();
    return 0;
}

static void dir_remove(struct node *d, struct dirent *e)
{
    struct dirent **pp = &d->entries;
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    struct node *n = e->node;
    free(e);
    n->nlink--;
    if ((n->mode & S_IFMT) == S_IFDIR) {
        d->nlink--;
        n->nlink = 0;               /* its own "." goes with it */
    }
    d->mtime = d->ctime = now();
    node_maybe_free(n);
}

/* ---- paths ---- */

struct walk {
    struct node *dir;               /* the parent of the last component */
    struct node *node;              /* what the path names (NULL: absent last component) */
    const char *last;               /* the last component */
    size_t last_len;
    char redirect[PATH_MAX];        /* an absolute link met: the path to resolve instead */
};

/* Follows PATH (LEN bytes, relative) from BASE.  FOLLOW: a link as the
 * last component is followed.  0, or an error; an absolute link sets
 * w->redirect and gives ERR(ELOOP) for callers that cannot redirect. */
static long walk(struct node *base, const char *path, size_t len, bool follow, struct walk *w,
                 int depth)
{
    if (depth > 8)
        return ERR(ELOOP);
    w->dir = base;
    w->node = base;
    w->last = "";
    w->last_len = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        if (i == len)
            break;
        size_t s = i;
        while (i < len && path[i] != '/' && path[i])
            i++;
        if (i < len && path[i] == 0)
            return ERR(EINVAL);     /* a NUL inside the path */
        size_t n = i - s;
        if (n > NAME_MAX)
            return ERR(ENAMETOOLONG);
        struct node *d = w->node;
        if (!d)
            return ERR(ENOENT);     /* a missing directory in the middle */
        if ((d->mode & S_IFMT) != S_IFDIR)
            return ERR(ENOTDIR);
        w->dir = d;
        w->last = path + s;
        w->last_len = n;
        if (n == 1 && path[s] == '.') {
            w->node = d;
            continue;
        }
        if (n == 2 && path[s] == '.' && path[s + 1] == '.') {
            w->node = d->parent ? d->parent : d;
            continue;
        }
        struct dirent *e = dir_find(d, path + s, n);
        w->node = e ? e->node : NULL;
        bool is_last = true;
        for (size_t j = i; j < len; j++)
            if (path[j] != '/')
                is_last = false;
        if (w->node && (w->node->mode & S_IFMT) == S_IFLNK && (!is_last || follow)) {
            struct node *l = w->node;
            if (l->size && l->data[0] == '/') {
                size_t tl = (size_t)l->size, rl = len - i;
                if (tl + rl >= sizeof(w->redirect))
                    return ERR(ENAMETOOLONG);
                memcpy(w->redirect, l->data, tl);
                memcpy(w->redirect + tl, path + i, rl);
                w->redirect[tl + rl] = 0;
                return ERR(ELOOP);
            }
            char target[PATH_MAX];
            size_t tl = (size_t)l->size, rl = len - i;
            if (tl + rl + 1 >= sizeof(target))
                return ERR(ENAMETOOLONG);
            memcpy(target, l->data, tl);
            memcpy(target + tl, path + i, rl);
            return walk(d, target, tl + rl, follow, w, depth + 1);
        }
    }
    return 0;
}

/* The directory a path message starts from: the open directory it came
 * through, or the root. */
static struct node *base_dir(void)
{
    struct ocb *o = cur->client;
    return o && (o->node->mode & S_IFMT) == S_IFDIR ? o->node : fs.root;
}

static long writable_fs(void)
{
    return 0;                       /* the image is writable too: it is memory */
}

/* ---- messages ---- */

static long open_node(struct node *n, uint32_t flags, struct file_open_rep *rep)
{
    struct ocb *o = calloc(1, sizeof(*o));
    if (!o)
        return ERR(ENOMEM);
    o->node = n;
    o->flags = flags;
    long c = srv_client_new(&server, o);
    if (c < 0) {
        free(o);
        return ERR(ENOMEM);
    }
    n->opens++;
    k_handle_attach(c, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1);
    rep->mode = n->mode;
    rep->oflags = (n->mode & S_IFMT) == S_IFREG ? 1 : 0;
    rep->ino = n->ino;
    rep->size = n->size;
    return 0;
}

/* The open of a FIFO node: a copy of the FIFO's connection for the
 * opener, who opens it there with its flags (file.proto). */
static long open_fifo(struct node *n, struct file_open_rep *rep)
{
    if (n->fifo <= 0) {
        static bool said;
        char rest[8];
        long m = rt_resolve("/dev/pipe", rest, sizeof(rest));
        struct file_open_req q = { .flags = 0 };
        struct file_open_rep r;
        long e = m < 0 ? m : file_open(m, &q, "fifo", 4, &r, 0, 0);
        long h = e >= 0 ? k_handle_received() : -1;
        if (m >= 0)
            k_handle_close(m);
        if (h <= 0) {
            if (!said)
                printf("ramfs: a FIFO cannot open: no pipe server at /dev/pipe (%ld)\n", e < 0 ? e : h);
            said = true;
            return ERR(ENXIO);
        }
        n->fifo = h;
    }
    long c = k_handle_dup(n->fifo, K_RIGHT_SEND | K_RIGHT_TRANSFER);
    if (c < 0)
        return ERR(ENOMEM);
    k_handle_attach(c, K_RIGHT_SEND, 1);
    rep->mode = n->mode;
    rep->oflags = 8;
    rep->ino = n->ino;
    rep->size = 0;
    return 0;
}

static long on_open(void *ctx, long rcvid, const struct file_open_req *req, const void *payload,
                    size_t len, struct file_open_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid;
    static struct walk w;
    uint32_t flags = req->flags;
    long r = walk(base_dir(), payload, len, !(flags & O_NOFOLLOW), &w, 0);
    if (r == ERR(ELOOP) && w.redirect[0]) {
        rep->mode = 0;
        out->data = w.redirect;
        out->len = strlen(w.redirect);
        return (long)out->len;
    }
    if (r < 0)
        return r;
    struct node *n = w.node;
    if (!n) {
        if (!(flags & O_CREAT))
            return ERR(ENOENT);
        if ((r = writable_fs()) < 0)
            return r;
        if (!w.last_len)
            return ERR(EISDIR);
        n = node_new(S_IFREG | (req->mode & 07777));
        if (!n)
            return ERR(ENOSPC);
        if ((r = dir_add(w.dir, w.last, w.last_len, n)) < 0) {
            free(n);
            fs.nodes--;
            return r;
        }
    } else if ((flags & O_CREAT) && (flags & O_EXCL)) {
        return ERR(EEXIST);
    }
    uint32_t type = n->mode & S_IFMT;
    if ((flags & O_DIRECTORY) && type != S_IFDIR)
        return ERR(ENOTDIR);
    if (type == S_IFLNK)
        return ERR(ELOOP);          /* O_NOFOLLOW on a link */
    if (type == S_IFDIR && (flags & O_ACCMODE) != 0)
        return ERR(EISDIR);
    if ((flags & O_TRUNC) && type == S_IFREG && (flags & O_ACCMODE) != 0)
        set_size(n, 0);
    if (type == S_IFIFO && !(flags & O_PATH))
        return open_fifo(n, rep);
    return open_node(n, flags, rep);
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
    if ((o->flags & O_ACCMODE) == 1 || (o->node->mode & S_IFMT) == S_IFIFO)
        return ERR(EBADF);
    struct node *n = o->node;
    if ((n->mode & S_IFMT) == S_IFDIR)
        return ERR(EISDIR);
    uint64_t at = req->offset == POS_CURRENT ? o->pos : req->offset;
    uint64_t len = req->len;
    if (at >= n->size)
        len = 0;
    else if (len > n->size - at)
        len = n->size - at;
    out->data = n->data + at;
    out->len = (size_t)len;
    if (req->offset == POS_CURRENT)
        o->pos = at + len;
    n->atime = now();
    return (long)len;
}

/* A write: LEN bytes of payload at OFFSET bytes into the message, from the
 * receive buffer when they are there, else read from the writer. */
static long do_write(struct ocb *o, uint64_t offset, const void *inbuf, size_t inbuf_len,
                     size_t payload_at, size_t len)
{
    if (!o)
        return ERR(EBADF);
    if ((o->flags & O_ACCMODE) == 0 || (o->node->mode & S_IFMT) == S_IFIFO)
        return ERR(EBADF);          /* a FIFO's data is the pipe server's */
    struct node *n = o->node;
    if ((n->mode & S_IFMT) == S_IFDIR)
        return ERR(EISDIR);
    uint64_t at = offset == POS_CURRENT ? (o->flags & O_APPEND ? n->size : o->pos) : offset;
    if (at + len < at || at + len > (1ULL << 32))
        return ERR(EFBIG);
    long r = reserve(n, at + len);
    if (r < 0)
        return r;
    if (at > n->size)
        memset(n->data + n->size, 0, at - n->size);
    if (payload_at + len <= inbuf_len) {
        memcpy(n->data + at, (const uint8_t *)inbuf + payload_at, len);
    } else {
        long got = k_msg_read(cur->rcvid, (long)payload_at, (long)(n->data + at), (long)len);
        if (got != (long)len)
            return got < 0 ? got : ERR(EIO);
    }
    if (at + len > n->size) {
        n->size = at + len;
        view_size(n);
    }
    if (offset == POS_CURRENT)
        o->pos = at + len;
    n->mtime = n->ctime = now();
    return (long)len;
}

static long on_write(void *ctx, long rcvid, const struct file_write_req *req, const void *payload,
                     size_t len, struct file_write_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    return do_write(ocb_of(), req->offset, payload, len, 0, len);
}

static long on_seek(void *ctx, long rcvid, const struct file_seek_req *req,
                    struct file_seek_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    int64_t base = req->whence == 0 ? 0 : req->whence == 1 ? (int64_t)o->pos
                 : req->whence == 2 ? (int64_t)o->node->size : -1;
    if (base < 0)
        return ERR(EINVAL);
    int64_t to = base + req->offset;
    if ((req->offset > 0 && to < base) || to < 0)
        return ERR(EINVAL);
    o->pos = (uint64_t)to;
    rep->position = o->pos;
    return 0;
}

static void fill_stat(const struct node *n, struct file_stat_rep *rep)
{
    *rep = (struct file_stat_rep){
        .dev = fs.image ? 1 : 2, .ino = n->ino, .mode = n->mode, .nlink = n->nlink,
        .size = n->size, .blocks = (n->size + 511) / 512, .blksize = 4096,
        .atime_ns = n->atime, .mtime_ns = n->mtime, .ctime_ns = n->ctime,
    };
    if ((n->mode & S_IFMT) == S_IFDIR && n == fs.root)
        rep->nlink = n->nlink + 1;
}

static long on_stat(void *ctx, long rcvid, const struct file_stat_req *req, const void *payload,
                    size_t len, struct file_stat_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!len) {
        fill_stat(o ? o->node : fs.root, rep);       /* no path on the mount: its root */
        return 0;
    }
    static struct walk w;
    long r = walk(base_dir(), payload, len, !(req->flags & 0x100), &w, 0);
    if (r < 0)
        return r;
    if (!w.node)
        return ERR(ENOENT);
    fill_stat(w.node, rep);
    return 0;
}

static long on_readdir(void *ctx, long rcvid, const struct file_readdir_req *req,
                       struct file_readdir_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)rep;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    struct node *d = o->node;
    if ((d->mode & S_IFMT) != S_IFDIR)
        return ERR(ENOTDIR);
    static uint8_t buf[8192];
    size_t cap = req->len < sizeof(buf) ? req->len : sizeof(buf), used = 0;
    /* "." (cookie 1), ".." (2), then the entries by cookie (from 3 on). */
    uint64_t c = req->cookie;
    struct dirent *e = d->entries;
    for (uint64_t k = c < 2 ? c : 2;; k++) {
        const char *name;
        uint64_t ino, next;
        uint8_t type;
        if (k == 0) {
            name = ".", ino = d->ino, type = 4, next = 1;
        } else if (k == 1) {
            name = "..", ino = (d->parent ? d->parent : d)->ino, type = 4, next = 2;
        } else {
            while (e && e->cookie + 2 <= c)
                e = e->next;
            if (!e)
                break;
            name = e->name, ino = e->node->ino, next = e->cookie + 2;
            uint32_t t = e->node->mode & S_IFMT;
            type = t == S_IFDIR ? 4 : t == S_IFLNK ? 10 : t == S_IFREG ? 8 : t == S_IFIFO ? 1 : 0;
        }
        if (!filesrv_dirent(buf, cap, &used, ino, next, type, name)) {
            if (used == 0)
                return ERR(EINVAL);
            break;
        }
        c = next;
        if (k >= 2)
            e = e->next;
    }
    out->data = buf;
    out->len = used;
    return (long)used;
}

static long on_truncate(void *ctx, long rcvid, const struct file_truncate_req *req,
                        const void *payload, size_t len, struct file_truncate_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    struct node *n;
    if (!len) {
        struct ocb *o = ocb_of();
        if (!o)
            return ERR(EBADF);
        if ((o->flags & O_ACCMODE) == 0)
            return ERR(EINVAL);
        n = o->node;
    } else {
        static struct walk w;
        long r = walk(base_dir(), payload, len, true, &w, 0);
        if (r < 0)
            return r;
        if (!(n = w.node))
            return ERR(ENOENT);
    }
    if ((n->mode & S_IFMT) == S_IFDIR)
        return ERR(EISDIR);
    if ((n->mode & S_IFMT) != S_IFREG)
        return ERR(EINVAL);
    return set_size(n, req->size);
}

/* The directory and name a creating or removing call names. */
static long parent_of(const void *payload, size_t len, struct walk *w)
{
    long r = walk(base_dir(), payload, len, false, w, 0);
    if (r < 0)
        return r;
    if (!w->last_len || (w->last_len == 1 && w->last[0] == '.') ||
        (w->last_len == 2 && w->last[0] == '.' && w->last[1] == '.'))
        return ERR(EINVAL);
    return 0;
}

static long on_unlink(void *ctx, long rcvid, const struct file_unlink_req *req,
                      const void *payload, size_t len, struct file_unlink_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    static struct walk w;
    long r = parent_of(payload, len, &w);
    if (r < 0)
        return r;
    struct dirent *e = dir_find(w.dir, w.last, w.last_len);
    if (!e)
        return ERR(ENOENT);
    bool dir = (e->node->mode & S_IFMT) == S_IFDIR;
    if (req->flags & 0x200) {
        if (!dir)
            return ERR(ENOTDIR);
        if (e->node->entries)
            return ERR(ENOTEMPTY);
    } else if (dir) {
        return ERR(EISDIR);
    }
    dir_remove(w.dir, e);
    return 0;
}

static long make_node(const void *payload, size_t len, uint32_t mode, const void *data,
                      size_t dlen)
{
    static struct walk w;
    long r = parent_of(payload, len, &w);
    if (r < 0)
        return r;
    if (dir_find(w.dir, w.last, w.last_len))
        return ERR(EEXIST);
    struct node *n = node_new(mode);
    if (!n)
        return ERR(ENOSPC);
    if (dlen && (r = set_size(n, dlen)) == 0)
        memcpy(n->data, data, dlen);
    if (r == 0)
        r = dir_add(w.dir, w.last, w.last_len, n);
    if (r < 0) {
        n->nlink = 0;
        node_maybe_free(n);
    }
    return r;
}

static long on_mkdir(void *ctx, long rcvid, const struct file_mkdir_req *req,
                     const void *payload, size_t len, struct file_mkdir_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    return make_node(payload, len, S_IFDIR | (req->mode & 07777), 0, 0);
}

/* mknod: FIFOs and empty regular files; devices are /dev's (EPERM). */
static long on_mknod(void *ctx, long rcvid, const struct file_mknod_req *req,
                     const void *payload, size_t len, struct file_mknod_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    uint32_t type = req->mode & S_IFMT;
    if (type == 0)
        type = S_IFREG;
    if (type != S_IFIFO && type != S_IFREG)
        return type == 0020000 || type == 0060000 || type == 0140000 ? ERR(EPERM) : ERR(EINVAL);
    return make_node(payload, len, type | (req->mode & 07777), 0, 0);
}

/* "A NUL B" payloads: the lengths of A and B. */
static long split2(const char *p, size_t len, size_t *a, size_t *b)
{
    const char *z = memchr(p, 0, len);
    if (!z || z == p || (size_t)(z - p) + 1 >= len)
        return ERR(EINVAL);
    *a = (size_t)(z - p);
    *b = len - *a - 1;
    return memchr(z + 1, 0, *b) ? ERR(EINVAL) : 0;
}

static long on_symlink(void *ctx, long rcvid, const struct file_symlink_req *req,
                       const void *payload, size_t len, struct file_symlink_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    size_t a, b;
    long r = split2(payload, len, &a, &b);
    if (r < 0)
        return r;
    if (a >= PATH_MAX)
        return ERR(ENAMETOOLONG);
    return make_node((const char *)payload + a + 1, b, S_IFLNK | 0777, payload, a);
}

static long on_link(void *ctx, long rcvid, const struct file_link_req *req, const void *payload,
                    size_t len, struct file_link_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    size_t a, b;
    long r = split2(payload, len, &a, &b);
    if (r < 0)
        return r;
    static struct walk from, to;
    if ((r = walk(base_dir(), payload, a, false, &from, 0)) < 0)
        return r;
    if (!from.node)
        return ERR(ENOENT);
    if ((from.node->mode & S_IFMT) == S_IFDIR)
        return ERR(EPERM);
    if ((r = parent_of((const char *)payload + a + 1, b, &to)) < 0)
        return r;
    if (dir_find(to.dir, to.last, to.last_len))
        return ERR(EEXIST);
    return dir_add(to.dir, to.last, to.last_len, from.node);
}

static bool is_under(struct node *n, struct node *d)
{
    for (; n; n = n->parent)
        if (n == d)
            return true;
    return false;
}

static long on_rename(void *ctx, long rcvid, const struct file_rename_req *req,
                      const void *payload, size_t len, struct file_rename_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    size_t a, b;
    long r = split2(payload, len, &a, &b);
    if (r < 0)
        return r;
    static struct walk from, to;
    if ((r = parent_of(payload, a, &from)) < 0 ||
        (r = parent_of((const char *)payload + a + 1, b, &to)) < 0)
        return r;
    struct dirent *e = dir_find(from.dir, from.last, from.last_len);
    if (!e)
        return ERR(ENOENT);
    struct node *n = e->node;
    struct dirent *old = dir_find(to.dir, to.last, to.last_len);
    if (old && old->node == n)
        return 0;
    if (old && (req->flags & 1))
        return ERR(EEXIST);
    bool dir = (n->mode & S_IFMT) == S_IFDIR;
    if (dir && is_under(to.dir, n))
        return ERR(EINVAL);         /* into itself */
    if (old) {
        bool odir = (old->node->mode & S_IFMT) == S_IFDIR;
        if (dir && !odir)
            return ERR(ENOTDIR);
        if (!dir && odir)
            return ERR(EISDIR);
        if (odir && old->node->entries)
            return ERR(ENOTEMPTY);
    }
    if (old)
        dir_remove(to.dir, old);    /* not n: checked above */
    if ((r = dir_add(to.dir, to.last, to.last_len, n)) < 0)
        return r;
    /* The old name goes; n stays (its new name holds it). */
    e = dir_find(from.dir, from.last, from.last_len);
    struct dirent **pp = &from.dir->entries;
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    free(e);
    n->nlink--;
    if (dir)
        from.dir->nlink--;          /* n's ".." is in to.dir now */
    from.dir->mtime = from.dir->ctime = now();
    return 0;
}

static long on_readlink(void *ctx, long rcvid, const struct file_readlink_req *req,
                        const void *payload, size_t len, struct file_readlink_rep *rep,
                        struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    static struct walk w;
    long r = walk(base_dir(), payload, len, false, &w, 0);
    if (r < 0)
        return r;
    if (!w.node)
        return ERR(ENOENT);
    if ((w.node->mode & S_IFMT) != S_IFLNK)
        return ERR(EINVAL);
    out->data = w.node->data;
    out->len = (size_t)w.node->size;
    return (long)out->len;
}

static struct node *target(const void *payload, size_t len, bool follow, long *err)
{
    if (!len) {
        struct ocb *o = ocb_of();
        *err = 0;
        return o ? o->node : fs.root;
    }
    static struct walk w;
    *err = walk(base_dir(), payload, len, follow, &w, 0);
    if (*err == 0 && !w.node)
        *err = ERR(ENOENT);
    return *err ? NULL : w.node;
}

static long on_chmod(void *ctx, long rcvid, const struct file_chmod_req *req, const void *payload,
                     size_t len, struct file_chmod_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    long err;
    struct node *n = target(payload, len, true, &err);
    if (!n)
        return err;
    n->mode = (n->mode & S_IFMT) | (req->mode & 07777);
    n->ctime = now();
    return 0;
}

static long on_utimens(void *ctx, long rcvid, const struct file_utimens_req *req,
                       const void *payload, size_t len, struct file_utimens_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    long err;
    struct node *n = target(payload, len, !(req->flags & 0x100), &err);
    if (!n)
        return err;
    int64_t t = now();
    if (req->atime_ns != -2)
        n->atime = req->atime_ns == -1 ? t : req->atime_ns;
    if (req->mtime_ns != -2)
        n->mtime = req->mtime_ns == -1 ? t : req->mtime_ns;
    n->ctime = t;
    return 0;
}

static long on_fsync(void *ctx, long rcvid, const struct file_fsync_req *req,
                     struct file_fsync_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req, (void)rep;
    return ocb_of() ? 0 : ERR(EBADF);         /* memory is as stable as it gets here */
}

static long on_statfs(void *ctx, long rcvid, const struct file_statfs_req *req,
                      struct file_statfs_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    *rep = (struct file_statfs_rep){ .type = 0x01021994, .bsize = 4096,
                                     .blocks = fs.max_bytes / 4096,
                                     .bfree = (fs.max_bytes - fs.bytes) / 4096,
                                     .bavail = (fs.max_bytes - fs.bytes) / 4096,
                                     .files = fs.nodes + 100000, .ffree = 100000,
                                     .namelen = NAME_MAX };
    return 0;
}

static long on_ioctl(void *ctx, long rcvid, const struct file_ioctl_req *req, const void *payload,
                     size_t len, struct file_ioctl_rep *rep, struct proto_out *out)
{
    (void)ctx, (void)rcvid, (void)payload, (void)len, (void)out;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    if (req->cmd == 0x541B && (o->node->mode & S_IFMT) == S_IFREG) {     /* FIONREAD */
        static int32_t n;
        n = (int32_t)(o->pos < o->node->size ? o->node->size - o->pos : 0);
        rep->value = (uint64_t)n;
        out->data = &n;
        out->len = sizeof(n);
        return 0;
    }
    return ERR(ENOTTY);
}

static long on_notify(void *ctx, long rcvid, const struct file_notify_req *req,
                      struct file_notify_rep *rep)
{
    (void)ctx, (void)rcvid;
    if (!ocb_of())
        return ERR(EBADF);
    rep->revents = req->events & 5;  /* files are always ready: POLLIN, POLLOUT */
    return 0;
}

/* The open file's data object, for reads with no message (a file of the
 * boot image gets its own copy first). */
static long on_view(void *ctx, long rcvid, const struct file_view_req *req,
                    struct file_view_rep *rep)
{
    (void)ctx, (void)rcvid;
    struct ocb *o = ocb_of();
    if (!o)
        return ERR(EBADF);
    struct node *n = o->node;
    if ((o->flags & O_ACCMODE) == 1 || (n->mode & S_IFMT) != S_IFREG)
        return ERR(EBADF);
    if (req->flags)
        return ERR(EINVAL);
    if (!n->vmo || n->image_data) {
        long r = reserve(n, n->size ? n->size : 1);
        if (r < 0)
            return r;
    }
    rep->bytes = n->cap + FILE_VIEW_PAGE;
    return k_handle_attach(n->vmo, K_RIGHT_READ | K_RIGHT_MAP, 0);
}

static const struct file_server table = {
    .open = on_open, .read = on_read, .write = on_write, .seek = on_seek, .stat = on_stat,
    .readdir = on_readdir, .truncate = on_truncate, .unlink = on_unlink, .mkdir = on_mkdir,
    .rename = on_rename, .link = on_link, .symlink = on_symlink, .readlink = on_readlink,
    .chmod = on_chmod, .utimens = on_utimens, .fsync = on_fsync, .statfs = on_statfs,
    .ioctl = on_ioctl, .notify = on_notify, .mknod = on_mknod, .view = on_view,
};

#define MSG_MAX (sizeof(struct k_proto_hdr) + 64 + 2 * PATH_MAX + 64)

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];
    cur = m;
    /* A long write: its data goes from the writer into the file. */
    struct file_write_req q;
    size_t at, len;
    if (m->info.send_len > m->len && filesrv_write(m, &q, &at, &len)) {
        struct file_write_rep rep = { 0 };
        long r = do_write(m->client, q.offset, m->data, m->len, at, len);
        proto_finish(m->rcvid, r, &rep, sizeof(rep));
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
    struct ocb *o = data;
    o->node->opens--;
    node_maybe_free(o->node);
    free(o);
}

static const struct srv_ops ops = { .message = on_message, .disconnect = on_disconnect };

/* The boot image as the tree: every entry under the root. */
static long load_image(void)
{
    long bootfs = rt_handle("bootfs");
    long size = bootfs >= 0 ? k_vmo_size(bootfs) : -1;
    long img = size > 0 ? k_vmo_map(0, bootfs, 0, size, K_PROT_READ) : -1;
    if (img < 0)
        return img;
    size_t off = 0;
    struct cpio_entry e;
    int r;
    unsigned files = 0;
    static struct walk w;
    while ((r = cpio_next((const void *)img, (size_t)size, &off, &e)) == CPIO_OK) {
        const char *name = e.name;
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        if (!name[0] || strcmp(name, ".") == 0)
            continue;
        size_t len = strlen(name);
        /* Its directory must exist already (find lists parents first). */
        if (walk(fs.root, name, len, false, &w, 0) < 0 || w.node || !w.last_len)
            continue;
        uint32_t type = e.mode & S_IFMT;
        if (type != S_IFDIR && type != S_IFREG && type != S_IFLNK)
            continue;
        struct node *n = node_new(e.mode & (S_IFMT | 07777));
        if (!n)
            return -E_NOMEM;
        if (type != S_IFDIR) {
            n->data = (uint8_t *)e.data;
            n->size = n->cap = e.size;
            n->image_data = true;
        }
        if (dir_add(w.dir, w.last, w.last_len, n) < 0)
            return -E_NOMEM;
        files++;
    }
    printf("ramfs: the boot image: %u entries\n", files);
    return r == CPIO_END ? 0 : -E_INVAL;
}

int main(int argc, char **argv)
{
    fs.max_bytes = 64ULL << 20;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--image") == 0) {
            fs.image = true;
        } else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) {
            long mib = 0;
            for (const char *p = argv[++i]; *p >= '0' && *p <= '9'; p++)
                mib = mib * 10 + (*p - '0');
            if (mib > 0 && mib < 65536)
                fs.max_bytes = (uint64_t)mib << 20;
        } else {
            printf("ramfs: usage: bin/ramfs [--image] [--max MIB]\n");
            return 2;
        }
    }
    fs.root = node_new(S_IFDIR | 0755);
    if (!fs.root)
        return 1;
    fs.root->nlink = 1;
    if (fs.image && load_image() < 0) {
        printf("ramfs: cannot read the boot image (no \"bootfs\" handle?)\n");
        return 1;
    }
    return srv_main(&server, "ramfs", &ops, &fs);
}
