/*
 * fd: the Linux personality's file descriptors.  The table lives here, in
 * the process: a descriptor is a connection to the server that owns the
 * file (protocols/file.proto), found through procmgr's name space when
 * the file is opened.  read and write go straight from the program's
 * buffer to the server in one message (the kernel checks the buffer), so
 * no POSIX server and no copy through the personality is on the data
 * path.  Descriptors that share an open file description (dup, fork)
 * hold handles to one connection: the server's position and flags are
 * shared, and the last close ends it there (K_CONN_REPORT_END).
 *
 * Until a terminal exists (no /dev/console to open), descriptors 1 and 2
 * write to the kernel's debug console, as the first programs did.
 */
#include "lx.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/file.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "srv/filesrv.h"

enum {
    NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_stat = 4, NR_fstat = 5,
    NR_lstat = 6, NR_poll = 7, NR_lseek = 8, NR_ioctl = 16, NR_pread64 = 17, NR_pwrite64 = 18,
    NR_readv = 19, NR_writev = 20, NR_access = 21, NR_dup = 32, NR_dup2 = 33, NR_fcntl = 72,
    NR_fsync = 74, NR_fdatasync = 75, NR_ftruncate = 77, NR_getcwd = 79, NR_chdir = 80,
    NR_fchdir = 81, NR_rename = 82, NR_mkdir = 83, NR_rmdir = 84, NR_unlink = 87,
    NR_readlink = 89, NR_umask = 95, NR_getdents64 = 217, NR_openat = 257, NR_mkdirat = 258,
    NR_newfstatat = 262, NR_unlinkat = 263, NR_renameat = 264, NR_readlinkat = 267,
    NR_faccessat = 269, NR_ppoll = 271, NR_select = 23, NR_pselect6 = 270, NR_statx = 332, NR_dup3 = 292, NR_renameat2 = 316, NR_faccessat2 = 439,
    NR_truncate = 76, NR_link = 86, NR_symlink = 88, NR_chmod = 90, NR_fchmod = 91,
    NR_chown = 92, NR_fchown = 93, NR_lchown = 94, NR_statfs = 137, NR_fstatfs = 138,
    NR_fchownat = 260, NR_linkat = 265, NR_symlinkat = 266, NR_fchmodat = 268,
    NR_utimensat = 280, NR_mknod = 133, NR_mknodat = 259, NR_pipe = 22, NR_pipe2 = 293, NR_sendfile = 40,
};

#define CONN_RIGHTS (K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER)
#define DEBUG_CONSOLE (-2L)          /* conn of a descriptor that writes to the kernel console */
#define FILE_POS_CURRENT (~0ULL)

struct lx_file {
    long conn;                      /* 0: free */
    uint32_t fdflags;               /* FD_CLOEXEC */
    uint32_t flags;                 /* O_ACCMODE | O_APPEND | O_NONBLOCK (this descriptor's) */
    uint32_t mode;                  /* S_IFMT of what it is */
    bool tty;                       /* a terminal (its server sends us its signals) */
    uint64_t dir_cookie;            /* getdents64: the next entry's */
    struct lx_ring ring;            /* a pipe's end: its shared ring (posix/pipe.c) */
    struct lx_view view;            /* a regular file: its data, mapped (posix/view.c) */
    char path[128];                 /* directories: where (for fchdir and *at) */
};
static struct lx_file fds[LX_NFD];
/* One past the highest descriptor ever used: the loops over the table stop
 * there, so the rest of it stays untouched memory (not cloned by fork). */
static int fd_end;

static void used_fd(int fd)
{
    if (fd >= fd_end)
        fd_end = fd + 1;
}

long lx_errno(long e)
{
    if (e >= 0)
        return e;
    long k = -e;
    if (k > FILE_ERR_BASE && k < FILE_ERR_BASE + 4096)
        return -(k - FILE_ERR_BASE);
    switch (k) {
    case E_FAULT: return -LX_EFAULT;
    case E_NOMEM: return -LX_ENOMEM;
    case E_NOSYS: return -LX_ENOSYS;
    case E_BADHANDLE: case E_WRONGTYPE: return -LX_EBADF;
    case E_RIGHTS: case E_PERM: return -LX_EPERM;
    case E_NOENT: return -LX_ENOENT;
    case E_INTR: return -LX_EINTR;
    case E_INTERRUPTED: return -LX_ERESTARTSYS;   /* a signal came: lx_syscall decides */
    case E_TIMEOUT: return -LX_ETIMEDOUT;
    case E_BUSY: return -LX_EBUSY;
    case E_FULL: return -LX_EAGAIN;
    case E_DEAD: case E_REVOKED: return -LX_EIO;     /* the server is gone */
    default: return -LX_EINVAL;
    }
}

static struct lx_file *get(uint64_t fd)
{
    return fd < LX_NFD && fds[fd].conn ? &fds[fd] : NULL;
}

static int lowest_free(int from)
{
    for (int i = from; i < LX_NFD; i++)
        if (!fds[i].conn)
            return i;
    return -LX_EMFILE;
}

/* A session at the pipe server that one of our rings has, or 0. */
static long any_session(void)
{
    for (int i = 0; i < fd_end; i++)
        if (fds[i].ring.session > 0)
            return fds[i].ring.session;
    return 0;
}

void lx_fd_ring_barrier(void)
{
    long b = any_session();
    if (b > 0)
        lx_ring_barrier(b);
}

static void release(int fd)
{
    struct lx_file *f = &fds[fd];
    long session = f->ring.session;
    f->ring.session = 0;
    if (f->conn > 0)
        k_handle_close(f->conn);
    /* Our rings read end of file and EPIPE from counts the server keeps:
     * once it has heard of this close, they are new. */
    if ((f->mode & LX_S_IFMT) == LX_S_IFIFO && f->conn > 0) {
        long b = session > 0 ? session : any_session();
        if (b > 0)
            lx_ring_barrier(b);
    }
    if (session > 0)
        k_handle_close(session);
    lx_ring_drop(&f->ring);
    lx_view_drop(&f->view);
    memset(&fds[fd], 0, sizeof(fds[fd]));
}

/* ---- /proc/self/fd ---- */

/* /proc/self/fd (and /proc/PID/fd for our pid, /dev/fd) lists our own
 * descriptors, which only we know: the table is ours.  So it is served
 * here, not by procfs.  An open directory of it is a descriptor with no
 * connection (SELF_FD_DIR); each entry is a symbolic link to what the
 * descriptor is.  Returns 0 for another path, 1 for the directory, 2 for
 * an entry (*FD: its number, -1 when it is not open); *TAIL: what follows
 * the entry ("" or "/..."). */
#define SELF_FD_DIR (-3L)

static int self_fd(const char *abs, long *fd, const char **tail)
{
    const char *p;
    if (strncmp(abs, "/proc/", 6) != 0 && strncmp(abs, "/dev/fd", 7) != 0)
        return 0;                   /* the common case, at once */
    char pid[24];
    snprintf(pid, sizeof(pid), "/proc/%lu/fd", (unsigned long)lx.pid);
    if (strncmp(abs, "/proc/self/fd", 13) == 0)
        p = abs + 13;
    else if (strncmp(abs, "/proc/thread-self/fd", 20) == 0)
        p = abs + 20;
    else if (strncmp(abs, "/dev/fd", 7) == 0)
        p = abs + 7;
    else if (strncmp(abs, pid, strlen(pid)) == 0)
        p = abs + strlen(pid);
    else
        return 0;
    if (!*p)
        return 1;
    if (*p != '/' || p[1] < '0' || p[1] > '9')
        return *p == '/' ? (*fd = -1, *tail = "", 2) : 0;
    long n = 0;
    for (p++; *p >= '0' && *p <= '9' && n < LX_NFD; p++)
        n = n * 10 + (*p - '0');
    if (*p && *p != '/')
        return (*fd = -1, *tail = "", 2);
    *fd = n < LX_NFD && fds[n].conn ? n : -1;
    *tail = p;
    return 2;
}

/* What the link of descriptor FD says: its path, or "pipe:[INO]" and the
 * like for what has none. */
static void self_fd_link(long fd, char *out, size_t cap)
{
    const struct lx_file *f = &fds[fd];
    uint32_t t = f->mode & LX_S_IFMT;
    if (f->path[0] && (t == LX_S_IFREG || t == LX_S_IFDIR || t == LX_S_IFCHR || t == 0))
        snprintf(out, cap, "%s", f->path);
    else if (f->conn == DEBUG_CONSOLE)
        snprintf(out, cap, "/dev/console");
    else
        snprintf(out, cap, "%s:[%ld]", t == 0010000 ? "pipe" : "anon_inode", f->conn);
}

/* ---- paths ---- */

/* The absolute, normalised form of PATH (relative to DIRFD's directory or
 * the working directory) in OUT (256 bytes); 0 or -errno. */
/* Whether absolute PATH is already normal (no empty, "." or ".."
 * component, no trailing slash): its length, else -1. */
static long plain_abs(const char *p)
{
    size_t i = 0;
    for (; p[i]; i++)
        if (p[i] == '/' && (p[i + 1] == '/' || (!p[i + 1] && i > 0) ||
                            (p[i + 1] == '.' && (p[i + 2] == '/' || !p[i + 2] ||
                                                 (p[i + 2] == '.' && (p[i + 3] == '/' || !p[i + 3]))))))
            return -1;
    return (long)i;
}

long lx_abspath(long dirfd, const char *path, char *out)
{
    long plain = path[0] == '/' ? plain_abs(path) : -1;
    if (plain >= 0 && plain < 256) {        /* the common case: as it is */
        memcpy(out, path, (size_t)plain + 1);
        return 0;
    }
    char tmp[512];
    const char *base = "";
    if (path[0] != '/') {
        if (dirfd == LX_AT_FDCWD) {
            base = lx.cwd;
        } else {
            struct lx_file *f = get((uint64_t)dirfd);
            if (!f)
                return -LX_EBADF;
            if ((f->mode & LX_S_IFMT) != LX_S_IFDIR)
                return -LX_ENOTDIR;
            base = f->path;
        }
    }
    size_t bl = strlen(base), pl = strlen(path);
    if (bl + pl + 2 > sizeof(tmp))
        return -LX_ENAMETOOLONG;
    memcpy(tmp, base, bl);
    tmp[bl] = '/';
    memcpy(tmp + bl + 1, path, pl + 1);
    /* components, with . and .. */
    size_t o = 0;
    const char *p = tmp;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0 || (n == 1 && s[0] == '.'))
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        if (o + n + 2 > 256)
            return -LX_ENAMETOOLONG;
        out[o++] = '/';
        memcpy(out + o, s, n);
        o += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = 0;
    return 0;
}

