/*
 * manifest: boot manifest parser (grammar in manifest.h).
 *
 * The text is cut into lines; each line is checked for length and bytes,
 * then split into tokens (whitespace separated, quotes keep spaces).  A
 * service line fills a local struct manifest_service; only when the whole
 * line is good is it copied into the manifest, so a bad line leaves no
 * trace but its error record.  Keys are looked up in a table of handlers,
 * one small function per key, each returning NULL or an error message.
 * Nothing reads outside [text, text + len): every scan is bounded by the
 * line's length, never by a terminator.
 */
#include "base/manifest.h"
#include "base/names.h"

#include <stdbool.h>

/* One line being parsed. */
struct ctx {
    struct manifest *m;
    const char *p;          /* the line, without its EOL */
    size_t len;
    unsigned line;
    unsigned name_col;      /* column of the service name */
};

/* A token of a line: bytes p[0..n), starting at 1-based column col. */
struct tok {
    const char *p;
    size_t n;
    unsigned col;
};

/* ---- small helpers ---- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static bool eq(const char *a, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++)
        if (lit[i] == 0 || lit[i] != a[i])
            return false;
    return lit[i] == 0;
}

static void copy_str(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
    dst[n] = 0;
}

static size_t cstr_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* ---- errors ---- */

static void add_error(struct manifest *m, unsigned line, unsigned col,
                      const char *key, size_t keylen, const char *msg)
{
    if (m->nerrors >= MANIFEST_ERRORS_MAX) {
        m->errors_dropped++;
        return;
    }
    struct manifest_error *e = &m->errors[m->nerrors++];
    e->line = line;
    e->column = col;
    e->message = msg;
    if (keylen >= sizeof(e->key))
        keylen = sizeof(e->key) - 1;
    copy_str(e->key, key ? key : "", key ? keylen : 0);
}

/* Records an error for the current line; returns false for `return`. */
static bool fail(struct ctx *c, unsigned col, const char *msg)
{
    add_error(c->m, c->line, col, 0, 0, msg);
    return false;
}

/* ---- numbers, ranges, lists ---- */

static int digit_value(char c, unsigned base)
{
    int d = is_digit(c) ? c - '0'
          : (c >= 'a' && c <= 'f') ? c - 'a' + 10
          : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
    return d < (int)base ? d : -1;
}

/* Decimal or 0x hex, the whole of s[0..n); false if malformed or > 2^64-1. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    unsigned base = 10;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    }
    if (n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digit_value(s[i], base);
        if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / base)
            return false;
        v = v * base + (uint64_t)d;
    }
    *out = v;
    return true;
}

/* A number within [lo, hi]; RANGE_MSG is the error when outside. */
static const char *bounded(const char *s, size_t n, uint64_t lo, uint64_t hi,
                           const char *range_msg, uint64_t *out)
{
    if (!parse_u64(s, n, out))
        return "not a number";
    return *out < lo || *out > hi ? range_msg : 0;
}

static const char *parse_range(const char *s, size_t n, uint64_t max,
                               struct manifest_range *r)
{
    size_t dash = 0;
    while (dash < n && s[dash] != '-')
        dash++;
    const char *err = bounded(s, dash, 0, max, "address out of range", &r->start);
    if (err)
        return err;
    r->end = r->start;
    if (dash < n && (err = bounded(s + dash + 1, n - dash - 1, 0, max,
                                   "address out of range", &r->end)))
        return err;
    return r->end < r->start ? "reversed range" : 0;
}

static bool overlaps(const struct manifest_range *a, const struct manifest_range *b)
{
    return !(a->end < b->start || a->start > b->end);
}

typedef const char *(*item_fn)(struct manifest_service *s, const char *v, size_t n);

/* Calls FN for each ","-separated item of v[0..n). */
static const char *each_item(struct manifest_service *s, const char *v,
                             size_t n, item_fn fn)
{
    size_t i = 0;
    for (;;) {
        size_t st = i;
        while (i < n && v[i] != ',')
            i++;
        if (i == st)
            return "empty list item";
        const char *err = fn(s, v + st, i - st);
        if (err)
            return err;
        if (i == n)
            return 0;
        i++;
    }
}

/* ---- values of each key ---- */

