/*
 * hangtest: a service that sends a few heartbeats (argument: how many)
 * and then stops answering, as a hung service would; init must notice,
 * kill and restart it (bootimage/tests/hang.manifest).
 */
#include "rt/rt.h"
#include "rt/stdio.h"

int main(int argc, char **argv)
{
    int beats = argc > 1 ? argv[1][0] - '0' : 3;
    for (int i = 0; i < beats; i++) {
        if (rt_heartbeat() < 0)
            printf("hangtest: no supervisor handle\n");
        k_thread_sleep(20 * 1000000);
    }
    printf("hangtest: hanging now\n");
    for (;;)
        k_thread_sleep(1000L * 1000000);
}
