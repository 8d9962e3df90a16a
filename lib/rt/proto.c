/*
 * proto: checks a received protocol message before anything reads it
 * (see proto.h).  Pure logic, also built for the host tests.
 */
#include "rt/proto.h"

#include "kestrel/msg.h"

static long check_header(const struct proto_desc *d, const struct k_proto_hdr *h)
{
    if (h->proto != d->id || h->reserved != 0 || h->version == 0)
        return -E_INVAL;
    if (h->version > d->version)
        return -E_NOSYS;
    if (h->msg >= d->nmsgs || d->msgs[h->msg].since == 0)
        return -E_NOSYS;
    if (d->msgs[h->msg].since > h->version)
        return -E_INVAL;        /* the client's version has no such message */
    return 0;
}

long proto_check(const struct proto_desc *d, const void *msg, size_t len,
                 struct proto_in *in)
{
    struct k_proto_hdr h;
    if (len < sizeof(h))
        return -E_INVAL;
    __builtin_memcpy(&h, msg, sizeof(h));
    long err = check_header(d, &h);
    if (err < 0)
        return err;
    const struct proto_msg *m = &d->msgs[h.msg];
    size_t body = m->req_size[h.version];
    size_t rest = len - sizeof(h);
    if (rest < body || h.payload_len != rest - body)
        return -E_INVAL;
    if (h.payload_len && (!m->has_payload || h.payload_len > K_MSG_MAX))
        return -E_INVAL;
    in->msg = h.msg;
    in->version = h.version;
    in->body = (const char *)msg + sizeof(h);
    in->body_len = body;
    in->payload = (const char *)msg + sizeof(h) + body;
    in->payload_len = h.payload_len;
    in->rep_len = m->rep_size[h.version];
    return 0;
}

long proto_finish(long rcvid, long status, const void *rep, size_t len)
{
    if (status == PROTO_NO_REPLY)
        return 0;
    if (status < 0)
        return proto_error(rcvid, -status);
    return proto_reply(rcvid, status, rep, len);
}
