/*
 * Host tests for lib/base/names: normalisation (and hostile paths: empty,
 * huge, ".." above the root, embedded NUL, control bytes, "////",
 * trailing slashes), the mount table (longest prefix, component
 * boundaries, overlapping mounts in attach order and with NAMES_BEFORE,
 * detach, table full) and views (restricting resolve, narrowing only).
 * Paths are passed as exact-size heap copies without a NUL, so ASan
 * reports any read past the given length.
 */
#include "base/names.h"
#include "check.h"

/* An exact-size heap copy of the first N bytes of S (no terminator). */
static char *heap(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    memcpy(p, s, n);
    return p;
}

/* names_normalize on a heap copy; the result string goes to OUT. */
static int norm_n(const char *s, size_t n, char *out, size_t outsize)
{
    char *p = heap(s, n);
    char *o = malloc(outsize ? outsize : 1);
    CHECK(o != NULL);
    int r = names_normalize(p, n, o, outsize);
    if (r >= 0) {
        CHECK_EQ(o[r], 0);
        memcpy(out, o, (size_t)r + 1);
    }
    free(o);
    free(p);
    return r;
}

static int norm(const char *s, char out[NAMES_PATH_MAX + 1])
{
    return norm_n(s, strlen(s), out, NAMES_PATH_MAX + 1);
}

static int attach(struct names_table *t, const char *prefix, uint32_t server,
                  uint32_t flags)
{
    char *p = heap(prefix, strlen(prefix));
    int r = names_attach(t, p, strlen(prefix), server, flags);
    free(p);
    return r;
}

static struct names_result res;

static int resolve(const struct names_table *t, const struct names_view *v,
                   const char *path)
{
    char *p = heap(path, strlen(path));
    int r = names_resolve(t, v, p, strlen(path), &res);
    free(p);
    return r;
}

/* The rest of the path of candidate I as a string. */
static const char *rest(unsigned i)
{
    static char buf[NAMES_PATH_MAX + 1];
    memcpy(buf, res.path + res.c[i].rest_off, res.c[i].rest_len);
    buf[res.c[i].rest_len] = 0;
    return buf;
}

static void test_normalize_basic(void)
{
    char o[NAMES_PATH_MAX + 1];
    CHECK_EQ(norm("/", o), 1);
    CHECK_STR(o, "/");
    CHECK_EQ(norm("/dev/console", o), 12);
    CHECK_STR(o, "/dev/console");
    CHECK_EQ(norm("//dev///./console/.", o), 12);
    CHECK_STR(o, "/dev/console");
    CHECK_EQ(norm("/a/b/../c", o), 4);
    CHECK_STR(o, "/a/c");
    CHECK_EQ(norm("/a/..", o), 1);
    CHECK_STR(o, "/");
    CHECK_EQ(norm("/a/.../..b/.c", o), 13);
    CHECK_STR(o, "/a/.../..b/.c");
    CHECK_EQ(norm("/caf\xc3\xa9", o), 6);
}

static void test_normalize_slashes(void)
{
    char o[NAMES_PATH_MAX + 1];
    CHECK_EQ(norm("////", o), 1);
    CHECK_STR(o, "/");
    CHECK_EQ(norm("/dev/", o), 4);
    CHECK_STR(o, "/dev");
    CHECK_EQ(norm("/dev//", o), 4);
    CHECK_EQ(norm("/./././", o), 1);
    CHECK_STR(o, "/");
}

static void test_normalize_above_root(void)
{
    char o[NAMES_PATH_MAX + 1];
    CHECK_EQ(norm("/..", o), NAMES_EABOVEROOT);
    CHECK_EQ(norm("/../etc", o), NAMES_EABOVEROOT);
    CHECK_EQ(norm("/a/../..", o), NAMES_EABOVEROOT);
    CHECK_EQ(norm("/a/b/../../../x", o), NAMES_EABOVEROOT);
    CHECK_EQ(norm("//..//", o), NAMES_EABOVEROOT);
    CHECK_EQ(norm("/a/b/../..", o), 1);
}

