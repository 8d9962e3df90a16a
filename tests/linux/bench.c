/*
 * bench: one static Linux program (musl-gcc -static) measured on Kestrel,
 * through the personality (bootimage/tests/bench.manifest: the boot image
 * at /, tmpfs at /tmp, pipes at /dev/pipe), and on Debian's Linux in the
 * same virtual machine (tools/linuxbench: /init of an initramfs).
 *
 * Under TCG with -icount shift=0 the guest clock counts guest
 * instructions, so a difference of CLOCK_MONOTONIC readings is the
 * instructions run in between, by every process of the machine (one CPU):
 * a pipe's or a fork's figure includes the other process, the servers and
 * the kernel.  Each figure is warmed up first (pages touched, the
 * emulator's translations made), then taken over COUNT operations, and
 * printed twice:
 *
 *   # NAME: TOTAL insns / COUNT = VALUE       (the arithmetic, checked by tools/bench)
 *   bench NAME VALUE insns
 *
 * A figure whose operation fails prints "# NAME: FAILED ..." instead.
 *
 *   bench          every figure
 *   bench quick    every figure over a tenth of the operations (tools/runtests)
 *   bench exit     _exit(0) at once: the program fork_exec_wait runs
 *   bench loop F   figure F (pipe, fork, exec, open, read, write) over and
 *                  over, never ending: what tools/sampleprof samples
 *
 * Files: on Kestrel /tmp is servers/ramfs (tmpfs); on Linux it is a
 * directory of the initramfs, i.e. of rootfs, which is tmpfs (the statfs
 * type is printed).  As Linux's /init (pid 1) it powers the machine off at
 * the end.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SELF "/linux/bench"     /* the exec target: this program, on both systems */

static long scale = 1;          /* 10 for "quick" */

static long now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void report(const char *name, long total, long count)
{
    printf("# %s: %ld insns / %ld = %ld\n", name, total, count, total / count);
    printf("bench %s %ld insns\n", name, total / count);
    fflush(stdout);
}

static void failed(const char *name, const char *what)
{
    printf("# %s: FAILED: %s\n", name, what);
    fflush(stdout);
}

/* getppid: the loop with and without the call; the calls' share. */
static long getppid_loop(long n)
{
    long t0 = now();
    for (long i = 0; i < n; i++)
        __asm__ volatile("" ::: "memory");
    long empty = now() - t0;
    t0 = now();
    for (long i = 0; i < n; i++) {
        syscall(SYS_getppid);
        __asm__ volatile("" ::: "memory");
    }
    return now() - t0 - empty;
}

static void bench_getppid(void)
{
    long n = 20000 / scale;
    getppid_loop(n / 10);
    report("posix_getppid_insns", getppid_loop(n), n);
}

/* One byte down one pipe, echoed back up another by a child. */
static int pipe_rounds(int wfd, int rfd, long n)
{
    char b = 'k';
    for (long i = 0; i < n; i++)
        if (write(wfd, &b, 1) != 1 || read(rfd, &b, 1) != 1)
            return -1;
    return 0;
}

static void bench_pipe(void)
{
    const char *name = "pipe_roundtrip_insns";
    long n = 2000 / scale;
    int down[2], up[2];
    if (pipe(down) || pipe(up))
        return failed(name, "pipe");
    pid_t c = fork();
    if (c < 0)
        return failed(name, "fork");
    if (c == 0) {
        close(down[1]);
        close(up[0]);
        char b;
        while (read(down[0], &b, 1) == 1 && write(up[1], &b, 1) == 1)
            ;
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    int bad = pipe_rounds(down[1], up[0], n / 10);
    long t0 = now();
    bad |= pipe_rounds(down[1], up[0], n);
    long total = now() - t0;
    close(down[1]);             /* the child reads end of file and exits */
    int st;
    waitpid(c, &st, 0);
    close(up[0]);
    if (bad)
        return failed(name, "a read or write of the round trip");
    report(name, total, n);
}

/* fork, the child runs ARGV (or exits at once when none), wait. */
static int fork_wait(char *const argv[], long n)
{
    static char *const envp[] = { 0 };
    for (long i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0)
            return -1;
        if (c == 0) {
            if (argv)
                execve(SELF, argv, envp);
            _exit(argv ? 127 : 0);
        }
        int st;
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return -1;
    }
    return 0;
}

static void bench_fork(const char *name, char *const argv[], long n)
{
    if (fork_wait(argv, n / 10 ? n / 10 : 1))
        return failed(name, "fork, exit or wait (or exec of " SELF ")");
    long t0 = now();
    if (fork_wait(argv, n))
        return failed(name, "fork, exit or wait (or exec of " SELF ")");
    report(name, now() - t0, n);
}

static void bench_fork_exit(void)
{
    bench_fork("fork_exit_wait_insns", 0, 200 / scale);
}