static bool valid_name(const char *v, size_t n)
{
    if (n == 0 || n > MANIFEST_NAME_MAX || !is_lower(v[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_lower(v[i]) && !is_digit(v[i]) && v[i] != '-' && v[i] != '_')
            return false;
    return true;
}

static const char *set_prio(struct manifest_service *s, const char *v, size_t n)
{
    uint64_t x;
    const char *err = bounded(v, n, 1, 255, "out of range (1-255)", &x);
    s->prio = (uint8_t)x;
    return err;
}

static const char *set_restart(struct manifest_service *s, const char *v, size_t n)
{
    if (eq(v, n, "never"))
        s->restart = MANIFEST_RESTART_NEVER;
    else if (eq(v, n, "always"))
        s->restart = MANIFEST_RESTART_ALWAYS;
    else if (eq(v, n, "on-failure"))
        s->restart = MANIFEST_RESTART_ON_FAILURE;
    else
        return "must be never, always or on-failure";
    return 0;
}

static const char *set_backoff(struct manifest_service *s, const char *v, size_t n)
{
    uint64_t x;
    const char *err = bounded(v, n, 1, 3600000, "out of range (1-3600000 ms)", &x);
    s->backoff_ms = (uint32_t)x;
    return err;
}

static const char *set_limit(struct manifest_service *s, const char *v, size_t n)
{
    uint64_t x;
    const char *err = bounded(v, n, 0, 10000, "out of range (0-10000)", &x);
    s->limit = (uint32_t)x;
    return err;
}

/* A watch's period: 0 (none) or 10 ms to 10 minutes. */
static const char *watch_ms(const char *v, size_t n, uint32_t *out)
{
    static const char range[] = "out of range (0 or 10-600000 ms)";
    uint64_t x;
    const char *err = bounded(v, n, 0, 600000, range, &x);
    if (!err && x != 0 && x < 10)
        err = range;
    *out = (uint32_t)x;
    return err;
}

static const char *set_heartbeat(struct manifest_service *s, const char *v, size_t n)
{
    return watch_ms(v, n, &s->heartbeat_ms);
}

static const char *set_stall(struct manifest_service *s, const char *v, size_t n)
{
    return watch_ms(v, n, &s->stall_ms);
}

static const char *set_bootfs(struct manifest_service *s, const char *v, size_t n)
{
    uint64_t x;
    const char *err = bounded(v, n, 0, 1, "out of range (0 or 1)", &x);
    s->bootfs = (uint8_t)x;
    return err;
}

static const char *set_debug(struct manifest_service *s, const char *v, size_t n)
{
    uint64_t x;
    const char *err = bounded(v, n, 0, 1, "out of range (0 or 1)", &x);
    s->debug = (uint8_t)x;
    return err;
}

static const char *set_args(struct manifest_service *s, const char *v, size_t n)
{
    if (n > MANIFEST_ARGS_MAX)
        return "too long (127 bytes at most)";
    copy_str(s->args, v, n);
    return 0;
}

static const char *add_irq(struct manifest_service *s, const char *v, size_t n)
{
    uint64_t x;
    const char *err = bounded(v, n, 0, 255, "out of range (0-255)", &x);
    if (err)
        return err;
    for (unsigned i = 0; i < s->nirq; i++)
        if (s->irq[i] == x)
            return "duplicate irq";
    if (s->nirq >= MANIFEST_LIST_MAX)
        return "too many items (8 at most)";
    s->irq[s->nirq++] = (uint8_t)x;
    return 0;
}

/* Adds range v[0..n) (values up to MAX) to LIST holding *count ranges. */
static const char *add_range(struct manifest_range *list, uint8_t *count,
                             const char *v, size_t n, uint64_t max)
{
    struct manifest_range r;
    const char *err = parse_range(v, n, max, &r);
    if (err)
        return err;
    for (unsigned i = 0; i < *count; i++)
        if (overlaps(&list[i], &r))
            return "overlapping ranges";
    if (*count >= MANIFEST_LIST_MAX)
        return "too many items (8 at most)";
    list[(*count)++] = r;
    return 0;
}

static const char *add_ioport(struct manifest_service *s, const char *v, size_t n)
{
    return add_range(s->ioport, &s->nioport, v, n, 0xffff);
}

static const char *add_mmio(struct manifest_service *s, const char *v, size_t n)
{
    return add_range(s->mmio, &s->nmmio, v, n, UINT64_MAX);
}

static const char *add_pci(struct manifest_service *s, const char *v, size_t n)
{
    return add_range(s->pci, &s->npci, v, n, 0xffff);
}

static const char *add_connect(struct manifest_service *s, const char *v, size_t n)
{
    if (!valid_name(v, n))
        return "bad service name";
    for (unsigned i = 0; i < s->nconnect; i++)
        if (eq(v, n, s->connect[i]))
            return "duplicate service name";
    if (s->nconnect >= MANIFEST_LIST_MAX)
        return "too many items (8 at most)";
    copy_str(s->connect[s->nconnect++], v, n);
    return 0;
}

static const char *add_prefix(char (*list)[MANIFEST_PREFIX_MAX + 1], uint8_t *count,
                              const char *v, size_t n)
{
    char p[MANIFEST_PREFIX_MAX + 1];
    int len = names_normalize(v, n, p, sizeof(p));
    if (len == NAMES_ETOOLONG)
        return "prefix too long (63 bytes at most)";
    if (len < 0)
        return "bad prefix (absolute path expected)";
    for (unsigned i = 0; i < *count; i++)
        if (eq(p, (size_t)len, list[i]))
            return "duplicate prefix";
    if (*count >= MANIFEST_LIST_MAX)
        return "too many items (8 at most)";
    copy_str(list[(*count)++], p, (size_t)len);
    return 0;
}

static const char *add_name(struct manifest_service *s, const char *v, size_t n)
{
    return add_prefix(s->names, &s->nnames, v, n);
}

static const char *add_view(struct manifest_service *s, const char *v, size_t n)
{
    return add_prefix(s->view, &s->nview, v, n);
}

/* Exactly N hex digits v[0..n), into *out. */
static bool hex_exact(const char *v, size_t n, size_t want, unsigned *out)
{
    if (n != want)
        return false;
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digit_value(v[i], 16);
        if (d < 0)
            return false;
        x = x * 16 + (unsigned)d;
    }
    *out = x;
    return true;
}

static bool same_match(const struct manifest_match *a, const struct manifest_match *b)
{
    return a->kind == b->kind && a->vendor == b->vendor && a->device == b->device &&
           a->class == b->class && a->subclass == b->subclass;
}

/* vendor:device (4 + 4 hex digits) or class:CC[SS]. */
static const char *add_match(struct manifest_service *s, const char *v, size_t n)
{
    struct manifest_match m = { 0 };
    unsigned a, b;
    if (n >= 6 && eq(v, 6, "class:")) {
        m.kind = MANIFEST_MATCH_CLASS;
        if (hex_exact(v + 6, n - 6, 2, &a))
            b = 0xff;
        else if (!hex_exact(v + 6, 2, 2, &a) || !hex_exact(v + 8, n - 8, 2, &b))
            return "bad class (class:CC or class:CCSS, hex)";
        if (a == 0xff)
            return "class ff matches no device";
        m.class = (uint8_t)a, m.subclass = (uint8_t)b;
    } else {
        m.kind = MANIFEST_MATCH_ID;
        if (n != 9 || v[4] != ':' || !hex_exact(v, 4, 4, &a) || !hex_exact(v + 5, 4, 4, &b))
            return "bad device (vendor:device, 4 hex digits each, or class:CC[SS])";
        if (a == 0xffff || b == 0xffff)
            return "vendor or device ffff matches no device";
        m.vendor = (uint16_t)a, m.device = (uint16_t)b;
    }
    for (unsigned i = 0; i < s->nmatch; i++)
        if (same_match(&s->match[i], &m))
            return "duplicate device";
    if (s->nmatch >= MANIFEST_LIST_MAX)
        return "too many items (8 at most)";
    s->match[s->nmatch++] = m;
    return 0;
}

static const char *set_instances(struct manifest_service *s, const char *v, size_t n)
{
    uint64_t x;
    const char *err = bounded(v, n, 1, MANIFEST_INSTANCES_MAX, "out of range (1-8)", &x);
    s->instances = (uint8_t)x;
    return err;
}

static const struct key {
    const char *name;
    item_fn set;                /* the whole value */
    item_fn item;               /* or each item of a "," list */
} KEYS[] = {
    { "prio", set_prio, 0 },           { "restart", set_restart, 0 },
    { "backoff", set_backoff, 0 },     { "limit", set_limit, 0 },
    { "heartbeat", set_heartbeat, 0 }, { "args", set_args, 0 },
    { "irq", 0, add_irq },             { "ioport", 0, add_ioport },
    { "mmio", 0, add_mmio },           { "connect", 0, add_connect },
    { "names", 0, add_name },          { "view", 0, add_view },
    { "bootfs", set_bootfs, 0 },       { "pci", 0, add_pci },
    { "debug", set_debug, 0 },         { "match", 0, add_match },
    { "instances", set_instances, 0 }, { "stall", set_stall, 0 },
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

/* ---- tokens ---- */

/* The next token from *pos; false at the end of the line.  *bad is set
 * on an unterminated quote. */
static bool next_token(const struct ctx *c, size_t *pos, struct tok *t, bool *bad)
{
    size_t i = *pos;
    while (i < c->len && is_ws(c->p[i]))
        i++;
    if (i == c->len)
        return false;
    size_t st = i;
    bool inq = false;
    for (; i < c->len && (inq || !is_ws(c->p[i])); i++) {
        if (c->p[i] == '"')
            inq = !inq;
        else if (c->p[i] == '\\' && inq && i + 1 < c->len)
            i++;
    }
    *bad = inq;
    t->p = c->p + st;
    t->n = i - st;
    t->col = (unsigned)st + 1;
    *pos = i;
    return true;
}

/* Decodes value v[0..n) into OUT (n + 1 bytes); returns its length or -1
 * with *msg set. */
static long decode_value(const char *v, size_t n, char *out, const char **msg)
{
    if (n == 0 || v[0] != '"') {
        for (size_t i = 0; i < n; i++)
            if (v[i] == '"') {
                *msg = "quote inside an unquoted value";
                return -1;
            }
        copy_str(out, v, n);
        return (long)n;
    }
    size_t o = 0, i = 1;
    for (; i < n && v[i] != '"'; i++) {
        if (v[i] == '\\' && i + 2 < n)
            i++;
        out[o++] = v[i];
    }
    if (i + 1 != n) {
        *msg = "text after the closing quote";
        return -1;
    }
    out[o] = 0;
    return (long)o;
}

/* ---- lines ---- */

static const struct key *find_key(const char *k, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (eq(k, n, KEYS[i].name))
            return &KEYS[i];
    return 0;
}

static bool key_error(struct ctx *c, const struct tok *t, size_t klen,
                      const char *msg)
{
    add_error(c->m, c->line, t->col, t->p, klen, msg);
    return false;
}

/* Applies one key=value token to S; SEEN has a bit per key already set. */
static bool parse_field(struct ctx *c, const struct tok *t,
                        struct manifest_service *s, uint32_t *seen)
{
    size_t k = 0;
    while (k < t->n && t->p[k] != '=')
        k++;
    if (k == t->n || k == 0)
        return fail(c, t->col, "expected key=value");
    const struct key *key = find_key(t->p, k);
    if (!key)
        return key_error(c, t, k, "unknown key");
    uint32_t bit = 1u << (key - KEYS);
    if (*seen & bit)
        return key_error(c, t, k, "duplicate key");
    *seen |= bit;
    char val[MANIFEST_LINE_MAX + 1];
    const char *msg = 0;
    long n = decode_value(t->p + k + 1, t->n - k - 1, val, &msg);
    if (n >= 0)
        msg = key->set ? key->set(s, val, (size_t)n) : each_item(s, val, (size_t)n, key->item);
    return msg ? key_error(c, t, k, msg) : true;
}

static bool parse_head(struct ctx *c, size_t *pos, struct manifest_service *s)
{
    struct tok t;
    bool bad = false;
    if (!next_token(c, pos, &t, &bad))
        return fail(c, (unsigned)c->len + 1, "missing service name");
    if (!valid_name(t.p, t.n))
        return fail(c, t.col, "bad service name (a-z, 0-9, - and _, 31 bytes at most)");
    copy_str(s->name, t.p, t.n);
    c->name_col = t.col;
    if (!next_token(c, pos, &t, &bad))
        return fail(c, (unsigned)c->len + 1, "missing program");
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] == '=' || t.p[i] == '"')
            return fail(c, t.col, "missing program");
    if (t.n > MANIFEST_PROGRAM_MAX)
        return fail(c, t.col, "program path too long (63 bytes at most)");
    for (size_t i = 0; i < t.n; i++)
        if (!is_alpha(t.p[i]) && !is_digit(t.p[i]) && t.p[i] != '.'
            && t.p[i] != '_' && t.p[i] != '-' && t.p[i] != '/')
            return fail(c, t.col + (unsigned)i, "bad character in program path");
    if (t.p[0] == '/')
        return fail(c, t.col, "program path must be relative to the boot image");
    copy_str(s->program, t.p, t.n);
    return true;
}