static void test_normalize_hostile(void)
{
    char o[NAMES_PATH_MAX + 1];
    CHECK_EQ(norm_n("", 0, o, sizeof(o)), NAMES_EEMPTY);
    CHECK_EQ(names_normalize(NULL, 5, o, sizeof(o)), NAMES_EEMPTY);
    CHECK_EQ(norm("dev/x", o), NAMES_ERELATIVE);
    CHECK_EQ(norm(".", o), NAMES_ERELATIVE);
    CHECK_EQ(norm_n("/dev\0/x", 7, o, sizeof(o)), NAMES_ENUL);
    CHECK_EQ(norm_n("\0", 1, o, sizeof(o)), NAMES_ENUL);
    CHECK_EQ(norm("/a\nb", o), NAMES_EBADCHAR);
    CHECK_EQ(norm("/a\x7f", o), NAMES_EBADCHAR);
    CHECK_EQ(norm("/a\tb", o), NAMES_EBADCHAR);
    /* the length given is what counts: a NUL after it is not seen */
    CHECK_EQ(norm_n("/ab\0", 3, o, sizeof(o)), 3);
    CHECK_STR(o, "/ab");
}

static void test_normalize_length(void)
{
    char o[NAMES_PATH_MAX + 1];
    char *big = malloc(NAMES_PATH_MAX + 2);
    CHECK(big != NULL);
    memset(big, 'a', NAMES_PATH_MAX + 1);
    big[0] = '/';
    CHECK_EQ(norm_n(big, NAMES_PATH_MAX, o, sizeof(o)), NAMES_PATH_MAX);
    CHECK_EQ(norm_n(big, NAMES_PATH_MAX + 1, o, sizeof(o)), NAMES_ETOOLONG);
    memset(big, '/', NAMES_PATH_MAX + 1);
    CHECK_EQ(norm_n(big, NAMES_PATH_MAX, o, sizeof(o)), 1);
    free(big);
    /* output buffers: exactly enough, one short */
    CHECK_EQ(norm_n("/abc", 4, o, 5), 4);
    CHECK_EQ(norm_n("/abc", 4, o, 4), NAMES_ETOOLONG);
    CHECK_EQ(norm_n("/", 1, o, 2), 1);
    CHECK_EQ(norm_n("/", 1, o, 1), NAMES_ETOOLONG);
    CHECK_EQ(norm_n("/a/../b", 7, o, 3), 2);
    CHECK_STR(o, "/b");
}

static void test_huge_dotdot_chain(void)
{
    /* 150 components then 150 ".." then one more: above the root */
    char *p = malloc(NAMES_PATH_MAX);
    CHECK(p != NULL);
    size_t n = 0;
    for (int i = 0; i < 150; i++) { memcpy(p + n, "/x", 2); n += 2; }
    for (int i = 0; i < 150; i++) { memcpy(p + n, "/..", 3); n += 3; }
    char o[NAMES_PATH_MAX + 1];
    CHECK_EQ(norm_n(p, n, o, sizeof(o)), 1);
    memcpy(p + n, "/..", 3);
    CHECK_EQ(norm_n(p, n + 3, o, sizeof(o)), NAMES_EABOVEROOT);
    free(p);
}

static void test_covers_components(void)
{
    CHECK(names_covers("/dev", 4, "/dev", 4));
    CHECK(names_covers("/dev", 4, "/dev/x", 6));
    CHECK(!names_covers("/dev", 4, "/devices", 8));
    CHECK(!names_covers("/dev/x", 6, "/dev", 4));
    CHECK(names_covers("/", 1, "/anything", 9));
    CHECK(names_covers("/", 1, "/", 1));
}

