/*
 * ldisc: the N_TTY line discipline (see ldisc.h).
 *
 * Input is one pass per byte in Linux's order (n_tty_receive_char_special):
 * ISTRIP/IUCLC, a pending VLNEXT (the byte is data), IXON start/stop,
 * ISIG signal characters, IXANY restart, CR/NL mapping, the canonical
 * functions (erase, word erase, kill, literal next, reprint, line ends),
 * then plain data: echoed and queued.  A c_cc entry of 0 is disabled.
 *
 * Echoes are output-processed when they are made (Linux queues echo
 * operations and processes them later; the bytes come out the same as long
 * as nothing else is written in between, and ldisc_output() guarantees it
 * by writing pending echoes before any new output).  So the column the
 * erase logic uses is the column after everything produced so far.
 *
 * The input ring keeps two bitmaps: eol marks a byte that ends a line and
 * is delivered ('\n', VEOL, VEOL2, the last byte of a pushed line), eof a
 * VEOF marker, which ends a line and is never delivered.  Bits are
 * cleared when a slot is written and only read in canonical mode.
 *
 * Deviations from Linux, besides those in ldisc.h:
 *  - only C0 bytes and DEL are control characters (echoed as ^X with
 *    ECHOCTL); Linux's kernel ctype also counts 0x80-0x9f, which turns
 *    UTF-8 continuation bytes into "^" + garbage;
 *  - VWERASE treats every byte >= 0x80 as part of a word;
 *  - with IUTF8, a run of continuation bytes at the start of the line is
 *    erased as one character (Linux refuses to erase it at all);
 *  - leaving canonical mode drops VEOF markers still unread (Linux hands
 *    them to the reader as NUL bytes).
 */
#include "ldisc.h"

#ifdef KESTREL_HOST
#include <string.h>
#else
#include "base/string.h"
#endif

#define MASK(i) ((i) & (LDISC_BUF_SIZE - 1u))

_Static_assert((LDISC_BUF_SIZE & (LDISC_BUF_SIZE - 1)) == 0, "ring size is a power of two");

static const uint8_t default_cc[LDISC_NCCS] = {
    [LDISC_VINTR] = 0x03,   [LDISC_VQUIT] = 0x1c,    [LDISC_VERASE] = 0x7f,
    [LDISC_VKILL] = 0x15,   [LDISC_VEOF] = 0x04,     [LDISC_VTIME] = 0,
    [LDISC_VMIN] = 1,       [LDISC_VSWTC] = 0,       [LDISC_VSTART] = 0x11,
    [LDISC_VSTOP] = 0x13,   [LDISC_VSUSP] = 0x1a,    [LDISC_VEOL] = 0,
    [LDISC_VREPRINT] = 0x12, [LDISC_VDISCARD] = 0x0f, [LDISC_VWERASE] = 0x17,
    [LDISC_VLNEXT] = 0x16,  [LDISC_VEOL2] = 0,
};

static bool lflag(const struct ldisc *ld, uint32_t f) { return (ld->tio.c_lflag & f) != 0; }
static bool iflag(const struct ldisc *ld, uint32_t f) { return (ld->tio.c_iflag & f) != 0; }

static bool is_cc(const struct ldisc *ld, uint8_t c, int idx)
{
    return ld->tio.c_cc[idx] != LDISC_VDISABLE && c == ld->tio.c_cc[idx];
}

static bool is_ctrl(uint8_t c) { return c < 0x20 || c == 0x7f; }

static bool is_cont(const struct ldisc *ld, uint8_t c)
{
    return iflag(ld, LDISC_IUTF8) && (c & 0xc0) == 0x80;
}

static bool is_word(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c >= 0x80;
}

static bool bit(const uint8_t *map, uint32_t i)
{
    i = MASK(i);
    return (map[i / 8] >> (i % 8)) & 1;
}

