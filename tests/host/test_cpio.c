/*
 * Host tests for lib/base/cpio, the newc reader.  Archives are built in
 * the test by a small builder, then copied into a heap block of exactly
 * their size, so that ASan reports any read past the end.  Covered:
 * entries, names, data, modes, 4-byte alignment of names and data,
 * cpio_find with "./" prefixes; and hostile input: empty archive, every
 * truncation point, bad magic, non-hex fields, namesize 0, empty name,
 * name without NUL, embedded NUL, huge namesize and filesize, offsets at
 * and past the end, missing trailer.  Errors must leave *offset alone.
 */
#include <stdint.h>

#include "base/cpio.h"
#include "check.h"

#define HDR 110

struct arc {
    char buf[8192];
    size_t len;
};

/* Field indices in the header, after the 6-byte magic. */
enum { F_INO = 0, F_MODE = 1, F_FILESIZE = 6, F_NAMESIZE = 11, F_CHECK = 12 };

static void put(struct arc *a, const void *p, size_t n)
{
    CHECK(a->len + n <= sizeof(a->buf));
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

static void pad4(struct arc *a)
{
    static const char zeros[3];
    put(a, zeros, (4 - a->len % 4) % 4);
}

/* Appends a header; returns its offset. */
static size_t put_header(struct arc *a, uint32_t ino, uint32_t mode,
                         uint32_t filesize, uint32_t namesize)
{
    char h[HDR + 1];
    uint32_t f[13] = { 0 };
    f[F_INO] = ino;
    f[F_MODE] = mode;
    f[F_FILESIZE] = filesize;
    f[F_NAMESIZE] = namesize;
    memcpy(h, "070701", 6);
    for (int i = 0; i < 13; i++)
        snprintf(h + 6 + 8 * i, 9, "%08x", (unsigned)f[i]);
    size_t off = a->len;
    put(a, h, HDR);
    return off;
}

/* Appends a well-formed entry; returns its offset. */
static size_t add(struct arc *a, const char *name, const void *data, size_t size)
{
    size_t namesize = strlen(name) + 1;
    size_t off = put_header(a, (uint32_t)a->len + 1, 0100644, (uint32_t)size,
                            (uint32_t)namesize);
    put(a, name, namesize);
    pad4(a);
    put(a, data, size);
    pad4(a);
    return off;
}

static void add_trailer(struct arc *a)
{
    add(a, "TRAILER!!!", "", 0);
}

/* Overwrites header field I of the entry at OFF with 8 raw characters. */
static void set_field(struct arc *a, size_t off, int i, const char *text8)
{
    memcpy(a->buf + off + 6 + 8 * i, text8, 8);
}

/* An exact-size heap copy of the first LEN bytes. */
static char *exact(const struct arc *a, size_t len)
{
    char *p = malloc(len ? len : 1);
    CHECK(p != NULL);
    memcpy(p, a->buf, len);
    return p;
}

/* cpio_next on the first LEN bytes at offset OFF; checks that an error
 * leaves the offset alone.  Returns the result. */
static int next_at(const struct arc *a, size_t len, size_t off, struct cpio_entry *e)
{
    char *p = exact(a, len);
    size_t o = off;
    int r = cpio_next(p, len, &o, e);
    free(p);
    if (r < 0)
        CHECK_EQ(o, off);
    return r;
}

/* Reads entries until a non-OK result, which is returned. */
static int walk(const char *p, size_t len, int *entries)
{
    struct cpio_entry e;
    size_t off = 0;
    int r;
    *entries = 0;
    while ((r = cpio_next(p, len, &off, &e)) == CPIO_OK)
        (*entries)++;
    return r;
}

static void test_single_file(void)
{
    struct arc a = { .len = 0 };
    add(&a, "hello.txt", "hello\n", 6);
    add_trailer(&a);
    char *p = exact(&a, a.len);
    struct cpio_entry e;
    size_t off = 0;
    CHECK_EQ(cpio_next(p, a.len, &off, &e), CPIO_OK);
    CHECK_STR(e.name, "hello.txt");
    CHECK_EQ(e.namesize, 10);
    CHECK(e.name == p + HDR);
    CHECK_EQ(e.size, 6);
    CHECK(memcmp(e.data, "hello\n", 6) == 0);
    CHECK_EQ(e.mode, 0100644);
    CHECK_EQ(e.ino, 1);
    CHECK_EQ(off, 128);          /* 110 + 10 -> 120, + 6 -> 126 -> 128 */
    CHECK_EQ(cpio_next(p, a.len, &off, &e), CPIO_END);
    CHECK_STR(e.name, "TRAILER!!!");
    CHECK_EQ(off, a.len);
    free(p);
}

/* Every name length mod 4 against every data length mod 4. */
static void test_alignment(void)
{
    static const char *const names[] = { "a", "ab", "abc", "abcd", "abcde" };
    static const char data[] = "0123456789";
    struct arc a = { .len = 0 };
    for (int n = 0; n < 5; n++)
        for (size_t s = 0; s <= 5; s++)
            add(&a, names[n], data + s, s);
    add_trailer(&a);
    char *p = exact(&a, a.len);
    struct cpio_entry e;
    size_t off = 0;
    for (int n = 0; n < 5; n++) {
        for (size_t s = 0; s <= 5; s++) {
            CHECK_EQ(cpio_next(p, a.len, &off, &e), CPIO_OK);
            CHECK_STR(e.name, names[n]);
            CHECK_EQ(e.size, s);
            CHECK_EQ(((const char *)e.data - p) % 4, 0);
            CHECK(memcmp(e.data, data + s, s) == 0);
            CHECK_EQ(off % 4, 0);
        }
    }
    CHECK_EQ(cpio_next(p, a.len, &off, &e), CPIO_END);
    free(p);
}

static void test_find(void)
{
    struct arc a = { .len = 0 };
    add(&a, ".", "", 0);
    add(&a, "./etc", "", 0);
    add(&a, "./etc/motd", "hi", 2);
    add(&a, "init", "ELF", 3);
    add_trailer(&a);
    char *p = exact(&a, a.len);
    struct cpio_entry e;
    CHECK_EQ(cpio_find(p, a.len, "etc/motd", &e), CPIO_OK);
    CHECK(memcmp(e.data, "hi", 2) == 0);
    CHECK_EQ(cpio_find(p, a.len, "./init", &e), CPIO_OK);
    CHECK_EQ(e.size, 3);
    CHECK_EQ(cpio_find(p, a.len, "etc/mot", &e), CPIO_END);
    CHECK_EQ(cpio_find(p, a.len, "etc/motd2", &e), CPIO_END);
    CHECK_EQ(cpio_find(p, a.len, "nothing", &e), CPIO_END);
    free(p);
}

static void test_empty_archive(void)
{
    struct arc a = { .len = 0 };
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, 0, 0, &e), CPIO_ETRUNC);
    char *p = exact(&a, 0);
    CHECK_EQ(cpio_find(p, 0, "x", &e), CPIO_ETRUNC);
    free(p);
}

