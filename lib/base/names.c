/*
 * names: path normalisation, mount table, views (see names.h).
 *
 * The mount table is a small array kept in try order for each prefix:
 * attach appends (or, with NAMES_BEFORE, inserts in front of the first
 * mount at the same prefix); resolve collects the mounts covering the path
 * and sorts them by prefix length, longest first, with a stable insertion
 * sort so the order within one prefix is kept.  Tables are small (at most
 * NAMES_MOUNTS_MAX entries), so linear scans are the simplest fast enough
 * thing.  Prefixes are stored normalised, and paths are normalised before
 * any comparison, so matching is plain byte comparison on components.
 */
#include "base/names.h"

static void copy_bytes(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

static int same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Checks what can be checked without looking at components; CONTROL:
 * bytes 1..31 and 127 are accepted (a file's name may hold them). */
static int check_raw(const char *path, size_t len, int control)
{
    if (!path || len == 0)
        return NAMES_EEMPTY;
    if (len > NAMES_PATH_MAX)
        return NAMES_ETOOLONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == 0)
            return NAMES_ENUL;
        if (!control && (c < 0x20 || c == 0x7f))
            return NAMES_EBADCHAR;
    }
    return path[0] == '/' ? NAMES_OK : NAMES_ERELATIVE;
}

/* Removes the last component of OUT[0..*o); false if already at root. */
static int pop_component(const char *out, size_t *o)
{
    if (*o <= 1)
        return 0;
    size_t i = *o;
    while (i > 0 && out[i - 1] != '/')
        i--;
    i--;                        /* the '/' before the component */
    *o = i == 0 ? 1 : i;
    return 1;
}

/* Appends component C[0..n) to OUT[0..*o); false if it does not fit. */
static int push_component(char *out, size_t outsize, size_t *o,
                          const char *c, size_t n)
{
    size_t sep = *o > 1 ? 1 : 0;
    if (*o + sep + n + 1 > outsize)
        return 0;
    if (sep)
        out[(*o)++] = '/';
    copy_bytes(out + *o, c, n);
    *o += n;
    return 1;
}

static int normalize(const char *path, size_t len, char *out, size_t outsize, int control)
{
    int r = check_raw(path, len, control);
    if (r != NAMES_OK)
        return r;
    if (!out || outsize < 2)
        return NAMES_ETOOLONG;
    out[0] = '/';
    size_t o = 1;
    size_t i = 0;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        size_t s = i;
        while (i < len && path[i] != '/')
            i++;
        size_t n = i - s;
        if (n == 0 || (n == 1 && path[s] == '.'))
            continue;
        if (n == 2 && path[s] == '.' && path[s + 1] == '.') {
            if (!pop_component(out, &o))
                return NAMES_EABOVEROOT;
        } else if (!push_component(out, outsize, &o, path + s, n)) {
            return NAMES_ETOOLONG;
        }
    }
    out[o] = 0;
    return (int)o;
}

int names_normalize(const char *path, size_t len, char *out, size_t outsize)
{
    return normalize(path, len, out, outsize, 0);
}

int names_covers(const char *prefix, size_t plen, const char *path, size_t len)
{
    if (plen == 1 && prefix[0] == '/')
        return 1;
    if (plen > len || !same_bytes(prefix, path, plen))
        return 0;
    return plen == len || path[plen] == '/';
}

void names_init(struct names_table *t)
{
    t->count = 0;
}

/* Normalises a prefix into a NAMES_PREFIX_MAX + 1 byte buffer. */
static int norm_prefix(const char *p, size_t len, char *out)
{
    return names_normalize(p, len, out, NAMES_PREFIX_MAX + 1);
}

static int same_prefix(const struct names_mount *m, const char *p, size_t n)
{
    return m->len == n && same_bytes(m->prefix, p, n);
}

/* Where a new mount at P goes: the end, or with NAMES_BEFORE in front of
 * the first mount at the same prefix. */
static unsigned insert_pos(const struct names_table *t, const char *p,
                           size_t n, uint32_t flags)
{
    if (flags & NAMES_BEFORE)
        for (unsigned i = 0; i < t->count; i++)
            if (same_prefix(&t->m[i], p, n))
                return i;
    return t->count;
}

