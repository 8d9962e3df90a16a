/*
 * pipetest: pipes through the Linux personality and servers/pipe (at
 * /dev/pipe).  musl-gcc -static.  End of file and EPIPE across fork,
 * writes larger than the pipe, SIGPIPE's default action, O_NONBLOCK and
 * the partial-write rule, poll, pipe2's flags, dup2, hostile arguments;
 * FIFOs in /tmp (mkfifo: ramfs's node, the pipe server's data) with
 * Linux's open rules.
 * "linux-pipe: ok WHAT" per check that passed, "linux-pipe: FAIL WHAT"
 * per one that did not, "linux-pipe: ALL PASSED" at the end when all did.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void check(int ok, const char *what)
{
    printf("linux-pipe: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

static int err_is(long r, int e)
{
    return r == -1 && errno == e;
}

static long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* The child's exit status, or -1. */
static int reap(pid_t c)
{
    int st = -1;
    return waitpid(c, &st, 0) == c ? st : -1;
}

#define BIG 200000
static unsigned char big[BIG], back[BIG];

static void end_of_file(void)
{
    int p[2];
    char buf[16];
    check(pipe(p) == 0 && write(p[1], "abc", 3) == 3 && close(p[1]) == 0 &&
          read(p[0], buf, sizeof(buf)) == 3 && memcmp(buf, "abc", 3) == 0 &&
          read(p[0], buf, sizeof(buf)) == 0, "end of file after the writer closes");
    close(p[0]);

    /* The child closes its write end and lives on: the parent (whose own
     * write end is closed) sees end of file then, not at the child's exit. */
    if (pipe(p) != 0) {
        check(0, "pipe");
        return;
    }
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        int ok = write(p[1], "hi", 2) == 2;
        close(p[1]);
        usleep(300000);
        _exit(ok ? 0 : 1);
    }
    close(p[1]);
    ssize_t n = read(p[0], buf, sizeof(buf));
    ssize_t e = n == 2 ? read(p[0], buf, sizeof(buf)) : -2;
    int st = -1;
    pid_t early = waitpid(c, &st, WNOHANG);
    check(n == 2 && memcmp(buf, "hi", 2) == 0 && e == 0 && early == 0,
          "across fork: the child closes, the parent reads end of file while it lives");
    check(reap(c) == 0, "and the child ends well");
    close(p[0]);
}

static void big_write(void)
{
    for (int i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 131 + i / 977);
    int p[2];
    if (pipe(p) != 0) {
        check(0, "pipe");
        return;
    }
    pid_t c = fork();
    if (c == 0) {
        close(p[1]);
        size_t got = 0;
        ssize_t n;
        while (got < BIG && (n = read(p[0], back + got, BIG - got)) > 0)
            got += (size_t)n;
        int ok = got == BIG && memcmp(big, back, BIG) == 0 && read(p[0], back, 1) == 0;
        _exit(ok ? 0 : 1);
    }
    close(p[0]);
    ssize_t w = write(p[1], big, BIG);
    close(p[1]);
    check(w == BIG, "a 200,000-byte write into a 64 KiB pipe, whole");
    check(reap(c) == 0, "read back in order by a forked reader, then end of file");
}

/* The other way round, as ash writes a long here-document: a forked
 * writer's one write of memory it had before the fork, then its exit;
 * the parent reads until end of file.  With USE_SENDFILE it tries
 * sendfile first, as busybox cat does: from a pipe that is EINVAL (as on
 * Linux), with nothing taken from the pipe. */
static void writer_child(int use_sendfile)
{
    int p[2];
    if (pipe(p) != 0) {
        check(0, "pipe");
        return;
    }
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        _exit(write(p[1], big, 120000) == 120000 ? 0 : 1);
    }
    close(p[1]);
    if (use_sendfile) {
        int null = open("/dev/null", O_WRONLY);
        check(null >= 0 && err_is(sendfile(null, p[0], 0, 1 << 24), EINVAL),
              "sendfile from a pipe: EINVAL, as on Linux");
        close(null);
    }
    size_t got = 0;
    ssize_t n;
    while ((n = read(p[0], back + got, 65536)) > 0)
        got += (size_t)n;
    check(got == 120000 && memcmp(back, big, 120000) == 0,
          "read from a pipe a forked writer filled: all 120,000 bytes in order, then end of file");
    check(reap(c) == 0, "the writer's write was whole");
    close(p[0]);
}