/* The server of the absolute path PATH: its mount connection, the rest
 * of the path in REST (256 bytes, no leading slash). */
static long mount_of(const char *path, char *rest)
{
    long m = rt_resolve(path, rest, 256);
    if (m < 0)
        return m == -E_NOENT ? -LX_ENOENT : lx_errno(m);
    size_t skip = 0;
    while (rest[skip] == '/')
        skip++;
    if (skip)
        memmove(rest, rest + skip, strlen(rest + skip) + 1);
    return m;
}

/* ---- resolutions kept for open ----
 * A program opens the same few paths again and again (a shell's
 * commands, /etc/passwd, a benchmark's file): open keeps procmgr's answer
 * for the last MOUNT_KEPT paths, whole paths exactly as asked (a mount may
 * sit at any component, so a shorter prefix says nothing of a longer
 * path), with the connection to the server.  An answer is used only while
 * procmgr's generation (a page of its, mapped read-only) is the one read
 * before asking; a connection that has died (a server restarted) is
 * dropped and the path resolved again.  They outlive exec (the program
 * changes, the process and its handles do not).  A forked child starts
 * with none (the connections are not its handles) but with the page. */
#define MOUNT_KEPT 8

struct mount_kept {
    long conn;                      /* 0: unused */
    uint64_t gen;
    uint32_t last_use;
    size_t len, rest_len;           /* of path, of rest */
    uint32_t epoch;                 /* kept_epoch when made: else empty (a fork's parent's) */
    char path[256], rest[256];
};
static struct mount_kept kept[MOUNT_KEPT];
static LX_HOT uint32_t kept_epoch;  /* bumped in a fork's child: the parent's entries are not its */

static long kept_conn(const struct mount_kept *k)
{
    return k->epoch == kept_epoch ? k->conn : 0;
}
static uint32_t kept_clock;
/* Where procmgr's page goes: in our own image's room (just below exec's
 * staging area), where the program's mmap and munmap do not reach and
 * exec leaves it. */
#define NAMES_GEN_VA (K_NATIVE_BASE + 0x07fff000UL)
static const volatile uint64_t *names_gen;  /* procmgr's page; NULL: not (yet) mapped */
static bool names_gen_asked;

static bool names_gen_map(void)
{
    if (names_gen || names_gen_asked)
        return names_gen != NULL;
    names_gen_asked = true;
    long pm = rt_handle("procmgr");
    struct procmgr_generation_req q = { 0 };
    struct procmgr_generation_rep rep;
    if (pm < 0 || procmgr_generation(pm, &q, &rep) < 0)
        return false;               /* an older procmgr: nothing is kept */
    long vmo = k_handle_received();
    long at = vmo > 0 ? k_vmo_map(0, vmo, 0, 4096, (long)(K_PROT_READ | NAMES_GEN_VA)) : -1;
    if (vmo > 0)
        k_handle_close(vmo);
    if (at != (long)NAMES_GEN_VA)
        return false;
    names_gen = (const volatile uint64_t *)NAMES_GEN_VA;
    return true;
}

static void kept_drop(struct mount_kept *k)
{
    if (kept_conn(k) > 0)
        k_handle_close(k->conn);
    k->conn = 0;
}

/* The kept connection for PATH (not to be closed by the caller) with
 * its rest in REST, or 0 when none is kept and current. */
static long mount_kept_find(const char *path, size_t len, char *rest)
{
    if (!names_gen)
        return 0;
    uint64_t now = __atomic_load_n(names_gen, __ATOMIC_ACQUIRE);
    for (int i = 0; i < MOUNT_KEPT; i++) {
        struct mount_kept *k = &kept[i];
        if (!kept_conn(k) || k->len != len || memcmp(k->path, path, len) != 0)
            continue;
        if (k->gen != now) {
            kept_drop(k);
            return 0;
        }
        k->last_use = ++kept_clock;
        memcpy(rest, k->rest, k->rest_len + 1);
        return k->conn;
    }
    return 0;
}

/* PATH's server as mount_of says, kept when procmgr's page is there and
 * PATH fits (*IS_KEPT true: the caller must not close it). */
static long mount_open(const char *path, size_t len, char *rest, bool *is_kept)
{
    *is_kept = false;
    long c = mount_kept_find(path, len, rest);
    if (c > 0) {
        *is_kept = true;
        return c;
    }
    bool keep = len < sizeof(kept[0].path) && names_gen_map();
    uint64_t before = keep ? __atomic_load_n(names_gen, __ATOMIC_ACQUIRE) : 0;
    long m = mount_of(path, rest);
    if (m < 0 || !keep)
        return m;
    struct mount_kept *k = &kept[0];
    for (int i = 1; i < MOUNT_KEPT && kept_conn(k); i++)
        if (!kept_conn(&kept[i]) || kept[i].last_use < k->last_use)
            k = &kept[i];
    kept_drop(k);
    *k = (struct mount_kept){ .conn = m, .gen = before, .last_use = ++kept_clock, .len = len,
                              .epoch = kept_epoch,
                              .rest_len = strlen(rest) };
    memcpy(k->path, path, len + 1);
    memcpy(k->rest, rest, k->rest_len + 1);
    *is_kept = true;
    return m;
}

/* A kept connection that failed as dead: forgotten, so the next call
 * resolves again. */
static void mount_kept_dead(long conn)
{
    for (int i = 0; i < MOUNT_KEPT; i++)
        if (kept_conn(&kept[i]) == conn)
            kept_drop(&kept[i]);
}

/* A fork's child: none of the parent's kept connections are its handles.
 * procmgr's page is made K_VMO_FORK_SHARED: the child's mapping is the
 * page itself, current, and stays. */
static void mount_kept_fork_child(void)
{
    kept_epoch++;                   /* not a page of them written (copied) */
}

/* Opens the absolute path PATH: a connection to the open file, its reply
 * in REP; symbolic links to other servers are followed. */
static long open_abs(const char *path, uint32_t flags, uint32_t mode, struct file_open_rep *rep);

/* execve's reading of a program (posix/lx.h): the size from the open,
 * then the whole file, a megabyte a message. */
long lx_open_file(const char *path, uint64_t *size)
{
    struct file_open_rep rep;
    long c = open_abs(path, 0, 0, &rep);
    if (c < 0 || ((rep.mode & LX_S_IFMT) == LX_S_IFREG && (rep.mode & 0111))) {
        *size = c < 0 ? 0 : rep.size;
        return c;
    }
    k_handle_close(c);
    return -LX_EACCES;              /* not a regular file, or no execute bit: as Linux */
}

long lx_read_conn(long c, void *buf, size_t cap)
{
    long total = 0;
    while (total >= 0) {
        if ((size_t)total == cap) {
            total = -LX_ENOMEM;
            break;
        }
        size_t want = cap - (size_t)total > (1u << 20) ? (1u << 20) : cap - (size_t)total;
        struct file_read_req q = { .offset = (uint64_t)total, .len = (uint32_t)want };
        struct file_read_rep rr;
        long n = file_read(c, &q, &rr, (char *)buf + total, want);
        if (n < 0)
            total = lx_errno(n);
        else if (n == 0)
            break;
        else
            total += n;
    }
    k_handle_close(c);
    return total;
}

/* A connection to the open file at absolute PATH (no descriptor). */
long lx_open_conn(const char *path, uint32_t flags)
{
    struct file_open_rep rep;
    return open_abs(path, flags, 0, &rep);
}

long lx_conn_write(long conn, const void *buf, size_t len)
{
    struct file_write_req q = { .offset = FILE_POS_CURRENT };
    struct file_write_rep rep;
    return file_write(conn, &q, buf, len, &rep);
}

/* At exec: descriptors marked close-on-exec go (the resolutions kept
 * stay: their connections and procmgr's page are ours, not the
 * program's). */
void lx_fd_exec(void)
{
    for (int i = 0; i < fd_end; i++)
        if (fds[i].conn && (fds[i].fdflags & LX_FD_CLOEXEC))
            release(i);
}

static long open_abs(const char *path, uint32_t flags, uint32_t mode, struct file_open_rep *rep)
{
    char at[256], rest[256], redirect[256];
    const char *cur = path;         /* the path, or where a redirect said */
    size_t len = strlen(path);
    for (int hops = 0, retried = 0; hops < 8; hops++) {
        bool is_kept;
        long m = mount_open(cur, len, rest, &is_kept);
        if (m < 0)
            return m;
        struct file_open_req q = { .flags = flags & ~(uint32_t)LX_O_CLOEXEC, .mode = mode };
        memset(rep, 0, sizeof(*rep));
        long r = file_open(m, &q, rest, strlen(rest), rep, redirect, sizeof(redirect) - 1);
        long h = r >= 0 && rep->mode ? k_handle_received() : -1;
        if (!is_kept)
            k_handle_close(m);
        else if (r == -E_DEAD && !retried++) {
            mount_kept_dead(m);     /* its server has gone: ask procmgr again */
            hops--;
            continue;
        }
        if (r < 0)
            return lx_errno(r);
        if (rep->mode && (rep->oflags & 8)) {
            /* A FIFO: H is its connection at the pipe server, where the
             * open is done (and may wait for the other end). */
            if (h <= 0)
                return -LX_EIO;
            q.flags &= ~(uint32_t)(LX_O_CREAT | LX_O_EXCL | LX_O_TRUNC);
            r = file_open(h, &q, "", 0, rep, 0, 0);
            long e = r >= 0 ? k_handle_received() : -1;
            k_handle_close(h);
            if (r < 0)
                return lx_errno(r);
            return e > 0 ? e : -LX_EIO;
        }
        if (rep->mode) {
            if (h <= 0)
                return -LX_EIO;
            return h;
        }
        if (r <= 0 || r >= (long)sizeof(redirect) || redirect[0] != '/')
            return -LX_EIO;                 /* a redirect that says nowhere */
        redirect[r] = 0;
        memcpy(at, redirect, (size_t)r + 1);
        cur = at;
        len = (size_t)r;
    }
    return -LX_ELOOP;
}

static void register_terminal(long conn);

