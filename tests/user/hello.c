/*
 * hello: the smallest native user program; prints a greeting and its
 * arguments through the runtime's printf (debug console).
 */
#include "rt/rt.h"
#include "rt/stdio.h"

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-' && argv[1][2] == 'c')
        *(volatile int *)0 = 1;                   /* --crash: fault at once */
    if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-' && argv[1][2] == 's')
        k_thread_sleep(1000L * 1000000);          /* --sleep: a second, then exit */
    printf("hello from user space\n");
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = \"%s\"\n", i, argv[i]);
    return 0;
}
