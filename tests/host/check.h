/*
 * check: the host unit-test harness.  A test file lists its test
 * functions in a table and ends with CHECK_MAIN("file", table); the binary
 * runs every test and prints one line per test:
 *     TEST PASS host.<file>.<name>
 *     TEST FAIL host.<file>.<name>: <reason> (<source>:<line>)
 * A failed check ends its test at once (longjmp back to the runner); the
 * exit status is 1 if any test failed.
 */
#ifndef KESTREL_TESTS_HOST_CHECK_H
#define KESTREL_TESTS_HOST_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check_test {
    const char *name;
    void (*fn)(void);
};

/* Test functions are named test_<name>; the prefix is not printed. */
#define CHECK_TEST(fn) { #fn, fn }

static jmp_buf check_jmp;
static char check_reason[512];

__attribute__((noreturn, format(printf, 3, 4)))
static inline void check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(check_reason, sizeof(check_reason), fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < sizeof(check_reason) ? (size_t)n
                : sizeof(check_reason) - 1;
    snprintf(check_reason + used, sizeof(check_reason) - used, " (%s:%d)", file, line);
    longjmp(check_jmp, 1);
}

#define CHECK(cond) \
    ((cond) ? (void)0 : check_fail(__FILE__, __LINE__, "check failed: %s", #cond))

/* Integers of any type (compared as 64-bit two's complement values). */
#define CHECK_EQ(a, b) do { \
        unsigned long long a_ = (unsigned long long)(a); \
        unsigned long long b_ = (unsigned long long)(b); \
        if (a_ != b_) \
            check_fail(__FILE__, __LINE__, "%s == %s: %lld (0x%llx) != %lld (0x%llx)", \
                       #a, #b, (long long)a_, a_, (long long)b_, b_); \
    } while (0)

#define CHECK_STR(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) \
            check_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
                       a_ ? a_ : "(NULL)", b_ ? b_ : "(NULL)"); \
    } while (0)

/* Returns 0 if the test passed; the reason is in check_reason if not. */
static inline int check_run_one(void (*fn)(void))
{
    if (setjmp(check_jmp) != 0)
        return 1;
    fn();
    return 0;
}

static inline int check_run(const char *file, const struct check_test *t, size_t n)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (strncmp(name, "test_", 5) == 0)
            name += 5;
        if (check_run_one(t[i].fn) == 0) {
            printf("TEST PASS host.%s.%s\n", file, name);
        } else {
            printf("TEST FAIL host.%s.%s: %s\n", file, name, check_reason);
            failed = 1;
        }
        fflush(stdout);
    }
    return failed;
}

#define CHECK_MAIN(file, table) \
    int main(void) \
    { \
        return check_run(file, table, sizeof(table) / sizeof(table[0])); \
    }

#endif
