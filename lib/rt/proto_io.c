/*
 * proto_io: how generated protocol servers reply in a native program
 * (host tests provide their own proto_reply and proto_error).
 */
#include "rt/proto.h"
#include "rt/syscall.h"

long proto_reply(long rcvid, long status, const void *buf, size_t len)
{
    return k_msg_reply(rcvid, status, (long)buf, -(long)len);
}

long proto_error(long rcvid, long err)
{
    return k_msg_error(rcvid, err);
}

long proto_finish_data(long rcvid, long status, const void *rep, size_t len,
                       const void *data, size_t dlen)
{
    if (status == PROTO_NO_REPLY)
        return 0;
    if (status < 0)
        return proto_error(rcvid, -status);
    struct k_iov r[2] = { { (void *)rep, len }, { (void *)data, dlen } };
    return k_msg_reply(rcvid, status, (long)r, dlen ? 2 : 1);
}
