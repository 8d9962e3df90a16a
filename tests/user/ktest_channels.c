/*
 * ktest_channels: connections whose end their channel is told of
 * (K_CONN_REPORT_END), and lib/srv's per-client slots built on them.
 * Included by ktest.c.
 */

/* Receives once on CH; the message's type, with its badge in *BADGE. */
static long recv_type(long ch, uint64_t *badge)
{
    struct k_msg_info info;
    memset(&info, 0, sizeof(info));
    long r = rt_msg_receive(ch, 0, 0, &info);
    if (r != 0)
        return r < 0 ? r : -1000;
    *badge = info.badge;
    if (info.type == K_MSG_DISCONNECT && (info.pid || info.code || info.value))
        return -1001;                          /* nothing but the badge */
    return info.type;
}

struct disc_rx {
    long ch;
    long type;
    uint64_t badge;
};

static long disc_receiver(void *arg)
{
    struct disc_rx *rx = arg;
    rx->type = recv_type(rx->ch, &rx->badge);
    return 0;
}

static bool test_chan_disconnect(void)
{
    struct k_sysinfo before = sysinfo();
    long ch = k_chan_create(0);
    long self = k_chan_connect(ch, 5, 0);
    CHECK(ch > 0 && self > 0);
    CHECK_EQ(k_chan_connect(ch, 1, 2), -E_INVAL);
    CHECK_EQ(k_chan_connect(ch, 1, -1), -E_INVAL);
    CHECK_EQ(k_chan_connect(self, 1, K_CONN_REPORT_END), -E_WRONGTYPE);
    uint64_t badge = 0;

    /* The end is the last handle's: a duplicate keeps it alive. */
    long c = k_chan_connect(ch, 77, K_CONN_REPORT_END), d = k_handle_dup(c, K_RIGHT_SEND | K_RIGHT_DUP);
    CHECK(c > 0 && d > 0);
    CHECK_EQ(k_handle_close(c), 0);
    CHECK_EQ(k_pulse_send(self, 1, 0, 0), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    CHECK_EQ(badge, 5);
    CHECK_EQ(k_handle_close(d), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_DISCONNECT);
    CHECK_EQ(badge, 77);

    /* A full pulse queue loses no report: pulses first (same priority), then it. */
    long e = k_chan_connect(ch, 88, K_CONN_REPORT_END);
    int sent = 0;
    while (k_pulse_send(self, 2, 0, 0) == 0)
        sent++;
    CHECK_EQ(sent, K_PULSE_QUEUE);
    CHECK_EQ(k_handle_close(e), 0);
    for (int i = 0; i < sent; i++)
        CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_DISCONNECT);
    CHECK_EQ(badge, 88);

    /* A receiver already waiting gets it at once. */
    struct disc_rx rx = { ch, 0, 0 };
    struct rt_thread th;
    long t = rt_thread_spawn(&th, disc_receiver, &rx, stack_a, sizeof(stack_a), 0);
    CHECK(t > 0);
    k_thread_sleep(5 * 1000000);                  /* let it block */
    CHECK_EQ(k_handle_close(k_chan_connect(ch, 99, K_CONN_REPORT_END)), 0);
    CHECK_EQ(rt_thread_join(t, 0), 0);
    k_handle_close(t);
    CHECK_EQ(rx.type, K_MSG_DISCONNECT);
    CHECK_EQ(rx.badge, 99);

    /* A process's death ends what it held. */
    long f = k_chan_connect(ch, 123, K_CONN_REPORT_END);
    struct k_spawn_handle sh = { (uint32_t)f, K_RIGHT_SEND, "conn" };
    struct k_spawn sp = { .nhandles = 1, .handles = &sh, .image = (uint32_t)rt_handle("bootfs") };
    long p = k_process_create((long)"holder", 6, (long)&sp);
    CHECK(p > 0);
    CHECK_EQ(k_handle_close(f), 0);               /* the child's copy is the last */
    CHECK_EQ(k_pulse_send(self, 3, 0, 0), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    CHECK_EQ(k_process_kill(p, 1), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_DISCONNECT);
    CHECK_EQ(badge, 123);
    k_handle_close(p);

    /* Revoked connections are not reported. */
    long g = k_chan_connect(ch, 55, K_CONN_REPORT_END);
    CHECK_EQ(k_chan_revoke(ch), 0);
    CHECK_EQ(k_handle_close(g), 0);
    CHECK_EQ(k_handle_close(self), 0);            /* revoked too */
    self = k_chan_connect(ch, 6, 0);
    CHECK_EQ(k_pulse_send(self, 4, 0, 0), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    CHECK_EQ(badge, 6);

    /* An ordinary connection says nothing. */
    CHECK_EQ(k_handle_close(k_chan_connect(ch, 2, 0)), 0);
    CHECK_EQ(k_pulse_send(self, 5, 0, 0), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    CHECK_EQ(badge, 6);

    /* Reports nobody took die with the channel: nothing leaks. */
    for (int i = 0; i < 10; i++)
        CHECK_EQ(k_handle_close(k_chan_connect(ch, 200 + i, K_CONN_REPORT_END)), 0);
    k_handle_close(self);
    CHECK_EQ(k_handle_close(ch), 0);
    for (int i = 0; i < 3; i++) {                 /* the dead child is reaped */
        sysinfo();
        k_thread_sleep(2 * 1000000);
    }
    struct k_sysinfo after = sysinfo();
    CHECK_EQ(after.connections, before.connections);
    CHECK_EQ(after.channels, before.channels);
    CHECK_EQ(after.processes, before.processes);
    return true;
}

/* lib/srv: a minted connection's end frees its slot (ops.disconnect
 * first); a badge that was not minted, or a slot's old badge, names no
 * client. */
static struct srv disc_srv;
static volatile int disc_ended;
static void *disc_last;

static long disc_message(struct srv_msg *m)
{
    return m->client ? (long)*(int *)m->client : -E_BADHANDLE;
}

static void disc_gone(struct srv *s, void *data)
{
    (void)s;
    disc_last = data;
    __atomic_add_fetch(&disc_ended, 1, __ATOMIC_SEQ_CST);
}

static long disc_loop(void *arg)
{
    return srv_loop(arg);
}

static bool test_srv_disconnect(void)
{
    static const struct srv_ops ops = { .message = disc_message, .disconnect = disc_gone };
    static int one = 1, two = 2;
    long ch = k_chan_create(0);
    CHECK(ch > 0);
    srv_init(&disc_srv, ch, &ops, 0);
    struct rt_thread th;
    long t = rt_thread_spawn(&th, disc_loop, &disc_srv, stack_a, sizeof(stack_a), 0);
    CHECK(t > 0);
    long a = srv_client_new(&disc_srv, &one);
    CHECK(a > 0);
    CHECK_EQ(k_msg_send(a, (long)"x", -1, 0, 0), 1);
    long plain = k_chan_connect(ch, 1, 0);           /* as init hands out: badge 1 */
    CHECK_EQ(k_msg_send(plain, (long)"x", -1, 0, 0), -E_BADHANDLE);
    CHECK_EQ(k_handle_close(plain), 0);           /* not minted: ignored */
    long keep = k_handle_dup(a, K_RIGHT_SEND);
    CHECK_EQ(k_handle_close(a), 0);
    CHECK_EQ(k_msg_send(keep, (long)"x", -1, 0, 0), 1);   /* still the client */
    CHECK_EQ(disc_ended, 0);
    CHECK_EQ(k_handle_close(keep), 0);
    for (int i = 0; i < 100 && disc_ended == 0; i++)
        k_thread_sleep(1000000);
    CHECK_EQ(disc_ended, 1);
    CHECK(disc_last == &one);
    long b = srv_client_new(&disc_srv, &two);     /* the same slot, a new badge */
    CHECK(b > 0);
    CHECK_EQ(k_msg_send(b, (long)"x", -1, 0, 0), 2);
    srv_stop(&disc_srv, 1);
    CHECK_EQ(rt_thread_join(t, 0), 0);
    k_handle_close(t);
    k_handle_close(b);
    k_handle_close(ch);
    return true;
}
