/*
 * process: creation from the boot image, thread membership, exit, kill and
 * teardown (see process.h).
 *
 * Lock order: ipc_lock (the lock of every blocked state, core/ipc.h) before
 * p->lock before run queue locks.  Teardown (closing handles, freeing the
 * address space, freeing dead threads' stacks) needs interrupts on, so dead
 * threads and processes go on a zombie list that reap_zombies() empties
 * from a safe context: the idle loop, and the start of every system call
 * that allocates (reap_before_alloc), so a busy machine frees them too.
 */
#include "core/process.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/qemu.h"
#include "base/cpio.h"
#include "base/string.h"
#include "core/bootinfo.h"
#include "core/channel.h"
#include "core/elf.h"
#include "core/frame.h"
#include "core/ipc.h"
#include "core/kmem.h"
#include "core/printk.h"
#include "core/sched.h"
#include "core/slab.h"
#include "kestrel/errors.h"
#include "kestrel/exception.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"

uint64_t process_live;
struct vmo *boot_image_vmo;
uint64_t init_pid;
bool init_exit_ends_machine;
static uint64_t next_pid = 1;

static spinlock_t zombie_lock = SPINLOCK_INIT;
static struct thread *zombies;
volatile unsigned zombie_count;

struct process *process_create(const char *name, int *err)
{
    struct process *p = kzalloc(sizeof(*p));
    if (!p) {
        *err = -E_NOMEM;
        return NULL;
    }
    object_init(&p->obj, K_OBJ_PROCESS);
    p->pid = __atomic_fetch_add(&next_pid, 1, __ATOMIC_RELAXED);
    size_t n = strnlen(name, sizeof(p->name) - 1);
    memcpy(p->name, name, n);
    p->lock = (spinlock_t)SPINLOCK_CLASS(LOCK_PROC);
    p->prio_max = K_PRIO_MAX;          /* the first process's; spawn lowers it */
    if ((*err = vm_space_init(&p->vm)) != 0) {
        kfree(p);
        return NULL;
    }
    if ((*err = handle_table_init(&p->handles)) != 0) {
        vm_space_destroy(&p->vm);
        kfree(p);
        return NULL;
    }
    __atomic_add_fetch(&process_live, 1, __ATOMIC_RELAXED);
    return p;
}

int process_add_thread(struct process *p, struct thread *t)
{
    bool was = spin_lock_irqsave(&p->lock);
    int err = p->state == P_ALIVE ? 0 : -E_DEAD;
    if (!err) {
        object_get(&p->obj);
        t->proc = p;
        t->proc_next = p->threads;
        p->threads = t;
        p->nthreads++;
    }
    spin_unlock_irqrestore(&p->lock, was);
    return err;
}

/* ---- loading from the boot image ---- */

static uint32_t seg_prot(uint32_t flags)
{
    return (flags & ELF_SEG_R ? K_PROT_READ : 0) | (flags & ELF_SEG_W ? K_PROT_WRITE : 0) |
           (flags & ELF_SEG_X ? K_PROT_EXEC : 0);
}

/* Maps one segment as a fresh anonymous object filled from the file. */
static int load_segment(struct process *p, const uint8_t *file, const struct elf_segment *s)
{
    uintptr_t start = s->vaddr & ~(PAGE_SIZE - 1);
    uint64_t size = ((s->vaddr + s->memsz + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) - start;
    int err;
    struct vmo *v = vmo_create(size, K_VMO_ANON, 0, &err);
    if (!v)
        return err;
    for (uint64_t done = 0; done < s->filesz;) {
        uint64_t at = s->vaddr - start + done;
        uint64_t chunk = PAGE_SIZE - (at & (PAGE_SIZE - 1));
        if (chunk > s->filesz - done)
            chunk = s->filesz - done;
        memcpy((uint8_t *)phys_to_virt(vmo_page_touch(v, at / PAGE_SIZE)) + (at & (PAGE_SIZE - 1)),
               file + s->offset + done, chunk);
        done += chunk;
    }
    long r = vm_map(&p->vm, v, 0, size, seg_prot(s->flags), start, seg_prot(s->flags));
    object_put(&v->obj);
    return r < 0 ? (int)r : 0;
}

/* Writes the start-up block and argv strings at the top of the stack
 * object; returns the user address of the block, or 0 when they do not
 * fit in its page. */
static uintptr_t build_startup(struct vmo *stack, int argc, const char *const *argv,
                               const struct k_startup *proto)
{
    uint64_t top_page = stack->npages - 1;
    uint8_t *page = phys_to_virt(vmo_page_touch(stack, top_page));
    uintptr_t page_user = K_USER_STACK_TOP - PAGE_SIZE;
    struct k_startup *st = (struct k_startup *)page;
    *st = *proto;
    char **uargv = (char **)(page + sizeof(*st));
    size_t off = sizeof(*st) + (size_t)(argc + 1) * sizeof(char *);
    st->argc = (uint64_t)argc;
    st->argv = (char **)(page_user + sizeof(*st));
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        if (off + n > PAGE_SIZE - 64)
            return 0;
        memcpy(page + off, argv[i], n);
        uargv[i] = (char *)(page_user + off);
        off += n;
    }
    uargv[argc] = NULL;
    return page_user;
}