static void broken_pipe(void)
{
    int p[2];
    signal(SIGPIPE, SIG_IGN);
    check(pipe(p) == 0 && close(p[0]) == 0 && err_is(write(p[1], "x", 1), EPIPE),
          "no reader left, SIGPIPE ignored: EPIPE");
    close(p[1]);

    /* A writer waiting on a full pipe whose reader leaves: what it wrote. */
    if (pipe(p) != 0) {
        check(0, "pipe");
        return;
    }
    pid_t c = fork();
    if (c == 0) {
        close(p[1]);
        usleep(100000);
        _exit(read(p[0], back, 1000) == 1000 ? 0 : 1);
    }
    close(p[0]);
    ssize_t w = write(p[1], big, BIG);
    check(w > 1000 && w < BIG, "a writer parked on a full pipe whose reader leaves: a short count");
    check(err_is(write(p[1], "x", 1), EPIPE), "then EPIPE");
    check(reap(c) == 0, "(the reader read its 1000 bytes)");
    close(p[1]);

    /* The default action, in a child (which inherited SIG_IGN). */
    if (pipe(p) != 0) {
        check(0, "pipe");
        return;
    }
    close(p[0]);
    c = fork();
    if (c == 0) {
        signal(SIGPIPE, SIG_DFL);
        write(p[1], "x", 1);
        _exit(3);
    }
    close(p[1]);
    int st = reap(c);
    check(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
          "SIGPIPE's default action: the writer dies of it");
    if (!(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE))
        printf("linux-pipe: (status %#x)\n", st);
}

static void nonblocking(void)
{
    int p[2];
    char buf[8192];
    if (pipe2(p, O_NONBLOCK) != 0) {
        check(0, "pipe2(O_NONBLOCK)");
        return;
    }
    check((fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK),
          "pipe2(O_NONBLOCK): both ends non-blocking");
    check(err_is(read(p[0], buf, sizeof(buf)), EAGAIN), "a non-blocking read of an empty pipe: EAGAIN");
    check(write(p[1], big, 100000) == 65536, "a non-blocking write of 100,000 bytes: the 65,536 that fit");
    check(err_is(write(p[1], "x", 1), EAGAIN), "then a full pipe: EAGAIN");
    check(read(p[0], buf, 100) == 100 && err_is(write(p[1], big, 4096), EAGAIN),
          "a write of PIPE_BUF bytes with room for 100: EAGAIN (not split)");
    check(read(p[0], buf, 3996) == 3996 && write(p[1], big, 5000) == 4096,
          "a write of more than PIPE_BUF with room for 4096: those 4096");
    size_t got = 0;
    ssize_t n;
    while ((n = read(p[0], buf, sizeof(buf))) > 0)
        got += (size_t)n;
    check(got == 65536 && err_is(n, EAGAIN), "drained: 65,536 bytes, then EAGAIN");
    /* fcntl clears it: a blocking read then sees end of file. */
    close(p[1]);
    check(fcntl(p[0], F_SETFL, 0) == 0 && read(p[0], buf, 1) == 0,
          "F_SETFL clears O_NONBLOCK; end of file");
    close(p[0]);
}

