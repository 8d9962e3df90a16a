/*
 * srv: the framework every Kestrel server is built on.  A server is its
 * logic plus a table (struct srv_ops); the framework runs the receive
 * loop, in one or several threads, and keeps per-client state.
 *
 *   static long on_message(struct srv_msg *m) { ... return status; }
 *   static const struct srv_ops ops = { .message = on_message };
 *   struct srv s;
 *   srv_init(&s, k_chan_create(0), &ops, &my_state);
 *   long conn = srv_client_new(&s, ocb);   // a connection for one client,
 *                                          // handed over with handle_attach
 *   srv_run(&s, 4, stacks, STACK_SIZE);    // 4 threads; returns when stopped
 *
 * Per-client state ("open control blocks") rides on connection badges:
 * srv_client_new mints a connection whose badge names a slot (and the
 * slot's generation, so a badge outlives no slot); every message through
 * it arrives with m->client set to that slot's data.  The connection is
 * made with K_CONN_REPORT_END: when its last handle is gone (closed, or
 * its holder died), the framework calls ops.disconnect with the slot's
 * data and frees the slot.
 * A handler returns a reply status (>= 0, no data), a negative error (the
 * client's call fails with it), or SRV_REPLIED when it replied itself
 * (srv_reply with data).  Messages longer than the receive buffer are
 * read with srv_read at any offset; replies can be written piecewise with
 * srv_write before the final srv_reply.
 *
 * Locking: the client table has its own lock; handlers run concurrently
 * in the pool's threads and lock their own state.
 */
#ifndef KESTREL_SRV_SRV_H
#define KESTREL_SRV_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kestrel/msg.h"
#include "rt/held.h"

#define SRV_MAX_CLIENTS 1024
#define SRV_BUFSIZE 512
#define SRV_REPLIED (-0x7fffffffL)
#define SRV_MAX_THREADS 16

struct srv;

struct srv_msg {
    struct srv *srv;
    long rcvid;
    struct k_msg_info info;
    void *data;               /* received bytes: the first min(len, SRV_BUFSIZE) */
    size_t len;               /* bytes in data */
    void *client;             /* the connection's per-client data, or NULL */
};

struct srv_ops {
    long (*message)(struct srv_msg *m);
    void (*pulse)(struct srv *s, const struct k_msg_info *info);   /* optional */
    /* optional: the last handle to a connection srv_client_new made is
     * gone; DATA is the slot's (the slot is freed after this returns) */
    void (*disconnect)(struct srv *s, void *data);
    /* optional, with heartbeats: a request held unanswered this long
     * (ms) stops them, so the supervisor kills the server as hung (a
     * driver whose device or code lost a request serves no one); for
     * servers whose requests never legitimately wait long */
    uint32_t stall_ms;
    /* optional, with stall_ms: how many of the requests held now wait by
     * design (a receive waiting for a frame): that many may be held
     * longer; one more is a stall */
    unsigned (*waiting)(struct srv *s);
};

struct srv_client {
    void *data;
    uint32_t gen;             /* bumped at each use of the slot; from the clock at srv_init */
    bool used;
};

struct srv {
    long chan;
    uint64_t self_badge;      /* of its own pulses (stop, heartbeat timer): see srv_init */
    const struct srv_ops *ops;
    void *state;              /* the server's own, for handlers */
    volatile int stopping;
    volatile int lock;
    struct rt_held held;      /* stall_ms: the requests held at the last heartbeat */
    bool stall_said;
    struct srv_client clients[SRV_MAX_CLIENTS];
};

void srv_init(struct srv *s, long chan, const struct srv_ops *ops, void *state);
/* A new connection for one client, carrying DATA; a handle or an error. */
long srv_client_new(struct srv *s, void *data);
void *srv_client_data(struct srv *s, uint64_t badge);
/* Forgets a client's slot (its connection is the client's to close). */
void srv_client_free(struct srv *s, uint64_t badge);

/* Serves messages in the calling thread until srv_stop.  A handle that
 * came with a message (m->info.handle) is closed after the handler unless
 * the handler kept it (set m->info.handle to 0). */
long srv_loop(struct srv *s);
/* The main of a service started by init: serves OPS on the start-up
 * handle "chan" in one thread; NAME is for the error when there is none.
 * With a "heartbeat" handle (manifest heartbeat=), the loop heartbeats
 * every 100 ms, so heartbeat= should be at least that. */
int srv_main(struct srv *s, const char *name, const struct srv_ops *ops, void *state);
/* Runs the loop in NTHREADS threads (the caller's included), stacks given
 * by the caller as NTHREADS-1 blocks of STACK_SIZE bytes; returns when the
 * server stops and all threads have ended. */
long srv_run(struct srv *s, unsigned nthreads, void *stacks, size_t stack_size);
/* The badge of the server's own connection to its channel: pulses that
 * come with it are the server's own (srv_self_badge_ok); anything else
 * could have been sent by a client. */
uint64_t srv_self_badge(void);

/* Makes every thread of the loop return (sends them pulses). */
void srv_stop(struct srv *s, unsigned nthreads);

/* Makes M the whole message: one longer than the receive buffer
 * (m->info.send_len > m->len) is read into BUF, and m->data and m->len
 * then describe all of it.  0, -E_TOOBIG if it is longer than CAP (the
 * server's limit), or msg_read's error.  A handler that passes the
 * received bytes to a generated dispatch calls this first: the first
 * SRV_BUFSIZE bytes of a longer message would be judged malformed. */
long srv_whole(struct srv_msg *m, void *buf, size_t cap);

long srv_reply(struct srv_msg *m, long status, const void *data, size_t len);
long srv_read(struct srv_msg *m, size_t offset, void *buf, size_t len);
long srv_write(struct srv_msg *m, size_t offset, const void *buf, size_t len);

#endif
