/* cmdline: boot command line parsing (see cmdline.h). */
#include "base/cmdline.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Scans one word starting at *p; sets key/keylen, value/vallen (value NULL
 * when the word has no '='), advances *p.  Returns CMDLINE_EQUOTE on an
 * unterminated quote. */
static int next_word(const char **p, const char **key, size_t *keylen,
                     const char **val, size_t *vallen)
{
    const char *s = *p;
    while (is_space(*s))
        s++;
    *key = s;
    while (*s && !is_space(*s) && *s != '=')
        s++;
    *keylen = s - *key;
    *val = 0;
    *vallen = 0;
    if (*s == '=') {
        s++;
        if (*s == '"') {
            s++;
            *val = s;
            while (*s && *s != '"')
                s++;
            if (*s != '"')
                return CMDLINE_EQUOTE;
            *vallen = s - *val;
            s++;
        } else {
            *val = s;
            while (*s && !is_space(*s))
                s++;
            *vallen = s - *val;
        }
    }
    *p = s;
    return 0;
}

int cmdline_get(const char *cmdline, const char *key, char *val, size_t valsize)
{
    size_t klen = 0;
    while (key[klen])
        klen++;
    const char *found = 0;
    size_t found_len = 0;
    int found_any = 0;
    const char *p = cmdline ? cmdline : "";
    while (*p) {
        const char *k, *v;
        size_t kl, vl;
        if (next_word(&p, &k, &kl, &v, &vl) < 0)
            return CMDLINE_EQUOTE;
        if (kl == 0 && !v)
            continue;
        if (kl == klen) {
            size_t i = 0;
            while (i < kl && k[i] == key[i])
                i++;
            if (i == kl) {
                found = v;
                found_len = vl;
                found_any = 1;
            }
        }
    }
    if (!found_any)
        return CMDLINE_ABSENT;
    if (found_len + 1 > valsize)
        return CMDLINE_ETOOLONG;
    for (size_t i = 0; i < found_len; i++)
        val[i] = found[i];
    val[found_len] = 0;
    return CMDLINE_FOUND;
}

bool cmdline_list_has(const char *list, const char *item)
{
    const char *p = list;
    while (*p) {
        const char *a = p, *b = item;
        while (*a && *a != ',' && *a == *b)
            a++, b++;
        if ((*a == ',' || *a == 0) && *b == 0)
            return true;
        while (*p && *p != ',')
            p++;
        if (*p == ',')
            p++;
    }
    return false;
}

bool cmdline_parse_size(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = *s - '0';
        if (v > (~0ULL - d) / 10)
            return false;
        v = v * 10 + d;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'K': case 'k': shift = 10; s++; break;
    case 'M': case 'm': shift = 20; s++; break;
    case 'G': case 'g': shift = 30; s++; break;
    default: break;
    }
    if (*s)
        return false;
    if (shift && v > (~0ULL >> shift))
        return false;
    *out = v << shift;
    return true;
}
