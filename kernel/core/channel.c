/*
 * channel: message passing (see channel.h and core/ipc.h).
 *
 * The path of one round trip, client C and server thread S on one CPU:
 *   C: msg_send   S waits in receive: copy C's message into S's buffers,
 *                 C becomes REPLY_BLOCKED on S, S inherits C's priority,
 *                 direct switch C -> S (no run queue).
 *   S: msg_reply_receive   copy the reply into C's buffers, C is released;
 *                 no message is waiting, so S blocks in receive and the
 *                 CPU switches straight back to C.
 * Small messages (up to K_SMALL_MSG bytes, most of them) travel like L4's
 * message registers: the sender copies them into a buffer in the
 * receiving thread's kernel structure, and the receiver copies them out in
 * its own address space, so neither side walks the other's page tables.
 * Larger ones are copied once, between the current address space (through
 * the hardware, faults absorbed) and the other one (through the direct
 * map, see vm_xfer), and never under ipc_lock (docs/decisions/0012): the
 * rendezvous happens under the lock, then the thread that runs next copies
 * with interrupts on, holding references to its peer and only the peer
 * space's lock for one page at a time, and yields to higher priorities
 * between pages.  A received message is pulled by the receiver (small_len
 * -2); a reply is pushed by the replier before it releases the client;
 * msg_read/msg_write likewise.  Handles carried by messages move under the
 * lock from thread to thread and are installed by their receiver, outside
 * it.  Server threads are pulled to their client's CPU, so a message pass
 * does not move work between CPUs.
 */
#include "core/channel.h"

#include "arch/x86_64/percpu.h"
#include "base/string.h"
#include "core/ipc.h"
#include "core/kmem.h"
#include "core/printk.h"
#include "core/process.h"
#include "core/sched.h"
#include "core/slab.h"
#include "core/syscall.h"
#include "core/vm.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"

uint64_t channel_live, connection_live;

/* Off the round-trip path: built for size (the file is built with -O2). */
#define COLD __attribute__((cold))

COLD struct channel *channel_create(struct process *owner)
{
    struct channel *ch = kmem_zalloc(sizeof(*ch));     /* more than a kmalloc object */
    if (!ch)
        return NULL;
    object_init(&ch->obj, K_OBJ_CHANNEL);
    ch->closed_tail = &ch->closed;
    object_get(&owner->obj);               /* ch->owner stays valid memory (boost_servers) */
    ch->owner = ch->creator = owner;
    __atomic_add_fetch(&channel_live, 1, __ATOMIC_RELAXED);
    return ch;
}

COLD struct connection *connection_create(struct channel *ch, uint64_t badge, bool report_end)
{
    struct connection *c = kzalloc(sizeof(*c));
    if (!c)
        return NULL;
    object_init(&c->obj, K_OBJ_CONNECTION);
    bool was = spin_lock_irqsave(&ipc_lock);
    object_get(&ch->obj);
    ch->nconn++;
    c->chan = ch;
    c->generation = ch->generation;
    c->badge = badge;
    c->report_end = report_end;
    spin_unlock_irqrestore(&ipc_lock, was);
    __atomic_add_fetch(&connection_live, 1, __ATOMIC_RELAXED);
    return c;
}

/* ---- queues (ipc_lock held) ---- */

static void list_remove(struct thread **head, struct thread *t)
{
    while (*head && *head != t)
        head = &(*head)->ipc_next;
    if (*head)
        *head = t->ipc_next;
    t->ipc_next = NULL;
}

static void senders_insert(struct channel *ch, struct thread *t)
{
    struct thread **pp = &ch->senders;
    while (*pp && (*pp)->prio >= t->prio)
        pp = &(*pp)->ipc_next;
    t->ipc_next = *pp;
    *pp = t;
}

static void wake_with(struct thread *t, long ret)
{
    t->ipc_ret = ret;
    sched_wake(t);
}

/* The channel lost its server: everyone blocked on it fails.  Returns
 * the ended connections it still held, for the caller to free once it
 * has let go of ipc_lock (connection_free). */
COLD static struct connection *channel_kill(struct channel *ch)
{
    ch->dead = true;
    ch->owner = NULL;
    while (ch->senders) {
        struct thread *t = ch->senders;
        ch->senders = t->ipc_next;
        wake_with(t, -E_DEAD);
    }
    while (ch->receivers) {
        struct thread *t = ch->receivers;
        ch->receivers = t->ipc_next;
        wake_with(t, -E_DEAD);
    }
    ch->npulses = ch->npending = 0;
    struct connection *closed = ch->closed;
    ch->closed = NULL;
    ch->closed_tail = &ch->closed;
    return closed;
}

static void connection_free(struct connection *c);

void channel_put(struct channel *ch)
{
    /* Handle lookups take references without ipc_lock, so the count is
     * atomic, and whoever drops it to zero frees the channel.  Only a drop
     * to "connections only" needs the lock (nconn changes under it); while
     * anyone else holds the channel it has more references than that. */
    uint32_t left = __atomic_sub_fetch(&ch->obj.refs, 1, __ATOMIC_ACQ_REL);
    if (left > __atomic_load_n(&ch->nconn, __ATOMIC_RELAXED) + 1)
        return;
    if (left) {
        struct connection *closed = NULL;
        bool was = spin_lock_irqsave(&ipc_lock);
        uint32_t now = __atomic_load_n(&ch->obj.refs, __ATOMIC_ACQUIRE);
        if (now && now == ch->nconn && !ch->dead)
            closed = channel_kill(ch);
        spin_unlock_irqrestore(&ipc_lock, was);
        while (closed) {              /* each holds a reference: the last frees ch */
            struct connection *c = closed;
            closed = c->next_closed;
            bool w = spin_lock_irqsave(&ipc_lock);
            ch->nconn--;
            spin_unlock_irqrestore(&ipc_lock, w);
            connection_free(c);
        }
        return;
    }
    struct process *creator = ch->creator;
    if (ch->interrupts)
        object_put(&ch->interrupts->obj);
    kmem_free(ch, sizeof(*ch));
    __atomic_sub_fetch(&channel_live, 1, __ATOMIC_RELAXED);
    object_put(&creator->obj);
}

/* Frees an ended connection no longer counted in its channel's nconn. */
COLD static void connection_free(struct connection *c)
{
    channel_put(c->chan);
    kfree(c);
    __atomic_sub_fetch(&connection_live, 1, __ATOMIC_RELAXED);
}

/* The last reference is gone.  With K_CONN_REPORT_END its end is
 * reported: to a waiting receiver at once, else through the closed list,
 * where the connection stays (counted in nconn) until it is taken. */
