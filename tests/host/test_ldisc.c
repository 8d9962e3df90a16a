/*
 * Host tests for servers/tty/ldisc: the termios ABI and Linux's defaults,
 * canonical editing and its echo (erase over ^X and tabs, word erase,
 * kill in its three echo styles, reprint, literal next, EOF at line start
 * and mid-line, lines longer than the buffer), signal and flow control
 * characters with their flags on and off, CR/NL mapping, NUL and 0xff
 * bytes, the VMIN/VTIME verdicts, mode switches, output processing into
 * short buffers, and a seeded random run over garbage termios checking
 * the ring's invariants.  Inputs and outputs are exact-size heap buffers
 * and the struct is filled with garbage before ldisc_init, so ASan and
 * UBSan see any stray access.
 */
#include "ldisc.h"
#include "check.h"

#include <stddef.h>

#if defined(__has_include)
#if __has_include(<asm/termbits.h>)
#include <asm/termbits.h>
#define HAVE_LINUX_TERMBITS 1
#endif
#endif

static struct ldisc *ld;
static struct ldisc_events ev;

static struct ldisc *fresh(void)
{
    free(ld);
    ld = malloc(sizeof(*ld));
    CHECK(ld != NULL);
    memset(ld, 0xa5, sizeof(*ld));
    ldisc_init(ld);
    return ld;
}

static void in_n(const void *bytes, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    memcpy(p, bytes, n);
    ldisc_input(ld, p, n, &ev);
    free(p);
}

static void in(const char *s) { in_n(s, strlen(s)); }

/* Pending echoes (drained) as a string; EN gets the length. */
static size_t en;
static const char *echo(void)
{
    static char buf[LDISC_ECHO_SIZE + 1];
    uint8_t *p = malloc(LDISC_ECHO_SIZE);
    CHECK(p != NULL);
    en = ldisc_echo_drain(ld, p, LDISC_ECHO_SIZE);
    memcpy(buf, p, en);
    buf[en] = 0;
    free(p);
    return buf;
}

/* One read into an exact-size buffer; RN gets the result. */
static long rn;
static const char *rd(size_t cap)
{
    static char buf[8192];
    CHECK(cap < sizeof(buf));
    uint8_t *p = malloc(cap ? cap : 1);
    CHECK(p != NULL);
    rn = ldisc_read(ld, p, cap);
    CHECK(rn <= (long)cap);
    if (rn > 0)
        memcpy(buf, p, (size_t)rn);
    buf[rn > 0 ? rn : 0] = 0;
    free(p);
    return buf;
}

static void set_lflag(uint32_t on, uint32_t off)
{
    struct ldisc_termios t;
    ldisc_get_termios(ld, &t);
    t.c_lflag = (t.c_lflag | on) & ~off;
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
}

static void set_iflag(uint32_t on, uint32_t off)
{
    struct ldisc_termios t;
    ldisc_get_termios(ld, &t);
    t.c_iflag = (t.c_iflag | on) & ~off;
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
}

static void set_oflag(uint32_t on, uint32_t off)
{
    struct ldisc_termios t;
    ldisc_get_termios(ld, &t);
    t.c_oflag = (t.c_oflag | on) & ~off;
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
}

static void set_cc(int idx, uint8_t v)
{
    struct ldisc_termios t;
    ldisc_get_termios(ld, &t);
    t.c_cc[idx] = v;
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
}

/* Non-canonical with VMIN, VTIME. */
static void set_raw(uint8_t vmin, uint8_t vtime)
{
    struct ldisc_termios t;
    ldisc_get_termios(ld, &t);
    t.c_lflag &= ~LDISC_ICANON;
    t.c_cc[LDISC_VMIN] = vmin;
    t.c_cc[LDISC_VTIME] = vtime;
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
}

/* Output through ldisc_output into an exact-size buffer of CAP bytes. */
static size_t on, oconsumed;
static const char *out(const char *s, size_t cap)
{
    static char buf[4096];
    CHECK(cap < sizeof(buf));
    size_t n = strlen(s);
    uint8_t *src = malloc(n ? n : 1), *dst = malloc(cap ? cap : 1);
    CHECK(src != NULL && dst != NULL);
    memcpy(src, s, n);
    oconsumed = 12345;
    on = ldisc_output(ld, src, n, dst, cap, &oconsumed);
    CHECK(on <= cap);
    CHECK(oconsumed <= n);
    memcpy(buf, dst, on);
    buf[on] = 0;
    free(src);
    free(dst);
    return buf;
}

static enum ldisc_verdict verdict(struct ldisc_reader *r, bool expired)
{
    uint32_t tenths = 0xdeadbeef;
    enum ldisc_verdict v = ldisc_readable(ld, r, expired, &tenths);
    if (v == LDISC_ARM)
        CHECK_EQ(tenths, ld->tio.c_cc[LDISC_VTIME]);
    return v;
}

/* ---- ABI and defaults ---- */

