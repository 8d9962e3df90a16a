/*
 * ldisc: the terminal line discipline of the tty server, Linux's N_TTY for
 * the parts a shell and vi need, over Linux's x86-64 termios ABI.
 *
 * Pure: no system calls, no allocation, no timers, no locks.  The server
 * owns a struct ldisc per terminal and calls in from its one thread:
 *
 *   bytes from the device   ldisc_input(); then act on the events (send
 *                           signals, drain echoes, re-evaluate the reader)
 *   a read()                ldisc_reader_start(), ldisc_readable(): READY
 *                           -> ldisc_read(); otherwise park the reader and
 *                           call ldisc_readable() again after every input
 *                           and every expiry of the timer it asked for
 *   a write()               ldisc_output() into the device's queue; it puts
 *                           pending echoes first, so the column the erase
 *                           logic keeps follows the order of the stream
 *   ioctls                  ldisc_{get,set}_termios, _{get,set}_winsize,
 *                           _flush, _tcxonc, _inq
 *
 * Input buffer: LDISC_BUF_SIZE bytes.  In canonical mode it holds complete
 * lines, then the line being edited; a line ends with '\n', VEOL or VEOL2
 * (delivered to the reader) or with VEOF (a marker, not delivered).
 * Full buffer: ordinary bytes are dropped and counted (a BEL is echoed
 * with ECHO|IMAXBEL), but in canonical mode one slot stays reserved for a
 * line end, so a reader can always be given a line; signal, flow control
 * and editing characters are always processed.  Linux instead keeps
 * overwriting the last byte of an overlong line, and in non-canonical mode
 * throttles the sender rather than dropping.
 *
 * Output stopped (^S with IXON, or TCOOFF): ldisc_output() and
 * ldisc_echo_drain() produce nothing until it restarts (^Q, TCOON, any
 * key with IXANY, a signal character with IXON, or clearing IXON).
 *
 * Readers: one at a time (Linux serialises them too); others queue in the
 * server behind the first.  Bytes stay in the buffer until the read is
 * answered, so the VMIN/VTIME logic only looks at counts.
 *
 * Not implemented (accepted in the flags, no effect): ECHOPRT, XCASE,
 * EXTPROC, FLUSHO/VDISCARD, PENDIN, TOSTOP (the server's job control),
 * IXOFF, delays (NLDLY...), OFILL, parity and break handling; PARMRK only
 * doubles a 0xff data byte.  Other deviations are noted where they apply.
 */
#ifndef KESTREL_SERVERS_TTY_LDISC_H
#define KESTREL_SERVERS_TTY_LDISC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- The ABI: Linux x86-64 struct termios as TCGETS sees it ---- */

#define LDISC_NCCS 19

struct ldisc_termios {
    uint32_t c_iflag;
    uint32_t c_oflag;
    uint32_t c_cflag;
    uint32_t c_lflag;
    uint8_t c_line;
    uint8_t c_cc[LDISC_NCCS];
};
_Static_assert(sizeof(struct ldisc_termios) == 36, "Linux struct termios is 36 bytes");

struct ldisc_winsize {
    uint16_t ws_row;
    uint16_t ws_col;
    uint16_t ws_xpixel;
    uint16_t ws_ypixel;
};
_Static_assert(sizeof(struct ldisc_winsize) == 8, "Linux struct winsize is 8 bytes");

/* c_cc indices */
#define LDISC_VINTR     0
#define LDISC_VQUIT     1
#define LDISC_VERASE    2
#define LDISC_VKILL     3
#define LDISC_VEOF      4
#define LDISC_VTIME     5
#define LDISC_VMIN      6
#define LDISC_VSWTC     7
#define LDISC_VSTART    8
#define LDISC_VSTOP     9
#define LDISC_VSUSP     10
#define LDISC_VEOL      11
#define LDISC_VREPRINT  12
#define LDISC_VDISCARD  13
#define LDISC_VWERASE   14
#define LDISC_VLNEXT    15
#define LDISC_VEOL2     16
#define LDISC_VDISABLE  0       /* a c_cc entry of 0 disables that function */

