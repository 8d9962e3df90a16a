/*
 * cmdline: reads a boot command line of the form
 *     word key=value key="value with spaces" ...
 * Words are separated by spaces or tabs.  The last occurrence of a key wins.
 * Values longer than the caller's buffer are reported, not cut silently.
 */
#ifndef KESTREL_BASE_CMDLINE_H
#define KESTREL_BASE_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

enum {
    CMDLINE_ABSENT = 0,
    CMDLINE_FOUND = 1,
    CMDLINE_ETOOLONG = -1,   /* value does not fit the buffer */
    CMDLINE_EQUOTE = -2,     /* unterminated quote */
};

/* Copies the value of KEY into VAL (NUL-terminated).  A bare word KEY
 * (no '=') is found with an empty value. */
int cmdline_get(const char *cmdline, const char *key, char *val, size_t valsize);

/* True when the comma-separated LIST contains ITEM exactly. */
bool cmdline_list_has(const char *list, const char *item);

/* Parses a decimal number with an optional K/M/G suffix; false if malformed
 * or if it overflows 64 bits. */
bool cmdline_parse_size(const char *s, unsigned long long *out);

#endif
