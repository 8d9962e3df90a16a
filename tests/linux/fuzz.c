/*
 * fuzz: hostile system calls from a Linux program to the personality
 * (posix/linux.c), which must answer each with a result or an error and
 * never fault.  Random numbers (served and not) and random arguments:
 * small values, huge ones, pointers into our memory, unmapped, kernel and
 * non-canonical addresses.  Calls that would end us on purpose (exit),
 * replace our own memory (munmap, mprotect, MAP_FIXED) or print (fd 1
 * and 2), sleep (select's timeouts) or signal us later (alarm) are left out; pointers that are ours point into a buffer larger
 * than anything a call may write, as a program that overran its own
 * memory would corrupt itself on Linux too.  Ends with "linux-fuzz: done calls=N errors=E".
 *
 *     linux/fuzz SEED CALLS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned long long x;

static unsigned long long rnd(void)
{
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
}

/* Where pointers point: the first 64 KiB of a 1 MiB mapping of its own,
 * so that whatever a served call writes (at most 64 KiB) stays in it. */
static char *buf;
#define BUF_SPAN 65536

static long arg(void)
{
    switch (rnd() % 8) {
    case 0: return (long)(rnd() % 64);
    case 1: return (long)rnd();
    case 2: return (long)(buf + rnd() % BUF_SPAN);
    case 3: return 16;                               /* unmapped */
    case 4: return (long)0xffffffff80000000UL;       /* the kernel's */
    case 5: return (long)0x0000800000000000UL;       /* not canonical */
    case 6: return -1;
    default: return (long)(buf + BUF_SPAN - rnd() % 16);
    }
}

int main(int argc, char **argv)
{
    x = argc > 1 ? strtoull(argv[1], 0, 0) | 1 : 1;
    buf = malloc(1 << 20);
    if (!buf)
        return 2;
    long calls = argc > 2 ? atol(argv[2]) : 20000, errors = 0;
    static const long served[] = { 0, 1, 9, 12, 13, 14, 16, 20, 39, 63, 89, 102, 104, 107,
                                   108, 110, 158, 186, 218, 228, 273, 302, 318 };
    for (long i = 0; i < calls; i++) {
        long nr = rnd() % 4 ? served[rnd() % (sizeof(served) / sizeof(served[0]))]
                            : (long)(rnd() % 600);
        if (nr == SYS_exit || nr == SYS_exit_group || nr == SYS_munmap || nr == SYS_mprotect ||
            nr == SYS_mremap || nr == SYS_execve || nr == SYS_kill || nr == SYS_tkill ||
            nr == SYS_tgkill || nr == SYS_rt_sigreturn || nr == SYS_clone || nr == SYS_fork ||
            nr == SYS_vfork || nr == SYS_clone3 || nr == SYS_brk || nr == SYS_arch_prctl ||
            nr == SYS_set_tid_address || nr == SYS_pause || nr == SYS_nanosleep ||
            nr == SYS_clock_nanosleep || nr == SYS_rt_sigsuspend || nr == SYS_read ||
            nr == SYS_select || nr == SYS_pselect6 || nr == SYS_alarm || nr == SYS_setitimer ||
            nr == SYS_ppoll)
            continue;                       /* (the last five would sleep, or end us with SIGALRM) */
        long a[6];
        for (int k = 0; k < 6; k++)
            a[k] = arg();
        if (nr == SYS_write || nr == SYS_writev || nr == SYS_pwrite64)
            a[0] = 3 + (long)(rnd() % 100);              /* never our output */
        if (nr == SYS_poll)
            a[2] = (long)(rnd() % 4);                    /* a few ms: descriptors may never be ready */
        if (nr == SYS_mmap) {
            a[1] = (long)(rnd() % (1 << 20));                /* not all of memory */
            a[3] &= ~0x10L;                                  /* not MAP_FIXED */
        }
        long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        errors += r == -1;
    }
    printf("linux-fuzz: done calls=%ld errors=%ld\n", calls, errors);
    return 0;
}
