/*
 * attach: the client's side of a session with a buffer attached, as the
 * device protocols have it (blk.proto, frame.proto): the client sends its
 * memory object once with an attach message and gets a session
 * connection back; when the server dies or restarts (the session is a
 * past life's), it attaches again.  lib/bdev and lib/netdev are built on
 * it.
 *
 * Complaints: a driver gone wrong may answer a valid call (one it should
 * have done) wrongly, or "busy", "dead" or "another life" for ever, and
 * so serve no one while its heartbeats go on.  With DRIVER set (its
 * service name), the library tells the supervisor (supervisor.proto
 * complain, through the "heartbeat" connection) after
 * RT_ATTACH_COMPLAIN_AFTER wrong answers in a row (from any thread),
 * which replaces the driver, and the call is sent again; a call that got
 * RT_ATTACH_WRONG_MAX wrong answers, or any without DRIVER, fails.  A
 * valid call that gets "busy" 100 times or "dead" or "another life" 8
 * times in a row has been answered wrongly too.  And RT_ATTACH_FAIL_COMPLAIN
 * valid calls failing in a row with their own errors (E_IO, an attach
 * refused E_FULL..., no call served between them by any thread) are a
 * complaint too: a driver that fails everything serves no one (and a
 * device that does gets its driver given up on).
 */
#ifndef KESTREL_RT_ATTACH_H
#define KESTREL_RT_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#define RT_ATTACH_GIVE_UP 3        /* attaches that fail E_DEAD at once: the server is gone */
#define RT_ATTACH_COMPLAIN_AFTER 3 /* wrong answers in a row before a complaint */
#define RT_ATTACH_WRONG_MAX 200    /* wrong answers to one call before it fails */
#define RT_ATTACH_FAIL_COMPLAIN 50 /* valid calls failed in a row before a complaint */

struct rt_attach {
    long conn;                     /* to the server's channel (outlives its lives) */
    long session;                  /* this life's session, or 0 */
    long vmo;                      /* the buffer */
    int lock;                      /* over session */
    uint32_t attaches;             /* sessions made (1 + restarts seen) */
    const char *driver;            /* its service name, for complaints; NULL: none */
    uint32_t wrong;                /* wrong answers in a row (all threads) */
    uint32_t failing;              /* valid calls failed in a row (all threads) */
    uint32_t complaints;           /* made to the supervisor */
    long last_wrong;               /* the last answer not taken as right, or 0 */
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

/* A valid call's wrong answer R (a refusal, or a positive answer that
 * makes no sense) on SESSION (MINE counts the call's own): true to send
 * it again (after a complaint, every RT_ATTACH_COMPLAIN_AFTER, and a
 * pause while the driver is replaced), false to fail the call.  E_PERM,
 * "not a session", also forgets SESSION: a driver gone wrong handed a
 * connection that is none, in any life (a past life's session is told
 * E_REVOKED), so the next call attaches again, whether this one is sent
 * again or fails. */
bool rt_attach_wrong(struct rt_attach *a, long r, long session, unsigned *mine);

/* A valid call answered R, E_BUSY, E_DEAD or E_REVOKED, the AGAINth time
 * in a row: false when it has gone on so long that it is a wrong answer
 * and rt_attach_wrong said to fail the call. */
bool rt_attach_again_ok(struct rt_attach *a, long r, unsigned *again, unsigned *mine);

/* A call (VALID: one the driver should have done) failed with its own
 * error R: R, counted (a complaint every RT_ATTACH_FAIL_COMPLAIN in a row). */
long rt_attach_failed(struct rt_attach *a, bool valid, long r);
/* A complaint now (with DRIVER set; a client that judged what the driver
 * gave it wrong by its own lights: lib/netdev's netdev_reject). */
void rt_attach_complain(struct rt_attach *a);

/* A right answer: the run of wrong (and failed) ones is over. */
void rt_attach_right(struct rt_attach *a);

#endif
