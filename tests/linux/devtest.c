/*
 * devtest: /dev through the Linux personality and servers/devfs (null,
 * zero, full, random, urandom), next to the servers with longer prefixes
 * under /dev (servers/pipe at /dev/pipe).  musl-gcc -static.
 * "linux-dev: ok WHAT" per check that passed, "linux-dev: FAIL WHAT" per
 * one that did not, "linux-dev: ALL PASSED" at the end when all did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed;

static void check(int ok, const char *what)
{
    printf("linux-dev: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

static int err_is(long r, int e)
{
    return r == -1 && errno == e;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

#define BIG 300000
static unsigned char buf[BIG], buf2[BIG];

static void null_dev(void)
{
    int fd = open("/dev/null", O_RDWR);
    check(fd >= 0, "open /dev/null");
    check(read(fd, buf, 100) == 0, "/dev/null: a read is end of file");
    check(write(fd, "hello", 5) == 5, "/dev/null: a write is swallowed whole");
    check(write(fd, buf, BIG) == BIG, "/dev/null: so is a 300,000-byte write");
    check(lseek(fd, 100, SEEK_SET) == 0, "/dev/null: lseek returns 0");
    check(err_is(ioctl(fd, TIOCGWINSZ, buf), ENOTTY), "/dev/null: ioctl: ENOTTY");
    check(pwrite(fd, "x", 1, 12345) == 1 && pread(fd, buf, 1, 7) == 0, "/dev/null: pread and pwrite");
    struct pollfd pf = { .fd = fd, .events = POLLIN | POLLOUT };
    check(poll(&pf, 1, -1) == 1 && (pf.revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT),
          "/dev/null: poll is always ready");
    close(fd);
    fd = open("/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0 && write(fd, "x", 1) == 1, "open /dev/null as a shell's > does (O_CREAT|O_TRUNC)");
    check(err_is(read(fd, buf, 1), EBADF), "a write-only descriptor: read is EBADF");
    close(fd);
}

static void zero_dev(void)
{
    int fd = open("/dev/zero", O_RDWR);
    check(fd >= 0, "open /dev/zero");
    memset(buf, 0xa5, BIG);
    check(read(fd, buf, 10) == 10 && all_zero(buf, 10), "/dev/zero: ten zeros");
    memset(buf, 0xa5, BIG);
    check(read(fd, buf, BIG) == BIG && all_zero(buf, BIG), "/dev/zero: 300,000 zeros in one read");
    check(buf[BIG - 1] == 0, "(to the last byte)");
    check(write(fd, "abc", 3) == 3, "/dev/zero: a write is swallowed");
    check(read(fd, buf, 0) == 0, "/dev/zero: a read of 0 bytes");
    close(fd);
}

static void full_dev(void)
{
    int fd = open("/dev/full", O_RDWR);
    check(fd >= 0, "open /dev/full");
    memset(buf, 0xa5, 4096);
    check(read(fd, buf, 4096) == 4096 && all_zero(buf, 4096), "/dev/full: reads zeros");
    check(err_is(write(fd, "x", 1), ENOSPC), "/dev/full: a write is ENOSPC");
    check(err_is(write(fd, buf, BIG), ENOSPC), "/dev/full: a long one too");
    close(fd);
}

static void random_dev(const char *path)
{
    char what[96];
    int fd = open(path, O_RDONLY);
    snprintf(what, sizeof(what), "open %s", path);
    check(fd >= 0, what);
    memset(buf, 0, 4096);
    memset(buf2, 0, 4096);
    ssize_t a = read(fd, buf, 4096), b = read(fd, buf2, 4096);
    snprintf(what, sizeof(what), "%s: two reads of 4096 bytes, different", path);
    check(a == 4096 && b == 4096 && memcmp(buf, buf2, 4096) != 0, what);
    /* Roughly uniform: every byte value appears, and about half the bits are set. */
    unsigned counts[256] = { 0 };
    unsigned long ones = 0;
    for (int i = 0; i < 4096; i++) {
        counts[buf[i]]++;
        ones += (unsigned long)__builtin_popcount(buf[i]);
    }
    int seen = 0;
    for (int i = 0; i < 256; i++)
        seen += counts[i] > 0;
    snprintf(what, sizeof(what), "%s: looks random (%d byte values, %lu of 32768 bits set)",
             path, seen, ones);
    check(seen > 240 && ones > 15500 && ones < 17300, what);
    int fd2 = open(path, O_RDONLY);
    snprintf(what, sizeof(what), "%s: another open gives other bytes", path);
    check(fd2 >= 0 && read(fd2, buf2, 4096) == 4096 && memcmp(buf, buf2, 4096) != 0, what);
    close(fd2);
    snprintf(what, sizeof(what), "%s: a 300,000-byte read", path);
    check(read(fd, buf, BIG) == BIG && !all_zero(buf + BIG - 64, 64), what);
    close(fd);
    fd = open(path, O_WRONLY);
    snprintf(what, sizeof(what), "%s: a write is accepted", path);
    check(fd >= 0 && write(fd, "seed", 4) == 4, what);
    close(fd);
}

