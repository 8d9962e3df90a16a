/*
 * forktest: fork, exit, wait and kill in the Linux personality (musl-gcc
 * -static).  Each line "linux-fork: ok WHAT" is a check that passed,
 * "linux-fork: FAIL WHAT" one that did not; "linux-fork: ALL PASSED" at
 * the end when all did.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;
static volatile int shared_looking = 1;

static void check(int ok, const char *what)
{
    printf("linux-fork: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

int main(void)
{
    pid_t me = getpid();
    errno = 0;
    check(waitpid(-1, 0, 0) == -1 && errno == ECHILD, "no children: ECHILD");

    pid_t c = fork();
    if (c == 0) {
        shared_looking = 2;                       /* our copy only */
        _exit(getppid() == me && getpid() != me ? 7 : 1);
    }
    check(c > 0 && c != me, "fork returns the child's pid");
    int st = 0;
    check(waitpid(c, &st, 0) == c, "waitpid returns it");
    check(WIFEXITED(st) && WEXITSTATUS(st) == 7, "its exit status (it saw its parent)");
    check(shared_looking == 1, "its memory was a copy");

    /* MAP_SHARED | MAP_ANONYMOUS memory is the same memory in the child;
     * MAP_PRIVATE is a copy. */
    volatile int *sh = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile int *pr = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sh != MAP_FAILED && pr != MAP_FAILED) {
        sh[0] = 1, sh[2000] = 1, pr[0] = 1;
        c = fork();
        if (c == 0) {
            int saw = sh[0] == 1 && pr[0] == 1;
            sh[0] = 42, sh[2000] = 43, sh[1] = 44, pr[0] = 2;     /* 2000: the second page */
            _exit(saw ? 0 : 1);
        }
        check(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "a child sees the shared and the private memory as they were");
        check(sh[0] == 42 && sh[2000] == 43 && sh[1] == 44,
              "MAP_SHARED|MAP_ANONYMOUS: what the child wrote is seen by the parent");
        check(pr[0] == 1, "MAP_PRIVATE: it is not");
        munmap((void *)sh, 8192);
        munmap((void *)pr, 8192);
    } else {
        check(0, "mmap of shared and private anonymous memory");
    }

    /* Several, then any order. */
    int seen = 0;
    for (int i = 0; i < 5; i++)
        if (fork() == 0)
            _exit(10 + i);
    for (int i = 0; i < 5; i++) {
        pid_t w = wait(&st);
        if (w > 0 && WIFEXITED(st) && WEXITSTATUS(st) >= 10 && WEXITSTATUS(st) < 15)
            seen |= 1 << (WEXITSTATUS(st) - 10);
    }
    check(seen == 31, "five children, each waited for once");
    check(wait(&st) == -1 && errno == ECHILD, "then none is left");

    /* WNOHANG on a child that is still running, then kill it. */
    c = fork();
    if (c == 0) {
        struct timespec ts = { 100, 0 };
        nanosleep(&ts, 0);
        _exit(3);
    }
    check(waitpid(c, &st, WNOHANG) == 0, "WNOHANG: 0 while it runs");
    check(kill(c, SIGKILL) == 0, "kill");
    check(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
          "killed by SIGKILL");
    check(kill(c, 0) == -1 && errno == ESRCH, "gone afterwards");

    /* A grandchild chain: each level waits for the next. */
    c = fork();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0)
            _exit(5);
        int gs = 0;
        _exit(waitpid(g, &gs, 0) == g && WEXITSTATUS(gs) == 5 ? 6 : 1);
    }
    check(waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 6, "a child waits for its own child");

    /* Hostile. */
    c = fork();
    if (c == 0)
        _exit(0);
    errno = 0;
    check(waitpid(c, (int *)8, 0) == -1 && errno == EFAULT, "a bad status pointer: EFAULT");
    check(waitpid(c, &st, 0) == c, "and the child is still there to wait for");
    errno = 0;
    check(waitpid(-1, 0, 0x7000) == -1 && errno == EINVAL, "bad options: EINVAL");

    /* waitid: the same news as a siginfo_t */
    c = fork();
    if (c == 0)
        _exit(7);
    siginfo_t si;
    memset(&si, 0xff, sizeof(si));
    check(waitid(P_PID, (id_t)c, &si, WEXITED) == 0 && si.si_pid == c && si.si_signo == SIGCHLD &&
              si.si_code == CLD_EXITED && si.si_status == 7, "waitid P_PID WEXITED: CLD_EXITED, status 7");
    c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    kill(c, SIGTERM);
    check(waitid(P_ALL, 0, &si, WEXITED) == 0 && si.si_pid == c && si.si_code == CLD_KILLED &&
              si.si_status == SIGTERM, "waitid P_ALL: CLD_KILLED by SIGTERM");
    errno = 0;
    check(waitid(P_ALL, 0, &si, WEXITED) == -1 && errno == ECHILD, "waitid with no child: ECHILD");
    c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    memset(&si, 0xff, sizeof(si));
    check(waitid(P_PID, (id_t)c, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0,
          "waitid WNOHANG with nothing to tell: 0, si_pid 0");
    errno = 0;
    check(waitid(P_PID, (id_t)c, &si, 0) == -1 && errno == EINVAL, "waitid with no state asked: EINVAL");
    errno = 0;
    check(waitid(P_PID, (id_t)c, (siginfo_t *)8, WEXITED) == -1 && errno == EFAULT,
          "waitid with a bad pointer: EFAULT");
    kill(c, SIGKILL);
    waitpid(c, &st, 0);

    if (!failed)
        printf("linux-fork: ALL PASSED\n");
    return failed;
}
