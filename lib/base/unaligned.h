/* unaligned: little-endian loads from byte buffers of any alignment
 * (firmware tables, boot loader structures); the copy compiles to one load. */
#ifndef KESTREL_BASE_UNALIGNED_H
#define KESTREL_BASE_UNALIGNED_H

#include <stdint.h>

static inline uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
}

#endif
