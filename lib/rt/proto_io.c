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