static int map_stack(struct process *p, int argc, const char *const *argv,
                     const struct k_startup *proto, uintptr_t *startup)
{
    int err;
    struct vmo *v = vmo_create(K_USER_STACK_SIZE, K_VMO_ANON, 0, &err);
    if (!v)
        return err;
    *startup = build_startup(v, argc, argv, proto);
    if (!*startup) {
        object_put(&v->obj);
        return -E_TOOBIG;                 /* arguments larger than a page */
    }
    long r = vm_map(&p->vm, v, 0, K_USER_STACK_SIZE, K_PROT_READ | K_PROT_WRITE,
                    K_USER_STACK_TOP - K_USER_STACK_SIZE, K_PROT_READ | K_PROT_WRITE);
    object_put(&v->obj);
    return r < 0 ? (int)r : 0;
}

struct thread *process_load_boot(struct process *p, const char *path, int argc,
                                 const char *const *argv, const struct k_startup *proto,
                                 uint8_t prio, int *err)
{
    struct cpio_entry e;
    if (bootinfo.nmodules == 0 ||
        cpio_find(phys_to_virt(bootinfo.modules[0].start),
                  bootinfo.modules[0].end - bootinfo.modules[0].start, path, &e) != CPIO_OK) {
        *err = -E_NOENT;
        return NULL;
    }
    struct elf_image img;
    int r = elf_parse(e.data, e.size, &img);
    if (r != ELF_OK) {
        kprintf("process: %s is not a loadable program: %s\n", path, elf_strerror(r));
        *err = -E_INVAL;
        return NULL;
    }
    for (unsigned i = 0; i < img.nsegments; i++)
        if ((*err = load_segment(p, e.data, &img.segments[i])) != 0)
            return NULL;
    uintptr_t startup;
    if ((*err = map_stack(p, argc, argv, proto, &startup)) != 0)
        return NULL;
    return thread_create(p, img.entry, startup & ~15UL, startup, prio, K_SCHED_RR, 0, err);
}

/* ---- watches and exceptions ---- */

#define DEATH_PULSE_PRIORITY 200

/* P just died: a pulse to each watcher.  ipc_lock held; the watch list
 * itself is freed at teardown (dropping references needs the lock free). */
static void notify_watchers(struct process *p)
{
    for (struct process_watch *w = p->watches; w; w = w->next) {
        int r = connection_pulse_locked(w->conn, w->code, (uint64_t)p->exit_status,
                                        DEATH_PULSE_PRIORITY);
        if (r)
            kprintf("process %lu: death notice not delivered (error %d)\n", p->pid, -r);
    }
}

int process_watch(struct process *p, struct connection *conn, uint32_t code)
{
    struct process_watch *w = kzalloc(sizeof(*w));
    if (!w)
        return -E_NOMEM;
    object_get(&conn->obj);
    w->conn = conn;
    w->code = code;
    bool was = spin_lock_irqsave(&ipc_lock);
    spin_lock(&p->lock);
    bool dead = p->state == P_DEAD;
    if (!dead) {
        w->next = p->watches;
        p->watches = w;
    }
    spin_unlock(&p->lock);
    int r = dead ? connection_pulse_locked(conn, code, (uint64_t)p->exit_status, DEATH_PULSE_PRIORITY)
                 : 0;
    spin_unlock_irqrestore(&ipc_lock, was);
    if (dead) {
        object_put(&conn->obj);
        kfree(w);
    }
    return r;
}