static long install(long conn, uint32_t flags, uint32_t mode, const char *path, int from)
{
    int fd = lowest_free(from);
    if (fd < 0) {
        k_handle_close(conn);
        return fd;
    }
    used_fd(fd);
    fds[fd] = (struct lx_file){ .conn = conn, .mode = mode,
                                .fdflags = flags & LX_O_CLOEXEC ? LX_FD_CLOEXEC : 0,
                                .flags = flags & (LX_O_ACCMODE | LX_O_APPEND | LX_O_NONBLOCK) };
    size_t n = path ? strlen(path) : sizeof(fds[fd].path);
    if (n < sizeof(fds[fd].path))
        memcpy(fds[fd].path, path, n + 1);
    return fd;
}

/* The program's path UPATH (DIRFD-relative) in PATH and, absolute and
 * normal, in ABS (256 bytes each); 0 or -errno (an empty path: ENOENT). */
static long path_abs(long dirfd, uint64_t upath, char *path, char *abs)
{
    long r = lx_copy_str(path, 256, upath);
    if (r < 0)
        return r;
    if (!path[0])
        return -LX_ENOENT;
    return lx_abspath(dirfd, path, abs);
}

static long sys_openat(long dirfd, uint64_t upath, uint32_t flags, uint32_t mode)
{
    char path[256], abs[256];
    long r = path_abs(dirfd, upath, path, abs);
    if (r < 0)
        return r;
    long n;
    const char *tail;
    switch (self_fd(abs, &n, &tail)) {
    case 1:
        if (flags & LX_O_ACCMODE)
            return -LX_EISDIR;
        return install(SELF_FD_DIR, flags, LX_S_IFDIR, abs, 0);
    case 2:
        if (n < 0)
            return -LX_ENOENT;
        if (*tail || ((fds[n].mode & LX_S_IFMT) != LX_S_IFREG &&
                      (fds[n].mode & LX_S_IFMT) != LX_S_IFDIR) || !fds[n].path[0]) {
            if (*tail)              /* a path under the descriptor's directory */
                snprintf(path, sizeof(path), "%s%s", fds[n].path, tail);
            else {
                /* a pipe, a terminal, a device: the same open file, as
                 * Linux reopens a pipe (with the mode asked for) */
                long h = fds[n].conn < 0 ? fds[n].conn : k_handle_dup(fds[n].conn, CONN_RIGHTS);
                if (h < 0 && fds[n].conn > 0)
                    return lx_errno(h);
                long fd = install(h, flags, fds[n].mode, fds[n].path, 0);
                if (fd >= 0)
                    fds[fd].tty = fds[n].tty;
                return fd;
            }
        } else {
            snprintf(path, sizeof(path), "%s", fds[n].path);   /* a file: opened anew */
        }
        if ((r = lx_abspath(LX_AT_FDCWD, path, abs)) < 0)
            return r;
        break;
    }
    struct file_open_rep rep;
    long conn = open_abs(abs, flags, mode & ~lx.umask, &rep);
    if (conn < 0)
        return conn;
    long fd = install(conn, flags, rep.mode & LX_S_IFMT, abs, 0);
    if (fd >= 0 && (rep.oflags & 2)) {
        fds[fd].tty = true;
        register_terminal(conn);
    }
    return fd;
}

/* ---- data ---- */

/* Whether F is a terminal whose foreground group is not ours. */
static bool tty_background(struct lx_file *f)
{
    if (!f->tty)
        return false;
    struct file_ioctl_req q = { .cmd = 0x540F };       /* TIOCGPGRP */
    struct file_ioctl_rep rep;
    int32_t fg = 0;
    return file_ioctl(f->conn, &q, 0, 0, &rep, &fg, sizeof(fg)) >= 0 && fg > 0 &&
           (uint64_t)fg != lx.pgid;
}

/* A background job reading its terminal gets SIGTTIN (which stops it by
 * default) and the read again when it continues, as on Linux.  0: F may
 * be read. */
static long tty_read_check(struct lx_file *f)
{
    return tty_background(f) ? lx_sig_tty_background(21) : 0;  /* SIGTTIN */
}

/* A background job changing its terminal's settings or foreground
 * (tcsetattr, tcsetpgrp, tcflush, tcflow), or writing to it when TOSTOP
 * is set (WRITE), gets SIGTTOU, as on Linux; 0: F may go on. */
static long tty_change_check(struct lx_file *f, bool write)
{
    if (!tty_background(f))
        return 0;
    if (write) {
        uint32_t t[15] = { 0 };                         /* struct termios: c_lflag at 12 */
        struct file_ioctl_req q = { .cmd = 0x5401 };    /* TCGETS */
        struct file_ioctl_rep rep;
        if (file_ioctl(f->conn, &q, 0, 0, &rep, t, sizeof(t)) < 0 || !(t[3] & 0400))
            return 0;                                   /* no TOSTOP */
    }
    return lx_sig_tty_background(22);                   /* SIGTTOU */
}

static long sys_read(uint64_t fd, uint64_t buf, uint64_t len, uint64_t offset)
{
    struct lx_file *f = get(fd);
    if (!f || (f->flags & LX_O_ACCMODE) == LX_O_WRONLY)
        return -LX_EBADF;
    if (f->conn == DEBUG_CONSOLE)
        return 0;
    if ((f->mode & LX_S_IFMT) == LX_S_IFDIR)
        return -LX_EISDIR;
    long bg = tty_read_check(f);
    if (bg)
        return bg;
    if (len > 0x7ffff000)
        len = 0x7ffff000;
    if ((f->mode & LX_S_IFMT) == LX_S_IFREG && offset != FILE_POS_CURRENT) {
        long n = lx_view_pread(&f->view, f->conn, buf, len, offset);
        if (n != LX_RING_NONE)
            return n;
    }
    if ((f->mode & LX_S_IFMT) == LX_S_IFIFO && offset == FILE_POS_CURRENT) {
        long n = lx_ring_read(&f->ring, f->conn, buf, len, (f->flags & LX_O_NONBLOCK) != 0);
        if (n != LX_RING_NONE)
            return n;
    }
    struct file_read_req q = { .offset = offset, .len = (uint32_t)len,
                               .flags = f->flags & LX_O_NONBLOCK ? 1 : 0 };
    struct file_read_rep rep;
    long conn = f->conn;
    lx_lock_give();                 /* a read may wait (a terminal, a pipe) */
    long r = file_read(conn, &q, &rep, (void *)buf, (size_t)len);
    lx_lock_take();
    return lx_errno(r);
}

long lx_fd_map_read(long fd, uint64_t offset, void *dst, size_t len, bool shared_write)
{
    struct lx_file *f = get((uint64_t)fd);
    if (!f)
        return -LX_EBADF;
    if ((f->flags & LX_O_ACCMODE) == LX_O_WRONLY ||
        (shared_write && (f->flags & LX_O_ACCMODE) != LX_O_RDWR))
        return -LX_EACCES;
    if (f->conn == DEBUG_CONSOLE || (f->mode & LX_S_IFMT) != LX_S_IFREG)
        return -LX_ENODEV;
    size_t done = 0;
    while (done < len) {
        size_t want = len - done > (1u << 20) ? (1u << 20) : len - done;
        struct file_read_req q = { .offset = offset + done, .len = (uint32_t)want };
        struct file_read_rep rep;
        long n = file_read(f->conn, &q, &rep, (char *)dst + done, want);
        if (n < 0)
            return lx_errno(n);
        if (n == 0)
            break;                  /* past the end: the rest stays zero */
        done += (size_t)n;
    }
    return (long)done;
}

static long sys_write(uint64_t fd, uint64_t buf, uint64_t len, uint64_t offset)
{
    struct lx_file *f = get(fd);
    if (!f || (f->flags & LX_O_ACCMODE) == 0)
        return -LX_EBADF;
    if (len > 0x7ffff000)
        len = 0x7ffff000;
    if (f->conn == DEBUG_CONSOLE) {
        static char bounce[4096];
        uint64_t done = 0;
        while (done < len) {
            size_t n = len - done > sizeof(bounce) ? sizeof(bounce) : (size_t)(len - done);
            if (!lx_copy_in(bounce, buf + done, n))
                return done ? (long)done : -LX_EFAULT;
            rt_debug_write(bounce, n);
            done += n;
        }
        return (long)done;
    }
    long bg = tty_change_check(f, true);
    if (bg)
        return bg;
    long done = 0;
    if ((f->mode & LX_S_IFMT) == LX_S_IFIFO && offset == FILE_POS_CURRENT) {
        bool nonblock = (f->flags & LX_O_NONBLOCK) != 0;
        long n = lx_ring_write(&f->ring, f->conn, buf, len, nonblock);
        if (n == -LX_EPIPE)
            lx_sigpipe();
        if (n != LX_RING_NONE && (n < 0 || (uint64_t)n == len || nonblock))
            return n;
        if (n != LX_RING_NONE) {
            done = n;               /* the ring is full: the rest waits at the server */
            buf += (uint64_t)n;
            len -= (uint64_t)n;
        }
    }
    struct file_write_req q = { .offset = offset, .flags = f->flags & LX_O_NONBLOCK ? 1 : 0 };
    struct file_write_rep rep;
    long conn = f->conn;
    lx_lock_give();                 /* a write may wait (a full pipe, a slow line) */
    long r = lx_errno(file_write(conn, &q, (const void *)buf, (size_t)len, &rep));
    lx_lock_take();
    if (done)
        return r < 0 ? done : done + r;
    if (r == -LX_EPIPE)
        lx_sigpipe();               /* SIGPIPE's default action ends us here */
    return r;
}

static long sys_rwv(uint64_t fd, uint64_t uiov, uint64_t cnt, uint64_t offset, bool write)
{
    if (cnt > 1024)
        return -LX_EINVAL;
    long total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t iov[2];
        if (!lx_copy_in(iov, uiov + i * 16, sizeof(iov)))
            return total ? total : -LX_EFAULT;
        if (!iov[1])
            continue;
        uint64_t at = offset == FILE_POS_CURRENT ? offset : offset + (uint64_t)total;
        long r = write ? sys_write(fd, iov[0], iov[1], at) : sys_read(fd, iov[0], iov[1], at);
        if (r < 0)
            return total ? total : r;
        total += r;
        if ((uint64_t)r < iov[1])
            break;
    }
    return total;
}

static long sys_lseek(uint64_t fd, int64_t off, uint32_t whence)
{
    struct lx_file *f = get(fd);
    if (!f)
        return -LX_EBADF;
    if (f->conn == DEBUG_CONSOLE)
        return -LX_ESPIPE;
    if ((f->mode & LX_S_IFMT) == LX_S_IFDIR && whence == 0 && off == 0) {
        f->dir_cookie = 0;              /* rewinddir */
        return 0;
    }
    struct file_seek_req q = { .offset = off, .whence = whence };
    struct file_seek_rep rep;
    long r = file_seek(f->conn, &q, &rep);
    return r < 0 ? lx_errno(r) : (long)rep.position;
}

