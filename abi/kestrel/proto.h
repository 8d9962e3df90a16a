/*
 * The header that starts every message of a protocol described in
 * protocols/NAME.proto (tools/mkproto generates the rest).  A request is
 *     struct k_proto_hdr | request struct of the client's version | payload
 * and the server checks the header before it reads anything else.  The
 * layout is fixed (checked below): it crosses address spaces.
 */
#ifndef KESTREL_ABI_PROTO_H
#define KESTREL_ABI_PROTO_H

#include <stdint.h>

struct k_proto_hdr {
    uint32_t proto;         /* protocol id (the `id` line of the .proto file) */
    uint16_t version;       /* protocol version the client was built with */
    uint16_t msg;           /* message number within the protocol */
    uint32_t payload_len;   /* bytes after the request struct */
    uint32_t reserved;      /* 0 */
};

_Static_assert(sizeof(struct k_proto_hdr) == 16, "k_proto_hdr layout");

#endif