static void test_abi(void)
{
    CHECK_EQ(sizeof(struct ldisc_termios), 36);
    CHECK_EQ(offsetof(struct ldisc_termios, c_lflag), 12);
    CHECK_EQ(offsetof(struct ldisc_termios, c_line), 16);
    CHECK_EQ(offsetof(struct ldisc_termios, c_cc), 17);
    CHECK_EQ(sizeof(struct ldisc_winsize), 8);
    CHECK_EQ(offsetof(struct ldisc_winsize, ws_ypixel), 6);
    CHECK_EQ(LDISC_VEOL2, 16);
    CHECK_EQ(LDISC_VLNEXT, 15);
    CHECK_EQ(LDISC_VMIN, 6);
    CHECK_EQ(LDISC_VTIME, 5);
    CHECK_EQ(LDISC_ICANON, 2);
    CHECK_EQ(LDISC_IEXTEN, 0x8000);
    CHECK_EQ(LDISC_IUTF8, 0x4000);
    CHECK_EQ(LDISC_XTABS, 0x1800);
#ifdef HAVE_LINUX_TERMBITS
    /* Cross-checked against this host's kernel headers. */
    CHECK_EQ(sizeof(struct ldisc_termios), sizeof(struct termios));
    CHECK_EQ(offsetof(struct ldisc_termios, c_cc), offsetof(struct termios, c_cc));
    CHECK_EQ(LDISC_NCCS, NCCS);
    static const int cc[][2] = {
        { LDISC_VINTR, VINTR }, { LDISC_VQUIT, VQUIT }, { LDISC_VERASE, VERASE },
        { LDISC_VKILL, VKILL }, { LDISC_VEOF, VEOF }, { LDISC_VTIME, VTIME },
        { LDISC_VMIN, VMIN }, { LDISC_VSWTC, VSWTC }, { LDISC_VSTART, VSTART },
        { LDISC_VSTOP, VSTOP }, { LDISC_VSUSP, VSUSP }, { LDISC_VEOL, VEOL },
        { LDISC_VREPRINT, VREPRINT }, { LDISC_VDISCARD, VDISCARD },
        { LDISC_VWERASE, VWERASE }, { LDISC_VLNEXT, VLNEXT }, { LDISC_VEOL2, VEOL2 },
    };
    for (size_t i = 0; i < sizeof(cc) / sizeof(cc[0]); i++)
        CHECK_EQ(cc[i][0], cc[i][1]);
    static const unsigned long fl[][2] = {
        { LDISC_IGNBRK, IGNBRK }, { LDISC_BRKINT, BRKINT }, { LDISC_IGNPAR, IGNPAR },
        { LDISC_PARMRK, PARMRK }, { LDISC_INPCK, INPCK }, { LDISC_ISTRIP, ISTRIP },
        { LDISC_INLCR, INLCR }, { LDISC_IGNCR, IGNCR }, { LDISC_ICRNL, ICRNL },
        { LDISC_IUCLC, IUCLC }, { LDISC_IXON, IXON }, { LDISC_IXANY, IXANY },
        { LDISC_IXOFF, IXOFF }, { LDISC_IMAXBEL, IMAXBEL }, { LDISC_IUTF8, IUTF8 },
        { LDISC_OPOST, OPOST }, { LDISC_OLCUC, OLCUC }, { LDISC_ONLCR, ONLCR },
        { LDISC_OCRNL, OCRNL }, { LDISC_ONOCR, ONOCR }, { LDISC_ONLRET, ONLRET },
        { LDISC_OFILL, OFILL }, { LDISC_OFDEL, OFDEL }, { LDISC_TABDLY, TABDLY },
        { LDISC_XTABS, XTABS }, { LDISC_CBAUD, CBAUD }, { LDISC_B38400, B38400 },
        { LDISC_CSIZE, CSIZE }, { LDISC_CS8, CS8 }, { LDISC_CREAD, CREAD },
        { LDISC_HUPCL, HUPCL }, { LDISC_CLOCAL, CLOCAL }, { LDISC_CRTSCTS, CRTSCTS },
        { LDISC_ISIG, ISIG }, { LDISC_ICANON, ICANON }, { LDISC_XCASE, XCASE },
        { LDISC_ECHO, ECHO }, { LDISC_ECHOE, ECHOE }, { LDISC_ECHOK, ECHOK },
        { LDISC_ECHONL, ECHONL }, { LDISC_NOFLSH, NOFLSH }, { LDISC_TOSTOP, TOSTOP },
        { LDISC_ECHOCTL, ECHOCTL }, { LDISC_ECHOPRT, ECHOPRT }, { LDISC_ECHOKE, ECHOKE },
        { LDISC_FLUSHO, FLUSHO }, { LDISC_PENDIN, PENDIN }, { LDISC_IEXTEN, IEXTEN },
        { LDISC_EXTPROC, EXTPROC }, { LDISC_TCSAFLUSH, TCSAFLUSH },
        { LDISC_TCIOFLUSH, TCIOFLUSH }, { LDISC_TCION, TCION },
    };
    for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
        CHECK_EQ(fl[i][0], fl[i][1]);
#endif
}

static void test_defaults(void)
{
    fresh();
    struct ldisc_termios t;
    memset(&t, 0x5a, sizeof(t));
    ldisc_get_termios(ld, &t);
    CHECK_EQ(t.c_iflag, 0x500);         /* ICRNL IXON */
    CHECK_EQ(t.c_oflag, 0x5);           /* OPOST ONLCR */
    CHECK_EQ(t.c_cflag, 0x4bf);         /* B38400 CS8 CREAD HUPCL */
    CHECK_EQ(t.c_lflag, 0x8a3b);        /* ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN */
    CHECK_EQ(t.c_line, 0);
    static const uint8_t cc[LDISC_NCCS] = {
        3, 034, 0177, 025, 4, 0, 1, 0, 021, 023, 032, 0, 022, 017, 027, 026, 0,
    };
    CHECK(memcmp(t.c_cc, cc, sizeof(cc)) == 0);
    struct ldisc_winsize ws;
    memset(&ws, 0x5a, sizeof(ws));
    ldisc_get_winsize(ld, &ws);
    CHECK_EQ(ws.ws_row, 0);
    CHECK_EQ(ws.ws_col, 0);
    CHECK_EQ(ldisc_inq(ld), 0);
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    CHECK(!ldisc_stopped(ld));
    CHECK(!ldisc_poll_in(ld));
}

/* ---- Canonical mode ---- */

static void test_canon_line(void)
{
    struct ldisc_reader r;
    fresh();
    ldisc_reader_start(ld, &r, 100);
    in("hello");
    CHECK_EQ(ev.flags & LDISC_EV_INPUT, 0);
    CHECK(ev.flags & LDISC_EV_ECHO);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    CHECK_EQ(ldisc_inq(ld), 0);
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
    in("\r");
    CHECK(ev.flags & LDISC_EV_INPUT);
    CHECK_STR(echo(), "hello\r\n");
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    CHECK(ldisc_poll_in(ld));
    CHECK_EQ(ldisc_inq(ld), 6);
    CHECK_STR(rd(100), "hello\n");
    CHECK_EQ(rn, 6);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    CHECK_EQ(ldisc_inq(ld), 0);
}

static void test_canon_one_line_per_read(void)
{
    fresh();
    in("a\nbc\n");
    CHECK_EQ(ldisc_inq(ld), 5);
    CHECK_STR(rd(100), "a\n");
    CHECK_STR(rd(100), "bc\n");
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
    /* a line longer than the reader's buffer comes in pieces */
    in("abcdef\n");
    CHECK_STR(rd(4), "abcd");
    CHECK_STR(rd(4), "ef\n");
    /* a zero-byte read changes nothing */
    in("x\n");
    rd(0);
    CHECK_EQ(rn, 0);
    CHECK_STR(rd(10), "x\n");
}

static void test_icrnl_off(void)
{
    fresh();
    set_iflag(0, LDISC_ICRNL);
    in("ab\r");
    CHECK_STR(echo(), "ab^M");
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
    in("\n");
    CHECK_STR(echo(), "\r\n");
    CHECK_STR(rd(100), "ab\r\n");
    /* INLCR: NL becomes CR, which is then only data */
    set_iflag(LDISC_INLCR, 0);
    in("x\n");
    CHECK_STR(echo(), "x^M");
    CHECK_EQ(ldisc_inq(ld), 0);
    /* IUCLC (with IEXTEN only) */
    fresh();
    set_iflag(LDISC_IUCLC, 0);
    in("AbZ@[\n");
    CHECK_STR(rd(100), "abz@[\n");
    CHECK_STR(echo(), "abz@[\r\n");
    set_lflag(0, LDISC_IEXTEN);
    in("AbZ\n");
    CHECK_STR(rd(100), "AbZ\n");
    /* IGNCR: CR vanishes */
    fresh();
    set_iflag(LDISC_IGNCR, 0);
    in("a\rb\r\n");
    CHECK_STR(rd(100), "ab\n");
    CHECK_STR(echo(), "ab\r\n");
}