static void polling(void)
{
    int p[2];
    char c1;
    if (pipe(p) != 0) {
        check(0, "pipe");
        return;
    }
    struct pollfd pf = { .fd = p[0], .events = POLLIN };
    check(poll(&pf, 1, 0) == 0 && pf.revents == 0, "poll with timeout 0 on an empty pipe: 0");
    long t0 = ms_now();
    int r = poll(&pf, 1, 100);
    long dt = ms_now() - t0;
    check(r == 0 && dt >= 90 && dt < 2000, "poll with a 100 ms timeout: 0, in about that time");
    if (!(r == 0 && dt >= 90 && dt < 2000))
        printf("linux-pipe: (poll %d after %ld ms)\n", r, dt);
    struct pollfd wf = { .fd = p[1], .events = POLLOUT };
    check(poll(&wf, 1, 0) == 1 && (wf.revents & POLLOUT), "POLLOUT on an empty pipe's write end");
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        usleep(50000);
        int ok = write(p[1], "z", 1) == 1;
        usleep(50000);
        _exit(ok ? 0 : 1);                  /* its write end closes */
    }
    close(p[1]);
    t0 = ms_now();
    r = poll(&pf, 1, 5000);
    dt = ms_now() - t0;
    check(r == 1 && (pf.revents & POLLIN) && dt < 4000,
          "poll wakes with POLLIN when a forked writer writes");
    check(read(p[0], &c1, 1) == 1 && c1 == 'z', "and the byte is there");
    r = poll(&pf, 1, 5000);
    check(r == 1 && (pf.revents & POLLHUP), "POLLHUP once the writer has closed");
    check(reap(c) == 0 && read(p[0], &c1, 1) == 0, "then end of file");
    close(p[0]);

    if (pipe(p) != 0)
        return;
    close(p[0]);
    wf.fd = p[1];
    check(poll(&wf, 1, 0) == 1 && (wf.revents & POLLERR), "POLLERR on a write end with no reader");
    close(p[1]);
}

static void flags_and_dup(void)
{
    int p[2];
    check(pipe2(p, O_CLOEXEC) == 0 && (fcntl(p[0], F_GETFD) & FD_CLOEXEC) &&
          (fcntl(p[1], F_GETFD) & FD_CLOEXEC), "pipe2(O_CLOEXEC) sets FD_CLOEXEC on both");
    close(p[0]);
    close(p[1]);
    check(pipe(p) == 0 && !(fcntl(p[0], F_GETFD) & FD_CLOEXEC) &&
          !(fcntl(p[1], F_GETFD) & FD_CLOEXEC), "pipe() does not");
    fflush(stdout);
    int saved = dup(1);
    int d = dup2(p[1], 1);
    ssize_t w = write(1, "through 1", 9);
    dup2(saved, 1);
    close(saved);
    char buf[16];
    check(d == 1 && w == 9 && read(p[0], buf, sizeof(buf)) == 9 && memcmp(buf, "through 1", 9) == 0,
          "dup2 of the write end onto 1, then write(1): the bytes come out of the pipe");
    close(p[1]);
    check(read(p[0], buf, 1) == 0, "closing the original leaves none: end of file");
    close(p[0]);
}

static void hostile(void)
{
    int p[2];
    int *volatile bad = (int *)8;           /* (hidden from the compiler's checks) */
    check(err_is(pipe(bad), EFAULT), "pipe(bad pointer): EFAULT");
    check(err_is(pipe2(p, 0x40000000), EINVAL), "pipe2(unknown flags): EINVAL");
    if (pipe(p) != 0)
        return;
    char buf[8];
    check(write(p[1], "abc", 3) == 3 && err_is(read(p[0], (void *)8, 3), EFAULT),
          "read into a bad buffer: EFAULT");
    check(read(p[0], buf, sizeof(buf)) == 3 && memcmp(buf, "abc", 3) == 0,
          "and the bytes are still there");
    check(err_is(write(p[1], (void *)8, 3), EFAULT), "write from a bad buffer: EFAULT");
    check(err_is(write(p[1], (void *)8, 10000), EFAULT), "a long write from a bad buffer: EFAULT");
    check(write(p[1], "ok", 2) == 2 && read(p[0], buf, sizeof(buf)) == 2 && memcmp(buf, "ok", 2) == 0,
          "and the pipe still works");
    check(err_is(write(p[0], "x", 1), EBADF), "write to the read end: EBADF");
    check(err_is(read(p[1], buf, 1), EBADF), "read from the write end: EBADF");
    check(err_is(lseek(p[0], 0, SEEK_SET), ESPIPE), "lseek on a pipe: ESPIPE");
    check(err_is(pread(p[0], buf, 1, 0), ESPIPE), "pread on a pipe: ESPIPE");
    check(err_is(open("/dev/pipe/1", O_WRONLY), EACCES) || err_is(open("/dev/pipe/1", O_WRONLY), ENOENT),
          "another pipe's write end by its number: refused");
    close(p[0]);
    close(p[1]);
}

