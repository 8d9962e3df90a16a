/*
 * ptytest: pseudo-terminals (servers/pty) through the Linux personality:
 * /dev/ptmx, TIOCGPTN, TIOCSPTLCK, /dev/pts/N, the line discipline
 * between master and slave (canonical reads, echo, ONLCR, raw mode,
 * ^C as SIGINT to the slave's foreground group), window sizes, hangup
 * (master closed: EOF, EIO, SIGHUP), EIO on the master once every slave
 * is closed, poll, stat and readdir, and hostile requests.  musl-gcc
 * -static.  "linux-pty: ok WHAT" per check that passed, "linux-pty: FAIL
 * WHAT" per one that did not, "linux-pty: ALL PASSED" at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

static int failed;

static void check(int ok, const char *what)
{
    printf("linux-pty: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

static int err_is(long r, int e)
{
    return r == -1 && errno == e;
}

/* A new pair: the master, its number in *N, the slave unlocked and open
 * in *SLAVE (unless SLAVE is NULL). */
static int pair(int *n, int *slave)
{
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    if (m < 0)
        return -1;
    int unlock = 0;
    if (ioctl(m, TIOCGPTN, n) < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0) {
        close(m);
        return -1;
    }
    if (slave) {
        char path[32];
        snprintf(path, sizeof(path), "/dev/pts/%d", *n);
        *slave = open(path, O_RDWR | O_NOCTTY);
        if (*slave < 0) {
            close(m);
            return -1;
        }
    }
    return m;
}

/* Reads what is there within 2 s (poll first), up to CAP bytes. */
static long read_ready(int fd, char *buf, size_t cap)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 2000) != 1)
        return -2;
    return read(fd, buf, cap);
}