static void test_longest_prefix(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "/", 1, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/dev/console", 3, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/dev", 2, 0), NAMES_OK);
    CHECK_EQ(resolve(&t, NULL, "/dev/console/x"), 3);
    CHECK_EQ(res.c[0].server, 3);
    CHECK_STR(rest(0), "x");
    CHECK_EQ(res.c[1].server, 2);
    CHECK_STR(rest(1), "console/x");
    CHECK_EQ(res.c[2].server, 1);
    CHECK_STR(rest(2), "dev/console/x");
    CHECK_EQ(resolve(&t, NULL, "/dev/console"), 3);
    CHECK_STR(rest(0), "");
    CHECK_EQ(resolve(&t, NULL, "/"), 1);
    CHECK_STR(rest(0), "");
    CHECK_STR(res.path, "/");
    /* a file's name may hold control bytes: resolved, handed on as they are;
     * a prefix may not */
    CHECK_EQ(resolve(&t, NULL, "/dev/a\x7f\tb"), 2);
    CHECK_STR(rest(0), "a\x7f\tb");
    CHECK_EQ(attach(&t, "/dev/a\x7f", 4, 0), NAMES_EBADCHAR);
    CHECK_EQ(resolve(&t, NULL, "/dev/a\x7f/../.."), 1);
}

static void test_component_boundary(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "/dev", 2, 0), NAMES_OK);
    CHECK_EQ(resolve(&t, NULL, "/devices/x"), NAMES_ENOENT);
    CHECK_EQ(resolve(&t, NULL, "/de"), NAMES_ENOENT);
    CHECK_EQ(resolve(&t, NULL, "/dev"), 1);
    CHECK_EQ(resolve(&t, NULL, "/dev/"), 1);
    CHECK_STR(rest(0), "");
    CHECK_EQ(resolve(&t, NULL, "/x/../dev/./tty"), 1);
    CHECK_STR(rest(0), "tty");
}

