/*
 * echo_test: the generated echo protocol (protocols/echo.proto) through
 * the kernel.  A version 2 server thread answers a version 1 client (its
 * request built by hand, as an old binary would send it), the version 2
 * stubs, and malformed messages.  Prints TEST PASS/FAIL user.echo.NAME
 * lines and exits 0 if every test passed.
 */
#include "protocols/echo.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"

#define MESSAGES 5              /* messages the tests send */

static int failures;

static void report(const char *name, int ok)
{
    printf("TEST %s user.echo.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

static long on_echo(void *ctx, long rcvid, const struct echo_echo_req *req,
                    const void *payload, size_t payload_len, struct echo_echo_rep *rep)
{
    (void)ctx, (void)rcvid, (void)payload;
    rep->value = req->value + req->add;
    rep->bytes = (uint32_t)payload_len;
    return 1;
}

static long on_twice(void *ctx, long rcvid, const struct echo_echo_twice_req *req,
                     struct echo_echo_twice_rep *rep)
{
    (void)ctx, (void)rcvid;
    rep->first = rep->second = req->value;
    return 2;
}

/* Serves MESSAGES messages on the channel ARG, then ends. */
static long server_main(void *arg)
{
    static const struct echo_server tbl = { .echo = on_echo, .echo_twice = on_twice };
    static char buf[256];
    long chan = (long)arg;
    for (int served = 0; served < MESSAGES; ) {
        struct k_msg_info info;
        long rcvid = rt_msg_receive(chan, &(struct k_iov){ buf, sizeof(buf) }, 1, &info);
        if (rcvid < 0)
            return rcvid;
        if (rcvid == 0)
            continue;
        size_t len = info.send_len < sizeof(buf) ? info.send_len : sizeof(buf);
        echo_dispatch(&tbl, rcvid, buf, len);
        served++;
    }
    return 0;
}

/* What a version 1 client sends: header, then u32 value and padding. */
static long send_v1_echo(long conn, uint32_t value, uint64_t *reply_value)
{
    struct { struct k_proto_hdr h; uint32_t value, pad; } m =
        { { ECHO_PROTO_ID, 1, ECHO_MSG_ECHO, 0, 0 }, value, 0 };
    struct { uint64_t value; uint32_t bytes, pad; } rep = { 0, 0, 0 };
    long st = rt_msg_send(conn, &(struct k_iov){ &m, sizeof(m) }, 1,
                          &(struct k_iov){ &rep, sizeof(rep) }, 1);
    *reply_value = rep.value;
    return st;
}

static void run_tests(long conn)
{
    uint64_t v = 0;
    report("v1_client_on_v2_server", send_v1_echo(conn, 41, &v) == 1 && v == 41);

    struct echo_echo_req req = { .value = 40, .add = 2 };
    struct echo_echo_rep rep = { 0 };
    long st = echo_echo(conn, &req, "hello", 5, &rep);
    report("v2_echo_with_payload", st == 1 && rep.value == 42 && rep.bytes == 5);

    struct echo_echo_twice_req treq = { .value = 7 };
    struct echo_echo_twice_rep trep = { 0 };
    st = echo_echo_twice(conn, &treq, &trep);
    report("v2_echo_twice", st == 2 && trep.first == 7 && trep.second == 7);

    struct k_proto_hdr h = { ECHO_PROTO_ID, 2, 9, 0, 0 };
    st = rt_msg_send(conn, &(struct k_iov){ &h, sizeof(h) }, 1, 0, 0);
    report("unknown_message_is_nosys", st == -E_NOSYS);

    h.msg = ECHO_MSG_ECHO;
    st = rt_msg_send(conn, &(struct k_iov){ &h, 10 }, 1, 0, 0);
    report("truncated_message_is_inval", st == -E_INVAL);
}

int main(int argc, char **argv)
{
    static char stack[16384] __attribute__((aligned(16)));
    (void)argc, (void)argv;
    long chan = k_chan_create(0), conn = k_chan_connect(chan, 0, 0);
    struct rt_thread th;
    long t = rt_thread_spawn(&th, server_main, (void *)chan, stack, sizeof(stack), 0);
    if (chan < 0 || conn < 0 || t < 0)
        rt_abort("cannot start the echo server");
    run_tests(conn);
    long status = -1;
    report("server_served_all", rt_thread_join(t, &status) >= 0 && status == 0);
    printf("ECHOTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
