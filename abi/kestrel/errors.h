/*
 * Error codes returned by system calls (negated: a call returns -E_...).
 * Shared by the kernel and user space; kernel-specific meanings are noted.
 */
#ifndef KESTREL_ABI_ERRORS_H
#define KESTREL_ABI_ERRORS_H

#define KESTREL_ERRORS(E)                                                     \
    E(1, E_INVAL, "invalid argument")                                         \
    E(2, E_BADHANDLE, "no such handle")                                       \
    E(3, E_WRONGTYPE, "handle refers to an object of another type")          \
    E(4, E_RIGHTS, "handle lacks the rights for this operation")             \
    E(5, E_FAULT, "bad user address")                                         \
    E(6, E_NOMEM, "out of memory")                                            \
    E(7, E_NOSYS, "no such system call")                                      \
    E(8, E_FULL, "queue or table full")                                       \
    E(9, E_DEAD, "peer is gone (process exited or channel closed)")          \
    E(10, E_REVOKED, "connection revoked by the server")                     \
    E(11, E_TOOBIG, "size or count out of range")                             \
    E(12, E_TIMEOUT, "timed out")                                             \
    E(13, E_BUSY, "resource busy")                                            \
    E(14, E_NOENT, "no such file or entry")                                   \
    E(15, E_PERM, "not permitted")                                            \
    E(16, E_INTR, "interrupted (the thread is being killed)")                \
    E(17, E_INTERRUPTED, "interrupted: a pulse for the thread's personality came") \
    E(18, E_AGAIN, "nothing there yet: try again")                             \
    E(19, E_IO, "input/output error: the device failed the request")

enum kestrel_error {
#define KESTREL_ERROR_ENUM(num, name, text) name = num,
    KESTREL_ERRORS(KESTREL_ERROR_ENUM)
#undef KESTREL_ERROR_ENUM
};

#endif