static void test_erase(void)
{
    fresh();
    in("abc\x7f");
    CHECK_STR(echo(), "abc\b \b");
    in("\n");
    CHECK_STR(rd(100), "ab\n");
    echo();
    /* at line start: nothing to erase, nothing echoed */
    in("\x7f\x7f");
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    in("a\x7f\x7f\x7f");
    CHECK_STR(echo(), "a\b \b");
    in("\n");
    CHECK_STR(rd(100), "\n");
    /* never into the previous (complete) line */
    in("xy\nz\x7f\x7f\x7f");
    CHECK_STR(rd(100), "xy\n");
    in("\n");
    CHECK_STR(rd(100), "\n");
    /* ECHOE off: the erase character itself is echoed */
    fresh();
    set_lflag(0, LDISC_ECHOE);
    in("ab\x7f");
    CHECK_STR(echo(), "ab^?");
    set_lflag(0, LDISC_ECHOCTL);
    in("\x7f");
    CHECK_STR(echo(), "\x7f");
    in("\n");
    CHECK_STR(rd(100), "\n");
}

static void test_erase_ctrl_echo(void)
{
    fresh();
    in("a\x01");
    CHECK_STR(echo(), "a^A");
    in("\x7f");
    CHECK_STR(echo(), "\b \b\b \b");
    in("\x1b\x7f\n");
    CHECK_STR(echo(), "^[\b \b\b \b\r\n");
    CHECK_STR(rd(100), "a\n");
    /* without ECHOCTL a control character is echoed as itself and its
     * erasure shows nothing */
    set_lflag(0, LDISC_ECHOCTL);
    in("a\x01");
    CHECK_STR(echo(), "a\x01");
    in("\x7f");
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    in("\x7f");
    CHECK_STR(echo(), "\b \b");
    in("\n");
    CHECK_STR(rd(100), "\n");
}

static void test_erase_tab(void)
{
    fresh();
    in("a\tb");
    CHECK_STR(echo(), "a\tb");
    CHECK_EQ(ld->column, 9);
    in("\x7f\x7f");
    CHECK_STR(echo(), "\b \b\b\b\b\b\b\b\b");
    CHECK_EQ(ld->column, 1);
    in("\x7f\n");
    CHECK_STR(rd(100), "\n");
    echo();
    /* a prompt before the line moves the tab stop */
    CHECK_STR(out("$ ", 10), "$ ");
    CHECK_EQ(ld->column, 2);
    in("\t");
    CHECK_EQ(ld->column, 8);
    in("\x7f");
    CHECK_STR(echo(), "\t\b\b\b\b\b\b");
    CHECK_EQ(ld->column, 2);
    /* after a control character (two columns) */
    in("\x01\t\x7f");
    CHECK_STR(echo(), "^A\t\b\b\b\b");
    /* a tab after a tab: counted from that tab */
    in("\x7f\tab\tc\x7f\x7f");
    CHECK_STR(echo(), "\b \b\b \b\tab\tc\b \b\b\b\b\b\b\b");
    in("\n");
    CHECK_STR(rd(100), "\tab\n");
    /* OPOST off: the column is not kept, a tab erase cannot go below 0 */
    fresh();
    set_oflag(0, LDISC_OPOST);
    in("\t\x7f");
    CHECK_STR(echo(), "\t");
    CHECK_EQ(ld->column, 0);
}

static void test_kill(void)
{
    fresh();                        /* ECHOK ECHOKE ECHOE: visual */
    in("abc\x15");
    CHECK_STR(echo(), "abc\b \b\b \b\b \b");
    in("d\n");
    CHECK_STR(rd(100), "d\n");
    echo();
    set_lflag(0, LDISC_ECHOKE);     /* ^U and a newline */
    in("abc\x15");
    CHECK_STR(echo(), "abc^U\r\n");
    in("\n");
    CHECK_STR(rd(100), "\n");
    echo();
    set_lflag(0, LDISC_ECHOK);      /* ^U alone */
    in("abc\x15");
    CHECK_STR(echo(), "abc^U");
    in("\n");
    CHECK_STR(rd(100), "\n");
    echo();
    set_lflag(0, LDISC_ECHO);       /* no echo, the line still goes */
    in("abc\x15x\n");
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    CHECK_STR(rd(100), "x\n");
    /* kill at line start */
    fresh();
    in("\x15");
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    /* over a control character */
    in("a\x03");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    set_lflag(0, LDISC_ISIG);
    in("a\x03");
    echo();
    in("\x15\n");
    CHECK_STR(echo(), "\b \b\b \b\b \b\r\n");
    CHECK_STR(rd(100), "\n");
}

static void test_werase(void)
{
    fresh();
    in("foo bar  \x17");
    CHECK_STR(echo(), "foo bar  \b \b\b \b\b \b\b \b\b \b");
    in("\x17");
    CHECK_STR(echo(), "\b \b\b \b\b \b\b \b");
    in("\x17x_1.\x17\n");
    CHECK_STR(rd(100), "\n");
    echo();
    in("a.b_c\x17\n");
    CHECK_STR(rd(100), "a.\n");
    echo();
    /* IEXTEN off: ^W is data */
    set_lflag(0, LDISC_IEXTEN);
    in("ab\x17\n");
    CHECK_STR(echo(), "ab^W\r\n");
    CHECK_STR(rd(100), "ab\x17\n");
}

static void test_reprint(void)
{
    fresh();
    in("ab\x01\x12");
    CHECK_STR(echo(), "ab^A^R\r\nab^A");
    CHECK_EQ(ld->column, 4);
    in("\n");
    CHECK_STR(rd(100), "ab\x01\n");
    CHECK_STR(echo(), "\r\n");
    /* without ECHO (or IEXTEN) ^R is data */
    set_lflag(0, LDISC_ECHO);
    in("x\x12\n");
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    CHECK_STR(rd(100), "x\x12\n");
}

