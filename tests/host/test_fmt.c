/*
 * Host tests for lib/base/fmt: the output and return value of
 * fmt_vsnprintf are compared with the host C library's vsnprintf over
 * conversions, flags, widths, precisions and length modifiers (including
 * the extreme values); then what libc cannot judge: "(null)" for a NULL
 * %s, truncation into exact-size buffers (ASan catches an overrun), size 0
 * buffers, the count from fmt_vformat, unknown conversions and huge widths.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "base/fmt.h"
#include "check.h"

/* Formats with both engines; output (including any NUL produced by %c)
 * and return value must agree. */
__attribute__((format(printf, 3, 4)))
static void same_as_libc(const char *file, int line, const char *fmt, ...)
{
    char want[512], got[512];
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int wn = vsnprintf(want, sizeof(want), fmt, ap);
    int gn = fmt_vsnprintf(got, sizeof(got), fmt, aq);
    va_end(aq);
    va_end(ap);
    size_t cmp = wn >= 0 && (size_t)wn < sizeof(want) ? (size_t)wn + 1 : sizeof(want);
    if (wn != gn || memcmp(want, got, cmp) != 0)
        check_fail(file, line, "format \"%s\": got \"%s\" (%d), libc \"%s\" (%d)",
                   fmt, got, gn, want, wn);
}
#define SAME(...) same_as_libc(__FILE__, __LINE__, __VA_ARGS__)

