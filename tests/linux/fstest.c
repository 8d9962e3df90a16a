/*
 * fstest: files through the Linux personality and the file servers (the
 * boot image at /, tmpfs at /tmp: servers/ramfs), and mmap of files.
 * musl-gcc -static.
 * "linux-fs: ok WHAT" per check that passed, "linux-fs: FAIL WHAT" per
 * one that did not, "linux-fs: ALL PASSED" at the end when all did.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void check(int ok, const char *what)
{
    printf("linux-fs: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

static int err_is(long r, int e)
{
    return r == -1 && errno == e;
}

/* mmap of a file: its bytes (a copy), private writes stay private, the
 * clean refusals. */
static void mmap_files(void)
{
    static char data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    int fd = open("/tmp/mapped", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0 && write(fd, data, sizeof(data)) == (ssize_t)sizeof(data), "mmap: write a file");
    char *p = mmap(0, sizeof(data), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check(p != MAP_FAILED && memcmp(p, data, sizeof(data)) == 0, "mmap MAP_PRIVATE of a file: its bytes");
    if (p != MAP_FAILED) {
        size_t page = 4096, tail = 3 * page - sizeof(data);
        int zero = 1;
        for (size_t i = 0; i < tail; i++)
            zero &= p[sizeof(data) + i] == 0;
        check(zero, "mmap: the last page past the end of the file is zero");
        p[0] = 'Z';
        char c = 0;
        check(pread(fd, &c, 1, 0) == 1 && c == 'a', "mmap: a private write does not reach the file");
        munmap(p, sizeof(data));
    }
    p = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 8192);
    check(p != MAP_FAILED && memcmp(p, data + 8192, sizeof(data) - 8192) == 0,
          "mmap MAP_SHARED PROT_READ at an offset: the bytes from there");
    if (p != MAP_FAILED)
        munmap(p, 4096);
    check(mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED && errno == EINVAL,
          "mmap at an unaligned offset: EINVAL");
    check(mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV,
          "mmap MAP_SHARED writable of a file: ENODEV (not served), and said");
    check(mmap(0, 4096, PROT_READ, MAP_PRIVATE, 77, 0) == MAP_FAILED && errno == EBADF,
          "mmap of a descriptor not open: EBADF");
    int d = open("/tmp", O_RDONLY | O_DIRECTORY);
    check(mmap(0, 4096, PROT_READ, MAP_PRIVATE, d, 0) == MAP_FAILED && errno == ENODEV,
          "mmap of a directory: ENODEV");
    close(d);
    int w = open("/tmp/mapped", O_WRONLY);
    check(mmap(0, 4096, PROT_READ, MAP_PRIVATE, w, 0) == MAP_FAILED && errno == EACCES,
          "mmap of a write-only descriptor: EACCES");
    close(w);
    close(fd);
    /* MAP_ANONYMOUS ignores the descriptor (glibc passes -1 as a 32-bit int) */
    long a = syscall(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     0xffffffffL, 0);
    check(a > 0 && ((char *)a)[8191] == 0, "mmap MAP_ANONYMOUS with fd 0xffffffff: memory");
    unlink("/tmp/mapped");
}

/* sendfile from a file into a pipe: the position moves by what went out;
 * with an offset pointer, the pointer moves and the position does not. */
static void sendfile_file(void)
{
    static char data[10000], back[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    int fd = open("/tmp/sf", O_RDWR | O_CREAT | O_TRUNC, 0644);
    int p[2];
    if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || pipe(p) != 0) {
        check(0, "sendfile: a file and a pipe");
        return;
    }
    lseek(fd, 0, SEEK_SET);
    check(sendfile(p[1], fd, 0, 20000) == 10000 && lseek(fd, 0, SEEK_CUR) == 10000 &&
              read(p[0], back, sizeof(back)) == 10000 && memcmp(back, data, sizeof(data)) == 0,
          "sendfile file to pipe: the whole file, the position at its end");
    off_t off = 5000;
    check(sendfile(p[1], fd, &off, 20000) == 5000 && off == 10000 && lseek(fd, 0, SEEK_CUR) == 10000 &&
              read(p[0], back, sizeof(back)) == 5000 && memcmp(back, data + 5000, 5000) == 0,
          "sendfile with an offset: from there, the offset moves, the position does not");
    check(err_is(sendfile(fd, p[0], 0, 10), EINVAL), "sendfile from a pipe: EINVAL");
    close(p[0]);
    close(p[1]);
    close(fd);
    unlink("/tmp/sf");
}

