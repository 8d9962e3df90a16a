/*
 * sigtest: signals in the Linux personality (musl-gcc -static): handlers
 * with siginfo, masks and sigpending, a signal that interrupts a running
 * loop, a blocked read (EINTR, or restarted with SA_RESTART) and a
 * sleep, default actions, SIG_IGN, stop and continue seen by waitpid,
 * SIGCHLD, FPU state across a handler, hostile arguments, and a forked
 * child's fault (its core file).
 * "linux-sig: ok WHAT" / "FAIL WHAT", then "ALL PASSED".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;
static volatile sig_atomic_t got, got_code, chld;
static volatile double fp_in_handler;

static void check(int ok, const char *what)
{
    printf("linux-sig: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

static void on_sig(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    got = s;
    got_code = si->si_signo;
    volatile double x = 1.5;
    for (int i = 0; i < 10; i++)
        x = x * 1.25 + 0.5;                    /* clobbers SSE registers */
    fp_in_handler = x;
}

static void on_chld(int s)
{
    (void)s;
    chld++;
}

static void handle(int s, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | flags;
    sigaction(s, &sa, 0);
}

static void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, 0);
}

/* ppoll, pselect6 and sigsuspend wait with a mask of their own: a signal
 * blocked outside and let through by it ends the wait at once (EINTR)
 * with its handler run, and the program's mask is back afterwards. */
static int usr1_blocked(void)
{
    sigset_t now;
    sigprocmask(SIG_BLOCK, 0, &now);
    return sigismember(&now, SIGUSR1);
}

static void wait_masks(void)
{
    handle(SIGUSR1, 0);
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, 0);
    struct timespec two = { 2, 0 }, short_ = { 0, 50000000 };

    got = 0;
    kill(getpid(), SIGUSR1);
    check(got == 0, "SIGUSR1 blocked: pending, not run");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = ppoll(0, 0, &two, &none);
    int e = errno;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    check(r == -1 && e == EINTR && got == SIGUSR1 && t1.tv_sec - t0.tv_sec < 2,
          "ppoll with a mask letting it through: EINTR at once, the handler ran");
    check(usr1_blocked(), "after ppoll the program's mask is back (SIGUSR1 blocked)");

    got = 0;
    kill(getpid(), SIGUSR1);
    r = pselect(0, 0, 0, 0, &two, &none);
    e = errno;
    check(r == -1 && e == EINTR && got == SIGUSR1 && usr1_blocked(),
          "pselect likewise, and the mask is back after it");

    got = 0;
    check(ppoll(0, 0, &short_, &block) == 0 && got == 0 && usr1_blocked(),
          "ppoll with a mask that blocks it: times out, nothing run");

    got = 0;
    kill(getpid(), SIGUSR1);
    sigsuspend(&none);
    check(got == SIGUSR1 && usr1_blocked(), "sigsuspend: the handler ran, then the mask is back");
    sigprocmask(SIG_UNBLOCK, &block, 0);
}

/* Writes through P (NULL); not inlined nor specialized, so the core's
 * backtrace names it. */
__attribute__((noipa)) static void crash_here(volatile int *p)
{
    static volatile int before;
    before++;                   /* the fault is not its first instruction */
    *p = before;
    _exit(3);                   /* not reached */
}

