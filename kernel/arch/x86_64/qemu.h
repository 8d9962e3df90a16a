/*
 * qemu: leaving QEMU with a status through the isa-debug-exit device
 * (tools/qemu adds it at port 0xf4).  QEMU exits with (code << 1) | 1;
 * tools/runtests knows these values.  On other machines the write is
 * ignored and the caller halts.
 */
#ifndef KESTREL_ARCH_QEMU_H
#define KESTREL_ARCH_QEMU_H

enum {
    QEMU_EXIT_PASS = 0x10,    /* QEMU status 33 */
    QEMU_EXIT_FAIL = 0x11,    /* QEMU status 35 */
    QEMU_EXIT_PANIC = 0x12,   /* QEMU status 37 */
};

_Noreturn void qemu_exit(unsigned code);

#endif
