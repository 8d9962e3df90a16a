/*
 * Host tests for lib/base/cmdline: key=value, quoted values, bare words,
 * the last occurrence winning, whitespace, values that do not fit (never
 * written past the buffer: every buffer is an exact-size heap block),
 * unterminated quotes, empty and NULL command lines, cmdline_list_has and
 * cmdline_parse_size with suffixes and overflow.
 */
#include <stdint.h>

#include "base/cmdline.h"
#include "check.h"

/* An exact-size heap copy of S (strdup is not C11). */
static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    CHECK(p != NULL);
    return memcpy(p, s, n);
}

/* cmdline_get with the line and a VALSIZE-byte value buffer on the heap,
 * each of exactly its size.  The value (or "<untouched>" if the buffer
 * was not written) is copied to OUT. */
static int get(const char *line, const char *key, size_t valsize, char out[64])
{
    char *l = line ? dup(line) : NULL;
    char *v = malloc(valsize ? valsize : 1);
    CHECK(v != NULL && (l != NULL || line == NULL));
    memset(v, 'Z', valsize ? valsize : 1);
    int r = cmdline_get(l, key, valsize ? v : NULL, valsize);
    if (valsize && memchr(v, 0, valsize))
        snprintf(out, 64, "%s", v);
    else
        snprintf(out, 64, "<untouched>");
    for (size_t i = 0; r != CMDLINE_FOUND && i < valsize; i++)
        CHECK_EQ(v[i], 'Z');
    free(v);
    free(l);
    return r;
}

