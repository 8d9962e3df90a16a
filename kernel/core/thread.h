/*
 * thread: the unit of execution and scheduling.  A thread belongs to one
 * process, has its own kernel stack (with a guard page), saved FPU/SSE
 * state and TLS base, a base priority and an effective priority (raised by
 * priority inheritance while it serves a higher-priority client), a policy
 * (FIFO or round-robin) and a CPU affinity mask.  It runs on one CPU at a
 * time (`cpu`) and moves only when its affinity forces it or when a message
 * pass pulls a receiving server thread onto its client's CPU.
 *
 * State changes: under the run queue lock of t->cpu for READY/RUNNING, and
 * under ipc_lock (core/ipc.c) for the message-passing states.
 */
#ifndef KESTREL_CORE_THREAD_H
#define KESTREL_CORE_THREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/object.h"
#include "kestrel/msg.h"

struct process;
struct channel;
struct connection;

#define T_KILLED 1u
#define T_DIVERT 2u
#define thread_killed(t) (__atomic_load_n(&(t)->killed, __ATOMIC_RELAXED) & T_KILLED)
#define thread_mark(t, bit) __atomic_or_fetch(&(t)->killed, (uint8_t)(bit), __ATOMIC_RELAXED)
#define thread_unmark(t, bit) __atomic_and_fetch(&(t)->killed, (uint8_t)~(bit), __ATOMIC_RELAXED)

enum thread_state {
    T_NEW,                /* created, or between run queues (affinity change) */
    T_READY,
    T_RUNNING,
    T_SEND_BLOCKED,       /* queued on a channel, waiting for a receiver */
    T_REPLY_BLOCKED,      /* message received, waiting for the reply */
    T_RECEIVE_BLOCKED,    /* server waiting for a message */
    T_JOIN_BLOCKED,       /* thread_join / process_wait */
    T_SLEEPING,
    T_DEAD,
};

struct thread {
    struct kobject obj;
    struct process *proc;
    uint64_t tid;
    volatile int state;
    uint8_t base_prio;
    uint8_t prio;                 /* effective: max(base, inherited) */
    uint8_t policy;               /* K_SCHED_FIFO or K_SCHED_RR */
    int8_t slice;                 /* RR ticks left */
    uint64_t affinity;            /* CPU mask */
    unsigned cpu;
    volatile bool on_cpu;         /* context not yet saved: do not run elsewhere */
    uint8_t killed;               /* T_KILLED: exit at the next return to user mode;
                                     T_DIVERT: interrupted (chan_interrupts), to be told.
                                     Changed atomically; any bit takes the slow paths */
    bool last_of_process;         /* reaping it tears the process down */
    bool migrate;                 /* to be queued on another CPU after switching out */
    struct thread *rq_next, *rq_prev;
    struct thread *proc_next;     /* process's thread list */

    uintptr_t ksp;                /* saved kernel stack pointer */
    uintptr_t kstack_top;
    uint8_t *fpu;                 /* 512-byte FXSAVE area */
    uint64_t fs_base;
    uint64_t pers_stack;          /* where its redirected calls run (0: below the user stack) */

    /* message passing (ipc_lock) */
    struct channel *ipc_chan;
    struct thread *ipc_next;      /* channel queue or server's client list */
    struct thread *ipc_server;    /* REPLY_BLOCKED: the thread serving us */
    uint32_t send_seq;            /* sends made: with tid, names one request (K_INFO_SERVING) */
    struct process *ipc_served_by;  /* REPLY_BLOCKED: process whose client list we are on */
    struct thread *join_thread;   /* JOIN_BLOCKED on a thread ... */
    struct process *join_proc;    /* ... or on a process */
    struct k_iov siov[K_IOV_MAX], riov[K_IOV_MAX];
    unsigned sparts, rparts;
    uint64_t slen, rlen;
    uint64_t badge;               /* SEND_BLOCKED: badge of the connection used */
    long ipc_ret;                 /* returned by the blocked call on wake-up */
    int32_t small_len;            /* bytes staged in small[]; -1 none; -2 RECEIVE: the
                                     message is to be pulled from the client (channel.c) */
    struct kobject *att_obj;      /* handle_attach: rides with the next send or reply */
    uint32_t att_rights;
    long got_handle;              /* came with the last reply (handle_received) */
    struct kobject *rx_obj;       /* a handle passed to us, installed by ourselves */
    uint32_t rx_rights;
    struct connection *rx_closed; /* an ended connection just reported to us: freed by us */
    uint8_t small[K_SMALL_MSG] __attribute__((aligned(8)));
    struct k_msg_info ipc_info;   /* RECEIVE: filled by the sender */

    /* exit and join */
    long exit_status;
    struct thread *joiner;
    uint64_t wake_at;             /* SLEEPING: time_ns deadline */
};

#define THREAD_KSTACK_PAGES 4

/* Creates a thread of PROC that enters user mode at ENTRY with rsp STACK
 * and rdi ARG.  Not yet runnable: thread_start makes it so. */
struct thread *thread_create(struct process *proc, uintptr_t entry, uintptr_t stack,
                             uint64_t arg, uint8_t prio, uint8_t policy,
                             uint64_t affinity, int *err);
/* The same, but when REGS is given it enters user mode with every
 * register from it instead (ENTRY, STACK and ARG unused). */
struct k_regs;
struct thread *thread_create_regs(struct process *proc, uintptr_t entry, uintptr_t stack,
                                  uint64_t arg, const struct k_regs *regs, uint8_t prio,
                                  uint8_t policy, uint64_t affinity, int *err);
void thread_start(struct thread *t);
_Noreturn void thread_exit(long status);
void thread_destroy(struct thread *t);
/* The idle thread of the calling CPU (its boot stack becomes the idle stack). */
void thread_init_idle(void);

extern uint64_t thread_live;

#endif