static void on_usr1(int s)
{
    (void)s;
}

static void fifos(void)
{
    unlink("/tmp/fifo");
    check(mkfifo("/tmp/fifo", 0600) == 0, "mkfifo in /tmp");
    struct stat st;
    check(stat("/tmp/fifo", &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0600,
          "stat: a FIFO, with its mode");
    check(err_is(mkfifo("/tmp/fifo", 0600), EEXIST), "mkfifo again: EEXIST");
    check(err_is(open("/tmp/fifo", O_WRONLY | O_NONBLOCK), ENXIO),
          "FIFO: a non-blocking writer with no reader: ENXIO");
    int r = open("/tmp/fifo", O_RDONLY | O_NONBLOCK);
    char buf[32];
    check(r >= 0 && read(r, buf, sizeof(buf)) == 0,
          "FIFO: a non-blocking reader opens at once, and reads end of file (no writer)");
    int w = open("/tmp/fifo", O_WRONLY | O_NONBLOCK);
    check(w >= 0 && write(w, "hi", 2) == 2 && read(r, buf, sizeof(buf)) == 2 && memcmp(buf, "hi", 2) == 0,
          "FIFO: with a reader a non-blocking writer opens, and the bytes pass");
    struct stat fs;
    check(fstat(w, &fs) == 0 && S_ISFIFO(fs.st_mode), "FIFO: fstat of an open end: a FIFO");
    close(w);
    close(r);

    /* A blocking reader waits for a writer to open: the child marks the
     * time it opens, well after we started to wait. */
    unlink("/tmp/fifo-mark");
    pid_t c = fork();
    if (c == 0) {
        struct timespec t = { 0, 300000000 };
        nanosleep(&t, 0);
        int m = open("/tmp/fifo-mark", O_WRONLY | O_CREAT, 0600);
        close(m);
        int fd = open("/tmp/fifo", O_WRONLY);
        _exit(fd >= 0 && write(fd, "from the child", 14) == 14 ? 0 : 1);
    }
    r = open("/tmp/fifo", O_RDONLY);
    check(r >= 0 && access("/tmp/fifo-mark", F_OK) == 0,
          "FIFO: a blocking reader's open waits for a writer's");
    ssize_t n = r >= 0 ? read(r, buf, sizeof(buf)) : -1;
    check(n == 14 && memcmp(buf, "from the child", 14) == 0 && read(r, buf, sizeof(buf)) == 0,
          "FIFO: the writer's bytes, then end of file when it is gone");
    check(reap(c) == 0, "FIFO: the writer's child exits 0");
    close(r);

    /* A blocking writer waits for a reader. */
    c = fork();
    if (c == 0) {
        int fd = open("/tmp/fifo", O_WRONLY);
        _exit(fd >= 0 && write(fd, "w", 1) == 1 ? 0 : 1);
    }
    struct timespec t = { 0, 200000000 };
    nanosleep(&t, 0);
    r = open("/tmp/fifo", O_RDONLY);
    check(r >= 0 && read(r, buf, 1) == 1 && buf[0] == 'w' && reap(c) == 0,
          "FIFO: a blocking writer's open waits for a reader's");
    close(r);

    /* A signal ends a waiting open: EINTR (no SA_RESTART). */
    struct sigaction sa = { 0 };
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    pid_t me = getpid();
    c = fork();
    if (c == 0) {
        nanosleep(&t, 0);
        kill(me, SIGUSR1);
        _exit(0);
    }
    check(err_is(open("/tmp/fifo", O_RDONLY), EINTR), "FIFO: a signal ends a waiting open: EINTR");
    reap(c);
    signal(SIGUSR1, SIG_DFL);

    int rw = open("/tmp/fifo", O_RDWR);
    check(rw >= 0 && write(rw, "xy", 2) == 2 && read(rw, buf, sizeof(buf)) == 2,
          "FIFO: O_RDWR opens at once, both ends");
    close(rw);
    check(unlink("/tmp/fifo") == 0 && err_is(stat("/tmp/fifo", &st), ENOENT), "unlink a FIFO");

    check(err_is(mknod("/tmp/dev", S_IFCHR | 0600, makedev(1, 3)), EPERM), "mknod of a device: EPERM");
    check(mknod("/tmp/plain", S_IFREG | 0600, 0) == 0 && stat("/tmp/plain", &st) == 0 &&
              S_ISREG(st.st_mode) && st.st_size == 0, "mknod S_IFREG: an empty file");
    unlink("/tmp/plain");
    const char *volatile bad = (const char *)8;
    check(err_is(mknod(bad, S_IFIFO | 0600, 0), EFAULT), "mknod(bad pointer): EFAULT");
    check(err_is(mknod("/tmp/odd", 0170000 | 0600, 0), EINVAL), "mknod of no known type: EINVAL");
}

/* select and pselect across pipes. */
static void selecting(void)
{
    int a[2], b[2];
    if (pipe(a) != 0 || pipe(b) != 0) {
        check(0, "select: pipes");
        return;
    }
    fd_set r, w;
    FD_ZERO(&r);
    FD_SET(a[0], &r);
    FD_SET(b[0], &r);
    struct timeval tv = { 0, 0 };
    check(select(b[0] + 1, &r, 0, 0, &tv) == 0 && !FD_ISSET(a[0], &r) && !FD_ISSET(b[0], &r),
          "select with nothing to read and no wait: 0, the sets cleared");
    write(b[1], "z", 1);
    FD_ZERO(&r);
    FD_SET(a[0], &r);
    FD_SET(b[0], &r);
    FD_ZERO(&w);
    FD_SET(a[1], &w);
    tv = (struct timeval){ 5, 0 };
    check(select(b[1] + 1, &r, &w, 0, &tv) == 2 && FD_ISSET(b[0], &r) && !FD_ISSET(a[0], &r) &&
              FD_ISSET(a[1], &w), "select: the pipe with a byte is readable, the empty one writable");
    char c;
    read(b[0], &c, 1);
    pid_t k = fork();
    if (k == 0) {
        struct timespec t = { 0, 100000000 };
        nanosleep(&t, 0);
        write(a[1], "y", 1);
        _exit(0);
    }
    FD_ZERO(&r);
    FD_SET(a[0], &r);
    struct timespec ts = { 5, 0 };
    check(pselect(a[0] + 1, &r, 0, 0, &ts, 0) == 1 && FD_ISSET(a[0], &r),
          "pselect waits for a forked writer's byte");
    reap(k);
    read(a[0], &c, 1);
    FD_ZERO(&r);
    FD_SET(a[0], &r);
    tv = (struct timeval){ 0, 50000 };
    long t0 = ms_now();
    /* (musl's select passes a copy of the timeval: what is left cannot be seen here) */
    check(select(a[0] + 1, &r, 0, 0, &tv) == 0 && ms_now() - t0 >= 40 && !FD_ISSET(a[0], &r),
          "select's timeout: 0 after it");
    FD_ZERO(&r);
    FD_SET(77, &r);
    check(err_is(select(78, &r, 0, 0, &tv), EBADF), "select of a descriptor not open: EBADF");
    check(err_is(select(-1, 0, 0, 0, &tv), EINVAL), "select with a negative count: EINVAL");
    check(err_is(select(a[0] + 1, (fd_set *)8, 0, 0, &tv), EFAULT), "select with a bad set: EFAULT");
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}


/* ---- the shared ring (lib/srv/pipering.h, posix/pipe.c) ---- */

/* Gets a pipe's ring going: a descriptor's third use is the ring's. */
static int warm(int p[2])
{
    char c = 0;
    for (int i = 0; i < 3; i++)
        if (write(p[1], "w", 1) != 1 || read(p[0], &c, 1) != 1 || c != 'w')
            return 0;
    return 1;
}

/* Bytes of every length up to 6000 down a pipe and back up another
 * through a forked echo, compared. */
static void ring_traffic(void)
{
    static unsigned char out[6000], in[6000];
    int down[2], up[2];
    if (pipe(down) || pipe(up)) {
        check(0, "pipe");
        return;
    }
    pid_t c = fork();
    if (c == 0) {
        close(down[1]);
        close(up[0]);
        static char buf[8192];
        ssize_t n;
        while ((n = read(down[0], buf, sizeof(buf))) > 0)
            for (ssize_t at = 0, w; at < n; at += w)
                if ((w = write(up[1], buf + at, (size_t)(n - at))) <= 0)
                    _exit(1);
        _exit(n == 0 ? 0 : 1);
    }
    close(down[0]);
    close(up[1]);
    int ok = 1;
    for (int i = 0; i < 300 && ok; i++) {
        size_t len = 1 + (size_t)(i * 37) % sizeof(out);
        for (size_t j = 0; j < len; j++)
            out[j] = (unsigned char)(i + j * 7);
        ok = write(down[1], out, len) == (ssize_t)len;
        size_t got = 0;
        ssize_t n = 0;
        while (ok && got < len && (n = read(up[0], in + got, len - got)) > 0)
            got += (size_t)n;
        ok = ok && got == len && memcmp(out, in, len) == 0;
    }
    close(down[1]);
    check(ok, "300 messages of 1 to 6,000 bytes there and back, each the same");
    check(reap(c) == 0 && read(up[0], in, 1) == 0, "the echo reads end of file and ends; then so do we");
    close(up[0]);
}

/* Three writers of 4,096-byte blocks at once: no block is split or mixed
 * (PIPE_BUF), and none is lost. */
#define WRITERS 3
#define BLOCKS 100
static void atomic_writers(void)
{
    static unsigned char all[WRITERS * BLOCKS * 4096];
    int p[2];
    if (pipe(p) || !warm(p)) {
        check(0, "pipe");
        return;
    }
    pid_t c[WRITERS];
    for (int w = 0; w < WRITERS; w++)
        if ((c[w] = fork()) == 0) {
            close(p[0]);
            static unsigned char blk[4096];
            memset(blk, 'A' + w, sizeof(blk));
            for (int i = 0; i < BLOCKS; i++)
                if (write(p[1], blk, sizeof(blk)) != (ssize_t)sizeof(blk))
                    _exit(1);
            _exit(0);
        }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(all) && (n = read(p[0], all + got, sizeof(all) - got)) > 0)
        got += (size_t)n;
    int whole = got == sizeof(all) && read(p[0], all, 0) == 0, count[WRITERS] = { 0 };
    for (size_t b = 0; whole && b < got / 4096; b++) {
        unsigned char v = all[b * 4096];
        for (size_t j = 1; j < 4096 && whole; j++)
            whole = all[b * 4096 + j] == v;
        if (whole && v >= 'A' && v < 'A' + WRITERS)
            count[v - 'A']++;
    }
    for (int w = 0; w < WRITERS; w++)
        whole = whole && count[w] == BLOCKS;
    check(whole, "3 writers at once: 300 blocks of 4,096 bytes, none split, mixed or lost");
    int ended = 1;
    for (int w = 0; w < WRITERS; w++)
        ended &= reap(c[w]) == 0;
    check(ended, "and each writer's writes all said they were done");
    close(p[0]);
}