static void test_eof(void)
{
    struct ldisc_reader r;
    fresh();
    ldisc_reader_start(ld, &r, 100);
    /* at line start: a 0-byte read, end of file */
    in("\x04");
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    CHECK(ldisc_poll_in(ld));
    CHECK_EQ(ldisc_inq(ld), 0);
    rd(100);
    CHECK_EQ(rn, 0);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    /* mid-line: what came before, without the ^D */
    in("ab\x04");
    CHECK_STR(echo(), "ab");
    CHECK_EQ(ldisc_inq(ld), 2);
    CHECK_STR(rd(100), "ab");
    CHECK_EQ(rn, 2);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    /* followed by more */
    in("cd\x04" "ef\n\x04");
    CHECK_EQ(ldisc_inq(ld), 5);
    CHECK_STR(rd(100), "cd");
    CHECK_STR(rd(100), "ef\n");
    rd(100);
    CHECK_EQ(rn, 0);
    /* the reader's buffer ends right before the ^D: it goes with the read,
     * never turning into a spurious end of file */
    in("abc\x04");
    CHECK_STR(rd(3), "abc");
    rd(3);
    CHECK_EQ(rn, LDISC_EAGAIN);
    in("abcd\x04");
    CHECK_STR(rd(3), "abc");
    CHECK_STR(rd(3), "d");
    rd(3);
    CHECK_EQ(rn, LDISC_EAGAIN);
    /* erase cannot remove an EOF already given */
    in("a\x04\x7f\x7f\n");
    CHECK_STR(rd(100), "a");
    CHECK_STR(rd(100), "\n");
    /* ^D disabled: data */
    set_cc(LDISC_VEOF, 0);
    in("\x04\n");
    CHECK_STR(rd(100), "\x04\n");
}

static void test_eol_chars(void)
{
    fresh();
    set_cc(LDISC_VEOL, ';');
    set_cc(LDISC_VEOL2, '|');
    in("a;b|c");
    CHECK_STR(echo(), "a;b|c");
    CHECK_STR(rd(100), "a;");
    CHECK_STR(rd(100), "b|");
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
    /* VEOL2 needs IEXTEN, VEOL does not */
    set_lflag(0, LDISC_IEXTEN);
    in("|;");
    CHECK_STR(rd(100), "c|;");
    /* VEOL = 0 is disabled: NUL does not end a line */
    set_cc(LDISC_VEOL, 0);
    in_n("x\0y", 3);
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
}

static void test_lnext(void)
{
    fresh();
    in("\x16");
    CHECK_STR(echo(), "^\b");
    CHECK(ld->lnext);
    in("\x03");
    CHECK_EQ(ev.signals, 0);
    CHECK_STR(echo(), "^C");
    in("\x16\x04\x16\x7f\x16\r\x16\x16\x16\n");
    CHECK_EQ(ev.signals, 0);
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
    CHECK_STR(echo(), "^\b^D^\b^?^\b^M^\b^V^\b^J");
    in("\x16\x15\x7f\n");
    CHECK_STR(echo(), "^\b^U\b \b\b \b\r\n");
    CHECK_STR(rd(100), "\x03\x04\x7f\r\x16\n\n");
    /* literal ^S: no flow control */
    in("\x16\x13\n");
    CHECK(!ldisc_stopped(ld));
    CHECK_STR(rd(100), "\x13\n");
    /* IEXTEN off: ^V is data and ^C a signal */
    set_lflag(0, LDISC_IEXTEN);
    in("\x16\x03");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    /* not special outside canonical mode */
    fresh();
    set_raw(1, 0);
    in("\x16\x03");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    in("\x16");
    CHECK_STR(rd(10), "\x16");
}

/* ---- Signals ---- */

static void test_isig(void)
{
    fresh();
    in("abc\x03");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    CHECK(ev.flags & LDISC_EV_FLUSH_OUT);
    CHECK_STR(echo(), "^C");          /* the pending echo went too */
    in("d\n");
    CHECK_STR(rd(100), "d\n");
    echo();
    in("x\x1c");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGQUIT);
    CHECK_STR(echo(), "^\\");
    in("\x1a");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGTSTP);
    in("\x1c");                        /* the flush takes the ^Z echo */
    CHECK_STR(echo(), "^\\");
    in("\x03\x1a");
    CHECK_EQ(ev.signals, (1u << LDISC_SIGINT) | (1u << LDISC_SIGTSTP));
    echo();
    /* complete lines are flushed as well */
    in("line\n\x03");
    CHECK_EQ(ldisc_inq(ld), 0);
    echo();
    /* NOFLSH: signal only */
    set_lflag(LDISC_NOFLSH, 0);
    in("ab\x03" "c\n");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    CHECK_EQ(ev.flags & LDISC_EV_FLUSH_OUT, 0);
    CHECK_STR(echo(), "ab^Cc\r\n");
    CHECK_STR(rd(100), "abc\n");
    /* raw mode: still signals, bytes flushed */
    fresh();
    set_raw(1, 0);
    in("ab\x03");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    CHECK_EQ(ldisc_inq(ld), 0);
    /* a signal char equal to an editing char: the signal wins */
    fresh();
    set_cc(LDISC_VINTR, 0x7f);
    in("a\x7f");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    /* VINTR disabled: ^C and NUL are data */
    fresh();
    set_cc(LDISC_VINTR, 0);
    in_n("\x03\0\n", 3);
    CHECK_EQ(ev.signals, 0);
    rd(100);
    CHECK_EQ(rn, 3);
}

static void test_isig_off(void)
{
    fresh();
    set_lflag(0, LDISC_ISIG);
    in("\x03\x1c\x1a\n");
    CHECK_EQ(ev.signals, 0);
    CHECK_EQ(ev.flags & LDISC_EV_FLUSH_OUT, 0);
    CHECK_STR(echo(), "^C^\\^Z\r\n");
    CHECK_STR(rd(100), "\x03\x1c\x1a\n");
    set_raw(1, 0);
    in("\x03");
    CHECK_EQ(ev.signals, 0);
    CHECK_STR(rd(100), "\x03");
}

/* ---- Flow control ---- */

static void test_ixon(void)
{
    uint8_t buf[16];
    fresh();
    in("\x13");
    CHECK(ev.flags & LDISC_EV_STOP);
    CHECK(ldisc_stopped(ld));
    in("ab");
    CHECK_EQ(ldisc_echo_pending(ld), 2);
    CHECK_EQ(ldisc_echo_drain(ld, buf, sizeof(buf)), 0);
    CHECK_STR(out("xyz", 10), "");
    CHECK_EQ(on, 0);
    CHECK_EQ(oconsumed, 0);
    in("\x13");
    CHECK_EQ(ev.flags & LDISC_EV_STOP, 0);
    in("\x11");
    CHECK(ev.flags & LDISC_EV_START);
    CHECK(!ldisc_stopped(ld));
    CHECK_STR(out("xyz", 10), "abxyz");
    CHECK_EQ(oconsumed, 3);
    in("\n");
    CHECK_STR(rd(100), "ab\n");   /* ^S/^Q never reach the reader */
    /* a signal character restarts output */
    in("\x13\x03");
    CHECK(!ldisc_stopped(ld));
    /* IXANY: any character restarts */
    set_iflag(LDISC_IXANY, 0);
    in("\x13");
    CHECK(ldisc_stopped(ld));
    in("q");
    CHECK(ev.flags & LDISC_EV_START);
    CHECK(!ldisc_stopped(ld));
    /* clearing IXON while stopped restarts */
    in("\x13");
    set_iflag(0, LDISC_IXON);
    CHECK(ev.flags & LDISC_EV_START);
    CHECK(!ldisc_stopped(ld));
    /* IXON off: ^S and ^Q are data */
    echo();
    in("\x13\x11\n");
    CHECK(!ldisc_stopped(ld));
    CHECK_STR(echo(), "^S^Q\r\n");
    CHECK_STR(rd(100), "q\x13\x11\n");
}