static int readable_now(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void basics(void)
{
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    check(m >= 0, "open /dev/ptmx");
    int n = -1;
    check(ioctl(m, TIOCGPTN, &n) == 0 && n >= 0 && n < 16, "TIOCGPTN gives the pair's number");
    char path[32];
    snprintf(path, sizeof(path), "/dev/pts/%d", n);
    check(err_is(open(path, O_RDWR | O_NOCTTY), EIO), "a locked slave: open is EIO");
    check(err_is(ioctl(m, TIOCSPTLCK, (void *)16), EFAULT), "TIOCSPTLCK with a bad pointer: EFAULT");
    int unlock = 0;
    check(ioctl(m, TIOCSPTLCK, &unlock) == 0, "TIOCSPTLCK 0 unlocks");
    int s = open(path, O_RDWR | O_NOCTTY);
    check(s >= 0, "open the slave /dev/pts/N");
    check(isatty(s) && isatty(m), "isatty on both sides");
    char *name = ptsname(m);
    check(name && strcmp(name, path) == 0, "ptsname names the slave");

    struct stat st;
    check(stat("/dev/ptmx", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 &&
          minor(st.st_rdev) == 2, "stat /dev/ptmx: a character device, 5:2");
    check(stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 136 &&
          (int)minor(st.st_rdev) == n, "stat /dev/pts/N: a character device, 136:N");
    check(fstat(s, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 136,
          "fstat of the slave");
    check(stat("/dev/pts", &st) == 0 && S_ISDIR(st.st_mode), "stat /dev/pts: a directory");

    DIR *d = opendir("/dev/pts");
    int seen = 0;
    char want[8];
    snprintf(want, sizeof(want), "%d", n);
    for (struct dirent *e; d && (e = readdir(d));)
        seen |= strcmp(e->d_name, want) == 0;
    if (d)
        closedir(d);
    check(seen, "readdir of /dev/pts lists the open pty");
    d = opendir("/dev");
    int ptmx = 0, pts = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        ptmx |= strcmp(e->d_name, "ptmx") == 0;
        pts |= strcmp(e->d_name, "pts") == 0;
    }
    if (d)
        closedir(d);
    check(ptmx && pts, "readdir of /dev lists ptmx and pts");

    char buf[64];
    check(!readable_now(s) && !readable_now(m), "poll: nothing to read on either side");
    check(write(m, "hello\n", 6) == 6, "write hello to the master");
    check(readable_now(s), "poll: the slave has a line");
    long r = read(s, buf, sizeof(buf));
    check(r == 6 && memcmp(buf, "hello\n", 6) == 0, "the slave reads the line hello\\n");
    r = read_ready(m, buf, sizeof(buf));
    check(r == 7 && memcmp(buf, "hello\r\n", 7) == 0, "the echo reaches the master (hello\\r\\n)");

    check(write(m, "ab", 2) == 2 && !readable_now(s), "canonical: no line yet, nothing to read");
    check(write(m, "\x7f" "c\r", 3) == 3, "erase and CR to the master");
    r = read_ready(s, buf, sizeof(buf));
    check(r == 3 && memcmp(buf, "ac\n", 3) == 0, "erase edits the line; ICRNL ends it");
    r = read_ready(m, buf, sizeof(buf));
    check(r > 0, "(its echo drained)");

    check(write(s, "a\n", 2) == 2, "the slave writes a\\n");
    r = read_ready(m, buf, sizeof(buf));
    check(r == 3 && memcmp(buf, "a\r\n", 3) == 0, "the master reads a\\r\\n (ONLCR)");

    struct termios t, saved;
    check(tcgetattr(s, &t) == 0 && (t.c_lflag & ICANON) && (t.c_lflag & ECHO), "TCGETS: canonical, echo");
    saved = t;
    cfmakeraw(&t);
    check(tcsetattr(s, TCSANOW, &t) == 0, "TCSETS raw (cfmakeraw)");
    check(write(m, "q", 1) == 1, "one byte to the master");
    r = read_ready(s, buf, sizeof(buf));
    check(r == 1 && buf[0] == 'q', "raw: the slave reads it at once");
    check(!readable_now(m), "raw: no echo");
    check(write(m, "\x03", 1) == 1 && read_ready(s, buf, 1) == 1 && buf[0] == 3,
          "raw: ^C is a byte");
    check(write(s, "x\n", 2) == 2 && read_ready(m, buf, sizeof(buf)) == 2 && memcmp(buf, "x\n", 2) == 0,
          "raw: no ONLCR");
    check(tcsetattr(s, TCSAFLUSH, &saved) == 0, "TCSETSF back to canonical");

    struct winsize ws = { .ws_row = 30, .ws_col = 100 }, got = { 0 };
    check(ioctl(m, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ on the master");
    check(ioctl(s, TIOCGWINSZ, &got) == 0 && got.ws_row == 30 && got.ws_col == 100,
          "TIOCGWINSZ on the slave sees it");

    check(err_is(ioctl(m, 0x12345678, buf), ENOTTY), "an unknown ioctl: ENOTTY");
    check(err_is(ioctl(s, TIOCGPTN, &n), ENOTTY), "TIOCGPTN on a slave: ENOTTY");
    check(err_is(open("/dev/pts/999", O_RDWR), ENOENT), "open /dev/pts/999: ENOENT");
    check(err_is(open("/dev/pts/x", O_RDWR), ENOENT), "open /dev/pts/x: ENOENT");

    int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    check(peer >= 0 && isatty(peer), "TIOCGPTPEER opens the slave");
    check(peer >= 0 && write(m, "z\n", 2) == 2 && read_ready(peer, buf, sizeof(buf)) == 2 &&
          memcmp(buf, "z\n", 2) == 0, "the peer reads the line");
    read_ready(m, buf, sizeof(buf));            /* the echo */
    if (peer >= 0)
        close(peer);

    close(m);
    check(read(s, buf, sizeof(buf)) == 0, "master closed: the slave reads end of file");
    check(err_is(write(s, "y", 1), EIO), "master closed: a slave write is EIO");
    struct pollfd p = { .fd = s, .events = POLLIN };
    check(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "master closed: poll says POLLHUP");
    close(s);
    check(err_is(open(path, O_RDWR), ENOENT), "the pair gone: its slave is ENOENT");
}

static volatile sig_atomic_t got_int, got_hup;

static void on_int(int s)
{
    (void)s;
    got_int = 1;
}

static void on_hup(int s)
{
    (void)s;
    got_hup = 1;
}

/* The child: a session of its own with the slave as its controlling
 * terminal; tells the parent through FD what it saw. */
static void child(const char *path, int fd)
{
    signal(SIGINT, on_int);
    signal(SIGHUP, on_hup);
    if (setsid() < 0)
        _exit(2);
    int s = open(path, O_RDWR);
    if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
        _exit(3);
    write(fd, "R", 1);
    for (int i = 0; i < 500 && !got_int; i++)
        usleep(10000);
    write(fd, got_int ? "I" : "-", 1);
    for (int i = 0; i < 500 && !got_hup; i++)
        usleep(10000);
    write(fd, got_hup ? "H" : "-", 1);
    char b[8];
    write(fd, read(s, b, sizeof(b)) == 0 ? "E" : "-", 1);
    write(fd, write(s, "x", 1) == -1 && errno == EIO ? "W" : "-", 1);
    _exit(0);
}

static char report(int fd)
{
    char c = '?';
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 8000) == 1 && read(fd, &c, 1) == 1)
        return c;
    return '?';
}

static void signals(void)
{
    int n, s;
    int m = pair(&n, &s);
    check(m >= 0, "a second pair");
    if (m < 0)
        return;
    char path[32];
    snprintf(path, sizeof(path), "/dev/pts/%d", n);
    int pfd[2];
    if (pipe(pfd) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        close(m);
        close(s);
        child(path, pfd[1]);
    }
    close(pfd[1]);
    close(s);
    check(report(pfd[0]) == 'R', "the child leads a session on the slave (setsid, TIOCSCTTY)");
    int grp = 0;
    check(ioctl(m, TIOCGPGRP, &grp) == 0 && grp == pid, "TIOCGPGRP on the master: the child's group");
    check(write(m, "\x03", 1) == 1, "^C to the master");
    check(report(pfd[0]) == 'I', "ISIG: SIGINT reached the slave's foreground group");
    char buf[16];
    check(read_ready(m, buf, sizeof(buf)) == 2 && memcmp(buf, "^C", 2) == 0, "^C echoed as ^C");
    close(m);
    check(report(pfd[0]) == 'H', "master closed: SIGHUP to the slave's session");
    check(report(pfd[0]) == 'E', "(the child's slave read: end of file)");
    check(report(pfd[0]) == 'W', "(the child's slave write: EIO)");
    int status = -1;
    check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child exits 0");
    close(pfd[0]);
}

static void slave_closed(void)
{
    int n;
    int m = pair(&n, NULL);
    check(m >= 0, "a third pair (no slave open yet)");
    if (m < 0)
        return;
    fcntl(m, F_SETFL, O_NONBLOCK);
    char buf[8];
    check(err_is(read(m, buf, sizeof(buf)), EAGAIN), "no slave yet: a non-blocking master read is EAGAIN");
    fcntl(m, F_SETFL, 0);
    char path[32];
    snprintf(path, sizeof(path), "/dev/pts/%d", n);
    int s = open(path, O_RDWR | O_NOCTTY);
    check(s >= 0 && write(s, "k", 1) == 1, "the slave writes a byte");
    close(s);
    check(read_ready(m, buf, sizeof(buf)) == 1 && buf[0] == 'k', "slave closed: what it wrote is still read");
    check(err_is(read(m, buf, sizeof(buf)), EIO), "slave closed: then master reads are EIO");
    struct pollfd p = { .fd = m, .events = POLLIN };
    check(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "slave closed: poll on the master says POLLHUP");
    s = open(path, O_RDWR | O_NOCTTY);
    check(s >= 0 && write(s, "j", 1) == 1 && read_ready(m, buf, 1) == 1 && buf[0] == 'j',
          "a slave open again: the master reads again");
    close(s);
    close(m);
}

static void blocking(void)
{
    int n, s;
    int m = pair(&n, &s);
    if (m < 0) {
        check(0, "a pair for the blocking checks");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        write(m, "late\n", 5);
        _exit(0);
    }
    char buf[16];
    long r = read(s, buf, sizeof(buf));
    check(r == 5 && memcmp(buf, "late\n", 5) == 0, "a slave read waits for the master's line");
    waitpid(pid, 0, 0);
    read_ready(m, buf, sizeof(buf));            /* the echo */
    /* A slave write larger than the output buffer waits for the master. */
    static char big[20000], back[40000];
    memset(big, 'b', sizeof(big));
    pid = fork();
    if (pid == 0) {
        _exit(write(s, big, sizeof(big)) == (long)sizeof(big) ? 0 : 1);
    }
    size_t got = 0;
    while (got < sizeof(big)) {
        long k = read_ready(m, back + got, sizeof(back) - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    int status = -1;
    waitpid(pid, &status, 0);
    check(got == sizeof(big) && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "a 20,000-byte slave write reaches the master whole");
    close(s);
    close(m);
}

static void limits(void)
{
    int ms[20], count = 0, err = 0;
    for (int i = 0; i < 20; i++) {
        ms[count] = open("/dev/ptmx", O_RDWR | O_NOCTTY);
        if (ms[count] < 0) {
            err = errno;
            break;
        }
        count++;
    }
    check(count > 0 && count <= 16 && err == ENOSPC, "pairs run out: ptmx open is ENOSPC");
    for (int i = 0; i < count; i++)
        close(ms[i]);
    int n, s;
    int m = pair(&n, &s);
    check(m >= 0, "closed pairs are free again");
    if (m >= 0) {
        close(s);
        close(m);
    }
}

/* Job control on the slave: a background group's tcsetattr, and its
 * write when TOSTOP is set, stop it with SIGTTOU; ignoring SIGTTOU, they
 * go on; without TOSTOP a background write goes on. */
static int bg_job(int s, int what)
{
    pid_t g = fork();
    if (g == 0) {
        setpgid(0, 0);              /* a group of its own: not the foreground */
        if (what == 2)
            signal(SIGTTOU, SIG_IGN);
        struct termios t;
        tcgetattr(s, &t);
        int r = what == 1 || what == 3 ? (int)write(s, "w", 1) : tcsetattr(s, TCSANOW, &t);
        _exit(r >= 0 ? 0 : 1);
    }
    int st = -1;
    if (waitpid(g, &st, WUNTRACED) != g)
        return -1;
    if (WIFSTOPPED(st)) {
        kill(g, SIGKILL);
        waitpid(g, 0, 0);
        return WSTOPSIG(st) == SIGTTOU ? 'T' : 'S';
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 'G' : 'F';
}

static void background(void)
{
    int n, s;
    int m = pair(&n, &s);
    check(m >= 0, "a pair for job control");
    if (m < 0)
        return;
    char path[32];
    snprintf(path, sizeof(path), "/dev/pts/%d", n);
    int pfd[2];
    if (pipe(pfd) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        close(m);
        close(s);
        if (setsid() < 0)
            _exit(2);
        int t = open(path, O_RDWR);
        if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
            _exit(3);
        char r[5];
        r[0] = (char)bg_job(t, 0);          /* tcsetattr: stopped */
        r[1] = (char)bg_job(t, 2);          /* tcsetattr, SIGTTOU ignored: goes on */
        r[2] = (char)bg_job(t, 3);          /* write, no TOSTOP: goes on */
        struct termios tt;
        tcgetattr(t, &tt);
        tt.c_lflag |= TOSTOP;
        tcsetattr(t, TCSANOW, &tt);
        r[3] = (char)bg_job(t, 1);          /* write under TOSTOP: stopped */
        r[4] = write(t, "f", 1) == 1 ? 'G' : 'F';    /* the foreground writes */
        write(pfd[1], r, 5);
        _exit(0);
    }
    close(pfd[1]);
    close(s);
    char r[5] = { 0 };
    struct pollfd p = { .fd = pfd[0], .events = POLLIN };
    int got = poll(&p, 1, 15000) == 1 ? (int)read(pfd[0], r, 5) : -1;
    check(got == 5 && r[0] == 'T', "a background group's tcsetattr: stopped by SIGTTOU");
    check(got == 5 && r[1] == 'G', "with SIGTTOU ignored it goes on");
    check(got == 5 && r[2] == 'G', "a background write without TOSTOP goes on");
    check(got == 5 && r[3] == 'T', "with TOSTOP: stopped by SIGTTOU");
    check(got == 5 && r[4] == 'G', "the foreground's write goes on");
    int status = -1;
    check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the session leader exits 0");
    close(pfd[0]);
    close(m);
}

int main(void)
{
    basics();
    signals();
    slave_closed();
    blocking();
    limits();
    background();
    if (!failed)
        printf("linux-pty: ALL PASSED\n");
    return failed;
}