/* The ring's header, as the holder of an end may scribble on it: the
 * slot (posix/pipe.c's PIPE_VA) whose id is the pipe's number. */
static volatile uint32_t *ring_of(int fd)
{
    struct stat st;
    int probe[2];
    if (fstat(fd, &st) || pipe(probe))
        return NULL;
    volatile uint32_t *found = NULL;
    for (int i = 0; i < 256 && !found; i++) {
        char *a = (char *)0x75000000UL + (size_t)i * 0x20000;
        char sink[40];
        /* A write from memory that is not there is EFAULT, not a fault. */
        if (write(probe[1], a, 40) == 40 && read(probe[0], sink, 40) == 40 &&
            ((volatile uint32_t *)a)[9] == (uint32_t)st.st_ino)
            found = (volatile uint32_t *)a;
    }
    close(probe[0]);
    close(probe[1]);
    return found;
}

static void on_alarm(int s)
{
    (void)s;
}

static void ring_hostile(void)
{
    int p[2], q[2];
    char buf[8];
    if (pipe(p) || !warm(p) || pipe(q) || !warm(q)) {
        check(0, "pipe");
        return;
    }
    volatile uint32_t *h = ring_of(p[0]);
    check(h != NULL, "the pipe's ring is where the personality keeps rings");
    if (!h)
        return;
    h[0] = h[1] + 0x100000;                 /* head: more than a ring holds */
    check(err_is(read(p[0], buf, 1), EIO) && err_is(write(p[1], "x", 1), EIO),
          "a ring whose header is broken: read and write EIO, no crash");
    check(write(q[1], "q", 1) == 1 && read(q[0], buf, 1) == 1 && buf[0] == 'q',
          "another pipe goes on");
    struct pollfd pf = { p[0], POLLIN, 0 };
    poll(&pf, 1, 0);                        /* the server looks, and empties it */
    check(write(p[1], "z", 1) == 1 && read(p[0], buf, 1) == 1 && buf[0] == 'z',
          "the server empties a broken ring: the pipe works again");
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, 0);
    h[2] = 0x1234567;                       /* the writers' lock, held by no one */
    alarm(5);
    ssize_t w = write(p[1], "l", 1);
    alarm(0);
    check(w == 1 && read(p[0], buf, 1) == 1 && buf[0] == 'l',
          "a writers' lock that no writer holds: the server breaks it, the write goes in");
    h[3] = 1000;                            /* readers waiting that are not */
    h[4] = 0;
    int ok = 1;
    for (int i = 0; i < 100 && ok; i++)     /* a wake-up pulse each: more than a channel keeps */
        ok = write(p[1], "r", 1) == 1 && read(p[0], buf, 1) == 1 && buf[0] == 'r';
    check(ok, "a header that lies about waiting readers: the pipe works on");
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