static void service_defaults(struct manifest_service *s, unsigned line)
{
    unsigned char *b = (unsigned char *)s;
    for (size_t i = 0; i < sizeof(*s); i++)
        b[i] = 0;
    s->line = line;
    s->prio = MANIFEST_PRIO_DEFAULT;
    s->backoff_ms = MANIFEST_BACKOFF_DEFAULT;
}

static bool add_service(struct ctx *c, const struct manifest_service *s)
{
    struct manifest *m = c->m;
    if (manifest_find(m, s->name, cstr_len(s->name)))
        return fail(c, c->name_col, "duplicate service name");
    if (eq(s->name, cstr_len(s->name), "init") || eq(s->name, cstr_len(s->name), "supervisor"))
        return fail(c, c->name_col, "reserved name (init and the supervisor are not services)");
    if (m->nservices >= MANIFEST_SERVICES_MAX)
        return fail(c, 1, "too many services (32 at most)");
    m->services[m->nservices++] = *s;
    return true;
}

/* ---- driver lines (match=) ---- */

static unsigned count_hash(const char *p)
{
    unsigned n = 0;
    for (; *p; p++)
        n += *p == '#';
    return n;
}

static bool field_error(struct ctx *c, const char *key, const char *msg)
{
    add_error(c->m, c->line, 0, key, cstr_len(key), msg);
    return false;
}