COLD void connection_destroy(struct connection *c)
{
    struct channel *ch = c->chan;
    bool was = spin_lock_irqsave(&ipc_lock);
    if (c->report_end && !ch->dead && c->generation == ch->generation) {
        c->close_prio = current_thread()->prio;
        if (ch->receivers) {
            struct thread *s = ch->receivers;
            ch->receivers = s->ipc_next;
            s->ipc_info = (struct k_msg_info){ .type = K_MSG_DISCONNECT,
                                               .priority = c->close_prio, .badge = c->badge };
            if (c->close_prio > s->prio)
                s->prio = (uint8_t)c->close_prio;
            wake_with(s, 0);
        } else {
            c->next_closed = NULL;
            *ch->closed_tail = c;
            ch->closed_tail = &c->next_closed;
            ch->npending++;
            spin_unlock_irqrestore(&ipc_lock, was);
            return;
        }
    }
    ch->nconn--;
    spin_unlock_irqrestore(&ipc_lock, was);
    connection_free(c);
}

/* Takes the oldest ended connection off CH's closed list for T (its
 * report in T's ipc_info; T frees it after ipc_lock).  ipc_lock held. */
COLD static void take_closed(struct thread *t, struct channel *ch)
{
    struct connection *c = ch->closed;
    ch->closed = c->next_closed;
    if (!ch->closed)
        ch->closed_tail = &ch->closed;
    ch->npending--;
    ch->nconn--;
    t->ipc_info = (struct k_msg_info){ .type = K_MSG_DISCONNECT, .priority = c->close_prio,
                                       .badge = c->badge };
    if (c->close_prio > t->prio)
        t->prio = (uint8_t)c->close_prio;
    t->rx_closed = c;
}

/* ---- copying ---- */

/* Copies between the current space's iov CUR and OTHER's iov OIOV,
 * starting OFF bytes into OIOV, at most MAX bytes.  TO_OTHER: CUR -> OIOV.
 * Returns bytes copied, or -1 when the current side faulted, -2 when the
 * other side did, -3 when the current thread was killed meanwhile.  No
 * lock held (vm_xfer checks): the caller holds references to OTHER. */
/* A thread whose buffers are copied to or from out of ipc_lock:
 * references on it and its process, and its iov as it was under the lock
 * (peer_get). */
struct peer {
    struct thread *t;
    struct process *p;
    unsigned parts;
    struct k_iov iov[K_IOV_MAX];
};

static long xfer(const struct k_iov *cur, unsigned ncur, struct vm_space *other,
                 const struct k_iov *oiov, unsigned noth, uint64_t off, uint64_t max,
                 bool to_other)
{
    unsigned ci = 0, oi = 0;
    uint64_t cpos = 0, opos = off, done = 0;
    while (oi < noth && opos >= oiov[oi].len)
        opos -= oiov[oi++].len;
    while (done < max && ci < ncur && oi < noth) {
        uint64_t n = cur[ci].len - cpos;
        if (oiov[oi].len - opos < n)
            n = oiov[oi].len - opos;
        if (max - done < n)
            n = max - done;
        if (n) {
            int r = vm_xfer(other, (uintptr_t)oiov[oi].base + opos,
                            (uintptr_t)cur[ci].base + cpos, n, to_other);
            if (r)
                return r;
        }
        done += n;
        cpos += n;
        opos += n;
        if (cpos == cur[ci].len)
            ci++, cpos = 0;
        if (opos == oiov[oi].len)
            oi++, opos = 0;
    }
    return (long)done;
}

/* Reads an iov array from user space into OUT; returns its total length
 * or a negative error.  PARTS < 0 means UIOV is one flat buffer of -PARTS
 * bytes (QNX's MsgSend as opposed to MsgSendv): nothing to read then. */
static long iov_fetch_array(struct k_iov *out, uintptr_t uiov, long parts);

static inline __attribute__((always_inline))
long iov_fetch(struct k_iov *out, uintptr_t uiov, long parts)
{
    if (parts < 0) {
        if (parts < -(long)K_MSG_MAX)
            return -E_TOOBIG;
        out[0].base = (void *)uiov;
        out[0].len = (size_t)-parts;
        return user_range_ok(uiov, (size_t)-parts) ? -parts : -E_FAULT;
    }
    return iov_fetch_array(out, uiov, parts);
}

COLD static long iov_fetch_array(struct k_iov *out, uintptr_t uiov, long parts)
{
    if ((unsigned long)parts > K_IOV_MAX)
        return -E_TOOBIG;
    if (parts && copy_from_user(out, (const void *)uiov, (size_t)parts * sizeof(*out)))
        return -E_FAULT;
    uint64_t total = 0;
    for (long i = 0; i < parts; i++) {
        if (out[i].len > K_MSG_MAX)
            return -E_TOOBIG;
        if (!user_range_ok((uintptr_t)out[i].base, out[i].len))
            return -E_FAULT;
        total += out[i].len;
    }
    return total > K_MSG_MAX ? -E_TOOBIG : (long)total;
}

/* Buffers the kernel will write under ipc_lock must not be copy-on-write
 * then (the fault could not be resolved there): break COW now.  Costs a
 * load unless the process has COW memory. */
static inline void prepare_writes(struct thread *t, const struct k_iov *iov, unsigned parts,
                                  long info)
{
    struct vm_space *s = &t->proc->vm;
    if (__builtin_expect(!__atomic_load_n(&s->cow_regions, __ATOMIC_RELAXED), 1))
        return;
    for (unsigned i = 0; i < parts; i++)
        vm_prepare_write(s, (uintptr_t)iov[i].base, iov[i].len);
    if (info)
        vm_prepare_write(s, (uintptr_t)info, sizeof(struct k_msg_info));
}

/* The number of k_iov entries iov_fetch filled for PARTS. */
static unsigned nparts(long parts)
{
    return parts < 0 ? 1 : (unsigned)parts;
}

/* Copies the current space's IOV (TOTAL <= K_SMALL_MSG bytes) into BUF. */
static int gather_parts(uint8_t *buf, const struct k_iov *iov, unsigned parts, uint64_t total);

static inline __attribute__((always_inline))
int gather(uint8_t *buf, const struct k_iov *iov, unsigned parts, uint64_t total)
{
    if (parts == 1)
        return copy_from_user(buf, iov[0].base, total);
    return gather_parts(buf, iov, parts, total);
}

COLD static int gather_parts(uint8_t *buf, const struct k_iov *iov, unsigned parts, uint64_t total)
{
    for (unsigned i = 0; i < parts && total; i++) {
        uint64_t n = iov[i].len < total ? iov[i].len : total;
        if (copy_from_user(buf, iov[i].base, n))
            return -E_FAULT;
        buf += n;
        total -= n;
    }
    return 0;
}

/* Copies LEN bytes of BUF into the current space's IOV, as many as fit;
 * returns the bytes copied or -E_FAULT. */
static long scatter_parts(const struct k_iov *iov, unsigned parts, const uint8_t *buf, uint64_t len);

