/* string: memory and string functions (see string.h).  memcpy and memset
 * move eight bytes at a time (rep movsq / stosq) and the rest bytewise;
 * strlen, strnlen, strcmp and memcmp look at a word at a time where they
 * can; the others are plain loops. */
#include "base/string.h"

#include <stdbool.h>
#include <stdint.h>

/* Word at a time where a word cannot cross into the next page (and so
 * cannot fault past the string's end): the byte loops cost about four
 * instructions a byte, these about one. */
#define ONES 0x0101010101010101UL
#define HIGHS 0x8080808080808080UL

static inline uint64_t load8(const void *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
}

static inline bool has_zero(uint64_t v)
{
    return ((v - ONES) & ~v & HIGHS) != 0;
}

static inline bool word_fits(const void *p)
{
    return ((uintptr_t)p & 4095) <= 4096 - 8;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    void *d = dst;
    size_t words = n / 8, bytes = n % 8;
    __asm__ volatile("rep movsq\n\tmovq %[b], %%rcx\n\trep movsb"
                     : "+D"(d), "+S"(src), "+c"(words)
                     : [b] "r"(bytes)
                     : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    unsigned long pattern = 0x0101010101010101UL * (unsigned char)c;
    size_t words = n / 8, bytes = n % 8;
    __asm__ volatile("rep stosq\n\tmovq %[b], %%rcx\n\trep stosb"
                     : "+D"(d), "+c"(words)
                     : "a"(pattern), [b] "r"(bytes)
                     : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n >= 8 && load8(x) == load8(y); n -= 8)
        x += 8, y += 8;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while ((uintptr_t)p & 7) {
        if (!*p)
            return (size_t)(p - s);
        p++;
    }
    while (!has_zero(load8(p)))     /* aligned: never past the page */
        p += 8;
    while (*p)
        p++;
    return (size_t)(p - s);
}

size_t strnlen(const char *s, size_t max)
{
    const char *p = s;
    const char *end = max > UINTPTR_MAX - (uintptr_t)s ? (const char *)UINTPTR_MAX : s + max;
    while (p < end && ((uintptr_t)p & 7)) {
        if (!*p)
            return (size_t)(p - s);
        p++;
    }
    /* Aligned words up to END: never past the page the last byte is on. */
    while ((size_t)(end - p) >= 8 && !has_zero(load8(p)))
        p += 8;
    while (p < end && *p)
        p++;
    return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
    for (;;) {
        if (word_fits(a) && word_fits(b)) {
            uint64_t x = load8(a);
            if (x == load8(b) && !has_zero(x)) {
                a += 8, b += 8;
                continue;
            }
        }
        for (int i = 0; i < 8; i++, a++, b++)
            if (!*a || *a != *b)
                return (unsigned char)*a - (unsigned char)*b;
    }
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            break;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++)
        if (p[i] == (unsigned char)c)
            return (void *)(p + i);
    return 0;
}