int process_set_exception(struct process *p, struct connection *conn)
{
    if (conn)
        object_get(&conn->obj);
    bool was = spin_lock_irqsave(&ipc_lock);
    /* A dead process is torn down already or soon: a connection set now
     * would never be dropped (and could keep its own channel's creator,
     * the process itself, alive for ever). */
    bool dead = conn && p->state == P_DEAD;
    struct connection *old = dead ? conn : p->exc_conn;
    if (!dead)
        p->exc_conn = conn;
    spin_unlock_irqrestore(&ipc_lock, was);
    if (old)
        object_put(&old->obj);
    return dead ? -E_DEAD : 0;
}

static struct connection *exception_conn(struct process *p)
{
    bool was = spin_lock_irqsave(&ipc_lock);
    struct connection *c = p->exc_conn;
    if (c)
        object_get(&c->obj);
    spin_unlock_irqrestore(&ipc_lock, was);
    return c;
}

_Static_assert(sizeof(struct k_exception) <= K_SMALL_MSG,
               "an exception goes out through channel_kernel_send, staged in the thread");

void process_user_fault(const struct k_exception *e, const char *what)
{
    struct thread *t = current_thread();
    struct process *p = t->proc;
    /* The first touch of an untouched page is not an error. */
    if (e->vector == 14 && !(e->error & 1)) {
        irq_enable();
        bool resolved = vm_fault_untouched(&p->vm, e->addr, e->error & 2, e->error & 16);
        irq_disable();
        if (resolved)
            return;
    }
    /* A write to a page shared copy-on-write is not an error. */
    if (e->vector == 14 && (e->error & 3) == 3) {
        irq_enable();
        bool resolved = vm_cow_break(&p->vm, e->addr);
        irq_disable();
        if (resolved)
            return;
    }
    long status = K_EXIT_FAULT(e->vector);
    struct connection *c = thread_killed(t) ? NULL : exception_conn(p);
    if (c) {
        /* A handle to the faulting process rides with the message: the
         * handler may be its creator's (K_SPAWN_EXCEPTION_INHERIT) and
         * hold none of its own to read it by. */
        long r = channel_kernel_send(c, e, sizeof(*e), &p->obj, K_RIGHT_READ);
        object_put(&c->obj);
        if (r == K_EXC_RESUME && !thread_killed(t))
            return;
        if (r > 0)
            status = r;
        else if (r < 0)
            kprintf("fault: exception handler of process %lu unreachable (error %ld)\n",
                    p->pid, -r);
    }
    if (!thread_killed(t))
        kprintf("fault: process %lu (%s) thread %lu: %s at rip %#lx, address %#lx, error %#x; "
                "killed\n", p->pid, p->name, t->tid, what, e->rip, e->addr, e->error);
    process_kill(p, status);
    thread_exit(status);
}

/* ---- exit and teardown ---- */

/* P has no thread left (its last exited, or it never had one and was
 * killed): watchers and waiters learn its status.  ipc_lock and P's lock
 * held. */
static void mark_dead(struct process *p)
{
    notify_watchers(p);
    if (p->pid == init_pid && init_exit_ends_machine) {
        kprintf("init exited with status %ld\n", p->exit_status);
        qemu_exit(p->exit_status == 0 ? QEMU_EXIT_PASS : QEMU_EXIT_FAIL);
    }
    p->state = P_DEAD;
    for (struct thread *w = p->waiters; w;) {
        struct thread *next = w->ipc_next;
        w->ipc_ret = p->exit_status;
        sched_wake(w);
        w = next;
    }
    p->waiters = NULL;
}

