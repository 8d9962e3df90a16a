/*
 * Structures passed to the message-passing and thread system calls
 * (see syscalls.h): scatter/gather vectors, what a receiver learns about a
 * message, and the attributes of a new thread.  Shared by the kernel and
 * user space; the layouts are fixed (checked below) because they cross the
 * user/kernel boundary.
 */
#ifndef KESTREL_ABI_MSG_H
#define KESTREL_ABI_MSG_H

#include <stddef.h>
#include <stdint.h>

#define K_IOV_MAX 16              /* parts per send, receive or reply */
#define K_MSG_MAX (64UL << 20)    /* bytes per message */
#define K_PULSE_QUEUE 64          /* pulses a channel holds */
#define K_PULSE_SENT_MAX 48       /* of them, pulse_send's; then E_FULL: the rest are kept for
                                     the kernel's (interrupts, timers, death notices), so that
                                     a client filling a driver's queue cannot stop its IRQs */
#define K_SMALL_MSG 192           /* messages up to this size are staged in the kernel */
#define K_PRIO_MIN 1              /* 0 belongs to the idle threads */
#define K_PRIO_MAX 255

/* One piece of a message: LEN bytes at BASE.  msg_send, msg_receive and
 * msg_reply take an array of these and a count of parts. */
struct k_iov {
    void *base;
    size_t len;
};

/* What msg_receive reports in struct k_msg_info.type. */
enum k_msg_type {
    K_MSG_MESSAGE = 1,      /* a message: reply with msg_reply or msg_error */
    K_MSG_PULSE = 2,        /* a pulse: code and value only, no reply */
    K_MSG_DISCONNECT = 3,   /* the last handle to the connection with this badge is gone
                               (one made with K_CONN_REPORT_END); no reply */
    K_MSG_UNBLOCK = 4,      /* the client whose receive id is in value was interrupted
                               (chan_interrupts) while waiting for our reply: answer it
                               soon (E_INTERRUPTED, or what is done); no reply to this */
};

/* chan_connect flags. */
#define K_CONN_REPORT_END 1u      /* its end is reported to the channel (K_MSG_DISCONNECT) */

/* Filled by msg_receive.  Describes the sender independently of the
 * receive id, which msg_receive returns. */
struct k_msg_info {
    uint64_t pid;           /* sending process */
    uint64_t tid;           /* sending thread (0 for a pulse) */
    uint32_t priority;      /* sender's priority; the receiver runs at it */
    uint32_t type;          /* enum k_msg_type */
    int32_t code;           /* pulse code (0 for a message) */
    uint32_t handle;        /* a handle that came with the message (handle_attach), or 0 */
    uint64_t value;         /* pulse value (0 for a message) */
    uint64_t send_len;      /* total bytes the sender sent */
    uint64_t reply_len;     /* total bytes the sender can take in the reply */
    uint64_t badge;         /* the badge of the connection it came through (chan_connect) */
};

/* Scheduling policies (thread_create, thread_sched). */
enum k_sched_policy {
    K_SCHED_FIFO = 1,       /* runs until it blocks or yields */
    K_SCHED_RR = 2,         /* like FIFO, with a time slice among equals */
};

/* Attributes of a new thread (thread_create); a null pointer means the
 * creator's priority and policy on any CPU. */
struct k_thread_attr {
    uint32_t priority;      /* higher runs first */
    uint32_t policy;        /* enum k_sched_policy */
    uint64_t cpu_mask;      /* bit n: may run on CPU n; 0 means any */
};

/* A new thread's user registers (thread_start): all of them.  rip and rsp
 * must be user addresses, fs_base too; of rflags only the arithmetic
 * flags and DF are taken (interrupts are always on). */
struct k_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rsp, rflags, fs_base;
};

/* sys_info selectors. */
#define K_INFO_KERNEL_OBJECTS 1   /* struct k_sysinfo */
#define K_INFO_PLATFORM 2         /* struct k_platform */
#define K_INFO_SERVING 3          /* struct k_serving: the requests a process holds */

/* The requests a process (the caller, or the third argument's, READ) has
 * received and not answered: each named by its sender's thread and that
 * thread's send count, so one request held for long is told from a client
 * sending again and again (lib/srv's and the supervisor's stall watches,
 * rt/held.h). */
struct k_serving {
    uint32_t count;           /* held in all */
    uint32_t n;               /* in ids (at most 32) */
    uint64_t ids[32];
};

/* What the firmware's tables say about devices (ACPI MCFG and DMAR), for
 * the PCI server. */
struct k_platform {
    uint64_t ecam_base;       /* PCI express configuration space, 1 MiB a bus; 0: none */
    uint16_t ecam_segment;
    uint8_t bus_start, bus_end;
    uint32_t iommus;          /* IOMMU (VT-d) units found */
    uint32_t dma_confined;    /* 1: device DMA reaches only what drivers mapped */
    uint32_t reserved[3];
};

struct k_sysinfo {
    uint64_t kmalloc_objects; /* live kernel heap objects */
    uint64_t kmem_pages;      /* live large kernel allocations */
    uint64_t free_bytes;      /* free physical memory, less what is reserved */
    uint64_t threads, processes, channels, connections;
    uint64_t ncpus;
    uint64_t cpu;             /* the CPU the caller runs on */
    uint64_t ticks;           /* timer ticks on that CPU */
    uint64_t ram_bytes;       /* all usable RAM */
    uint64_t reserved_bytes;  /* promised to memory objects' untouched pages */
};

_Static_assert(sizeof(struct k_iov) == 16, "k_iov layout");
_Static_assert(sizeof(struct k_sysinfo) == 96, "k_sysinfo layout");
_Static_assert(sizeof(struct k_platform) == 32, "k_platform layout");
_Static_assert(sizeof(struct k_msg_info) == 64, "k_msg_info layout");
_Static_assert(sizeof(struct k_thread_attr) == 16, "k_thread_attr layout");

#endif