static void bit_set(uint8_t *map, uint32_t i)
{
    i = MASK(i);
    map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void bit_clear(uint8_t *map, uint32_t i)
{
    i = MASK(i);
    map[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static bool canonical(const struct ldisc *ld) { return lflag(ld, LDISC_ICANON); }

/* ---- Output processing ---- */

struct sink {
    uint8_t *buf;
    size_t cap, len;
};

static bool sink_put(struct sink *s, const uint8_t *b, size_t n)
{
    if (s->cap - s->len < n)
        return false;
    if (n)
        memcpy(s->buf + s->len, b, n);
    s->len += n;
    return true;
}

/* One byte through OPOST (Linux do_output_char): written whole or not at
 * all; false and nothing changed when it does not fit. */
static bool out_char(struct ldisc *ld, struct sink *s, uint8_t c)
{
    static const uint8_t crlf[2] = { '\r', '\n' };
    static const uint8_t spaces[8] = { ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ' };
    uint32_t of = ld->tio.c_oflag;

    if (!(of & LDISC_OPOST))
        return sink_put(s, &c, 1);
    switch (c) {
    case '\n':
        if (of & LDISC_ONLCR) {
            if (!sink_put(s, crlf, 2))
                return false;
            ld->column = ld->canon_column = 0;
            return true;
        }
        if (!sink_put(s, &c, 1))
            return false;
        if (of & LDISC_ONLRET)
            ld->column = 0;
        ld->canon_column = ld->column;
        return true;
    case '\r':
        if ((of & LDISC_ONOCR) && ld->column == 0)
            return true;
        if (of & LDISC_OCRNL) {
            c = '\n';
            if (!sink_put(s, &c, 1))
                return false;
            if (of & LDISC_ONLRET)
                ld->column = ld->canon_column = 0;
            return true;
        }
        if (!sink_put(s, &c, 1))
            return false;
        ld->column = ld->canon_column = 0;
        return true;
    case '\t': {
        uint32_t n = 8 - (ld->column & 7);
        bool ok = (of & LDISC_TABDLY) == LDISC_XTABS ? sink_put(s, spaces, n)
                                                      : sink_put(s, &c, 1);
        if (ok)
            ld->column += n;
        return ok;
    }
    case '\b':
        if (!sink_put(s, &c, 1))
            return false;
        if (ld->column > 0)
            ld->column--;
        return true;
    default:
        if (!is_ctrl(c)) {
            if ((of & LDISC_OLCUC) && c >= 'a' && c <= 'z')
                c = (uint8_t)(c - 'a' + 'A');
            if (!sink_put(s, &c, 1))
                return false;
            if (!is_cont(ld, c))
                ld->column++;
            return true;
        }
        return sink_put(s, &c, 1);
    }
}

/* ---- Echo staging ---- */

static struct sink echo_sink(struct ldisc *ld)
{
    return (struct sink){ ld->echo, LDISC_ECHO_SIZE, ld->echo_len };
}

static void echo_raw(struct ldisc *ld, uint8_t c)
{
    struct sink s = echo_sink(ld);
    if (!out_char(ld, &s, c))
        ld->echo_dropped++;
    ld->echo_len = (uint32_t)s.len;
}

/* Unprocessed bytes that move the column by DCOL (^X pairs, tab erase). */
static void echo_bytes(struct ldisc *ld, const uint8_t *b, size_t n, int dcol)
{
    struct sink s = echo_sink(ld);
    if (!sink_put(&s, b, n)) {
        ld->echo_dropped++;
        return;
    }
    ld->echo_len = (uint32_t)s.len;
    ld->column = (uint32_t)((int64_t)ld->column + dcol);
}

/* Linux echo_char: ECHOCTL shows control characters but tab as ^X. */
static void echo_char(struct ldisc *ld, uint8_t c)
{
    if (lflag(ld, LDISC_ECHOCTL) && is_ctrl(c) && c != '\t') {
        uint8_t pair[2] = { '^', (uint8_t)(c ^ 0x40) };
        echo_bytes(ld, pair, 2, 2);
    } else {
        echo_raw(ld, c);
    }
}

static void echo_rubout(struct ldisc *ld)
{
    echo_raw(ld, '\b');
    echo_raw(ld, ' ');
    echo_raw(ld, '\b');
}

/* Starts the edited line's column record at its first echoed byte. */
static void echo_first(struct ldisc *ld)
{
    if (canonical(ld) && ld->canon == ld->head)
        ld->canon_column = ld->column;
}

/* ---- Flow control ---- */

static void out_start(struct ldisc *ld, struct ldisc_events *ev)
{
    if (!ld->stopped || ld->tco_stopped)
        return;
    ld->stopped = false;
    ev->flags |= LDISC_EV_START;
}

static void out_stop(struct ldisc *ld, struct ldisc_events *ev)
{
    if (ld->stopped)
        return;
    ld->stopped = true;
    ev->flags |= LDISC_EV_STOP;
}

/* ---- The input ring ---- */

static void flush_input(struct ldisc *ld)
{
    ld->tail = ld->canon = ld->head;
    ld->lnext = false;
}

/* Room for N more bytes; in canonical mode the last slot is kept for a
 * line end. */
static bool room(const struct ldisc *ld, uint32_t n, bool line_end)
{
    uint32_t limit = LDISC_BUF_SIZE;
    if (canonical(ld) && !line_end)
        limit--;
    return ld->head - ld->tail + n <= limit;
}

static void put(struct ldisc *ld, uint8_t c)
{
    ld->buf[MASK(ld->head)] = c;
    bit_clear(ld->eol, ld->head);
    bit_clear(ld->eof, ld->head);
    ld->head++;
}

static void drop(struct ldisc *ld, struct ldisc_events *ev)
{
    ld->dropped++;
    ev->dropped++;
    if (lflag(ld, LDISC_ECHO) && iflag(ld, LDISC_IMAXBEL))
        echo_raw(ld, '\a');
}

/* Canonical: a line ends with C (MARKER: a VEOF, not delivered). */
static void line_end(struct ldisc *ld, uint8_t c, bool marker, struct ldisc_events *ev)
{
    put(ld, marker ? 0 : c);
    bit_set(marker ? ld->eof : ld->eol, ld->head - 1);
    ld->canon = ld->head;
    ev->flags |= LDISC_EV_INPUT;
}

/* Data: echoed and queued (Linux n_tty_receive_char).  FROM_CR: a '\n'
 * made by ICRNL, echoed as a newline rather than ^J outside canonical
 * mode. */
static void receive_data(struct ldisc *ld, uint8_t c, bool from_cr, struct ldisc_events *ev)
{
    bool dbl = c == 0xff && iflag(ld, LDISC_PARMRK);

    if (ld->stopped && !ld->tco_stopped && iflag(ld, LDISC_IXON) && iflag(ld, LDISC_IXANY))
        out_start(ld, ev);
    if (!room(ld, dbl ? 2 : 1, false)) {
        drop(ld, ev);
        return;
    }
    if (lflag(ld, LDISC_ECHO)) {
        if (c == '\n' && from_cr) {
            echo_raw(ld, '\n');
        } else {
            echo_first(ld);
            echo_char(ld, c);
        }
    }
    put(ld, c);
    if (dbl)
        put(ld, c);
    if (!canonical(ld)) {
        ld->rx_gen++;
        ev->flags |= LDISC_EV_INPUT;
    }
}

static void signal_char(struct ldisc *ld, int sig, uint8_t c, struct ldisc_events *ev)
{
    ev->signals |= 1u << sig;
    if (!lflag(ld, LDISC_NOFLSH)) {
        flush_input(ld);
        ld->echo_len = 0;
        ev->flags |= LDISC_EV_FLUSH_OUT | LDISC_EV_INPUT;
    }
    if (iflag(ld, LDISC_IXON))
        out_start(ld, ev);
    if (lflag(ld, LDISC_ECHO))
        echo_char(ld, c);
}

/* ---- Canonical editing ---- */

/* Backspaces over a tab just erased (head is at the tab): count the
 * columns of the line since its start or the previous tab. */
static void erase_tab(struct ldisc *ld)
{
    static const uint8_t bs[8] = { '\b', '\b', '\b', '\b', '\b', '\b', '\b', '\b' };
    uint32_t n = 0;
    bool after_tab = false;

    for (uint32_t t = ld->head; t != ld->canon;) {
        uint8_t c = ld->buf[MASK(--t)];
        if (c == '\t') {
            after_tab = true;
            break;
        }
        if (is_ctrl(c)) {
            if (lflag(ld, LDISC_ECHOCTL))
                n += 2;
        } else if (!is_cont(ld, c)) {
            n++;
        }
    }
    if (!after_tab)
        n += ld->canon_column;
    uint32_t nbs = 8 - (n & 7);
    if (nbs > ld->column)
        nbs = ld->column;
    echo_bytes(ld, bs, nbs, -(int)nbs);
}

/* Removes the last character of the edited line (a UTF-8 sequence with
 * IUTF8) and echoes its erasure; false when the line is empty or, for
 * word erase, the word is complete. */
static bool erase_one(struct ldisc *ld, bool word, bool visual, unsigned *seen)
{
    if (ld->head == ld->canon)
        return false;
    uint32_t h = ld->head;
    uint8_t c;
    do {
        c = ld->buf[MASK(--h)];
    } while (is_cont(ld, c) && h != ld->canon);
    if (word) {
        if (is_word(c))
            (*seen)++;
        else if (*seen)
            return false;
    }
    ld->head = h;
    if (!lflag(ld, LDISC_ECHO))
        return true;
    if (!visual) {
        echo_char(ld, ld->tio.c_cc[LDISC_VERASE]);
    } else if (c == '\t') {
        erase_tab(ld);
    } else {
        if (is_ctrl(c) && lflag(ld, LDISC_ECHOCTL))
            echo_rubout(ld);
        if (!is_ctrl(c) || lflag(ld, LDISC_ECHOCTL))
            echo_rubout(ld);
    }
    return true;
}

/* VERASE, VWERASE, VKILL (Linux eraser). */
static void erase(struct ldisc *ld, uint8_t c)
{
    unsigned seen = 0;

    if (ld->head == ld->canon)
        return;
    if (is_cc(ld, c, LDISC_VERASE)) {
        erase_one(ld, false, lflag(ld, LDISC_ECHOE), &seen);
        return;
    }
    if (lflag(ld, LDISC_IEXTEN) && is_cc(ld, c, LDISC_VWERASE)) {
        while (erase_one(ld, true, true, &seen))
            ;
        return;
    }
    if (!lflag(ld, LDISC_ECHO) || !lflag(ld, LDISC_ECHOK) || !lflag(ld, LDISC_ECHOKE) ||
        !lflag(ld, LDISC_ECHOE)) {
        ld->head = ld->canon;
        if (lflag(ld, LDISC_ECHO)) {
            echo_char(ld, c);
            if (lflag(ld, LDISC_ECHOK))
                echo_raw(ld, '\n');
        }
        return;
    }
    while (erase_one(ld, false, true, &seen))
        ;
}

static void reprint(struct ldisc *ld, uint8_t c)
{
    echo_char(ld, c);
    echo_raw(ld, '\n');
    for (uint32_t t = ld->canon; t != ld->head; t++)
        echo_char(ld, ld->buf[MASK(t)]);
}

/* The canonical functions; false when C is data. */
static bool canon_special(struct ldisc *ld, uint8_t c, struct ldisc_events *ev)
{
    bool iexten = lflag(ld, LDISC_IEXTEN);

    if (is_cc(ld, c, LDISC_VERASE) || is_cc(ld, c, LDISC_VKILL) ||
        (iexten && is_cc(ld, c, LDISC_VWERASE))) {
        erase(ld, c);
    } else if (iexten && is_cc(ld, c, LDISC_VLNEXT)) {
        ld->lnext = true;
        if (lflag(ld, LDISC_ECHO) && lflag(ld, LDISC_ECHOCTL)) {
            echo_raw(ld, '^');
            echo_raw(ld, '\b');
        }
    } else if (iexten && lflag(ld, LDISC_ECHO) && is_cc(ld, c, LDISC_VREPRINT)) {
        reprint(ld, c);
    } else if (c == '\n') {
        if (!room(ld, 1, true)) {
            drop(ld, ev);
        } else {
            if (lflag(ld, LDISC_ECHO) || lflag(ld, LDISC_ECHONL))
                echo_raw(ld, '\n');
            line_end(ld, c, false, ev);
        }
    } else if (is_cc(ld, c, LDISC_VEOF)) {
        if (room(ld, 1, true))
            line_end(ld, c, true, ev);
        else
            drop(ld, ev);
    } else if (is_cc(ld, c, LDISC_VEOL) || (iexten && is_cc(ld, c, LDISC_VEOL2))) {
        if (!room(ld, 1, true)) {
            drop(ld, ev);
        } else {
            if (lflag(ld, LDISC_ECHO))
                echo_char(ld, c);
            line_end(ld, c, false, ev);
        }
    } else {
        return false;
    }
    return true;
}

static void input_byte(struct ldisc *ld, uint8_t c, struct ldisc_events *ev)
{
    bool from_cr = false;

    if (iflag(ld, LDISC_ISTRIP))
        c &= 0x7f;
    if (iflag(ld, LDISC_IUCLC) && lflag(ld, LDISC_IEXTEN) && c >= 'A' && c <= 'Z')
        c = (uint8_t)(c - 'A' + 'a');
    if (ld->lnext) {
        ld->lnext = false;
        receive_data(ld, c, false, ev);
        return;
    }
    if (iflag(ld, LDISC_IXON)) {
        if (is_cc(ld, c, LDISC_VSTART)) {
            out_start(ld, ev);
            return;
        }
        if (is_cc(ld, c, LDISC_VSTOP)) {
            out_stop(ld, ev);
            return;
        }
    }
    if (lflag(ld, LDISC_ISIG)) {
        int sig = is_cc(ld, c, LDISC_VINTR) ? LDISC_SIGINT
                : is_cc(ld, c, LDISC_VQUIT) ? LDISC_SIGQUIT
                : is_cc(ld, c, LDISC_VSUSP) ? LDISC_SIGTSTP : 0;
        if (sig) {
            signal_char(ld, sig, c, ev);
            return;
        }
    }
    if (c == '\r') {
        if (iflag(ld, LDISC_IGNCR))
            return;
        if (iflag(ld, LDISC_ICRNL)) {
            c = '\n';
            from_cr = true;
        }
    } else if (c == '\n' && iflag(ld, LDISC_INLCR)) {
        c = '\r';
    }
    if (canonical(ld) && canon_special(ld, c, ev))
        return;
    receive_data(ld, c, from_cr, ev);
}

/* ---- The interface ---- */

void ldisc_init(struct ldisc *ld)
{
    memset(ld, 0, sizeof(*ld));
    ld->tio.c_iflag = LDISC_ICRNL | LDISC_IXON;
    ld->tio.c_oflag = LDISC_OPOST | LDISC_ONLCR;
    ld->tio.c_cflag = LDISC_B38400 | LDISC_CS8 | LDISC_CREAD | LDISC_HUPCL;
    ld->tio.c_lflag = LDISC_ISIG | LDISC_ICANON | LDISC_ECHO | LDISC_ECHOE | LDISC_ECHOK |
                      LDISC_ECHOCTL | LDISC_ECHOKE | LDISC_IEXTEN;
    memcpy(ld->tio.c_cc, default_cc, sizeof(default_cc));
}

static struct ldisc_events *events(struct ldisc_events *ev, struct ldisc_events *spare)
{
    if (!ev)
        ev = spare;
    ev->flags = ev->signals = ev->dropped = 0;
    return ev;
}

void ldisc_input(struct ldisc *ld, const uint8_t *bytes, size_t n, struct ldisc_events *ev)
{
    struct ldisc_events spare;
    ev = events(ev, &spare);
    if (!bytes)
        n = 0;
    for (size_t i = 0; i < n; i++)
        input_byte(ld, bytes[i], ev);
    if (ld->echo_len)
        ev->flags |= LDISC_EV_ECHO;
}

void ldisc_reader_start(const struct ldisc *ld, struct ldisc_reader *r, size_t cap)
{
    r->cap = cap;
    r->gen = ld->rx_gen;
    r->armed = false;
}

static enum ldisc_verdict arm(const struct ldisc *ld, struct ldisc_reader *r, uint32_t *tenths)
{
    r->armed = true;
    r->gen = ld->rx_gen;
    if (tenths)
        *tenths = ld->tio.c_cc[LDISC_VTIME];
    return LDISC_ARM;
}

enum ldisc_verdict ldisc_readable(const struct ldisc *ld, struct ldisc_reader *r,
                                  bool timer_expired, uint32_t *tenths)
{
    uint32_t avail = ld->head - ld->tail;
    uint32_t vmin = ld->tio.c_cc[LDISC_VMIN], vtime = ld->tio.c_cc[LDISC_VTIME];
    size_t want = vmin < r->cap ? vmin : r->cap;

    if (r->cap == 0)
        return LDISC_READY;
    if (canonical(ld)) {
        r->armed = false;
        return ld->canon != ld->tail ? LDISC_READY : LDISC_BLOCK;
    }
    if (vtime == 0) {
        r->armed = false;
        return avail >= want ? LDISC_READY : LDISC_BLOCK;
    }
    if (vmin == 0) {            /* a total timer from the read on */
        if (avail > 0 || (timer_expired && r->armed))
            return LDISC_READY;
        return r->armed ? LDISC_KEEP : arm(ld, r, tenths);
    }
    if (avail >= want)          /* an inter-byte timer */
        return LDISC_READY;
    if (avail == 0) {
        r->armed = false;
        return LDISC_BLOCK;
    }
    if (timer_expired && r->armed)
        return LDISC_READY;
    return r->armed && r->gen == ld->rx_gen ? LDISC_KEEP : arm(ld, r, tenths);
}

long ldisc_read(struct ldisc *ld, uint8_t *dst, size_t cap)
{
    size_t n = 0;

    if (!canonical(ld)) {
        while (ld->tail != ld->head && n < cap)
            dst[n++] = ld->buf[MASK(ld->tail++)];
        return (long)n;
    }
    if (cap == 0)
        return 0;
    if (ld->canon == ld->tail)
        return LDISC_EAGAIN;
    while (ld->tail != ld->canon && n < cap) {
        uint32_t i = ld->tail++;
        if (bit(ld->eof, i))
            return (long)n;
        dst[n++] = ld->buf[MASK(i)];
        if (bit(ld->eol, i))
            return (long)n;
    }
    /* DST is full right before a VEOF: it goes with this read (Linux's
     * canon_skip_eof), or the next read would see end of file. */
    if (ld->tail != ld->canon && bit(ld->eof, ld->tail))
        ld->tail++;
    return (long)n;
}

size_t ldisc_inq(const struct ldisc *ld)
{
    if (!canonical(ld))
        return ld->head - ld->tail;
    size_t n = 0;
    for (uint32_t i = ld->tail; i != ld->canon; i++)
        n += !bit(ld->eof, i);
    return n;
}

bool ldisc_poll_in(const struct ldisc *ld)
{
    if (canonical(ld))
        return ld->canon != ld->tail;
    uint32_t vmin = ld->tio.c_cc[LDISC_VMIN];
    uint32_t amt = ld->tio.c_cc[LDISC_VTIME] == 0 && vmin ? vmin : 1;
    return ld->head - ld->tail >= amt;
}

size_t ldisc_echo_drain(struct ldisc *ld, uint8_t *dst, size_t cap)
{
    if (ld->stopped || ld->echo_len == 0 || cap == 0)
        return 0;
    size_t n = ld->echo_len < cap ? ld->echo_len : cap;
    memcpy(dst, ld->echo, n);
    memmove(ld->echo, ld->echo + n, ld->echo_len - n);
    ld->echo_len -= (uint32_t)n;
    return n;
}

size_t ldisc_echo_pending(const struct ldisc *ld) { return ld->echo_len; }

size_t ldisc_output(struct ldisc *ld, const uint8_t *src, size_t n,
                    uint8_t *dst, size_t cap, size_t *consumed)
{
    size_t used = 0;

    if (consumed)
        *consumed = 0;
    if (ld->stopped)
        return 0;
    struct sink s = { dst, cap, ldisc_echo_drain(ld, dst, cap) };
    if (ld->echo_len || !src)
        return s.len;
    while (used < n && out_char(ld, &s, src[used]))
        used++;
    if (consumed)
        *consumed = used;
    return s.len;
}

bool ldisc_stopped(const struct ldisc *ld) { return ld->stopped; }

int ldisc_tcxonc(struct ldisc *ld, int action, int *xchar, struct ldisc_events *ev)
{
    struct ldisc_events spare;
    ev = events(ev, &spare);
    if (action < LDISC_TCOOFF || action > LDISC_TCION)
        return LDISC_EINVAL;
    if (xchar)
        *xchar = -1;
    switch (action) {
    case LDISC_TCOOFF:
        if (!ld->tco_stopped) {
            ld->tco_stopped = true;
            out_stop(ld, ev);
        }
        break;
    case LDISC_TCOON:
        if (ld->tco_stopped) {
            ld->tco_stopped = false;
            out_start(ld, ev);
        }
        break;
    default: {
        uint8_t c = ld->tio.c_cc[action == LDISC_TCIOFF ? LDISC_VSTOP : LDISC_VSTART];
        if (xchar && c != LDISC_VDISABLE)
            *xchar = c;
        break;
    }
    }
    return 0;
}

void ldisc_get_termios(const struct ldisc *ld, struct ldisc_termios *t)
{
    *t = ld->tio;
}

/* Leaving canonical mode: every byte is readable; VEOF markers go. */
static void to_raw(struct ldisc *ld)
{
    uint32_t w = ld->tail;
    for (uint32_t r = ld->tail; r != ld->head; r++)
        if (!bit(ld->eof, r))
            ld->buf[MASK(w++)] = ld->buf[MASK(r)];
    ld->head = ld->canon = w;
    if (ld->head != ld->tail)
        ld->rx_gen++;
}

/* Entering canonical mode: pending bytes are one complete line. */
static void to_canon(struct ldisc *ld)
{
    memset(ld->eol, 0, sizeof(ld->eol));
    memset(ld->eof, 0, sizeof(ld->eof));
    if (ld->head != ld->tail)
        bit_set(ld->eol, ld->head - 1);
    ld->canon = ld->head;
}

int ldisc_set_termios(struct ldisc *ld, const struct ldisc_termios *t, int how,
                      struct ldisc_events *ev)
{
    struct ldisc_events spare;
    ev = events(ev, &spare);
    if (!t || how < LDISC_TCSANOW || how > LDISC_TCSAFLUSH)
        return LDISC_EINVAL;
    struct ldisc_termios old = ld->tio;
    if (how == LDISC_TCSAFLUSH) {
        flush_input(ld);
        ev->flags |= LDISC_EV_INPUT;
    }
    ld->tio = *t;
    if ((old.c_lflag ^ t->c_lflag) & LDISC_ICANON) {
        ld->lnext = false;
        if (t->c_lflag & LDISC_ICANON)
            to_canon(ld);
        else
            to_raw(ld);
        ev->flags |= LDISC_EV_INPUT;
    }
    if ((old.c_iflag & LDISC_IXON) && !(t->c_iflag & LDISC_IXON) && !ld->tco_stopped)
        out_start(ld, ev);
    return 0;
}

void ldisc_get_winsize(const struct ldisc *ld, struct ldisc_winsize *ws)
{
    *ws = ld->ws;
}

bool ldisc_set_winsize(struct ldisc *ld, const struct ldisc_winsize *ws)
{
    bool changed = ws->ws_row != ld->ws.ws_row || ws->ws_col != ld->ws.ws_col ||
                   ws->ws_xpixel != ld->ws.ws_xpixel || ws->ws_ypixel != ld->ws.ws_ypixel;
    ld->ws = *ws;
    return changed;
}

int ldisc_flush(struct ldisc *ld, int queue)
{
    if (queue < LDISC_TCIFLUSH || queue > LDISC_TCIOFLUSH)
        return LDISC_EINVAL;
    if (queue != LDISC_TCOFLUSH)
        flush_input(ld);
    if (queue != LDISC_TCIFLUSH)
        ld->echo_len = 0;
    return 0;
}