static void test_overlapping_order(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "/bin", 10, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/bin/", 11, 0), NAMES_OK);    /* same prefix */
    CHECK_EQ(attach(&t, "/bin", 12, NAMES_BEFORE), NAMES_OK);
    CHECK_EQ(attach(&t, "//bin", 13, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/bin", 14, NAMES_BEFORE), NAMES_OK);
    CHECK_EQ(resolve(&t, NULL, "/bin/sh"), 5);
    const uint32_t want[5] = { 14, 12, 10, 11, 13 };
    for (unsigned i = 0; i < 5; i++) {
        CHECK_EQ(res.c[i].server, want[i]);
        CHECK_STR(rest(i), "sh");
    }
    CHECK_EQ(res.c[0].flags, NAMES_BEFORE);
    CHECK_EQ(attach(&t, "/bin", 10, 0), NAMES_EEXIST);
    CHECK_EQ(attach(&t, "/bin", 1, 0x80), NAMES_EINVAL);
}

static void test_overlap_mixed_lengths(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "/", 1, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/a", 2, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/", 3, NAMES_BEFORE), NAMES_OK);
    CHECK_EQ(attach(&t, "/a/b", 4, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/a", 5, 0), NAMES_OK);
    CHECK_EQ(resolve(&t, NULL, "/a/b/c"), 5);
    const uint32_t want[5] = { 4, 2, 5, 3, 1 };
    for (unsigned i = 0; i < 5; i++)
        CHECK_EQ(res.c[i].server, want[i]);
}

static void test_detach(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "/dev", 7, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/tmp", 8, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/dev/null", 7, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/dev", 9, 0), NAMES_OK);
    CHECK_EQ(names_detach(&t, 7), 2);
    CHECK_EQ(t.count, 2);
    CHECK_EQ(resolve(&t, NULL, "/dev/null"), 1);
    CHECK_EQ(res.c[0].server, 9);
    CHECK_EQ(names_detach(&t, 7), 0);
    CHECK_EQ(names_detach(&t, 9), 1);
    CHECK_EQ(resolve(&t, NULL, "/dev/null"), NAMES_ENOENT);
    CHECK_EQ(resolve(&t, NULL, "/tmp/x"), 1);
    /* a restarted service attaches again */
    CHECK_EQ(attach(&t, "/dev", 7, 0), NAMES_OK);
    CHECK_EQ(resolve(&t, NULL, "/dev/null"), 1);
}

static void test_table_full(void)
{
    static struct names_table t;
    names_init(&t);
    for (unsigned i = 0; i < NAMES_MOUNTS_MAX; i++)
        CHECK_EQ(attach(&t, "/", i, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/", 1000, 0), NAMES_EFULL);
    CHECK_EQ(attach(&t, "/x", 1000, NAMES_BEFORE), NAMES_EFULL);
    CHECK_EQ(resolve(&t, NULL, "/x"), NAMES_MOUNTS_MAX);
    for (unsigned i = 0; i < NAMES_MOUNTS_MAX; i++)
        CHECK_EQ(res.c[i].server, i);
    CHECK_EQ(names_detach(&t, 5), 1);
    CHECK_EQ(attach(&t, "/x", 1000, 0), NAMES_OK);
}

static void test_attach_bad_prefix(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "", 1, 0), NAMES_EEMPTY);
    CHECK_EQ(attach(&t, "dev", 1, 0), NAMES_ERELATIVE);
    CHECK_EQ(attach(&t, "/..", 1, 0), NAMES_EABOVEROOT);
    char p[NAMES_PREFIX_MAX + 2];
    memset(p, 'p', sizeof(p));
    p[0] = '/';
    CHECK_EQ(names_attach(&t, p, NAMES_PREFIX_MAX, 1, 0), NAMES_OK);
    CHECK_EQ(names_attach(&t, p, NAMES_PREFIX_MAX + 1, 1, 0), NAMES_ETOOLONG);
    CHECK_EQ(t.count, 1);
    CHECK_EQ(names_attach(NULL, "/", 1, 1, 0), NAMES_EINVAL);
}

static void test_resolve_hostile(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "/", 1, 0), NAMES_OK);
    CHECK_EQ(resolve(&t, NULL, ""), NAMES_EEMPTY);
    CHECK_EQ(res.count, 0);
    CHECK_EQ(resolve(&t, NULL, "/../x"), NAMES_EABOVEROOT);
    CHECK_EQ(resolve(&t, NULL, "x"), NAMES_ERELATIVE);
    char *p = heap("/a\0b", 4);
    CHECK_EQ(names_resolve(&t, NULL, p, 4, &res), NAMES_ENUL);
    free(p);
    char *big = malloc(NAMES_PATH_MAX + 1);
    CHECK(big != NULL);
    memset(big, '/', NAMES_PATH_MAX + 1);
    CHECK_EQ(names_resolve(&t, NULL, big, NAMES_PATH_MAX + 1, &res), NAMES_ETOOLONG);
    CHECK_EQ(names_resolve(&t, NULL, big, NAMES_PATH_MAX, &res), 1);
    free(big);
}

static struct names_view root, child, grandchild;

static void test_view_restricts(void)
{
    static struct names_table t;
    names_init(&t);
    CHECK_EQ(attach(&t, "/", 1, 0), NAMES_OK);
    CHECK_EQ(attach(&t, "/dev", 2, 0), NAMES_OK);
    names_view_root(&root);
    const struct names_str req[2] = { { "/dev/console", 12 }, { "/tmp", 4 } };
    CHECK_EQ(names_view_derive(&root, req, 2, &child), NAMES_OK);
    CHECK_EQ(child.count, 2);
    CHECK_EQ(resolve(&t, &child, "/dev/console"), 2);
    CHECK_EQ(res.c[0].server, 2);
    CHECK_STR(rest(0), "console");
    CHECK_EQ(resolve(&t, &child, "/dev/null"), NAMES_ENOENT);
    CHECK_EQ(resolve(&t, &child, "/dev/consoles"), NAMES_ENOENT);
    CHECK_EQ(resolve(&t, &child, "/dev"), NAMES_ENOENT);
    CHECK_EQ(resolve(&t, &child, "/tmp/a"), 1);
    CHECK_EQ(resolve(&t, &child, "/tmp/../etc"), NAMES_ENOENT);
    CHECK_EQ(resolve(&t, &root, "/dev/null"), 2);
}

