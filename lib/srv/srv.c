/*
 * srv: receive loop, thread pool and client table (see srv.h).
 *
 * The loop receives into a per-thread buffer on the stack, looks up the
 * client by the message's badge, calls the handler and answers with its
 * result.  A stop request is a pulse with code SRV_STOP_CODE sent through
 * a connection the server makes for itself; each thread that gets one
 * leaves the loop.  The server's own pulses are told from clients' by the
 * badge of that connection (self_badge): clients hold connections to the
 * same channel, some with badge 0 (handed out by the name space), and
 * could otherwise stop the server with a pulse.
 */
#include "srv/srv.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "rt/lock.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/syscall.h"
#include "rt/thread.h"

#define SRV_STOP_CODE 0x5700
#define SRV_BEAT_CODE 0x5701
#define SRV_BEAT_NS (100L * 1000000)     /* heartbeat period of a service on srv */

static void table_lock(struct srv *s)
{
    rt_lock(&s->lock);
}

static void table_unlock(struct srv *s)
{
    rt_unlock(&s->lock);
}

uint64_t srv_self_badge(void)
{
    /* Above every badge handed to clients (init's, procmgr's, srv's own
     * slots) and different in each life of the process: a connection a
     * past life made still works, but its pulses are not taken for ours. */
    return (1ULL << 62) | ((uint64_t)k_clock_get() & 0xffffffffffffULL);
}

void srv_init(struct srv *s, long chan, const struct srv_ops *ops, void *state)
{
    s->chan = chan;
    s->self_badge = srv_self_badge();
    s->ops = ops;
    s->state = state;
    s->stopping = 0;
    s->lock = 0;
    s->held.n = 0;
    s->stall_said = false;
    /* Generations start where no past life's can be: connections a past
     * life minted live on (the channel is kept across restarts), and a
     * badge of theirs must name no slot of this life.  A life's starting
     * generation is the clock in microseconds (32 bits: 71 minutes
     * around), and a slot would have to be used a million times a second
     * to reach the next life's. */
    uint32_t gen = (uint32_t)((uint64_t)k_clock_get() / 1000);
    for (unsigned i = 0; i < SRV_MAX_CLIENTS; i++)
        s->clients[i] = (struct srv_client){ 0, gen, false };
}

/* A minted badge: the mark, the slot's generation (bits 16-47) and the
 * slot + 1.  Badges that init and procmgr hand out (small numbers, pids)
 * never carry the mark, and srv_self_badge is above it. */
#define SRV_BADGE_MARK (1ULL << 61)

static uint64_t slot_badge(const struct srv *s, unsigned i)
{
    return SRV_BADGE_MARK | ((uint64_t)s->clients[i].gen << 16) | (i + 1);
}

/* The slot BADGE names while it is in use by that badge's holder, or -1. */
static long slot_of(const struct srv *s, uint64_t badge)
{
    if ((badge & ~0xffffffffffffULL) != SRV_BADGE_MARK)
        return -1;
    uint64_t i = (badge & 0xffff) - 1;
    if (i >= SRV_MAX_CLIENTS || !s->clients[i].used || slot_badge(s, (unsigned)i) != badge)
        return -1;
    return (long)i;
}

long srv_client_new(struct srv *s, void *data)
{
    table_lock(s);
    unsigned i = 0;
    while (i < SRV_MAX_CLIENTS && s->clients[i].used)
        i++;
    if (i == SRV_MAX_CLIENTS) {
        table_unlock(s);
        return -E_FULL;
    }
    s->clients[i].gen++;
    s->clients[i].data = data;
    s->clients[i].used = true;
    uint64_t badge = slot_badge(s, i);
    table_unlock(s);
    long conn = k_chan_connect(s->chan, (long)badge, K_CONN_REPORT_END);
    if (conn < 0)
        srv_client_free(s, badge);
    return conn;
}

void *srv_client_data(struct srv *s, uint64_t badge)
{
    table_lock(s);
    long i = slot_of(s, badge);
    void *d = i >= 0 ? s->clients[i].data : NULL;
    table_unlock(s);
    return d;
}

void srv_client_free(struct srv *s, uint64_t badge)
{
    table_lock(s);
    long i = slot_of(s, badge);
    if (i >= 0) {
        s->clients[i].data = NULL;
        s->clients[i].used = false;
    }
    table_unlock(s);
}

/* The kernel's report that a connection has ended. */
static void client_ended(struct srv *s, uint64_t badge)
{
    table_lock(s);
    long i = slot_of(s, badge);
    void *d = i >= 0 ? s->clients[i].data : NULL;
    table_unlock(s);
    if (i < 0)
        return;                    /* not minted by us, or freed already */
    if (s->ops->disconnect)
        s->ops->disconnect(s, d);
    srv_client_free(s, badge);
}

long srv_reply(struct srv_msg *m, long status, const void *data, size_t len)
{
    return k_msg_reply(m->rcvid, status, (long)data, -(long)len);
}

long srv_read(struct srv_msg *m, size_t offset, void *buf, size_t len)
{
    return k_msg_read(m->rcvid, (long)offset, (long)buf, (long)len);
}

long srv_write(struct srv_msg *m, size_t offset, const void *buf, size_t len)
{
    return k_msg_write(m->rcvid, (long)offset, (long)buf, (long)len);
}