/* A line without match=: no instances=, no "#" in names=. */
static bool check_plain(struct ctx *c, const struct manifest_service *s)
{
    if (s->instances)
        return field_error(c, "instances", "only with match=");
    for (unsigned i = 0; i < s->nnames; i++)
        if (count_hash(s->names[i]))
            return field_error(c, "names", "\"#\" (the instance number) only with match=");
    return true;
}

/* A line with match=: connect=pci, a name that leaves room for the
 * instance number, one "#" in each names= prefix. */
static bool check_driver(struct ctx *c, const struct manifest_service *s)
{
    bool pci = false;
    for (unsigned i = 0; i < s->nconnect; i++)
        pci |= eq(s->connect[i], cstr_len(s->connect[i]), "pci");
    if (!pci)
        return field_error(c, "match", "needs connect=pci (its devices come from the PCI server)");
    if (s->npci)
        return field_error(c, "pci", "not on a driver line (its function comes from the PCI server)");
    if (cstr_len(s->name) > MANIFEST_NAME_MAX - 1)
        return fail(c, c->name_col, "driver name too long (30 bytes at most: the instance number follows)");
    for (unsigned i = 0; i < s->nnames; i++)
        if (count_hash(s->names[i]) != 1)
            return field_error(c, "names", "a driver line's prefix needs one \"#\" (the instance number)");
    return true;
}

