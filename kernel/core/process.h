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
    spinlock_t lock;
    int state;
    long exit_status;
    struct vm_space vm;
    struct handle_table handles;
    struct thread *threads;
    unsigned nthreads;
    struct thread *waiters;       /* JOIN_BLOCKED in process_wait */
    struct thread *clients;       /* REPLY_BLOCKED on this process (ipc_lock) */
};

struct process *process_create(const char *name, int *err);
/* Loads the ELF program PATH from the boot image into the new process P,
 * builds its start-up block (argv, handles), and creates its first thread
 * (not started).  Returns the thread or NULL with *err set. */
struct thread *process_load_boot(struct process *p, const char *path, int argc,
                                 const char *const *argv, const struct k_startup *proto,
                                 uint8_t prio, int *err);
/* process_spawn: the system call's work (core/syscall.c). */
long process_spawn_user(long upath, long len, long uspawn);
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

extern uint64_t process_live;
/* The first process; with initexit=qemu its end ends the machine (tests). */
extern uint64_t init_pid;
extern bool init_exit_ends_machine;

#endif