void process_thread_exiting(struct thread *t, long status)
{
    struct process *p = t->proc;
    bool was = spin_lock_irqsave(&ipc_lock);
    (void)was;
    ipc_thread_gone(t);
    spin_lock(&p->lock);
    struct thread **pp = &p->threads;
    while (*pp != t)
        pp = &(*pp)->proc_next;
    *pp = t->proc_next;
    bool last = --p->nthreads == 0;
    t->exit_status = status;
    if (t->joiner) {
        t->joiner->ipc_ret = status;
        sched_wake(t->joiner);
        t->joiner = NULL;
    }
    t->last_of_process = last;
    if (last) {
        if (p->state == P_ALIVE) {
            p->exit_status = status;
            p->state = P_DYING;   /* no thread can start in it now */
        }
        /* Its handles close before its death is told, as a POSIX parent
         * expects: once wait returns, the child's pipe ends are closed. */
        p->closing = true;
        spin_unlock(&p->lock);
        spin_unlock_irqrestore(&ipc_lock, was);
        /* With interrupts on, as a system call runs: closing a handle may
         * take vm_lock (a memory object's last reference), and a thread
         * that dies of a fault comes here from the trap with them off. */
        irq_enable();
        handle_table_empty(&p->handles);
        was = spin_lock_irqsave(&ipc_lock);
        spin_lock(&p->lock);
        mark_dead(p);
    }
    spin_unlock(&p->lock);
    t->state = T_DEAD;
    sched_block(&ipc_lock);
}

/* In the next thread, just after the dead one was switched away from:
 * interrupts off, so only queue it. */
void process_reap_thread(struct thread *t)
{
    spin_lock(&zombie_lock);
    t->rq_next = zombies;
    zombies = t;
    zombie_count++;
    spin_unlock(&zombie_lock);
}

/* Frees what a dead process held; once (the last thread's reaping, or
 * the destruction of a process that never ran). */
static void process_teardown(struct process *p)
{
    process_set_exception(p, NULL);
    while (p->watches) {
        struct process_watch *w = p->watches;
        p->watches = w->next;
        object_put(&w->conn->obj);
        kfree(w);
    }
    if (p->handles.slots)
        handle_table_destroy(&p->handles);
    if (p->vm.pml4) {
        if (read_cr3() == p->vm.pml4)
            write_cr3(paging_kernel_cr3());
        vm_space_destroy(&p->vm);
    }
}

void reap_zombies(void)
{
    for (;;) {
        bool was = spin_lock_irqsave(&zombie_lock);
        struct thread *t = zombies;
        if (t) {
            zombies = t->rq_next;
            zombie_count--;
        }
        spin_unlock_irqrestore(&zombie_lock, was);
        if (!t)
            return;
        struct process *p = t->proc;
        kstack_free(t->kstack_top, THREAD_KSTACK_PAGES);
        t->kstack_top = 0;
        if (t->att_obj) {
            object_put(t->att_obj);
            t->att_obj = NULL;
        }
        if (t->rx_obj) {             /* passed to it, never installed */
            object_put(t->rx_obj);
            t->rx_obj = NULL;
        }
        if (t->last_of_process)
            process_teardown(p);
        object_put(&t->obj);         /* the thread's own reference (and, in
                                        thread_destroy, the one on its process) */
    }
}

void process_kill(struct process *p, long status)
{
    bool was = spin_lock_irqsave(&ipc_lock);
    spin_lock(&p->lock);
    if (p->state == P_ALIVE) {
        p->state = P_DYING;
        p->exit_status = status;
    }
    for (struct thread *t = p->threads; t; t = t->proc_next) {
        thread_mark(t, T_KILLED);
        ipc_interrupt(t);
        /* Its exit is short kernel work: done at once, not when nothing
         * else wants the CPU (a busy CPU starved killed low threads). */
        if (t->prio < K_PRIO_MAX)
            sched_set_prio(t, K_PRIO_MAX);
    }
    /* One made by process_create that never got a thread ends here: its
     * handles closed first, then its death told, as for one that ran. */
    bool empty = p->nthreads == 0 && p->state != P_DEAD && !p->closing;
    if (empty)
        p->closing = true;
    spin_unlock(&p->lock);
    spin_unlock_irqrestore(&ipc_lock, was);
    if (empty) {
        handle_table_empty(&p->handles);
        was = spin_lock_irqsave(&ipc_lock);
        spin_lock(&p->lock);
        mark_dead(p);
        spin_unlock(&p->lock);
        spin_unlock_irqrestore(&ipc_lock, was);
        process_teardown(p);        /* what it held goes now, not with its last handle */
    }
}

void process_destroy(struct process *p)
{
    process_teardown(p);
    kfree(p);
    __atomic_sub_fetch(&process_live, 1, __ATOMIC_RELAXED);
}

/* ---- process_spawn ---- */

struct spawn_args {
    char path[128];
    int argc;
    const char *argv[K_SPAWN_MAX_ARGS];
    char strings[K_SPAWN_MAX_ARGS][K_SPAWN_MAX_ARG_LEN];
    struct k_spawn sp;
    struct k_spawn_handle handles[K_STARTUP_MAX_HANDLES];
};