/* Buffers that were good and are not any more (unmapped, made read-only
 * or inaccessible): EFAULT, though the personality copied to them a
 * moment before without asking the kernel. */
static void stale_mappings(void)
{
    int p[2];
    char buf[4];
    if (pipe(p) || !warm(p)) {
        check(0, "pipe");
        return;
    }
    char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(m != MAP_FAILED && write(p[1], "abc", 3) == 3 && read(p[0], m, 3) == 3 &&
          memcmp(m, "abc", 3) == 0 && write(p[1], m, 3) == 3 && read(p[0], buf, 3) == 3,
          "a read into and a write from fresh memory");
    munmap(m, 4096);
    check(write(p[1], "def", 3) == 3 && err_is(read(p[0], m, 3), EFAULT),
          "a read into the same memory, unmapped since: EFAULT");
    check(err_is(write(p[1], m, 3), EFAULT), "a write from it: EFAULT");
    check(read(p[0], buf, 3) == 3 && memcmp(buf, "def", 3) == 0, "and the bytes stayed");
    m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(m != MAP_FAILED && write(p[1], "ghi", 3) == 3 && read(p[0], m, 3) == 3 &&
          mprotect(m, 4096, PROT_READ) == 0 && write(p[1], "jkl", 3) == 3 &&
          err_is(read(p[0], m, 3), EFAULT), "a read into memory made read-only since: EFAULT");
    check(mprotect(m, 4096, PROT_NONE) == 0 && err_is(write(p[1], m, 3), EFAULT),
          "a write from memory made inaccessible since: EFAULT");
    munmap(m, 4096);
    close(p[0]), close(p[1]);
}

