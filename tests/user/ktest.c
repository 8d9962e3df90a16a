/*
 * ktest: the in-system test suite of the kernel, run as the first user
 * process (init=bin/ktest initexit=qemu).  Each test prints
 *     TEST PASS user.NAME   or   TEST FAIL user.NAME: why
 * and the process exits 0 only if all passed, which ends the QEMU run.
 *
 * It covers every system call with valid and hostile arguments (bad,
 * closed and wrong-type handles, missing rights, unmapped and kernel
 * pointers, huge and negative sizes), message passing within and across
 * processes, pulses and their bounded queue, priority inheritance,
 * process death, killing processes blocked in send, receive and reply,
 * faults, revocation, and an SMP stress run; leak checks compare the
 * kernel's object counters before and after.
 *
 * Run with arguments "child ROLE", the same program plays the other side
 * of a cross-process test (see child_main).
 */
#include <stdbool.h>

#include "kestrel/exception.h"
#include "kestrel/msg.h"
#include "kestrel/resource.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"
#include "srv/srv.h"
#include "base/string.h"

#define KERNEL_PTR ((void *)0xffffffff80100000UL)
#define CHECK(cond) do { if (!(cond)) { fail_at(#cond, __LINE__); return false; } } while (0)
#define CHECK_EQ(a, b) do { long a_ = (long)(a), b_ = (long)(b); if (a_ != b_) { \
        fail_eq(#a, a_, b_, __LINE__); return false; } } while (0)

static const char *fail_text;
static int fail_line;
static long fail_got, fail_want;

static void fail_at(const char *what, int line)
{
    fail_text = what;
    fail_line = line;
    fail_got = fail_want = 0;
}

static void fail_eq(const char *what, long got, long want, int line)
{
    fail_text = what;
    fail_line = line;
    fail_got = got;
    fail_want = want;
}

static struct k_sysinfo sysinfo(void)
{
    struct k_sysinfo s;
    memset(&s, 0, sizeof(s));
    k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&s, 0);
    return s;
}

static long spawn(const char *role, const struct k_spawn_handle *h, unsigned nh, unsigned prio)
{
    const char *argv[] = { "bin/ktest", "child", role };
    struct k_spawn sp = { .argc = 3, .nhandles = nh, .argv = argv, .handles = h,
                          .priority = prio, .image = (uint32_t)rt_handle("bootfs") };
    return k_process_spawn((long)"bin/ktest", 9, (long)&sp);
}

static long wait_status(long proc)
{
    long status = -12345;
    long r = rt_process_wait(proc, &status);
    k_handle_close(proc);
    return r < 0 ? r : status;
}

static long send_str(long conn, const char *msg, char *reply, size_t rlen)
{
    struct k_iov s = { (void *)msg, strlen(msg) }, r = { reply, rlen };
    return rt_msg_send(conn, &s, 1, &r, 1);
}

static void spin_ms(long ms)
{
    long end = k_clock_get() + ms * 1000000;
    while (k_clock_get() < end)
        ;
}

/* ---------------------------------------------------------------- */

static bool test_debug_write_hostile(void)
{
    CHECK_EQ(k_debug_write((long)"", 0), 0);
    CHECK_EQ(k_debug_write(0x1000, 10), -E_FAULT);
    CHECK_EQ(k_debug_write((long)KERNEL_PTR, 10), -E_FAULT);
    CHECK_EQ(k_debug_write((long)"x", -1), -E_TOOBIG);
    CHECK_EQ(k_debug_write((long)"x", 1L << 40), -E_TOOBIG);
    CHECK_EQ(k_debug_write(-4096, 8), -E_FAULT);
    return true;
}

static bool test_bad_syscall_number(void)
{
    CHECK_EQ(rt_syscall(KESTREL_SYSCALL_COUNT, 0, 0, 0, 0, 0, 0), -E_NOSYS);
    CHECK_EQ(rt_syscall(-1, 0, 0, 0, 0, 0, 0), -E_NOSYS);
    CHECK_EQ(rt_syscall(1L << 40, 0, 0, 0, 0, 0, 0), -E_NOSYS);
    return true;
}

static bool test_sys_info_hostile(void)
{
    CHECK_EQ(k_sys_info(K_INFO_KERNEL_OBJECTS, 0, 0), -E_FAULT);
    CHECK_EQ(k_sys_info(K_INFO_KERNEL_OBJECTS, (long)KERNEL_PTR, 0), -E_FAULT);
    CHECK_EQ(k_sys_info(999, 0, 0), -E_INVAL);
    struct k_sysinfo s = sysinfo();
    CHECK(s.ncpus >= 1 && s.threads >= 1 && s.processes >= 1);
    return true;
}

static bool test_handles_hostile(void)
{
    CHECK_EQ(k_handle_close(12345), -E_BADHANDLE);
    CHECK_EQ(k_handle_close(-1), -E_BADHANDLE);
    CHECK_EQ(k_handle_close(1L << 40), -E_BADHANDLE);
    long ch = k_chan_create(0);
    CHECK(ch >= 0);
    long weak = k_handle_dup(ch, K_RIGHT_RECEIVE);         /* no DUP right */
    CHECK(weak >= 0);
    CHECK_EQ(k_handle_dup(weak, K_RIGHT_RECEIVE), -E_RIGHTS);
    long conn = k_chan_connect(ch, 0, 0);
    CHECK(conn >= 0);
    CHECK_EQ(k_handle_dup(conn, K_RIGHTS_ALL), -E_RIGHTS); /* no widening */
    CHECK_EQ(k_handle_dup(ch, 1L << 20), -E_INVAL);
    CHECK_EQ(k_handle_close(ch), 0);
    CHECK_EQ(k_handle_close(ch), -E_BADHANDLE);
    long again = k_chan_create(0);                          /* may reuse the slot */
    CHECK(again >= 0 && again != ch);
    CHECK_EQ(k_handle_close(ch), -E_BADHANDLE);             /* stale value stays dead */
    k_handle_close(again);
    k_handle_close(weak);
    k_handle_close(conn);
    return true;
}

