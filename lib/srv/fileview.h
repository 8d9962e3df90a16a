/*
 * fileview: the header of a file's data object handed out by file.proto's
 * message view (servers/ramfs gives one; the Linux personality reads a
 * cached file through it with no message, posix/view.c).
 *
 * The object holds the file's bytes from offset 0 (its "room", the
 * reply's bytes less FILE_VIEW_PAGE) and then this header page.  The
 * server keeps size current (stored after the bytes it covers); when the
 * file outgrows the object it moves to a new one and sets moved in the
 * old one's header first, so a reader that sees moved asks again.  A
 * reader that copies while a write lands may see part of it, as a read
 * racing a write may on Linux; it never sees bytes past size or outside
 * the object.  The server is trusted as far as the file goes: a reader
 * still clamps size to the room.
 */
#ifndef KESTREL_SRV_FILEVIEW_H
#define KESTREL_SRV_FILEVIEW_H

#include <stdint.h>

#define FILE_VIEW_PAGE 4096u

struct file_view {
    uint64_t size;                  /* the file's size */
    uint32_t moved;                 /* 1: the data is in another object now */
    uint32_t reserved;
};

#endif