static void test_view_narrowing_refused(void)
{
    names_view_root(&root);
    const struct names_str a[2] = { { "/dev", 4 }, { "/srv/log", 8 } };
    CHECK_EQ(names_view_derive(&root, a, 2, &child), NAMES_OK);
    const struct names_str ok[2] = { { "/dev/tty/", 9 }, { "/srv/log", 8 } };
    CHECK_EQ(names_view_derive(&child, ok, 2, &grandchild), NAMES_OK);
    CHECK_EQ(grandchild.count, 2);
    const struct names_str wider[1] = { { "/", 1 } };
    CHECK_EQ(names_view_derive(&child, wider, 1, &grandchild), NAMES_EPERM);
    CHECK_EQ(grandchild.count, 0);
    const struct names_str sneaky[2] = { { "/dev", 4 }, { "/dev/../etc", 11 } };
    CHECK_EQ(names_view_derive(&child, sneaky, 2, &grandchild), NAMES_EPERM);
    CHECK_EQ(grandchild.count, 0);
    const struct names_str sibling[1] = { { "/srv/logger", 11 } };
    CHECK_EQ(names_view_derive(&child, sibling, 1, &grandchild), NAMES_EPERM);
    const struct names_str parent_of[1] = { { "/srv", 4 } };
    CHECK_EQ(names_view_derive(&child, parent_of, 1, &grandchild), NAMES_EPERM);
    const struct names_str climb[1] = { { "/dev/../..", 10 } };
    CHECK_EQ(names_view_derive(&child, climb, 1, &grandchild), NAMES_EABOVEROOT);
    /* an empty request gives a view that sees nothing */
    CHECK_EQ(names_view_derive(&child, NULL, 0, &grandchild), NAMES_OK);
    CHECK_EQ(grandchild.count, 0);
    CHECK(!names_view_allows(&grandchild, "/", 1));
}

static void test_view_bounds(void)
{
    names_view_root(&root);
    static char bufs[NAMES_VIEW_MAX + 1][8];
    struct names_str req[NAMES_VIEW_MAX + 2];
    for (unsigned i = 0; i <= NAMES_VIEW_MAX; i++) {
        int n = snprintf(bufs[i], sizeof(bufs[i]), "/v%u", i);
        req[i].ptr = bufs[i];
        req[i].len = (size_t)n;
    }
    CHECK_EQ(names_view_derive(&root, req, NAMES_VIEW_MAX, &child), NAMES_OK);
    CHECK_EQ(child.count, NAMES_VIEW_MAX);
    CHECK_EQ(names_view_derive(&root, req, NAMES_VIEW_MAX + 1, &child), NAMES_EFULL);
    CHECK_EQ(child.count, 0);
    /* duplicates are merged, so do not count against the bound */
    req[NAMES_VIEW_MAX + 1] = req[2];
    req[NAMES_VIEW_MAX] = req[3];
    CHECK_EQ(names_view_derive(&root, req + 2, NAMES_VIEW_MAX, &child), NAMES_OK);
    CHECK_EQ(child.count, NAMES_VIEW_MAX - 2);
    const struct names_str bad[1] = { { "/x\0", 3 } };
    CHECK_EQ(names_view_derive(&root, bad, 1, &child), NAMES_ENUL);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_normalize_basic),
    CHECK_TEST(test_normalize_slashes),
    CHECK_TEST(test_normalize_above_root),
    CHECK_TEST(test_normalize_hostile),
    CHECK_TEST(test_normalize_length),
    CHECK_TEST(test_huge_dotdot_chain),
    CHECK_TEST(test_covers_components),
    CHECK_TEST(test_longest_prefix),
    CHECK_TEST(test_component_boundary),
    CHECK_TEST(test_overlapping_order),
    CHECK_TEST(test_overlap_mixed_lengths),
    CHECK_TEST(test_detach),
    CHECK_TEST(test_table_full),
    CHECK_TEST(test_attach_bad_prefix),
    CHECK_TEST(test_resolve_hostile),
    CHECK_TEST(test_view_restricts),
    CHECK_TEST(test_view_narrowing_refused),
    CHECK_TEST(test_view_bounds),
};

CHECK_MAIN("names", tests)
