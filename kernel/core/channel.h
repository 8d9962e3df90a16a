/*
 * channel: a server's receive point; connection: a client's handle to it.
 *
 * Clients send on connections (msg_send blocks until the reply); server
 * threads receive on the channel, in priority order of the senders, and
 * reply by receive id (the client thread's id).  Pulses are small
 * asynchronous messages held in a bounded, priority-ordered queue; when it
 * is full the sender gets -E_FULL.
 *
 * A channel dies when no handle to it is left except through connections
 * (its server closed it or exited): every thread blocked on it, and every
 * later send, gets -E_DEAD.  chan_revoke makes every existing connection
 * fail with -E_REVOKED while new ones work.
 *
 * A connection made with K_CONN_REPORT_END reports its end (the last
 * handle to it closed, by its holder or by its process's death) to its
 * channel as a K_MSG_DISCONNECT with its badge, so a server can free what
 * it keeps per client.  No report is ever lost:
 * an ended connection waits on the channel's closed list (its memory is
 * the list node) until a receiver takes it; the pulse queue's limit does
 * not apply.  Connections revoked before they end are not reported.
 *
 * chan_interrupts binds a thread to a channel: every pulse queued there
 * (not taken at once by a waiting receiver) interrupts the thread
 * (ipc_interrupt_pulse): a signal for its personality.
 *
 * Locking: ipc_lock (core/ipc.h) for all state below.
 */
#ifndef KESTREL_CORE_CHANNEL_H
#define KESTREL_CORE_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/object.h"
#include "kestrel/msg.h"

struct thread;
struct process;

struct pulse {
    uint32_t code;
    uint32_t priority;
    uint64_t value;
    uint64_t pid;
    uint64_t badge;           /* of the connection it came through */
};

struct channel {
    struct kobject obj;
    struct process *owner;        /* its creator while alive, NULL once dead */
    struct process *creator;      /* holds a reference: owner never dangles */
    bool dead;
    uint32_t generation;          /* connections of older generations are revoked */
    uint32_t nconn;               /* live connections (each holds a reference) */
    struct thread *receivers;     /* RECEIVE_BLOCKED, most recent first */
    struct thread *senders;       /* SEND_BLOCKED, highest priority first, FIFO within */
    unsigned npending;            /* npulses + ended connections on closed */
    unsigned npulses;
    struct pulse pulses[K_PULSE_QUEUE];   /* highest priority first */
    struct connection *closed, **closed_tail;   /* ended, to be reported (FIFO) */
    struct thread *interrupts;    /* chan_interrupts: queued pulses interrupt it (a reference) */
};

struct connection {
    struct kobject obj;
    struct channel *chan;
    uint32_t generation;
    uint64_t badge;           /* chosen by the server; reported with every message */
    struct connection *next_closed;   /* on chan->closed once ended */
    uint32_t close_prio;      /* the priority its end is reported at */
    bool report_end;          /* K_CONN_REPORT_END */
};

struct channel *channel_create(struct process *owner);
struct connection *connection_create(struct channel *ch, uint64_t badge, bool report_end);
/* Reference drops for the two types (object_put routes here). */
void channel_put(struct channel *ch);
void connection_destroy(struct connection *c);
/* A pulse from the kernel (interrupt, timer, death notice) through a
 * connection the kernel holds; -E_FULL, -E_DEAD or -E_REVOKED when it
 * cannot be queued.  The _locked form with ipc_lock held. */
int connection_pulse(struct connection *c, uint32_t code, uint64_t value, uint32_t prio);
int connection_pulse_locked(struct connection *c, uint32_t code, uint64_t value, uint32_t prio);
/* A device interrupt's pulse: it raises the receiver no higher than its
 * process's ceiling; the receiver sees pid 0. */
int connection_pulse_irq(struct connection *c, uint32_t code, uint64_t value, uint32_t prio);
/* A timer's pulse (ipc_lock held): not queued again while one of the same
 * timer (connection, code, value) waits in the queue. */
int connection_pulse_timer_locked(struct connection *c, uint32_t code, uint64_t value,
                                  uint32_t prio);

/* Sends a message of LEN <= K_SMALL_MSG bytes from the kernel on behalf of
 * the current thread (exception messages) and waits for the reply;
 * returns the reply status or a negative error.  ATT, when not NULL, rides
 * with it as a handle with RIGHTS (the caller keeps its own reference); an
 * attachment the thread made itself and had not sent is kept for it. */
long channel_kernel_send(struct connection *c, const void *msg, uint32_t len,
                         struct kobject *att, uint32_t rights);

/* Looks up a connection handle of the current process with RIGHTS. */
int connection_lookup(long h, uint32_t rights, struct connection **out);

extern uint64_t channel_live, connection_live;

#endif
