/*
 * What a new process finds when its first thread starts: rdi points to a
 * struct k_startup on its stack (rsp 16-byte aligned below it).  The block
 * and the strings it points to are inside the process's own memory.
 */
#ifndef KESTREL_ABI_STARTUP_H
#define KESTREL_ABI_STARTUP_H

#include <stdint.h>

#define K_STARTUP_MAGIC 0x4b45535452454c31ULL   /* "KESTREL1" */
#define K_STARTUP_MAX_HANDLES 32

/* Kinds of objects a handle can name (also in k_msg_info and sys_info). */
enum k_object_type {
    K_OBJ_NONE = 0,
    K_OBJ_PROCESS = 1,
    K_OBJ_THREAD = 2,
    K_OBJ_CHANNEL = 3,
    K_OBJ_CONNECTION = 4,
    K_OBJ_VMO = 5,
    K_OBJ_IRQ = 6,
    K_OBJ_TIMER = 7,
    K_OBJ_RESOURCE = 8,     /* a capability over IRQs, I/O ports or physical ranges */
};

struct k_startup_handle {
    uint32_t handle;
    uint32_t type;          /* enum k_object_type */
    char name[24];          /* what it is for, NUL-terminated ("bootfs", "log", ...) */
};

struct k_startup {
    uint64_t magic;
    uint64_t argc;
    char **argv;            /* argv[argc] == 0 */
    uint64_t nhandles;
    struct k_startup_handle handles[K_STARTUP_MAX_HANDLES];
};

/* process_spawn's description of the new process. */
#define K_SPAWN_MAX_ARGS 32
#define K_SPAWN_MAX_ARG_LEN 256

#define K_RIGHTS_SAME 0x80000000u

/* k_spawn.exception: the child's faults go where the caller's go (a
 * forked Linux child keeps its parent's core-file handler). */
#define K_SPAWN_EXCEPTION_INHERIT 0xffffffffu

struct k_spawn_handle {
    uint32_t handle;        /* in the caller; needs K_RIGHT_TRANSFER (process_create
                               writes the child's number back here) */
    uint32_t rights;        /* given to the child: a subset of the caller's, or
                               K_RIGHTS_SAME: exactly the caller's */
    char name[24];
};

struct k_spawn {
    uint32_t argc;
    uint32_t nhandles;
    const char *const *argv;
    const struct k_spawn_handle *handles;
    uint32_t priority;      /* 0: the caller's */
    uint32_t exception;     /* a connection (SEND) in the caller that gets the child's
                               exceptions from its first instruction on; 0: none;
                               K_SPAWN_EXCEPTION_INHERIT: the caller's own */
    uint32_t prio_max;      /* the child's priority ceiling, at most the caller's;
                               0: the child's priority */
    uint32_t image;         /* required: a handle (READ) to where the program comes
                               from, today the boot image ("bootfs") */
};

/* User address space layout. */
#define K_USER_BASE      0x0000000000010000ULL   /* lowest address a program or mapping may use */
/* Native programs are linked here (lib/rt/user.ld): under 2 GiB for the
 * small code model, and away from where static Linux programs load
 * (0x400000, their brk above it), since a Linux process will hold its
 * native personality too. */
#define K_NATIVE_BASE    0x0000000070000000ULL
#define K_USER_TOP       0x00007ffffffff000ULL   /* first address above user space */
#define K_USER_STACK_TOP 0x00007fffff000000ULL
#define K_USER_STACK_SIZE (256 * 1024)

#endif