/* getdents64 of /proc/self/fd: ".", "..", then each open descriptor (a
 * link); the cookie is the next descriptor's number + 2. */
static long self_fd_readdir(struct lx_file *f, uint64_t buf, uint64_t len)
{
    static uint8_t out[4096];
    size_t used = 0, cap = len < sizeof(out) ? (size_t)len : sizeof(out);
    for (uint64_t c = f->dir_cookie; c < 2 + (uint64_t)fd_end; c++) {
        char name[16];
        if (c >= 2 && !fds[c - 2].conn)
            continue;
        snprintf(name, sizeof(name), c == 0 ? "." : c == 1 ? ".." : "%lu", (unsigned long)(c - 2));
        if (!filesrv_dirent(out, cap, &used, 0x1000 + c, c + 1, c < 2 ? 4 : 10 /* DT_LNK */, name)) {
            if (!used)
                return -LX_EINVAL;
            break;
        }
        f->dir_cookie = c + 1;
    }
    if (used && !lx_copy_out(buf, out, used))
        return -LX_EFAULT;
    return (long)used;
}

static long sys_getdents64(uint64_t fd, uint64_t buf, uint64_t len)
{
    struct lx_file *f = get(fd);
    if (!f)
        return -LX_EBADF;
    if ((f->mode & LX_S_IFMT) != LX_S_IFDIR)
        return -LX_ENOTDIR;
    if (len > 65536)
        len = 65536;
    if (!lx_writable(buf, (size_t)len))
        return -LX_EFAULT;
    if (f->conn == SELF_FD_DIR)
        return self_fd_readdir(f, buf, len);
    struct file_readdir_req q = { .cookie = f->dir_cookie, .len = (uint32_t)len };
    struct file_readdir_rep rep;
    long r = file_readdir(f->conn, &q, &rep, (void *)buf, (size_t)len);
    if (r <= 0)
        return lx_errno(r);
    if ((uint64_t)r > len)
        return -LX_EIO;
    /* The next call starts after the last entry (its d_off). */
    uint64_t at = 0, last = 0;
    while (at + 19 <= (uint64_t)r) {
        uint16_t reclen;
        memcpy(&reclen, (const void *)(buf + at + 16), 2);
        if (reclen < 19 || at + reclen > (uint64_t)r)
            return -LX_EIO;             /* the server sent garbage */
        last = at;
        at += reclen;
    }
    memcpy(&f->dir_cookie, (const void *)(buf + last + 8), 8);
    return r;
}

/* ---- attributes ---- */

struct lx_stat {
    uint64_t dev, ino, nlink;
    uint32_t mode, uid, gid, pad0;
    uint64_t rdev;
    int64_t size, blksize, blocks;
    uint64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
    int64_t unused[3];
};
_Static_assert(sizeof(struct lx_stat) == 144, "struct stat of x86-64 Linux");

static long stat_out(const struct file_stat_rep *s, uint64_t ubuf)
{
    struct lx_stat st = {
        .dev = s->dev, .ino = s->ino, .nlink = s->nlink, .mode = s->mode, .uid = s->uid,
        .gid = s->gid, .rdev = s->rdev, .size = (int64_t)s->size, .blksize = (int64_t)s->blksize,
        .blocks = (int64_t)s->blocks,
        .atime = (uint64_t)s->atime_ns / 1000000000, .atime_ns = (uint64_t)s->atime_ns % 1000000000,
        .mtime = (uint64_t)s->mtime_ns / 1000000000, .mtime_ns = (uint64_t)s->mtime_ns % 1000000000,
        .ctime = (uint64_t)s->ctime_ns / 1000000000, .ctime_ns = (uint64_t)s->ctime_ns % 1000000000,
    };
    return lx_copy_out(ubuf, &st, sizeof(st)) ? 0 : -LX_EFAULT;
}

/* The attributes of descriptor FD into *S; 0 or -errno. */
static long fstat_rep(uint64_t fd, struct file_stat_rep *s)
{
    struct lx_file *f = get(fd);
    if (!f)
        return -LX_EBADF;
    if (f->conn == DEBUG_CONSOLE) {
        *s = (struct file_stat_rep){ .mode = LX_S_IFCHR | 0620, .nlink = 1, .blksize = 1024,
                                     .rdev = (5u << 8) | 1 };
        return 0;
    }
    if (f->conn == SELF_FD_DIR) {
        *s = (struct file_stat_rep){ .mode = LX_S_IFDIR | 0500, .nlink = 2, .blksize = 1024,
                                     .dev = 3, .ino = 0x1000 };
        return 0;
    }
    struct file_stat_req q = { 0 };
    long r = file_stat(f->conn, &q, 0, 0, s);
    return r < 0 ? lx_errno(r) : 0;
}

static long sys_fstat(uint64_t fd, uint64_t ubuf)
{
    struct file_stat_rep s;
    long r = fstat_rep(fd, &s);
    return r < 0 ? r : stat_out(&s, ubuf);
}

/* A path call: the server of the path (DIRFD-relative) and the rest. */
static long path_mount(long dirfd, uint64_t upath, char *rest, char *abs)
{
    char path[256];
    long r = path_abs(dirfd, upath, path, abs);
    if (r < 0)
        return r;
    return mount_of(abs, rest);
}

/* The attributes of the file at absolute ABS (REST under mount M, which
 * is closed here).  A server answers ELOOP when the path meets an
 * absolute symbolic link, which another server may hold: then the file
 * is opened (O_PATH, which follows such links) and its connection asked. */
static long stat_abs(long m, const char *abs, const char *rest, uint32_t flags,
                     struct file_stat_rep *s)
{
    struct file_stat_req q = { .flags = flags & LX_AT_SYMLINK_NOFOLLOW };
    long r = file_stat(m, &q, rest, strlen(rest), s);
    k_handle_close(m);
    if (r >= 0 || lx_errno(r) != -LX_ELOOP)
        return r < 0 ? lx_errno(r) : 0;
    struct file_open_rep rep;
    uint32_t of = LX_O_PATH | LX_O_NOCTTY |
                  (flags & LX_AT_SYMLINK_NOFOLLOW ? LX_O_NOFOLLOW : 0);
    long c = open_abs(abs, of, 0, &rep);
    if (c < 0)
        return c;
    struct file_stat_req none = { 0 };
    r = file_stat(c, &none, 0, 0, s);
    k_handle_close(c);
    return r < 0 ? lx_errno(r) : 0;
}

/* For the path calls that look at /proc/self/fd itself (stat, access,
 * readlink): LX_NFD for the directory, an entry's descriptor, -ENOENT for
 * an entry that is not open, -ENOSYS for any other path (ABS: the path,
 * absolute). */
static long self_fd_at(long dirfd, uint64_t upath, char *abs)
{
    char path[256];
    long r = path_abs(dirfd, upath, path, abs);
    if (r < 0)
        return r;
    long n;
    const char *tail;
    switch (self_fd(abs, &n, &tail)) {
    case 1:
        return LX_NFD;
    case 2:
        return n < 0 ? -LX_ENOENT : *tail ? -LX_ENOSYS : n;
    default:
        return -LX_ENOSYS;
    }
}

/* fstatat's and statx's work: the attributes of the path into *S. */
static long stat_at(long dirfd, uint64_t upath, uint32_t flags, struct file_stat_rep *s)
{
    char first;
    if (flags & LX_AT_EMPTY_PATH && lx_copy_in(&first, upath, 1) && !first)
        return fstat_rep((uint64_t)dirfd, s);
    char rest[256], abs[256];
    long n = self_fd_at(dirfd, upath, abs);
    if (n != -LX_ENOSYS) {              /* /proc/self/fd, or an entry of it */
        if (n < 0)
            return n;
        if (n == LX_NFD) {
            *s = (struct file_stat_rep){ .mode = LX_S_IFDIR | 0500, .nlink = 2, .blksize = 1024,
                                         .dev = 3, .ino = 0x1000 };
            return 0;
        }
        if (!(flags & LX_AT_SYMLINK_NOFOLLOW))
            return fstat_rep((uint64_t)n, s);
        char link[256];
        self_fd_link(n, link, sizeof(link));
        *s = (struct file_stat_rep){ .mode = LX_S_IFLNK | 0700, .nlink = 1, .blksize = 1024,
                                     .dev = 3, .ino = 0x1002 + (uint64_t)n, .size = strlen(link) };
        return 0;
    }
    long m = path_mount(dirfd, upath, rest, abs);
    if (m < 0)
        return m;
    return stat_abs(m, abs, rest, flags, s);
}

static long sys_fstatat(long dirfd, uint64_t upath, uint64_t ubuf, uint32_t flags)
{
    struct file_stat_rep s;
    long r = stat_at(dirfd, upath, flags, &s);
    return r < 0 ? r : stat_out(&s, ubuf);
}

/* statx: the same attributes in struct statx (256 bytes): all of the
 * basic ones (STATX_BASIC_STATS 0x7ff) are there whatever the mask. */
static long sys_statx(long dirfd, uint64_t upath, uint32_t flags, uint32_t mask, uint64_t ubuf)
{
    (void)mask;
    if (flags & ~(uint32_t)(LX_AT_EMPTY_PATH | LX_AT_SYMLINK_NOFOLLOW | 0x800 | 0x6000))
        return -LX_EINVAL;          /* AT_NO_AUTOMOUNT 0x800, AT_STATX_SYNC_TYPE 0x6000 */
    struct file_stat_rep s;
    long r = stat_at(dirfd, upath, flags, &s);
    if (r < 0)
        return r;
    uint8_t x[256];
    memset(x, 0, sizeof(x));
    uint32_t head[2] = { 0x7ff, (uint32_t)s.blksize };     /* stx_mask, stx_blksize */
    memcpy(x, head, sizeof(head));
    memcpy(x + 16, &s.nlink, 4);
    memcpy(x + 20, &s.uid, 4);
    memcpy(x + 24, &s.gid, 4);
    uint16_t mode = (uint16_t)s.mode;
    memcpy(x + 28, &mode, 2);
    memcpy(x + 32, &s.ino, 8);
    memcpy(x + 40, &s.size, 8);
    memcpy(x + 48, &s.blocks, 8);
    int64_t t[3] = { s.atime_ns, s.ctime_ns, s.mtime_ns };     /* at 64 atime, 96 ctime, 112 mtime; 80 btime */
    size_t at[3] = { 64, 96, 112 };
    for (int i = 0; i < 3; i++) {
        int64_t sec = t[i] / 1000000000;
        uint32_t ns = (uint32_t)(t[i] % 1000000000);
        memcpy(x + at[i], &sec, 8);
        memcpy(x + at[i] + 8, &ns, 4);
    }
    uint32_t dev[4] = { (uint32_t)(s.rdev >> 8), (uint32_t)(s.rdev & 0xff), (uint32_t)(s.dev >> 8),
                        (uint32_t)(s.dev & 0xff) };            /* rdev major, minor; dev major, minor */
    memcpy(x + 128, dev, sizeof(dev));
    return lx_copy_out(ubuf, x, sizeof(x)) ? 0 : -LX_EFAULT;
}