/* Instance K of driver line S. */
static void make_instance(const struct manifest_service *s, unsigned k,
                          struct manifest_service *out)
{
    *out = *s;
    size_t n = cstr_len(s->name);
    copy_str(out->group, s->name, n);
    out->name[n] = (char)('0' + k);
    out->name[n + 1] = 0;
    out->instance = (uint8_t)k;
    for (unsigned i = 0; i < out->nnames; i++)
        for (char *p = out->names[i]; *p; p++)
            if (*p == '#')
                *p = (char)('0' + k);
}

/* Adds every instance of S, or (if one cannot be added) none. */
static void add_instances(struct ctx *c, struct manifest_service *s)
{
    struct manifest *m = c->m;
    if (!s->instances)
        s->instances = MANIFEST_INSTANCES_DEFAULT;
    if (m->nservices + s->instances > MANIFEST_SERVICES_MAX) {
        fail(c, 1, "too many services (32 at most, counting each instance)");
        return;
    }
    struct manifest_service inst;
    for (unsigned k = 0; k < s->instances; k++) {
        make_instance(s, k, &inst);
        if (manifest_find(m, inst.name, cstr_len(inst.name))) {
            fail(c, c->name_col, "an instance's name is another service's");
            return;
        }
    }
    unsigned first = m->nservices;
    for (unsigned k = 0; k < s->instances; k++) {
        make_instance(s, k, &inst);
        if (!add_service(c, &inst)) {
            m->nservices = first;           /* reserved names: none of them */
            return;
        }
    }
}

int manifest_matches(const struct manifest_service *s, uint16_t vendor, uint16_t device,
                     uint8_t class, uint8_t subclass)
{
    for (unsigned i = 0; i < s->nmatch; i++) {
        const struct manifest_match *m = &s->match[i];
        if (m->kind == MANIFEST_MATCH_ID ? m->vendor == vendor && m->device == device
                                         : m->class == class &&
                                           (m->subclass == 0xff || m->subclass == subclass))
            return 1;
    }
    return 0;
}

