/*
 * attach: the client's side of a session with a buffer attached, as the
 * device protocols have it (blk.proto, frame.proto): the client sends its
 * memory object once with an attach message and gets a session
 * connection back; when the server dies or restarts (the session is a
 * past life's), it attaches again.  lib/bdev and lib/netdev are built on
 * it.
 */
#ifndef KESTREL_RT_ATTACH_H
#define KESTREL_RT_ATTACH_H

#include <stdint.h>

#define RT_ATTACH_GIVE_UP 3        /* attaches that fail E_DEAD at once: the server is gone */

struct rt_attach {
    long conn;                     /* to the server's channel (outlives its lives) */
    long session;                  /* this life's session, or 0 */
    long vmo;                      /* the buffer */
    int lock;                      /* over session */
    uint32_t attaches;             /* sessions made (1 + restarts seen) */
};

/* Sends the protocol's attach message on CONN (the buffer rides with it)
 * and returns its status; CTX is the caller's. */
typedef long (*rt_attach_fn)(long conn, void *ctx);

/* A new session, unless another thread made one since STALE was current;
 * the session to use, or an error: the attach message's own, E_IO for an
 * answer without a session, E_DEAD once RT_ATTACH_GIVE_UP attaches in a
 * row failed E_DEAD.  SEND runs with the lock held (a caller may reset
 * state of the old session there). */
long rt_attach_again(struct rt_attach *a, long stale, rt_attach_fn send, void *ctx);

/* The current session, or a first one. */
long rt_attach_session(struct rt_attach *a, rt_attach_fn send, void *ctx);

#endif
