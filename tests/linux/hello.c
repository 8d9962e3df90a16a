/*
 * hello: a static Linux program (musl-gcc -static), run by the Linux
 * personality (posix/linux.c).  Each line "linux-hello: ok WHAT" is a
 * check that passed; "linux-hello: FAIL WHAT" one that did not.  Exits 0
 * when every check passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static __thread int tls_counter = 41;
static int failed;

static void check(int ok, const char *what)
{
    printf("linux-hello: %s %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

int main(int argc, char **argv)
{
    check(argc == 3 && strcmp(argv[1], "one") == 0 && strcmp(argv[2], "two") == 0, "argv");
    check(getenv("HOME") && strcmp(getenv("HOME"), "/") == 0, "environment");
    check(getpid() > 0, "getpid");
    tls_counter++;
    check(tls_counter == 42, "thread-local storage (FS base)");
    char *small = malloc(100);
    char *big = malloc(1 << 20);                  /* mmap */
    check(small && big, "malloc");
    if (big) {
        memset(big, 'x', 1 << 20);
        check(big[12345] == 'x', "large allocation is memory");
    }
    free(big);
    void *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(m != MAP_FAILED && ((char *)m)[100] == 0, "mmap anonymous, zeroed");
    check(m != MAP_FAILED && munmap(m, 8192) == 0, "munmap");
    struct utsname u;
    check(uname(&u) == 0 && strcmp(u.machine, "x86_64") == 0, "uname");
    struct timespec ts;
    check(clock_gettime(CLOCK_MONOTONIC, &ts) == 0, "clock_gettime");
    struct iovec iov[2] = { { "linux-hello: ok ", 16 }, { "writev\n", 7 } };
    check(writev(1, iov, 2) == 23, "writev count");
    check(write(1, (void *)16, 10) < 0, "a bad pointer gives an error, not a crash");
    check(uname((struct utsname *)0x10) < 0, "a bad output pointer too");
    printf("linux-hello: %s\n", failed ? "SOME FAILED" : "ALL PASSED");
    return failed ? 1 : 0;
}