/* Review findings, each once a bug: a zero-length write with no reader;
 * EPIPE right after the child holding the last read end is reaped; a
 * non-blocking write that has to go through the server never waits. */
static void ring_edges(void)
{
    int p[2];
    signal(SIGPIPE, SIG_IGN);
    if (pipe(p) || !warm(p)) {
        check(0, "pipe");
        return;
    }
    close(p[0]);
    check(write(p[1], "", 0) == 0, "a write of nothing with no reader: 0, not EPIPE (Linux)");
    check(err_is(write(p[1], "x", 1), EPIPE), "a byte: EPIPE");
    close(p[1]);

    if (pipe(p) || !warm(p)) {
        check(0, "pipe");
        return;
    }
    pid_t c = fork();
    if (c == 0) {
        close(p[1]);
        _exit(0);                   /* the last read end goes with it */
    }
    close(p[0]);
    int st;
    check(waitpid(c, &st, 0) == c && err_is(write(p[1], "x", 1), EPIPE),
          "the child with the last read end reaped: the next write is EPIPE at once");
    close(p[1]);

    if (pipe(p) || !warm(p)) {
        check(0, "pipe");
        return;
    }
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    static char fill[4096];
    int n = 0;
    while (write(p[1], fill, sizeof(fill)) == (ssize_t)sizeof(fill) && n < 100)
        n++;
    volatile uint32_t *h = ring_of(p[1]);
    if (h)
        h[2] = 0x7654321;           /* the writers' lock: a writer that is not */
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, 0);
    alarm(5);
    ssize_t w = write(p[1], fill, 100);
    int e = errno;
    alarm(0);
    check(n == 16 && h && w == -1 && e == EAGAIN,
          "a full pipe, the lock held: a non-blocking write through the server is EAGAIN, not a wait");
    signal(SIGPIPE, SIG_DFL);
    close(p[0]), close(p[1]);
}