static inline __attribute__((always_inline))
long scatter(const struct k_iov *iov, unsigned parts, const uint8_t *buf, uint64_t len)
{
    if (parts == 1) {
        uint64_t n = iov[0].len < len ? iov[0].len : len;
        return copy_to_user(iov[0].base, buf, n) ? -E_FAULT : (long)n;
    }
    return scatter_parts(iov, parts, buf, len);
}

COLD static long scatter_parts(const struct k_iov *iov, unsigned parts, const uint8_t *buf, uint64_t len)
{
    uint64_t done = 0;
    for (unsigned i = 0; i < parts && done < len; i++) {
        uint64_t n = iov[i].len < len - done ? iov[i].len : len - done;
        if (copy_to_user(iov[i].base, buf + done, n))
            return -E_FAULT;
        done += n;
    }
    return (long)done;
}

/* ---- handles carried by messages ---- */

/* Moves FROM's attached handle (object and rights, with its reference)
 * to TO, which installs it itself once out of ipc_lock (take_handle): a
 * handle table's lock is never taken under ipc_lock.  ipc_lock held. */
COLD static void pass_handle_slow(struct thread *from, struct thread *to)
{
    if (to->rx_obj)
        return;                  /* cannot happen; the sender drops it */
    to->rx_obj = from->att_obj;
    to->rx_rights = from->att_rights;
    from->att_obj = NULL;
}

static inline void pass_handle(struct thread *from, struct thread *to)
{
    if (__builtin_expect(from->att_obj != NULL, 0))
        pass_handle_slow(from, to);
}

/* The handle passed to T, installed in its process when its call
 * succeeded (OK), else dropped; returns its value or 0.  No lock held. */
COLD static uint32_t take_handle(struct thread *t, bool ok)
{
    struct kobject *o = t->rx_obj;
    t->rx_obj = NULL;
    long h = ok ? handle_install(&t->proc->handles, o, t->rx_rights) : 0;
    if (h < 0)
        kprintf("ipc: handle sent to process %lu dropped (error %ld)\n", t->proc->pid, -h);
    object_put(o);
    return h > 0 ? (uint32_t)h : 0;
}

/* An attachment not delivered (the call failed) is dropped. */
static void drop_attachment(struct thread *t)
{
    if (t->att_obj) {
        object_put(t->att_obj);
        t->att_obj = NULL;
    }
}

COLD long sys_handle_attach(long h, long rights, long move)
{
    if (rights < 0 || (rights & ~(long)K_RIGHTS_ALL) || (move != 0 && move != 1))
        return -E_INVAL;
    struct thread *t = current_thread();
    struct kobject *o;
    uint32_t have = 0;
    int err = handle_get(&t->proc->handles, h, K_OBJ_NONE, K_RIGHT_TRANSFER, &o, &have);
    if (err)
        return err;
    if ((uint32_t)rights & ~have) {
        object_put(o);
        return -E_RIGHTS;
    }
    if (move)
        handle_close(&t->proc->handles, h);
    drop_attachment(t);
    t->att_obj = o;
    t->att_rights = (uint32_t)rights;
    return 0;
}

COLD long sys_handle_received(void)
{
    struct thread *t = current_thread();
    long h = t->got_handle;
    t->got_handle = 0;
    return h ? h : -E_NOENT;
}

/* ---- priority inheritance (ipc_lock held) ---- */

/* The priority S should run at: its own, or that of the best client it
 * serves. */
static uint8_t served_max(struct thread *s)
{
    uint8_t p = s->base_prio;
    if (!s->proc)
        return p;
    for (struct thread *c = s->proc->clients; c; c = c->ipc_next)
        if (c->ipc_server == s && c->prio > p)
            p = c->prio;
    return p;
}

COLD void ipc_update_prio(struct thread *t)
{
    for (int depth = 0; t && depth < 16; depth++) {
        uint8_t p = served_max(t);
        if (p == t->prio)
            return;
        sched_set_prio(t, p);
        if (t->state == T_SEND_BLOCKED && t->ipc_chan) {
            list_remove(&t->ipc_chan->senders, t);
            senders_insert(t->ipc_chan, t);
            return;
        }
        t = t->state == T_REPLY_BLOCKED ? t->ipc_server : NULL;
    }
}

/* A sender waits and no thread receives: raise the threads now serving
 * this channel's clients, so they get back to receive sooner. */
COLD static void boost_servers(struct channel *ch, uint8_t prio)
{
    if (!ch->owner)
        return;
    for (struct thread *c = ch->owner->clients; c; c = c->ipc_next) {
        struct thread *s = c->ipc_server;
        if (c->ipc_chan == ch && s && s->prio < prio) {
            sched_set_prio(s, prio);
            if (s->state == T_REPLY_BLOCKED)
                ipc_update_prio(s->ipc_server);
        }
    }
}

/* ---- delivery (ipc_lock held) ---- */

static void fill_info(struct k_msg_info *info, struct thread *c, struct channel *ch)
{
    (void)ch;
    info->type = K_MSG_MESSAGE;
    info->priority = c->prio;
    info->pid = c->proc->pid;
    info->tid = c->tid;
    info->send_len = c->slen;
    info->reply_len = c->rlen;
    info->code = 0;
    info->handle = 0;
    info->value = 0;
    info->badge = c->badge;
}

/* Server S now serves client C (message already copied). */
static void begin_serving(struct thread *s, struct thread *c, struct channel *ch)
{
    c->state = T_REPLY_BLOCKED;
    c->ipc_server = s;
    c->ipc_chan = ch;
    c->ipc_served_by = s->proc;
    c->ipc_next = s->proc->clients;
    s->proc->clients = c;
    if (c->prio > s->prio)
        s->prio = c->prio;     /* S is not in a run queue here */
}

static struct thread *find_client(struct process *p, uint64_t rcvid)
{
    for (struct thread *c = p->clients; c; c = c->ipc_next)
        if (c->tid == rcvid)
            return c;
    return NULL;
}

/* C's call is over.  Its server S keeps the priority of a sender still
 * waiting on the same channel: S serves it next, and must not be held up
 * by middle-priority threads in between (inheritance at send time). */
static void end_serving(struct thread *c)
{
    struct thread *s = c->ipc_server;
    struct channel *ch = c->ipc_chan;
    list_remove(&c->ipc_served_by->clients, c);
    c->ipc_server = NULL;
    c->ipc_served_by = NULL;
    c->ipc_chan = NULL;
    if (!s || s->state == T_DEAD)
        return;
    uint8_t waiting = ch && ch->senders ? ch->senders->prio : 0;
    if (s->prio == s->base_prio && waiting <= s->prio)
        return;
    uint8_t want = served_max(s);
    if (waiting > want)
        want = waiting;
    if (want != s->prio) {
        sched_set_prio(s, want);
        if (s->state == T_REPLY_BLOCKED)
            ipc_update_prio(s->ipc_server);
    }
}

/* ---- system calls ---- */