static char *exit_argv[] = { "bench", "exit", 0 };

static void bench_fork_exec(void)
{
    bench_fork("fork_exec_wait_insns", exit_argv, 100 / scale);
}

static int make_file(const char *path, long size)
{
    static char buf[65536];
    memset(buf, 'k', sizeof(buf));
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0)
        return -1;
    int ok = size <= (long)sizeof(buf) && write(fd, buf, (size_t)size) == size;
    return close(fd) == 0 && ok ? 0 : -1;
}

static int open_close(const char *path, long n)
{
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || close(fd))
            return -1;
    }
    return 0;
}

/* open and close of an existing file in /tmp (Kestrel: servers/ramfs as
 * tmpfs; Linux: the initramfs's rootfs, tmpfs). */
static void bench_open_close(void)
{
    const char *name = "open_close_insns", *path = "/tmp/bench.open";
    long n = 2000 / scale;
    if (make_file(path, 1) || open_close(path, n / 10))
        return failed(name, "create, open or close of /tmp/bench.open");
    long t0 = now();
    int bad = open_close(path, n);
    long total = now() - t0;
    if (bad)
        return failed(name, "open or close");
    report(name, total, n);
}

static int preads(int fd, long n)
{
    static char buf[4096];
    for (long i = 0; i < n; i++)
        if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
            return -1;
    return 0;
}

/* pread of 4 KiB at offset 0 of a 64 KiB file of /tmp, in memory. */
static void bench_read(void)
{
    const char *name = "read_4k_cached_insns", *path = "/tmp/bench.read";
    long n = 2000 / scale;
    int fd = make_file(path, 65536) ? -1 : open(path, O_RDONLY);
    if (fd < 0 || preads(fd, n / 10))
        return failed(name, "create, open or pread of /tmp/bench.read");
    long t0 = now();
    int bad = preads(fd, n);
    long total = now() - t0;
    close(fd);
    if (bad)
        return failed(name, "pread");
    report(name, total, n);
}

/* One write of 64 KiB at offset 0 into a /tmp file truncated to length 0
 * before each write (the truncation is outside the figure: each write is
 * timed by itself, less the cost of reading the clock twice). */
static long writes(int fd, long n, long clock_cost)
{
    static char buf[65536];
    memset(buf, 'w', sizeof(buf));
    long total = 0;
    for (long i = 0; i < n; i++) {
        if (ftruncate(fd, 0))
            return -1;
        long t0 = now();
        ssize_t r = pwrite(fd, buf, sizeof(buf), 0);
        total += now() - t0 - clock_cost;
        if (r != (ssize_t)sizeof(buf))
            return -1;
    }
    return total;
}

static void bench_write(void)
{
    const char *name = "tmpfs_write_64k_insns";
    long n = 200 / scale, pairs = 1000;
    long sum = 0;
    for (long i = 0; i < pairs; i++) {
        long t = now();
        sum += now() - t;
    }
    long clock_cost = sum / pairs;
    int fd = open("/tmp/bench.write", O_CREAT | O_TRUNC | O_RDWR, 0644);
    if (fd < 0 || writes(fd, n / 10, clock_cost) < 0)
        return failed(name, "create, ftruncate or pwrite of /tmp/bench.write");
    long total = writes(fd, n, clock_cost);
    close(fd);
    if (total < 0)
        return failed(name, "ftruncate or pwrite");
    printf("# %s: each write timed alone, %ld insns of two clock readings subtracted from each\n",
           name, clock_cost);
    report(name, total, n);
}

static void tell_tmp(void)
{
    struct statfs s;
    if (statfs("/tmp", &s) == 0)
        printf("# /tmp: statfs type %#lx (tmpfs 0x1021994, ramfs 0x858458f6)\n",
               (unsigned long)s.f_type);
}

static const struct figure {
    const char *name;
    void (*run)(void);
} figures[] = {
    { "getppid", bench_getppid }, { "pipe", bench_pipe }, { "fork", bench_fork_exit },
    { "exec", bench_fork_exec }, { "open", bench_open_close }, { "read", bench_read },
    { "write", bench_write },
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exit") == 0)
        _exit(0);
    if (argc > 2 && strcmp(argv[1], "loop") == 0) {
        for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
            if (strcmp(argv[2], figures[i].name) == 0)
                for (;;)
                    figures[i].run();
        printf("bench: no figure %s\n", argv[2]);
        return 2;
    }
    if (argc > 1 && strcmp(argv[1], "quick") == 0)
        scale = 10;
    tell_tmp();
    bench_getppid();
    bench_pipe();
    bench_fork_exit();
    bench_fork_exec();
    bench_open_close();
    bench_read();
    bench_write();
    if (getpid() == 1)
        reboot(RB_POWER_OFF);                     /* Linux's init: end the machine */
    return 0;
}
