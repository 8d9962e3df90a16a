/*
 * fmt: the one printf engine of Kestrel (see fmt.h).
 *
 * A conversion is parsed into a struct spec, then the digits are produced
 * into a small local buffer (least significant first) and emitted with
 * padding.  Nothing here allocates or keeps state between calls, so it is
 * safe on any CPU and in exception handlers.
 */
#include "base/fmt.h"

#include <stdbool.h>
#include <stdint.h>

enum { F_LEFT = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8, F_ALT = 16 };

struct spec {
    unsigned flags;
    int width;
    int prec;          /* -1: none */
    int len;           /* 0 int, 1 long, 2 long long, -1 short, -2 char, 3 size_t */
};

struct sink {
    fmt_out_fn out;
    void *ctx;
    int count;
};

static void put(struct sink *s, char c)
{
    s->out(c, s->ctx);
    s->count++;
}

static void pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        put(s, c);
}

/* A width or precision: saturates at 100000 but consumes every digit, so
 * that the conversion character is the one after the digits. */
static const char *parse_num(const char *p, int *out)
{
    int v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if (v < 100000)
            v = v * 10 + (*p - '0');
    *out = v;
    return p;
}

static const char *parse_spec(const char *p, struct spec *sp, va_list *ap)
{
    sp->flags = 0;
    sp->width = 0;
    sp->prec = -1;
    sp->len = 0;
    for (;; p++) {
        if (*p == '-') sp->flags |= F_LEFT;
        else if (*p == '0') sp->flags |= F_ZERO;
        else if (*p == '+') sp->flags |= F_PLUS;
        else if (*p == ' ') sp->flags |= F_SPACE;
        else if (*p == '#') sp->flags |= F_ALT;
        else break;
    }
    if (*p == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->flags |= F_LEFT;
            sp->width = sp->width == INT32_MIN ? 0 : -sp->width;
        }
        p++;
    } else {
        p = parse_num(p, &sp->width);
    }
    if (*p == '.') {
        p++;
        sp->prec = 0;
        if (*p == '*') {
            sp->prec = va_arg(*ap, int);
            if (sp->prec < 0)
                sp->prec = -1;
            p++;
        } else {
            p = parse_num(p, &sp->prec);
        }
    }
    if (*p == 'h') {
        sp->len = -1;
        if (*++p == 'h') { sp->len = -2; p++; }
    } else if (*p == 'l') {
        sp->len = 1;
        if (*++p == 'l') { sp->len = 2; p++; }
    } else if (*p == 'z' || *p == 't' || *p == 'j') {
        sp->len = 3;
        p++;
    }
    return p;
}

static uint64_t arg_unsigned(const struct spec *sp, va_list *ap)
{
    switch (sp->len) {
    case -2: return (unsigned char)va_arg(*ap, unsigned);
    case -1: return (unsigned short)va_arg(*ap, unsigned);
    case 0:  return va_arg(*ap, unsigned);
    case 1:  return va_arg(*ap, unsigned long);
    case 3:  return va_arg(*ap, size_t);
    default: return va_arg(*ap, unsigned long long);
    }
}

static int64_t arg_signed(const struct spec *sp, va_list *ap)
{
    switch (sp->len) {
    case -2: return (signed char)va_arg(*ap, int);
    case -1: return (short)va_arg(*ap, int);
    case 0:  return va_arg(*ap, int);
    case 1:  return va_arg(*ap, long);
    case 3:  return (int64_t)va_arg(*ap, size_t);
    default: return va_arg(*ap, long long);
    }
}

/* Emit a number: prefix ("-", "0x", ...) then zero padding then digits. */
static void emit_number(struct sink *s, const struct spec *sp, uint64_t v,
                        unsigned base, bool upper, const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[24];
    int n = 0;

    if (!(v == 0 && sp->prec == 0)) {
        do {
            buf[n++] = digits[v % base];
            v /= base;
        } while (v);
    }
    int plen = 0;
    while (prefix[plen])
        plen++;
    int zeros = sp->prec > n ? sp->prec - n : 0;
    int body = plen + zeros + n;
    int fill = sp->width > body ? sp->width - body : 0;

    if (!(sp->flags & F_LEFT) && !((sp->flags & F_ZERO) && sp->prec < 0))
        pad(s, ' ', fill);
    for (int i = 0; i < plen; i++)
        put(s, prefix[i]);
    if (!(sp->flags & F_LEFT) && (sp->flags & F_ZERO) && sp->prec < 0)
        pad(s, '0', fill);
    pad(s, '0', zeros);
    while (n)
        put(s, buf[--n]);
    if (sp->flags & F_LEFT)
        pad(s, ' ', fill);
}