static void test_missing_trailer(void)
{
    struct arc a = { .len = 0 };
    add(&a, "one", "1", 1);
    add(&a, "two", "22", 2);
    char *p = exact(&a, a.len);
    int n;
    CHECK_EQ(walk(p, a.len, &n), CPIO_ETRUNC);
    CHECK_EQ(n, 2);
    struct cpio_entry e;
    CHECK_EQ(cpio_find(p, a.len, "three", &e), CPIO_ETRUNC);
    free(p);
}

/* Cutting a valid archive anywhere before the trailer's end never reads
 * out of bounds and never yields CPIO_END. */
static void test_every_truncation(void)
{
    struct arc a = { .len = 0 };
    add(&a, "file", "some data!", 10);
    add_trailer(&a);
    for (size_t len = 0; len < a.len; len++) {
        char *p = exact(&a, len);
        int n;
        int r = walk(p, len, &n);
        free(p);
        if (r != CPIO_ETRUNC)
            check_fail(__FILE__, __LINE__, "cut at %zu: %d", len, r);
    }
}

static void test_truncated_header(void)
{
    struct arc a = { .len = 0 };
    add(&a, "f", "x", 1);
    struct cpio_entry e;
    for (size_t len = 0; len < HDR; len++)
        CHECK_EQ(next_at(&a, len, 0, &e), CPIO_ETRUNC);
}

static void test_truncated_name_data(void)
{
    struct arc a = { .len = 0 };
    add(&a, "name", "data", 4);      /* name 110..114, data 116..119 */
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, HDR + 2, 0, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, HDR + 4, 0, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, 117, 0, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, 119, 0, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, 120, 0, &e), CPIO_OK);
}

static void test_bad_magic(void)
{
    static const char *const magics[] = { "070702", "070707", "070700", "170701", "      " };
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
        struct arc a = { .len = 0 };
        add(&a, "f", "x", 1);
        memcpy(a.buf, magics[i], 6);
        struct cpio_entry e;
        CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_EMAGIC);
    }
}

