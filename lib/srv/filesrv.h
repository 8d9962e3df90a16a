/*
 * filesrv: what every server of protocols/file.proto needs beyond the
 * generated dispatch (servers/ramfs, pipe, devfs, procfs, tty).
 */
#ifndef KESTREL_SRV_FILESRV_H
#define KESTREL_SRV_FILESRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/string.h"
#include "protocols/file.h"
#include "srv/srv.h"

/* file.proto's error for the POSIX error number E (Linux's numbering). */
#define FILE_ERR(e) (-(4096L + (e)))

/* A write whose payload the server takes from the writer itself (msg_read)
 * rather than from a copy of the whole message: true when M is a
 * well-formed write, as the generated dispatch would judge its header
 * (protocol, message, version, reserved, length), with its request in
 * *REQ and its payload's offset and length. */
static inline bool filesrv_write(const struct srv_msg *m, struct file_write_req *req,
                                 size_t *payload_at, size_t *payload_len)
{
    struct k_proto_hdr h;
    size_t at = sizeof(h) + sizeof(*req);
    if (m->len < at)
        return false;
    memcpy(&h, m->data, sizeof(h));
    if (h.proto != FILE_PROTO_ID || h.msg != FILE_MSG_WRITE || h.version < 1 ||
        h.version > FILE_VERSION || h.reserved != 0 || at + h.payload_len != m->info.send_len)
        return false;
    memcpy(req, (const uint8_t *)m->data + sizeof(h), sizeof(*req));
    *payload_at = at;
    *payload_len = h.payload_len;
    return true;
}

/* One struct linux_dirent64 (u64 ino, i64 off: the cookie after it, u16
 * reclen, u8 type, the name with its NUL, padded to 8) into BUF at *USED
 * (CAP bytes); false when it does not fit. */
static inline bool filesrv_dirent(uint8_t *buf, size_t cap, size_t *used, uint64_t ino,
                                  uint64_t next, uint8_t type, const char *name)
{
    size_t nl = strlen(name), reclen = (19 + nl + 1 + 7) & ~(size_t)7;
    if (*used + reclen > cap)
        return false;
    uint8_t *p = buf + *used;
    memset(p, 0, reclen);
    memcpy(p, &ino, 8);
    memcpy(p + 8, &next, 8);
    uint16_t rl = (uint16_t)reclen;
    memcpy(p + 16, &rl, 2);
    p[18] = type;
    memcpy(p + 19, name, nl);
    *used += reclen;
    return true;
}

#endif