static void test_tcxonc(void)
{
    int x = 7;
    fresh();
    CHECK_EQ(ldisc_tcxonc(ld, LDISC_TCOOFF, &x, &ev), 0);
    CHECK_EQ(x, -1);
    CHECK(ev.flags & LDISC_EV_STOP);
    CHECK(ldisc_stopped(ld));
    in("\x11");                         /* ^Q does not undo TCOOFF */
    CHECK(ldisc_stopped(ld));
    CHECK_EQ(ldisc_tcxonc(ld, LDISC_TCOON, NULL, &ev), 0);
    CHECK(ev.flags & LDISC_EV_START);
    CHECK(!ldisc_stopped(ld));
    in("\x13");                         /* TCOON does not undo ^S */
    CHECK_EQ(ldisc_tcxonc(ld, LDISC_TCOON, NULL, &ev), 0);
    CHECK(ldisc_stopped(ld));
    in("\x11");
    CHECK(!ldisc_stopped(ld));
    CHECK_EQ(ldisc_tcxonc(ld, LDISC_TCIOFF, &x, NULL), 0);
    CHECK_EQ(x, 0x13);
    CHECK_EQ(ldisc_tcxonc(ld, LDISC_TCION, &x, NULL), 0);
    CHECK_EQ(x, 0x11);
    set_cc(LDISC_VSTART, 0);
    CHECK_EQ(ldisc_tcxonc(ld, LDISC_TCION, &x, NULL), 0);
    CHECK_EQ(x, -1);
    x = 9;
    CHECK_EQ(ldisc_tcxonc(ld, 4, &x, NULL), LDISC_EINVAL);
    CHECK_EQ(ldisc_tcxonc(ld, -1, &x, NULL), LDISC_EINVAL);
    CHECK_EQ(x, 9);
    CHECK(!ldisc_stopped(ld));
}

/* ---- Hostile bytes ---- */

static void test_nul_and_ff(void)
{
    fresh();
    in_n("a\0b\xff\n", 5);
    CHECK_EQ(ldisc_echo_pending(ld), 7);
    CHECK(memcmp(echo(), "a^@b\xff\r\n", 7) == 0);
    rd(100);
    CHECK_EQ(rn, 5);
    /* PARMRK doubles a 0xff data byte */
    set_iflag(LDISC_PARMRK, 0);
    in("\xff\n");
    CHECK_STR(rd(100), "\xff\xff\n");
    /* ISTRIP: 0xff becomes DEL, which erases; 0x83 becomes ^C */
    fresh();
    set_iflag(LDISC_ISTRIP, 0);
    in("ab\xff\n");
    CHECK_STR(rd(100), "a\n");
    in("\x83");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    /* every byte value, twice, in every mode: nothing breaks */
    uint8_t all[512];
    for (int i = 0; i < 512; i++)
        all[i] = (uint8_t)i;
    fresh();
    in_n(all, sizeof(all));
    CHECK(ldisc_inq(ld) <= LDISC_BUF_SIZE);
    set_raw(0, 0);
    in_n(all, sizeof(all));
    CHECK(ldisc_inq(ld) <= LDISC_BUF_SIZE);
    ldisc_input(ld, NULL, 5, NULL);
    ldisc_input(ld, all, 0, NULL);
}

static void test_iutf8(void)
{
    fresh();
    set_iflag(LDISC_IUTF8, 0);
    in("a\xc3\xa9");                 /* a, e-acute */
    CHECK_STR(echo(), "a\xc3\xa9");
    CHECK_EQ(ld->column, 2);
    in("\x7f");
    CHECK_STR(echo(), "\b \b");
    in("\xe2\x82\xac\x7f\n");        /* euro sign */
    CHECK_STR(rd(100), "a\n");
    /* stray continuation bytes at line start still erase */
    in("\x80\x80\x7f\n");
    CHECK_STR(rd(100), "\n");
    /* without IUTF8 one byte at a time */
    fresh();
    in("\xc3\xa9\x7f\n");
    CHECK_STR(rd(100), "\xc3\n");
}

static void test_long_line(void)
{
    fresh();
    set_iflag(LDISC_IMAXBEL, 0);
    uint8_t x[100];
    memset(x, 'x', sizeof(x));
    size_t echoed = 0;
    uint32_t dropped = 0;
    for (int i = 0; i < 50; i++) {       /* 5000 bytes, echoes drained */
        in_n(x, sizeof(x));
        dropped += ev.dropped;
        const char *e = echo();
        for (size_t j = 0; j < en; j++)
            echoed += e[j] == 'x';
    }
    CHECK_EQ(dropped, 5000 - (LDISC_BUF_SIZE - 1));
    CHECK_EQ(ld->dropped, dropped);
    CHECK_EQ(echoed, LDISC_BUF_SIZE - 1);
    /* erase still works, and one slot stays for the line end */
    in("\x7f" "yz");
    CHECK_EQ(ev.dropped, 1);
    CHECK_STR(echo(), "\b \by\a");
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
    in("\n");
    CHECK_EQ(ev.dropped, 0);
    CHECK_STR(echo(), "\r\n");
    CHECK_EQ(ldisc_inq(ld), LDISC_BUF_SIZE);
    /* the buffer is full: even a line end is dropped now */
    in("\n\x04");
    CHECK_EQ(ev.dropped, 2);
    const char *s = rd(5000);
    CHECK_EQ(rn, LDISC_BUF_SIZE);
    CHECK_EQ(s[LDISC_BUF_SIZE - 1], '\n');
    CHECK_EQ(s[LDISC_BUF_SIZE - 2], 'y');
    CHECK_EQ(s[0], 'x');
    rd(5000);
    CHECK_EQ(rn, LDISC_EAGAIN);
    /* full of complete lines: an empty line still fits */
    uint8_t big[LDISC_BUF_SIZE - 1];
    memset(big, 'b', sizeof(big));
    big[sizeof(big) - 1] = '\n';
    in_n(big, sizeof(big));
    CHECK_EQ(ev.dropped, 0);
    in("q\n");
    CHECK_EQ(ev.dropped, 1);
    CHECK_EQ(ldisc_inq(ld), LDISC_BUF_SIZE);
    rd(5000);
    CHECK_EQ(rn, LDISC_BUF_SIZE - 1);
    CHECK_STR(rd(5000), "\n");
    /* non-canonical: no slot kept */
    fresh();
    set_raw(1, 0);
    uint8_t raw[5000];
    memset(raw, 'r', sizeof(raw));
    in_n(raw, sizeof(raw));
    CHECK_EQ(ev.dropped, 5000 - LDISC_BUF_SIZE);
    CHECK_EQ(ldisc_inq(ld), LDISC_BUF_SIZE);
    rd(5000);
    CHECK_EQ(rn, LDISC_BUF_SIZE);
    /* PARMRK's doubled 0xff needs two slots */
    in_n(raw, LDISC_BUF_SIZE - 1);
    set_iflag(LDISC_PARMRK, 0);
    in("\xff");
    CHECK_EQ(ev.dropped, 1);
    CHECK_EQ(ldisc_inq(ld), LDISC_BUF_SIZE - 1);
    rd(5000);
    /* the ring wraps: indices keep running */
    for (int i = 0; i < 20; i++) {
        in_n(raw, 1000);
        rd(999);
        CHECK_EQ(rn, 999);
        rd(1);
        CHECK_EQ(rn, 1);
    }
}