static long sys_faccessat(long dirfd, uint64_t upath)
{
    char rest[256], abs[256];
    long n = self_fd_at(dirfd, upath, abs);
    if (n != -LX_ENOSYS)
        return n < 0 ? n : 0;
    long m = path_mount(dirfd, upath, rest, abs);
    if (m < 0)
        return m;
    struct file_stat_rep s;
    return stat_abs(m, abs, rest, 0, &s);   /* we are root: it exists, we may */
}

static long sys_mkdirat(long dirfd, uint64_t upath, uint32_t mode)
{
    char rest[256], abs[256];
    long m = path_mount(dirfd, upath, rest, abs);
    if (m < 0)
        return m;
    struct file_mkdir_req q = { .mode = mode & ~lx.umask & 07777 };
    struct file_mkdir_rep rep;
    long r = file_mkdir(m, &q, rest, strlen(rest), &rep);
    k_handle_close(m);
    return lx_errno(r < 0 ? r : 0);
}

/* mknod: FIFOs and regular files (devices: EPERM, as for a process
 * without CAP_MKNOD; the file server says so). */
static long sys_mknodat(long dirfd, uint64_t upath, uint32_t mode, uint64_t dev)
{
    char rest[256], abs[256];
    uint32_t type = mode & LX_S_IFMT;
    if (type != 0 && type != LX_S_IFREG && type != 0010000 && type != 0020000 &&
        type != 0060000 && type != 0140000)
        return -LX_EINVAL;
    long m = path_mount(dirfd, upath, rest, abs);
    if (m < 0)
        return m;
    struct file_mknod_req q = { .mode = type | (mode & ~lx.umask & 07777), .dev = dev };
    struct file_mknod_rep rep;
    long r = file_mknod(m, &q, rest, strlen(rest), &rep);
    k_handle_close(m);
    return r == -E_NOSYS ? -LX_EPERM : lx_errno(r < 0 ? r : 0);
}

static long sys_unlinkat(long dirfd, uint64_t upath, uint32_t flags)
{
    char rest[256], abs[256];
    long m = path_mount(dirfd, upath, rest, abs);
    if (m < 0)
        return m;
    struct file_unlink_req q = { .flags = flags & LX_AT_REMOVEDIR };
    struct file_unlink_rep rep;
    long r = file_unlink(m, &q, rest, strlen(rest), &rep);
    k_handle_close(m);
    return lx_errno(r < 0 ? r : 0);
}

static long sys_renameat(long olddir, uint64_t uold, long newdir, uint64_t unew, uint32_t flags)
{
    char rest1[256], abs1[256], rest2[256], abs2[256], both[512];
    long m1 = path_mount(olddir, uold, rest1, abs1);
    if (m1 < 0)
        return m1;
    long m2 = path_mount(newdir, unew, rest2, abs2);
    if (m2 < 0) {
        k_handle_close(m1);
        return m2;
    }
    /* Both under one mount: the same prefix left the same way. */
    size_t p1 = strlen(abs1) - strlen(rest1), p2 = strlen(abs2) - strlen(rest2);
    k_handle_close(m2);
    if (p1 != p2 || memcmp(abs1, abs2, p1) != 0) {
        k_handle_close(m1);
        return -LX_EXDEV;
    }
    size_t a = strlen(rest1), b = strlen(rest2);
    memcpy(both, rest1, a + 1);
    memcpy(both + a + 1, rest2, b);
    struct file_rename_req q = { .flags = flags & 1 };
    struct file_rename_rep rep;
    long r = file_rename(m1, &q, both, a + 1 + b, &rep);
    k_handle_close(m1);
    return lx_errno(r < 0 ? r : 0);
}

static long sys_readlinkat(long dirfd, uint64_t upath, uint64_t buf, uint64_t size)
{
    char path[256];
    long r = lx_copy_str(path, sizeof(path), upath);
    if (r < 0)
        return r;
    if (strcmp(path, "/proc/self/exe") == 0) {
        size_t n = strlen(lx.exe);
        if (n > size)
            n = (size_t)size;
        return lx_copy_out(buf, lx.exe, n) ? (long)n : -LX_EFAULT;
    }
    char rest[256], abs[256];
    long n = self_fd_at(dirfd, upath, abs);
    if (n != -LX_ENOSYS) {
        if (n < 0 || n == LX_NFD)
            return n < 0 ? n : -LX_EINVAL;      /* the directory is no link */
        char link[256];
        self_fd_link(n, link, sizeof(link));
        size_t k = strlen(link) < size ? strlen(link) : (size_t)size;
        return lx_copy_out(buf, link, k) ? (long)k : -LX_EFAULT;
    }
    long m = path_mount(dirfd, upath, rest, abs);
    if (m < 0)
        return m;
    if (size > 4096)
        size = 4096;
    if (!lx_writable(buf, (size_t)size)) {
        k_handle_close(m);
        return -LX_EFAULT;
    }
    struct file_readlink_req q = { 0 };
    struct file_readlink_rep rep;
    r = file_readlink(m, &q, rest, strlen(rest), &rep, (void *)buf, (size_t)size);
    k_handle_close(m);
    return lx_errno(r);
}

/* "A NUL B" path pairs (link, symlink): both under one mount for link. */
static long sys_linkat(long olddir, uint64_t uold, long newdir, uint64_t unew, bool symbolic)
{
    char rest1[256], abs1[256], rest2[256], abs2[256], both[512];
    size_t a;
    if (symbolic) {
        long r = lx_copy_str(rest1, sizeof(rest1), uold);   /* the target, as it is */
        if (r < 0)
            return r;
        if (!rest1[0])
            return -LX_ENOENT;
        a = strlen(rest1);
    }
    long m2 = path_mount(newdir, unew, rest2, abs2);
    if (m2 < 0)
        return m2;
    if (!symbolic) {
        long m1 = path_mount(olddir, uold, rest1, abs1);
        if (m1 < 0) {
            k_handle_close(m2);
            return m1;
        }
        k_handle_close(m1);
        size_t p1 = strlen(abs1) - strlen(rest1), p2 = strlen(abs2) - strlen(rest2);
        if (p1 != p2 || memcmp(abs1, abs2, p1) != 0) {
            k_handle_close(m2);
            return -LX_EXDEV;
        }
        a = strlen(rest1);
    }
    size_t b = strlen(rest2);
    memcpy(both, rest1, a + 1);
    memcpy(both + a + 1, rest2, b);
    long r;
    if (symbolic) {
        struct file_symlink_req q = { 0 };
        struct file_symlink_rep rep;
        r = file_symlink(m2, &q, both, a + 1 + b, &rep);
    } else {
        struct file_link_req q = { 0 };
        struct file_link_rep rep;
        r = file_link(m2, &q, both, a + 1 + b, &rep);
    }
    k_handle_close(m2);
    return lx_errno(r < 0 ? r : 0);
}

/* chmod, utimens and truncate of a path (or of an open file: FD >= 0). */
enum attr_op { ATTR_CHMOD, ATTR_UTIMENS, ATTR_TRUNCATE };

static long sys_attr(long dirfd, uint64_t upath, long fd, enum attr_op op, uint64_t arg,
                     const int64_t *times, uint32_t flags)
{
    char rest[256], abs[256];
    long conn;
    size_t plen = 0;
    if (fd >= 0) {
        struct lx_file *f = get((uint64_t)fd);
        if (!f)
            return -LX_EBADF;
        if (f->conn == DEBUG_CONSOLE)
            return op == ATTR_TRUNCATE ? -LX_EINVAL : 0;
        conn = f->conn;
    } else {
        conn = path_mount(dirfd, upath, rest, abs);
        if (conn < 0)
            return conn;
        plen = strlen(rest);
    }
    long r;
    if (op == ATTR_CHMOD) {
        struct file_chmod_req q = { .mode = (uint32_t)arg & 07777 };
        struct file_chmod_rep rep;
        r = file_chmod(conn, &q, rest, plen, &rep);
    } else if (op == ATTR_UTIMENS) {
        struct file_utimens_req q = { .atime_ns = times[0], .mtime_ns = times[1],
                                      .flags = flags & LX_AT_SYMLINK_NOFOLLOW };
        struct file_utimens_rep rep;
        r = file_utimens(conn, &q, rest, plen, &rep);
    } else {
        struct file_truncate_req q = { .size = arg };
        struct file_truncate_rep rep;
        r = (int64_t)arg < 0 ? -(FILE_ERR_BASE + LX_EINVAL) : file_truncate(conn, &q, rest, plen, &rep);
    }
    if (fd < 0)
        k_handle_close(conn);
    return lx_errno(r < 0 ? r : 0);
}

/* utimensat's struct timespec[2] as the protocol's times (-1 now, -2 omit). */
static long sys_utimensat(long dirfd, uint64_t upath, uint64_t utimes, uint32_t flags)
{
    int64_t t[2] = { -1, -1 };
    if (utimes) {
        int64_t ts[4];
        if (!lx_copy_in(ts, utimes, sizeof(ts)))
            return -LX_EFAULT;
        for (int i = 0; i < 2; i++) {
            int64_t ns = ts[2 * i + 1];
            if (ns == (1L << 30) - 1)
                t[i] = -1;                  /* UTIME_NOW */
            else if (ns == (1L << 30) - 2)
                t[i] = -2;                  /* UTIME_OMIT */
            else if (ns < 0 || ns >= 1000000000 || ts[2 * i] < 0)
                return -LX_EINVAL;
            else
                t[i] = ts[2 * i] * 1000000000 + ns;
        }
    }
    if (!upath)
        return sys_attr(0, 0, dirfd, ATTR_UTIMENS, 0, t, flags);     /* futimens */
    return sys_attr(dirfd, upath, -1, ATTR_UTIMENS, 0, t, flags);
}