static bool test_wrong_type_and_rights(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    struct k_iov iov = { 0, 0 };
    CHECK_EQ(rt_msg_send(ch, &iov, 0, &iov, 0), -E_WRONGTYPE);
    CHECK_EQ(rt_msg_receive(conn, &iov, 0, 0), -E_WRONGTYPE);
    CHECK_EQ(k_chan_connect(conn, 0, 0), -E_WRONGTYPE);
    CHECK_EQ(k_pulse_send(ch, 1, 1, 0), -E_WRONGTYPE);
    long nosend = k_handle_dup(conn, K_RIGHT_DUP);
    CHECK(nosend >= 0);
    CHECK_EQ(rt_msg_send(nosend, &iov, 0, &iov, 0), -E_RIGHTS);
    CHECK_EQ(k_pulse_send(nosend, 1, 1, 0), -E_RIGHTS);
    long norecv = k_handle_dup(ch, K_RIGHT_DUP);
    CHECK_EQ(rt_msg_receive(norecv, &iov, 0, 0), -E_RIGHTS);
    CHECK_EQ(k_thread_join(ch, 0), -E_WRONGTYPE);
    CHECK_EQ(k_process_wait(conn, 0), -E_WRONGTYPE);
    CHECK_EQ(k_vmo_map(0, ch, 0, 4096, K_PROT_READ), -E_WRONGTYPE);
    CHECK_EQ(k_chan_create(4), -E_INVAL);
    k_handle_close(nosend);
    k_handle_close(norecv);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

/* ---- message passing inside one process ---- */

struct echo_server {
    long chan;
    long served;
};

static long echo_server_main(void *arg)
{
    struct echo_server *es = arg;
    char buf[256];
    struct k_msg_info info;
    for (;;) {
        struct k_iov iov = { buf, sizeof(buf) };
        long rcvid = rt_msg_receive(es->chan, &iov, 1, &info);
        if (rcvid < 0)
            return rcvid == -E_DEAD ? 0 : rcvid;
        if (rcvid == 0)
            continue;                                /* pulse */
        size_t n = info.send_len < sizeof(buf) ? info.send_len : sizeof(buf);
        if (n == 4 && memcmp(buf, "quit", 4) == 0) {
            rt_msg_reply(rcvid, 0, 0, 0);
            return es->served;
        }
        for (size_t i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] = (char)(buf[i] - 32);
        struct k_iov r = { buf, n };
        es->served++;
        rt_msg_reply(rcvid, (long)n, &r, 1);
    }
}

static char stack_a[16384] __attribute__((aligned(16)));

/* Replies with the badge of the connection each message came through. */
static long badge_server_main(void *arg)
{
    struct echo_server *es = arg;
    for (;;) {
        char c;
        struct k_msg_info info;
        long rcvid = k_msg_receive(es->chan, (long)&c, -1, (long)&info);
        if (rcvid <= 0)
            return -1;
        if (c == 'q')
            return k_msg_reply(rcvid, 0, 0, 0);
        k_msg_reply(rcvid, (long)info.badge, 0, 0);
    }
}
static char stack_b[16384] __attribute__((aligned(16)));
static char stack_c[16384] __attribute__((aligned(16)));

static bool test_ipc_same_process(void)
{
    struct echo_server es = { k_chan_create(0), 0 };
    long conn = k_chan_connect(es.chan, 0, 0);
    struct rt_thread th;
    long t = rt_thread_spawn(&th, echo_server_main, &es, stack_a, sizeof(stack_a), 0);
    CHECK(t >= 0);
    char reply[16] = { 0 };
    CHECK_EQ(send_str(conn, "hello", reply, sizeof(reply)), 5);
    CHECK(memcmp(reply, "HELLO", 5) == 0);
    /* scattered send and reply */
    struct k_iov s[3] = { { "ab", 2 }, { "", 0 }, { "cd", 2 } };
    char r1[1], r2[8];
    struct k_iov r[2] = { { r1, 1 }, { r2, 8 } };
    CHECK_EQ(rt_msg_send(conn, s, 3, r, 2), 4);
    CHECK(r1[0] == 'A' && memcmp(r2, "BCD", 3) == 0);
    /* misaligned buffers are fine */
    static char odd[16] = " xyz";
    CHECK_EQ(k_msg_send(conn, (long)(odd + 1), -3, (long)(odd + 5), -3), 3);
    CHECK(memcmp(odd + 5, "XYZ", 3) == 0);
    /* flat buffers (parts < 0) instead of iov arrays */
    char flat[8] = { 0 };
    CHECK_EQ(k_msg_send(conn, (long)"flat", -4, (long)flat, -(long)sizeof(flat)), 4);
    CHECK(memcmp(flat, "FLAT", 4) == 0);
    /* a message larger than the kernel's small buffer takes the direct path */
    static char big[3000], bigr[3000];
    for (int i = 0; i < 3000; i++)
        big[i] = (char)('a' + i % 26);
    CHECK_EQ(k_msg_send(conn, (long)big, -256, (long)bigr, -256), 256);
    CHECK(bigr[0] == 'A' && bigr[255] == (char)('A' + 255 % 26));
    /* a reply longer than the buffer is cut, not overflowed */
    char small[2] = { 'x', 'y' };
    char guard[4] = { 'g', 'g', 'g', 'g' };
    struct k_iov sr = { small, 1 };
    struct k_iov ss = { "zzzz", 4 };
    CHECK_EQ(rt_msg_send(conn, &ss, 1, &sr, 1), 4);
    CHECK(small[0] == 'Z' && small[1] == 'y' && guard[0] == 'g');
    CHECK_EQ(send_str(conn, "quit", reply, sizeof(reply)), 0);
    long status;
    CHECK_EQ(rt_thread_join(t, &status), 0);
    CHECK_EQ(status, 6);
    k_handle_close(t);
    k_handle_close(conn);
    k_handle_close(es.chan);
    return true;
}

/* A connection's badge, chosen by the server, comes with every message
 * sent through it: per-client state without a lookup. */
static bool test_connection_badges(void)
{
    long ch = k_chan_create(0);
    long c1 = k_chan_connect(ch, 111, 0), c2 = k_chan_connect(ch, 222, 0);
    CHECK_EQ(k_pulse_send(c1, 1, 0, 0), 0);
    struct k_msg_info info;
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK_EQ(info.badge, 111);                    /* pulses carry it too */
    struct echo_server es = { ch, 0 };
    struct rt_thread th;
    long t = rt_thread_spawn(&th, badge_server_main, &es, stack_a, sizeof(stack_a), 0);
    long b1 = 0, b2 = 0;
    CHECK_EQ(k_msg_send(c1, (long)"x", -1, (long)&b1, -8), 111);
    CHECK_EQ(k_msg_send(c2, (long)"x", -1, (long)&b2, -8), 222);
    CHECK_EQ(k_msg_send(c1, (long)"q", -1, 0, 0), 0);
    CHECK_EQ(rt_thread_join(t, 0), 0);
    k_handle_close(t);
    k_handle_close(c1);
    k_handle_close(c2);
    k_handle_close(ch);
    return true;
}

static bool test_ipc_hostile(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    struct k_iov ok = { "x", 1 };
    struct k_iov many[K_IOV_MAX + 1];
    CHECK_EQ(rt_msg_send(conn, (struct k_iov *)0x1000, 1, &ok, 1), -E_FAULT);
    CHECK_EQ(rt_msg_send(conn, (struct k_iov *)KERNEL_PTR, 1, &ok, 1), -E_FAULT);
    CHECK_EQ(rt_msg_send(conn, many, K_IOV_MAX + 1, &ok, 1), -E_TOOBIG);
    CHECK_EQ(k_msg_send(conn, (long)&ok, -(long)K_MSG_MAX - 1, (long)&ok, 1), -E_TOOBIG);
    CHECK_EQ(k_msg_send(conn, (long)KERNEL_PTR, -16, (long)&ok, 1), -E_FAULT);
    CHECK_EQ(k_msg_send(conn, 0x7ffffffff000L, -0x2000, (long)&ok, 1), -E_FAULT);
    struct k_iov kern = { KERNEL_PTR, 16 };
    CHECK_EQ(rt_msg_send(conn, &kern, 1, &ok, 1), -E_FAULT);
    struct k_iov huge = { (void *)0x400000, 1UL << 40 };
    CHECK_EQ(rt_msg_send(conn, &huge, 1, &ok, 1), -E_TOOBIG);
    struct k_iov wrap = { (void *)0x7ffffffff000UL, 0x2000 };
    CHECK_EQ(rt_msg_send(conn, &wrap, 1, &ok, 1), -E_FAULT);
    CHECK_EQ(rt_msg_receive(ch, &ok, 1, (struct k_msg_info *)KERNEL_PTR), -E_FAULT);
    CHECK_EQ(rt_msg_receive(ch, (struct k_iov *)0x1000, 1, 0), -E_FAULT);
    CHECK_EQ(rt_msg_reply(12345, 0, &ok, 1), -E_INVAL);
    CHECK_EQ(rt_msg_reply(-5, 0, &ok, 1), -E_INVAL);
    CHECK_EQ(k_msg_error(12345, 1), -E_INVAL);
    CHECK_EQ(k_msg_error(12345, 0), -E_INVAL);
    CHECK_EQ(k_msg_read(12345, 0, (long)stack_c, 4), -E_INVAL);
    CHECK_EQ(k_msg_write(12345, 0, (long)stack_c, 4), -E_INVAL);
    CHECK_EQ(k_msg_read(12345, -1, (long)stack_c, 4), -E_INVAL);
    CHECK_EQ(k_msg_read(12345, 0, (long)KERNEL_PTR, 4), -E_INVAL);
    CHECK_EQ(k_pulse_send(conn, 1, 2, 300), -E_INVAL);
    CHECK_EQ(k_pulse_send(conn, -1, 2, 0), -E_INVAL);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

/* msg_read / msg_write at offsets into a client's buffers. */
struct rw_server { long chan; long result; };

static long rw_server_main(void *arg)
{
    struct rw_server *rs = arg;
    char head[4];
    struct k_iov iov = { head, sizeof(head) };
    struct k_msg_info info;
    long rcvid = rt_msg_receive(rs->chan, &iov, 1, &info);
    if (rcvid <= 0)
        return -1;
    char tail[8] = { 0 };
    long n = k_msg_read(rcvid, 10, (long)tail, sizeof(tail));
    rs->result = (n == 6 && memcmp(tail, "klmnop", 6) == 0 && info.send_len == 16 &&
                  info.reply_len == 12) ? 1 : -n - 100;
    k_msg_write(rcvid, 8, (long)"WXYZ", 4);
    long over = k_msg_write(rcvid, 11, (long)"12345", 5);   /* only 1 byte fits */
    if (over != 1)
        rs->result = -200 - over;
    rt_msg_reply(rcvid, 77, &iov, 1);                       /* first 4 bytes */
    return 0;
}

static bool test_msg_read_write(void)
{
    struct rw_server rs = { k_chan_create(0), 0 };
    long conn = k_chan_connect(rs.chan, 0, 0);
    struct rt_thread th;
    long t = rt_thread_spawn(&th, rw_server_main, &rs, stack_a, sizeof(stack_a), 0);
    char reply[12];
    memset(reply, '.', sizeof(reply));
    struct k_iov s = { "abcdefghijklmnop", 16 }, r = { reply, sizeof(reply) };
    CHECK_EQ(rt_msg_send(conn, &s, 1, &r, 1), 77);
    CHECK(memcmp(reply, "abcd....WXY1", 12) == 0);
    CHECK_EQ(rs.result, 1);
    CHECK_EQ(rt_thread_join(t, 0), 0);
    k_handle_close(t);
    k_handle_close(conn);
    k_handle_close(rs.chan);
    return true;
}

/* Waiting senders are served highest priority first. */
struct prio_sender { long conn; long prio; };

static long prio_sender_main(void *arg)
{
    struct prio_sender *ps = arg;
    return k_msg_send(ps->conn, (long)&ps->prio, -(long)sizeof(long), 0, 0);
}

static bool test_receive_priority_order(void)
{
    CHECK_EQ(k_thread_sched(0, 100, K_SCHED_FIFO), 0);
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    static char stacks[3][16384] __attribute__((aligned(16)));
    struct prio_sender ps[3] = { { conn, 20 }, { conn, 60 }, { conn, 40 } };
    struct rt_thread th[3];
    long h[3];
    for (int i = 0; i < 3; i++) {
        struct k_thread_attr a = { (uint32_t)ps[i].prio, K_SCHED_FIFO, 0 };
        h[i] = rt_thread_spawn(&th[i], prio_sender_main, &ps[i], stacks[i], sizeof(stacks[i]), &a);
        CHECK(h[i] >= 0);
    }
    k_thread_sleep(30 * 1000000);              /* all three queue up */
    long want[3] = { 60, 40, 20 };
    for (int i = 0; i < 3; i++) {
        long got = 0;
        struct k_msg_info info;
        long rcvid = k_msg_receive(ch, (long)&got, -(long)sizeof(got), (long)&info);
        CHECK(rcvid > 0);
        CHECK_EQ(got, want[i]);
        CHECK_EQ(info.priority, want[i]);
        CHECK_EQ(k_msg_reply(rcvid, 0, 0, 0), 0);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(rt_thread_join(h[i], 0), 0);
        k_handle_close(h[i]);
    }
    k_thread_sched(0, 100, K_SCHED_RR);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_pulse_queue_overflow(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    for (int i = 0; i < K_PULSE_SENT_MAX; i++)
        CHECK_EQ(k_pulse_send(conn, i, i * 10, 1 + i % 7), 0);
    CHECK_EQ(k_pulse_send(conn, 999, 0, 0), -E_FULL);
    CHECK_EQ(k_pulse_send(conn, 999, 0, 200), -E_FULL);
    /* The rest of the queue is the kernel's: a timer still gets through. */
    long timer = k_timer_create(conn, 777, 7770);
    CHECK(timer > 0);
    CHECK_EQ(k_timer_set(timer, 1000000, 0), 0);
    k_thread_sleep(20 * 1000000);
    unsigned last_prio = 255, got = 0;
    struct k_msg_info info;
    bool timer_seen = false;
    for (int i = 0; i < K_PULSE_SENT_MAX + 1; i++) {
        CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
        CHECK(info.type == K_MSG_PULSE && info.code != 999);
        if (info.code == 777) {
            timer_seen = info.value == 7770 && info.pid == 0;
            continue;
        }
        CHECK(info.priority <= last_prio);
        CHECK_EQ(info.value, (long)info.code * 10);
        last_prio = info.priority;
        got++;
    }
    CHECK_EQ(got, K_PULSE_SENT_MAX);
    CHECK(timer_seen);
    k_handle_close(timer);
    CHECK_EQ(k_pulse_send(conn, 5, 6, 0), 0);              /* room again */
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK(info.code == 5 && info.value == 6);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

/* ---- priority inheritance ---- */

static volatile long hog_count, hog_stop;

static long hog_main(void *arg)
{
    (void)arg;
    while (!hog_stop)
        hog_count++;
    return 0;
}

struct pi_server { long chan; long prio_seen; };

static long pi_server_main(void *arg)
{
    struct pi_server *ps = arg;
    struct k_msg_info info;
    long rcvid = rt_msg_receive(ps->chan, 0, 0, &info);
    if (rcvid <= 0)
        return -1;
    ps->prio_seen = info.priority;
    spin_ms(30);                       /* work done at the client's priority */
    rt_msg_reply(rcvid, 0, 0, 0);
    return 0;
}

static bool test_priority_inheritance(void)
{
    /* Everyone on CPU 0.  Main (the client) runs at 50, the hog at 30,
     * the server's own priority is 10. */
    CHECK_EQ(k_thread_affinity(0, 1), 0);
    CHECK_EQ(k_thread_sched(0, 60, K_SCHED_FIFO), 0);
    struct pi_server ps = { k_chan_create(0), 0 };
    long conn = k_chan_connect(ps.chan, 0, 0);
    struct k_thread_attr low = { 10, K_SCHED_FIFO, 1 }, mid = { 30, K_SCHED_RR, 1 };
    struct rt_thread ts, th;
    /* The server first, alone: it reaches receive while we sleep. */
    long srv = rt_thread_spawn(&ts, pi_server_main, &ps, stack_a, sizeof(stack_a), &low);
    k_thread_sleep(20 * 1000000);
    hog_stop = 0;
    hog_count = 0;
    long hog = rt_thread_spawn(&th, hog_main, 0, stack_b, sizeof(stack_b), &mid);
    CHECK(srv >= 0 && hog >= 0);
    CHECK_EQ(k_thread_sched(0, 50, K_SCHED_FIFO), 0);
    k_thread_sleep(20 * 1000000);       /* the hog runs; the server waits in receive */
    CHECK(hog_count > 0);
    long before = hog_count;
    long t0 = k_clock_get();
    long r = rt_msg_send(conn, 0, 0, 0, 0);
    long took = k_clock_get() - t0;
    long during = hog_count - before;
    hog_stop = 1;
    k_thread_sched(0, 20, K_SCHED_FIFO);   /* let the hog see the flag */
    long jh = rt_thread_join(hog, 0), js = rt_thread_join(srv, 0);
    CHECK_EQ(jh, 0);
    CHECK_EQ(js, 0);
    k_thread_sched(0, 100, K_SCHED_RR);
    k_thread_affinity(0, 0);
    CHECK_EQ(r, 0);
    CHECK_EQ(ps.prio_seen, 50);
    CHECK_EQ(during, 0);                 /* the hog never ran during the call */
    CHECK(took < 500 * 1000000L);
    k_handle_close(hog);
    k_handle_close(srv);
    k_handle_close(conn);
    k_handle_close(ps.chan);
    return true;
}

/* Inheritance along a chain: client (50) -> S1 (10) -> S2 (10), with a
 * hog at 30 on the same CPU: S2 does its work at 50. */
struct chain { long chan1, chan2, conn2; long prio_s2; };

static long chain_s2(void *arg)
{
    struct chain *c = arg;
    struct k_msg_info info;
    long rcvid = rt_msg_receive(c->chan2, 0, 0, &info);
    c->prio_s2 = info.priority;
    spin_ms(20);
    return rt_msg_reply(rcvid, 0, 0, 0);
}

static long chain_s1(void *arg)
{
    struct chain *c = arg;
    struct k_msg_info info;
    long rcvid = rt_msg_receive(c->chan1, 0, 0, &info);
    long r = rt_msg_send(c->conn2, 0, 0, 0, 0);
    return rt_msg_reply(rcvid, r, 0, 0);
}

static volatile long hog_deadline;

static long bounded_hog(void *arg)
{
    (void)arg;
    while (!hog_stop && k_clock_get() < hog_deadline)
        hog_count++;
    return 0;
}

static bool test_priority_inheritance_chain(void)
{
    CHECK_EQ(k_thread_affinity(0, 1), 0);
    CHECK_EQ(k_thread_sched(0, 60, K_SCHED_FIFO), 0);
    struct chain c = { k_chan_create(0), k_chan_create(0), 0, 0 };
    c.conn2 = k_chan_connect(c.chan2, 0, 0);
    long conn1 = k_chan_connect(c.chan1, 0, 0);
    struct k_thread_attr low = { 10, K_SCHED_FIFO, 1 }, mid = { 30, K_SCHED_RR, 1 };
    struct rt_thread t1, t2, th;
    long s2 = rt_thread_spawn(&t2, chain_s2, &c, stack_a, sizeof(stack_a), &low);
    long s1 = rt_thread_spawn(&t1, chain_s1, &c, stack_c, sizeof(stack_c), &low);
    k_thread_sleep(20 * 1000000);              /* both reach receive */
    hog_stop = 0;
    hog_count = 0;
    hog_deadline = k_clock_get() + 2000L * 1000000;
    long hog = rt_thread_spawn(&th, bounded_hog, 0, stack_b, sizeof(stack_b), &mid);
    CHECK_EQ(k_thread_sched(0, 50, K_SCHED_FIFO), 0);
    k_thread_sleep(10 * 1000000);
    long before = hog_count;
    long r = rt_msg_send(conn1, 0, 0, 0, 0);
    long during = hog_count - before;
    hog_stop = 1;
    k_thread_sched(0, 20, K_SCHED_FIFO);
    CHECK_EQ(rt_thread_join(hog, 0), 0);
    CHECK_EQ(rt_thread_join(s1, 0), 0);
    CHECK_EQ(rt_thread_join(s2, 0), 0);
    k_thread_sched(0, 100, K_SCHED_RR);
    CHECK_EQ(r, 0);
    CHECK_EQ(c.prio_s2, 50);
    CHECK_EQ(during, 0);
    k_handle_close(hog);
    k_handle_close(s1);
    k_handle_close(s2);
    k_handle_close(conn1);
    k_handle_close(c.conn2);
    k_handle_close(c.chan1);
    k_handle_close(c.chan2);
    return true;
}

/* Inheritance at send time: the server is busy with a low client (20) and
 * held up by a hog (30); a high client (50) sends, the server is raised
 * at once, finishes, and serves the high client long before the hog ends. */
struct busy { long chan, conn; };

static long busy_server(void *arg)
{
    struct busy *b = arg;
    for (int i = 0; i < 2; i++) {
        long rcvid = rt_msg_receive(b->chan, 0, 0, 0);
        if (i == 0)
            spin_ms(30);
        rt_msg_reply(rcvid, 0, 0, 0);
    }
    return 0;
}

static long low_client(void *arg)
{
    struct busy *b = arg;
    return rt_msg_send(b->conn, 0, 0, 0, 0);
}

static bool test_priority_inheritance_at_send(void)
{
    CHECK_EQ(k_thread_affinity(0, 1), 0);
    CHECK_EQ(k_thread_sched(0, 60, K_SCHED_FIFO), 0);
    struct busy b = { k_chan_create(0), 0 };
    b.conn = k_chan_connect(b.chan, 0, 0);
    struct k_thread_attr srv_a = { 10, K_SCHED_FIFO, 1 }, low_a = { 20, K_SCHED_FIFO, 1 },
                         hog_a = { 30, K_SCHED_RR, 1 };
    struct rt_thread ts, tl, th;
    long srv = rt_thread_spawn(&ts, busy_server, &b, stack_a, sizeof(stack_a), &srv_a);
    k_thread_sleep(10 * 1000000);              /* the server waits */
    long low = rt_thread_spawn(&tl, low_client, &b, stack_c, sizeof(stack_c), &low_a);
    k_thread_sleep(5 * 1000000);               /* the server works for the low client */
    hog_stop = 0;
    hog_count = 0;
    hog_deadline = k_clock_get() + 2000L * 1000000;
    long hog = rt_thread_spawn(&th, bounded_hog, 0, stack_b, sizeof(stack_b), &hog_a);
    k_thread_sleep(5 * 1000000);               /* now the hog holds the server up */
    CHECK_EQ(k_thread_sched(0, 50, K_SCHED_FIFO), 0);
    long t0 = k_clock_get();
    long r = rt_msg_send(b.conn, 0, 0, 0, 0);
    long took = k_clock_get() - t0;
    hog_stop = 1;
    k_thread_sched(0, 5, K_SCHED_FIFO);
    CHECK_EQ(rt_thread_join(hog, 0), 0);
    CHECK_EQ(rt_thread_join(low, 0), 0);
    CHECK_EQ(rt_thread_join(srv, 0), 0);
    k_thread_sched(0, 100, K_SCHED_RR);
    CHECK_EQ(r, 0);
    CHECK(took < 500 * 1000000L);              /* the hog would have taken 2 s */
    k_handle_close(hog);
    k_handle_close(low);
    k_handle_close(srv);
    k_handle_close(b.conn);
    k_handle_close(b.chan);
    return true;
}

/* ---- processes ---- */

static bool test_process_exit_status(void)
{
    long p = spawn("exit42", 0, 0, 0);
    CHECK(p >= 0);
    CHECK_EQ(wait_status(p), 42);
    return true;
}

static bool test_spawn_hostile(void)
{
    const uint32_t img = (uint32_t)rt_handle("bootfs");
    struct k_spawn none = { .image = img };
    CHECK_EQ(k_process_spawn((long)"bin/nope", 8, (long)&none), -E_NOENT);
    CHECK_EQ(k_process_spawn((long)KERNEL_PTR, 8, (long)&none), -E_FAULT);
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 0, (long)&none), -E_TOOBIG);
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 1 << 20, (long)&none), -E_TOOBIG);
    CHECK_EQ(k_process_spawn((long)"manifest", 8, (long)&none), -E_INVAL);     /* not an ELF */
    struct k_spawn sp = { .image = img, .argc = 1000 };
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp), -E_TOOBIG);
    const char *argv[] = { (const char *)KERNEL_PTR };
    struct k_spawn sp2 = { .image = img, .argc = 1, .argv = argv };
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp2), -E_FAULT);
    struct k_spawn_handle hh = { 4242, K_RIGHT_SEND, "x" };
    struct k_spawn sp3 = { .image = img, .nhandles = 1, .handles = &hh };
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp3), -E_BADHANDLE);
    long ch = k_chan_create(0);
    long nt = k_handle_dup(ch, K_RIGHT_RECEIVE | K_RIGHT_DUP);     /* no TRANSFER */
    struct k_spawn_handle h2 = { (uint32_t)nt, K_RIGHT_RECEIVE, "c" };
    struct k_spawn sp4 = { .image = img, .nhandles = 1, .handles = &h2 };
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp4), -E_RIGHTS);
    struct k_spawn_handle h3 = { (uint32_t)ch, K_RIGHTS_ALL | (1u << 20), "c" };
    struct k_spawn sp5 = { .image = img, .nhandles = 1, .handles = &h3 };
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp5), -E_RIGHTS);
    k_handle_close(nt);
    k_handle_close(ch);
    CHECK_EQ(k_process_wait(0, 0), -E_INVAL);
    CHECK_EQ(k_process_kill(777, 0), -E_BADHANDLE);
    /* 32 arguments of 255 bytes: more than the start-up page holds */
    static char longarg[256];
    memset(longarg, 'a', 255);
    const char *many[32];
    for (int i = 0; i < 32; i++)
        many[i] = longarg;
    struct k_spawn sp6 = { .image = img, .argc = 32, .argv = many };
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp6), -E_TOOBIG);
    longarg[255] = 'b';                                   /* no NUL within the limit */
    const char *one[] = { longarg };
    struct k_spawn sp7 = { .image = img, .argc = 1, .argv = one };
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp7), -E_TOOBIG);
    return true;
}