/* For formats the compiler would flag: no format attribute here. */
static int fmt_raw(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void test_decimal(void)
{
    SAME("%d %i %u", 0, -1, 0u);
    SAME("%d|%d", INT_MAX, INT_MIN);
    SAME("%u|%u", UINT_MAX, 42u);
    SAME("a%db%ic", 123, -456);
    SAME("%d%d%d", 1, 22, 333);
}

static void test_flags_width(void)
{
    SAME("[%5d][%-5d][%05d]", 42, 42, 42);
    SAME("[%+d][% d][%+d][% d]", 42, 42, -42, -42);
    SAME("[%+05d][% 05d][%05d]", 42, 42, -42);
    SAME("[%-+6d][%- 6d][%-6u]", 7, 7, 7u);
    SAME("[%1d][%2d][%3d]", 12345, -1, -12);
    SAME("[%*d][%-*d][%*d]", 6, 1, 6, 2, -6, 3);
}

static void test_precision(void)
{
    SAME("[%.3d][%.3d][%.0d][%.0d]", 7, -7, 0, 1);
    SAME("[%8.3d][%-8.3d][%+.3d]", 5, 5, 5);
    SAME("[%.*d][%.*d]", 4, 9, -1, 9);
    SAME("[%5.0d][%+.0d][% .0d]", 0, 0, 0);
    SAME("[%.10u][%.2x][%.5o]", 1u, 0xabcu, 8u);
}

static void test_zero_flag_with_precision(void)
{
    /* The 0 flag is ignored when a precision is given. */
    char got[64];
    char want[64];
    int gn = fmt_raw(got, sizeof(got), "[%08.3d][%08.3x]", 5, 0x1fu);
    int wn = snprintf(want, sizeof(want), "[%8.3d][%8.3x]", 5, 0x1fu);
    CHECK_STR(got, want);
    CHECK_EQ(gn, wn);
}

static void test_length_modifiers(void)
{
    SAME("%hhd|%hhu|%hhx", 200, 511, 0x1ff);
    SAME("%hd|%hu|%hx", 70000, 70000, 0x12345);
    SAME("%ld|%lu|%lx", LONG_MIN, ULONG_MAX, 0xdeadbeefcafeUL);
    SAME("%lld|%llu|%llX", LLONG_MIN, ULLONG_MAX, 0x123456789abcdefULL);
    SAME("%zu|%zx|%td|%jd|%ju", SIZE_MAX, (size_t)0x10, (ptrdiff_t)-5,
         INTMAX_MIN, UINTMAX_MAX);
    SAME("%lld|%25lld|%-25lld|", (long long)INT64_MIN, (long long)INT64_MIN,
         (long long)INT64_MIN);
    SAME("%llo|%#llo", ULLONG_MAX, ULLONG_MAX);
}

static void test_hex_octal(void)
{
    SAME("%x|%X|%o", 0xbeefu, 0xbeefu, 0777u);
    SAME("%#x|%#X|%#o", 0xbeefu, 0xbeefu, 0777u);
    SAME("%#x|%#X|%#o", 0u, 0u, 0u);
    SAME("[%#08x][%#-8x][%#8X]", 0xffu, 0xffu, 0xffu);
    SAME("[%#.0x][%.0x][%.0o]", 0u, 0u, 0u);
    SAME("[%x][%X]", UINT_MAX, UINT_MAX);
}

/* C11 7.21.6.1: '#' with o raises the precision only as far as needed
 * for a leading 0, and "%#.0o" of 0 prints "0". */
static void test_alt_octal_precision(void)
{
    SAME("[%#.3o][%#.2o][%#.4o][%#.1o]", 8u, 8u, 8u, 8u);
    SAME("[%#.0o][%#5.0o][%#-5.0o]", 0u, 0u, 0u);
    SAME("[%#05o][%#5o][%#.6o]", 8u, 8u, 0u);
}

static void test_strings_chars(void)
{
    SAME("[%s][%10s][%-10s][%.2s][%5.1s]", "abc", "abc", "abc", "abc", "abc");
    SAME("[%s][%3s][%.0s]", "", "", "abc");
    SAME("[%*s][%-*s][%.*s]", 4, "x", 4, "y", 2, "zzzz");
    SAME("[%c][%3c][%-3c]", 'a', 'b', 'c');
    SAME("[%c][%3c][%-3c]", 0, 0, 0);
    SAME("100%% [%%][%c%c]", '%', '%');
}

static void test_null_string(void)
{
    char buf[32];
    const char *volatile null = NULL;
    CHECK_EQ(fmt_snprintf(buf, sizeof(buf), "%s", null), 6);
    CHECK_STR(buf, "(null)");
    CHECK_EQ(fmt_snprintf(buf, sizeof(buf), "[%8s][%-8s]", null, null), 20);
    CHECK_STR(buf, "[  (null)][(null)  ]");
}

static void test_pointer(void)
{
    int x;
    void *p = &x;
    SAME("%p|%20p|%-20p|", p, p, p);
    SAME("%p", (void *)(uintptr_t)0xffff800000001000ULL);
}

/* Every size from 0 to past the full length, into an exact-size heap
 * buffer so that ASan sees any byte written past it. */
static void test_truncation(void)
{
    const char *full = "hello, world 12345";
    size_t len = strlen(full);
    for (size_t size = 1; size <= len + 2; size++) {
        char *buf = malloc(size);
        CHECK(buf != NULL);
        int n = fmt_snprintf(buf, size, "%s, %s %d", "hello", "world", 12345);
        CHECK_EQ(n, len);
        size_t kept = size - 1 < len ? size - 1 : len;
        CHECK(memcmp(buf, full, kept) == 0);
        CHECK_EQ(buf[kept], 0);
        free(buf);
    }
}

static void test_size_zero(void)
{
    char guard = 'G';
    CHECK_EQ(fmt_snprintf(NULL, 0, "%d-%s", 1234, "abc"), 8);
    CHECK_EQ(fmt_snprintf(&guard, 0, "%d-%s", 1234, "abc"), 8);
    CHECK_EQ(guard, 'G');
    char one[1] = { 'X' };
    CHECK_EQ(fmt_snprintf(one, 1, "%s", "abc"), 3);
    CHECK_EQ(one[0], 0);
    CHECK_EQ(fmt_snprintf(one, 1, "%s", ""), 0);
}

struct counter {
    size_t n;
    char last[8];
};

static void count_out(char c, void *ctx)
{
    struct counter *k = ctx;
    memmove(k->last, k->last + 1, sizeof(k->last) - 1);
    k->last[sizeof(k->last) - 1] = c;
    k->n++;
}

static int vformat(struct counter *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vformat(count_out, k, fmt, ap);
    va_end(ap);
    return n;
}

static void test_vformat_count(void)
{
    struct counter k = { 0, { 0 } };
    CHECK_EQ(vformat(&k, "%c%5d%s", 0, 42, "xy"), 8);
    CHECK_EQ(k.n, 8);
    CHECK(memcmp(k.last, "\0   42xy", 8) == 0);
}

static void test_unknown_conversion(void)
{
    char buf[32];
    CHECK_EQ(fmt_raw(buf, sizeof(buf), "a%qb%d", 5), 5);
    CHECK_STR(buf, "a%qb5");
    CHECK_EQ(fmt_raw(buf, sizeof(buf), "end%"), 4);
    CHECK_STR(buf, "end%");
}

/* A width too large to honour must still be consumed whole, so that the
 * following conversions get their own arguments. */
static void test_huge_width(void)
{
    struct counter k = { 0, { 0 } };
    int n = vformat(&k, "%1000000d|%s", 1, "end");
    CHECK_EQ(n, k.n);
    CHECK(memcmp(k.last + 3, "1|end", 5) == 0);
    k.n = 0;
    n = vformat(&k, "%.1000000d|%s", 2, "end");
    CHECK_EQ(n, k.n);
    CHECK(memcmp(k.last + 3, "2|end", 5) == 0);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_decimal),
    CHECK_TEST(test_flags_width),
    CHECK_TEST(test_precision),
    CHECK_TEST(test_zero_flag_with_precision),
    CHECK_TEST(test_length_modifiers),
    CHECK_TEST(test_hex_octal),
    CHECK_TEST(test_alt_octal_precision),
    CHECK_TEST(test_strings_chars),
    CHECK_TEST(test_null_string),
    CHECK_TEST(test_pointer),
    CHECK_TEST(test_truncation),
    CHECK_TEST(test_size_zero),
    CHECK_TEST(test_vformat_count),
    CHECK_TEST(test_unknown_conversion),
    CHECK_TEST(test_huge_width),
};

CHECK_MAIN("fmt", tests)