/* /proc/self/fd and /dev/fd: our descriptors, from our own table. */
static void self_fds(void)
{
    int fd = open("/tmp/selffd", O_RDWR | O_CREAT | O_TRUNC, 0644);
    int p[2];
    if (fd < 0 || write(fd, "0123456789", 10) != 10 || pipe(p) != 0) {
        check(0, "/proc/self/fd: a file and a pipe");
        return;
    }
    DIR *d = opendir("/proc/self/fd");
    int seen0 = 0, seenfd = 0, seenbad = 0;
    struct dirent *e;
    char want[16];
    snprintf(want, sizeof(want), "%d", fd);
    while (d && (e = readdir(d))) {
        seen0 |= strcmp(e->d_name, "0") == 0 || strcmp(e->d_name, "1") == 0;
        seenfd |= strcmp(e->d_name, want) == 0 && e->d_type == DT_LNK;
        seenbad |= strcmp(e->d_name, "77") == 0;
    }
    if (d)
        closedir(d);
    check(d && seen0 && seenfd && !seenbad, "readdir /proc/self/fd: our descriptors, as links");
    char path[64], link[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    check(n == 11 && memcmp(link, "/tmp/selffd", 11) == 0, "readlink /proc/self/fd/N: the file's path");
    struct stat st, lst;
    check(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 10 &&
              lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode), "stat follows the link, lstat does not");
    snprintf(path, sizeof(path), "/dev/fd/%d", fd);
    int again = open(path, O_RDONLY);
    char c = 0;
    check(again >= 0 && read(again, &c, 1) == 1 && c == '0' && lseek(fd, 0, SEEK_CUR) == 10,
          "open /dev/fd/N of a file: opened anew, its own position");
    close(again);
    snprintf(path, sizeof(path), "/dev/fd/%d", p[1]);
    int w = open(path, O_WRONLY);
    check(w >= 0 && write(w, "x", 1) == 1 && read(p[0], &c, 1) == 1 && c == 'x',
          "open /dev/fd/N of a pipe: the same pipe");
    close(w);
    check(err_is(open("/proc/self/fd/77", O_RDONLY), ENOENT) && err_is(stat("/dev/fd/77", &st), ENOENT),
          "a descriptor not open: ENOENT");
    close(p[0]);
    close(p[1]);
    close(fd);
    unlink("/tmp/selffd");
}

/* struct statx, as Linux lays it out (this musl has no statx). */
struct lx_statx_ts {
    int64_t tv_sec;
    uint32_t tv_nsec, pad;
};
struct lx_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad0;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct lx_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
_Static_assert(sizeof(struct lx_statx) == 256, "struct statx");
#define STATX_BASIC_STATS 0x7ffU

/* statx, and mremap's shrink and move. */
static void statx_mremap(void)
{
    int fd = open("/tmp/sx", O_RDWR | O_CREAT | O_TRUNC, 0640);
    check(fd >= 0 && write(fd, "12345", 5) == 5, "statx: a file");
    close(fd);
    struct lx_statx sx;
    memset(&sx, 0, sizeof(sx));
    struct stat st;
    stat("/tmp/sx", &st);
    check(syscall(SYS_statx, AT_FDCWD, "/tmp/sx", 0, STATX_BASIC_STATS, &sx) == 0 &&
              (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS && sx.stx_size == 5 &&
              (sx.stx_mode & 07777) == 0640 && S_ISREG(sx.stx_mode) && sx.stx_ino == st.st_ino &&
              sx.stx_mtime.tv_sec == st.st_mtime,
          "statx: size, mode, inode and time as stat says");
    errno = 0;
    check(syscall(SYS_statx, AT_FDCWD, "/tmp/nosuch", 0, STATX_BASIC_STATS, &sx) == -1 && errno == ENOENT,
          "statx of nothing: ENOENT");
    errno = 0;
    check(syscall(SYS_statx, AT_FDCWD, "/tmp/sx", 0, STATX_BASIC_STATS, (void *)8) == -1 && errno == EFAULT,
          "statx with a bad buffer: EFAULT");
    unlink("/tmp/sx");

    char *p = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        check(0, "mremap: a mapping");
        return;
    }
    memset(p, 'm', 3 * 4096);
    char *q = mremap(p, 3 * 4096, 8 * 4096, MREMAP_MAYMOVE);
    int same = q != MAP_FAILED;
    for (int i = 0; same && i < 3 * 4096; i++)
        same = q[i] == 'm';
    check(same && q[8 * 4096 - 1] == 0, "mremap MAYMOVE to grow: the bytes moved, the rest zero");
    char *r = mremap(q, 8 * 4096, 4096, 0);
    check(r == q && r[0] == 'm', "mremap to shrink: in place");
    errno = 0;
    check(mremap(r, 4096, 16 * 4096, 0) == MAP_FAILED && errno == ENOMEM,
          "mremap to grow without MAYMOVE: ENOMEM (not in place)");
    munmap(r, 4096);
}