/* Copies a NUL-terminated user string of at most MAX-1 bytes. */
static int fetch_string(char *dst, size_t max, uintptr_t src)
{
    for (size_t i = 0; i < max; i++) {
        if (copy_from_user(&dst[i], (const void *)(src + i), 1))
            return -E_FAULT;
        if (!dst[i])
            return 0;
    }
    return -E_TOOBIG;
}

static int fetch_spawn(struct spawn_args *a, long upath, long len, long uspawn)
{
    if (len <= 0 || len >= (long)sizeof(a->path))
        return -E_TOOBIG;
    if (copy_from_user(a->path, (const void *)upath, (size_t)len))
        return -E_FAULT;
    a->path[len] = 0;
    memset(&a->sp, 0, sizeof(a->sp));
    if (uspawn && copy_from_user(&a->sp, (const void *)uspawn, sizeof(a->sp)))
        return -E_FAULT;
    if (a->sp.argc > K_SPAWN_MAX_ARGS || a->sp.nhandles > K_STARTUP_MAX_HANDLES ||
        a->sp.priority > K_PRIO_MAX)
        return -E_TOOBIG;
    if (a->sp.prio_max > K_PRIO_MAX)
        return -E_INVAL;
    a->argc = (int)a->sp.argc;
    for (int i = 0; i < a->argc; i++) {
        uintptr_t up;
        if (copy_from_user(&up, &a->sp.argv[i], sizeof(up)))
            return -E_FAULT;
        int err = fetch_string(a->strings[i], K_SPAWN_MAX_ARG_LEN, up);
        if (err)
            return err;
        a->argv[i] = a->strings[i];
    }
    if (a->sp.nhandles &&
        copy_from_user(a->handles, a->sp.handles, a->sp.nhandles * sizeof(a->handles[0])))
        return -E_FAULT;
    return 0;
}

/* Gives the child the handles asked for; checks every one first. */
static int pass_handles(struct process *parent, struct process *child,
                        const struct spawn_args *a, struct k_startup *st)
{
    struct kobject *objs[K_STARTUP_MAX_HANDLES];
    uint32_t rights[K_STARTUP_MAX_HANDLES];
    unsigned n = a->sp.nhandles;
    int err = 0;
    unsigned got = 0;
    for (; got < n && !err; got++) {
        uint32_t have = 0;
        err = handle_get(&parent->handles, a->handles[got].handle, K_OBJ_NONE,
                         K_RIGHT_TRANSFER, &objs[got], &have);
        if (!err && a->handles[got].rights == K_RIGHTS_SAME)
            rights[got] = have;                 /* as the caller holds it */
        else if (!err)
            rights[got] = a->handles[got].rights;
        if (!err && (rights[got] & ~have)) {
            object_put(objs[got]);
            err = -E_RIGHTS;
        }
    }
    if (err)
        got--;
    for (unsigned i = 0; i < got; i++) {
        if (!err) {
            long h = handle_install(&child->handles, objs[i], rights[i]);
            if (h < 0)
                err = (int)h;
            st->handles[i].handle = (uint32_t)h;
            st->handles[i].type = objs[i]->type;
            memcpy(st->handles[i].name, a->handles[i].name, sizeof(st->handles[i].name));
            st->handles[i].name[sizeof(st->handles[i].name) - 1] = 0;
        }
        object_put(objs[i]);
    }
    st->nhandles = err ? 0 : n;
    return err;
}

static const char *base_name(const char *path)
{
    const char *b = path;
    for (const char *s = path; *s; s++)
        if (*s == '/')
            b = s + 1;
    return b;
}

/* Spawning takes a capability: a handle (READ) to where the program comes
 * from.  Today that is the boot image only; any other object is refused. */
static int check_image(struct process *parent, uint32_t h)
{
    if (!h)
        return -E_PERM;
    struct kobject *o;
    int err = handle_get(&parent->handles, h, K_OBJ_VMO, K_RIGHT_READ, &o, NULL);
    if (err)
        return err;
    err = (struct vmo *)o == boot_image_vmo ? 0 : -E_PERM;
    object_put(o);
    return err;
}

/* The child's priority and ceiling: at most the parent's ceiling, and the
 * priority at most the ceiling (0: the caller's priority / the child's
 * priority). */
