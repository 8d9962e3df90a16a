/*
 * protomodel: what a server whose dispatch tools/mkproto generated must
 * answer a message, by the rules of protocols/README.md; the oracle of
 * the protocol fuzzers (tests/user/protofuzz.c in the system,
 * tests/host/test_protofuzz.c on the host).
 *
 * The rules, in the order they apply:
 *   1. fewer bytes than a header, another protocol's id, a reserved field
 *      that is not 0, version 0                               E_INVAL
 *   2. a client newer than the server                         E_NOSYS
 *   3. a message number the server does not know              E_NOSYS
 *   4. a message the client's own version does not have       E_INVAL
 *   5. not exactly header + the request struct of the client's version
 *      + payload_len bytes; a payload on a message that takes none, or
 *      one over K_MSG_MAX                                     E_INVAL
 * Anything else is well-formed: its handler runs, sees the request struct
 * of the client's version zero-extended to the server's, and answers with
 * the reply struct of the client's version.
 *
 * Written from those rules, not from lib/rt/proto.c, which it checks (a
 * test that shared the code under test would agree with its bugs); the
 * sizes come from the generated NAME_protocol() tables, whose layouts the
 * generated headers check against the C structs.  Pure code, no system
 * calls: both fuzzers include it.
 */
#ifndef KESTREL_TESTS_PROTOMODEL_H
#define KESTREL_TESTS_PROTOMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kestrel/errors.h"
#include "kestrel/msg.h"
#include "kestrel/proto.h"
#include "rt/proto.h"

struct pm_verdict {
    long err;               /* 0 well-formed, else E_INVAL or E_NOSYS */
    uint16_t msg, version;  /* of a well-formed message */
    size_t body_len;        /* its request struct, as the client's version has it */
    size_t payload_len;
    size_t rep_len;         /* the reply struct of the client's version */
};

/* The header fields, read byte by byte (MSG may be unaligned). */
static inline uint32_t pm_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline struct pm_verdict pm_judge(const struct proto_desc *d, const void *msg, size_t len)
{
    struct pm_verdict v = { E_INVAL, 0, 0, 0, 0, 0 };
    const unsigned char *b = msg;
    if (len < 16)
        return v;
    uint32_t id = pm_u32(b), plen = pm_u32(b + 8), reserved = pm_u32(b + 12);
    uint16_t version = (uint16_t)(b[4] | b[5] << 8), number = (uint16_t)(b[6] | b[7] << 8);
    if (id != d->id || reserved != 0 || version == 0)
        return v;                                               /* rule 1 */
    v.err = E_NOSYS;
    if (version > d->version)
        return v;                                               /* rule 2 */
    const struct proto_msg *m = number < d->nmsgs ? &d->msgs[number] : NULL;
    if (!m || m->since == 0)
        return v;                                               /* rule 3 */
    v.err = E_INVAL;
    if (version < m->since)
        return v;                                               /* rule 4 */
    size_t body = m->req_size[version];
    uint64_t want = 16 + (uint64_t)body + plen;                 /* rule 5 */
    if (want != len || (plen && !m->has_payload) || plen > K_MSG_MAX)
        return v;
    v.err = 0;
    v.msg = number;
    v.version = version;
    v.body_len = body;
    v.payload_len = plen;
    v.rep_len = m->rep_size[version];
    return v;
}

#endif
