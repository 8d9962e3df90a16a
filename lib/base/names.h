/*
 * names: the path-name space kept by the process manager.
 *
 * Servers attach to path prefixes (QNX resource managers); a client asks
 * once which server owns a path, then talks to that server directly.  A
 * process group sees the table through a view (Plan 9 style name spaces):
 * a set of prefixes outside of which nothing exists for it.
 *
 * Everything is pure: no system calls, no allocation, all storage in
 * caller-owned structures of fixed size.  Paths arrive from messages, so
 * every function takes (pointer, length) and trusts neither.
 *
 * Normal form of a path (names_normalize):
 *   - absolute ("/..."), 1..NAMES_PATH_MAX bytes as given;
 *   - empty components and "." are dropped ("//a/./b" -> "/a/b");
 *   - ".." removes the previous component; a ".." at the root is an
 *     error (NAMES_EABOVEROOT), never clamped to "/", so a client cannot
 *     name something it did not mean by piling up "..";
 *   - no trailing slash except for the root itself ("/a/" -> "/a");
 *   - byte 0 is refused (NAMES_ENUL); so are 1..31 and 127
 *     (NAMES_EBADCHAR) in prefixes (names_normalize, names_attach, views),
 *     not in the paths resolved through them: a file's name may hold any
 *     byte but 0 and '/', as on Linux, and the server that owns it sees
 *     them; bytes >= 128 (UTF-8) are accepted as they are.
 *
 * Prefixes match whole components: "/dev" covers "/dev" and "/dev/x",
 * never "/devices".  "/" covers every path.
 *
 * resolve() returns the candidates in the order a client should try them:
 * longest prefix first; among mounts at the same prefix, attach order,
 * except that a mount attached with NAMES_BEFORE goes in front of the
 * mounts already at its prefix.
 */
#ifndef KESTREL_BASE_NAMES_H
#define KESTREL_BASE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define NAMES_PATH_MAX   1024   /* longest path accepted, in bytes */
#define NAMES_PREFIX_MAX 128    /* longest mount or view prefix, normalised */
#define NAMES_MOUNTS_MAX 64     /* entries in a mount table */
#define NAMES_VIEW_MAX   16     /* prefixes in a view */

enum {
    NAMES_OK = 0,
    NAMES_EEMPTY = -1,      /* zero-length path */
    NAMES_ERELATIVE = -2,   /* does not start with '/' */
    NAMES_ETOOLONG = -3,    /* longer than the limit or the output buffer */
    NAMES_ENUL = -4,        /* NUL byte inside the given length */
    NAMES_EBADCHAR = -5,    /* control character */
    NAMES_EABOVEROOT = -6,  /* ".." would climb above "/" */
    NAMES_EFULL = -7,       /* table or view has no free entry */
    NAMES_ENOENT = -8,      /* no mount (visible) for the path */
    NAMES_EPERM = -9,       /* prefix not covered by the parent view */
    NAMES_EEXIST = -10,     /* same server already at that prefix */
    NAMES_EINVAL = -11,     /* bad argument (NULL pointer, bad flags) */
};

/* names_attach flags */
#define NAMES_BEFORE 0x1u   /* in front of existing mounts at this prefix */
#define NAMES_FLAGS_ALL NAMES_BEFORE

/* A (pointer, length) string, e.g. one requested prefix. */
struct names_str {
    const char *ptr;
    size_t len;
};

struct names_mount {
    uint32_t server;
    uint32_t flags;
    uint16_t len;
    char prefix[NAMES_PREFIX_MAX + 1];
};

/* Mount entries kept in try order within each prefix. */
struct names_table {
    unsigned count;
    struct names_mount m[NAMES_MOUNTS_MAX];
};

/* One way to reach the path: ask SERVER for the rest of the path, which
 * is result.path[rest_off .. rest_off + rest_len) (relative: no leading
 * '/', empty when the path is the prefix itself). */
struct names_candidate {
    uint32_t server;
    uint32_t flags;
    uint16_t prefix_len;
    uint16_t rest_off;
    uint16_t rest_len;
};

struct names_result {
    char path[NAMES_PATH_MAX + 1];    /* the normalised path, NUL-ended */
    size_t path_len;
    unsigned count;
    struct names_candidate c[NAMES_MOUNTS_MAX];
};

/* The set of prefixes a process group may see. */
struct names_view {
    unsigned count;
    uint16_t len[NAMES_VIEW_MAX];
    char prefix[NAMES_VIEW_MAX][NAMES_PREFIX_MAX + 1];
};

/* Normalises PATH[0..LEN) into OUT (NUL-terminated, at most OUTSIZE bytes
 * with the NUL).  Returns the normalised length, or a negative NAMES_E*.
 * OUT is unspecified after an error. */
int names_normalize(const char *path, size_t len, char *out, size_t outsize);

/* True when normalised PREFIX covers normalised PATH (whole components). */
int names_covers(const char *prefix, size_t plen, const char *path, size_t len);

void names_init(struct names_table *t);

/* Attaches SERVER at PREFIX (normalised first).  NAMES_OK or NAMES_E*:
 * EFULL when all NAMES_MOUNTS_MAX entries are used, EEXIST when SERVER is
 * already attached at the same prefix, ETOOLONG over NAMES_PREFIX_MAX. */
int names_attach(struct names_table *t, const char *prefix, size_t len,
                 uint32_t server, uint32_t flags);

/* Removes every mount of SERVER (a service that died); returns how many. */
unsigned names_detach(struct names_table *t, uint32_t server);

/* Resolves PATH through T, seen through VIEW (NULL: the whole table).
 * Returns the number of candidates (> 0) in R, NAMES_ENOENT when no mount
 * covers the path or the view hides it, or another NAMES_E* for a bad
 * path. */
int names_resolve(const struct names_table *t, const struct names_view *view,
                  const char *path, size_t len, struct names_result *r);

/* The view of everything: the single prefix "/". */
void names_view_root(struct names_view *v);

/* Derives CHILD from PARENT keeping only the N requested prefixes; each
 * must be covered by a prefix of PARENT (NAMES_EPERM otherwise), so a
 * view can only narrow.  Duplicates are merged.  On error CHILD is left
 * empty (sees nothing). */
int names_view_derive(const struct names_view *parent,
                      const struct names_str *req, unsigned n,
                      struct names_view *child);

/* True when the normalised PATH lies inside VIEW. */
int names_view_allows(const struct names_view *v, const char *path, size_t len);

#endif
