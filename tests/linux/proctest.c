/*
 * proctest: /proc through the Linux personality and servers/procfs
 * (musl-gcc -static).  "linux-proc: ok WHAT" / "FAIL WHAT", then
 * "ALL PASSED".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void check(int ok, const char *what)
{
    printf("linux-proc: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

static int slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int n = (int)read(fd, buf, cap - 1);
    close(fd);
    if (n >= 0)
        buf[n] = 0;
    return n;
}

static int listed(const char *name)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)))
        found |= strcmp(e->d_name, name) == 0;
    if (d)
        closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    (void)argc;
    char buf[4096], want[64];
    check(slurp("/proc/meminfo", buf, sizeof(buf)) > 0 && strncmp(buf, "MemTotal:", 9) == 0 &&
          atol(buf + 9) > 1000, "meminfo: MemTotal");
    check(slurp("/proc/uptime", buf, sizeof(buf)) > 0 && strchr(buf, '.'), "uptime");
    check(slurp("/proc/loadavg", buf, sizeof(buf)) > 0, "loadavg");
    check(slurp("/proc/stat", buf, sizeof(buf)) > 0 && strncmp(buf, "cpu ", 4) == 0, "stat");
    check(slurp("/proc/mounts", buf, sizeof(buf)) > 0 && strstr(buf, " /tmp "), "mounts lists /tmp");

    /* Ourselves. */
    snprintf(want, sizeof(want), "%d (", (int)getpid());
    check(slurp("/proc/self/stat", buf, sizeof(buf)) > 0 && strncmp(buf, want, strlen(want)) == 0,
          "self/stat starts with our pid");
    char *close_paren = strrchr(buf, ')');
    check(close_paren && close_paren[1] == ' ' && close_paren[2] == 'R', "and our state");
    int n = slurp("/proc/self/cmdline", buf, sizeof(buf));
    check(n > 0 && strcmp(buf, argv[0]) == 0, "self/cmdline is our argv");
    prctl(PR_SET_NAME, "renamed");
    check(slurp("/proc/self/comm", buf, sizeof(buf)) > 0 && strcmp(buf, "renamed\n") == 0,
          "PR_SET_NAME shows in comm");
    snprintf(want, sizeof(want), "%d", (int)getpid());
    check(readlink("/proc/self", buf, sizeof(buf)) == (ssize_t)strlen(want) &&
          memcmp(buf, want, strlen(want)) == 0, "readlink /proc/self");
    check(listed(want), "our pid is listed in /proc");

    /* A child: listed while it lives, with us as its parent; gone after. */
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        char x;
        read(p[0], &x, 1);
        _exit(0);
    }
    char cname[32], cpath[64];
    snprintf(cname, sizeof(cname), "%d", (int)c);
    snprintf(cpath, sizeof(cpath), "/proc/%d/status", (int)c);
    int seen = 0;
    for (int i = 0; i < 100 && !seen; i++) {
        seen = slurp(cpath, buf, sizeof(buf)) > 0;
        if (!seen)
            usleep(10000);
    }
    snprintf(want, sizeof(want), "PPid:\t%d\n", (int)getpid());
    check(seen && strstr(buf, want), "a child's status names us as its parent");
    check(listed(cname), "and it is listed");
    write(p[1], "x", 1);
    waitpid(c, 0, 0);
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = !listed(cname);
        if (!gone)
            usleep(10000);
    }
    check(gone, "an ended child is gone from /proc");

    /* Hostile. */
    errno = 0;
    check(open("/proc/meminfo", O_WRONLY) == -1 && errno == EACCES, "meminfo is not writable");
    errno = 0;
    check(open("/proc/newfile", O_WRONLY | O_CREAT, 0644) == -1, "nothing is created in /proc");
    errno = 0;
    check(open("/proc/1/kestrel", O_WRONLY) == -1, "another process's record is not ours to write");
    int fd = open("/proc/self/kestrel", O_WRONLY);
    errno = 0;
    check(fd >= 0 && write(fd, "garbage", 7) == -1 && errno == EINVAL, "a malformed record: EINVAL");
    errno = 0;
    check(write(fd, "X 1 1 1 1\nx\n", 12) == -1 && errno == EINVAL, "a bad state: EINVAL");
    close(fd);
    check(open("/proc/99999/stat", O_RDONLY) == -1 && errno == ENOENT, "no such pid: ENOENT");
    check(slurp("/proc/self/stat", buf, sizeof(buf)) > 0, "and procfs still serves");

    /* status: the signal masks and CPUs a child was given, as of its start */
    signal(SIGUSR1, SIG_IGN);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof(one), &one);
    c = fork();
    if (c == 0) {
        char st[2048];
        int ok = slurp("/proc/self/status", st, sizeof(st)) > 0 && strstr(st, "SigIgn:\t0000000000000200\n");
        cpu_set_t got;
        CPU_ZERO(&got);
        int aff = sched_getaffinity(getppid(), sizeof(got), &got) == 0 && CPU_COUNT(&got) == 1 &&
                  CPU_ISSET(0, &got);
        _exit((ok ? 0 : 1) | (aff ? 0 : 2));
    }
    int cst = -1;
    waitpid(c, &cst, 0);
    check(WIFEXITED(cst) && !(WEXITSTATUS(cst) & 1), "status: SigIgn shows an ignored SIGUSR1, inherited");
    check(WIFEXITED(cst) && !(WEXITSTATUS(cst) & 2),
          "sched_getaffinity of another process (the parent): from its status, CPU 0");
    errno = 0;
    check(sched_getaffinity(99999, sizeof(one), &one) == -1 && errno == ESRCH,
          "sched_getaffinity of no such process: ESRCH");
    signal(SIGUSR1, SIG_DFL);

    /* kill of a process we are not related to: EPERM when it exists */
    pid_t sib = fork();
    if (sib == 0) {
        pause();
        _exit(0);
    }
    pid_t other = fork();
    if (other == 0) {
        struct timespec t = { 0, 100000000 };
        nanosleep(&t, 0);           /* (its sibling has told procfs about itself) */
        int e1 = kill(sib, 0) == -1 && errno == EPERM;
        int e2 = kill(999999, 0) == -1 && errno == ESRCH;
        _exit((e1 ? 0 : 1) | (e2 ? 0 : 2));
    }
    int ost = -1;
    waitpid(other, &ost, 0);
    check(WIFEXITED(ost) && !(WEXITSTATUS(ost) & 1), "kill of a sibling (no connection to it): EPERM");
    check(WIFEXITED(ost) && !(WEXITSTATUS(ost) & 2), "kill of no such process: ESRCH");
    kill(sib, SIGKILL);
    waitpid(sib, &ost, 0);

    if (!failed)
        printf("linux-proc: ALL PASSED\n");
    return failed;
}