/* c_iflag */
#define LDISC_IGNBRK    0x00001u
#define LDISC_BRKINT    0x00002u
#define LDISC_IGNPAR    0x00004u
#define LDISC_PARMRK    0x00008u
#define LDISC_INPCK     0x00010u
#define LDISC_ISTRIP    0x00020u
#define LDISC_INLCR     0x00040u
#define LDISC_IGNCR     0x00080u
#define LDISC_ICRNL     0x00100u
#define LDISC_IUCLC     0x00200u
#define LDISC_IXON      0x00400u
#define LDISC_IXANY     0x00800u
#define LDISC_IXOFF     0x01000u
#define LDISC_IMAXBEL   0x02000u
#define LDISC_IUTF8     0x04000u

/* c_oflag */
#define LDISC_OPOST     0x00001u
#define LDISC_OLCUC     0x00002u
#define LDISC_ONLCR     0x00004u
#define LDISC_OCRNL     0x00008u
#define LDISC_ONOCR     0x00010u
#define LDISC_ONLRET    0x00020u
#define LDISC_OFILL     0x00040u
#define LDISC_OFDEL     0x00080u
#define LDISC_NLDLY     0x00100u
#define LDISC_CRDLY     0x00600u
#define LDISC_TABDLY    0x01800u
#define LDISC_XTABS     0x01800u    /* TABDLY == TAB3: expand tabs */
#define LDISC_BSDLY     0x02000u
#define LDISC_VTDLY     0x04000u
#define LDISC_FFDLY     0x08000u

/* c_cflag */
#define LDISC_CBAUD     0x0000100fu
#define LDISC_B38400    0x0000000fu
#define LDISC_CSIZE     0x00000030u
#define LDISC_CS8       0x00000030u
#define LDISC_CSTOPB    0x00000040u
#define LDISC_CREAD     0x00000080u
#define LDISC_PARENB    0x00000100u
#define LDISC_PARODD    0x00000200u
#define LDISC_HUPCL     0x00000400u
#define LDISC_CLOCAL    0x00000800u
#define LDISC_CRTSCTS   0x80000000u

/* c_lflag */
#define LDISC_ISIG      0x00001u
#define LDISC_ICANON    0x00002u
#define LDISC_XCASE     0x00004u
#define LDISC_ECHO      0x00008u
#define LDISC_ECHOE     0x00010u
#define LDISC_ECHOK     0x00020u
#define LDISC_ECHONL    0x00040u
#define LDISC_NOFLSH    0x00080u
#define LDISC_TOSTOP    0x00100u
#define LDISC_ECHOCTL   0x00200u
#define LDISC_ECHOPRT   0x00400u
#define LDISC_ECHOKE    0x00800u
#define LDISC_FLUSHO    0x01000u
#define LDISC_PENDIN    0x04000u
#define LDISC_IEXTEN    0x08000u
#define LDISC_EXTPROC   0x10000u

/* ldisc_set_termios HOW: TCSETS, TCSETSW, TCSETSF */
#define LDISC_TCSANOW   0
#define LDISC_TCSADRAIN 1   /* the server drains output first */
#define LDISC_TCSAFLUSH 2   /* also discards unread input */

/* ldisc_flush QUEUE (TCFLSH) */
#define LDISC_TCIFLUSH  0
#define LDISC_TCOFLUSH  1
#define LDISC_TCIOFLUSH 2

/* ldisc_tcxonc ACTION (TCXONC) */
#define LDISC_TCOOFF    0
#define LDISC_TCOON     1
#define LDISC_TCIOFF    2
#define LDISC_TCION     3

/* Signals the server sends to the foreground process group. */
#define LDISC_SIGINT    2
#define LDISC_SIGQUIT   3
#define LDISC_SIGTSTP   20