long srv_whole(struct srv_msg *m, void *buf, size_t cap)
{
    if (m->info.send_len <= m->len)
        return 0;
    if (m->info.send_len > cap)
        return -E_TOOBIG;
    long n = srv_read(m, 0, buf, m->info.send_len);
    if (n < 0)
        return n;
    m->data = buf;
    m->len = (size_t)n;
    return 0;
}

/* Answers M with what its handler returned. */
static void finish(struct srv_msg *m, long r)
{
    if (r == SRV_REPLIED)
        return;
    if (r >= 0)
        k_msg_reply(m->rcvid, r, 0, 0);
    else
        k_msg_error(m->rcvid, -r);
}

/* With ops->stall_ms: whether more requests have been held that long
 * than ops->waiting says wait by design (the requests held now, against
 * those at the last look). */
static bool stalled(struct srv *s)
{
    if (!s->ops->stall_ms)
        return false;
    if (rt_held_look(&s->held, 0) < 0)
        return false;
    unsigned old = rt_held_older(&s->held, k_clock_get(), (long)s->ops->stall_ms * 1000000);
    bool stall = old > (s->ops->waiting ? s->ops->waiting(s) : 0);
    if (stall && !s->stall_said)
        printf("srv: a request held for %u ms or more: no more heartbeats\n", s->ops->stall_ms);
    s->stall_said |= stall;
    return stall;
}

long srv_loop(struct srv *s)
{
    uint64_t buf[SRV_BUFSIZE / 8];
    for (;;) {
        struct srv_msg m = { .srv = s, .data = buf };
        m.rcvid = k_msg_receive(s->chan, (long)buf, -(long)sizeof(buf), (long)&m.info);
        if (m.rcvid < 0)
            return m.rcvid;                          /* the channel is gone */
        if (m.rcvid == 0 && m.info.type == K_MSG_DISCONNECT) {
            client_ended(s, m.info.badge);
            continue;
        }
        if (m.rcvid == 0) {
            bool own = m.info.badge == s->self_badge;
            if (own && m.info.code == SRV_STOP_CODE)
                return 0;
            if (own && m.info.code == SRV_BEAT_CODE) {
                if (!stalled(s))
                    rt_heartbeat();        /* the loop is alive (and serving): say so */
                continue;
            }
            if (s->ops->pulse)
                s->ops->pulse(s, &m.info);
            continue;
        }
        m.len = m.info.send_len < sizeof(buf) ? m.info.send_len : sizeof(buf);
        m.client = srv_client_data(s, m.info.badge);
        finish(&m, s->ops->message(&m));
        if (m.info.handle)                   /* not kept by the handler */
            k_handle_close(m.info.handle);
    }
}

/* A service with a "heartbeat" handle heartbeats from its receive loop:
 * a timer pulses the loop, which answers with rt_heartbeat, so a loop
 * that is stuck stops the heartbeats. */
static void start_heartbeat(struct srv *s)
{
    if (rt_handle("heartbeat") < 0)
        return;
    long self = k_chan_connect(s->chan, (long)s->self_badge, 0);
    long t = self >= 0 ? k_timer_create(self, SRV_BEAT_CODE, 0) : self;
    if (t < 0 || k_timer_set(t, SRV_BEAT_NS, SRV_BEAT_NS) < 0)
        printf("srv: cannot start heartbeats: %s\n", k_strerror(t));
    rt_heartbeat();
}

int srv_main(struct srv *s, const char *name, const struct srv_ops *ops, void *state)
{
    long chan = rt_handle("chan");
    if (chan < 0) {
        printf("%s: no channel given (start me from init)\n", name);
        return 1;
    }
    srv_init(s, chan, ops, state);
    start_heartbeat(s);
    return (int)srv_loop(s);
}

struct pool_thread {
    struct rt_thread th;
    struct srv *s;
};

static long pool_main(void *arg)
{
    return srv_loop(((struct pool_thread *)arg)->s);
}

long srv_run(struct srv *s, unsigned nthreads, void *stacks, size_t stack_size)
{
    struct pool_thread pool[SRV_MAX_THREADS];
    long handles[SRV_MAX_THREADS];
    if (nthreads == 0 || nthreads > SRV_MAX_THREADS)
        return -E_INVAL;
    unsigned started = 0;
    for (unsigned i = 1; i < nthreads; i++) {
        pool[i].s = s;
        handles[i] = rt_thread_spawn(&pool[i].th, pool_main, &pool[i],
                                     (char *)stacks + (i - 1) * stack_size, stack_size, 0);
        if (handles[i] < 0)
            break;
        started = i;
    }
    long r = srv_loop(s);
    for (unsigned i = 1; i <= started; i++) {
        k_thread_join(handles[i], 0);
        k_handle_close(handles[i]);
    }
    return r;
}

void srv_stop(struct srv *s, unsigned nthreads)
{
    s->stopping = 1;
    long self = k_chan_connect(s->chan, (long)s->self_badge, 0);
    for (unsigned i = 0; i < nthreads && self >= 0; i++)
        k_pulse_send(self, SRV_STOP_CODE, 0, 0);
    if (self >= 0)
        k_handle_close(self);
}