static int spawn_priority(struct process *parent, const struct k_spawn *sp, uint8_t *prio,
                          uint8_t *ceiling)
{
    uint32_t p = sp->priority ? sp->priority : current_thread()->base_prio;
    uint32_t c = sp->prio_max ? sp->prio_max : p;
    if (c > parent->prio_max || p > c)
        return -E_PERM;
    *prio = (uint8_t)p;
    *ceiling = (uint8_t)c;
    return 0;
}

/* What spawning and creating share: the arguments fetched and checked,
 * the child made with its ceiling, exception connection and start-up
 * handles.  Returns the child (a reference) or NULL with *ERR; the
 * caller frees A. */
static struct process *child_begin(struct spawn_args *a, long upath, long len, long uspawn,
                                   struct k_startup *st, uint8_t *prio, int *err)
{
    struct process *parent = current_thread()->proc;
    *err = fetch_spawn(a, upath, len, uspawn);
    if (!*err)
        *err = check_image(parent, a->sp.image);
    uint8_t ceiling = 0;
    if (!*err)
        *err = spawn_priority(parent, &a->sp, prio, &ceiling);
    struct connection *exc = NULL;
    if (!*err && a->sp.exception == K_SPAWN_EXCEPTION_INHERIT)
        exc = exception_conn(parent);           /* ours, or none */
    else if (!*err && a->sp.exception)
        *err = connection_lookup(a->sp.exception, K_RIGHT_SEND, &exc);
    struct process *child = *err ? NULL : process_create(base_name(a->path), err);
    if (child) {
        child->prio_max = ceiling;
        if (exc)
            process_set_exception(child, exc);  /* before it can run: no fault escapes */
        memset(st, 0, sizeof(*st));
        st->magic = K_STARTUP_MAGIC;
        *err = pass_handles(parent, child, a, st);
    }
    if (exc)
        object_put(&exc->obj);
    if (child && *err) {
        object_put(&child->obj);
        child = NULL;
    }
    return child;
}

#define CHILD_RIGHTS (K_RIGHT_MANAGE | K_RIGHT_WAIT | K_RIGHT_MAP | K_RIGHT_READ | \
                      K_RIGHT_WRITE | K_RIGHT_DUP | K_RIGHT_TRANSFER)

long process_spawn_user(long upath, long len, long uspawn)
{
    struct spawn_args *a = kmem_alloc(sizeof(*a));
    if (!a)
        return -E_NOMEM;
    struct k_startup st;
    uint8_t prio = 0;
    int err;
    struct process *child = child_begin(a, upath, len, uspawn, &st, &prio, &err);
    struct thread *t = NULL;
    if (child)
        t = process_load_boot(child, a->path, a->argc, a->argv, &st, prio, &err);
    long h = err;
    if (t) {
        h = handle_install(&current_thread()->proc->handles, &child->obj, CHILD_RIGHTS);
        if (h < 0)
            thread_mark(t, T_KILLED);
        thread_start(t);
    }
    if (child)
        object_put(&child->obj);
    kmem_free(a, sizeof(*a));
    return h;
}

/* An empty process: no thread, no memory; its creator maps memory into
 * it (vmo_map with its handle) and starts threads (thread_start).  The
 * same capability as spawning; the start-up handles are installed and
 * their numbers in the child written back to the caller's k_spawn. */
long process_create_user(long uname, long len, long uspawn)
{
    if (!uspawn)
        return -E_PERM;             /* no image handle */
    struct spawn_args *a = kmem_alloc(sizeof(*a));
    if (!a)
        return -E_NOMEM;
    struct k_startup st;
    uint8_t prio = 0;
    int err;
    struct process *child = child_begin(a, uname, len, uspawn, &st, &prio, &err);
    for (unsigned i = 0; child && !err && i < a->sp.nhandles; i++)
        if (copy_to_user((void *)(uintptr_t)&a->sp.handles[i].handle, &st.handles[i].handle,
                         sizeof(uint32_t)))
            err = -E_FAULT;
    long h = err;
    if (child && !err)
        h = handle_install(&current_thread()->proc->handles, &child->obj, CHILD_RIGHTS);
    if (child)
        object_put(&child->obj);    /* a failed one is destroyed here */
    kmem_free(a, sizeof(*a));
    return h;
}
