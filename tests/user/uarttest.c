/*
 * uarttest: the UART driver (drivers/uart, protocols/uart.proto) seen by a
 * client of /dev/uart, started from bootimage/tests/uart.manifest.
 *
 *   hostile   malformed, short, lying and oversized messages, bad flags
 *             and values, forged interrupt pulses: each a clean error (or
 *             ignored), and the driver serves on;
 *   loopback  with the UART in (paced) loopback mode, patterns of 1 to
 *             20,000 bytes written and read back in order (the largest
 *             from a second thread, in pieces, while this one reads), a
 *             writer that waits while both rings are full, waiting reads
 *             answered from the interrupt path, a full queue of waiting
 *             readers; in raw loopback a full receive ring (the drops
 *             counted); the counters;
 *   restart   the supervisor restarts the driver while this test writes
 *             in a loop; the test finds it again through /dev/uart and
 *             checks that it serves and that loopback data is intact
 *             again (bytes in flight at the restart may be lost: counted
 *             and printed).
 *
 * In loopback nothing reaches the console, and whatever anyone prints
 * (the kernel writes its own and the log service's output on COM1) comes
 * back as received bytes: so results are kept and printed only with
 * loopback off, and the test waits until the boot has stopped printing
 * before it starts.  Prints TEST lines; exits 0 if all passed.
 */
#include <stdarg.h>

#include "base/string.h"
#include "protocols/supervisor.h"
#include "protocols/uart.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"
#include "rt/thread.h"

#define MS 1000000L
#define BIG 20000                       /* more than the transmit ring */
#define BATCH 1024                      /* the restart test's unit */

static struct rt_service uart = { .path = "/dev/uart", .wait_ms = 5000 };
static long ctl;
static int failures;
static char report[16384];
static size_t report_len;

/* Kept for later: printing now could go into the loopback. */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report + report_len, sizeof(report) - report_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        report_len += (size_t)n < sizeof(report) - report_len ? (size_t)n : sizeof(report) - report_len - 1;
}