/* A "service ..." line; POS is just after the keyword. */
static void parse_service(struct ctx *c, size_t pos)
{
    struct manifest_service s;
    service_defaults(&s, c->line);
    if (!parse_head(c, &pos, &s))
        return;
    struct tok t;
    bool bad = false;
    uint32_t seen = 0;
    while (next_token(c, &pos, &t, &bad)) {
        if (bad) {
            fail(c, t.col, "unterminated quote");
            return;
        }
        if (!parse_field(c, &t, &s, &seen))
            return;
    }
    if (s.stall_ms && !s.heartbeat_ms) {
        fail(c, 1, "stall: needs heartbeat= (it is checked with the heartbeats)");
        return;
    }
    if (s.nmatch == 0 && !check_plain(c, &s))
        return;
    if (s.nmatch == 0)
        add_service(c, &s);
    else if (check_driver(c, &s))
        add_instances(c, &s);
}

/* Checks the bytes of the line: no NUL, no control characters but TAB. */
static bool check_bytes(struct ctx *c)
{
    for (size_t i = 0; i < c->len; i++) {
        unsigned char b = (unsigned char)c->p[i];
        if (b == 0)
            return fail(c, (unsigned)i + 1, "NUL byte");
        if ((b < 0x20 && b != '\t') || b == 0x7f)
            return fail(c, (unsigned)i + 1, "control character");
    }
    return true;
}

static void parse_line(struct ctx *c)
{
    if (c->len > MANIFEST_LINE_MAX) {
        fail(c, 0, "line too long (1024 bytes at most)");
        return;
    }
    if (!check_bytes(c))
        return;
    size_t i = 0;
    while (i < c->len && is_ws(c->p[i]))
        i++;
    if (i == c->len || c->p[i] == '#')
        return;
    size_t st = i;
    while (i < c->len && !is_ws(c->p[i]))
        i++;
    if (!eq(c->p + st, i - st, "service")) {
        fail(c, (unsigned)st + 1, "unknown statement (expected \"service\")");
        return;
    }
    parse_service(c, i);
}

/* After the whole file: every connect= must name a known service, or
 * "supervisor" (the supervisor's control interface). */
static void check_connects(struct manifest *m)
{
    for (unsigned i = 0; i < m->nservices; i++) {
        const struct manifest_service *s = &m->services[i];
        for (unsigned j = 0; j < s->nconnect; j++)
            if (!eq("supervisor", 10, s->connect[j]) &&
                !manifest_find(m, s->connect[j], cstr_len(s->connect[j])))
                add_error(m, s->line, 0, "connect", 7,
                          "connects to a service not in the manifest");
    }
}

unsigned manifest_parse(const char *text, size_t len, struct manifest *m)
{
    m->nservices = m->nerrors = m->errors_dropped = m->lines = 0;
    struct ctx c = { .m = m };
    size_t i = 0;
    while (i < len) {
        size_t st = i;
        while (i < len && text[i] != '\n')
            i++;
        c.p = text + st;
        c.len = i - st;
        if (c.len && c.p[c.len - 1] == '\r')
            c.len--;
        c.line = ++m->lines;
        parse_line(&c);
        if (i < len)
            i++;                /* the LF */
    }
    check_connects(m);
    return m->nerrors + m->errors_dropped;
}

const struct manifest_service *manifest_find(const struct manifest *m,
                                             const char *name, size_t len)
{
    for (unsigned i = 0; i < m->nservices; i++)
        if (eq(name, len, m->services[i].name))
            return &m->services[i];
    return 0;
}

/* ---- formatting ---- */

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, const char *s)
{
    for (; *s; s++, o->len++)
        if (o->len + 1 < o->size)
            o->buf[o->len] = *s;
}

static void put_uint(struct out *o, unsigned v)
{
    char d[12];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char s[2] = { 0, 0 };
    while (n > 0) {
        s[0] = d[--n];
        put(o, s);
    }
}

size_t manifest_format_error(const struct manifest_error *e, char *buf,
                             size_t size)
{
    struct out o = { buf, size, 0 };
    put(&o, "manifest:");
    put_uint(&o, e->line);
    put(&o, ": ");
    if (e->key[0]) {
        put(&o, e->key);
        put(&o, ": ");
    }
    put(&o, e->message);
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return o.len;
}
