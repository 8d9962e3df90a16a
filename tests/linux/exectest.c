/*
 * exectest: execve in the Linux personality (musl-gcc -static): another
 * program, a #! script, close-on-exec, and the errors.  Run as
 * "exectest"; it runs itself again as "exectest --child ..." and
 * "--script".  "linux-exec: ok WHAT" / "FAIL WHAT", then "ALL PASSED".
 */
#include <errno.h>
#include <fcntl.h>
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
    if (argc >= 3 && strcmp(argv[1], "--script") == 0)
        return strcmp(argv[2], "/tmp/script") == 0 && argc == 4 && strcmp(argv[3], "arg") == 0
               ? 42 : 2;

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
    check(WIFEXITED(st) && WEXITSTATUS(st) == 42, "a #! script runs its interpreter with its path");

    char *a4[] = { "x", 0 };
    st = run("/nosuch", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOENT, "a missing program: ENOENT");
    st = run("/manifest", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOEXEC, "not a program: ENOEXEC");
    st = run("/bin/log", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOEXEC,
          "a native program where Linux ones cannot load: ENOEXEC, and the caller goes on");
    st = run("/bin", a4, env);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 100 + EISDIR, "a directory: EISDIR");
    errno = 0;
    char *const *volatile badv = (char *const *)8;  /* hidden from the compiler's checks */
    check(execve("/linux/hello", badv, env) == -1 && errno == EFAULT,
          "a bad argv pointer: EFAULT, and we are still here");
    char *bad[] = { "x", (char *)8, 0 };
    errno = 0;
    check(execve("/linux/hello", bad, env) == -1 && errno == EFAULT, "a bad string in argv: EFAULT");

    if (!failed)
        printf("linux-exec: ALL PASSED\n");
    return failed;
}