static long sys_statfs(uint64_t upath, long fd, uint64_t ubuf)
{
    char rest[256], abs[256];
    long conn;
    if (fd >= 0) {
        struct lx_file *f = get((uint64_t)fd);
        if (!f)
            return -LX_EBADF;
        conn = f->conn;
    } else {
        conn = path_mount(LX_AT_FDCWD, upath, rest, abs);
        if (conn < 0)
            return conn;
    }
    struct file_statfs_req q = { 0 };
    struct file_statfs_rep s;
    long r = conn == DEBUG_CONSOLE ? -E_NOSYS : file_statfs(conn, &q, &s);
    if (fd < 0)
        k_handle_close(conn);
    if (r < 0)
        return lx_errno(r);
    uint64_t out[15] = { s.type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree,
                         0, s.namelen, s.bsize, s.flags, 0, 0, 0, 0 };
    return lx_copy_out(ubuf, out, 120) ? 0 : -LX_EFAULT;
}

/* pipe: a new pipe's read end from the pipe server, then its write end
 * by the number the server gave it. */
static long sys_pipe2(uint64_t ufds, uint64_t flags)
{
    if (flags & ~(uint64_t)(LX_O_CLOEXEC | LX_O_NONBLOCK))
        return -LX_EINVAL;
    if (!lx_writable(ufds, 8))
        return -LX_EFAULT;
    struct file_open_rep rep;
    long r = open_abs("/dev/pipe", 0, 0, &rep);
    if (r < 0)
        return r;
    char path[48];
    snprintf(path, sizeof(path), "/dev/pipe/%lu", (unsigned long)rep.ino);
    struct file_open_rep wrep;
    long w = open_abs(path, LX_O_WRONLY, 0, &wrep);
    if (w < 0) {
        k_handle_close(r);
        return w;
    }
    uint32_t f = (uint32_t)flags;
    long fr = install(r, f | 0, LX_S_IFIFO, 0, 0);
    if (fr < 0) {
        k_handle_close(w);
        return fr;
    }
    long fw = install(w, f | LX_O_WRONLY, LX_S_IFIFO, 0, 0);
    if (fw < 0) {
        release((int)fr);
        return fw;
    }
    int32_t out[2] = { (int32_t)fr, (int32_t)fw };
    memcpy((void *)ufds, out, sizeof(out));
    return 0;
}

/* sendfile: read and write through a buffer of ours (no server-to-server
 * copy yet). */
static long sys_sendfile(uint64_t out, uint64_t in, uint64_t uoff, uint64_t count)
{
    struct lx_file *fi = get(in), *fo = get(out);
    if (!fi || !fo)
        return -LX_EBADF;
    /* As on Linux, the input is a file (one that could be mapped): from a
     * pipe or a terminal it is EINVAL, and programs copy with read and
     * write instead (busybox does).  What was read and not written then
     * could not be given back. */
    if ((fi->mode & LX_S_IFMT) != LX_S_IFREG || fi->conn == DEBUG_CONSOLE)
        return -LX_EINVAL;
    if ((fi->flags & LX_O_ACCMODE) == LX_O_WRONLY)
        return -LX_EBADF;
    uint64_t off = FILE_POS_CURRENT;
    if (uoff) {
        int64_t o;
        if (!lx_copy_in(&o, uoff, 8))
            return -LX_EFAULT;
        if (o < 0)
            return -LX_EINVAL;
        off = (uint64_t)o;
    }
    static uint8_t buf[65536];
    uint64_t done = 0;
    while (done < count) {
        size_t want = count - done < sizeof(buf) ? (size_t)(count - done) : sizeof(buf);
        struct file_read_req q = { .offset = off == FILE_POS_CURRENT ? off : off + done,
                                   .len = (uint32_t)want,
                                   .flags = fi->flags & LX_O_NONBLOCK ? 1 : 0 };
        struct file_read_rep rep;
        long n = fi->conn == DEBUG_CONSOLE ? 0 : file_read(fi->conn, &q, &rep, buf, want);
        if (n <= 0) {
            if (n < 0 && !done)
                return lx_errno(n);
            break;
        }
        long w = sys_write(out, (uint64_t)(uintptr_t)buf, (uint64_t)n, FILE_POS_CURRENT);
        if (w < 0) {
            if (off == FILE_POS_CURRENT)
                sys_lseek(in, -n, 1);       /* none of it went out */
            if (!done)
                return w;
            break;
        }
        done += (uint64_t)w;
        if (w < n && off == FILE_POS_CURRENT)       /* the input's position: after what went out */
            sys_lseek(in, (int64_t)w - n, 1);
        if (w < n || (size_t)n < want)
            break;                  /* a short write (a signal), or the end of the file */
    }
    if (uoff) {
        int64_t o = (int64_t)(off + done);
        if (!lx_copy_out(uoff, &o, 8))
            return -LX_EFAULT;
    }
    return (long)done;
}

/* ---- descriptors ---- */

static long dup_to(uint64_t fd, int to, uint32_t fdflags)
{
    struct lx_file *f = get(fd);
    if (!f)
        return -LX_EBADF;
    if (to < 0 || to >= LX_NFD)
        return -LX_EBADF;
    long h = f->conn < 0 ? f->conn : k_handle_dup(f->conn, CONN_RIGHTS);
    if (h < 0 && f->conn > 0)
        return lx_errno(h);
    struct lx_file copy = *f;
    memset(&copy.ring, 0, sizeof(copy.ring));      /* its own, when it is used */
    memset(&copy.view, 0, sizeof(copy.view));
    if (fds[to].conn)
        release(to);
    copy.conn = h;
    copy.fdflags = fdflags;
    used_fd(to);
    fds[to] = copy;
    return to;
}

static long sys_fcntl(uint64_t fd, uint32_t cmd, uint64_t arg)
{
    struct lx_file *f = get(fd);
    if (!f)
        return -LX_EBADF;
    switch (cmd) {
    case LX_F_DUPFD:
    case LX_F_DUPFD_CLOEXEC: {
        if (arg >= LX_NFD)
            return -LX_EINVAL;
        int to = lowest_free((int)arg);
        return to < 0 ? to : dup_to(fd, to, cmd == LX_F_DUPFD_CLOEXEC ? LX_FD_CLOEXEC : 0);
    }
    case LX_F_GETFD:
        return f->fdflags;
    case LX_F_SETFD:
        f->fdflags = (uint32_t)arg & LX_FD_CLOEXEC;
        return 0;
    case LX_F_GETFL:
        return f->flags;
    case LX_F_SETFL:
        f->flags = (f->flags & LX_O_ACCMODE) | ((uint32_t)arg & (LX_O_APPEND | LX_O_NONBLOCK));
        return 0;
    case LX_F_GETLK: {                  /* no one else holds a lock: F_UNLCK */
        int16_t type = 2;
        return lx_copy_out(arg, &type, sizeof(type)) ? 0 : -LX_EFAULT;
    }
    case LX_F_SETLK:
    case LX_F_SETLKW:
        return 0;                       /* locks are advisory and we are alone */
    default:
        return -LX_EINVAL;
    }
}

/* ioctl: the argument's size in and out, by request (Linux's numbers). */
struct ioctl_kind {
    uint32_t cmd;
    uint16_t in, out;
    bool arg;                           /* takes an integer, not a pointer */
};
static const struct ioctl_kind ioctls[] = {
    { 0x5401, 0, 36, false },           /* TCGETS */
    { 0x5402, 36, 0, false },           /* TCSETS */
    { 0x5403, 36, 0, false },           /* TCSETSW */
    { 0x5404, 36, 0, false },           /* TCSETSF */
    { 0x5409, 0, 0, true },             /* TCSBRK */
    { 0x540A, 0, 0, true },             /* TCXONC */
    { 0x540B, 0, 0, true },             /* TCFLSH */
    { 0x540E, 0, 0, true },             /* TIOCSCTTY */
    { 0x540F, 0, 4, false },            /* TIOCGPGRP */
    { 0x5410, 4, 0, false },            /* TIOCSPGRP */
    { 0x5413, 0, 8, false },            /* TIOCGWINSZ */
    { 0x5414, 8, 0, false },            /* TIOCSWINSZ */
    { 0x541B, 0, 4, false },            /* FIONREAD */
    { 0x5422, 0, 0, true },             /* TIOCNOTTY */
    { 0x5429, 0, 4, false },            /* TIOCGSID */
    { 0x80045430, 0, 4, false },        /* TIOCGPTN: a pty master's number */
    { 0x40045431, 4, 0, false },        /* TIOCSPTLCK: (un)lock its slave */
    { 0x5441, 0, 0, true },             /* TIOCGPTPEER: its slave opened (below) */
};

/* TIOCGPTPEER answered: the slave's open file came with the reply; it
 * becomes the lowest free descriptor, with O_CLOEXEC and the access mode
 * of FLAGS, as open() would make it. */
static long open_peer(uint64_t flags)
{
    long conn = k_handle_received();
    if (conn <= 0)
        return -LX_EIO;
    long fd = install(conn, (uint32_t)flags, LX_S_IFCHR, 0, 0);
    if (fd >= 0) {
        fds[fd].tty = true;
        register_terminal(conn);
    }
    return fd;
}

static long sys_ioctl(uint64_t fd, uint32_t cmd, uint64_t arg)
{
    struct lx_file *f = get(fd);
    if (!f)
        return -LX_EBADF;
    if (cmd == 0x5421 || cmd == 0x5451 || cmd == 0x5450) {     /* FIONBIO, FIOCLEX, FIONCLEX */
        if (cmd == 0x5451 || cmd == 0x5450) {
            f->fdflags = cmd == 0x5451 ? LX_FD_CLOEXEC : 0;
            return 0;
        }
        int on;
        if (!lx_copy_in(&on, arg, sizeof(on)))
            return -LX_EFAULT;
        f->flags = on ? f->flags | LX_O_NONBLOCK : f->flags & ~(uint32_t)LX_O_NONBLOCK;
        return 0;
    }
    const struct ioctl_kind *k = NULL;
    for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
        if (ioctls[i].cmd == cmd)
            k = &ioctls[i];
    if (!k || f->conn == DEBUG_CONSOLE)
        return -LX_ENOTTY;
    if ((cmd >= 0x5402 && cmd <= 0x5404) || (cmd >= 0x5406 && cmd <= 0x5408) || cmd == 0x5410 ||
        cmd == 0x540A || cmd == 0x540B) {   /* TCSETS*, TCSETA*, TIOCSPGRP, TCXONC, TCFLSH */
        long bg = tty_change_check(f, false);
        if (bg)
            return bg;
    }
    uint8_t in[64], out[64];
    if (k->in && !lx_copy_in(in, arg, k->in))
        return -LX_EFAULT;
    if (k->out && !lx_writable(arg, k->out))
        return -LX_EFAULT;
    struct file_ioctl_req q = { .cmd = cmd, .arg = k->arg ? arg : 0 };
    struct file_ioctl_rep rep;
    long r = file_ioctl(f->conn, &q, in, k->in, &rep, out, k->out);
    if (r < 0)
        return lx_errno(r);
    if (cmd == 0x5441)
        return open_peer(arg);
    if (k->out && !lx_copy_out(arg, out, k->out))
        return -LX_EFAULT;
    /* A request that answers through memory returns 0 on Linux, though
     * the server gives its integer too (TIOCGPGRP's group). */
    return k->out ? 0 : (long)rep.value;
}