static bool can_run_here(struct thread *t)
{
    return !t->affinity || (t->affinity & (1UL << this_cpu()->id));
}

/* Runs S (just given work) here if it may, else on its own CPU; blocks
 * T, the current thread, whose state is already set. */
static void hand_over(struct thread *t, struct thread *s)
{
    if (__builtin_expect(can_run_here(s) && !t->killed, 1)) {
        sched_pass_to(s, &ipc_lock);
    } else {
        sched_wake(s);
        ipc_block(t);
    }
}

/* The client's side after it was released: a staged reply is copied
 * into its reply buffers here, in its own address space (a large one is
 * there already), and a handle that came with it is installed. */
static long send_finish(struct thread *t)
{
    long ret = t->ipc_ret;
    if (ret >= 0 && t->small_len >= 0 && scatter(t->riov, t->rparts, t->small, (uint64_t)t->small_len) < 0)
        ret = -E_FAULT;
    if (__builtin_expect(t->rx_obj != NULL, 0))
        t->got_handle = take_handle(t, ret >= 0);
    return ret;
}

/* The send, once T's buffers are described (siov/riov, slen, small):
 * delivers to a waiting receiver or queues, blocks until the reply, and
 * returns the reply status or an error. */
static long send_prepared(struct thread *t, struct connection *conn)
{
    t->badge = conn->badge;
    t->send_seq++;
    bool was = spin_lock_irqsave(&ipc_lock);
    struct channel *ch = conn->chan;
    long ret;
    if (conn->generation != ch->generation)
        ret = -E_REVOKED;
    else if (ch->dead)
        ret = -E_DEAD;
    else
        ret = 1;
    if (ret == 1 && ch->receivers) {
        struct thread *s = ch->receivers;
        if (t->small_len >= 0) {
            memcpy(s->small, t->small, (size_t)t->small_len);
            s->small_len = t->small_len;
        } else {
            s->small_len = -2;         /* S pulls it from us (pull_message) */
        }
        ch->receivers = s->ipc_next;
        fill_info(&s->ipc_info, t, ch);
        pass_handle(t, s);
        s->ipc_ret = (long)t->tid;
        begin_serving(s, t, ch);
        hand_over(t, s);
        irq_restore(was);
        return send_finish(t);
    }
    if (ret == 1) {
        t->state = T_SEND_BLOCKED;
        t->ipc_chan = ch;
        senders_insert(ch, t);
        boost_servers(ch, t->prio);
        ipc_block(t);
        irq_restore(was);
        return send_finish(t);
    }
    spin_unlock_irqrestore(&ipc_lock, was);
    return ret;
}

COLD long channel_kernel_send(struct connection *c, const void *msg, uint32_t len,
                              struct kobject *att, uint32_t rights)
{
    if (len > K_SMALL_MSG)
        panic("channel_kernel_send: %u bytes do not fit the staging buffer", len);
    struct thread *t = current_thread();
    /* One the thread attached itself and has not sent yet waits aside. */
    struct kobject *own = t->att_obj;
    uint32_t own_rights = t->att_rights;
    t->att_obj = NULL;
    if (att) {
        object_get(att);
        t->att_obj = att;
        t->att_rights = rights;
    }
    t->sparts = t->rparts = 0;
    t->slen = len;
    t->rlen = 0;
    memcpy(t->small, msg, len);
    t->small_len = (int32_t)len;
    long r = send_prepared(t, c);
    drop_attachment(t);             /* not delivered */
    t->att_obj = own;
    t->att_rights = own_rights;
    return r;
}

COLD int connection_lookup(long h, uint32_t rights, struct connection **out)
{
    struct kobject *o;
    int err = handle_get(&current_thread()->proc->handles, h, K_OBJ_CONNECTION, rights, &o, NULL);
    *out = (struct connection *)o;
    return err;
}

long sys_msg_send(long h, long siov, long sparts, long riov, long rparts)
{
    struct thread *t = current_thread();
    struct kobject *o;
    int err = handle_get_fast(&t->proc->handles, h, K_OBJ_CONNECTION, K_RIGHT_SEND, &o, NULL);
    if (err)
        return err;
    struct connection *conn = (struct connection *)o;
    long slen = iov_fetch(t->siov, (uintptr_t)siov, sparts);
    long rlen = slen < 0 ? slen : iov_fetch(t->riov, (uintptr_t)riov, rparts);
    if (slen < 0 || rlen < 0) {
        object_put(o);
        return slen < 0 ? slen : rlen;
    }
    t->sparts = nparts(sparts), t->rparts = nparts(rparts);
    t->slen = (uint64_t)slen, t->rlen = (uint64_t)rlen;
    prepare_writes(t, t->riov, t->rparts, 0);
    t->small_len = -1;
    if (slen <= K_SMALL_MSG) {
        if (gather(t->small, t->siov, t->sparts, (uint64_t)slen)) {
            object_put(o);
            return -E_FAULT;
        }
        t->small_len = (int32_t)slen;
    }

    t->got_handle = 0;
    long ret = send_prepared(t, conn);
    object_put(o);
    if (__builtin_expect(t->att_obj != NULL, 0))
        drop_attachment(t);
    return ret;
}

/* A device interrupt's or a timer's pulse raises its receiver T to PRIO,
 * but never above T's process's ceiling: an interrupt (priority 200) or
 * a heartbeat timer must not lift a driver over its supervisor, or a
 * driver stuck after such a pulse (the raise lasts until its next
 * receive) would keep the CPU from the one that would kill it (fault
 * campaigns found both: issue 10). */
static uint32_t irq_ceiling(const struct thread *t, uint32_t prio)
{
    uint32_t max = t->proc ? t->proc->prio_max : prio;
    return prio <= max ? prio : max > t->prio ? max : t->prio;
}

#define NONE_PENDING (-0x7fffffffL)
#define PID_IRQ (~1ULL)                    /* a device interrupt's pulse (pid 0 to the receiver) */
#define PID_TIMER (~2ULL)                  /* a timer's pulse (pid 0 to the receiver) */
#define PID_UNBLOCK (~0ULL)                /* a queued pulse that is an unblock report */   /* no receive id or error has these values */
#define AGAIN        (-0x7ffffffeL)   /* the message was lost to the client's fault: receive again */

/* The priority of the best pulse or ended connection.  ipc_lock held. */
static inline uint32_t pending_prio(const struct channel *ch)
{
    uint32_t p = ch->npulses ? ch->pulses[0].priority : 0;
    if (__builtin_expect(ch->closed != NULL, 0) && ch->closed->close_prio > p)
        p = ch->closed->close_prio;
    return p;
}

/* Takes the best pending pulse or sender for T; returns NONE_PENDING if
 * there was none, else the receive result.  ipc_lock held. */