/* Errors (negative returns). */
#define LDISC_EINVAL    (-1)    /* bad HOW, QUEUE or ACTION; nothing changed */
#define LDISC_EAGAIN    (-2)    /* canonical mode: no complete line yet */

/* ---- State ---- */

#define LDISC_BUF_SIZE  4096    /* input buffer; a power of two */
#define LDISC_ECHO_SIZE 4096    /* echoes staged for the device */

struct ldisc {
    struct ldisc_termios tio;
    struct ldisc_winsize ws;

    /* Input ring: free-running indices, masked on use.
     * tail <= canon <= head; [tail, canon) complete lines (canonical mode
     * only; in non-canonical mode every byte in [tail, head) is readable),
     * [canon, head) the line being edited. */
    uint8_t buf[LDISC_BUF_SIZE];
    uint8_t eol[LDISC_BUF_SIZE / 8];    /* byte ends a line, delivered */
    uint8_t eof[LDISC_BUF_SIZE / 8];    /* byte is a VEOF marker */
    uint32_t tail, canon, head;
    uint64_t rx_gen;                    /* bumped when raw bytes arrive */

    /* Echoes, already output-processed, waiting for the device. */
    uint8_t echo[LDISC_ECHO_SIZE];
    uint32_t echo_len;

    uint32_t column;                    /* of the cursor (OPOST only) */
    uint32_t canon_column;              /* where the edited line began */
    bool lnext;                         /* next byte is literal */
    bool stopped;                       /* output stopped */
    bool tco_stopped;                   /* ... by TCOOFF */

    uint64_t dropped;                   /* input bytes lost to a full buffer */
    uint64_t echo_dropped;              /* echo bytes lost to a full stage */
};

/* What one call did, for the server to act on.  Zeroed by each call. */
#define LDISC_EV_INPUT     0x01u    /* readable data changed: re-evaluate the reader */
#define LDISC_EV_ECHO      0x02u    /* echoes staged: ldisc_echo_drain() */
#define LDISC_EV_STOP      0x04u    /* output stopped */
#define LDISC_EV_START     0x08u    /* output restarted: resume writers, drain */
#define LDISC_EV_FLUSH_OUT 0x10u    /* discard the device's queued output */

struct ldisc_events {
    uint32_t flags;     /* LDISC_EV_* */
    uint32_t signals;   /* bit (1u << sig) per LDISC_SIG* to send */
    uint32_t dropped;   /* input bytes dropped by this call */
};

/* Linux's defaults for a new tty (stty sane), winsize 0x0, empty buffers. */
void ldisc_init(struct ldisc *ld);

/* Processes N received bytes.  All are consumed: each is data, an editing
 * or control function, or dropped (counted).  EV may be NULL. */
void ldisc_input(struct ldisc *ld, const uint8_t *bytes, size_t n,
                 struct ldisc_events *ev);

/* ---- Reading ---- */

/* What the server does with a parked read. */
enum ldisc_verdict {
    LDISC_READY,    /* answer now: ldisc_read() (may give 0 bytes: EOF, VMIN=0) */
    LDISC_BLOCK,    /* wait for input; cancel any timer */
    LDISC_ARM,      /* wait; (re)start the timer with *TENTHS tenths of a second */
    LDISC_KEEP,     /* wait; leave the running timer alone */
};

/* One pending read, kept by the server. */
struct ldisc_reader {
    size_t cap;         /* the reader's buffer size */
    uint64_t gen;       /* ld->rx_gen when the timer was last armed */
    bool armed;
};

void ldisc_reader_start(const struct ldisc *ld, struct ldisc_reader *r, size_t cap);

/* The verdict for reader R now.  Call at the read, after each input event
 * (whatever its flags) and with TIMER_EXPIRED set when the timer fires.
 *   canonical:          READY when a line (or EOF) is complete
 *   VMIN=0, VTIME=0:    READY at once
 *   VMIN>0, VTIME=0:    READY at min(VMIN, cap) bytes
 *   VMIN=0, VTIME>0:    READY at 1 byte or when the timer (armed once, at
 *                       the read) expires
 *   VMIN>0, VTIME>0:    READY at min(VMIN, cap) bytes, or at expiry of the
 *                       inter-byte timer, armed from the first byte and
 *                       re-armed by every later one
 * TENTHS is written for LDISC_ARM only; it may be NULL otherwise. */