/* poll: each descriptor's state from its server (notify); when none is
 * ready, each is armed to pulse our channel, and we wait for a pulse or
 * the timeout. */
#define LX_PULSE_NOTIFY 0x4e4f5449
struct lx_pollfd {
    int32_t fd;
    int16_t events, revents;
};


/* poll's work on our copy P of the program's array: the ready count, or
 * -errno (EINTR after a handler). */
static long poll_core(struct lx_pollfd *p, uint64_t n, long timeout_ms)
{
    long deadline = timeout_ms < 0 ? -1 : k_clock_get() + timeout_ms * 1000000L;
    for (int round = 0;; round++) {
        long ready = 0;
        bool arm = round > 0 || timeout_ms != 0;
        for (uint64_t i = 0; i < n; i++) {
            p[i].revents = 0;
            if (p[i].fd < 0)
                continue;
            struct lx_file *f = get((uint64_t)p[i].fd);
            if (!f) {
                p[i].revents = 0x20;            /* POLLNVAL */
            } else if (f->conn == DEBUG_CONSOLE) {
                p[i].revents = (int16_t)(p[i].events & 4);
            } else {
                struct file_notify_req q = { .events = (uint16_t)p[i].events,
                                             .flags = arm ? 1 : 0, .code = LX_PULSE_NOTIFY,
                                             .value = (uint64_t)p[i].fd };
                struct file_notify_rep rep;
                if (arm)
                    k_handle_attach(lx.self, K_RIGHT_SEND, 0);
                long r = file_notify(f->conn, &q, &rep);
                p[i].revents = r < 0 ? (r == -E_NOSYS ? (int16_t)(p[i].events & 5) : 0x8)
                                     : (int16_t)(rep.revents & (p[i].events | 0x18));
            }
            ready += p[i].revents != 0;
        }
        if (ready || timeout_ms == 0)
            return ready;
        long left = deadline < 0 ? -1 : deadline - k_clock_get();
        if (deadline >= 0 && left <= 0)
            return 0;
        if (lx_sig_deliverable()) {
            lx_sig_attend();            /* it acts before the program goes on */
            return -LX_EINTR;           /* pending and now let through (ppoll's mask) */
        }
        long w = lx_wait_pulse(left);
        if (w < 0)
            return w;
        if (w == 2)
            return -LX_EINTR;           /* poll is not restarted after a handler */
    }
}

static long sys_poll(uint64_t ufds, uint64_t n, long timeout_ms)
{
    if (n > LX_NFD)
        return -LX_EINVAL;
    struct lx_pollfd p[LX_NFD];
    if (n && !lx_copy_in(p, ufds, n * sizeof(p[0])))
        return -LX_EFAULT;
    if (n && !lx_writable(ufds, n * sizeof(p[0])))
        return -LX_EFAULT;
    long r = poll_core(p, n, timeout_ms);
    if (r >= 0)
        lx_copy_out(ufds, p, n * sizeof(p[0]));
    return r;
}

/* select and pselect6, as poll: each descriptor in a set becomes one
 * pollfd (POLLIN for reading, POLLOUT for writing, POLLPRI for the
 * exceptional set); ready ones stay in their sets, the rest are cleared.
 * A descriptor that is not open is EBADF.  select's timeout is left with
 * what remained, as on Linux. */
static long sys_select(uint64_t nfds, uint64_t ur, uint64_t uw, uint64_t ue, long timeout_ms)
{
    if ((int64_t)nfds < 0 || nfds > LX_NFD)
        return -LX_EINVAL;
    uint64_t set[3][LX_NFD / 64] = { { 0 } };
    uint64_t u[3] = { ur, uw, ue };
    size_t bytes = (nfds + 63) / 64 * 8;
    for (int k = 0; k < 3; k++)
        if (u[k] && bytes && (!lx_copy_in(set[k], u[k], bytes) || !lx_writable(u[k], bytes)))
            return -LX_EFAULT;
    struct lx_pollfd p[LX_NFD];
    uint64_t n = 0;
    for (uint64_t fd = 0; fd < nfds; fd++) {
        int16_t ev = 0;
        for (int k = 0; k < 3; k++)
            if (set[k][fd / 64] & (1ULL << (fd % 64)))
                ev |= (int16_t)(k == 0 ? 1 : k == 1 ? 4 : 2);
        if (!ev)
            continue;
        if (!get(fd))
            return -LX_EBADF;
        p[n++] = (struct lx_pollfd){ .fd = (int32_t)fd, .events = ev };
    }
    long r = poll_core(p, n, timeout_ms);
    if (r < 0)
        return r;
    memset(set, 0, sizeof(set));
    long count = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t fd = (uint64_t)p[i].fd, bit = 1ULL << (fd % 64);
        int16_t re = p[i].revents;
        bool in = (p[i].events & 1) && (re & (1 | 8 | 16)), out = (p[i].events & 4) && (re & (4 | 8)),
             ex = (p[i].events & 2) && (re & 2);
        set[0][fd / 64] |= in ? bit : 0;
        set[1][fd / 64] |= out ? bit : 0;
        set[2][fd / 64] |= ex ? bit : 0;
        count += in + out + ex;
    }
    for (int k = 0; k < 3; k++)
        if (u[k] && bytes)
            lx_copy_out(u[k], set[k], bytes);
    return count;
}

/* A timeval (select) or timespec (pselect6) in milliseconds, rounded up;
 * -1: none (wait for ever). */
static long timeout_ms_of(uint64_t ut, bool timespec, long *err)
{
    *err = 0;
    if (!ut)
        return -1;
    int64_t t[2];
    if (!lx_copy_in(t, ut, sizeof(t)))
        return *err = -LX_EFAULT, 0;
    int64_t sub = timespec ? 1000000000 : 1000000;
    if (t[0] < 0 || t[1] < 0 || t[1] >= sub)
        return *err = -LX_EINVAL, 0;
    return t[0] * 1000 + (timespec ? (t[1] + 999999) / 1000000 : (t[1] + 999) / 1000);
}

/* ppoll's and pselect6's mask for the wait: at SET (8 bytes), if any. */
static long wait_mask(uint64_t set, uint64_t size)
{
    if (!set)
        return 0;
    uint64_t m;
    if (size != 8)
        return -LX_EINVAL;
    if (!lx_copy_in(&m, set, 8))
        return -LX_EFAULT;
    lx_sig_mask_during(m);
    return 0;
}

static long sys_ppoll(uint64_t ufds, uint64_t n, uint64_t uts, uint64_t set, uint64_t size)
{
    long ms = -1;
    if (uts) {
        int64_t ts[2];
        if (!lx_copy_in(ts, uts, sizeof(ts)))
            return -LX_EFAULT;
        if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
            return -LX_EINVAL;
        ms = ts[0] * 1000 + (ts[1] + 999999) / 1000000;
    }
    long e = wait_mask(set, size);
    return e ? e : sys_poll(ufds, n, ms);
}

static long sys_chdir(uint64_t upath, long fd)
{
    char abs[256];
    if (fd >= 0) {
        struct lx_file *f = get((uint64_t)fd);
        if (!f)
            return -LX_EBADF;
        if ((f->mode & LX_S_IFMT) != LX_S_IFDIR)
            return -LX_ENOTDIR;
        memcpy(abs, f->path, strlen(f->path) + 1);
    } else {
        char rest[256];
        long r, m = path_mount(LX_AT_FDCWD, upath, rest, abs);
        if (m < 0)
            return m;
        struct file_stat_req q = { 0 };
        struct file_stat_rep s;
        r = file_stat(m, &q, rest, strlen(rest), &s);
        k_handle_close(m);
        if (r < 0)
            return lx_errno(r);
        if ((s.mode & LX_S_IFMT) != LX_S_IFDIR)
            return -LX_ENOTDIR;
    }
    memcpy(lx.cwd, abs, strlen(abs) + 1);
    return 0;
}

static long sys_getcwd(uint64_t buf, uint64_t size)
{
    size_t n = strlen(lx.cwd) + 1;
    if (size < n)
        return -LX_ERANGE;
    return lx_copy_out(buf, lx.cwd, n) ? (long)n : -LX_EFAULT;
}