static void test_echo_modes(void)
{
    fresh();
    set_lflag(LDISC_ECHONL, LDISC_ECHO);
    in("ab\x7f\n");
    CHECK_STR(echo(), "\r\n");
    CHECK_STR(rd(100), "a\n");
    set_lflag(0, LDISC_ECHONL);
    in("ab\n");
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    CHECK_EQ(ev.flags & LDISC_EV_ECHO, 0);
    /* raw mode: CR made NL by ICRNL echoes a newline, a real ^J as ^J */
    fresh();
    set_raw(1, 0);
    in("\r\na\x7f");
    CHECK_STR(echo(), "\r\n^Ja^?");
    CHECK_STR(rd(100), "\n\na\x7f");
    /* the echo stage is bounded */
    set_lflag(0, LDISC_ECHOCTL);
    uint8_t x[3000];
    memset(x, 'e', sizeof(x));
    in_n(x, sizeof(x));
    rd(5000);
    in_n(x, sizeof(x));
    CHECK_EQ(ldisc_echo_pending(ld), LDISC_ECHO_SIZE);
    CHECK_EQ(ld->echo_dropped, 6000 - LDISC_ECHO_SIZE);
}

/* ---- VMIN / VTIME ---- */

static void test_vmin_vtime(void)
{
    struct ldisc_reader r;
    uint32_t tenths;

    fresh();
    set_raw(1, 0);                       /* block for one byte */
    ldisc_reader_start(ld, &r, 10);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    CHECK(!ldisc_poll_in(ld));
    in("ab");
    CHECK(ev.flags & LDISC_EV_INPUT);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    CHECK_STR(rd(10), "ab");

    set_raw(0, 0);                       /* never block */
    ldisc_reader_start(ld, &r, 10);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    rd(10);
    CHECK_EQ(rn, 0);

    set_raw(3, 0);                       /* block for min(VMIN, cap) */
    ldisc_reader_start(ld, &r, 10);
    in("ab");
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    CHECK(!ldisc_poll_in(ld));
    ldisc_reader_start(ld, &r, 2);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    ldisc_reader_start(ld, &r, 10);
    in("cd");
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    CHECK(ldisc_poll_in(ld));
    CHECK_STR(rd(10), "abcd");

    set_raw(0, 5);                       /* total timer */
    ldisc_reader_start(ld, &r, 10);
    CHECK_EQ(verdict(&r, true), LDISC_ARM);     /* an expiry before arming */
    ldisc_reader_start(ld, &r, 10);
    tenths = 0;
    CHECK_EQ(ldisc_readable(ld, &r, false, &tenths), LDISC_ARM);
    CHECK_EQ(tenths, 5);
    in("\x13\x11");                      /* input without data */
    CHECK_EQ(verdict(&r, false), LDISC_KEEP);
    CHECK_EQ(verdict(&r, true), LDISC_READY);
    rd(10);
    CHECK_EQ(rn, 0);
    ldisc_reader_start(ld, &r, 10);
    CHECK_EQ(verdict(&r, false), LDISC_ARM);
    in("z");
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    CHECK(ldisc_poll_in(ld));
    CHECK_STR(rd(10), "z");

    set_raw(3, 2);                       /* inter-byte timer */
    ldisc_reader_start(ld, &r, 10);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    CHECK_EQ(verdict(&r, true), LDISC_BLOCK);   /* no timer was asked for */
    in("a");
    CHECK(ldisc_poll_in(ld));
    CHECK_EQ(verdict(&r, false), LDISC_ARM);
    CHECK_EQ(verdict(&r, false), LDISC_KEEP);
    in("\x11");
    CHECK_EQ(verdict(&r, false), LDISC_KEEP);
    in("b");
    CHECK_EQ(verdict(&r, false), LDISC_ARM);    /* restarted by the byte */
    CHECK_EQ(verdict(&r, true), LDISC_READY);
    CHECK_STR(rd(10), "ab");
    ldisc_reader_start(ld, &r, 10);
    in("abc");
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    CHECK_STR(rd(10), "abc");
    ldisc_reader_start(ld, &r, 10);
    in("x");
    CHECK_EQ(verdict(&r, false), LDISC_ARM);
    CHECK_EQ(ldisc_flush(ld, LDISC_TCIFLUSH), 0);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    CHECK_EQ(verdict(&r, true), LDISC_BLOCK);

    set_raw(255, 255);                   /* extremes */
    ldisc_reader_start(ld, &r, 1000);
    uint8_t b[300];
    memset(b, 'm', sizeof(b));
    in_n(b, 254);
    CHECK_EQ(verdict(&r, false), LDISC_ARM);
    in_n(b, 1);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    rd(1000);
    CHECK_EQ(rn, 255);
    ldisc_reader_start(ld, &r, 0);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    set_lflag(LDISC_ICANON, 0);          /* a 0-byte read never waits */
    ldisc_reader_start(ld, &r, 0);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    rd(0);
    CHECK_EQ(rn, 0);

    /* a reader in canonical mode never gets a timer */
    fresh();
    set_cc(LDISC_VTIME, 3);
    set_cc(LDISC_VMIN, 0);
    ldisc_reader_start(ld, &r, 10);
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
    CHECK_EQ(verdict(&r, true), LDISC_BLOCK);
    in("partial");
    CHECK_EQ(verdict(&r, false), LDISC_BLOCK);
}

/* ---- termios changes ---- */

