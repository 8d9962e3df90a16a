/*
 * process: an address space, a handle table and a set of threads.
 *
 * A process dies when its last thread exits, when one of its threads calls
 * process_exit, or when it is killed (process_kill: every thread is woken
 * from whatever it is blocked in and exits at its next return to user
 * mode).  Teardown closes every handle and frees the address space; the
 * process object itself lives on while handles to it exist, holding only
 * its exit status, and wakes its waiters.
 *
 * Locking: `lock` covers the thread list, the state and the waiters.
 */
#ifndef KESTREL_CORE_PROCESS_H
#define KESTREL_CORE_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/handle.h"
#include "core/object.h"
#include "core/spinlock.h"
#include "core/thread.h"
#include "core/vm.h"
#include "kestrel/startup.h"

enum process_state { P_ALIVE, P_DYING, P_DEAD };

struct process {
    struct kobject obj;
    uint64_t pid;
    char name[32];
    uint8_t prio_max;             /* ceiling: no thread of it runs above (base) */
    spinlock_t lock;
    int state;
    long exit_status;
    struct vm_space vm;
    struct handle_table handles;
    struct thread *threads;
    unsigned nthreads;
    bool closing;                 /* its last thread is closing its handles: dead next */
    struct thread *waiters;       /* JOIN_BLOCKED in process_wait */
    struct thread *clients;       /* REPLY_BLOCKED on this process (ipc_lock) */
    struct process_watch *watches;    /* death pulses to send (ipc_lock) */
    struct connection *exc_conn;      /* faults become messages here (ipc_lock) */
    /* Its personality (core/personality.c): calls from outside [pers_lo,
     * pers_hi) go to pers_entry once the redirecting entry is mapped. */
    uint64_t pers_entry, pers_lo, pers_hi;
};

struct connection;

struct process_watch {
    struct process_watch *next;
    struct connection *conn;
    uint32_t code;
};

struct process *process_create(const char *name, int *err);
/* Death notice: when P dies, a pulse (CODE, value = exit status) goes to
 * CONN; at once if P is dead already. */
int process_watch(struct process *p, struct connection *conn, uint32_t code);
/* Sets (or with NULL clears) P's exception connection; -E_DEAD (nothing set)
 * when P has died. */
int process_set_exception(struct process *p, struct connection *conn);
/* The current thread faulted in user mode: the exception handler decides
 * (returns if it said resume), else the process dies with one log line. */
struct k_exception;
void process_user_fault(const struct k_exception *e, const char *what);
/* Loads the ELF program PATH from the boot image into the new process P,
 * builds its start-up block (argv, handles), and creates its first thread
 * (not started).  Returns the thread or NULL with *err set. */
struct thread *process_load_boot(struct process *p, const char *path, int argc,
                                 const char *const *argv, const struct k_startup *proto,
                                 uint8_t prio, int *err);
/* The boot image as a memory object (kernel/core/main.c): a handle to it
 * (READ) is process_spawn's capability. */
struct vmo;
extern struct vmo *boot_image_vmo;
/* process_spawn: the system call's work (core/syscall.c). */
long process_spawn_user(long upath, long len, long uspawn);
long process_create_user(long uname, long len, long uspawn);
int process_add_thread(struct process *p, struct thread *t);
/* Called by an exiting thread; returns with p->lock held, t dead, after
 * switching away (does not return in practice). */
void process_thread_exiting(struct thread *t, long status);
void process_reap_thread(struct thread *t);
/* Marks P dying with STATUS and makes every thread exit. */
void process_kill(struct process *p, long status);
void process_destroy(struct process *p);
/* Frees dead threads and processes; interrupts on, no locks held. */
void reap_zombies(void);
extern volatile unsigned zombie_count;
/* At the start of every system call that allocates kernel memory: a CPU
 * that never idles still frees what dead processes held before it takes
 * more (a busy machine ran out of memory with its zombies unfreed). */
static inline void reap_before_alloc(void)
{
    if (__builtin_expect(zombie_count != 0, 0))
        reap_zombies();
}

extern uint64_t process_live;
/* The first process; with initexit=qemu its end ends the machine (tests). */
extern uint64_t init_pid;
extern bool init_exit_ends_machine;

#endif