/* The personality's own room and many mappings: the program cannot map,
 * unmap or protect the first; with more mappings than the personality's
 * list of them once held (64), copies to and from the program still work. */
static void memory_edges(void)
{
    check(err_is(munmap((void *)0x75000000UL, 4096), EINVAL) &&
          err_is(mprotect((void *)0x70000000UL, 4096, PROT_NONE), EINVAL) &&
          mmap((void *)0x71000000UL, 4096, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED,
          "the personality's room: munmap, mprotect and mmap MAP_FIXED there are refused");
    static void *m[150];
    int made = 0;
    for (int i = 0; i < 150; i++) {
        /* one page each, every other one read-only so that none merge */
        m[i] = mmap(0, 4096, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        made += m[i] != MAP_FAILED;
    }
    struct stat st;
    struct timespec ts;
    int fd = open("/manifest", O_RDONLY);
    char *last = made == 150 ? m[148] : NULL;       /* writable, mapped last */
    check(made == 150 && fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 &&
          clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && read(fd, last, 10) == 10 &&
          memcmp(last, "# Kestrel ", 10) == 0,
          "150 more mappings: system calls still copy to and from the program");
    check(made == 150 && err_is(read(fd, m[149], 10), EFAULT),
          "and a read into a read-only one of them is EFAULT");
    close(fd);
    for (int i = 0; i < 150; i++)
        if (m[i] != MAP_FAILED)
            munmap(m[i], 4096);
}

/* Paths as programs write them: doubled slashes, "." and "..", a
 * trailing slash, relative to the working directory; all name the same
 * file (the personality makes them absolute and normal before asking). */
static void paths(void)
{
    int fd = open("/tmp/p", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0 && write(fd, "pp", 2) == 2 && close(fd) == 0 && mkdir("/tmp/pd", 0755) == 0,
          "a file and a directory for the path checks");
    struct stat a, b;
    check(stat("/tmp/p", &a) == 0, "stat /tmp/p");
    const char *same[] = { "/tmp//p", "/tmp/./p", "/tmp/../tmp/p", "//tmp/p", "/../tmp/p",
                           "/tmp/pd/../p", "/./tmp/p", "/tmp/pd/./../p" };
    int ok = 1;
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        ok &= stat(same[i], &b) == 0 && b.st_ino == a.st_ino;
        int f = open(same[i], O_RDONLY);
        char c[2];
        ok &= f >= 0 && read(f, c, 2) == 2 && c[0] == 'p';
        close(f);
    }
    check(ok, "//, . and .. anywhere in an absolute path: the same file, by stat and open");
    check(stat("/tmp/pd/", &b) == 0 && S_ISDIR(b.st_mode) && stat("/tmp/pd/.", &b) == 0 &&
          S_ISDIR(b.st_mode), "a directory with a trailing slash, and with /.");
    check(chdir("/tmp/pd") == 0 && stat("../p", &b) == 0 && b.st_ino == a.st_ino &&
          stat("./../p", &b) == 0 && b.st_ino == a.st_ino && stat(".", &b) == 0 &&
          S_ISDIR(b.st_mode), "relative paths from the working directory");
    check(chdir("/") == 0 && err_is(stat("/tmp/../nothere/p", &b), ENOENT) &&
          err_is(stat("/tmp/pd/../nothere", &b), ENOENT), "a missing name after .. : ENOENT");
    unlink("/tmp/p");
    rmdir("/tmp/pd");
}

/* pread of a file of /tmp through its view (posix/view.c): from the third
 * on it is a copy out of ramfs's memory object, with no message.  What
 * every write, growth, truncation and other descriptor does shows. */
static void views(void)
{
    static unsigned char a[20000], b[20000];
    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = (unsigned char)(i * 7 + i / 251);
    int fd = open("/tmp/view", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0 && write(fd, a, 5000) == 5000, "a file of 5,000 bytes in /tmp");
    int ok = 1;
    for (int i = 0; i < 6 && ok; i++) {
        memset(b, 0, 5000);
        ok = pread(fd, b, 5000, 0) == 5000 && memcmp(a, b, 5000) == 0;
    }
    check(ok, "six preads of it, the later ones through its view: what was written");
    check(pread(fd, b, 100, 4950) == 50 && memcmp(b, a + 4950, 50) == 0 &&
          pread(fd, b, 100, 5000) == 0 && pread(fd, b, 10, 1L << 40) == 0,
          "a pread across the end is short; at or past it, 0");
    check(pwrite(fd, "XYZ", 3, 10) == 3 && pread(fd, b, 3, 10) == 3 && memcmp(b, "XYZ", 3) == 0,
          "a write in place is seen at once");
    check(pwrite(fd, a, 20000, 0) == 20000 && pread(fd, b, 20000, 0) == 20000 &&
          memcmp(a, b, 20000) == 0, "a file that outgrew its memory object: the view moves with it");
    check(ftruncate(fd, 100) == 0 && pread(fd, b, 200, 0) == 100 && pread(fd, b, 10, 150) == 0,
          "after truncation: the new size");
    int w = open("/tmp/view", O_WRONLY);
    check(w >= 0 && pwrite(w, "hello", 5, 0) == 5 && pread(fd, b, 5, 0) == 5 &&
          memcmp(b, "hello", 5) == 0, "another descriptor's write is seen");
    check(err_is(pread(w, b, 1, 0), EBADF), "pread of a write-only descriptor: EBADF");
    check(err_is(pread(fd, (void *)8, 10, 0), EFAULT), "pread into a bad buffer: EFAULT");
    pid_t c = fork();
    if (c == 0) {
        int good = pread(fd, b, 5, 0) == 5 && memcmp(b, "hello", 5) == 0;
        usleep(200000);             /* meanwhile the parent grows the file */
        good = good && pread(fd, b, 20000, 0) == 20000 && memcmp(a, b, 20000) == 0;
        _exit(good ? 0 : 1);
    }
    usleep(50000);
    ssize_t grew = pwrite(w, a, 20000, 0);
    int st = -1;
    waitpid(c, &st, 0);
    check(grew == 20000 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "a forked child reads through the inherited view, and after the parent grew the file");
    check(unlink("/tmp/view") == 0 && pread(fd, b, 5, 0) == 5, "unlinked, it reads while open");
    close(w);
    close(fd);
}

int main(void)
{
    char buf[256];
    check(fcntl(0, F_GETFD) >= 0 && read(0, buf, 1) == 0,
          "standard input with no terminal: open, and at its end (/dev/null)");
    /* The boot image. */
    int fd = open("/manifest", O_RDONLY);
    check(fd >= 0, "open a file of the boot image");
    ssize_t n = read(fd, buf, 23);
    check(n == 23 && memcmp(buf, "# Kestrel boot manifest", 23) == 0, "read it");
    struct stat st;
    check(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 23, "fstat");
    check(lseek(fd, 2, SEEK_SET) == 2 && read(fd, buf, 7) == 7 && memcmp(buf, "Kestrel", 7) == 0,
          "lseek");
    check(pread(fd, buf, 1, 0) == 1 && buf[0] == '#', "pread leaves the position");
    check(read(fd, buf, 1) == 1 && buf[0] == ' ', "the position after pread");
    errno = 0;
    check(err_is(write(fd, "x", 1), EBADF), "write on a read-only descriptor: EBADF");
    close(fd);
    check(stat("/bin", &st) == 0 && S_ISDIR(st.st_mode), "stat a directory");
    DIR *d = opendir("/");
    int saw_bin = 0, saw_linux = 0, entries = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        entries++;
        saw_bin |= strcmp(e->d_name, "bin") == 0 && e->d_type == DT_DIR;
        saw_linux |= strcmp(e->d_name, "linux") == 0;
    }
    if (d)
        closedir(d);
    check(saw_bin && saw_linux && entries >= 4, "readdir of / lists bin and linux");
    check(err_is(open("/nosuch", O_RDONLY), ENOENT), "a missing file: ENOENT");
    check(err_is(open("/manifest/x", O_RDONLY), ENOTDIR), "a file as a directory: ENOTDIR");
    check(err_is(open("/bin", O_WRONLY), EISDIR), "a directory for writing: EISDIR");

    /* tmpfs. */
    check(chdir("/tmp") == 0 && getcwd(buf, sizeof(buf)) && strcmp(buf, "/tmp") == 0,
          "chdir and getcwd");
    fd = open("a", O_RDWR | O_CREAT | O_EXCL, 0644);
    check(fd >= 0, "create a file (relative to the working directory)");
    static char big[100000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + 3);
    check(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big), "a 100,000-byte write");
    static char back[100000];
    check(lseek(fd, 0, SEEK_SET) == 0 && read(fd, back, sizeof(back)) == (ssize_t)sizeof(back) &&
          memcmp(big, back, sizeof(big)) == 0, "read back the same bytes");
    check(read(fd, back, 10) == 0, "then end of file");
    check(fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof(big), "its size");
    check(ftruncate(fd, 10) == 0 && fstat(fd, &st) == 0 && st.st_size == 10, "ftruncate");
    check(err_is(open("a", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST), "O_EXCL: EEXIST");
    int fd2 = dup(fd);
    check(fd2 >= 0 && lseek(fd, 3, SEEK_SET) == 3 && lseek(fd2, 0, SEEK_CUR) == 3,
          "dup shares the position");
    pid_t c = fork();
    if (c == 0) {
        _exit(write(fd, "XY", 2) == 2 ? 0 : 1);
    }
    int ws = -1;
    pid_t w = waitpid(c, &ws, 0);
    off_t at = lseek(fd, 0, SEEK_CUR);
    check(w == c && ws == 0 && at == 5, "so does fork: the child's write moved ours");
    if (w != c || ws != 0 || at != 5)
        printf("linux-fs: (waitpid %d status %#x position %ld)\n", (int)w, ws, (long)at);
    close(fd2);
    close(fd);
    fd = open("a", O_WRONLY | O_APPEND);
    check(fd >= 0 && write(fd, "end", 3) == 3 && lseek(fd, 0, SEEK_CUR) == 13, "O_APPEND");
    close(fd);
    check(mkdir("dir", 0755) == 0 && mkdir("dir/sub", 0755) == 0, "mkdir");
    check(err_is(mkdir("dir", 0755), EEXIST), "mkdir again: EEXIST");
    check(rename("a", "dir/b") == 0 && err_is(open("a", O_RDONLY), ENOENT) &&
          stat("dir/b", &st) == 0 && st.st_size == 13, "rename");
    check(err_is(rmdir("dir"), ENOTEMPTY), "rmdir of a full directory: ENOTEMPTY");
    check(symlink("dir/b", "link") == 0 && readlink("link", buf, sizeof(buf)) == 5 &&
          memcmp(buf, "dir/b", 5) == 0, "symlink and readlink");
    fd = open("link", O_RDONLY);
    check(fd >= 0 && read(fd, buf, 20) == 13 && memcmp(buf + 3, "XY", 2) == 0 &&
          memcmp(buf + 10, "end", 3) == 0 && buf[0] == big[0],
          "open through a relative link: the bytes of all the writes above");
    if (fd >= 0)
        close(fd);
    check(lstat("link", &st) == 0 && S_ISLNK(st.st_mode), "lstat sees the link");
    check(err_is(rename("/tmp/link", "/manifest2"), EXDEV), "rename across file systems: EXDEV");
    check(unlink("link") == 0 && unlink("dir/b") == 0 && rmdir("dir/sub") == 0 &&
          rmdir("dir") == 0, "unlink and rmdir");
    check(err_is(unlink("dir"), ENOENT), "and they are gone");
    fd = open("held", O_RDWR | O_CREAT, 0600);
    check(fd >= 0 && write(fd, "kept", 4) == 4 && unlink("held") == 0 &&
          pread(fd, buf, 4, 0) == 4 && memcmp(buf, "kept", 4) == 0,
          "an unlinked file stays while open");
    close(fd);

    /* Hostile. */
    check(err_is(open((const char *)8, O_RDONLY), EFAULT), "open(bad pointer): EFAULT");
    fd = open("/manifest", O_RDONLY);
    check(err_is(read(fd, (void *)8, 10), EFAULT), "read into a bad buffer: EFAULT");
    close(fd);
    fd = open("w", O_RDWR | O_CREAT, 0600);
    check(err_is(write(fd, (void *)8, 10), EFAULT), "write from a bad buffer: EFAULT");
    check(write(fd, "ok", 2) == 2, "and the file still works");
    close(fd);
    unlink("w");
    check(err_is(read(9999, buf, 1), EBADF) && err_is(close(77), EBADF), "bad descriptors: EBADF");
    static char longpath[5000];
    memset(longpath, 'a', sizeof(longpath) - 1);
    check(err_is(open(longpath, O_RDONLY), ENAMETOOLONG), "a path too long: ENAMETOOLONG");
    check(err_is(stat((const char *)8, &st), EFAULT), "stat of a bad path pointer: EFAULT");
    /* (a bad struct stat pointer faults in musl itself, which converts
     * the kernel's struct into the caller's: as on Linux) */

    mmap_files();
    sendfile_file();
    self_fds();
    statx_mremap();
    views();
    paths();
    memory_edges();
    if (!failed)
        printf("linux-fs: ALL PASSED\n");
    return failed;
}
