/*
 * ipcbench: message-passing benchmarks, run as the first user process by
 * tools/bench (init=bin/ipcbench initexit=qemu).  Prints
 *     ipcbench NAME VALUE
 * lines that tools/bench turns into "bench NAME VALUE UNIT" (the unit
 * depends on the clock: under TCG with -icount shift=0 the TSC counts
 * guest instructions, under KVM CPU cycles).
 *
 *   roundtrip_same_as   send + receive + reply of 16 bytes, client and
 *                       server threads of one process, both on CPU 0
 *   roundtrip_cross_as  the same with the server in another process
 *   fairness_ratio      seed 001: round trips per second with a CPU-bound
 *                       round-robin thread of the same priority on the
 *                       same CPU, over half the idle rate (1.0 = fair)
 *   fairness_pair_share the share of that CPU the client-server pair got
 *                       while both ran: its round trips over what it does
 *                       alone in the same time
 *   fairness_hog_share  the CPU-bound thread's share: its iterations over
 *                       what it does alone in the same time.  Both shares
 *                       are taken over the window that really ran
 *                       (fairness_window_ns, not the nominal 0.5 s: the
 *                       last round trip can wait out the hog's slice), and
 *                       measured independently, so they should add up to
 *                       1 (tools/bench checks)
 *   cpu_switches        out of 100,000 message passes with the client
 *                       free to run anywhere, how many ran the server on
 *                       another CPU than the client
 */
#include <stdbool.h>
#include <stdint.h>

#include "base/string.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"

#define ROUNDS 20000

static inline uint64_t tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static long this_cpu(void)
{
    struct k_sysinfo s;
    k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&s, 0);
    return (long)s.cpu;
}

/* The server loop: reply with the same 16 bytes, receive the next.  A
 * pulse ends it.  With REPORT_CPU, the reply's second word says whether
 * it ran on the CPU the client named in the first word. */
static long serve(long chan, bool report_cpu)
{
    uint64_t msg[2];
    struct k_msg_info info;
    /* parts < 0: a flat buffer of -parts bytes, no iov array */
    long rcvid = k_msg_receive(chan, (long)msg, -(long)sizeof(msg), (long)&info);
    while (rcvid > 0) {
        if (report_cpu)
            msg[1] = (uint64_t)(this_cpu() != (long)msg[0]);
        rcvid = k_msg_reply_receive(rcvid, 0, (long)msg, -(long)sizeof(msg), chan, (long)&info);
    }
    return 0;
}

static long server_thread(void *arg)
{
    return serve((long)arg, false);
}

static uint64_t roundtrips(long conn, long n)
{
    uint64_t msg[2] = { 1, 2 }, rep[2];
    uint64_t t0 = tsc();
    for (long i = 0; i < n; i++)
        k_msg_send(conn, (long)msg, -(long)sizeof(msg), (long)rep, -(long)sizeof(rep));
    return tsc() - t0;
}

static char stack_srv[16384] __attribute__((aligned(16)));
static char stack_hog[16384] __attribute__((aligned(16)));

static void bench_same_as(void)
{
    long chan = k_chan_create(0), conn = k_chan_connect(chan, 0, 0);
    struct k_thread_attr a = { 100, K_SCHED_FIFO, 1 };
    struct rt_thread th;
    long t = rt_thread_spawn(&th, server_thread, (void *)chan, stack_srv, sizeof(stack_srv), &a);
    roundtrips(conn, 100);                              /* warm up */
    uint64_t d = roundtrips(conn, ROUNDS);
    printf("ipcbench roundtrip_same_as %lu\n", (unsigned long)(d / ROUNDS));
    k_pulse_send(conn, 1, 0, 0);
    rt_thread_join(t, 0);
    k_handle_close(t);
    k_handle_close(conn);
    k_handle_close(chan);
}

static long spawn_server(long chan, const char *role)
{
    struct k_spawn_handle h = { (uint32_t)chan, K_RIGHT_RECEIVE, "chan" };
    const char *argv[] = { "bin/ipcbench", role };
    struct k_spawn sp = { .argc = 2, .nhandles = 1, .argv = argv, .handles = &h, .priority = 100,
                          .image = (uint32_t)rt_handle("bootfs") };
    return k_process_spawn((long)"bin/ipcbench", 12, (long)&sp);
}

static void bench_cross_as(void)
{
    long chan = k_chan_create(0), conn = k_chan_connect(chan, 0, 0);
    long p = spawn_server(chan, "server-cpu0");
    roundtrips(conn, 100);
    uint64_t d = roundtrips(conn, ROUNDS);
    printf("ipcbench roundtrip_cross_as %lu\n", (unsigned long)(d / ROUNDS));
    k_pulse_send(conn, 1, 0, 0);
    rt_process_wait(p, 0);
    k_handle_close(p);
    k_handle_close(conn);
    k_handle_close(chan);
}

static volatile uint64_t hog_iters;
static volatile int hog_stop;

static long hog(void *arg)
{
    (void)arg;
    while (!hog_stop)
        hog_iters++;
    return 0;
}

/* Round trips for about NS of guest time, in the caller's current
 * setting; *WINDOW is the time that really ran, *HOG_DELTA the hog's
 * iterations meanwhile (both read next to the clock). */
static uint64_t roundtrips_for(long conn, long ns, long *window, uint64_t *hog_delta)
{
    uint64_t msg[2] = { 0, 0 };
    struct k_iov s = { msg, sizeof(msg) };
    uint64_t n = 0;
    uint64_t h0 = hog_iters;
    long t0 = k_clock_get(), t = t0;
    while (t < t0 + ns) {
        rt_msg_send(conn, &s, 1, &s, 1);
        n++;
        t = k_clock_get();
    }
    *hog_delta = hog_iters - h0;
    *window = t - t0;
    return n;
}

