/*
 * Host tests for lib/base/string.c's word-at-a-time functions (strlen,
 * strnlen, strcmp, memcmp), compiled here under other names beside the C
 * library's, which judges them.  Strings are placed at every offset
 * before a page the test has made inaccessible: a function that reads
 * one byte past the page its string ends on dies of SIGSEGV.
 */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

#define memcpy kb_memcpy
#define memmove kb_memmove
#define memset kb_memset
#define memcmp kb_memcmp
#define strlen kb_strlen
#define strnlen kb_strnlen
#define strcmp kb_strcmp
#define strncmp kb_strncmp
#define strchr kb_strchr
#define memchr kb_memchr
#include "../../lib/base/string.c"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp
#undef strchr
#undef memchr

static int sign(int v)
{
    return v < 0 ? -1 : v > 0;
}

/* Two pages: the first readable, the second not. */
static char *guarded(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(mprotect(p + pg, (size_t)pg, PROT_NONE) == 0);
    return p;
}

static void test_strlen_every_offset_and_length(void)
{
    char *p = guarded();
    memset(p, 'x', 4096);
    for (size_t len = 0; len < 40; len++)
        for (size_t end = 4095; end > 4095 - 24; end--) {
            /* a string of LEN bytes whose NUL is at END */
            memset(p + 4000, 'x', 96);
            p[end] = 0;
            CHECK(kb_strlen(p + end - len) == len);
            CHECK(kb_strlen(p + end - len) == strlen(p + end - len));
        }
    munmap(p, 8192);
}

/* strnlen: every NUL position and limit, the last byte allowed right
 * before the inaccessible page (a word read past it would die). */
static void test_strnlen_limits(void)
{
    char *p = guarded();
    memset(p, 'x', 4096);
    for (size_t start = 4096 - 40; start < 4096; start++)
        for (size_t max = 0; start + max <= 4096; max++) {
            size_t nul = start + (max * 7) % (max + 1);    /* somewhere in, or at the limit */
            memset(p + 4096 - 48, 'x', 48);
            if (nul < 4096)
                p[nul] = 0;
            size_t want = nul - start < max ? nul - start : max;
            CHECK(kb_strnlen(p + start, max) == want);
        }
    memset(p + 4000, 'x', 96);
    p[4090] = 0;
    CHECK(kb_strnlen(p + 4080, (size_t)-1) == 10);     /* a limit past the address space */
    munmap(p, 8192);
}

static void test_strcmp_against_libc(void)
{
    char *p = guarded();
    const char *words[] = { "", "a", "ab", "abc", "/tmp/bench.open", "/tmp/bench.opem",
                            "/tmp/bench.open/", "/tmp/bench.ope", "\x80zz", "zzzzzzzzzzzzzzzz1",
                            "zzzzzzzzzzzzzzzz2", "zzzzzzzz" };
    size_t nw = sizeof(words) / sizeof(words[0]);
    for (size_t i = 0; i < nw; i++)
        for (size_t j = 0; j < nw; j++)
            for (size_t shift = 0; shift < 9; shift++) {
                /* A at the very end of the page, B misaligned by SHIFT */
                size_t la = strlen(words[i]) + 1, lb = strlen(words[j]) + 1;
                char *a = p + 4096 - la, *b = p + 2048 + shift;
                memcpy(a, words[i], la);
                memcpy(b, words[j], lb);
                CHECK(sign(kb_strcmp(a, b)) == sign(strcmp(a, b)));
                CHECK(sign(kb_strcmp(b, a)) == sign(strcmp(b, a)));
            }
    munmap(p, 8192);
}

static void test_memcmp_lengths_and_signs(void)
{
    unsigned char a[64], b[64];
    for (size_t n = 0; n <= 64; n++)
        for (size_t at = 0; at < 64; at += 7) {
            for (size_t k = 0; k < 64; k++)
                a[k] = b[k] = (unsigned char)(k * 37);
            if (at < n)
                b[at] = (unsigned char)(a[at] + 0x90);   /* above and below, unsigned */
            CHECK(sign(kb_memcmp(a, b, n)) == sign(memcmp(a, b, n)));
            CHECK(sign(kb_memcmp(b, a, n)) == sign(memcmp(b, a, n)));
        }
}

static const struct check_test tests[] = {
    CHECK_TEST(test_strlen_every_offset_and_length),
    CHECK_TEST(test_strnlen_limits),
    CHECK_TEST(test_strcmp_against_libc),
    CHECK_TEST(test_memcmp_lengths_and_signs),
};

CHECK_MAIN("string", tests)