static long take_pending(struct thread *t, struct channel *ch)
{
    while (ch->npending || ch->senders) {
        if (ch->npending && (!ch->senders || pending_prio(ch) >= ch->senders->prio)) {
            if (__builtin_expect(ch->closed != NULL, 0) &&
                (!ch->npulses || ch->closed->close_prio > ch->pulses[0].priority)) {
                take_closed(t, ch);
                return 0;
            }
            struct pulse p = ch->pulses[0];
            ch->npending--;
            memmove(&ch->pulses[0], &ch->pulses[1], --ch->npulses * sizeof(p));
            t->ipc_info = (struct k_msg_info){ .type = K_MSG_PULSE, .priority = p.priority,
                                               .pid = p.pid, .code = p.code, .value = p.value,
                                               .badge = p.badge };
            if (__builtin_expect(p.pid == PID_UNBLOCK, 0)) {
                t->ipc_info.type = K_MSG_UNBLOCK;      /* the kernel's: no sender */
                t->ipc_info.pid = 0;
            }
            if (p.pid == PID_IRQ || p.pid == PID_TIMER)
                t->ipc_info.pid = 0;
            if (p.priority > t->prio)
                t->prio = (uint8_t)(p.pid == PID_IRQ || p.pid == PID_TIMER
                                    ? irq_ceiling(t, p.priority) : p.priority);
            return 0;
        }
        struct thread *c = ch->senders;
        ch->senders = c->ipc_next;
        if (c->small_len >= 0) {
            memcpy(t->small, c->small, (size_t)c->small_len);
            t->small_len = c->small_len;
        } else {
            t->small_len = -2;         /* pulled once out of the lock */
        }
        fill_info(&t->ipc_info, c, ch);
        pass_handle(c, t);
        begin_serving(t, c, ch);
        return (long)c->tid;
    }
    return NONE_PENDING;
}

static int chan_lookup(long h, struct channel **out)
{
    struct kobject *o;
    int err = handle_get_fast(&current_thread()->proc->handles, h, K_OBJ_CHANNEL, K_RIGHT_RECEIVE, &o, NULL);
    *out = (struct channel *)o;
    return err;
}

static void fail_client(struct thread *t, long rcvid, long err);

/* A received message could not be written into the receiver's buffers
 * (they were unmapped meanwhile), or the receiver was killed while
 * copying: the client's send fails with -E_FAULT; the receive with ERR. */
COLD static long undeliverable(struct thread *t, long rcvid, long err)
{
    if (rcvid > 0)
        fail_client(t, rcvid, -E_FAULT);
    return err;
}

/* Takes T's client RCVID as a peer for a copy out of ipc_lock (its reply
 * buffers if REPLY_SIDE, else its message); false if there is none. */
COLD static bool peer_get(struct thread *t, long rcvid, bool reply_side, struct peer *pv)
{
    bool was = spin_lock_irqsave(&ipc_lock);
    struct thread *c = rcvid > 0 ? find_client(t->proc, (uint64_t)rcvid) : NULL;
    if (c) {
        object_get(&c->obj);
        object_get(&c->proc->obj);
        pv->t = c;
        pv->p = c->proc;
        pv->parts = reply_side ? c->rparts : c->sparts;
        memcpy(pv->iov, reply_side ? c->riov : c->siov, pv->parts * sizeof(struct k_iov));
    }
    spin_unlock_irqrestore(&ipc_lock, was);
    return c != NULL;
}

COLD static void peer_put(struct peer *pv)
{
    object_put(&pv->t->obj);
    object_put(&pv->p->obj);
}

/* Fails T's client RCVID (if it is still one) with ERR. */
COLD static void fail_client(struct thread *t, long rcvid, long err)
{
    bool was = spin_lock_irqsave(&ipc_lock);
    struct thread *c = find_client(t->proc, (uint64_t)rcvid);
    if (c) {
        end_serving(c);
        wake_with(c, err);
    }
    spin_unlock_irqrestore(&ipc_lock, was);
}

/* A large message, received by rendezvous: copied from the client's
 * buffers into T's, with no lock held.  RCVID, or AGAIN (the client is
 * gone, or its buffers were bad: it got -E_FAULT), or an error of ours. */
COLD static long pull_message(struct thread *t, long rcvid)
{
    struct peer pv;
    if (!peer_get(t, rcvid, false, &pv))
        return AGAIN;
    long n = xfer(t->riov, t->rparts, &pv.p->vm, pv.iov, pv.parts, 0, UINT64_MAX, false);
    peer_put(&pv);
    if (n >= 0)
        return rcvid;
    if (n == -2) {
        fail_client(t, rcvid, -E_FAULT);
        return AGAIN;
    }
    return n == -3 ? -E_INTR : -E_FAULT;     /* our side: undeliverable */
}

/* The receive half, with ipc_lock held (released on return).  NEXT, if
 * not NULL, is a client just released by a reply: it runs next.  Returns
 * AGAIN when the caller should receive once more. */
static long receive_locked(struct thread *t, struct channel *ch, uintptr_t info,
                           struct thread *next, bool was)
{
    long ret = ch->dead ? -E_DEAD : take_pending(t, ch);
    if (ret != NONE_PENDING) {
        if (next)
            sched_wake(next);
        spin_unlock_irqrestore(&ipc_lock, was);
    } else {
        t->state = T_RECEIVE_BLOCKED;
        t->ipc_chan = ch;
        t->ipc_next = ch->receivers;
        ch->receivers = t;
        if (t->prio != t->base_prio)
            t->prio = served_max(t);        /* inherited priority ends with the work */
        if (__builtin_expect(next && can_run_here(next) && !t->killed, 1))
            sched_pass_to(next, &ipc_lock);
        else {
            if (next)
                sched_wake(next);
            ipc_block(t);
        }
        irq_restore(was);
        ret = t->ipc_ret;
    }
    /* Out of the lock: the message into our buffers, then its handle. */
    if (ret > 0) {
        long rcvid = ret;
        if (t->small_len >= 0) {
            if (scatter(t->riov, t->rparts, t->small, (uint64_t)t->small_len) < 0)
                ret = -E_FAULT;
        } else if (t->small_len == -2) {
            ret = pull_message(t, rcvid);
        }
        if (__builtin_expect(t->rx_obj != NULL, 0))
            t->ipc_info.handle = take_handle(t, ret > 0);
        if (ret == -E_FAULT)
            return undeliverable(t, rcvid, ret);
        if (ret == -E_INTR || ret == AGAIN)
            return ret;        /* killed: the client fails as our process ends */
    } else if (__builtin_expect(t->rx_closed != NULL, 0)) {
        connection_free(t->rx_closed);       /* reported: its end is complete */
        t->rx_closed = NULL;
    }
    if (ret >= 0 && info && copy_to_user((void *)info, &t->ipc_info, sizeof(t->ipc_info)))
        ret = undeliverable(t, ret, -E_FAULT);
    return ret;
}