/* "ipcbench NAME V" with V >= 0 to three decimals. */
static void print_fixed(const char *name, double v)
{
    unsigned long milli = (unsigned long)(v * 1000 + 0.5);
    printf("ipcbench %s %lu.%03lu\n", name, milli / 1000, milli % 1000);
}

static void bench_fairness(void)
{
    long chan = k_chan_create(0), conn = k_chan_connect(chan, 0, 0);
    k_thread_affinity(0, 1);
    k_thread_sched(0, 10, K_SCHED_RR);
    struct k_thread_attr a = { 10, K_SCHED_RR, 1 };
    struct rt_thread ts, th;
    long srv = rt_thread_spawn(&ts, server_thread, (void *)chan, stack_srv, sizeof(stack_srv), &a);
    const long half_s = 500 * 1000000L;
    uint64_t dummy, hog_shared;
    long idle_ns, alone_ns, shared_ns;
    /* The pair alone. */
    uint64_t n0 = roundtrips_for(conn, half_s, &idle_ns, &dummy);
    double r0 = (double)n0 * 1e9 / (double)idle_ns;
    /* The hog alone: iterations per second with the pair idle. */
    hog_stop = 0;
    long h = rt_thread_spawn(&th, hog, 0, stack_hog, sizeof(stack_hog), &a);
    uint64_t i0 = hog_iters;
    long t0 = k_clock_get();
    k_thread_sleep(half_s);
    uint64_t hog_alone = hog_iters - i0;
    alone_ns = k_clock_get() - t0;
    double hog_rate = (double)hog_alone * 1e9 / (double)alone_ns;
    /* Both. */
    uint64_t n1 = roundtrips_for(conn, half_s, &shared_ns, &hog_shared);
    hog_stop = 1;
    rt_thread_join(h, 0);
    double r1 = (double)n1 * 1e9 / (double)shared_ns;
    double pair_share = r1 / r0;
    double hog_share = (double)hog_shared * 1e9 / (double)shared_ns / hog_rate;
    printf("ipcbench fairness_idle_rate %lu\n", (unsigned long)r0);
    printf("ipcbench fairness_loaded_rate %lu\n", (unsigned long)r1);
    printf("ipcbench fairness_window_ns %ld\n", shared_ns);
    print_fixed("fairness_ratio", r1 / (r0 / 2));
    print_fixed("fairness_pair_share", pair_share);
    print_fixed("fairness_hog_share", hog_share);
    k_pulse_send(conn, 1, 0, 0);
    rt_thread_join(srv, 0);
    k_handle_close(h);
    k_handle_close(srv);
    k_handle_close(conn);
    k_handle_close(chan);
    k_thread_sched(0, 100, K_SCHED_RR);
}

static void bench_cpu_switches(void)
{
    struct k_sysinfo si;
    k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&si, 0);
    if (si.ncpus < 2) {
        printf("ipcbench cpu_switches_skipped 1\n");
        return;
    }
    long chan = k_chan_create(0), conn = k_chan_connect(chan, 0, 0);
    long p = spawn_server(chan, "server-any");
    long switches = 0;
    for (long i = 0; i < 100000; i++) {
        uint64_t msg[2] = { (uint64_t)this_cpu(), 0 };
        struct k_iov s = { msg, sizeof(msg) };
        rt_msg_send(conn, &s, 1, &s, 1);
        switches += (long)msg[1];
    }
    printf("ipcbench cpu_switches %ld\n", switches);
    k_pulse_send(conn, 1, 0, 0);
    rt_process_wait(p, 0);
    k_handle_close(p);
    k_handle_close(conn);
    k_handle_close(chan);
}

/* For tools/ipcprofile: one round trip between two calls of a marker
 * that gdb stops at. */
__attribute__((noinline)) void profile_marker(void);
__attribute__((noinline)) void profile_marker(void)
{
    __asm__ volatile("" ::: "memory");
}

static void profile_once(void)
{
    long chan = k_chan_create(0), conn = k_chan_connect(chan, 0, 0);
    long p = spawn_server(chan, "server-cpu0");
    roundtrips(conn, 100);
    profile_marker();
    roundtrips(conn, 1);
    profile_marker();
    k_pulse_send(conn, 1, 0, 0);
    rt_process_wait(p, 0);
}

/* spawn_wait: start a program that exits at once and wait for it. */
static void bench_spawn_wait(void)
{
    enum { N = 20 };
    const char *argv[] = { "bin/ipcbench", "exit" };
    struct k_spawn sp = { .argc = 2, .argv = argv, .image = (uint32_t)rt_handle("bootfs") };
    long t0 = k_clock_get();
    for (int i = 0; i < N; i++) {
        long p = k_process_spawn((long)"bin/ipcbench", 12, (long)&sp);
        rt_process_wait(p, 0);
        k_handle_close(p);
    }
    printf("ipcbench spawn_wait_ns %ld\n", (k_clock_get() - t0) / N);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "exit") == 0)
        return 0;
    if (argc >= 2 && strcmp(argv[1], "server-cpu0") == 0) {
        k_thread_affinity(0, 1);
        return (int)serve(rt_handle("chan"), false);
    }
    if (argc >= 2 && strcmp(argv[1], "server-any") == 0)
        return (int)serve(rt_handle("chan"), true);
    k_thread_affinity(0, 1);
    k_thread_sched(0, 100, K_SCHED_FIFO);
    if (argc >= 2 && strcmp(argv[1], "profile") == 0) {
        profile_once();
        return 0;
    }
    bench_same_as();
    bench_cross_as();
    bench_fairness();
    k_thread_affinity(0, ~0L);
    bench_cpu_switches();
    bench_spawn_wait();
    printf("ipcbench done\n");
    return 0;
}