static void check(const char *name, int ok)
{
    note("TEST %s user.uart.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

static void flush_report(void)
{
    for (size_t i = 0; i < report_len;) {
        size_t n = report_len - i < 200 ? report_len - i : 200;
        printf("%.*s", (int)n, report + i);
        i += n;
    }
    rt_stdout_flush();
    report_len = 0;
}

/* ---- calls (through rt_service: they find the driver again after a restart) ---- */

struct rd {
    uint32_t max, flags;
    struct uart_read_rep rep;
};

static long op_read(long conn, void *arg)
{
    struct rd *r = arg;
    struct uart_read_req q = { .max = r->max, .flags = r->flags };
    memset(&r->rep, 0, sizeof(r->rep));
    long s = uart_read(conn, &q, &r->rep);
    return s < 0 ? s : r->rep.len;
}

struct wr {
    const void *buf;
    size_t len;
};

static long op_write(long conn, void *arg)
{
    struct wr *w = arg;
    struct uart_write_req q;
    struct uart_write_rep r = { 0 };
    memset(&q, 0, sizeof(q));
    long s = uart_write(conn, &q, w->buf, w->len, &r);
    return s < 0 ? s : r.bytes;
}

static long op_stats(long conn, void *arg)
{
    struct uart_stats_req q;
    memset(&q, 0, sizeof(q));
    memset(arg, 0, sizeof(struct uart_stats_rep));
    return uart_stats(conn, &q, arg);
}

static long op_loopback(long conn, void *arg)
{
    struct uart_loopback_req q = { .on = *(uint32_t *)arg };
    struct uart_loopback_rep r = { 0 };
    long s = uart_loopback(conn, &q, &r);
    return s < 0 ? s : r.previous;
}

static long write_all(const void *buf, size_t len)
{
    struct wr w = { buf, len };
    return rt_service_call(&uart, false, op_write, &w);
}

static long stats(struct uart_stats_rep *s)
{
    return rt_service_call(&uart, true, op_stats, s);
}

static long loopback(uint32_t on)
{
    return rt_service_call(&uart, true, op_loopback, &on);
}

/* Reads N bytes into BUF without waiting in the driver (polls), for at
 * most MSEC ms; the bytes read, or an error. */
static long read_exact(void *buf, size_t n, long msec)
{
    long end = k_clock_get() + msec * MS;
    size_t got = 0;
    while (got < n) {
        struct rd r = { .max = n - got < UART_READ_MAX ? (uint32_t)(n - got) : UART_READ_MAX,
                        .flags = UART_READ_NOWAIT };
        long len = rt_service_call(&uart, true, op_read, &r);
        if (len < 0)
            return got ? (long)got : len;
        if (len > (long)r.max)
            return -E_INVAL;
        memcpy((char *)buf + got, r.rep.data, (size_t)len);
        got += (size_t)len;
        if (len == 0) {
            if (k_clock_get() > end)
                break;
            k_thread_sleep(MS);
        }
    }
    return (long)got;
}

/* Discards what the receive ring holds (stray bytes); how many. */
static long drain(void)
{
    static char junk[4096];
    long total = 0, n;
    while ((n = read_exact(junk, sizeof(junk), 50)) > 0)
        total += n;
    return total;
}

static void pattern(uint8_t *buf, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

/* The first byte where A and B differ, or N. */
static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* ---- the supervisor ---- */

static long service_state(const char *name, struct supervisor_list_rep *out)
{
    for (uint32_t i = 0;; i++) {
        struct supervisor_list_req req = { .index = i };
        memset(out, 0, sizeof(*out));
        long r = supervisor_list(ctl, &req, out);
        if (r < 0)
            return r;
        if (strcmp(out->name, name) == 0)
            return out->state;
    }
}

/* Polls until NAME is in state WANT (or MSEC pass); the last state. */
static long wait_state(const char *name, uint32_t want, long msec)
{
    long end = k_clock_get() + msec * MS, st;
    struct supervisor_list_rep rep;
    while ((st = service_state(name, &rep)) != (long)want && k_clock_get() < end)
        k_thread_sleep(10 * MS);
    return st;
}

/* ---- threads ---- */

static char stacks[8][16384] __attribute__((aligned(16)));
static struct rt_thread threads[8];

static long join(long h)
{
    long status = -1;
    k_thread_join(h, (long)&status);
    k_handle_close(h);
    return status;
}

struct reader_arg {
    uint32_t max;
    long status;
    struct uart_read_rep rep;
    volatile int done;
};

static long reader_main(void *p)
{
    struct reader_arg *a = p;
    struct uart_read_req q = { .max = a->max, .flags = 0 };
    a->status = uart_read(uart.conn, &q, &a->rep);
    a->done = 1;
    return 0;
}

/* Joins reader H once it has its answer (within two seconds); a reader
 * still waiting then (the driver never answered) is left behind. */
static int reader_join(long h, struct reader_arg *a)
{
    for (int i = 0; i < 1000 && !a->done; i++)
        k_thread_sleep(2 * MS);
    if (a->done && h > 0)
        join(h);
    return a->done;
}

static uint8_t big_out[BIG], big_in[BIG];
static volatile int writer_done;
static long writer_bad;

/* Writes the first P (or BIG) bytes of big_out in pieces; the failures. */
static long big_writer(void *p)
{
    size_t len = p ? (size_t)p : BIG;
    long bad = 0;
    for (size_t at = 0; at < len;) {
        size_t n = len - at < UART_WRITE_MAX ? len - at : UART_WRITE_MAX;
        struct uart_write_req q;
        struct uart_write_rep r = { 0 };
        memset(&q, 0, sizeof(q));
        long s = uart_write(uart.conn, &q, big_out + at, n, &r);
        if (s < 0 || r.bytes != n)
            bad++;
        at += n;
    }
    writer_bad = bad;
    writer_done = 1;
    return 0;
}

/* The failed writes of writer H once it has ended (within ten seconds),
 * or -1: a writer still waiting (never answered) is left behind. */
static long writer_join(long h)
{
    for (int i = 0; i < 5000 && !writer_done; i++)
        k_thread_sleep(2 * MS);
    if (!writer_done || h <= 0)
        return -1;
    join(h);
    writer_done = 0;
    return writer_bad;
}

/* Waits until the driver counts N waiting readers. */
static int readers_waiting(uint32_t n)
{
    struct uart_stats_rep s;
    for (int i = 0; i < 500; i++) {
        if (stats(&s) == 0 && s.readers == n)
            return 1;
        k_thread_sleep(2 * MS);
    }
    return 0;
}

/* ---- hostile messages (loopback off: nothing here transmits) ---- */

static long raw(const void *msg, size_t len)
{
    static char rep[512];
    return k_msg_send(uart.conn, (long)msg, -(long)len, (long)rep, -(long)sizeof(rep));
}

static long raw_msg(uint32_t proto, uint16_t version, uint16_t msg, uint32_t payload_len,
                    uint32_t reserved, const void *body, size_t body_len)
{
    static uint8_t buf[256];
    struct k_proto_hdr h = { proto, version, msg, payload_len, reserved };
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), body, body_len);
    return raw(buf, sizeof(h) + body_len);
}

static long read_with(uint32_t max, uint32_t flags)
{
    struct rd r = { .max = max, .flags = flags };
    return op_read(uart.conn, &r);
}

static void hostile(void)
{
    uint32_t body[2] = { 16, UART_READ_NOWAIT };
    check("short_message", raw("abc", 3) == -E_INVAL);
    check("empty_message", raw("", 0) == -E_INVAL);
    check("header_only",
          raw_msg(UART_PROTO_ID, 1, UART_MSG_READ, 0, 0, body, 0) == -E_INVAL);
    check("body_cut", raw_msg(UART_PROTO_ID, 1, UART_MSG_READ, 0, 0, body, 4) == -E_INVAL);
    check("wrong_protocol", raw_msg(0x12345678, 1, UART_MSG_READ, 0, 0, body, 8) == -E_INVAL);
    check("reserved_set", raw_msg(UART_PROTO_ID, 1, UART_MSG_READ, 0, 1, body, 8) == -E_INVAL);
    check("newer_client", raw_msg(UART_PROTO_ID, 2, UART_MSG_READ, 0, 0, body, 8) == -E_NOSYS);
    check("unknown_message", raw_msg(UART_PROTO_ID, 1, 77, 0, 0, body, 8) == -E_NOSYS);
    check("payload_len_lies",
          raw_msg(UART_PROTO_ID, 1, UART_MSG_WRITE, 100, 0, "0123456789abcdef", 16) == -E_INVAL);
    check("payload_len_huge",
          raw_msg(UART_PROTO_ID, 1, UART_MSG_WRITE, 0xffffffffu, 0, "01234567", 8) == -E_INVAL);
    check("payload_where_none",
          raw_msg(UART_PROTO_ID, 1, UART_MSG_STATS, 8, 0, "0123456789abcdef", 16) == -E_INVAL);
    static char huge[UART_WRITE_MAX + 1];
    struct wr w = { huge, sizeof(huge) };
    check("write_too_big", op_write(uart.conn, &w) == -E_TOOBIG);
    static char vast[65536];
    w = (struct wr){ vast, sizeof(vast) };
    check("write_far_too_big", op_write(uart.conn, &w) == -E_TOOBIG);
    check("read_bad_flag", read_with(16, 2) == -E_INVAL);
    check("read_all_flags", read_with(16, 0xffffffffu) == -E_INVAL);
    check("read_zero", read_with(0, UART_READ_NOWAIT) == -E_INVAL);
    check("read_huge_max_is_cut", read_with(0xffffffffu, UART_READ_NOWAIT) == 0);
    uint32_t on = UART_LOOPBACK_RAW + 1;
    check("loopback_bad_value", op_loopback(uart.conn, &on) == -E_INVAL);
    on = 0xffffffffu;
    check("loopback_huge_value", op_loopback(uart.conn, &on) == -E_INVAL);
    struct uart_stats_rep s0, s1;
    long r0 = stats(&s0);
    for (int i = 0; i < 3; i++)
        k_pulse_send(uart.conn, UART_IRQ_CODE, 4, 0);
    k_pulse_send(uart.conn, 0x5700, 0, 0);               /* lib/srv's stop code */
    long r1 = stats(&s1);
    check("forged_pulses_ignored", r0 == 0 && r1 == 0 && s1.ignored_pulses == s0.ignored_pulses + 4);
    check("serves_after_hostile", r1 == 0 && s1.loopback == 0 && s1.readers == 0 && s1.writers == 0);
}

/* ---- loopback ---- */

static void sizes(void)
{
    static const size_t n[] = { 1, 16, 17, 255, 4096 };
    static uint8_t out[4096], in[4096];
    for (unsigned i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
        pattern(out, n[i], 100 + i);
        memset(in, 0, n[i]);
        long w = write_all(out, n[i]);
        long r = read_exact(in, n[i], 5000);
        size_t d = r > 0 ? first_diff(out, in, (size_t)r) : 0;
        char name[48];
        snprintf(name, sizeof(name), "loopback_%lu", (unsigned long)n[i]);
        check(name, w == (long)n[i] && r == (long)n[i] && d == n[i]);
        if (w != (long)n[i] || r != (long)n[i] || d != n[i])
            note("uarttest: %lu bytes: wrote %ld, read %ld, first difference at %lu\n",
                 (unsigned long)n[i], w, r, (unsigned long)d);
    }
}

static void big(void)
{
    pattern(big_out, BIG, 7);
    long h = rt_thread_spawn(&threads[0], big_writer, 0, stacks[0], sizeof(stacks[0]), 0);
    long r = read_exact(big_in, BIG, 20000);
    long bad = writer_join(h);
    size_t d = r > 0 ? first_diff(big_out, big_in, (size_t)r) : 0;
    check("loopback_more_than_ring", h > 0 && bad == 0 && r == BIG && d == BIG);
    if (r != BIG || d != BIG)
        note("uarttest: %d bytes in pieces: read %ld, first difference at %lu, bad writes %ld\n",
             BIG, r, (unsigned long)d, bad);
}

static void waiting_readers(void)
{
    static struct reader_arg a[UART_READERS_MAX + 1];
    long h[UART_READERS_MAX];
    memset(a, 0, sizeof(a));
    a[0].max = 256;
    h[0] = rt_thread_spawn(&threads[6], reader_main, &a[0], stacks[6], sizeof(stacks[6]), 0);
    int waiting = h[0] > 0 && readers_waiting(1);
    write_all("x", 1);
    int answered = reader_join(h[0], &a[0]);
    check("read_waits_for_data", waiting && answered && a[0].status == 0 && a[0].rep.len == 1 &&
                                 a[0].rep.data[0] == 'x');
    /* READERS_MAX readers wait in order; one more is refused. */
    int ok = 1;
    for (unsigned i = 0; i < UART_READERS_MAX; i++) {
        a[i] = (struct reader_arg){ .max = 1, .status = 1 };
        h[i] = rt_thread_spawn(&threads[1 + i], reader_main, &a[i], stacks[1 + i],
                               sizeof(stacks[1 + i]), 0);
        ok &= h[i] > 0 && readers_waiting(i + 1);
    }
    struct uart_read_req q = { .max = 1, .flags = 0 };
    struct uart_read_rep rep;
    check("reader_queue_full", ok && uart_read(uart.conn, &q, &rep) == -E_BUSY);
    write_all("abcd", 4);
    for (unsigned i = 0; i < UART_READERS_MAX; i++) {
        ok &= reader_join(h[i], &a[i]);
        ok &= a[i].status == 0 && a[i].rep.len == 1 && a[i].rep.data[0] == (char)('a' + i);
    }
    check("readers_served_in_order", ok);
}

/* Paced loopback: with nobody reading, the rings fill and the writer
 * waits; reading lets it go on, and nothing is lost. */
static void flow_control(void)
{
    static struct uart_stats_rep s;
    long h = rt_thread_spawn(&threads[7], big_writer, (void *)9192L, stacks[7], sizeof(stacks[7]), 0);
    int waited = 0;
    for (int i = 0; i < 1000 && !waited; i++) {
        waited = stats(&s) == 0 && s.writers == 1 && s.tx_buffered == s.tx_capacity &&
                 s.rx_buffered + 2 * 16 >= s.rx_capacity;
        k_thread_sleep(2 * MS);
    }
    check("writer_waits_while_rings_full", waited);
    long r = read_exact(big_in, 9192, 10000);
    long bad = writer_join(h);
    check("writer_goes_on_nothing_lost", h > 0 && bad == 0 && r == 9192 &&
                                         first_diff(big_out, big_in, 9192) == 9192);
}

static void full_ring(void)
{
    static uint8_t out[5096], in[4096];
    struct uart_stats_rep s0, s1;
    long r0 = stats(&s0);
    pattern(out, sizeof(out), 9);
    long w1 = write_all(out, 4096), w2 = write_all(out + 4096, 1000);
    for (int i = 0; i < 500; i++) {              /* until all is sent and received */
        if (stats(&s1) == 0 && s1.tx_buffered == 0 && s1.rx_bytes - s0.rx_bytes >= 5096)
            break;
        k_thread_sleep(2 * MS);
    }
    long r1 = stats(&s1);
    check("rx_ring_full_counts_drops", r0 == 0 && r1 == 0 && w1 == 4096 && w2 == 1000 &&
                                       s1.rx_capacity == 4096 && s1.rx_buffered == 4096 &&
                                       s1.rx_drops - s0.rx_drops == 1000);
    long r = read_exact(in, sizeof(in), 5000);
    check("rx_ring_full_keeps_oldest", r == 4096 && first_diff(out, in, 4096) == 4096);
    check("rx_ring_empty_after", stats(&s1) == 0 && s1.rx_buffered == 0);
}

static void loopback_tests(void)
{
    struct uart_stats_rep s0, s1;
    check("loopback_on", loopback(1) == 0);
    long stray = drain();
    long r0 = stats(&s0);
    check("loopback_reported", r0 == 0 && s0.loopback == 1);
    sizes();
    big();
    flow_control();
    waiting_readers();
    check("loopback_raw", loopback(UART_LOOPBACK_RAW) == UART_LOOPBACK_PACED);
    full_ring();
    long r1 = stats(&s1);
    uint64_t sent = 1 + 16 + 17 + 255 + 4096 + BIG + 9192 + 1 + 4 + 5096;
    check("stats_tx_bytes", r1 == 0 && s1.tx_bytes - s0.tx_bytes == sent);
    check("stats_rx_bytes", r1 == 0 && s1.rx_bytes - s0.rx_bytes == sent);
    check("stats_no_overruns", r1 == 0 && s1.overruns == s0.overruns && s1.line_errors == s0.line_errors);
    check("stats_drops_only_when_full", r1 == 0 && s1.rx_drops - s0.rx_drops == 1000);
    check("stats_interrupts", r1 == 0 && s1.interrupts > s0.interrupts);
    check("stats_idle", r1 == 0 && s1.rx_buffered == 0 && s1.tx_buffered == 0 && s1.readers == 0 &&
                        s1.writers == 0 && s1.tx_capacity == 4096);
    check("loopback_off", loopback(UART_LOOPBACK_OFF) == UART_LOOPBACK_RAW);
    note("uarttest: loopback: %lu bytes each way, %lu interrupts, %ld stray bytes before\n",
         (unsigned long)sent, (unsigned long)(s1.interrupts - s0.interrupts), stray);
}

/* ---- restart while writing ---- */

static volatile int kill_now, killed;
static long kill_result = 1;

static long killer(void *p)
{
    (void)p;
    while (!kill_now)
        k_thread_sleep(MS);
    struct supervisor_restart_req q;
    struct supervisor_restart_rep r;
    memset(&q, 0, sizeof(q));
    memcpy(q.name, "uart", 4);
    kill_result = supervisor_restart(ctl, &q, &r);
    killed = 1;
    return 0;
}

/* Batch B: lines of text (if they reach the console, they are lines). */
static void batch(uint8_t *buf, unsigned b)
{
    for (unsigned line = 0; line < BATCH / 64; line++)
        snprintf((char *)buf + line * 64, 65, "uarttest batch %05u line %02u %032u\n", b, line,
                 b * 100 + line);
}

/* Writes and reads back batches FIRST..LAST-1 until one fails; the number
 * of good ones.  *LOST gets the bytes of the failing one not read back. */
static unsigned batches(unsigned first, unsigned last, unsigned kill_at, long *lost)
{
    static uint8_t out[BATCH + 1], in[BATCH];
    for (unsigned b = first; b < last; b++) {
        if (b == kill_at)
            kill_now = 1;
        batch(out, b);
        long w = write_all(out, BATCH);
        long r = w == BATCH ? read_exact(in, BATCH, killed || kill_now ? 1000 : 5000) : 0;
        size_t d = r > 0 ? first_diff(out, in, (size_t)r) : 0;
        if (w != BATCH || r != BATCH || d != BATCH) {
            *lost = BATCH - (long)d;
            note("uarttest: batch %u: write %ld, read back %ld, intact %lu\n", b, w, r,
                 (unsigned long)d);
            return b - first;
        }
    }
    *lost = 0;
    return last - first;
}

static void restart_tests(void)
{
    struct supervisor_list_rep before, after;
    check("uart_running", service_state("uart", &before) == 1);
    long h = rt_thread_spawn(&threads[5], killer, 0, stacks[5], sizeof(stacks[5]), 0);
    check("loopback_on_before_restart", loopback(1) == 0);
    drain();
    long lost = 0;
    unsigned good = batches(0, 400, 10, &lost);
    if (h > 0)
        join(h);
    check("writes_before_restart_intact", good >= 10);
    check("restart_requested", kill_result == 0);
    check("restart_noticed", good < 400);
    /* Back: running again (a new life), found through /dev/uart. */
    check("uart_running_again", wait_state("uart", 1, 5000) == 1 &&
                                service_state("uart", &after) == 1);
    k_thread_sleep(300 * MS);                     /* the supervisor's lines, our first call */
    struct uart_stats_rep s0, s1;
    long r0 = stats(&s0);
    check("serves_after_restart", r0 == 0);
    check("restart_leaves_loopback_off", r0 == 0 && s0.loopback == 0);
    check("loopback_on_after_restart", loopback(1) == 0);
    long stray = drain();
    long r1 = stats(&s1);
    long lost2 = 0;
    unsigned good2 = batches(1000, 1020, ~0u, &lost2);
    long r2 = stats(&s0);
    check("data_intact_after_restart", good2 == 20 && lost2 == 0);
    check("counters_after_restart", r1 == 0 && r2 == 0 && s0.rx_drops == s1.rx_drops &&
                                    s0.tx_bytes - s1.tx_bytes == 20 * BATCH &&
                                    s0.rx_bytes - s1.rx_bytes == 20 * BATCH);
    check("loopback_off_at_end", loopback(0) == 1);
    note("uarttest: restart after %u batches of %d bytes: %ld bytes in flight lost, "
         "%ld stray bytes after, %u reconnects\n",
         good, BATCH, lost, stray, uart.reconnects);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    ctl = rt_handle("supervisor");
    long c = rt_service_connect(&uart);
    printf("TEST %s user.uart.resolve\n", c == 0 ? "PASS" : "FAIL");
    if (c != 0 || ctl < 0) {
        printf("UARTTEST DONE: 1 failed (no /dev/uart: %s, or no supervisor)\n", k_strerror(c));
        return 1;
    }
    /* uartbad (a uart granted only 0x3f8-0x3fb) refuses to run and ends;
     * then nothing should print for a while. */
    check("partial_grant_ends", wait_state("uartbad", 0, 5000) == 0);
    hostile();
    flush_report();
    k_thread_sleep(200 * MS);
    loopback_tests();
    flush_report();
    restart_tests();
    flush_report();
    printf("UARTTEST DONE: %d failed\n", failures);
    return failures != 0;
}