static long receive_prepare(struct thread *t, long iov, long parts, long info)
{
    long n = iov_fetch(t->riov, (uintptr_t)iov, parts);
    if (n < 0)
        return n;
    t->rparts = nparts(parts);
    if (info && !user_range_ok((uintptr_t)info, sizeof(struct k_msg_info)))
        return -E_FAULT;
    prepare_writes(t, t->riov, t->rparts, info);
    return 0;
}

COLD long sys_msg_receive(long h, long iov, long parts, long info)
{
    struct thread *t = current_thread();
    struct channel *ch;
    int err = chan_lookup(h, &ch);
    if (err)
        return err;
    long ret = receive_prepare(t, iov, parts, info);
    if (ret == 0) {
        do {
            bool was = spin_lock_irqsave(&ipc_lock);
            ret = receive_locked(t, ch, (uintptr_t)info, NULL, was);
        } while (ret == AGAIN);
    }
    object_put(&ch->obj);
    return ret;
}

/* A reply of more than K_SMALL_MSG bytes goes into the client's buffers
 * before the client is released, with no lock held.  0, or 1 when the
 * client's buffers were bad (it will get -E_FAULT), or -E_FAULT when ours
 * are (the client keeps waiting), -E_INVAL (no such client), -E_INTR. */
COLD static long reply_push(struct thread *t, long rcvid, const struct k_iov *iov, unsigned parts)
{
    struct peer pv;
    if (!peer_get(t, rcvid, true, &pv))
        return -E_INVAL;
    long n = xfer(iov, parts, &pv.p->vm, pv.iov, pv.parts, 0, UINT64_MAX, true);
    peer_put(&pv);
    return n >= 0 ? 0 : n == -2 ? 1 : n == -3 ? -E_INTR : -E_FAULT;
}

/* Releases the client with STATUS, a reply of LEN <= K_SMALL_MSG bytes
 * staged in it (a larger one was pushed already); returns it (not yet
 * woken) or NULL with *err set.  ipc_lock held. */
static struct thread *reply_locked(struct thread *t, long rcvid, long status,
                                   const struct k_iov *iov, long parts, long len, long *err)
{
    struct thread *c = rcvid > 0 ? find_client(t->proc, (uint64_t)rcvid) : NULL;
    if (!c) {
        *err = -E_INVAL;
        return NULL;
    }
    c->small_len = -1;
    if (len <= K_SMALL_MSG) {
        if (gather(c->small, iov, (unsigned)parts, (uint64_t)len)) {
            *err = -E_FAULT;       /* our buffer is bad: the client keeps waiting */
            return NULL;
        }
        c->small_len = (int32_t)len;
    }
    end_serving(c);
    pass_handle(t, c);
    c->ipc_ret = status;
    *err = 0;
    return c;
}

/* The large-reply step before reply_locked: 0, or 1 when the client's
 * buffers were bad (*STATUS becomes -E_FAULT), or an error of reply_push. */
static inline long reply_prepare(struct thread *t, long rcvid, const struct k_iov *iov,
                                 unsigned parts, long len, long *status)
{
    if (__builtin_expect(len <= K_SMALL_MSG, 1))
        return 0;
    long r = reply_push(t, rcvid, iov, parts);
    if (r == 1)
        *status = -E_FAULT;
    return r;
}

COLD long sys_msg_reply(long rcvid, long status, long iov, long parts)
{
    struct k_iov kiov[K_IOV_MAX];
    long n = iov_fetch(kiov, (uintptr_t)iov, parts);
    if (n < 0)
        return n;
    struct thread *t = current_thread();
    long pushed = reply_prepare(t, rcvid, kiov, nparts(parts), n, &status);
    if (pushed < 0)
        return pushed;
    long err;
    bool was = spin_lock_irqsave(&ipc_lock);
    struct thread *c = reply_locked(t, rcvid, status, kiov, nparts(parts), n, &err);
    if (c && pushed == 1)
        err = -E_FAULT;            /* the client's buffers were bad: both fail */
    if (c) {
        if (c->prio > t->prio && can_run_here(c))
            sched_switch_to(c, &ipc_lock);   /* we stay READY, first in line */
        else {
            sched_wake(c);
            spin_unlock(&ipc_lock);
        }
        irq_restore(was);
    } else {
        spin_unlock_irqrestore(&ipc_lock, was);
    }
    drop_attachment(t);
    return err;
}

long sys_msg_reply_receive(long rcvid, long status, long iov, long parts, long h, long info)
{
    struct thread *t = current_thread();
    /* One buffer for the reply and the next message, as in QNX. */
    long n = iov_fetch(t->riov, (uintptr_t)iov, parts);
    if (n < 0)
        return n;
    t->rparts = nparts(parts);
    struct k_iov *kiov = t->riov;
    if (info && !user_range_ok((uintptr_t)info, sizeof(struct k_msg_info)))
        return -E_FAULT;
    prepare_writes(t, t->riov, t->rparts, info);
    struct channel *ch;
    int err = chan_lookup(h, &ch);
    if (err)
        return err;
    long ret = reply_prepare(t, rcvid, kiov, nparts(parts), n, &status);
    if (ret >= 0 || ret == -E_FAULT) {
        bool was = spin_lock_irqsave(&ipc_lock);
        struct thread *c = ret < 0 ? NULL : reply_locked(t, rcvid, status, kiov, nparts(parts), n, &ret);
        if (ret && ret != -E_FAULT) {
            spin_unlock_irqrestore(&ipc_lock, was);
        } else {
            ret = receive_locked(t, ch, (uintptr_t)info, c, was);
            while (ret == AGAIN) {
                was = spin_lock_irqsave(&ipc_lock);
                ret = receive_locked(t, ch, (uintptr_t)info, NULL, was);
            }
        }
    }
    object_put(&ch->obj);
    if (__builtin_expect(t->att_obj != NULL, 0))
        drop_attachment(t);
    return ret;
}

COLD long sys_msg_error(long rcvid, long error)
{
    if (error <= 0 || error > 0xffff)
        return -E_INVAL;
    long err;
    bool was = spin_lock_irqsave(&ipc_lock);
    struct thread *c = reply_locked(current_thread(), rcvid, -error, NULL, 0, 0, &err);
    if (c)
        sched_wake(c);
    spin_unlock_irqrestore(&ipc_lock, was);
    return err;
}

/* msg_read / msg_write: copy at OFFSET in the client's send / reply
 * buffers.  Returns the bytes copied. */
COLD static long rw_client(long rcvid, long offset, long buf, long len, bool write)
{
    if (offset < 0 || len < 0 || !user_range_ok((uintptr_t)buf, (size_t)len))
        return -E_INVAL;
    struct k_iov mine = { (void *)buf, (size_t)len };
    struct peer pv;
    if (!peer_get(current_thread(), rcvid, write, &pv))
        return -E_INVAL;
    long n = xfer(&mine, 1, &pv.p->vm, pv.iov, pv.parts, (uint64_t)offset, UINT64_MAX, write);
    peer_put(&pv);
    return n == -3 ? -E_INTR : n < 0 ? -E_FAULT : n;
}

