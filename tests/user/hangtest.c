/*
 * hangtest: a service that hangs, for the supervisor to catch.
 *
 *   hangtest N      sends N heartbeats, then stops answering, as a hung
 *                   service would (bootimage/tests/hang.manifest)
 *   hangtest hold   heartbeats all along, for a second holding nothing,
 *                   then holding a request of its own (a second thread's)
 *                   unanswered: a loop that goes on but serves no one; with
 *                   stall= the supervisor sees the request held
 *                   (bootimage/tests/stall.manifest)
 */
#include "base/string.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define MS 1000000L

static long conn;
static struct rt_thread sender;
static uint8_t stack[8192] __attribute__((aligned(16)));

static long send_one(void *arg)
{
    (void)arg;
    char q[4] = "hi", r[4];
    struct k_iov s = { q, sizeof(q) }, rp = { r, sizeof(r) };
    long e = rt_msg_send(conn, &s, 1, &rp, 1);
    printf("hangtest: the held request ended: %ld\n", e);
    return 0;
}

static void beat(long ms)
{
    for (long t = 0; t < ms; t += 20) {
        if (rt_heartbeat() < 0)
            printf("hangtest: no supervisor handle\n");
        k_thread_sleep(20 * MS);
    }
}

static int hold(void)
{
    long chan = rt_handle("chan");
    conn = chan < 0 ? chan : k_chan_connect(chan, 7, 0);
    if (conn < 0) {
        printf("hangtest: no channel to hold a request of: %s\n", k_strerror(conn));
        return 1;
    }
    beat(1000);
    printf("hangtest: holding a request now, heartbeats on\n");
    rt_thread_spawn(&sender, send_one, 0, stack, sizeof(stack), 0);
    char buf[16];
    struct k_msg_info info;
    long rcvid = k_msg_receive(chan, (long)buf, -(long)sizeof(buf), (long)&info);
    if (rcvid <= 0) {
        printf("hangtest: receive: %ld\n", rcvid);
        return 1;
    }
    for (;;)
        beat(1000);                 /* never answered */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "hold") == 0)
        return hold();
    int beats = argc > 1 ? argv[1][0] - '0' : 3;
    for (int i = 0; i < beats; i++) {
        if (rt_heartbeat() < 0)
            printf("hangtest: no supervisor handle\n");
        k_thread_sleep(20 * MS);
    }
    printf("hangtest: hanging now\n");
    for (;;)
        k_thread_sleep(1000L * MS);
}
