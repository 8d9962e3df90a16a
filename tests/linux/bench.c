/*
 * bench: one static Linux program (musl-gcc -static) measured on Kestrel,
 * through the personality, and on Debian's Linux in the same virtual
 * machine (tools/linuxbench).  Under TCG with -icount shift=0 the guest
 * clock counts guest instructions, so a difference of CLOCK_MONOTONIC
 * readings over N calls, less the same loop without the call, is the
 * instructions one call costs.  Prints "bench NAME VALUE insns" lines.
 * As Linux's /init (pid 1) it powers the machine off at the end.
 */
#include <stdio.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define N 20000

static long now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* The loop with and without the call; the calls' share, per call. */
static long per_call(long nr)
{
    long t0 = now();
    for (int i = 0; i < N; i++)
        __asm__ volatile("" ::: "memory");
    long empty = now() - t0;
    t0 = now();
    for (int i = 0; i < N; i++) {
        syscall(nr);
        __asm__ volatile("" ::: "memory");
    }
    long full = now() - t0;
    return (full - empty) / N;
}

int main(void)
{
    per_call(SYS_getppid);                        /* warm: pages, caches of the emulator */
    printf("bench posix_getppid_insns %ld insns\n", per_call(SYS_getppid));
    fflush(stdout);
    if (getpid() == 1)
        reboot(RB_POWER_OFF);                     /* Linux's init: end the machine */
    return 0;
}
