/*
 * bdev: the client side of protocols/blk.proto, with recovery.
 *
 *   struct bdev b;
 *   bdev_open(&b, conn, 1 << 20);          // a 1 MiB buffer shared with the driver
 *   memcpy(b.buf, data, 4096);
 *   bdev_write(&b, 8, 8, 0);               // sectors 8-15 from the buffer's start
 *   bdev_read(&b, 8, 8, 4096);             // back into the buffer at 4 KiB
 *
 * CONN is a connection to the driver's channel (a connect= grant, or the
 * name space's): it outlives the driver's lives.  When the driver dies
 * under a request (E_DEAD) or has been restarted (the session is a past
 * life's: E_REVOKED), the request's thread attaches the buffer again, once
 * for every thread that finds the session stale, and resends: a request
 * is answered only by a driver that did it, so an answered write is on
 * the device and an answered read holds the disk's data; the caller sees
 * a delay.  When the driver has been given up on (its channel is gone:
 * attach fails E_DEAD at once, RT_ATTACH_GIVE_UP times in a row) the call fails
 * with E_DEAD.  A driver gone wrong answers a valid request (one inside
 * the disk, the buffer and max_transfer) with a refusal (E_INVAL,
 * E_TOOBIG, E_PERM, E_NOSYS) or a byte count it was not asked for
 * (counted in garbage): with at.driver set (its service name), the
 * library complains of it to the supervisor and resends as lib/rt/attach
 * says (attach.h: complaints; "busy", "dead" and "another life" for ever
 * are wrong answers too); without, the call fails with E_IO.
 * Any other error (E_IO from the device, a request out of range) is the
 * request's own and is returned (counted: valid requests failing in a
 * row are a complaint too, attach.h).  A session handle another thread closed
 * under a call (E_BADHANDLE: it found the session stale first) is resent
 * like E_REVOKED.
 *
 * Calls may come from several threads at once (each waits for its own
 * request; that is how several are in flight).
 */
#ifndef KESTREL_BDEV_BDEV_H
#define KESTREL_BDEV_BDEV_H

#include <stdint.h>

#include "protocols/blk.h"
#include "rt/attach.h"

struct bdev {
    struct rt_attach at;           /* the driver's channel, this life's session, the buffer,
                                      complaints (at.driver, at.complaints) */
    uint8_t *buf;
    uint64_t size;
    struct blk_info_rep info;
    uint32_t resends;              /* requests sent again after a driver's death */
    uint32_t garbage;              /* replies that made no sense */
};

/* Makes a SIZE-byte buffer (a multiple of 4 KiB), attaches it and asks for
 * the disk's geometry; 0 or an error. */
long bdev_open(struct bdev *b, long conn, uint64_t size);
void bdev_close(struct bdev *b);

/* COUNT sectors at SECTOR into/from the buffer at OFFSET; the bytes moved
 * (COUNT * BLK_SECTOR) or an error. */
long bdev_read(struct bdev *b, uint64_t sector, uint32_t count, uint64_t offset);
long bdev_write(struct bdev *b, uint64_t sector, uint32_t count, uint64_t offset);
/* Every write answered so far durable. */
long bdev_flush(struct bdev *b);

#endif