static void emit_string(struct sink *s, const struct spec *sp, const char *str)
{
    if (!str)
        str = "(null)";
    int n = 0;
    while (str[n] && (sp->prec < 0 || n < sp->prec))
        n++;
    int fill = sp->width > n ? sp->width - n : 0;
    if (!(sp->flags & F_LEFT))
        pad(s, ' ', fill);
    for (int i = 0; i < n; i++)
        put(s, str[i]);
    if (sp->flags & F_LEFT)
        pad(s, ' ', fill);
}

static void convert(struct sink *s, struct spec *sp, char conv, va_list *ap)
{
    switch (conv) {
    case 'd':
    case 'i': {
        int64_t v = arg_signed(sp, ap);
        const char *prefix = v < 0 ? "-" : (sp->flags & F_PLUS) ? "+"
                           : (sp->flags & F_SPACE) ? " " : "";
        emit_number(s, sp, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, false, prefix);
        break;
    }
    case 'u':
        emit_number(s, sp, arg_unsigned(sp, ap), 10, false, "");
        break;
    case 'o': {
        /* '#' adds a leading 0 only if the precision does not give one;
         * "%#.0o" of 0 is "0". */
        uint64_t v = arg_unsigned(sp, ap);
        int ndig = 0;
        for (uint64_t t = v; t; t /= 8)
            ndig++;
        bool alt = (sp->flags & F_ALT) && v && sp->prec <= ndig;
        if ((sp->flags & F_ALT) && !v && sp->prec == 0)
            sp->prec = 1;
        emit_number(s, sp, v, 8, false, alt ? "0" : "");
        break;
    }
    case 'x':
    case 'X': {
        uint64_t v = arg_unsigned(sp, ap);
        const char *prefix = (sp->flags & F_ALT) && v ? (conv == 'x' ? "0x" : "0X") : "";
        emit_number(s, sp, v, 16, conv == 'X', prefix);
        break;
    }
    case 'p': {
        void *p = va_arg(*ap, void *);
        sp->len = 2;
        emit_number(s, sp, (uintptr_t)p, 16, false, "0x");
        break;
    }
    case 's':
        emit_string(s, sp, va_arg(*ap, const char *));
        break;
    case 'c': {
        char c[2] = { (char)va_arg(*ap, int), 0 };
        sp->prec = 1;
        if (c[0] == 0) {   /* print the NUL itself, padded */
            int fill = sp->width > 1 ? sp->width - 1 : 0;
            if (!(sp->flags & F_LEFT)) pad(s, ' ', fill);
            put(s, 0);
            if (sp->flags & F_LEFT) pad(s, ' ', fill);
        } else {
            emit_string(s, sp, c);
        }
        break;
    }
    case '%':
        put(s, '%');
        break;
    default:   /* unknown conversion: print it as written */
        put(s, '%');
        if (conv)
            put(s, conv);
        break;
    }
}

int fmt_vformat(fmt_out_fn out, void *ctx, const char *fmt, va_list ap)
{
    struct sink s = { out, ctx, 0 };
    va_list aq;
    va_copy(aq, ap);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&s, *p);
            continue;
        }
        struct spec sp;
        p = parse_spec(p + 1, &sp, &aq);
        convert(&s, &sp, *p, &aq);
        if (!*p)
            break;
    }
    va_end(aq);
    return s.count;
}

struct bufctx {
    char *buf;
    size_t size;
    size_t pos;
};

static void buf_out(char c, void *ctx)
{
    struct bufctx *b = ctx;
    if (b->pos + 1 < b->size)
        b->buf[b->pos] = c;
    b->pos++;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct bufctx b = { buf, size, 0 };
    int n = fmt_vformat(buf_out, &b, fmt, ap);
    if (size)
        buf[b.pos < size ? b.pos : size - 1] = 0;
    return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