int names_attach(struct names_table *t, const char *prefix, size_t len,
                 uint32_t server, uint32_t flags)
{
    if (!t || (flags & ~NAMES_FLAGS_ALL))
        return NAMES_EINVAL;
    char p[NAMES_PREFIX_MAX + 1];
    int n = norm_prefix(prefix, len, p);
    if (n < 0)
        return n;
    for (unsigned i = 0; i < t->count; i++)
        if (t->m[i].server == server && same_prefix(&t->m[i], p, (size_t)n))
            return NAMES_EEXIST;
    if (t->count >= NAMES_MOUNTS_MAX)
        return NAMES_EFULL;
    unsigned pos = insert_pos(t, p, (size_t)n, flags);
    for (unsigned i = t->count; i > pos; i--)
        t->m[i] = t->m[i - 1];
    struct names_mount *m = &t->m[pos];
    m->server = server;
    m->flags = flags;
    m->len = (uint16_t)n;
    copy_bytes(m->prefix, p, (size_t)n + 1);
    t->count++;
    return NAMES_OK;
}

unsigned names_detach(struct names_table *t, uint32_t server)
{
    unsigned kept = 0, removed = 0;
    for (unsigned i = 0; i < t->count; i++) {
        if (t->m[i].server == server) {
            removed++;
            continue;
        }
        if (kept != i)
            t->m[kept] = t->m[i];
        kept++;
    }
    t->count = kept;
    return removed;
}

/* Inserts candidate C into R keeping longest prefix first (stable). */
static void add_candidate(struct names_result *r, struct names_candidate c)
{
    unsigned i = r->count;
    while (i > 0 && r->c[i - 1].prefix_len < c.prefix_len) {
        r->c[i] = r->c[i - 1];
        i--;
    }
    r->c[i] = c;
    r->count++;
}

static struct names_candidate make_candidate(const struct names_mount *m,
                                             size_t path_len)
{
    struct names_candidate c;
    /* skip the prefix and the '/' after it ("/" is its own separator) */
    size_t off = m->len == 1 ? 1 : m->len + (m->len < path_len ? 1 : 0);
    c.server = m->server;
    c.flags = m->flags;
    c.prefix_len = m->len;
    c.rest_off = (uint16_t)off;
    c.rest_len = (uint16_t)(path_len - off);
    return c;
}

int names_resolve(const struct names_table *t, const struct names_view *view,
                  const char *path, size_t len, struct names_result *r)
{
    if (!t || !r)
        return NAMES_EINVAL;
    r->count = 0;
    r->path_len = 0;
    int n = normalize(path, len, r->path, sizeof(r->path), 1);
    if (n < 0)
        return n;
    r->path_len = (size_t)n;
    if (view && !names_view_allows(view, r->path, r->path_len))
        return NAMES_ENOENT;
    for (unsigned i = 0; i < t->count; i++) {
        const struct names_mount *m = &t->m[i];
        if (names_covers(m->prefix, m->len, r->path, r->path_len))
            add_candidate(r, make_candidate(m, r->path_len));
    }
    return r->count ? (int)r->count : NAMES_ENOENT;
}

void names_view_root(struct names_view *v)
{
    v->count = 1;
    v->len[0] = 1;
    v->prefix[0][0] = '/';
    v->prefix[0][1] = 0;
}

int names_view_allows(const struct names_view *v, const char *path, size_t len)
{
    for (unsigned i = 0; i < v->count; i++)
        if (names_covers(v->prefix[i], v->len[i], path, len))
            return 1;
    return 0;
}

static int view_has(const struct names_view *v, const char *p, size_t n)
{
    for (unsigned i = 0; i < v->count; i++)
        if (v->len[i] == n && same_bytes(v->prefix[i], p, n))
            return 1;
    return 0;
}

/* Adds one requested prefix to CHILD after checking it against PARENT. */
static int derive_one(const struct names_view *parent, struct names_str req,
                      struct names_view *child)
{
    char p[NAMES_PREFIX_MAX + 1];
    int n = norm_prefix(req.ptr, req.len, p);
    if (n < 0)
        return n;
    if (!names_view_allows(parent, p, (size_t)n))
        return NAMES_EPERM;
    if (view_has(child, p, (size_t)n))
        return NAMES_OK;
    if (child->count >= NAMES_VIEW_MAX)
        return NAMES_EFULL;
    child->len[child->count] = (uint16_t)n;
    copy_bytes(child->prefix[child->count], p, (size_t)n + 1);
    child->count++;
    return NAMES_OK;
}

int names_view_derive(const struct names_view *parent,
                      const struct names_str *req, unsigned n,
                      struct names_view *child)
{
    if (!parent || !child || (n && !req))
        return NAMES_EINVAL;
    child->count = 0;
    for (unsigned i = 0; i < n; i++) {
        int r = derive_one(parent, req[i], child);
        if (r != NAMES_OK) {
            child->count = 0;
            return r;
        }
    }
    return NAMES_OK;
}