enum ldisc_verdict ldisc_readable(const struct ldisc *ld, struct ldisc_reader *r,
                                  bool timer_expired, uint32_t *tenths);

/* Copies what read() returns now into DST (at most CAP bytes) and removes
 * it: in canonical mode at most one line (with its '\n'/VEOL/VEOL2; VEOF
 * ends it without a byte, so VEOF at line start yields 0: end of file),
 * LDISC_EAGAIN if no line is complete; otherwise every byte available up
 * to CAP (maybe 0).  A line longer than CAP is returned over several
 * reads.  CAP 0 returns 0 and changes nothing. */
long ldisc_read(struct ldisc *ld, uint8_t *dst, size_t cap);

/* FIONREAD/TIOCINQ: bytes a reader could get (canonical: complete lines
 * without their VEOF markers). */
size_t ldisc_inq(const struct ldisc *ld);

/* poll() POLLIN: a line complete, or (VMIN>0, VTIME=0) VMIN bytes, or
 * otherwise one byte. */
bool ldisc_poll_in(const struct ldisc *ld);

/* ---- Output ---- */

/* Writes pending echoes, then output-processes SRC[0..N) into DST (CAP
 * bytes): OPOST with ONLCR, OCRNL, ONOCR, ONLRET, OLCUC, XTABS.  A byte's
 * expansion is written whole or not at all; *CONSUMED says how much of
 * SRC was taken (0 while echoes are still pending or output is stopped).
 * Returns the bytes written to DST. */
size_t ldisc_output(struct ldisc *ld, const uint8_t *src, size_t n,
                    uint8_t *dst, size_t cap, size_t *consumed);

/* Moves up to CAP pending echo bytes to DST (0 while stopped). */
size_t ldisc_echo_drain(struct ldisc *ld, uint8_t *dst, size_t cap);
size_t ldisc_echo_pending(const struct ldisc *ld);

bool ldisc_stopped(const struct ldisc *ld);

/* TCXONC.  TCOOFF/TCOON stop/restart output (^Q does not undo TCOOFF,
 * TCOON does not undo ^S, as on Linux); TCIOFF/TCION set *XCHAR to the
 * VSTOP/VSTART byte the server sends to the device, or -1 when disabled.
 * Returns 0 or LDISC_EINVAL.  EV may be NULL. */
int ldisc_tcxonc(struct ldisc *ld, int action, int *xchar, struct ldisc_events *ev);

/* ---- Control ---- */

void ldisc_get_termios(const struct ldisc *ld, struct ldisc_termios *t);

/* TCSETS (NOW), TCSETSW (DRAIN: the server has drained output first),
 * TCSETSF (FLUSH: unread input is discarded first).  Any flag bits and
 * c_cc values are stored as given.  Leaving canonical mode makes every
 * byte readable, the partial line included; entering it with bytes
 * pending makes them one complete line (Linux's "push").  Returns 0 or
 * LDISC_EINVAL.  EV may be NULL. */
int ldisc_set_termios(struct ldisc *ld, const struct ldisc_termios *t, int how,
                      struct ldisc_events *ev);

void ldisc_get_winsize(const struct ldisc *ld, struct ldisc_winsize *ws);

/* TIOCSWINSZ; returns true when it changed (the server sends SIGWINCH). */
bool ldisc_set_winsize(struct ldisc *ld, const struct ldisc_winsize *ws);

/* TCFLSH: TCIFLUSH discards unread input (and the edited line), TCOFLUSH
 * pending echoes (the server discards its own queue), TCIOFLUSH both.
 * Returns 0 or LDISC_EINVAL. */
int ldisc_flush(struct ldisc *ld, int queue);

#endif