static void test_key_value(void)
{
    char v[64];
    const char *line = "console=ttyS0 mem=512M debug root=/dev/ram0";
    CHECK_EQ(get(line, "console", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "ttyS0");
    CHECK_EQ(get(line, "mem", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "512M");
    CHECK_EQ(get(line, "root", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "/dev/ram0");
    CHECK_EQ(get(line, "absent", 32, v), CMDLINE_ABSENT);
    CHECK_EQ(get(line, "con", 32, v), CMDLINE_ABSENT);
    CHECK_EQ(get(line, "console=", 32, v), CMDLINE_ABSENT);
    CHECK_EQ(get("a=b=c", "a", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "b=c");
    CHECK_EQ(get("empty= x=1", "empty", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "");
}

static void test_quoted(void)
{
    char v[64];
    const char *line = "init=\"/bin/sh -x\" x=1 e=\"\" t=\"a\tb\"";
    CHECK_EQ(get(line, "init", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "/bin/sh -x");
    CHECK_EQ(get(line, "x", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "1");
    CHECK_EQ(get(line, "e", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "");
    CHECK_EQ(get(line, "t", 32, v), CMDLINE_FOUND);
    CHECK_STR(v, "a\tb");
    CHECK_EQ(get(line, "-x\"", 32, v), CMDLINE_ABSENT);
}

static void test_bare_words(void)
{
    char v[64];
    const char *line = "quiet noapic=0 single";
    CHECK_EQ(get(line, "quiet", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "");
    CHECK_EQ(get(line, "single", 1, v), CMDLINE_FOUND);
    CHECK_STR(v, "");
    CHECK_EQ(get(line, "quie", 8, v), CMDLINE_ABSENT);
    CHECK_EQ(get(line, "quiets", 8, v), CMDLINE_ABSENT);
    CHECK_EQ(get(line, "single", 0, v), CMDLINE_ETOOLONG);
}

static void test_last_wins(void)
{
    char v[64];
    CHECK_EQ(get("a=1 a=22 b=x a=333", "a", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "333");
    CHECK_EQ(get("a=1 a", "a", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "");
    CHECK_EQ(get("a a=\"q q\"", "a", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "q q");
    /* The last value is the one judged for length. */
    CHECK_EQ(get("a=1 a=toolong", "a", 4, v), CMDLINE_ETOOLONG);
    CHECK_EQ(get("a=toolong a=1", "a", 4, v), CMDLINE_FOUND);
    CHECK_STR(v, "1");
}

static void test_too_long(void)
{
    char v[64];
    CHECK_EQ(get("k=12345", "k", 6, v), CMDLINE_FOUND);      /* exact fit */
    CHECK_STR(v, "12345");
    CHECK_EQ(get("k=12345", "k", 5, v), CMDLINE_ETOOLONG);
    CHECK_EQ(get("k=12345", "k", 1, v), CMDLINE_ETOOLONG);
    CHECK_EQ(get("k=12345", "k", 0, v), CMDLINE_ETOOLONG);
    CHECK_EQ(get("k=\"a b c\"", "k", 5, v), CMDLINE_ETOOLONG);
    CHECK_EQ(get("k=\"a b c\"", "k", 6, v), CMDLINE_FOUND);
    CHECK_STR(v, "a b c");
}

static void test_unterminated_quote(void)
{
    char v[64];
    CHECK_EQ(get("k=\"abc", "k", 32, v), CMDLINE_EQUOTE);
    CHECK_EQ(get("x=1 k=\"abc def", "k", 32, v), CMDLINE_EQUOTE);
    CHECK_EQ(get("k=\"", "k", 32, v), CMDLINE_EQUOTE);
    CHECK_STR(v, "<untouched>");
}

static void test_empty_and_null(void)
{
    char v[64];
    CHECK_EQ(get("", "a", 8, v), CMDLINE_ABSENT);
    CHECK_EQ(get(NULL, "a", 8, v), CMDLINE_ABSENT);
    CHECK_EQ(get(" \t\r\n ", "a", 8, v), CMDLINE_ABSENT);
    CHECK_EQ(get("   ", "a", 0, v), CMDLINE_ABSENT);
}

static void test_whitespace(void)
{
    char v[64];
    const char *line = "\t  a=1\t\tb=2\n c=3 \r\n d ";
    CHECK_EQ(get(line, "a", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "1");
    CHECK_EQ(get(line, "b", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "2");
    CHECK_EQ(get(line, "c", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "3");
    CHECK_EQ(get(line, "d", 8, v), CMDLINE_FOUND);
    CHECK_STR(v, "");
}

static bool list_has(const char *list, const char *item)
{
    char *l = dup(list), *i = dup(item);
    CHECK(l != NULL && i != NULL);
    bool r = cmdline_list_has(l, i);
    free(l);
    free(i);
    return r;
}

static void test_list_has(void)
{
    const char *list = "a,bb,ccc";
    CHECK(list_has(list, "a"));
    CHECK(list_has(list, "bb"));
    CHECK(list_has(list, "ccc"));
    CHECK(!list_has(list, "b"));
    CHECK(!list_has(list, "bbb"));
    CHECK(!list_has(list, "cc"));
    CHECK(!list_has(list, "cccc"));
    CHECK(!list_has(list, "a,bb"));
    CHECK(!list_has(list, ""));
    CHECK(!list_has("", "a"));
    CHECK(list_has("x", "x"));
    CHECK(list_has("x,,y", "y"));
}

static bool size_of(const char *s, unsigned long long *out)
{
    char *c = dup(s);
    CHECK(c != NULL);
    bool r = cmdline_parse_size(c, out);
    free(c);
    return r;
}

static void test_parse_size(void)
{
    unsigned long long v = 0;
    CHECK(size_of("0", &v));
    CHECK_EQ(v, 0);
    CHECK(size_of("123", &v));
    CHECK_EQ(v, 123);
    CHECK(size_of("4K", &v) && v == 4096);
    CHECK(size_of("4k", &v) && v == 4096);
    CHECK(size_of("2M", &v) && v == 2ULL << 20);
    CHECK(size_of("3g", &v) && v == 3ULL << 30);
    CHECK(size_of("0G", &v) && v == 0);
}

static void test_parse_size_malformed(void)
{
    static const char *const bad[] = { "", "K", "12KB", "-1", "+1", " 1", "1 ",
                                       "1T", "0x10", "1.5M", "M1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned long long v = 77;
        if (size_of(bad[i], &v) || v != 77)
            check_fail(__FILE__, __LINE__, "\"%s\" accepted or out written", bad[i]);
    }
}

static void test_parse_size_overflow(void)
{
    unsigned long long v = 77;
    CHECK(size_of("18446744073709551615", &v));
    CHECK_EQ(v, UINT64_MAX);
    v = 77;
    CHECK(!size_of("18446744073709551616", &v));
    CHECK(!size_of("99999999999999999999", &v));
    CHECK(!size_of("1000000000000000000000000", &v));
    CHECK(size_of("17179869183G", &v));
    CHECK_EQ(v, 17179869183ULL << 30);
    v = 77;
    CHECK(!size_of("17179869184G", &v));
    CHECK(!size_of("18014398509481984K", &v));
    CHECK(!size_of("17592186044416M", &v));
    CHECK_EQ(v, 77);
    CHECK(size_of("17592186044415M", &v));
    CHECK_EQ(v, 17592186044415ULL << 20);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_key_value),
    CHECK_TEST(test_quoted),
    CHECK_TEST(test_bare_words),
    CHECK_TEST(test_last_wins),
    CHECK_TEST(test_too_long),
    CHECK_TEST(test_unterminated_quote),
    CHECK_TEST(test_empty_and_null),
    CHECK_TEST(test_whitespace),
    CHECK_TEST(test_list_has),
    CHECK_TEST(test_parse_size),
    CHECK_TEST(test_parse_size_malformed),
    CHECK_TEST(test_parse_size_overflow),
};

CHECK_MAIN("cmdline", tests)