COLD long sys_msg_read(long rcvid, long offset, long buf, long len)
{
    return rw_client(rcvid, offset, buf, len, false);
}

COLD long sys_msg_write(long rcvid, long offset, long buf, long len)
{
    return rw_client(rcvid, offset, buf, len, true);
}

/* Queues or delivers a pulse.  ipc_lock held. */
COLD static int pulse_locked(struct connection *c, uint32_t code, uint64_t value, uint32_t prio,
                             uint64_t pid)
{
    struct channel *ch = c->chan;
    if (ch->dead)
        return -E_DEAD;
    if (ch->receivers) {
        struct thread *s = ch->receivers;
        ch->receivers = s->ipc_next;
        s->ipc_info = (struct k_msg_info){ .type = K_MSG_PULSE, .priority = prio, .pid = pid,
                                           .code = code, .value = value, .badge = c->badge };
        if (__builtin_expect(pid == PID_UNBLOCK, 0)) {
            s->ipc_info.type = K_MSG_UNBLOCK;
            s->ipc_info.pid = 0;
        }
        if (pid == PID_IRQ || pid == PID_TIMER)
            s->ipc_info.pid = 0;
        if (prio > s->prio)
            s->prio = (uint8_t)(pid == PID_IRQ || pid == PID_TIMER ? irq_ceiling(s, prio) : prio);
        wake_with(s, 0);
        return 0;
    }
    /* A timer's pulse still queued is not queued again: a periodic timer
     * of a receiver that is slow (or stuck) must not fill its queue, where
     * a death notice then finds no room (a fault campaign lost one). */
    if (pid == PID_TIMER)
        for (unsigned k = 0; k < ch->npulses; k++)
            if (ch->pulses[k].pid == PID_TIMER && ch->pulses[k].badge == c->badge &&
                ch->pulses[k].code == code && ch->pulses[k].value == value)
                return 0;
    if (ch->npulses == K_PULSE_QUEUE ||
        (pid && pid != PID_UNBLOCK && pid != PID_IRQ && pid != PID_TIMER &&
         ch->npulses >= K_PULSE_SENT_MAX))
        return -E_FULL;
    ch->npending++;
    unsigned i = ch->npulses++;
    while (i > 0 && ch->pulses[i - 1].priority < prio) {
        ch->pulses[i] = ch->pulses[i - 1];
        i--;
    }
    ch->pulses[i] = (struct pulse){ code, prio, value, pid, c->badge };
    /* A thread's own pulses do not interrupt it (it knows); the kernel's
     * (pid 0) and other threads' do. */
    if (__builtin_expect(ch->interrupts != NULL, 0) && pid != PID_UNBLOCK &&
        !(pid && pid != PID_IRQ && pid != PID_TIMER && ch->interrupts == current_thread()))
        ipc_interrupt_pulse(ch->interrupts);
    return 0;
}

COLD int connection_pulse_locked(struct connection *c, uint32_t code, uint64_t value, uint32_t prio)
{
    if (c->generation != c->chan->generation)
        return -E_REVOKED;
    return pulse_locked(c, code, value, prio, 0);
}

COLD int connection_pulse_timer_locked(struct connection *c, uint32_t code, uint64_t value,
                                      uint32_t prio)
{
    if (c->generation != c->chan->generation)
        return -E_REVOKED;
    return pulse_locked(c, code, value, prio, PID_TIMER);
}

COLD int connection_pulse_irq(struct connection *c, uint32_t code, uint64_t value, uint32_t prio)
{
    bool was = spin_lock_irqsave(&ipc_lock);
    int r = c->generation != c->chan->generation ? -E_REVOKED
          : pulse_locked(c, code, value, prio, PID_IRQ);
    spin_unlock_irqrestore(&ipc_lock, was);
    return r;
}

COLD int connection_pulse(struct connection *c, uint32_t code, uint64_t value, uint32_t prio)
{
    bool was = spin_lock_irqsave(&ipc_lock);
    int r = connection_pulse_locked(c, code, value, prio);
    spin_unlock_irqrestore(&ipc_lock, was);
    return r;
}

/* A pulse raises its receiver to its priority: no higher than the
 * sender's ceiling (0: the sender's own priority). */
static uint32_t pulse_prio(struct thread *t, uint32_t prio)
{
    if (!prio)
        prio = t->prio;
    return prio > t->proc->prio_max ? t->proc->prio_max : prio;
}

COLD long sys_pulse_send(long h, long code, long value, long prio)
{
    struct thread *t = current_thread();
    if (prio < 0 || prio > K_PRIO_MAX || code < 0 || code > 0xffffffffL)
        return -E_INVAL;
    struct kobject *o;
    int err = handle_get(&t->proc->handles, h, K_OBJ_CONNECTION, K_RIGHT_SEND, &o, NULL);
    if (err)
        return err;
    struct connection *conn = (struct connection *)o;
    bool was = spin_lock_irqsave(&ipc_lock);
    if (conn->generation != conn->chan->generation)
        err = -E_REVOKED;
    else
        err = pulse_locked(conn, (uint32_t)code, (uint64_t)value,
                           pulse_prio(t, (uint32_t)prio), t->proc->pid);
    spin_unlock_irqrestore(&ipc_lock, was);
    object_put(o);
    return err;
}

COLD long sys_chan_create(long flags)
{
    reap_before_alloc();
    if (flags)
        return -E_INVAL;
    struct process *p = current_thread()->proc;
    struct channel *ch = channel_create(p);
    if (!ch)
        return -E_NOMEM;
    long h = handle_install(&p->handles, &ch->obj, K_RIGHTS_ALL);
    object_put(&ch->obj);
    return h;
}

COLD long sys_chan_connect(long h, long badge, long flags)
{
    if (flags & ~(long)K_CONN_REPORT_END)
        return -E_INVAL;
    reap_before_alloc();
    struct process *p = current_thread()->proc;
    struct kobject *o;
    int err = handle_get(&p->handles, h, K_OBJ_CHANNEL, K_RIGHT_RECEIVE, &o, NULL);
    if (err)
        return err;
    struct connection *c = connection_create((struct channel *)o, (uint64_t)badge,
                                             flags & K_CONN_REPORT_END);
    object_put(o);
    if (!c)
        return -E_NOMEM;
    long ch = handle_install(&p->handles, &c->obj,
                             K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER);
    object_put(&c->obj);
    return ch;
}

/* Needs MANAGE as well as RECEIVE: a service serves the channel init made
 * for it (RECEIVE) and outlives its lives; revoking it would cut every
 * client off for good, past any restart, so that is init's to do, not a
 * service's (a driver whose code went wrong did, in a fault campaign). */
