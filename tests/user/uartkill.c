/*
 * uartkill: restarts the uart driver three times while
 * tests/linux/ttywriter.c writes to the console through the terminal
 * (bootimage/tests/uartkill.manifest, boot uart_restart_shell).
 */
#include "base/string.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long ctl = rt_handle("supervisor");
    if (ctl < 0) {
        printf("uartkill: no supervisor connection\n");
        return 1;
    }
    int done = 0;
    for (int i = 0; i < 3; i++) {
        k_thread_sleep(300L * 1000000);
        struct supervisor_restart_req rq = { 0 };
        memcpy(rq.name, "uart", 5);
        struct supervisor_restart_rep rr;
        done += supervisor_restart(ctl, &rq, &rr) == 0;
    }
    printf("uartkill: restarted the driver %d times\n", done);
    return done == 3 ? 0 : 1;
}
