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
    CHECK_EQ(sent, K_PULSE_SENT_MAX);
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

/* chan_interrupts: a pulse queued on the channel interrupts the bound
 * thread: its sleep, its receive elsewhere or its unreceived send fails
 * with E_INTERRUPTED; while it waits for a reply the server gets a
 * K_MSG_UNBLOCK naming it. */
struct intr_arg {
    long ch, other, conn;
    int what;                       /* 0 sleep, 1 receive elsewhere, 2 send, 3 send served */
    long result;
    long done_at;
};

static long intr_main(void *arg)
{
    struct intr_arg *a = arg;
    if (a->what == 0)
        a->result = k_thread_sleep(5000L * 1000000);
    else if (a->what == 1)
        a->result = rt_msg_receive(a->other, 0, 0, 0);
    else
        a->result = k_msg_send(a->conn, (long)"x", -1, 0, 0);
    a->done_at = k_clock_get();
    return 0;
}

static long intr_pulser(void *arg)
{
    struct intr_arg *a = arg;
    a->result = k_pulse_send(a->ch, 8, 0, 0);
    return 0;
}

static long intr_run(struct intr_arg *a, long pulse_conn, long *thread)
{
    struct rt_thread th;
    long t = rt_thread_spawn(&th, intr_main, a, stack_a, sizeof(stack_a), 0);
    if (t <= 0)
        return -1;
    *thread = t;
    if (k_chan_interrupts(a->ch, t) != 0)
        return -2;
    k_thread_sleep(20 * 1000000);                  /* it blocks */
    long sent = k_clock_get();
    if (k_pulse_send(pulse_conn, 7, 0, 0) != 0)
        return -3;
    return sent;
}

static bool test_chan_interrupts(void)
{
    long ch = k_chan_create(0), pc = k_chan_connect(ch, 1, 0);
    long other = k_chan_create(0), oc = k_chan_connect(other, 2, 0);
    CHECK(ch > 0 && pc > 0 && other > 0 && oc > 0);
    /* Hostile. */
    CHECK_EQ(k_chan_interrupts(0x7fff1234, 0), -E_BADHANDLE);
    CHECK_EQ(k_chan_interrupts(pc, 0), -E_WRONGTYPE);
    CHECK_EQ(k_chan_interrupts(ch, pc), -E_WRONGTYPE);
    CHECK_EQ(k_chan_interrupts(ch, 0x7fff1234), -E_BADHANDLE);
    long norecv = k_handle_dup(ch, K_RIGHT_DUP);
    CHECK_EQ(k_chan_interrupts(norecv, 0), -E_RIGHTS);
    k_handle_close(norecv);

    /* A sleep, a receive elsewhere, an unreceived send. */
    for (int what = 0; what < 3; what++) {
        struct intr_arg a = { ch, other, oc, what, 12345, 0 };
        long t = 0;
        long sent = intr_run(&a, pc, &t);
        CHECK(sent > 0);
        CHECK_EQ(rt_thread_join(t, 0), 0);
        k_handle_close(t);
        CHECK_EQ(a.result, -E_INTERRUPTED);
        CHECK(a.done_at - sent < 1000L * 1000000);          /* at once, not at the end */
        uint64_t badge;
        CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);        /* the pulse is still there */
    }
    /* The send was taken back: nothing waits on OTHER. */
    CHECK_EQ(k_pulse_send(oc, 9, 0, 0), 0);
    uint64_t badge = 0;
    CHECK_EQ(recv_type(other, &badge), K_MSG_PULSE);

    /* Waiting for a reply: the server hears, the client waits for it. */
    struct intr_arg a = { ch, other, oc, 3, 12345, 0 };
    struct rt_thread th;
    long t = rt_thread_spawn(&th, intr_main, &a, stack_a, sizeof(stack_a), 0);
    CHECK(t > 0 && k_chan_interrupts(ch, t) == 0);
    struct k_msg_info info;
    long rcvid = rt_msg_receive(other, 0, 0, &info);
    CHECK(rcvid > 0);                              /* its message: it waits for the reply */
    CHECK_EQ(k_pulse_send(pc, 7, 0, 0), 0);
    memset(&info, 0, sizeof(info));
    CHECK_EQ(rt_msg_receive(other, 0, 0, &info), 0);
    CHECK_EQ(info.type, K_MSG_UNBLOCK);
    CHECK_EQ((long)info.value, rcvid);
    CHECK_EQ(info.pid, 0);
    CHECK_EQ(info.badge, 2);
    CHECK_EQ(a.result, 12345);                     /* still waiting */
    CHECK_EQ(k_msg_reply(rcvid, 5, 0, 0), 0);
    CHECK_EQ(rt_thread_join(t, 0), 0);
    k_handle_close(t);
    CHECK_EQ(a.result, 5);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    /* A forged report is a plain pulse: the type cannot be sent. */
    CHECK_EQ(k_pulse_send(oc, 0, rcvid, 0), 0);
    memset(&info, 0, sizeof(info));
    CHECK_EQ(rt_msg_receive(other, 0, 0, &info), 0);
    CHECK_EQ(info.type, K_MSG_PULSE);

    /* Our own pulses do not interrupt us. */
    CHECK_EQ(k_chan_interrupts(ch, 0), 0);
    CHECK_EQ(k_pulse_send(pc, 8, 0, 0), 0);
    CHECK_EQ(k_thread_sleep(1000000), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    /* Interrupted while not blocked (joining is not interruptible): the
     * next block fails at once, once. */
    struct intr_arg pa = { pc, 0, 0, 0, 0, 0 };
    t = rt_thread_spawn(&th, intr_pulser, &pa, stack_a, sizeof(stack_a), 0);
    CHECK(t > 0);
    CHECK_EQ(rt_thread_join(t, 0), 0);
    k_handle_close(t);
    CHECK_EQ(pa.result, 0);
    long t0 = k_clock_get();
    CHECK_EQ(k_thread_sleep(2000L * 1000000), -E_INTERRUPTED);
    CHECK(k_clock_get() - t0 < 500L * 1000000);
    CHECK_EQ(k_thread_sleep(1000000), 0);          /* told once */
    /* A receive on the bound channel itself just gets the pulse. */
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    /* Unbound: pulses wait quietly. */
    CHECK_EQ(k_chan_interrupts(ch, -1), 0);
    CHECK_EQ(k_pulse_send(pc, 9, 0, 0), 0);
    CHECK_EQ(k_thread_sleep(20 * 1000000), 0);
    CHECK_EQ(recv_type(ch, &badge), K_MSG_PULSE);
    k_handle_close(oc);
    k_handle_close(other);
    k_handle_close(pc);
    k_handle_close(ch);
    return true;
}