long lx_fd_call(uint64_t nr, const uint64_t *a, bool *served)
{
    *served = true;
    switch (nr) {
    case NR_read: return sys_read(a[0], a[1], a[2], FILE_POS_CURRENT);
    case NR_write: return sys_write(a[0], a[1], a[2], FILE_POS_CURRENT);
    case NR_pread64: return (int64_t)a[3] < 0 ? -LX_EINVAL : sys_read(a[0], a[1], a[2], a[3]);
    case NR_pwrite64: return (int64_t)a[3] < 0 ? -LX_EINVAL : sys_write(a[0], a[1], a[2], a[3]);
    case NR_readv: return sys_rwv(a[0], a[1], a[2], FILE_POS_CURRENT, false);
    case NR_writev: return sys_rwv(a[0], a[1], a[2], FILE_POS_CURRENT, true);
    case NR_open: return sys_openat(LX_AT_FDCWD, a[0], (uint32_t)a[1], (uint32_t)a[2]);
    case NR_openat: return sys_openat((long)(int)a[0], a[1], (uint32_t)a[2], (uint32_t)a[3]);
    case NR_close:
        if (!get(a[0]))
            return -LX_EBADF;
        release((int)a[0]);
        return 0;
    case NR_stat: return sys_fstatat(LX_AT_FDCWD, a[0], a[1], 0);
    case NR_lstat: return sys_fstatat(LX_AT_FDCWD, a[0], a[1], LX_AT_SYMLINK_NOFOLLOW);
    case NR_fstat: return sys_fstat(a[0], a[1]);
    case NR_newfstatat: return sys_fstatat((long)(int)a[0], a[1], a[2], (uint32_t)a[3]);
    case NR_statx: return sys_statx((long)(int)a[0], a[1], (uint32_t)a[2], (uint32_t)a[3], a[4]);
    case NR_access: return sys_faccessat(LX_AT_FDCWD, a[0]);
    case NR_faccessat: case NR_faccessat2: return sys_faccessat((long)(int)a[0], a[1]);
    case NR_lseek: return sys_lseek(a[0], (int64_t)a[1], (uint32_t)a[2]);
    case NR_getdents64: return sys_getdents64(a[0], a[1], a[2]);
    case NR_ioctl: return sys_ioctl(a[0], (uint32_t)a[1], a[2]);
    case NR_fcntl: return sys_fcntl(a[0], (uint32_t)a[1], a[2]);
    case NR_dup: {
        int to = lowest_free(0);
        return to < 0 ? to : dup_to(a[0], to, 0);
    }
    case NR_dup2:
        if (!get(a[0]))
            return -LX_EBADF;
        return a[0] == a[1] ? (long)a[1] : dup_to(a[0], (int)a[1], 0);
    case NR_dup3:
        if (a[0] == a[1] || (a[2] & ~(uint64_t)LX_O_CLOEXEC))
            return -LX_EINVAL;
        return dup_to(a[0], (int)a[1], a[2] & LX_O_CLOEXEC ? LX_FD_CLOEXEC : 0);
    case NR_poll: return sys_poll(a[0], a[1], (long)(int)a[2]);
    case NR_ppoll: return sys_ppoll(a[0], a[1], a[2], a[3], a[4]);
    case NR_select:
    case NR_pselect6: {
        long err, ms = timeout_ms_of(a[4], nr == NR_pselect6, &err);
        if (err)
            return err;
        if (nr == NR_pselect6 && a[5]) {    /* { const sigset_t *, size_t } */
            uint64_t sm[2];
            if (!lx_copy_in(sm, a[5], sizeof(sm)))
                return -LX_EFAULT;
            if ((err = wait_mask(sm[0], sm[1])) != 0)
                return err;
        }
        long start = k_clock_get();
        long r = sys_select(a[0], a[1], a[2], a[3], ms);
        if (nr == NR_select && a[4] && ms > 0) {    /* what is left, as Linux writes back */
            long left = ms * 1000000L - (k_clock_get() - start);
            int64_t tv[2] = { left > 0 ? left / 1000000000 : 0, left > 0 ? left % 1000000000 / 1000 : 0 };
            lx_copy_out(a[4], tv, sizeof(tv));
        }
        return r;
    }
    case NR_getcwd: return sys_getcwd(a[0], a[1]);
    case NR_chdir: return sys_chdir(a[0], -1);
    case NR_fchdir: return sys_chdir(0, (long)a[0]);
    case NR_mkdir: return sys_mkdirat(LX_AT_FDCWD, a[0], (uint32_t)a[1]);
    case NR_mkdirat: return sys_mkdirat((long)(int)a[0], a[1], (uint32_t)a[2]);
    case NR_mknod: return sys_mknodat(LX_AT_FDCWD, a[0], (uint32_t)a[1], a[2]);
    case NR_mknodat: return sys_mknodat((long)(int)a[0], a[1], (uint32_t)a[2], a[3]);
    case NR_unlink: return sys_unlinkat(LX_AT_FDCWD, a[0], 0);
    case NR_rmdir: return sys_unlinkat(LX_AT_FDCWD, a[0], LX_AT_REMOVEDIR);
    case NR_unlinkat: return sys_unlinkat((long)(int)a[0], a[1], (uint32_t)a[2]);
    case NR_rename: return sys_renameat(LX_AT_FDCWD, a[0], LX_AT_FDCWD, a[1], 0);
    case NR_renameat: return sys_renameat((long)(int)a[0], a[1], (long)(int)a[2], a[3], 0);
    case NR_renameat2:
        return sys_renameat((long)(int)a[0], a[1], (long)(int)a[2], a[3], (uint32_t)a[4]);
    case NR_readlink: return sys_readlinkat(LX_AT_FDCWD, a[0], a[1], a[2]);
    case NR_readlinkat: return sys_readlinkat((long)(int)a[0], a[1], a[2], a[3]);
    case NR_sendfile: return sys_sendfile(a[0], a[1], a[2], a[3]);
    case NR_pipe: return sys_pipe2(a[0], 0);
    case NR_pipe2: return sys_pipe2(a[0], a[1]);
    case NR_link: return sys_linkat(LX_AT_FDCWD, a[0], LX_AT_FDCWD, a[1], false);
    case NR_linkat: return sys_linkat((long)(int)a[0], a[1], (long)(int)a[2], a[3], false);
    case NR_symlink: return sys_linkat(0, a[0], LX_AT_FDCWD, a[1], true);
    case NR_symlinkat: return sys_linkat(0, a[0], (long)(int)a[1], a[2], true);
    case NR_chmod: return sys_attr(LX_AT_FDCWD, a[0], -1, ATTR_CHMOD, a[1], 0, 0);
    case NR_fchmod: return sys_attr(0, 0, (long)a[0] < LX_NFD ? (long)a[0] : LX_NFD, ATTR_CHMOD, a[1], 0, 0);
    case NR_fchmodat: return sys_attr((long)(int)a[0], a[1], -1, ATTR_CHMOD, a[2], 0, 0);
    case NR_truncate: return sys_attr(LX_AT_FDCWD, a[0], -1, ATTR_TRUNCATE, a[1], 0, 0);
    case NR_utimensat: return sys_utimensat((long)(int)a[0], a[1], a[2], (uint32_t)a[3]);
    case NR_statfs: return sys_statfs(a[0], -1, a[1]);
    case NR_fstatfs: return sys_statfs(0, (long)a[0] < LX_NFD ? (long)a[0] : LX_NFD, a[1]);
    case NR_chown: case NR_lchown: case NR_fchownat: case NR_fchown:
        return 0;                   /* one user: root */
    case NR_umask: {
        long old = lx.umask;
        lx.umask = (uint32_t)a[0] & 0777;
        return old;
    }
    case NR_fsync:
    case NR_fdatasync: {
        struct lx_file *f = get(a[0]);
        if (!f)
            return -LX_EBADF;
        if (f->conn == DEBUG_CONSOLE)
            return -LX_EINVAL;
        struct file_fsync_req q = { .flags = nr == NR_fdatasync };
        struct file_fsync_rep rep;
        long r = file_fsync(f->conn, &q, &rep);
        return r == -E_NOSYS ? 0 : lx_errno(r < 0 ? r : 0);
    }
    case NR_ftruncate:
        return sys_attr(0, 0, (long)a[0] < LX_NFD ? (long)a[0] : LX_NFD, ATTR_TRUNCATE, a[1], 0, 0);
    default:
        *served = false;
        return 0;
    }
}

/* A terminal's signals (^C...) come to our channel: its server keeps a
 * connection to it, one per process (a new registration from the same
 * process replaces the old), so each terminal opened is told, and each a
 * forked child holds (once per path: dups share theirs). */
static void register_terminal(long conn)
{
    if (lx.self <= 0)
        return;
    struct file_signals_req q = { .code = 0x5349474e };     /* PULSE_SIGNAL */
    struct file_signals_rep rep;
    k_handle_attach(lx.self, K_RIGHT_SEND, 0);
    file_signals(conn, &q, &rep);
}

void lx_fd_fork_child(void)
{
    mount_kept_fork_child();
    for (int i = 0; i < fd_end; i++)
        if (fds[i].ring.r || fds[i].ring.wait || fds[i].ring.wake)
            lx_ring_fork_child(&fds[i].ring);
    for (int i = 0; i < fd_end; i++) {
        if (fds[i].conn <= 0 || !fds[i].tty)
            continue;
        bool told = false;
        for (int j = 0; j < i && !told && fds[i].path[0]; j++)
            told = fds[j].conn > 0 && fds[j].tty && strcmp(fds[j].path, fds[i].path) == 0;
        if (!told)
            register_terminal(fds[i].conn);
    }
}

unsigned lx_fd_handles(int *fdnums, long *handles, unsigned max)
{
    unsigned n = 0;
    for (int i = 0; i < fd_end && n < max; i++)
        if (fds[i].conn > 0) {
            fdnums[n] = i;
            handles[n++] = fds[i].conn;
        }
    return n;
}

void lx_fd_renumber(int fd, long handle)
{
    if (fd >= 0 && fd < LX_NFD) {
        used_fd(fd);
        fds[fd].conn = handle;
    }
}

/* Descriptors 0, 1 and 2: the console's terminal, else the kernel's
 * debug console for output (no input). */
void lx_fd_init(void)
{
    memcpy(lx.cwd, "/", 2);
    lx.umask = 022;
    struct file_open_rep rep;
    long c = open_abs("/dev/console", LX_O_RDWR, 0, &rep);
    if (c > 0) {
        install(c, LX_O_RDWR, rep.mode & LX_S_IFMT, "/dev/console", 0);
        fds[0].tty = (rep.oflags & 2) != 0;
        dup_to(0, 1, 0);
        dup_to(0, 2, 0);
        if (fds[0].tty)
            register_terminal(c);
        /* We lead a session of our own (posix/proc.c): the console becomes
         * its controlling terminal, our group its foreground, as when a
         * session leader opens a terminal on Linux. */
        struct file_ioctl_req q = { .cmd = 0x540E };
        struct file_ioctl_rep rr;
        file_ioctl(c, &q, 0, 0, &rr, 0, 0);
        return;
    }
    /* No terminal (a service, a test): input is /dev/null (or, without
     * one, the kernel console, which reads as end of file), output the
     * kernel console.  Standard input is never left closed: programs take
     * the lowest free descriptor (a pipe would land on 0). */
    c = open_abs("/dev/null", 0, 0, &rep);
    if (c > 0)
        install(c, 0, rep.mode & LX_S_IFMT, "/dev/null", 0);
    else
        fds[0] = (struct lx_file){ .conn = DEBUG_CONSOLE, .flags = 0, .mode = LX_S_IFCHR };
    used_fd(2);
    fds[1] = (struct lx_file){ .conn = DEBUG_CONSOLE, .flags = LX_O_WRONLY, .mode = LX_S_IFCHR };
    fds[2] = fds[1];
}