static void test_mode_switch(void)
{
    struct ldisc_reader r;
    fresh();
    in("abc");
    set_raw(1, 0);                       /* the partial line is readable */
    CHECK(ev.flags & LDISC_EV_INPUT);
    CHECK_EQ(ldisc_inq(ld), 3);
    ldisc_reader_start(ld, &r, 10);
    CHECK_EQ(verdict(&r, false), LDISC_READY);
    CHECK_STR(rd(10), "abc");
    /* complete lines and EOF markers: the markers go */
    fresh();
    in("ab\x04\x04" "cd\nef");
    set_raw(1, 0);
    CHECK_EQ(ldisc_inq(ld), 7);
    CHECK_STR(rd(100), "abcd\nef");
    /* raw to canonical: pending bytes are one complete line */
    in("xyz");
    set_lflag(LDISC_ICANON, 0);
    CHECK(ev.flags & LDISC_EV_INPUT);
    CHECK_EQ(ldisc_inq(ld), 3);
    CHECK(ldisc_poll_in(ld));
    in("12");                            /* and typing goes on after them */
    in("\x7f\x7f\x7f");
    CHECK_EQ(ldisc_inq(ld), 3);
    in("3\n");
    CHECK_STR(rd(100), "xyz");
    CHECK_STR(rd(100), "3\n");
    /* a NUL last byte of a pushed line is data, not an EOF */
    set_raw(1, 0);
    in_n("q\0", 2);
    set_lflag(LDISC_ICANON, 0);
    rd(100);
    CHECK_EQ(rn, 2);
    /* nothing pending: nothing readable */
    set_raw(1, 0);
    set_lflag(LDISC_ICANON, 0);
    rd(100);
    CHECK_EQ(rn, LDISC_EAGAIN);
    /* a pending literal-next does not survive a mode switch */
    in("\x16");
    set_raw(1, 0);
    set_lflag(LDISC_ICANON, 0);
    in("\x03");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
}

static void test_set_termios(void)
{
    struct ldisc_termios t, g;
    fresh();
    ldisc_get_termios(ld, &t);
    struct ldisc_termios before = t;
    CHECK_EQ(ldisc_set_termios(ld, &t, 3, &ev), LDISC_EINVAL);
    CHECK_EQ(ldisc_set_termios(ld, &t, -1, &ev), LDISC_EINVAL);
    CHECK_EQ(ldisc_set_termios(ld, NULL, LDISC_TCSANOW, &ev), LDISC_EINVAL);
    t.c_lflag = 0;
    CHECK_EQ(ldisc_set_termios(ld, &t, 7, NULL), LDISC_EINVAL);
    ldisc_get_termios(ld, &g);
    CHECK(memcmp(&g, &before, sizeof(g)) == 0);
    /* TCSAFLUSH discards unread input, TCSADRAIN does not */
    in("line\npart");
    ldisc_get_termios(ld, &t);
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSADRAIN, &ev), 0);
    CHECK_EQ(ldisc_inq(ld), 5);
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSAFLUSH, &ev), 0);
    CHECK(ev.flags & LDISC_EV_INPUT);
    CHECK_EQ(ldisc_inq(ld), 0);
    in("\n");
    CHECK_STR(rd(100), "\n");
    /* garbage is stored as given and read back */
    memset(&t, 0xff, sizeof(t));
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
    ldisc_get_termios(ld, &g);
    CHECK(memcmp(&g, &t, sizeof(g)) == 0);
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    in_n(all, sizeof(all));
    CHECK(ldisc_inq(ld) <= LDISC_BUF_SIZE);
    /* every cc the same character: the first function in Linux's order */
    fresh();
    ldisc_get_termios(ld, &t);
    memset(t.c_cc, 'k', sizeof(t.c_cc));
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
    in("k");                             /* VSTART */
    CHECK_EQ(ev.signals, 0);
    CHECK(!ldisc_stopped(ld));
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    CHECK_EQ(ld->head, ld->tail);
    t.c_iflag &= ~LDISC_IXON;
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
    in("k");
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
    CHECK_STR(echo(), "k");
    t.c_lflag &= ~LDISC_ISIG;
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
    in("ak");                            /* VERASE */
    CHECK_STR(echo(), "a\b \b");
    /* all cc zero: nothing is special but CR and NL */
    fresh();
    ldisc_get_termios(ld, &t);
    memset(t.c_cc, 0, sizeof(t.c_cc));
    CHECK_EQ(ldisc_set_termios(ld, &t, LDISC_TCSANOW, &ev), 0);
    in_n("\0\x03\x04\x7f\x13\x15\r", 7);
    CHECK_EQ(ev.signals, 0);
    CHECK(!ldisc_stopped(ld));
    rd(100);
    CHECK_EQ(rn, 7);
}

static void test_winsize(void)
{
    struct ldisc_winsize ws = { 24, 80, 0, 0 }, g;
    fresh();
    CHECK(ldisc_set_winsize(ld, &ws));
    CHECK(!ldisc_set_winsize(ld, &ws));
    ldisc_get_winsize(ld, &g);
    CHECK_EQ(g.ws_row, 24);
    CHECK_EQ(g.ws_col, 80);
    ws.ws_ypixel = 1;
    CHECK(ldisc_set_winsize(ld, &ws));
    ws.ws_xpixel = 0xffff;
    CHECK(ldisc_set_winsize(ld, &ws));
    ws.ws_col = 81;
    CHECK(ldisc_set_winsize(ld, &ws));
    ldisc_get_winsize(ld, &g);
    CHECK_EQ(g.ws_xpixel, 0xffff);
    CHECK_EQ(g.ws_ypixel, 1);
    CHECK(!ldisc_set_winsize(ld, &g));
}

static void test_flush(void)
{
    fresh();
    in("done\npartial");
    CHECK_EQ(ldisc_flush(ld, LDISC_TCOFLUSH), 0);
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    CHECK_EQ(ldisc_inq(ld), 5);
    CHECK_EQ(ldisc_flush(ld, LDISC_TCIFLUSH), 0);
    CHECK_EQ(ldisc_inq(ld), 0);
    in("\n");
    CHECK_STR(rd(100), "\n");
    in("x\ny");
    CHECK_EQ(ldisc_flush(ld, 3), LDISC_EINVAL);
    CHECK_EQ(ldisc_flush(ld, -1), LDISC_EINVAL);
    CHECK_EQ(ldisc_inq(ld), 2);
    CHECK(ldisc_echo_pending(ld) > 0);
    CHECK_EQ(ldisc_flush(ld, LDISC_TCIOFLUSH), 0);
    CHECK_EQ(ldisc_inq(ld), 0);
    CHECK_EQ(ldisc_echo_pending(ld), 0);
    in("\x16");
    CHECK_EQ(ldisc_flush(ld, LDISC_TCIFLUSH), 0);
    in("\x03");                          /* the literal-next went too */
    CHECK_EQ(ev.signals, 1u << LDISC_SIGINT);
}

/* ---- Output ---- */

