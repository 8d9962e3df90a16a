/*
 * pipering: the memory a pipe's ends share, so that bytes move from a
 * writer to a reader with no message.  servers/pipe makes it for each pipe
 * and FIFO and hands it out (file.proto's message ring); the Linux
 * personality maps it and reads and writes there itself (posix/pipe.c).
 * The pipe server stays the authority on everything else: who holds an
 * end, end of file and EPIPE, poll, a writer waiting for room, and every
 * client that does not map the ring (it reads and writes the same ring on
 * their behalf).
 *
 * Layout: one page of header (struct pipe_ring), then PIPE_RING_SIZE bytes
 * of data.  head and tail are free-running 32-bit counts of the bytes ever
 * written and read; the byte at position p is data[p % PIPE_RING_SIZE].
 *
 * Writers go one at a time: a writer takes wlock (its session token from
 * the server, message ring what 3), copies into the room after head,
 * publishes head and lets go.  The server breaks the lock of a writer that
 * died holding it (its session's connection ends).  A writer that finds
 * the lock taken, or too little room, sends its write to the server
 * instead, which waits for them (PIPE_RING_CONTENDED asks the holder to
 * pulse the server when it lets go).  So a write of up to PIPE_BUF bytes
 * is never split, as POSIX requires.
 *
 * Readers take no lock: a reader copies from tail and then moves tail by
 * compare-and-swap; if another reader moved it first, it reads again.
 *
 * A reader waiting for data counts itself in rwait, looks once more, and
 * receives on the pipe's wait channel (what 1).  A writer that published
 * and finds rwait set pulses that channel (what 2), once until a reader
 * wakes (rpulsed).  A reader that leaves data behind, or finds end of
 * file, passes the pulse on to the next waiting reader.  Each side stores
 * before it loads (sequentially consistent), so no wake-up is lost.
 *
 * srv_in and srv_out are the server's wish to hear of new data and of new
 * room (reads it parked, poll arms, writers waiting): who makes the change
 * clears the flag and pulses the server through its end's connection.
 *
 * Trust: the ring is shared by the holders of the pipe's ends, each of
 * which could write anything in it.  So every position read from the
 * header is checked (a length over the size is a broken ring: the
 * personality answers EIO, the server empties it), indices are masked,
 * and nothing outside the ring is ever touched because of its contents.
 */
#ifndef KESTREL_SRV_PIPERING_H
#define KESTREL_SRV_PIPERING_H

#include <stdbool.h>
#include <stdint.h>

#define PIPE_RING_SIZE 65536u           /* Linux's default pipe capacity */
#define PIPE_RING_DATA 4096u            /* the data's offset in the object */
#define PIPE_RING_BYTES (PIPE_RING_DATA + PIPE_RING_SIZE)
#define PIPE_RING_BUF 4096u             /* PIPE_BUF: writes up to it are never split */
#define PIPE_RING_CONTENDED 0x80000000u /* wlock: someone waits, pulse the server */
#define PIPE_RING_SERVER 0x7fffffffu    /* wlock: the server's own token */
#define PIPE_RING_PULSE 0x50495045      /* "PIPE": code of the ring's pulses */

/* message ring's what. */
#define PIPE_RING_MAP 0                 /* the object (READ|WRITE|MAP); reply: its id */
#define PIPE_RING_WAIT 1                /* a read end's: the wait channel (RECEIVE) */
#define PIPE_RING_WAKE 2                /* a write end's: a connection to it (SEND) */
#define PIPE_RING_SESSION 3             /* a session (its token) */
#define PIPE_RING_POKE 4                /* no part: the ring changed, look (a pulse would not fit) */

struct pipe_ring {
    uint32_t head;                      /* bytes ever written */
    uint32_t tail;                      /* bytes ever read */
    uint32_t wlock;                     /* 0, or the writing session's token (| CONTENDED) */
    uint32_t rwait;                     /* readers waiting on the wait channel */
    uint32_t rpulsed;                   /* a pulse for them is on its way */
    uint32_t srv_in;                    /* the server wants to hear of new data */
    uint32_t srv_out;                   /* ... of new room */
    uint32_t readers;                   /* open read ends (the server's count) */
    uint32_t writers;                   /* open write ends (the server's count) */
    uint32_t id;                        /* the pipe's number at the server */
};

static inline uint32_t pipe_ring_load(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void pipe_ring_store(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static inline uint32_t pipe_ring_swap(uint32_t *p, uint32_t v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}

static inline bool pipe_ring_cas(uint32_t *p, uint32_t old, uint32_t v)
{
    return __atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static inline uint8_t *pipe_ring_data(struct pipe_ring *r)
{
    return (uint8_t *)r + PIPE_RING_DATA;
}

/* The bytes in R (*TAIL: where they start), or -1 when the header is
 * broken (more than the ring holds).  tail is read on both sides of head:
 * other readers and a writer may move both meanwhile, and only a head
 * read while tail stood still is measured against it (a writer's room was
 * reckoned from a tail no later). */
static inline long pipe_ring_used(struct pipe_ring *r, uint32_t *tail)
{
    uint32_t t = pipe_ring_load(&r->tail), n = 0;
    for (int tries = 0; tries < 16; tries++) {
        n = pipe_ring_load(&r->head) - t;
        uint32_t again = pipe_ring_load(&r->tail);
        if (again == t)
            break;
        t = again;
    }
    *tail = t;
    return n > PIPE_RING_SIZE ? -1 : (long)n;
}

/* The lock for writing, for TOKEN: true when taken. */
static inline bool pipe_ring_lock(struct pipe_ring *r, uint32_t token)
{
    return pipe_ring_cas(&r->wlock, 0, token);
}

/* Lets the lock go: true when someone waits for it (tell the server). */
static inline bool pipe_ring_unlock(struct pipe_ring *r)
{
    return (pipe_ring_swap(&r->wlock, 0) & PIPE_RING_CONTENDED) != 0;
}

/* After new data: whether to pulse the wait channel (a reader waits and no
 * pulse is on its way). */
static inline bool pipe_ring_wake_readers(struct pipe_ring *r)
{
    return pipe_ring_load(&r->rwait) && !pipe_ring_swap(&r->rpulsed, 1);
}

#endif
