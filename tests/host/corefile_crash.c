/*
 * corefile_crash: the program whose core test_corefile synthesises.  It is
 * built for the host (static, -O0, with debug information) and never run:
 * the test takes its ELF, pretends it stopped inside crash_here (the write
 * through a null pointer) called from main, writes a core file with
 * lib/base/corefile and asks gdb for the backtrace.
 */
#include <stddef.h>

void crash_here(int *p);

void crash_here(int *p)
{
    *p = 42;
}

int main(void)
{
    crash_here(NULL);
    return 0;
}