static void test_output(void)
{
    fresh();
    CHECK_STR(out("a\nb", 10), "a\r\nb");
    CHECK_EQ(oconsumed, 3);
    CHECK_EQ(ld->column, 1);
    /* a \r\n never split: the \n waits */
    CHECK_STR(out("c\nd", 2), "c");
    CHECK_EQ(oconsumed, 1);
    CHECK_STR(out("\nd", 2), "\r\n");
    CHECK_EQ(oconsumed, 1);
    CHECK_STR(out("\n", 1), "");
    CHECK_EQ(oconsumed, 0);
    CHECK_STR(out("xyz", 0), "");
    CHECK_EQ(oconsumed, 0);
    CHECK_STR(out("", 5), "");
    CHECK_EQ(oconsumed, 0);
    /* pending echoes come first; too little room: only echoes */
    in("hi");
    CHECK_STR(out("yo", 1), "h");
    CHECK_EQ(oconsumed, 0);
    CHECK_STR(out("yo", 10), "iyo");
    CHECK_EQ(oconsumed, 2);
    /* a CR that ONOCR would swallow still waits for pending echoes */
    set_oflag(LDISC_ONOCR, 0);
    in("\n");
    CHECK_STR(rd(10), "hi\n");
    CHECK_EQ(ld->column, 0);
    CHECK_STR(out("\r", 1), "\r");
    CHECK_EQ(oconsumed, 0);
    CHECK_STR(out("\r", 1), "\n");
    CHECK_EQ(oconsumed, 1);             /* then it goes, producing nothing */
    /* OPOST off: bytes as they are */
    set_oflag(0, LDISC_OPOST);
    CHECK_STR(out("a\n\tb\r", 10), "a\n\tb\r");
    /* OCRNL, ONOCR, ONLRET */
    fresh();
    set_oflag(LDISC_OCRNL, LDISC_ONLCR);
    CHECK_STR(out("a\rb", 10), "a\nb");
    fresh();
    set_oflag(LDISC_ONOCR, 0);
    CHECK_STR(out("\r\rab\r\r", 10), "ab\r");
    CHECK_EQ(oconsumed, 6);
    fresh();
    set_oflag(LDISC_ONLRET | LDISC_XTABS, LDISC_ONLCR);
    CHECK_STR(out("abc\n\t|", 20), "abc\n        |");
    /* XTABS expansion whole or not at all */
    fresh();
    set_oflag(LDISC_XTABS, 0);
    CHECK_STR(out("ab\tc", 7), "ab");
    CHECK_EQ(oconsumed, 2);
    CHECK_STR(out("\tc", 7), "      c");
    CHECK_EQ(ld->column, 9);
    set_oflag(LDISC_OLCUC, LDISC_TABDLY);
    CHECK_STR(out("aZ\t", 10), "AZ\t");
    CHECK_EQ(ld->column, 16);
    CHECK_STR(out("\b\b\x01", 10), "\b\b\x01");
    CHECK_EQ(ld->column, 14);
    /* the echo stage drained in pieces keeps its order */
    fresh();
    in("abcdef");
    uint8_t b[4];
    CHECK_EQ(ldisc_echo_drain(ld, b, 4), 4);
    CHECK(memcmp(b, "abcd", 4) == 0);
    CHECK_EQ(ldisc_echo_drain(ld, b, 0), 0);
    CHECK_EQ(ldisc_echo_drain(ld, b, 4), 2);
    CHECK(memcmp(b, "ef", 2) == 0);
}

/* ---- Random garbage ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void invariants(void)
{
    CHECK(ld->head - ld->tail <= LDISC_BUF_SIZE);
    if (ld->tio.c_lflag & LDISC_ICANON) {
        CHECK(ld->canon - ld->tail <= ld->head - ld->tail);
        CHECK(ldisc_inq(ld) <= ld->canon - ld->tail);
    } else {
        CHECK_EQ(ldisc_inq(ld), ld->head - ld->tail);
    }
    CHECK(ld->echo_len <= LDISC_ECHO_SIZE);
}

static void test_random(void)
{
    static const uint8_t interesting[] = {
        0, 3, 4, 0x0a, 0x0d, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x1a, 0x1c,
        0x7f, 0x80, 0xc3, 0xa9, 0xff, '\t', 'a', ' ',
    };
    fresh();
    for (int round = 0; round < 3000; round++) {
        uint32_t what = rnd() % 16;
        if (what == 0) {
            struct ldisc_termios t;
            ldisc_get_termios(ld, &t);
            t.c_iflag ^= 1u << (rnd() % 16);
            t.c_oflag ^= 1u << (rnd() % 16);
            t.c_lflag ^= 1u << (rnd() % 17);
            if (rnd() % 4 == 0)
                t.c_cc[rnd() % LDISC_NCCS] = (uint8_t)rnd();
            CHECK_EQ(ldisc_set_termios(ld, &t, (int)(rnd() % 3), &ev), 0);
        } else if (what == 1) {
            uint8_t dst[64];
            size_t cap = rnd() % 65, used;
            size_t n = ldisc_output(ld, interesting, sizeof(interesting), dst, cap, &used);
            CHECK(n <= cap);
            CHECK(used <= sizeof(interesting));
        } else if (what == 2) {
            CHECK_EQ(ldisc_flush(ld, (int)(rnd() % 3)), 0);
        } else if (what == 3) {
            struct ldisc_reader r;
            ldisc_reader_start(ld, &r, rnd() % 300);
            enum ldisc_verdict v = ldisc_readable(ld, &r, rnd() & 1, NULL);
            CHECK(v <= LDISC_KEEP);
            if (v == LDISC_READY)
                rd(r.cap);
        } else if (what < 8) {
            rd(rnd() % 5000);
            CHECK(rn >= LDISC_EAGAIN);
        } else {
            uint8_t b[200];
            size_t n = rnd() % sizeof(b);
            for (size_t i = 0; i < n; i++)
                b[i] = rnd() % 3 ? interesting[rnd() % sizeof(interesting)] : (uint8_t)rnd();
            in_n(b, n);
            echo();
        }
        invariants();
    }
}

static const struct check_test tests[] = {
    CHECK_TEST(test_abi),
    CHECK_TEST(test_defaults),
    CHECK_TEST(test_canon_line),
    CHECK_TEST(test_canon_one_line_per_read),
    CHECK_TEST(test_icrnl_off),
    CHECK_TEST(test_erase),
    CHECK_TEST(test_erase_ctrl_echo),
    CHECK_TEST(test_erase_tab),
    CHECK_TEST(test_kill),
    CHECK_TEST(test_werase),
    CHECK_TEST(test_reprint),
    CHECK_TEST(test_eof),
    CHECK_TEST(test_eol_chars),
    CHECK_TEST(test_lnext),
    CHECK_TEST(test_isig),
    CHECK_TEST(test_isig_off),
    CHECK_TEST(test_ixon),
    CHECK_TEST(test_tcxonc),
    CHECK_TEST(test_nul_and_ff),
    CHECK_TEST(test_iutf8),
    CHECK_TEST(test_long_line),
    CHECK_TEST(test_echo_modes),
    CHECK_TEST(test_vmin_vtime),
    CHECK_TEST(test_mode_switch),
    CHECK_TEST(test_set_termios),
    CHECK_TEST(test_winsize),
    CHECK_TEST(test_flush),
    CHECK_TEST(test_output),
    CHECK_TEST(test_random),
};

CHECK_MAIN("ldisc", tests)
