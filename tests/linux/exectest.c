/*
 * exectest: execve in the Linux personality (musl-gcc -static): another
 * program, a #! script, close-on-exec, and the errors.  Run as
 * "exectest"; it runs itself again as "exectest --child ..." and
 * "--script".  "linux-exec: ok WHAT" / "FAIL WHAT", then "ALL PASSED".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed;

static void check(int ok, const char *what)
{
    printf("linux-exec: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

/* Runs PATH with ARGV in a child; its wait status. */
static int run(const char *path, char *const argv[], char *const envp[])
{
    pid_t c = fork();
    if (c == 0) {
        execve(path, argv, envp);
        _exit(100 + errno);
    }
    int st = -1;
    waitpid(c, &st, 0);
    return st;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--child") == 0) {
        /* argv: --child FD: FD was opened O_CLOEXEC, 0 a plain one */
        int cloexec_fd = atoi(argv[2]);
        int ok = fcntl(cloexec_fd, F_GETFD) == -1 && errno == EBADF;
        ok &= fcntl(0, F_GETFD) != -1 || errno == EBADF;
        ok &= getenv("KESTREL") && strcmp(getenv("KESTREL"), "yes") == 0;
        return ok ? 41 : 1;
    }
    if (argc >= 2 && strcmp(argv[1], "--affinity") == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof(set), &set) != 0)
            return 3;
        return CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set) ? 43 : 4;
    }
    if (argc >= 3 && strcmp(argv[1], "--script") == 0) {
        char comm[17] = { 0 };      /* a script's process is named after the script, as on Linux */
        prctl(PR_GET_NAME, comm);
        return strcmp(argv[2], "/tmp/script") == 0 && argc == 4 && strcmp(argv[3], "arg") == 0 &&
               strcmp(comm, "script") == 0 ? 42 : 2;
    }

    char *env[] = { "KESTREL=yes", 0 };
    int fd = open("/manifest", O_RDONLY | O_CLOEXEC);
    char num[16];
    snprintf(num, sizeof(num), "%d", fd);
    char *a1[] = { "exectest", "--child", num, 0 };
    int st = run("/linux/exectest", a1, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 41, "another program: argv, envp, close-on-exec");
    close(fd);

    char *a2[] = { "hello", "one", "two", 0 };
    char *henv[] = { "HOME=/", 0 };
    st = run("/linux/hello", a2, henv);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "linux/hello passes its own checks after exec");

    int s = open("/tmp/script", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    const char text[] = "#!/linux/exectest --script\n";
    check(s >= 0 && write(s, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1, "write a script");
    close(s);
    char *a3[] = { "script", "arg", 0 };
    st = run("/tmp/script", a3, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 42, "a #! script runs its interpreter with its path, named after the script");

    char *a4[] = { "x", 0 };
    st = run("/nosuch", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOENT, "a missing program: ENOENT");
    int ne = open("/tmp/notelf", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    check(ne >= 0 && write(ne, "just text\n", 10) == 10, "write an executable that is no program");
    close(ne);
    st = run("/tmp/notelf", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOEXEC, "not a program: ENOEXEC");
    st = run("/bin/log", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOEXEC,
          "a native program where Linux ones cannot load: ENOEXEC, and the caller goes on");
    st = run("/bin", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + EACCES, "a directory: EACCES (as Linux)");
    int nx = open("/tmp/noexec", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(nx >= 0 && write(nx, text, sizeof(text) - 1) > 0, "write a script without an execute bit");
    close(nx);
    st = run("/tmp/noexec", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + EACCES, "a file without an execute bit: EACCES");
    errno = 0;
    char *const *volatile badv = (char *const *)8;  /* hidden from the compiler's checks */
    check(execve("/linux/hello", badv, env) == -1 && errno == EFAULT,
          "a bad argv pointer: EFAULT, and we are still here");
    char *bad[] = { "x", (char *)8, 0 };
    errno = 0;
    check(execve("/linux/hello", bad, env) == -1 && errno == EFAULT, "a bad string in argv: EFAULT");

    /* posix_spawn: the child runs on the stack musl gives it, shares
     * nothing it writes, and reports a failed exec through its pipe. */
    pid_t pid = -1;
    int fd2 = open("/manifest", O_RDONLY | O_CLOEXEC);
    snprintf(num, sizeof(num), "%d", fd2);
    char *a5[] = { "exectest", "--child", num, 0 };
    int e = posix_spawn(&pid, "/linux/exectest", 0, 0, a5, env);
    st = -1;
    int w = e == 0 ? waitpid(pid, &st, 0) : -2;
    check(e == 0 && pid > 0 && w == pid && WIFEXITED(st) &&
              WEXITSTATUS(st) == 41, "posix_spawn: argv, envp, close-on-exec");
    close(fd2);
    e = posix_spawn(&pid, "/nosuch", 0, 0, a4, env);
    check(e == ENOENT, "posix_spawn of a missing program: ENOENT from posix_spawn");
    /* clone3 as a fork (no stack), and its refusals */
    uint64_t ca[11] = { 0 };
    ca[4] = SIGCHLD;
    long c3 = syscall(SYS_clone3, ca, sizeof(ca));
    if (c3 == 0)
        _exit(44);
    st = -1;
    check(c3 > 0 && waitpid((pid_t)c3, &st, 0) == c3 && WIFEXITED(st) && WEXITSTATUS(st) == 44,
          "clone3 without a stack: a fork");
    errno = 0;
    check(syscall(SYS_clone3, ca, 8) == -1 && errno == EINVAL, "clone3 with a short struct: EINVAL");
    errno = 0;
    check(syscall(SYS_clone3, (void *)8, sizeof(ca)) == -1 && errno == EFAULT,
          "clone3 with a bad pointer: EFAULT");
    ca[0] = 0x20000000;             /* CLONE_NEWPID */
    errno = 0;
    check(syscall(SYS_clone3, ca, sizeof(ca)) == -1 && errno == EINVAL,
          "clone3 asking for a namespace: EINVAL");
    ca[0] = 0;
    ca[5] = 4096;                   /* a stack without its size */
    errno = 0;
    check(syscall(SYS_clone3, ca, sizeof(ca)) == -1 && errno == EINVAL,
          "clone3 with a stack and no size: EINVAL");

    /* CPU affinity: ours, and kept by a child across fork and exec */
    cpu_set_t set, got;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    check(sched_setaffinity(0, sizeof(set), &set) == 0, "sched_setaffinity(CPU 0)");
    CPU_ZERO(&got);
    check(sched_getaffinity(0, sizeof(got), &got) == 0 && CPU_COUNT(&got) == 1 &&
              CPU_ISSET(0, &got), "sched_getaffinity: CPU 0 only");
    char *a6[] = { "exectest", "--affinity", 0 };
    st = run("/linux/exectest", a6, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 43, "the affinity is kept across fork and exec");
    CPU_ZERO(&set);
    errno = 0;
    check(sched_setaffinity(0, sizeof(set), &set) == -1 && errno == EINVAL,
          "sched_setaffinity with no CPU: EINVAL");
    errno = 0;
    check(syscall(SYS_sched_getaffinity, 0, 3, &got) == -1 && errno == EINVAL,
          "sched_getaffinity with a length not a multiple of 8: EINVAL");
    errno = 0;
    check(syscall(SYS_sched_getaffinity, 0, sizeof(got), (void *)8) == -1 && errno == EFAULT,
          "sched_getaffinity with a bad pointer: EFAULT");

    if (!failed)
        printf("linux-exec: ALL PASSED\n");
    return failed;
}