COLD long sys_chan_revoke(long h)
{
    struct kobject *o;
    int err = handle_get(&current_thread()->proc->handles, h, K_OBJ_CHANNEL,
                         K_RIGHT_RECEIVE | K_RIGHT_MANAGE, &o, NULL);
    if (err)
        return err;
    struct channel *ch = (struct channel *)o;
    bool was = spin_lock_irqsave(&ipc_lock);
    ch->generation++;
    /* Senders queued through revoked connections fail now. */
    struct thread **pp = &ch->senders;
    while (*pp) {
        struct thread *t = *pp;
        *pp = t->ipc_next;
        wake_with(t, -E_REVOKED);
    }
    spin_unlock_irqrestore(&ipc_lock, was);
    object_put(&ch->obj);
    return 0;
}

/* ---- interruptions (signals) ---- */

static bool ipc_unlink(struct thread *t);

/* Tells the server that client T, waiting for its reply, was interrupted:
 * a K_MSG_UNBLOCK (value: T's receive id) on the channel T sent on, at
 * T's priority.  Lost when the pulse queue is full: T then waits for the
 * reply as it would have.  ipc_lock held. */
COLD static void unblock_report(struct thread *t)
{
    struct channel *ch = t->ipc_chan;
    if (!ch || ch->dead)
        return;
    struct connection fake = { .chan = ch, .badge = t->badge };
    pulse_locked(&fake, 0, t->tid, t->prio, PID_UNBLOCK);
}

/* A thread in any wait it may leave early (a send not yet received, a
 * receive, a sleep): taken out, its call fails with -E_INTERRUPTED.
 * Waiting for a reply: the server is told (unblock_report) and the mark
 * stays, for the personality to see when the reply comes.  ipc_lock held;
 * true when T was taken out. */
COLD static bool interrupt_wait(struct thread *t)
{
    switch (t->state) {
    case T_SEND_BLOCKED:
    case T_RECEIVE_BLOCKED:
    case T_SLEEPING:
        ipc_unlink(t);
        thread_unmark(t, T_DIVERT);
        return true;
    case T_REPLY_BLOCKED:
        unblock_report(t);
        return false;
    default:
        return false;
    }
}

/* A pulse was queued on a channel T is bound to.  ipc_lock held. */
COLD void ipc_interrupt_pulse(struct thread *t)
{
    if (t->state == T_DEAD)
        return;
    thread_mark(t, T_DIVERT);
    if (t->state == T_SEND_BLOCKED || t->state == T_RECEIVE_BLOCKED || t->state == T_SLEEPING) {
        interrupt_wait(t);
        wake_with(t, -E_INTERRUPTED);
    } else if (t->state == T_REPLY_BLOCKED) {
        interrupt_wait(t);
    } else if (t->state == T_RUNNING && t->cpu != this_cpu()->id) {
        sched_kick(t->cpu);            /* back to user mode soon: diverted there */
    }
}

COLD long sys_chan_interrupts(long ch_h, long th_h)
{
    struct channel *ch;
    int err = chan_lookup(ch_h, &ch);
    if (err)
        return err;
    struct thread *t = NULL;
    if (th_h == 0) {
        t = current_thread();
        object_get(&t->obj);
    } else if (th_h != -1) {
        struct kobject *o;
        err = handle_get(&current_thread()->proc->handles, th_h, K_OBJ_THREAD, K_RIGHT_MANAGE,
                         &o, NULL);
        if (err) {
            object_put(&ch->obj);
            return err;
        }
        t = (struct thread *)o;
    }
    bool was = spin_lock_irqsave(&ipc_lock);
    struct thread *old = ch->interrupts;
    ch->interrupts = t;
    spin_unlock_irqrestore(&ipc_lock, was);
    if (old)
        object_put(&old->obj);
    object_put(&ch->obj);
    return 0;
}

/* ---- killing and exiting (ipc_lock held) ---- */

/* Takes T out of whatever it waits on; false when it waits on nothing
 * (running or ready). */
static bool ipc_unlink(struct thread *t)
{
    switch (t->state) {
    case T_SEND_BLOCKED:
        list_remove(&t->ipc_chan->senders, t);
        break;
    case T_RECEIVE_BLOCKED:
        list_remove(&t->ipc_chan->receivers, t);
        break;
    case T_REPLY_BLOCKED:
        end_serving(t);
        break;
    case T_JOIN_BLOCKED:
        if (t->join_thread)
            t->join_thread->joiner = NULL;
        if (t->join_proc)
            list_remove(&t->join_proc->waiters, t);
        t->join_thread = NULL;
        t->join_proc = NULL;
        break;
    case T_SLEEPING:
        ipc_sleep_cancel(t);
        break;
    default:
        return false;
    }
    t->ipc_chan = NULL;
    return true;
}

COLD void ipc_interrupt(struct thread *t)
{
    if (ipc_unlink(t))
        wake_with(t, -E_INTR);
    else if (t->state == T_RUNNING && t->cpu != this_cpu()->id)
        sched_kick(t->cpu);         /* it sees `killed` on its way back to user mode */
}

/* T, the current thread, has set its blocked state and queued itself:
 * it blocks, ipc_lock is released.  Unless it was killed on its way here:
 * the kill found it running and woke nothing, so nothing would wake it
 * again.  It is taken out at once and its call fails with -E_INTR. */
void ipc_block(struct thread *t)
{
    if (__builtin_expect(t->killed, 0)) {
        if (t->killed & T_KILLED) {
            ipc_unlink(t);
            t->state = T_RUNNING;
            t->ipc_ret = -E_INTR;
            spin_unlock(&ipc_lock);
            return;
        }
        if (interrupt_wait(t)) {       /* interrupted on its way here */
            t->state = T_RUNNING;
            t->ipc_ret = -E_INTERRUPTED;
            spin_unlock(&ipc_lock);
            return;
        }
    }
    sched_block(&ipc_lock);
}

COLD unsigned ipc_serving(struct process *p, uint64_t *ids, unsigned max)
{
    unsigned n = 0;
    bool was = spin_lock_irqsave(&ipc_lock);
    for (struct thread *c = p->clients; c; c = c->ipc_next, n++)
        if (n < max)
            ids[n] = c->tid << 32 | c->send_seq;
    spin_unlock_irqrestore(&ipc_lock, was);
    return n;
}

COLD void ipc_thread_gone(struct thread *t)
{
    struct process *p = t->proc;
    if (p->nthreads > 1) {
        /* Its clients wait on: another thread may reply.  None of them
         * may point at it once it is freed. */
        for (struct thread *c = p->clients; c; c = c->ipc_next)
            if (c->ipc_server == t)
                c->ipc_server = NULL;
        return;
    }
    while (p->clients) {
        struct thread *c = p->clients;
        end_serving(c);
        wake_with(c, -E_DEAD);
    }
}