static void stats(void)
{
    static const struct { const char *path; unsigned minor; } devs[] = {
        { "/dev/null", 3 }, { "/dev/zero", 5 }, { "/dev/full", 7 },
        { "/dev/random", 8 }, { "/dev/urandom", 9 },
    };
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        struct stat st;
        char what[96];
        int ok = stat(devs[i].path, &st) == 0;
        snprintf(what, sizeof(what), "stat %s: a character device, rdev 1:%u", devs[i].path,
                 devs[i].minor);
        check(ok && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
              minor(st.st_rdev) == devs[i].minor && st.st_rdev == ((1u << 8) | devs[i].minor),
              what);
        if (!ok || !S_ISCHR(st.st_mode) || st.st_rdev != ((1u << 8) | devs[i].minor))
            printf("linux-dev: (mode %o rdev %#lx)\n", ok ? st.st_mode : 0,
                   ok ? (unsigned long)st.st_rdev : 0);
        int fd = open(devs[i].path, O_RDONLY);
        struct stat fst;
        snprintf(what, sizeof(what), "fstat %s agrees", devs[i].path);
        check(fd >= 0 && fstat(fd, &fst) == 0 && fst.st_rdev == st.st_rdev &&
              fst.st_ino == st.st_ino && S_ISCHR(fst.st_mode), what);
        close(fd);
    }
    struct stat st;
    check(stat("/dev", &st) == 0 && S_ISDIR(st.st_mode), "stat /dev: a directory");
    check(stat("/dev/", &st) == 0 && S_ISDIR(st.st_mode), "stat /dev/: the same");
    check(err_is(access("/dev/nosuch", F_OK), ENOENT), "access of a missing device: ENOENT");
    check(access("/dev/null", R_OK | W_OK) == 0, "access /dev/null");
}

static void listing(void)
{
    DIR *d = opendir("/dev");
    check(d != NULL, "opendir /dev");
    int seen = 0, chr = 1, dot = 0, entries = 0;
    static const char *const mine[] = { "null", "zero", "full", "random", "urandom" };
    struct dirent *e;
    while (d && (e = readdir(d))) {
        entries++;
        dot += strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
        for (int i = 0; i < 5; i++)
            if (strcmp(e->d_name, mine[i]) == 0) {
                seen |= 1 << i;
                chr &= e->d_type == DT_CHR;
            }
    }
    if (d)
        closedir(d);
    check(seen == 0x1f && chr, "readdir of /dev: null, zero, full, random, urandom (DT_CHR)");
    check(dot == 2, "and . and ..");
    /* /dev/pipe is another server's, which does not stat its mount: not
     * listed (the terminal's console and tty are, where they exist). */
    check(entries == 7, "and nothing else here (no terminal in this boot)");
    if (entries != 7)
        printf("linux-dev: (%d entries)\n", entries);
    /* A small buffer: one entry per getdents call still lists all. */
    int fd = open("/dev", O_RDONLY | O_DIRECTORY);
    char small[32];
    int n = 0;
    long r;
    while ((r = syscall(SYS_getdents64, fd, small, sizeof(small))) > 0)
        n++;
    check(fd >= 0 && n == 7 && r == 0, "readdir with a 32-byte buffer: an entry at a time");
    close(fd);
}

static void name_space(void)
{
    int p[2];
    check(pipe(p) == 0 && write(p[1], "x", 1) == 1, "/dev/pipe still goes to the pipe server");
    close(p[0]);
    close(p[1]);
    struct stat st;
    check(err_is(stat("/dev/console", &st), ENOENT), "/dev/console: no terminal in this boot, ENOENT");
}

static void hostile(void)
{
    check(err_is(open("/dev/nosuch", O_RDONLY), ENOENT), "open of a missing device: ENOENT");
    check(err_is(open("/dev/null/x", O_RDONLY), ENOTDIR), "/dev/null/x: ENOTDIR");
    check(err_is(open("/dev/null", O_RDONLY | O_DIRECTORY), ENOTDIR), "/dev/null with O_DIRECTORY: ENOTDIR");
    check(err_is(open("/dev", O_WRONLY), EISDIR), "/dev for writing: EISDIR");
    check(err_is(open("/dev/new", O_WRONLY | O_CREAT, 0644), EROFS), "creating a file in /dev: EROFS");
    int fd = open("/dev/zero", O_RDONLY);
    check(err_is(read(fd, (void *)8, 100), EFAULT), "/dev/zero: read into a bad buffer: EFAULT");
    check(err_is(read(fd, (void *)8, 100000), EFAULT), "/dev/zero: a long read into a bad buffer: EFAULT");
    check(err_is(write(fd, "x", 1), EBADF), "/dev/zero read-only: write is EBADF");
    check(read(fd, buf, 4) == 4 && all_zero(buf, 4), "and it still works");
    check(err_is(ftruncate(fd, 0), EINVAL), "ftruncate of a device: EINVAL");
    close(fd);
    fd = open("/dev/urandom", O_RDONLY);
    check(err_is(read(fd, (void *)8, 100000), EFAULT), "/dev/urandom: a long read into a bad buffer: EFAULT");
    close(fd);
    fd = open("/dev/null", O_WRONLY);
    check(write(fd, (void *)8, 10) == 10 || err_is(write(fd, (void *)8, 10), EFAULT),
          "/dev/null: a write from a bad buffer: swallowed or EFAULT");
    close(fd);
    fd = open("/dev", O_RDONLY | O_DIRECTORY);
    check(err_is(read(fd, buf, 10), EISDIR), "read of /dev: EISDIR");
    close(fd);
    /* A forked child shares the description: the generator too. */
    fd = open("/dev/urandom", O_RDONLY);
    pid_t c = fork();
    if (c == 0)
        _exit(read(fd, buf2, 64) == 64 ? 0 : 1);
    int st = -1;
    check(waitpid(c, &st, 0) == c && st == 0 && read(fd, buf, 64) == 64, "urandom across fork");
    close(fd);
}

int main(void)
{
    null_dev();
    zero_dev();
    full_dev();
    random_dev("/dev/urandom");
    random_dev("/dev/random");
    stats();
    listing();
    name_space();
    hostile();
    if (!failed)
        printf("linux-dev: ALL PASSED\n");
    return failed;
}
