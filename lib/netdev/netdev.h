/*
 * netdev: the client side of protocols/frame.proto, with recovery.
 *
 *   struct netdev n;
 *   netdev_open(&n, conn);                 // a buffer shared with the driver, a session
 *   uint8_t *f = netdev_tx_slot(&n, 0);    // build a frame there
 *   netdev_send(&n, netdev_tx_offset(0), len);
 *   uint8_t rx[FRAME_SLOT];
 *   long len = netdev_receive(&n, 100, rx);    // the next frame (up to 100 ms), copied
 *
 * CONN is a connection to the driver's channel (a connect= grant, or the
 * name space's): it outlives the driver's lives.  When the driver dies
 * under a call (E_DEAD) or has been restarted (the session is a past
 * life's: E_REVOKED), the call attaches the buffer again (once for every
 * thread that finds the session stale) and sends itself again: a send is
 * answered only by a driver whose device took the frame, so a frame may
 * go out twice but an answered one is never lost in the driver; a
 * receive waits on in the new session.  When the driver has been given up
 * on (its channel is gone: attach fails E_DEAD at once, RT_ATTACH_GIVE_UP
 * times in a row) the call fails with E_DEAD; any other error is the
 * call's own and is returned.  A reply that makes no sense (a slot that
 * does not exist, a length under an Ethernet header or over the MTU) is
 * E_IO, counted in garbage, never passed on.  With at.driver set (its
 * service name), a driver that answers a valid send or a receive wrongly
 * (garbage, a refusal: E_INVAL, E_TOOBIG, E_PERM, E_NOSYS) or stays
 * "busy", "dead" or "another life" is complained of to the supervisor,
 * and the call sent again, as lib/rt/attach says (attach.h: complaints);
 * so is one whose frames the caller keeps rejecting (netdev_reject).
 *
 * A received frame is copied out of its receive slot into the caller's
 * memory before the caller sees it: the slot is shared with the device,
 * and a driver gone wrong may hand a slot over and still let its device
 * write there, so a frame read in place could change between the
 * caller's checks and its use.  A copy made while the device wrote is
 * torn, and fails the caller's checksum; the copy the caller checked is
 * the one it uses.  (The copy is one memcpy of at most 1514 bytes; the
 * data a frame carries is copied into a stack's own buffers anyway.)  One
 * thread receives; sends may come from several threads at once (each
 * waits for its own).
 */
#ifndef KESTREL_NETDEV_NETDEV_H
#define KESTREL_NETDEV_NETDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "protocols/frame.h"
#include "rt/attach.h"


struct netdev {
    struct rt_attach at;           /* the driver's channel, this life's session, the buffer
                                      (FRAME_BUFFER_SIZE bytes), complaints (at.driver) */
    uint8_t *buf;
    struct frame_info_rep info;    /* as the first life said */
    uint32_t held;                 /* the receive slot the caller holds, or FRAME_NONE */
    uint32_t resends;              /* calls sent again after a driver's death or restart */
    uint32_t garbage;              /* replies that made no sense */
    uint32_t rejected;             /* frames the caller judged wrong (netdev_reject) */
    uint32_t reject_run;           /* of them in a row */
    bool bad;                      /* the frame handed last was rejected */
};

/* Makes the buffer, asks for the interface's address and MTU and attaches;
 * 0 or an error. */
long netdev_open(struct netdev *n, long conn);
void netdev_close(struct netdev *n);

/* Transmit slot I (0 .. FRAME_TX_SLOTS-1): its offset in the buffer, and
 * where it is mapped. */
static inline uint64_t netdev_tx_offset(unsigned i)
{
    return FRAME_TX_OFFSET + (uint64_t)i * FRAME_SLOT;
}
static inline uint8_t *netdev_tx_slot(struct netdev *n, unsigned i)
{
    return n->buf + netdev_tx_offset(i);
}

/* The LEN-byte frame at OFFSET of the buffer to the wire; 0 once the
 * device has taken it, or an error. */
long netdev_send(struct netdev *n, uint64_t offset, uint32_t len);

/* Gives back the slot held, then the next frame, waiting up to WAIT_MS
 * (0: not at all, E_AGAIN; FRAME_FOREVER; a wait past the driver's
 * FRAME_WAIT_MAX is made of several receives), copied into FRAME (room
 * for FRAME_SLOT bytes); its length, or an error (E_TIMEOUT). */
long netdev_receive(struct netdev *n, uint32_t wait_ms, uint8_t *frame);

/* The frame netdev_receive handed last was wrong by the caller's own
 * checks (what a network stack drops: a length its headers contradict, a
 * checksum that fails, a frame seen already).  A wire can bring such a
 * frame now and then; a driver gone wrong can hand nothing else, and
 * answers each receive "rightly" while it does.  RT_ATTACH_FAIL_COMPLAIN
 * frames rejected in a row (none taken between them) are a complaint
 * (with at.driver set), and each as many after it.  A network stack
 * should reject only frames that fail checks no honest sender's frame
 * fails: anyone on the wire can send garbage, and each complaint costs a
 * driver restart (the supervisor's restart limit then gives it up). */
void netdev_reject(struct netdev *n);

/* A complaint now (with at.driver set): the caller has proof, end to
 * end, that the driver fails it while answering every call well (frames
 * a peer sent that never came, frames the driver took that never
 * arrived: what a transport's timeouts tell, decision 0027).  The
 * supervisor replaces the driver; a caller gives the new life as long to
 * prove itself before it complains again. */
void netdev_complain(struct netdev *n);

/* Gives back the slot held now (without waiting for a frame). */
long netdev_release(struct netdev *n);

#endif