/* A read waiting on the ring ends with a signal (EINTR), or goes on
 * waiting with SA_RESTART. */
static void ring_signals(void)
{
    int p[2];
    char c = 0;
    if (pipe(p) || !warm(p)) {
        check(0, "pipe");
        return;
    }
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, 0);
    alarm(1);
    long t0 = ms_now();
    ssize_t n = read(p[0], &c, 1);
    check(err_is(n, EINTR) && ms_now() - t0 >= 800, "a signal ends a read waiting for a writer: EINTR");
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    pid_t k = fork();
    if (k == 0) {
        usleep(1500000);
        _exit(write(p[1], "r", 1) == 1 ? 0 : 1);
    }
    alarm(1);
    n = read(p[0], &c, 1);
    check(n == 1 && c == 'r', "with SA_RESTART it waits on for the byte after the handler");
    check(reap(k) == 0, "from the forked writer");
    signal(SIGALRM, SIG_DFL);
    close(p[0]), close(p[1]);
}

int main(int argc, char **argv)
{
    end_of_file();
    big_write();
    writer_child(0);
    writer_child(1);
    broken_pipe();
    nonblocking();
    polling();
    flags_and_dup();
    hostile();
    fifos();
    selecting();
    ring_traffic();
    atomic_writers();
    ring_hostile();
    stale_mappings();
    ring_edges();
    ring_signals();
    if (failed || argc > 1) {
        if (!failed)
            printf("linux-pipe: ALL PASSED\n");
        return failed;
    }
    /* Again, with every pipe's ring from its first use (the first uses go
     * by message otherwise): each check above, on the ring. */
    printf("linux-pipe: again, rings from the first use\n");
    fflush(stdout);
    char *args[] = { argv[0], "ring", NULL };
    char *env[] = { "KESTREL_SHARED=first", NULL };
    execve("/proc/self/exe", args, env);
    check(0, "exec of ourselves, with rings from the first use");
    return 1;
}