int main(void)
{
    /* A handler, run before kill returns. */
    handle(SIGUSR1, 0);
    got = 0;
    check(kill(getpid(), SIGUSR1) == 0 && got == SIGUSR1 && got_code == SIGUSR1,
          "a handler with siginfo, at once");

    /* Blocked, pending, then delivered when unblocked. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    got = 0;
    kill(getpid(), SIGUSR1);
    sigset_t pend;
    sigemptyset(&pend);
    sigpending(&pend);
    check(got == 0 && sigismember(&pend, SIGUSR1), "a blocked signal waits, pending");
    sigprocmask(SIG_SETMASK, &old, 0);
    check(got == SIGUSR1, "and comes when unblocked");

    /* From a child, into a running loop (no system call in it). */
    pid_t me = getpid();
    handle(SIGUSR2, 0);
    got = 0;
    pid_t c = fork();
    if (c == 0) {
        msleep(50);
        kill(me, SIGUSR2);
        _exit(0);
    }
    volatile unsigned long spins = 0;
    volatile double acc = 1.0;
    while (!got && spins < 4000000000UL) {
        spins++;
        acc = acc * 1.000001 + 0.000001;
    }
    double expect_handler = 1.5;
    for (int i = 0; i < 10; i++)
        expect_handler = expect_handler * 1.25 + 0.5;
    check(got == SIGUSR2, "a signal from a child interrupts a running loop");
    check(acc > 1.0 && fp_in_handler == expect_handler, "the loop's and the handler's FPU state");
    waitpid(c, 0, 0);

    /* A blocked read: EINTR without SA_RESTART, goes on with it. */
    int p[2];
    check(pipe(p) == 0, "pipe");
    handle(SIGUSR1, 0);
    c = fork();
    if (c == 0) {
        msleep(50);
        kill(me, SIGUSR1);
        msleep(50);
        _exit(write(p[1], "x", 1) == 1 ? 0 : 1);
    }
    char b;
    errno = 0;
    ssize_t n = read(p[0], &b, 1);
    check(n == -1 && errno == EINTR && got == SIGUSR1, "a read interrupted: EINTR");
    check(read(p[0], &b, 1) == 1 && b == 'x', "and the byte comes to the next read");
    waitpid(c, 0, 0);
    handle(SIGUSR1, SA_RESTART);
    got = 0;
    c = fork();
    if (c == 0) {
        msleep(50);
        kill(me, SIGUSR1);
        msleep(50);
        _exit(write(p[1], "y", 1) == 1 ? 0 : 1);
    }
    n = read(p[0], &b, 1);
    check(n == 1 && b == 'y' && got == SIGUSR1, "SA_RESTART: the read goes on after the handler");
    waitpid(c, 0, 0);

    /* A sleep interrupted. */
    got = 0;
    c = fork();
    if (c == 0) {
        msleep(50);
        kill(me, SIGUSR1);
        _exit(0);
    }
    struct timespec ts = { 5, 0 };
    time_t t0 = time(0);
    errno = 0;
    check(nanosleep(&ts, 0) == -1 && errno == EINTR && got == SIGUSR1 && time(0) - t0 < 3,
          "nanosleep interrupted: EINTR");
    waitpid(c, 0, 0);

    /* Default actions, SIG_IGN. */
    int st = 0;
    c = fork();
    if (c == 0) {
        kill(getpid(), SIGTERM);
        _exit(0);
    }
    check(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
          "SIGTERM's default action ends the process");
    c = fork();
    if (c == 0) {
        signal(SIGUSR1, SIG_IGN);
        kill(getpid(), SIGUSR1);
        _exit(7);
    }
    check(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, "SIG_IGN ignores");
    c = fork();
    if (c == 0) {
        signal(SIGUSR2, SIG_DFL);             /* ours was inherited */
        for (;;)
            pause();
    }
    msleep(20);
    kill(c, SIGUSR2);
    check(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2,
          "a signal to a child in pause() ends it (default action)");

    /* Stop and continue, as a shell sees them. */
    c = fork();
    if (c == 0) {
        for (int i = 0; i < 100; i++)
            msleep(10);
        _exit(3);
    }
    msleep(20);
    kill(c, SIGSTOP);
    check(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP,
          "WUNTRACED: the child stopped");
    kill(c, SIGCONT);
    check(waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st), "WCONTINUED: it continued");
    check(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3, "then it ended");

    /* SIGCHLD. */
    signal(SIGCHLD, on_chld);
    chld = 0;
    c = fork();
    if (c == 0)
        _exit(0);
    waitpid(c, 0, 0);
    for (int i = 0; i < 50 && !chld; i++)
        msleep(2);
    check(chld >= 1, "SIGCHLD's handler runs when a child ends");
    signal(SIGCHLD, SIG_DFL);

    /* Hostile. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_chld;
    errno = 0;
    check(sigaction(SIGKILL, &sa, 0) == -1 && errno == EINVAL, "a handler for SIGKILL: EINVAL");
    errno = 0;
    check(sigaction(65, &sa, 0) == -1 && errno == EINVAL, "signal 65: EINVAL");
    errno = 0;
    check(kill(getpid(), 99) == -1 && errno == EINVAL, "kill with signal 99: EINVAL");
    errno = 0;
    check(kill(999999, SIGUSR1) == -1 && errno == ESRCH, "kill of nobody: ESRCH");

    /* alarm and the real-time interval timer: SIGALRM */
    handle(SIGALRM, 0);
    got = 0;
    check(alarm(1) == 0, "alarm(1): no alarm before");
    check(alarm(5) == 1, "alarm again: about a second left of the first");
    check(alarm(0) >= 4, "alarm(0): cancels, with what was left");
    struct itimerval it = { { 0, 0 }, { 0, 100000 } }, oldt;
    check(setitimer(ITIMER_REAL, &it, 0) == 0, "setitimer ITIMER_REAL 100 ms");
    pause();
    check(got == SIGALRM, "the timer's SIGALRM interrupts pause and runs the handler");
    struct itimerval every = { { 0, 20000 }, { 0, 20000 } };
    got = 0;
    setitimer(ITIMER_REAL, &every, 0);
    int ticks = 0;
    for (int i = 0; i < 4; i++) {
        got = 0;
        pause();
        ticks += got == SIGALRM;
    }
    check(getitimer(ITIMER_REAL, &oldt) == 0 && oldt.it_interval.tv_usec == 20000,
          "getitimer: the period");
    memset(&it, 0, sizeof(it));
    setitimer(ITIMER_REAL, &it, &oldt);
    check(ticks == 4, "a periodic timer: a SIGALRM every period");
    errno = 0;
    check(setitimer(ITIMER_VIRTUAL, &every, 0) == -1 && errno == EINVAL,
          "ITIMER_VIRTUAL: EINVAL (not served)");
    errno = 0;
    check(setitimer(ITIMER_REAL, (struct itimerval *)8, 0) == -1 && errno == EFAULT,
          "setitimer with a bad pointer: EFAULT");
    signal(SIGALRM, SIG_DFL);
    wait_masks();

    /* A fault in a forked child: SIGSEGV to its parent, and a core file
     * of the child on the console (runtests reads its backtrace). */
    pid_t f = fork();
    if (f == 0)
        crash_here(0);
    int fst = 0;
    check(f > 0 && waitpid(f, &fst, 0) == f && WIFSIGNALED(fst) && WTERMSIG(fst) == SIGSEGV,
          "a forked child's fault: it dies of SIGSEGV");

    if (!failed)
        printf("linux-sig: ALL PASSED\n");
    return failed;
}