/* k_spawn.exception: the child's exceptions come to the caller's
 * connection from its first instruction (a child that faults at once
 * cannot escape its handler); a bad connection fails the spawn. */
static bool test_spawn_exception(void)
{
    const uint32_t img = (uint32_t)rt_handle("bootfs");
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 5, 0);
    const char *argv[] = { "bin/ktest", "child", "fault" };
    struct k_spawn sp = { .image = img, .argc = 3, .argv = argv, .exception = (uint32_t)conn };
    long p = k_process_spawn((long)"bin/ktest", 9, (long)&sp);
    CHECK(p >= 0);
    struct k_exception e;
    struct k_msg_info info;
    long rcvid = k_msg_receive(ch, (long)&e, -(long)sizeof(e), (long)&info);
    CHECK(rcvid > 0 && info.badge == 5 && e.vector == 14);
    /* A handle to the faulting process comes with it, READ only: its code
     * at the fault is ours (the same program), and it cannot be killed. */
    CHECK(info.handle > 0);
    uint8_t code[8];
    CHECK_EQ(k_process_read(info.handle, (long)e.rip, (long)code, sizeof(code)), 8);
    CHECK(memcmp(code, (const void *)e.rip, sizeof(code)) == 0);
    CHECK_EQ(k_process_kill(info.handle, 1), -E_RIGHTS);
    CHECK_EQ(k_handle_close(info.handle), 0);
    k_msg_reply(rcvid, 99, 0, 0);                          /* kill it with 99 */
    CHECK_EQ(wait_status(p), 99);
    /* K_SPAWN_EXCEPTION_INHERIT: a grandchild's fault comes here too,
     * through the child's handler (ours); the handle names the grandchild. */
    struct k_spawn_handle bh = { img, K_RIGHTS_SAME, "bootfs" };
    const char *iargv[] = { "bin/ktest", "child", "spawn-inherit" };
    struct k_spawn isp = { .image = img, .argc = 3, .argv = iargv, .nhandles = 1,
                           .handles = &bh, .exception = (uint32_t)conn };
    p = k_process_spawn((long)"bin/ktest", 9, (long)&isp);
    CHECK(p >= 0);
    rcvid = k_msg_receive(ch, (long)&e, -(long)sizeof(e), (long)&info);
    CHECK(rcvid > 0 && info.badge == 5 && e.vector == 14 && info.handle > 0);
    CHECK(e.pid == info.pid && e.pid != (uint64_t)0);
    CHECK_EQ(k_process_read(info.handle, (long)e.rip, (long)code, sizeof(code)), 8);
    k_handle_close(info.handle);
    k_msg_reply(rcvid, 97, 0, 0);
    CHECK_EQ(wait_status(p), 0);                /* its child died with our 97, not it */
    /* Inherited from a process with no handler: none, the fault kills. */
    iargv[2] = "spawn-inherit-none";
    isp.exception = 0;
    p = k_process_spawn((long)"bin/ktest", 9, (long)&isp);
    CHECK(p >= 0);
    CHECK_EQ(wait_status(p), 0);
    /* Every general register at the fault comes with the exception. */
    argv[2] = "fault-regs";
    p = k_process_spawn((long)"bin/ktest", 9, (long)&sp);
    CHECK(p >= 0);
    rcvid = k_msg_receive(ch, (long)&e, -(long)sizeof(e), (long)&info);
    CHECK(rcvid > 0 && info.send_len == sizeof(e) && e.vector == 14 && e.addr == 0);
    CHECK(e.rax == 0x1111 && e.rbx == 0x2222 && e.rcx == 0x3333 && e.rdx == 0x4444);
    CHECK(e.rsi == 0x5555 && e.rdi == 0x6666 && e.r8 == 0x8888 && e.r9 == 0x9999);
    CHECK(e.r10 == 0xaaaa && e.r11 == 0xbbbb && e.r12 == 0xcccc && e.r13 == 0xdddd);
    CHECK(e.r14 == 0xeeee && e.r15 == 0xffff);
    k_handle_close(info.handle);
    k_msg_reply(rcvid, 98, 0, 0);
    CHECK_EQ(wait_status(p), 98);
    sp.exception = 4321;
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp), -E_BADHANDLE);
    sp.exception = (uint32_t)ch;                            /* a channel, not a connection */
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp), -E_WRONGTYPE);
    long weak = k_handle_dup(conn, K_RIGHT_DUP);            /* no SEND */
    sp.exception = (uint32_t)weak;
    CHECK_EQ(k_process_spawn((long)"bin/ktest", 9, (long)&sp), -E_RIGHTS);
    k_handle_close(weak);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_ipc_cross_process(void)
{
    long ch = k_chan_create(0);
    struct k_spawn_handle h = { (uint32_t)ch, K_RIGHT_RECEIVE | K_RIGHT_DUP, "chan" };
    long p = spawn("serve-once", &h, 1, 0);
    CHECK(p >= 0);
    long conn = k_chan_connect(ch, 0, 0);
    char reply[32] = { 0 };
    CHECK_EQ(send_str(conn, "across spaces", reply, sizeof(reply)), 13);
    CHECK(memcmp(reply, "ACROSS SPACES", 13) == 0);
    CHECK_EQ(wait_status(p), 0);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_fault_kills_process(void)
{
    long p = spawn("fault", 0, 0, 0);
    CHECK(p >= 0);
    CHECK_EQ(wait_status(p), 0x100 | 14);
    p = spawn("ud2", 0, 0, 0);
    CHECK_EQ(wait_status(p), 0x100 | 6);
    return true;
}

/* Killed before its first instruction: the thread never runs user code. */
static bool test_kill_before_run(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    struct k_spawn_handle h = { (uint32_t)conn, K_RIGHT_SEND, "conn" };
    long p = spawn("pulse-first", &h, 1, 0);     /* queued behind us on our CPU */
    CHECK(p >= 0);
    CHECK_EQ(k_process_kill(p, 7), 0);
    CHECK_EQ(wait_status(p), 7);
    CHECK_EQ(k_pulse_send(conn, 99, 0, 0), 0);
    struct k_msg_info info;
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK_EQ(info.code, 99);                      /* the child's pulse never came */
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_kill_blocked_in_receive(void)
{
    long p = spawn("block-receive", 0, 0, 0);
    CHECK(p >= 0);
    k_thread_sleep(20 * 1000000);
    CHECK_EQ(k_process_kill(p, 99), 0);
    CHECK_EQ(wait_status(p), 99);
    return true;
}

static bool test_kill_blocked_in_send(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    struct k_spawn_handle h = { (uint32_t)conn, K_RIGHT_SEND, "conn" };
    long p = spawn("block-send", &h, 1, 0);
    CHECK(p >= 0);
    k_thread_sleep(20 * 1000000);
    CHECK_EQ(k_process_kill(p, 98), 0);
    CHECK_EQ(wait_status(p), 98);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_kill_blocked_in_reply(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    struct k_spawn_handle h = { (uint32_t)conn, K_RIGHT_SEND, "conn" };
    long p = spawn("block-send", &h, 1, 0);
    struct k_msg_info info;
    long rcvid = rt_msg_receive(ch, 0, 0, &info);   /* now it waits for our reply */
    CHECK(rcvid > 0);
    CHECK_EQ(k_process_kill(p, 97), 0);
    CHECK_EQ(wait_status(p), 97);
    CHECK_EQ(rt_msg_reply(rcvid, 0, 0, 0), -E_INVAL);   /* the client is gone */
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_server_death(void)
{
    long ch = k_chan_create(0);
    struct k_spawn_handle h = { (uint32_t)ch, K_RIGHT_RECEIVE, "chan" };
    long conn = k_chan_connect(ch, 0, 0);
    long p = spawn("hold-and-exit", &h, 1, 0);
    CHECK(p >= 0);
    k_handle_close(ch);             /* only the child holds the channel now */
    CHECK_EQ(wait_status(p), 0);
    char r[4];
    CHECK_EQ(send_str(conn, "anyone?", r, sizeof(r)), -E_DEAD);
    CHECK_EQ(k_pulse_send(conn, 1, 1, 0), -E_DEAD);
    k_handle_close(conn);
    return true;
}

static bool test_revoke(void)
{
    long ch = k_chan_create(0);
    long old = k_chan_connect(ch, 0, 0);
    CHECK_EQ(k_pulse_send(old, 1, 1, 0), 0);
    CHECK_EQ(k_chan_revoke(ch), 0);
    CHECK_EQ(k_pulse_send(old, 1, 1, 0), -E_REVOKED);
    char r[4];
    CHECK_EQ(send_str(old, "x", r, sizeof(r)), -E_REVOKED);
    long fresh = k_chan_connect(ch, 0, 0);
    CHECK_EQ(k_pulse_send(fresh, 2, 2, 0), 0);
    long conn2 = k_handle_dup(old, K_RIGHT_SEND);
    CHECK_EQ(k_pulse_send(conn2, 1, 1, 0), -E_REVOKED);   /* copies are revoked too */
    CHECK_EQ(k_chan_revoke(old), -E_WRONGTYPE);
    /* A service's channel from init (RECEIVE, no MANAGE) cannot be
     * revoked by the service: its clients outlive its lives. */
    long served = k_handle_dup(ch, K_RIGHT_RECEIVE | K_RIGHT_DUP);
    CHECK_EQ(k_chan_revoke(served), -E_RIGHTS);
    CHECK_EQ(k_pulse_send(fresh, 3, 3, 0), 0);
    k_handle_close(served);
    k_handle_close(conn2);
    k_handle_close(fresh);
    k_handle_close(old);
    k_handle_close(ch);
    return true;
}

static long exit_with(void *arg)
{
    return (long)arg;
}

static bool test_threads(void)
{
    struct rt_thread th;
    long t = rt_thread_spawn(&th, exit_with, (void *)7, stack_a, sizeof(stack_a), 0);
    CHECK(t >= 0);
    long status = 0;
    CHECK_EQ(rt_thread_join(t, &status), 0);
    CHECK_EQ(status, 7);
    CHECK_EQ(rt_thread_join(t, &status), 0);         /* a dead thread still answers */
    CHECK_EQ(rt_thread_join(t, (long *)KERNEL_PTR), -E_FAULT);
    CHECK_EQ(k_thread_join(0, 0), -E_INVAL);         /* oneself */
    k_handle_close(t);
    struct k_thread_attr bad = { 0, 7, 0 };
    CHECK_EQ(k_thread_create((long)exit_with, (long)(stack_a + 4096), 0, (long) &bad), -E_INVAL);
    struct k_thread_attr bad2 = { 300, K_SCHED_RR, 0 };
    CHECK_EQ(k_thread_create((long)exit_with, (long)(stack_a + 4096), 0, (long) &bad2), -E_INVAL);
    struct k_thread_attr nocpu = { 10, K_SCHED_RR, 1UL << 63 };
    CHECK_EQ(k_thread_create((long)exit_with, (long)(stack_a + 4096), 0, (long) &nocpu), -E_INVAL);
    CHECK_EQ(k_thread_create((long)exit_with, (long)(stack_a + 4096), 0, (long)
                              (struct k_thread_attr *)KERNEL_PTR), -E_FAULT);
    CHECK_EQ(k_thread_create((long)KERNEL_PTR, (long)stack_a, 0, 0), -E_FAULT);
    CHECK_EQ(k_thread_sched(0, 0, K_SCHED_RR), -E_INVAL);
    CHECK_EQ(k_thread_sched(0, 10, 9), -E_INVAL);
    CHECK_EQ(k_thread_affinity(0, 0), -E_INVAL);
    CHECK_EQ(k_thread_sleep(-1), -E_INVAL);
    long t0 = k_clock_get();
    CHECK_EQ(k_thread_sleep(15 * 1000000), 0);
    CHECK(k_clock_get() - t0 >= 15 * 1000000);
    return true;
}

/* Moving threads between CPUs: ourselves, and a busy thread. */
static volatile long spinner_stop;

static long spinner(void *arg)
{
    (void)arg;
    while (!spinner_stop)
        ;
    return 5;
}

static bool test_affinity_moves(void)
{
    struct k_sysinfo si = sysinfo();
    for (unsigned c = 0; c < si.ncpus; c++) {
        CHECK_EQ(k_thread_affinity(0, 1L << c), 0);
        CHECK_EQ((long)sysinfo().cpu, (long)c);
    }
    spinner_stop = 0;
    struct rt_thread th;
    struct k_thread_attr a = { 100, K_SCHED_RR, 1 };
    long t = rt_thread_spawn(&th, spinner, 0, stack_b, sizeof(stack_b), &a);
    CHECK(t >= 0);
    for (unsigned c = 0; c < si.ncpus * 2; c++) {
        CHECK_EQ(k_thread_affinity(t, 1L << (c % si.ncpus)), 0);
        k_thread_sleep(2 * 1000000);
    }
    spinner_stop = 1;
    long status = 0;
    CHECK_EQ(rt_thread_join(t, &status), 0);
    CHECK_EQ(status, 5);
    CHECK_EQ(k_thread_affinity(0, ~0L), 0);
    k_handle_close(t);
    return true;
}

static bool test_vmo_map(void)
{
    long v = k_vmo_create(3 * 4096, K_VMO_ANON, 0, 0);
    CHECK(v >= 0);
    long a = k_vmo_map(0, v, 0, 3 * 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK(a > 0 && (a & 4095) == 0);
    volatile char *p = (volatile char *)a;
    CHECK(p[0] == 0 && p[3 * 4096 - 1] == 0);
    p[5000] = 42;
    long b = k_vmo_map(0, v, 4096, 4096, K_PROT_READ);    /* a second view */
    CHECK(b > 0 && ((volatile char *)b)[5000 - 4096] == 42);
    CHECK_EQ(k_vmo_map(0, v, 0, 4096, K_PROT_WRITE | K_PROT_EXEC), -E_PERM);
    CHECK_EQ(k_vmo_map(0, v, 0, 5 * 4096, K_PROT_READ), -E_TOOBIG);
    CHECK_EQ(k_vmo_map(0, v, 100, 4096, K_PROT_READ), -E_INVAL);
    CHECK_EQ(k_vmo_map(0, v, 0, 4096, K_PROT_READ | 0xffffffff80000000UL), -E_INVAL);
    CHECK_EQ(k_vmo_map(0, v, 0, 4096, K_PROT_READ | (unsigned long)a), -E_BUSY);
    CHECK_EQ(k_vmo_map(0, v, 0, 0, K_PROT_READ), -E_INVAL);
    CHECK_EQ(k_vmo_map(0, v, -4096, 4096, K_PROT_READ), -E_INVAL);
    CHECK_EQ(k_vm_protect(0, b, 4096, K_PROT_READ | K_PROT_WRITE), 0);
    CHECK_EQ(k_vm_protect(0, b, 4096, K_PROT_WRITE | K_PROT_EXEC), -E_PERM);
    CHECK_EQ(k_vm_unmap(0, b, 4096), 0);
    CHECK_EQ(k_vm_unmap(0, b, 4096), -E_INVAL);
    CHECK_EQ(k_vm_unmap(0, a, 3 * 4096), 0);
    long dma = k_vmo_create(8 * 4096, K_VMO_CONTIG, 0, 0);    /* physically contiguous */
    CHECK(dma >= 0);
    long da = k_vmo_map(0, dma, 0, 8 * 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK(da > 0 && ((volatile char *)da)[8 * 4096 - 1] == 0);
    CHECK_EQ(k_vm_unmap(0, da, 8 * 4096), 0);
    k_handle_close(dma);
    CHECK_EQ(k_vmo_create(0, K_VMO_ANON, 0, 0), -E_INVAL);
    CHECK_EQ(k_vmo_create(1L << 40, K_VMO_ANON, 0, 0), -E_TOOBIG);
    CHECK_EQ(k_vmo_create(4096, 17, 0, 0), -E_INVAL);
    /* physical memory objects: only with an MMIO resource, never over RAM */
    CHECK_EQ(k_vmo_create(4096, K_VMO_PHYS, 0xfee00000, 0), -E_BADHANDLE);
    long mmio = rt_handle("mmio");
    CHECK(mmio >= 0);
    CHECK_EQ(k_vmo_create(4096, K_VMO_PHYS, 0x100000, mmio), -E_PERM);      /* RAM */
    CHECK_EQ(k_vmo_create(4096, K_VMO_PHYS, 0xfee00001, mmio), -E_INVAL);   /* unaligned */
    CHECK_EQ(k_vmo_create(4096, K_VMO_PHYS, 0xfee00000, rt_handle("irq")), -E_PERM);
    /* The kernel's own devices are not handed out, whatever the resource:
     * the local APIC, the IOAPIC (and an IOMMU, where there is one). */
    CHECK_EQ(k_vmo_create(4096, K_VMO_PHYS, 0xfee00000, mmio), -E_PERM);
    CHECK_EQ(k_vmo_create(3 * 4096, K_VMO_PHYS, 0xfebff000, mmio), -E_PERM);
    CHECK_EQ(k_vmo_create(4096, K_VMO_PHYS, 0xfec00000, mmio), -E_PERM);
    /* Other MMIO is: PCI express configuration space, whose first word
     * on q35 is the host bridge's vendor and device (8086:29c0). */
    struct k_platform pf;
    CHECK_EQ(k_sys_info(K_INFO_PLATFORM, (long)&pf, 0), 0);
    CHECK(pf.ecam_base != 0 && pf.bus_end >= pf.bus_start);
    long ecam = k_vmo_create(4096, K_VMO_PHYS, (long)pf.ecam_base, mmio);
    CHECK(ecam >= 0);
    long ea = k_vmo_map(0, ecam, 0, 4096, K_PROT_READ);
    CHECK(ea > 0);
    CHECK_EQ(((volatile uint32_t *)ea)[0], 0x29c08086u);
    CHECK_EQ(k_vm_unmap(0, ea, 4096), 0);
    k_handle_close(ecam);
    CHECK_EQ(k_sys_info(K_INFO_PLATFORM, 8, 0), -E_FAULT);
    CHECK_EQ(k_sys_info(K_INFO_PLATFORM, (long)K_USER_TOP, 0), -E_FAULT);
    CHECK_EQ(k_sys_info(99, (long)&pf, 0), -E_INVAL);
    long nomap = k_handle_dup(v, K_RIGHT_READ);
    CHECK_EQ(k_vmo_map(0, nomap, 0, 4096, K_PROT_READ), -E_RIGHTS);   /* READ without MAP */
    k_handle_close(nomap);
    k_handle_close(v);
    return true;
}

/* dma_map: a PCI function's device gets memory its driver holds (without
 * an IOMMU: contiguous memory only, at its physical address); the mapping
 * keeps the object alive after the driver's handle is gone, until
 * dma_unmap or dma_reset; hostile arguments change nothing. */
static bool test_dma(void)
{
    long all = rt_handle("pci");
    CHECK(all >= 0);
    long fn = k_resource_narrow(all, K_PCI_FN(0, 2, 0), 1);
    CHECK(fn > 0);
    long v = k_vmo_create(4 * 4096, K_VMO_CONTIG, 0, 0);
    CHECK(v > 0);
    /* Who may: one function's resource with MANAGE, a memory object with
     * READ, WRITE and MAP. */
    CHECK_EQ(k_dma_map(all, v, 0, 4096), -E_INVAL);               /* all functions */
    long two = k_resource_narrow(all, K_PCI_FN(0, 2, 0), 2);
    CHECK_EQ(k_dma_map(two, v, 0, 4096), -E_INVAL);
    k_handle_close(two);
    CHECK_EQ(k_dma_map(rt_handle("mmio"), v, 0, 4096), -E_PERM);  /* another kind */
    CHECK_EQ(k_dma_map(9999, v, 0, 4096), -E_BADHANDLE);
    CHECK_EQ(k_dma_map(v, v, 0, 4096), -E_WRONGTYPE);
    long weakfn = k_handle_dup(fn, K_RIGHT_DUP);
    CHECK_EQ(k_dma_map(weakfn, v, 0, 4096), -E_RIGHTS);
    k_handle_close(weakfn);
    long ro = k_handle_dup(v, K_RIGHT_READ | K_RIGHT_MAP);
    CHECK_EQ(k_dma_map(fn, ro, 0, 4096), -E_RIGHTS);
    k_handle_close(ro);
    CHECK_EQ(k_dma_map(fn, fn, 0, 4096), -E_WRONGTYPE);
    long anon = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    CHECK_EQ(k_dma_map(fn, anon, 0, 4096), -E_PERM);              /* not contiguous */
    k_handle_close(anon);
    /* Ranges. */
    CHECK_EQ(k_dma_map(fn, v, 0, 0), -E_INVAL);
    CHECK_EQ(k_dma_map(fn, v, 100, 4096), -E_INVAL);
    CHECK_EQ(k_dma_map(fn, v, 0, 100), -E_INVAL);
    CHECK_EQ(k_dma_map(fn, v, -4096, 4096), -E_INVAL);
    CHECK_EQ(k_dma_map(fn, v, 0, 5 * 4096), -E_TOOBIG);
    CHECK_EQ(k_dma_map(fn, v, 4 * 4096, 4096), -E_TOOBIG);
    CHECK_EQ(k_dma_map(fn, v, 2 * 4096, 0x7ffffffffffff000L), -E_TOOBIG);
    CHECK_EQ(k_dma_map(fn, v, 0x7ffffffffffff000L, 4096), -E_TOOBIG);
    /* Mapped: one address space for the device, page by page. */
    long a0 = k_dma_map(fn, v, 0, 4 * 4096), a2 = k_dma_map(fn, v, 2 * 4096, 4096);
    CHECK(a0 > 0 && (a0 & 4095) == 0 && a2 == a0 + 2 * 4096);
    uint64_t objects = sysinfo().kmalloc_objects;
    k_handle_close(v);                         /* the device still has it */
    CHECK_EQ(sysinfo().kmalloc_objects, objects);
    CHECK_EQ(k_dma_unmap(fn, a2, 4096), 0);
    CHECK_EQ(k_dma_unmap(fn, a2, 4096), -E_NOENT);
    CHECK_EQ(k_dma_unmap(fn, a0, 4096), -E_NOENT);                /* not that size */
    long other = k_resource_narrow(all, K_PCI_FN(0, 3, 0), 1);
    CHECK_EQ(k_dma_unmap(other, a0, 4 * 4096), -E_NOENT);         /* not its mapping */
    CHECK_EQ(k_dma_reset(other), 0);
    CHECK_EQ(k_dma_reset(fn), 1);              /* the last one: the object goes */
    CHECK(sysinfo().kmalloc_objects < objects);
    CHECK_EQ(k_dma_reset(fn), 0);
    CHECK_EQ(k_dma_reset(all), -E_INVAL);
    /* A function holds at most 1024 mappings. */
    v = k_vmo_create(4096, K_VMO_CONTIG, 0, 0);
    long r = 0;
    int made = 0;
    while ((r = k_dma_map(fn, v, 0, 4096)) > 0 && made < 2000)
        made++;
    CHECK(made == 1024 && r == -E_FULL);
    CHECK(k_dma_map(other, v, 0, 4096) > 0);  /* another function is not held back */
    CHECK_EQ(k_dma_reset(fn), 1024);
    CHECK_EQ(k_dma_reset(other), 1);
    k_handle_close(v);
    k_handle_close(other);
    k_handle_close(fn);
    return true;
}

/* Untouched anonymous pages (decision 0017): an object reserves its frames
 * when made (so one larger than free memory is refused), reads as zeros,
 * and each page gets its frame at its first touch, by the user (read or
 * write, through any view) or by the kernel; clones keep untouched pages
 * apart. */
static bool test_vmo_untouched(void)
{
    uint64_t free0 = sysinfo().free_bytes, res0 = sysinfo().reserved_bytes;
    CHECK_EQ(k_vmo_create((long)(free0 + 64 * 4096), K_VMO_ANON, 0, 0), -E_NOMEM);
    long v = k_vmo_create(64 * 4096, K_VMO_ANON, 0, 0);
    CHECK(v >= 0);
    uint64_t free1 = sysinfo().free_bytes, res1 = sysinfo().reserved_bytes;
    CHECK(free1 <= free0 - 64 * 4096);           /* reserved, though nothing is touched */
    CHECK(res1 >= res0 + 60 * 4096);             /* (our own stack may touch a page or two) */
    long ro = k_vmo_map(0, v, 0, 64 * 4096, K_PROT_READ);
    CHECK(ro > 0);
    volatile uint64_t *r = (volatile uint64_t *)ro;
    CHECK(r[0] == 0 && r[5 * 512 + 7] == 0);    /* a read touches a page: zeros */
    volatile uint64_t *w = (volatile uint64_t *)k_vmo_map(0, v, 0, 64 * 4096,
                                                          K_PROT_READ | K_PROT_WRITE);
    CHECK((long)w > 0);
    w[5 * 512 + 7] = 77;                         /* touched by the read: the same frame */
    w[9 * 512] = 99;                             /* first touch by a write, seen in both views */
    CHECK(r[5 * 512 + 7] == 77 && r[9 * 512] == 99);
    /* the kernel's first touch (sys_info's copy_to_user into page 10) */
    CHECK_EQ(k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&w[10 * 512], 0), 0);
    CHECK(r[10 * 512] != 0);
    uint64_t res2 = sysinfo().reserved_bytes;    /* three pages touched: three promises kept */
    CHECK(res2 + 3 * 4096 <= res1 && res2 >= res0 + 56 * 4096);
    /* a clone: touched pages shared copy-on-write, untouched ones apart */
    long c = k_vmo_clone(v);
    CHECK(c > 0);
    volatile uint64_t *b = (volatile uint64_t *)k_vmo_map(0, c, 0, 64 * 4096,
                                                          K_PROT_READ | K_PROT_WRITE);
    CHECK((long)b > 0 && b[9 * 512] == 99 && b[30 * 512] == 0);
    w[30 * 512] = 1;                             /* the original's first touch */
    b[40 * 512] = 2;                             /* the clone's */
    CHECK(b[30 * 512] == 0 && w[40 * 512] == 0 && r[30 * 512] == 1 && b[40 * 512] == 2);
    CHECK_EQ(k_vm_unmap(0, (long)b, 64 * 4096), 0);
    CHECK_EQ(k_vm_unmap(0, (long)w, 64 * 4096), 0);
    CHECK_EQ(k_vm_unmap(0, ro, 64 * 4096), 0);
    k_handle_close(c);
    k_handle_close(v);
    uint64_t free2 = sysinfo().free_bytes;
    CHECK(free2 + 16 * 4096 >= free0);           /* frames and reservations given back */
    return true;
}

/* Copy-on-write clones: both sides see the old contents; a write by
 * either, the user's or the kernel's, is private to it. */
static bool test_vmo_clone(void)
{
    long v = k_vmo_create(3 * 4096, K_VMO_ANON, 0, 0);
    volatile uint64_t *a = (volatile uint64_t *)k_vmo_map(0, v, 0, 3 * 4096, K_PROT_READ | K_PROT_WRITE);
    a[0] = 1, a[512] = 2, a[1024] = 3;
    long c = k_vmo_clone(v);
    CHECK(c > 0);
    volatile uint64_t *b = (volatile uint64_t *)k_vmo_map(0, c, 0, 3 * 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK(b[0] == 1 && b[512] == 2 && b[1024] == 3);
    b[0] = 10;                                   /* the clone's write */
    CHECK(a[0] == 1 && b[0] == 10);
    a[512] = 20;                                 /* the original's write */
    CHECK(b[512] == 2 && a[512] == 20);
    /* the kernel writes into a shared page (sys_info's copy_to_user) */
    CHECK_EQ(k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&a[1024], 0), 0);
    CHECK(b[1024] == 3 && a[1024] != 3);
    /* a clone of a clone, and a second view of the original */
    long cc = k_vmo_clone(c);
    volatile uint64_t *d = (volatile uint64_t *)k_vmo_map(0, cc, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK(d[0] == 10);
    d[0] = 30;
    CHECK(b[0] == 10 && a[0] == 1 && d[0] == 30);
    CHECK_EQ(k_vmo_clone(4242), -E_BADHANDLE);
    long ch = k_chan_create(0);
    CHECK_EQ(k_vmo_clone(ch), -E_WRONGTYPE);
    long blind = k_handle_dup(v, K_RIGHT_MAP);
    CHECK_EQ(k_vmo_clone(blind), -E_RIGHTS);
    CHECK_EQ(k_vm_unmap(0, (long)d, 4096), 0);
    CHECK_EQ(k_vm_unmap(0, (long)b, 3 * 4096), 0);
    CHECK_EQ(k_vm_unmap(0, (long)a, 3 * 4096), 0);
    k_handle_close(blind);
    k_handle_close(ch);
    k_handle_close(cc);
    k_handle_close(c);
    k_handle_close(v);
    return true;
}

/* The server framework: a pool of threads, per-client state through
 * badges, msg_read/msg_write helpers, errors. */
struct fw_counter { long n; };

static long fw_message(struct srv_msg *m)
{
    char op = ((char *)m->data)[0];
    struct fw_counter *c = m->client;
    if (op == 'i')
        return c ? ++c->n : -E_PERM;
    if (op == 's') {
        long sum = 0;
        uint8_t chunk[100];
        for (size_t off = 1; off < m->info.send_len;) {
            long n = srv_read(m, off, chunk, sizeof(chunk));
            if (n <= 0)
                return -E_FAULT;
            for (long i = 0; i < n; i++)
                sum += chunk[i];
            off += (size_t)n;
        }
        return sum;
    }
    if (op == 'w') {
        srv_write(m, 4, "ABCD", 4);
        srv_reply(m, 9, "wxyz", 4);
        return SRV_REPLIED;
    }
    return -E_NOSYS;
}

static const struct srv_ops fw_ops = { .message = fw_message };
static struct srv fw;
static char fw_stacks[2][16384] __attribute__((aligned(16)));
static char fw_client_stacks[3][16384] __attribute__((aligned(16)));

static long fw_server_main(void *arg)
{
    (void)arg;
    return srv_run(&fw, 3, fw_stacks, sizeof(fw_stacks[0]));
}

struct fw_client { long conn; long bad; };

static long fw_client_main(void *arg)
{
    struct fw_client *c = arg;
    for (long i = 1; i <= 200; i++)
        if (k_msg_send(c->conn, (long)"i", -1, 0, 0) != i)
            c->bad++;
    return 0;
}

static bool test_server_framework(void)
{
    srv_init(&fw, k_chan_create(0), &fw_ops, 0);
    static struct fw_counter counters[3];
    struct fw_client clients[3];
    for (int i = 0; i < 3; i++) {
        counters[i].n = 0;
        clients[i].conn = srv_client_new(&fw, &counters[i]);
        clients[i].bad = 0;
        CHECK(clients[i].conn > 0);
    }
    struct rt_thread st, ct[3];
    long server = rt_thread_spawn(&st, fw_server_main, 0, stack_a, sizeof(stack_a), 0);
    long ch[3];
    for (int i = 0; i < 3; i++)
        ch[i] = rt_thread_spawn(&ct[i], fw_client_main, &clients[i], fw_client_stacks[i],
                                sizeof(fw_client_stacks[i]), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(rt_thread_join(ch[i], 0), 0);
        k_handle_close(ch[i]);
        CHECK_EQ(clients[i].bad, 0);
        CHECK_EQ(counters[i].n, 200);
    }
    static uint8_t big[5000];
    big[0] = 's';
    for (int i = 1; i < 5000; i++)
        big[i] = 1;
    CHECK_EQ(k_msg_send(clients[0].conn, (long)big, -5000, 0, 0), 4999);
    char reply[8] = { 0 };
    CHECK_EQ(k_msg_send(clients[0].conn, (long)"w", -1, (long)reply, -8), 9);
    CHECK(memcmp(reply, "wxyzABCD", 8) == 0);
    CHECK_EQ(k_msg_send(clients[0].conn, (long)"z", -1, 0, 0), -E_NOSYS);
    long anon = k_chan_connect(fw.chan, 0, 0);
    CHECK_EQ(k_msg_send(anon, (long)"i", -1, 0, 0), -E_PERM);
    srv_stop(&fw, 3);
    long status = -1;
    CHECK_EQ(rt_thread_join(server, &status), 0);
    CHECK_EQ(status, 0);
    k_handle_close(server);
    k_handle_close(anon);
    for (int i = 0; i < 3; i++)
        k_handle_close(clients[i].conn);
    k_handle_close(fw.chan);
    return true;
}

/* ---- SMP stress: many threads send concurrently; every message is
 * answered exactly once, with its own sequence number. ---- */

#define STRESS_CLIENTS 4
#define STRESS_SERVERS 2

struct stress {
    long conn, chan;
    volatile long sent[STRESS_CLIENTS], bad[STRESS_CLIENTS];
    volatile long deadline;
};
static struct stress st;
static char stress_stacks[STRESS_CLIENTS + STRESS_SERVERS][16384] __attribute__((aligned(16)));

static long stress_server(void *arg)
{
    (void)arg;
    struct k_msg_info info;
    uint64_t msg[2];
    struct k_iov iov = { msg, sizeof(msg) };
    for (;;) {
        long rcvid = rt_msg_receive(st.chan, &iov, 1, &info);
        if (rcvid < 0)
            return 0;
        if (rcvid == 0)
            return 0;                       /* the stop pulse */
        msg[1] = msg[0] * 3 + 1;
        rt_msg_reply(rcvid, (long)msg[0], &iov, 1);
    }
}

static long stress_client(void *arg)
{
    long id = (long)arg;
    uint64_t seq = (uint64_t)id << 40;
    while (k_clock_get() < st.deadline) {
        uint64_t msg[2] = { seq, 0 }, rep[2] = { 0, 0 };
        struct k_iov s = { msg, sizeof(msg) }, r = { rep, sizeof(rep) };
        long status = rt_msg_send(st.conn, &s, 1, &r, 1);
        if (status != (long)seq || rep[0] != seq || rep[1] != seq * 3 + 1) {
            if (st.bad[id]++ < 2)
                printf("  stress client %ld: sent %lx got status %lx reply %lx %lx\n", id,
                       (unsigned long)seq, (unsigned long)status, (unsigned long)rep[0],
                       (unsigned long)rep[1]);
        }
        st.sent[id]++;
        seq++;
    }
    return 0;
}

static bool test_smp_stress(void)
{
    struct k_sysinfo si = sysinfo();
    st.chan = k_chan_create(0);
    st.conn = k_chan_connect(st.chan, 0, 0);
    st.deadline = k_clock_get() + 2000L * 1000000;
    struct rt_thread th[STRESS_CLIENTS + STRESS_SERVERS];
    long h[STRESS_CLIENTS + STRESS_SERVERS];
    for (int i = 0; i < STRESS_SERVERS; i++)
        h[i] = rt_thread_spawn(&th[i], stress_server, 0, stress_stacks[i], 16384, 0);
    for (int i = 0; i < STRESS_CLIENTS; i++) {
        struct k_thread_attr a = { 100, K_SCHED_RR, 1UL << (i % si.ncpus) };
        st.sent[i] = st.bad[i] = 0;
        h[STRESS_SERVERS + i] = rt_thread_spawn(&th[STRESS_SERVERS + i], stress_client,
                                                (void *)(long)i, stress_stacks[STRESS_SERVERS + i],
                                                16384, &a);
    }
    long total = 0, bad = 0;
    for (int i = 0; i < STRESS_CLIENTS; i++) {
        CHECK_EQ(rt_thread_join(h[STRESS_SERVERS + i], 0), 0);
        total += st.sent[i];
        bad += st.bad[i];
    }
    for (int i = 0; i < STRESS_SERVERS; i++)
        k_pulse_send(st.conn, 1, 0, 0);
    for (int i = 0; i < STRESS_SERVERS; i++)
        CHECK_EQ(rt_thread_join(h[i], 0), 0);
    for (int i = 0; i < STRESS_CLIENTS + STRESS_SERVERS; i++)
        k_handle_close(h[i]);
    k_handle_close(st.conn);
    k_handle_close(st.chan);
    printf("  smp_stress: %ld round trips on %ld CPUs, %ld wrong\n", total, (long)si.ncpus, bad);
    CHECK_EQ(bad, 0);
    CHECK(total > 100);
    return true;
}

/* ---- death notices, exceptions, timers, interrupts ---- */

static bool test_more_hostile(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    struct k_msg_info info;
    char buf[8];
    CHECK_EQ(k_msg_reply_receive(12345, 0, (long)buf, -8, ch, (long)&info), -E_INVAL);
    CHECK_EQ(k_msg_reply_receive(12345, 0, (long)buf, -8, conn, (long)&info), -E_WRONGTYPE);
    CHECK_EQ(k_msg_reply_receive(12345, 0, (long)KERNEL_PTR, -8, ch, (long)&info), -E_FAULT);
    CHECK_EQ(k_msg_reply_receive(12345, 0, (long)buf, -8, ch, (long)KERNEL_PTR), -E_FAULT);
    CHECK_EQ(k_msg_reply_receive(12345, 0, (long)buf, 99, ch, (long)&info), -E_TOOBIG);
    CHECK_EQ(k_thread_sched(4242, 10, K_SCHED_RR), -E_BADHANDLE);
    CHECK_EQ(k_thread_sched(ch, 10, K_SCHED_RR), -E_WRONGTYPE);
    CHECK_EQ(k_thread_affinity(4242, 1), -E_BADHANDLE);
    CHECK_EQ(k_vm_unmap(4242, K_NATIVE_BASE, 4096), -E_BADHANDLE);
    CHECK_EQ(k_vm_protect(ch, K_NATIVE_BASE, 4096, K_PROT_READ), -E_WRONGTYPE);
    CHECK_EQ(k_vm_protect(0, K_NATIVE_BASE, 4096, 0x80), -E_INVAL);
    /* another process's memory, with and without the MAP right */
    long p = spawn("block-receive", 0, 0, 0);
    long v = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    long a = k_vmo_map(p, v, 0, 4096, K_PROT_READ);
    CHECK(a > 0);
    CHECK_EQ(k_vm_unmap(p, a, 4096), 0);
    long nomap = k_handle_dup(p, K_RIGHT_MANAGE | K_RIGHT_WAIT);
    CHECK_EQ(k_vmo_map(nomap, v, 0, 4096, K_PROT_READ), -E_RIGHTS);
    k_process_kill(p, 1);
    CHECK_EQ(wait_status(p), 1);
    k_handle_close(nomap);
    k_handle_close(v);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

/* Handles travel with messages: copied or moved, both ways. */
static bool test_handles_in_messages(void)
{
    CHECK_EQ(k_handle_received(), -E_NOENT);
    CHECK_EQ(k_handle_attach(4242, 0, 0), -E_BADHANDLE);
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    long v = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    long a = k_vmo_map(0, v, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    *(volatile uint64_t *)a = 0x5eed;
    CHECK_EQ(k_handle_attach(v, K_RIGHTS_ALL, 0), -E_RIGHTS);   /* more than we have */
    CHECK_EQ(k_handle_attach(v, K_RIGHT_READ, 2), -E_INVAL);
    long notx = k_handle_dup(v, K_RIGHT_READ | K_RIGHT_MAP);
    CHECK_EQ(k_handle_attach(notx, K_RIGHT_READ, 0), -E_RIGHTS); /* no TRANSFER */
    k_handle_close(notx);
    struct k_spawn_handle h = { (uint32_t)ch, K_RIGHT_RECEIVE, "chan" };
    long p = spawn("handle-echo", &h, 1, 0);
    CHECK(p >= 0);
    long dup = k_handle_dup(v, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_TRANSFER | K_RIGHT_DUP);
    CHECK_EQ(k_handle_attach(dup, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1), 0);
    CHECK_EQ(k_handle_close(dup), -E_BADHANDLE);                /* moved */
    CHECK_EQ(k_msg_send(conn, (long)"vmo", -3, 0, 0), 0x5eed);   /* the child read it */
    long back = k_handle_received();
    CHECK(back > 0);
    long b = k_vmo_map(0, back, 0, 4096, K_PROT_READ);
    CHECK(b > 0 && *(volatile uint64_t *)b == 0x5eed);
    CHECK_EQ(k_vmo_map(0, back, 0, 4096, K_PROT_READ | K_PROT_WRITE), -E_RIGHTS);
    CHECK_EQ(k_handle_received(), -E_NOENT);                    /* taken once */
    CHECK_EQ(wait_status(p), 0);
    k_vm_unmap(0, b, 4096);
    k_vm_unmap(0, a, 4096);
    k_handle_close(back);
    k_handle_close(v);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

/* Reading another process's memory and its map (for core files). */
static bool test_process_read(void)
{
    long p = spawn("block-receive", 0, 0, 0);
    CHECK(p >= 0);
    struct k_region r[16];
    long n = k_process_regions(p, (long)r, 16);
    CHECK(n >= 3);                                /* text, data, stack at least */
    CHECK_EQ((long)r[0].start, K_NATIVE_BASE);
    CHECK(r[0].prot & K_PROT_EXEC);
    uint8_t head[4];
    CHECK_EQ(k_process_read(p, K_NATIVE_BASE, (long)head, 4), 4);
    /* the same bytes as our own copy of the program */
    CHECK(memcmp(head, (void *)K_NATIVE_BASE, 4) == 0);
    CHECK_EQ(k_process_read(p, 0x10, (long)head, 4), -E_FAULT);          /* unmapped */
    CHECK_EQ(k_process_read(p, K_NATIVE_BASE, (long)KERNEL_PTR, 4), -E_FAULT);
    CHECK_EQ(k_process_read(p, K_NATIVE_BASE, (long)head, 1 << 20), -E_TOOBIG);
    CHECK_EQ(k_process_regions(p, (long)KERNEL_PTR, 4), -E_FAULT);
    CHECK_EQ(k_process_regions(p, (long)r, -1), -E_TOOBIG);
    CHECK_EQ(k_process_regions(p, 0, 0), n);                             /* count only */
    long blind = k_handle_dup(p, K_RIGHT_MANAGE | K_RIGHT_WAIT);
    CHECK_EQ(k_process_read(blind, K_NATIVE_BASE, (long)head, 4), -E_RIGHTS);
    /* The requests another process holds (a supervisor's stall watch):
     * with READ only, of a process only. */
    struct k_serving sv = { .count = 99 };
    CHECK_EQ(k_sys_info(K_INFO_SERVING, (long)&sv, p), 0);
    CHECK_EQ(sv.count, 0);                                            /* it only receives */
    CHECK_EQ(k_sys_info(K_INFO_SERVING, (long)&sv, blind), -E_RIGHTS);
    CHECK_EQ(k_sys_info(K_INFO_SERVING, (long)&sv, 0x7ffff), -E_BADHANDLE);
    CHECK_EQ(k_sys_info(K_INFO_SERVING, (long)KERNEL_PTR, p), -E_FAULT);
    long notproc = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    CHECK_EQ(k_sys_info(K_INFO_SERVING, (long)&sv, notproc), -E_WRONGTYPE);
    k_handle_close(notproc);
    k_handle_close(blind);
    /* process_write, a debugger's: its code too (private memory), never
     * memory another process shares, nor with READ only, nor itself. */
    uint8_t nops[3] = { 0x90, 0x90, 0x90 }, back[3];
    long at = K_NATIVE_BASE + 0x100;
    CHECK_EQ(k_process_write(p, at, (long)nops, 3), 3);
    CHECK_EQ(k_process_read(p, at, (long)back, 3), 3);
    CHECK(memcmp(back, nops, 3) == 0 && memcmp((void *)at, nops, 3) != 0);   /* its copy only */
    long ro = k_handle_dup(p, K_RIGHT_READ);
    CHECK_EQ(k_process_write(ro, at, (long)nops, 3), -E_RIGHTS);
    k_handle_close(ro);
    CHECK_EQ(k_process_write(0, at, (long)nops, 3), -E_PERM);
    CHECK_EQ(k_process_write(p, 0x10, (long)nops, 3), -E_FAULT);
    CHECK_EQ(k_process_write(p, at, (long)KERNEL_PTR, 3), -E_FAULT);
    CHECK_EQ(k_process_write(p, at, (long)nops, 8192), -E_TOOBIG);
    long shared = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    long sa = k_vmo_map(p, shared, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK(sa > 0);
    CHECK_EQ(k_process_read(p, sa, (long)back, 1), 1);                  /* touched */
    CHECK_EQ(k_process_write(p, sa, (long)nops, 1), -E_BUSY);          /* we hold it too */
    k_handle_close(shared);
    /* Device registers are never copied by the kernel: PCI configuration
     * space mapped here reads as a fault through process_read. */
    struct k_platform pf;
    long ecam = k_sys_info(K_INFO_PLATFORM, (long)&pf, 0) == 0
              ? k_vmo_create(4096, K_VMO_PHYS, (long)pf.ecam_base, rt_handle("mmio")) : -1;
    long ea = ecam > 0 ? k_vmo_map(0, ecam, 0, 4096, K_PROT_READ) : -1;
    CHECK(ea > 0);
    CHECK_EQ(k_process_read(0, ea, (long)back, 2), -E_FAULT);
    CHECK_EQ(k_vm_unmap(0, ea, 4096), 0);
    k_handle_close(ecam);
    /* Where a static Linux program loads is free in a native process, and
     * nothing may be mapped below K_USER_BASE. */
    long lv = k_vmo_create(8192, K_VMO_ANON, 0, 0);
    CHECK(lv > 0);
    CHECK_EQ(k_vmo_map(0, lv, 0, 8192, K_PROT_READ | K_PROT_WRITE | 0x400000), 0x400000);
    *(volatile char *)0x401000 = 1;
    CHECK_EQ(k_vm_unmap(0, 0x400000, 8192), 0);
    CHECK_EQ(k_vmo_map(0, lv, 0, 4096, K_PROT_READ | (K_USER_BASE - 4096)), -E_INVAL);
    k_handle_close(lv);
    k_process_kill(p, 3);
    CHECK_EQ(wait_status(p), 3);
    return true;
}

/* init's start-up handles: the boot image read-only, narrowing resources. */
static bool test_bootfs_and_narrowing(void)
{
    long bootfs = rt_handle("bootfs");
    CHECK(bootfs >= 0);
    long a = k_vmo_map(0, bootfs, 0, 4096, K_PROT_READ);
    CHECK(a > 0 && memcmp((void *)a, "070701", 6) == 0);      /* a cpio archive */
    CHECK_EQ(k_vmo_map(0, bootfs, 0, 4096, K_PROT_READ | K_PROT_WRITE), -E_RIGHTS);
    CHECK_EQ(k_vm_unmap(0, a, 4096), 0);
    long irq = rt_handle("irq");
    long one = k_resource_narrow(irq, 5, 1);
    CHECK(one > 0);
    CHECK_EQ(k_resource_narrow(one, 6, 1), -E_PERM);            /* never wider */
    CHECK_EQ(k_resource_narrow(one, 5, 2), -E_PERM);
    CHECK_EQ(k_resource_narrow(irq, -1, 1), -E_INVAL);
    CHECK_EQ(k_resource_narrow(irq, 0, 0), -E_INVAL);
    CHECK_EQ(k_resource_narrow(bootfs, 0, 1), -E_WRONGTYPE);
    CHECK(k_vmo_size(bootfs) >= 4096 && k_vmo_size(bootfs) % 4096 == 0);
    CHECK_EQ(k_vmo_size(4242), -E_BADHANDLE);
    CHECK_EQ(k_vmo_size(irq), -E_WRONGTYPE);
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    CHECK_EQ(k_irq_attach(one, 6, conn, 1), -E_PERM);            /* outside the grant */
    long h = k_irq_attach(one, 5, conn, 1);
    CHECK(h > 0);
    k_handle_close(h);
    k_handle_close(conn);
    k_handle_close(ch);
    k_handle_close(one);
    return true;
}

/* ---- I/O ports from user mode ---- */

static inline void io_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}

static inline uint8_t io_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t io_inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* A child given COM1's eight ports [0x3f8, 0x400) as "io": each role
 * touches one port; one outside its range (or before it enabled them, or
 * after it gave them up) must fault (#GP, status K_EXIT_FAULT(13)). */
static int ioport_child(const char *role)
{
    long io = rt_handle("io");
    bool enable = strcmp(role, "ioport-none") != 0;
    if (enable && k_ioport_enable(io, 1) != 0)
        return 20;
    if (strcmp(role, "ioport-ok") == 0) {
        /* The UART's scratch register holds what is written to it. */
        for (unsigned v = 0; v < 256; v += 85) {
            io_outb(0x3ff, (uint8_t)v);
            if (io_inb(0x3ff) != v)
                return 21;
        }
        (void)io_inw(0x3fe);              /* two ports, both ours */
        return 0;
    }
    if (strcmp(role, "ioport-off") == 0) {
        io_outb(0x3ff, 1);
        if (k_ioport_enable(io, 0) != 0)
            return 22;
    }
    if (strcmp(role, "ioport-below") == 0)
        return io_inb(0x3f7) + 30;        /* COM1's range starts at 0x3f8 */
    if (strcmp(role, "ioport-above") == 0)
        return io_inb(0x400) + 30;
    if (strcmp(role, "ioport-wide") == 0)
        return io_inw(0x3ff) + 30;        /* 0x3ff is ours, 0x400 is not */
    return io_inb(0x3ff) + 30;            /* -none, -off */
}

static bool test_ioport_access(void)
{
    long all = rt_handle("ioport"), irq = rt_handle("irq");
    CHECK(all > 0 && irq > 0);
    long com1 = k_resource_narrow(all, 0x3f8, 8);
    CHECK(com1 > 0);
    /* Hostile: no handle, the wrong object, the wrong kind, no MANAGE right,
     * a bad flag.  None changes anything. */
    CHECK_EQ(k_ioport_enable(0, 1), -E_BADHANDLE);
    CHECK_EQ(k_ioport_enable(0x7fff1234, 1), -E_BADHANDLE);
    long ch = k_chan_create(0);
    CHECK_EQ(k_ioport_enable(ch, 1), -E_WRONGTYPE);
    k_handle_close(ch);
    CHECK_EQ(k_ioport_enable(irq, 1), -E_INVAL);
    CHECK_EQ(k_ioport_enable(com1, 2), -E_INVAL);
    CHECK_EQ(k_ioport_enable(com1, -1), -E_INVAL);
    long weak = k_handle_dup(com1, K_RIGHT_DUP | K_RIGHT_TRANSFER);
    CHECK(weak > 0);
    CHECK_EQ(k_ioport_enable(weak, 1), -E_RIGHTS);
    k_handle_close(weak);
    CHECK_EQ(k_ioport_enable(com1, 0), 0);       /* denying what was never allowed */
    struct { const char *role; long status; } cases[] = {
        { "ioport-ok", 0 },
        { "ioport-none", K_EXIT_FAULT(13) },     /* right after one that had them */
        { "ioport-below", K_EXIT_FAULT(13) },
        { "ioport-above", K_EXIT_FAULT(13) },
        { "ioport-wide", K_EXIT_FAULT(13) },
        { "ioport-off", K_EXIT_FAULT(13) },
        { "ioport-ok", 0 },
    };
    struct k_spawn_handle h = { (uint32_t)com1, K_RIGHTS_ALL, "io" };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long p = spawn(cases[i].role, &h, 1, 0);
        CHECK(p > 0);
        long st = wait_status(p);
        if (st != cases[i].status)
            printf("ktest: ioport_access: %s ended with %#lx\n", cases[i].role, st);
        CHECK_EQ(st, cases[i].status);
    }
    k_handle_close(com1);
    return true;
}

/* ---- FS base per thread ---- */

static uint64_t fs_read0(void)
{
    uint64_t v;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(v));
    return v;
}

static struct {
    uint64_t block[2][4];
    volatile long bad[2];
    unsigned ncpus;
} fsb;

/* Sets its FS base to its own block and checks it through %fs after
 * sleeps, yields and (with 2+ CPUs) moves between CPUs. */
static long fs_checker(void *arg)
{
    long i = (long)arg;
    fsb.block[i][0] = 0xf5f5000000000000UL + (uint64_t)i;
    if (k_thread_set_fs((long)fsb.block[i]) != 0)
        return 1;
    for (int n = 0; n < 200; n++) {
        if (fs_read0() != fsb.block[i][0])
            fsb.bad[i]++;
        if (n % 3 == 0)
            k_thread_yield();
        else if (n % 3 == 1)
            k_thread_sleep(100000);
        else if (i == 1 && fsb.ncpus > 1)
            k_thread_affinity(0, 1L << (n % fsb.ncpus));
    }
    return 0;
}

static bool test_fs_base(void)
{
    CHECK_EQ(k_thread_set_fs(0x0000800000000000L), -E_INVAL);   /* not canonical */
    CHECK_EQ(k_thread_set_fs(-1), -E_INVAL);
    CHECK_EQ(k_thread_set_fs((long)0xffff800000000000UL), -E_INVAL);   /* the kernel's */
    fsb.ncpus = (unsigned)sysinfo().ncpus;
    fsb.bad[0] = fsb.bad[1] = 0;
    struct rt_thread t;
    long h = rt_thread_spawn(&t, fs_checker, (void *)1, stack_a, sizeof(stack_a), 0);
    CHECK(h > 0);
    CHECK_EQ(fs_checker((void *)0), 0);
    long st = -1;
    CHECK_EQ(rt_thread_join(h, &st), 0);
    CHECK_EQ(st, 0);
    k_handle_close(h);
    CHECK_EQ(fsb.bad[0], 0);
    CHECK_EQ(fsb.bad[1], 0);
    CHECK_EQ(k_thread_set_fs(0), 0);
    return true;
}

static bool test_death_watch(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    long p = spawn("exit42", 0, 0, 0);
    CHECK(p >= 0);
    CHECK_EQ(k_process_watch(p, conn, 7), 0);
    struct k_msg_info info;
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK(info.type == K_MSG_PULSE && info.code == 7 && info.value == 42);
    CHECK_EQ(k_process_watch(p, conn, 8), 0);            /* already dead: at once */
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK(info.code == 8 && info.value == 42);
    CHECK_EQ(k_process_watch(p, ch, 1), -E_WRONGTYPE);
    CHECK_EQ(k_process_watch(4444, conn, 1), -E_BADHANDLE);
    CHECK_EQ(k_process_watch(p, conn, -1), -E_INVAL);
    CHECK_EQ(wait_status(p), 42);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_exception_resume(void)
{
    long p = spawn("exc-resume", 0, 0, 0);
    CHECK(p >= 0);
    CHECK_EQ(wait_status(p), 0);
    p = spawn("exc-kill", 0, 0, 0);
    CHECK_EQ(wait_status(p), 77);
    CHECK_EQ(k_exception_set(0, 12345), -E_BADHANDLE);
    CHECK_EQ(k_exception_set(777, 0), -E_BADHANDLE);
    return true;
}

static bool test_timer_pulses(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    long t = k_timer_create(conn, 9, 1234);
    CHECK(t >= 0);
    CHECK_EQ(k_timer_set(t, 100, 100), -E_INVAL);         /* period under 1 ms */
    CHECK_EQ(k_timer_set(t, -1, 0), -E_INVAL);
    CHECK_EQ(k_timer_set(ch, 1000000, 0), -E_WRONGTYPE);
    long t0 = k_clock_get();
    CHECK_EQ(k_timer_set(t, 20 * 1000000L, 10 * 1000000L), 0);
    struct k_msg_info info;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
        CHECK(info.type == K_MSG_PULSE && info.code == 9 && info.value == 1234);
    }
    CHECK(k_clock_get() - t0 >= 40 * 1000000L);
    /* Not received for six periods: one pulse waits, not six (a timer's
     * pulse still queued is not queued again).  The timer is then set a
     * second ahead and another (code 10) 2 ms ahead: after the one that
     * waited, the next pulse is the other timer's, however late this
     * thread woke (a check on the time between pulses failed on a loaded
     * host). */
    k_thread_sleep(60 * 1000000L);
    CHECK_EQ(k_timer_set(t, 1000 * 1000000L, 1000 * 1000000L), 0);
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK(info.code == 9);
    long t2 = k_timer_create(conn, 10, 0);
    CHECK_EQ(k_timer_set(t2, 2 * 1000000L, 0), 0);
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK_EQ(info.code, 10);
    k_handle_close(t2);
    CHECK_EQ(k_timer_set(t, 0, 0), 0);                     /* disarmed */
    CHECK_EQ(k_timer_create(ch, 1, 1), -E_WRONGTYPE);
    CHECK_EQ(k_timer_create(conn, -5, 1), -E_INVAL);
    k_handle_close(t);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

static bool test_irq_pulses(void)
{
    long irq = rt_handle("irq");
    CHECK(irq >= 0);                      /* init holds every IRQ */
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    CHECK_EQ(k_irq_attach(irq, K_IRQ_MAX, conn, 1), -E_INVAL);
    CHECK_EQ(k_irq_attach(irq, -1, conn, 1), -E_INVAL);
    CHECK_EQ(k_irq_attach(ch, 0, conn, 1), -E_WRONGTYPE);
    CHECK_EQ(k_irq_attach(irq, 0, ch, 1), -E_WRONGTYPE);
    long weak = k_handle_dup(irq, K_RIGHT_DUP);            /* no MANAGE */
    CHECK_EQ(k_irq_attach(weak, 0, conn, 1), -E_RIGHTS);
    k_handle_close(weak);
    /* IRQ 0: the PIT, which the firmware leaves ticking at 18.2 Hz. */
    long h = k_irq_attach(irq, 0, conn, 21);
    CHECK(h >= 0);
    CHECK_EQ(k_irq_attach(irq, 0, conn, 1), -E_BUSY);
    struct k_msg_info info;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
        CHECK(info.type == K_MSG_PULSE && info.code == 21 && info.value == 0);
        CHECK_EQ(k_irq_ack(h), 0);
    }
    CHECK_EQ(k_irq_ack(conn), -E_WRONGTYPE);
    k_handle_close(h);                    /* detaches and masks */
    long again = k_irq_attach(irq, 0, conn, 1);
    CHECK(again >= 0);
    k_handle_close(again);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

#include "ktest_promises.c"
#include "ktest_personality.c"
#include "ktest_channels.c"

/* ---------------------------------------------------------------- */

struct utest {
    const char *name;
    bool (*fn)(void);
};

static const struct utest tests[] = {
    { "debug_write_hostile", test_debug_write_hostile },
    { "bad_syscall_number", test_bad_syscall_number },
    { "sys_info_hostile", test_sys_info_hostile },
    { "handles_hostile", test_handles_hostile },
    { "wrong_type_and_rights", test_wrong_type_and_rights },
    { "ipc_same_process", test_ipc_same_process },
    { "connection_badges", test_connection_badges },
    { "ipc_hostile", test_ipc_hostile },
    { "msg_read_write", test_msg_read_write },
    { "receive_priority_order", test_receive_priority_order },
    { "pulse_queue_overflow", test_pulse_queue_overflow },
    { "priority_inheritance", test_priority_inheritance },
    { "priority_inheritance_chain", test_priority_inheritance_chain },
    { "priority_inheritance_at_send", test_priority_inheritance_at_send },
    { "process_exit_status", test_process_exit_status },
    { "spawn_hostile", test_spawn_hostile },
    { "spawn_exception", test_spawn_exception },
    { "dma", test_dma },
    { "ipc_cross_process", test_ipc_cross_process },
    { "fault_kills_process", test_fault_kills_process },
    { "kill_before_run", test_kill_before_run },
    { "kill_blocked_in_receive", test_kill_blocked_in_receive },
    { "kill_blocked_in_send", test_kill_blocked_in_send },
    { "kill_blocked_in_reply", test_kill_blocked_in_reply },
    { "server_death", test_server_death },
    { "revoke", test_revoke },
    { "threads", test_threads },
    { "affinity_moves", test_affinity_moves },
    { "vmo_map", test_vmo_map },
    { "vmo_clone", test_vmo_clone },
    { "vmo_untouched", test_vmo_untouched },
    { "more_hostile", test_more_hostile },
    { "handles_in_messages", test_handles_in_messages },
    { "process_read", test_process_read },
    { "bootfs_and_narrowing", test_bootfs_and_narrowing },
    { "ioport_access", test_ioport_access },
    { "fs_base", test_fs_base },
    { "personality_redirect", test_personality_redirect },
    { "process_create", test_process_create },
    { "vm_clone", test_vm_clone },
    { "chan_disconnect", test_chan_disconnect },
    { "srv_disconnect", test_srv_disconnect },
    { "chan_interrupts", test_chan_interrupts },
    { "death_watch", test_death_watch },
    { "exception_resume", test_exception_resume },
    { "timer_pulses", test_timer_pulses },
    { "irq_pulses", test_irq_pulses },
    { "server_framework", test_server_framework },
    { "smp_stress", test_smp_stress },
    { "dead_process_memory", test_dead_process_memory },
    { "vm_protect_keeps_rights", test_vm_protect_keeps_rights },
    { "spawn_needs_image", test_spawn_needs_image },
    { "priority_ceiling", test_priority_ceiling },
    { "server_thread_exit_unreplied", test_server_thread_exit_unreplied },
    { "channel_outlives_creator", test_channel_outlives_creator },
    { "tlb_flush_vs_ipc", test_tlb_flush_vs_ipc },
    { "large_copy_preemptible", test_large_copy_preemptible },
    { "zombies_freed_while_busy", test_zombies_freed_while_busy },
    { "kill_while_entering_block", test_kill_while_entering_block },
    { "killed_low_thread_dies", test_killed_low_thread_dies },
    { "dead_thread_handle", test_dead_thread_handle },
};

static bool same_counts(const struct k_sysinfo *b, const struct k_sysinfo *a)
{
    return a->kmalloc_objects == b->kmalloc_objects && a->kmem_pages == b->kmem_pages &&
           a->free_bytes + 256 * 1024 >= b->free_bytes && a->threads == b->threads &&
           a->processes == b->processes && a->channels == b->channels &&
           a->connections == b->connections;
}

/* Every test must leave the kernel's object counts as it found them. */
static bool run_one(const struct utest *t)
{
    struct k_sysinfo before = sysinfo();
    fail_text = 0;
    printf("TEST RUN user.%s\n", t->name);
    bool ok = t->fn();
    if (!ok) {
        printf("TEST FAIL user.%s: %s (line %d, got %ld, want %ld)\n", t->name,
               fail_text ? fail_text : "?", fail_line, fail_got, fail_want);
        return false;
    }
    /* Counters must match exactly; free memory may drop a little (slab
     * pages kept for reuse, page tables of our own address space).  Dead
     * threads are freed just after they switch away, which can be a moment
     * after a join returns on another CPU: wait up to half a second. */
    struct k_sysinfo after;
    for (int tries = 0; tries < 50; tries++) {
        after = sysinfo();
        if (same_counts(&before, &after))
            break;
        k_thread_sleep(10 * 1000000);
    }
    if (!same_counts(&before, &after)) {
        printf("TEST FAIL user.%s: leak: objects %ld->%ld, free %ld->%ld, threads %ld->%ld, "
               "processes %ld->%ld, channels %ld->%ld, connections %ld->%ld\n", t->name,
               before.kmalloc_objects, after.kmalloc_objects, before.free_bytes, after.free_bytes,
               before.threads, after.threads, before.processes, after.processes,
               before.channels, after.channels, before.connections, after.connections);
        return false;
    }
    printf("TEST PASS user.%s\n", t->name);
    return true;
}

/* ---- the other side of cross-process tests ---- */

#define EXC_ADDR 0x0000200000000000UL   /* unmapped until the handler maps it */

struct exc_handler { long chan; long kill; long ok; };

static long exception_handler(void *arg)
{
    struct exc_handler *eh = arg;
    struct k_exception e;
    struct k_msg_info info;
    long rcvid = k_msg_receive(eh->chan, (long)&e, -(long)sizeof(e), (long)&info);
    if (rcvid <= 0)
        return 1;
    eh->ok = e.vector == 14 && e.addr == EXC_ADDR + 8 && info.send_len == sizeof(e) &&
             e.pid == info.pid && e.tid == info.tid && info.handle > 0;
    k_handle_close(info.handle);
    if (eh->kill)
        return rt_msg_reply(rcvid, 77, 0, 0);
    long v = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    k_vmo_map(0, v, 0, 4096, K_PROT_READ | K_PROT_WRITE | EXC_ADDR);
    k_handle_close(v);
    long r = rt_msg_reply(rcvid, K_EXC_RESUME, 0, 0);
    /* Then the faulting thread's own send, with the handle it had
     * attached before the fault: the exception did not take it. */
    char b[4];
    rcvid = k_msg_receive(eh->chan, (long)b, -(long)sizeof(b), (long)&info);
    if (rcvid <= 0)
        return 1;
    uint64_t size = info.handle > 0 ? (uint64_t)k_vmo_size(info.handle) : 0;
    k_handle_close(info.handle);
    rt_msg_reply(rcvid, size == 8192 ? 0 : 1, 0, 0);
    return r;
}

static int exception_child(bool kill)
{
    static struct exc_handler eh;
    static struct rt_thread th;
    eh.chan = k_chan_create(0);
    eh.kill = kill;
    long conn = k_chan_connect(eh.chan, 0, 0);
    if (k_exception_set(0, conn) != 0)
        return 2;
    long t = rt_thread_spawn(&th, exception_handler, &eh, stack_b, sizeof(stack_b), 0);
    if (t < 0)
        return 3;
    long own = k_vmo_create(8192, K_VMO_ANON, 0, 0);
    if (!kill && (own < 0 || k_handle_attach(own, K_RIGHT_READ, 1) != 0))
        return 5;                        /* rides with our next send, after the fault */
    volatile uint64_t *p = (volatile uint64_t *)(EXC_ADDR + 8);
    uint64_t before = *p;                /* faults; the handler maps the page */
    *p = 5;
    struct k_iov none = { 0, 0 };
    if (rt_msg_send(conn, &none, 0, &none, 0) != 0)
        return 6;                        /* the attachment did not arrive */
    return before == 0 && *p == 5 && eh.ok ? 0 : 4;
}

/* Spawns "child fault" with K_SPAWN_EXCEPTION_INHERIT; 0 if it died
 * with WANT. */
static int spawn_inherit_child(long want)
{
    const char *argv[] = { "bin/ktest", "child", "fault" };
    struct k_spawn sp = { .image = (uint32_t)rt_handle("bootfs"), .argc = 3, .argv = argv,
                          .exception = K_SPAWN_EXCEPTION_INHERIT };
    long p = k_process_spawn((long)"bin/ktest", 9, (long)&sp);
    if (p < 0)
        return 1;
    return wait_status(p) == want ? 0 : 2;
}

static int child_main(const char *role)
{
    if (strcmp(role, "exit42") == 0)
        return 42;
    if (strcmp(role, "fault") == 0)
        *(volatile int *)0 = 1;
    if (strcmp(role, "fault-regs") == 0)          /* known values in every register it can */
        __asm__ volatile("mov $0x1111, %%rax\n mov $0x2222, %%rbx\n mov $0x3333, %%rcx\n"
                         "mov $0x4444, %%rdx\n mov $0x5555, %%rsi\n mov $0x6666, %%rdi\n"
                         "mov $0x8888, %%r8\n mov $0x9999, %%r9\n mov $0xaaaa, %%r10\n"
                         "mov $0xbbbb, %%r11\n mov $0xcccc, %%r12\n mov $0xdddd, %%r13\n"
                         "mov $0xeeee, %%r14\n mov $0xffff, %%r15\n movq $1, 0\n"
                         ::: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
                             "r12", "r13", "r14", "r15", "memory");
    if (strcmp(role, "ud2") == 0)
        __asm__ volatile("ud2");
    if (strcmp(role, "block-receive") == 0) {
        long ch = k_chan_create(0);
        rt_msg_receive(ch, 0, 0, 0);
        return 1;
    }
    if (strcmp(role, "block-send") == 0) {
        rt_msg_send(rt_handle("conn"), 0, 0, 0, 0);
        return 2;
    }
    if (strcmp(role, "pulse-first") == 0)
        return (int)k_pulse_send(rt_handle("conn"), 1, 0, 200);
    if (strcmp(role, "hold-and-exit") == 0)
        return rt_handle("chan") >= 0 ? 0 : 3;
    if (strcmp(role, "serve-once") == 0) {
        struct echo_server es = { rt_handle("chan"), 0 };
        char buf[64];
        struct k_iov iov = { buf, sizeof(buf) };
        struct k_msg_info info;
        long rcvid = rt_msg_receive(es.chan, &iov, 1, &info);
        if (rcvid <= 0)
            return 4;
        for (size_t i = 0; i < info.send_len; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] = (char)(buf[i] - 32);
        struct k_iov r = { buf, info.send_len };
        return rt_msg_reply(rcvid, (long)info.send_len, &r, 1) == 0 ? 0 : 5;
    }
    if (strcmp(role, "handle-echo") == 0) {
        struct k_msg_info info;
        char buf[8];
        long rcvid = k_msg_receive(rt_handle("chan"), (long)buf, -8, (long)&info);
        if (rcvid <= 0 || info.handle == 0)
            return 6;
        long a = k_vmo_map(0, info.handle, 0, 4096, K_PROT_READ);
        if (a <= 0)
            return 7;
        uint64_t magic = *(volatile uint64_t *)a;
        k_handle_attach(info.handle, K_RIGHT_READ | K_RIGHT_MAP, 0);   /* a read-only copy back */
        return k_msg_reply(rcvid, (long)magic, 0, 0) == 0 ? 0 : 8;
    }
    if (strcmp(role, "ceiling") == 0)
        return ceiling_child(20);
    if (strcmp(role, "ceiling-30") == 0)
        return ceiling_child(30);
    if (strcmp(role, "give-channel") == 0)
        return give_channel_child();
    if (strcmp(role, "redirect") == 0 || strcmp(role, "redirect-bad-stack") == 0)
        return redirect_child(strcmp(role, "redirect-bad-stack") == 0);
    if (strncmp(role, "ioport-", 7) == 0)
        return ioport_child(role);
    if (strcmp(role, "vm-clone") == 0)
        return vm_clone_child();
    if (strcmp(role, "low-spinner") == 0)
        return low_spinner_child();
    if (strcmp(role, "kill-race") == 0)
        return kill_race_child();
    if (strcmp(role, "spawn-unprivileged") == 0) {
        const char *argv[] = { "bin/ktest", "child", "exit42" };
        struct k_spawn sp = { .argc = 3, .argv = argv };
        return rt_handle("bootfs") < 0 &&
               k_process_spawn((long)"bin/ktest", 9, (long)&sp) == -E_PERM ? 0 : 1;
    }
    if (strcmp(role, "spawn-inherit") == 0)
        return spawn_inherit_child(97);                 /* what our handler answers */
    if (strcmp(role, "spawn-inherit-none") == 0)
        return spawn_inherit_child(K_EXIT_FAULT(14));
    if (strcmp(role, "exc-resume") == 0 || strcmp(role, "exc-kill") == 0)
        return exception_child(strcmp(role, "exc-kill") == 0);
    printf("ktest: unknown child role %s\n", role);
    return 100;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "child") == 0)
        return child_main(argv[2]);
    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (argc >= 2 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        if (run_one(&tests[i]))
            passed++;
        else
            failed++;
    }
    printf("USERTESTS DONE: %u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