/* A bad character in any position of any of the 13 fields. */
static void test_non_hex_fields(void)
{
    static const char bad[] = { 'g', 'G', ' ', '-', 'x', '\0', '/', ':', '@', '`' };
    for (int field = 0; field < 13; field++) {
        for (size_t b = 0; b < sizeof(bad); b++) {
            struct arc a = { .len = 0 };
            add(&a, "f", "x", 1);
            a.buf[6 + 8 * field + (field + b) % 8] = bad[b];
            struct cpio_entry e;
            CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_EHEX);
        }
    }
}

static void test_uppercase_hex(void)
{
    struct arc a = { .len = 0 };
    size_t off = add(&a, "f", "x", 1);
    set_field(&a, off, F_MODE, "0000ABCD");
    set_field(&a, off, F_CHECK, "DEADbeef");
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_OK);
    CHECK_EQ(e.mode, 0xabcd);
}

static void test_namesize_zero(void)
{
    struct arc a = { .len = 0 };
    put_header(&a, 1, 0100644, 0, 0);
    put(&a, "\0\0\0\0", 4);
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_ENAME);
}

/* namesize 1: the name is "" (just the NUL), which cpio.h rejects. */
static void test_empty_name(void)
{
    struct arc a = { .len = 0 };
    put_header(&a, 1, 0100644, 0, 1);
    put(&a, "\0\0", 2);
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_ENAME);
}

static void test_name_without_nul(void)
{
    struct arc a = { .len = 0 };
    put_header(&a, 1, 0100644, 0, 4);
    put(&a, "abcdefgh", 8);
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_ENAME);
    /* the name's last byte is also the archive's last byte */
    CHECK_EQ(next_at(&a, HDR + 4, 0, &e), CPIO_ENAME);
}

static void test_embedded_nul(void)
{
    struct arc a = { .len = 0 };
    put_header(&a, 1, 0100644, 0, 4);
    put(&a, "a\0b\0", 4);
    pad4(&a);
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_ENAME);
}

static void test_huge_sizes(void)
{
    struct arc a = { .len = 0 };
    size_t off = add(&a, "f", "data", 4);
    add_trailer(&a);
    struct cpio_entry e;
    set_field(&a, off, F_FILESIZE, "ffffffff");
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_ETRUNC);
    set_field(&a, off, F_FILESIZE, "00000005");   /* data 112..116: one past */
    CHECK_EQ(next_at(&a, 116, 0, &e), CPIO_ETRUNC);
    set_field(&a, off, F_FILESIZE, "00000004");
    set_field(&a, off, F_NAMESIZE, "ffffffff");
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_ETRUNC);
    set_field(&a, off, F_NAMESIZE, "fffffffe");
    CHECK_EQ(next_at(&a, a.len, 0, &e), CPIO_ETRUNC);
}

static void test_offset_at_or_past_end(void)
{
    struct arc a = { .len = 0 };
    add(&a, "f", "x", 1);
    add_trailer(&a);
    struct cpio_entry e;
    CHECK_EQ(next_at(&a, a.len, a.len, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, a.len, a.len + 1, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, a.len, a.len - HDR + 1, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, a.len, SIZE_MAX, &e), CPIO_ETRUNC);
    CHECK_EQ(next_at(&a, a.len, SIZE_MAX - HDR + 1, &e), CPIO_ETRUNC);
}

static void test_strerror(void)
{
    static const int codes[] = { CPIO_END, CPIO_OK, CPIO_ETRUNC, CPIO_EMAGIC,
                                 CPIO_EHEX, CPIO_ENAME };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        CHECK(strcmp(cpio_strerror(codes[i]), "unknown error") != 0);
    CHECK_STR(cpio_strerror(-99), "unknown error");
}

static const struct check_test tests[] = {
    CHECK_TEST(test_single_file),
    CHECK_TEST(test_alignment),
    CHECK_TEST(test_find),
    CHECK_TEST(test_empty_archive),
    CHECK_TEST(test_missing_trailer),
    CHECK_TEST(test_every_truncation),
    CHECK_TEST(test_truncated_header),
    CHECK_TEST(test_truncated_name_data),
    CHECK_TEST(test_bad_magic),
    CHECK_TEST(test_non_hex_fields),
    CHECK_TEST(test_uppercase_hex),
    CHECK_TEST(test_namesize_zero),
    CHECK_TEST(test_empty_name),
    CHECK_TEST(test_name_without_nul),
    CHECK_TEST(test_embedded_nul),
    CHECK_TEST(test_huge_sizes),
    CHECK_TEST(test_offset_at_or_past_end),
    CHECK_TEST(test_strerror),
};

CHECK_MAIN("cpio", tests)
