/*
 * syscall: the dispatch table, generated from abi/kestrel/syscalls.h, and
 * the handlers that are not part of a kernel object's own file.
 *
 * Every handler checks all of its arguments (handles, rights, user
 * pointers, sizes) before it changes anything; user memory is only touched
 * through copy_from_user / copy_to_user, which turn a bad pointer into
 * -E_FAULT.  System calls whose objects are not built yet answer -E_NOSYS.
 */
#include "core/syscall.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/iommu.h"
#include "arch/x86_64/asm.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/lapic.h"
#include "base/string.h"
#include "core/bootinfo.h"
#include "core/channel.h"
#include "core/frame.h"
#include "core/ipc.h"
#include "core/interrupt.h"
#include "core/kmem.h"
#include "core/printk.h"
#include "core/process.h"
#include "core/resource.h"
#include "core/sched.h"
#include "core/slab.h"
#include "core/timer.h"
#include "core/vm.h"
#include "core/vmo.h"
#include "kestrel/errors.h"
#include "kestrel/msg.h"
#include "kestrel/resource.h"
#include "kestrel/rights.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"

#define SYS_ENTRY(num, name, nargs) [num] = (void *)sys_##name,
void *const syscall_table[KESTREL_SYSCALL_COUNT] = { KESTREL_SYSCALLS(SYS_ENTRY) };
#undef SYS_ENTRY


void syscall_init_cpu(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    /* sysret: CS = base+16, SS = base+8 (user); syscall: kernel CS, SS = +8 */
    wrmsr(0xC0000081, (uint64_t)(GDT_UDATA - 8 - 3) << 48 | (uint64_t)GDT_KCODE << 32);
    wrmsr(0xC0000082, K_ENTRY_VA);    /* per address space: arch paging.h */
    wrmsr(0xC0000084, 0x47700);      /* clear TF, IF, DF, NT, AC, IOPL */
}

static struct process *self(void)
{
    return current_thread()->proc;
}

/* The process named by H (0: the caller) with RIGHTS; a reference. */
static int process_lookup(long h, uint32_t rights, struct process **out)
{
    if (h == 0) {
        *out = self();
        object_get(&(*out)->obj);
        return 0;
    }
    struct kobject *o;
    int err = handle_get(&self()->handles, h, K_OBJ_PROCESS, rights, &o, NULL);
    *out = (struct process *)o;
    return err;
}

/* The process named by H with RIGHTS, for a call on its memory: -E_DEAD
 * once it has died (its address space is or will be torn down). */
static int space_lookup(long h, uint32_t rights, struct process **out)
{
    int err = process_lookup(h, rights, out);
    if (!err && __atomic_load_n(&(*out)->state, __ATOMIC_ACQUIRE) == P_DEAD) {
        object_put(&(*out)->obj);
        return -E_DEAD;
    }
    return err;
}

static int thread_lookup(long h, uint32_t rights, struct thread **out)
{
    if (h == 0) {
        *out = current_thread();
        object_get(&(*out)->obj);
        return 0;
    }
    struct kobject *o;
    int err = handle_get(&self()->handles, h, K_OBJ_THREAD, rights, &o, NULL);
    *out = (struct thread *)o;
    return err;
}

/* ---- diagnostics ---- */

long sys_debug_write(long buf, long len)
{
    char chunk[256];
    if (len < 0 || len > 65536)
        return -E_TOOBIG;
    if (!user_range_ok((uintptr_t)buf, (size_t)len))
        return -E_FAULT;
    for (long done = 0; done < len;) {
        long n = len - done < (long)sizeof(chunk) ? len - done : (long)sizeof(chunk);
        if (copy_from_user(chunk, (const char *)buf + done, (size_t)n))
            return -E_FAULT;
        kprintf("%.*s", (int)n, chunk);
        done += n;
    }
    return len;
}

static long platform_info(long out)
{
    struct k_platform p = { .iommus = acpi_dmar.ndrhd,
                            .dma_confined = iommu_units_on > 0 &&
                                            iommu_units_on == acpi_dmar.ndrhd };
    if (acpi_mcfg.n) {
        p.ecam_base = acpi_mcfg.ecam[0].base;
        p.ecam_segment = acpi_mcfg.ecam[0].segment;
        p.bus_start = acpi_mcfg.ecam[0].bus_start;
        p.bus_end = acpi_mcfg.ecam[0].bus_end;
    }
    return copy_to_user((void *)out, &p, sizeof(p));
}

long sys_sys_info(long what, long out, long ph)
{
    if (what == K_INFO_PLATFORM)
        return platform_info(out);
    if (what == K_INFO_SERVING) {
        /* Ours, or (READ) another's: a supervisor watches what a service
         * holds without trusting the service to say. */
        struct process *p;
        int err = process_lookup(ph, K_RIGHT_READ, &p);
        if (err)
            return err;
        struct k_serving sv = { 0 };
        sv.count = ipc_serving(p, sv.ids, 32);
        sv.n = sv.count < 32 ? sv.count : 32;
        object_put(&p->obj);
        return copy_to_user((void *)out, &sv, sizeof(sv));
    }
    if (what != K_INFO_KERNEL_OBJECTS)
        return -E_INVAL;
    reap_zombies();
    struct frame_stats st;
    frame_get_stats(&st);
    struct k_sysinfo info = {
        .kmalloc_objects = kmalloc_live_objects(),
        .kmem_pages = kmem_big_live,
        .free_bytes = st.free_bytes,
        .threads = thread_live,
        .processes = process_live,
        .channels = channel_live,
        .connections = connection_live,
        .ncpus = cpus_online(),
        .cpu = this_cpu()->id,
        .ticks = this_cpu()->ticks,
        .ram_bytes = st.ram_bytes,
        .reserved_bytes = st.reserved_bytes,
    };
    return copy_to_user((void *)out, &info, sizeof(info));
}

long sys_clock_get(void)
{
    return (long)time_ns();
}

/* ---- handles ---- */

long sys_handle_close(long h)
{
    return handle_close(&self()->handles, h);
}

long sys_handle_dup(long h, long rights)
{
    reap_before_alloc();
    if (rights < 0 || (rights & ~(long)K_RIGHTS_ALL))
        return -E_INVAL;
    return handle_dup(&self()->handles, h, (uint32_t)rights);
}

/* ---- threads ---- */

static int attr_fetch(long uattr, struct k_thread_attr *a)
{
    struct thread *t = current_thread();
    *a = (struct k_thread_attr){ t->base_prio, t->policy, 0 };
    if (uattr && copy_from_user(a, (const void *)uattr, sizeof(*a)))
        return -E_FAULT;
    if (a->priority == 0)
        a->priority = t->base_prio;
    if (a->policy == 0)
        a->policy = t->policy;
    if (a->priority < K_PRIO_MIN || a->priority > K_PRIO_MAX ||
        (a->policy != K_SCHED_FIFO && a->policy != K_SCHED_RR))
        return -E_INVAL;
    if (a->priority > t->proc->prio_max)
        return -E_PERM;                     /* above the process's ceiling */
    uint64_t online = 0;
    for (unsigned c = 0; c < cpu_count; c++)
        if (cpus[c].online)
            online |= 1UL << c;
    if (a->cpu_mask && !(a->cpu_mask & online))
        return -E_INVAL;
    return 0;
}

long sys_thread_create(long entry, long stack, long arg, long uattr)
{
    reap_before_alloc();
    struct k_thread_attr a;
    int err = attr_fetch(uattr, &a);
    if (err)
        return err;
    if (!user_range_ok((uintptr_t)entry, 1) || !user_range_ok((uintptr_t)stack, 0))
        return -E_FAULT;
    struct thread *t = thread_create(self(), (uintptr_t)entry, (uintptr_t)stack, (uint64_t)arg,
                                     (uint8_t)a.priority, (uint8_t)a.policy, a.cpu_mask, &err);
    if (!t)
        return err;
    long h = handle_install(&self()->handles, &t->obj, K_RIGHTS_ALL);
    if (h < 0) {
        thread_mark(t, T_KILLED);          /* never ran: exits at once when started */
    }
    thread_start(t);
    return h;
}

/* thread_join / process_wait: the exit status goes to *USTATUS (checked
 * before waiting; only a racing unmap makes this copy fail). */
static long wait_result(long r, long status, long ustatus)
{
    if (r == 0 && ustatus && copy_to_user((void *)ustatus, &status, sizeof(status)))
        return -E_FAULT;
    return r;
}

long sys_thread_exit(long status)
{
    thread_exit(status);
}

long sys_thread_join(long h, long ustatus)
{
    if (ustatus && !user_range_ok((uintptr_t)ustatus, sizeof(long)))
        return -E_FAULT;
    struct thread *t;
    int err = thread_lookup(h, K_RIGHT_WAIT, &t);
    if (err)
        return err;
    long status = 0;
    long r = ipc_join_thread(t, &status);
    object_put(&t->obj);
    return wait_result(r, status, ustatus);
}

long sys_thread_sched(long h, long prio, long policy)
{
    if (prio < K_PRIO_MIN || prio > K_PRIO_MAX || (policy != K_SCHED_FIFO && policy != K_SCHED_RR))
        return -E_INVAL;
    struct thread *t;
    int err = thread_lookup(h, K_RIGHT_MANAGE, &t);
    if (err)
        return err;
    /* Not above the thread's process's ceiling, nor the caller's. */
    if (prio > t->proc->prio_max || prio > self()->prio_max) {
        object_put(&t->obj);
        return -E_PERM;
    }
    bool was = spin_lock_irqsave(&ipc_lock);
    if (t->state == T_DEAD) {
        spin_unlock_irqrestore(&ipc_lock, was);
        object_put(&t->obj);
        return -E_DEAD;
    }
    t->base_prio = (uint8_t)prio;
    t->policy = (uint8_t)policy;
    if (t->prio < prio)
        sched_set_prio(t, (uint8_t)prio);
    else
        ipc_update_prio(t);
    spin_unlock_irqrestore(&ipc_lock, was);
    if (t == current_thread())
        schedule();               /* a lowered priority may let others run */
    object_put(&t->obj);
    return 0;
}

long sys_thread_affinity(long h, long mask)
{
    struct k_thread_attr a;
    struct thread *t;
    int err = attr_fetch(0, &a);
    if (err)
        return err;
    uint64_t online = 0;
    for (unsigned c = 0; c < cpu_count; c++)
        if (cpus[c].online)
            online |= 1UL << c;
    if (!((uint64_t)mask & online))
        return -E_INVAL;
    if ((err = thread_lookup(h, K_RIGHT_MANAGE, &t)) != 0)
        return err;
    err = sched_set_affinity(t, (uint64_t)mask);
    object_put(&t->obj);
    return err;
}

/* The calling thread's FS base (thread-local storage: Linux's
 * arch_prctl(ARCH_SET_FS), made by its personality).  Kept per thread and
 * loaded at each switch to it; any user-half address, 0 included (a
 * non-canonical one would fault in wrmsr: refused). */
long sys_thread_set_fs(long base)
{
    if ((uint64_t)base > 0x00007ffffffff000UL)
        return -E_INVAL;
    struct thread *t = current_thread();
    bool was = irq_save();
    struct cpu *c = this_cpu();
    t->fs_base = (uint64_t)base;
    wrmsr(MSR_FS_BASE, (uint64_t)base);
    c->fs_base = (uint64_t)base;
    irq_restore(was);
    return 0;
}

long sys_thread_yield(void)
{
    current_thread()->slice = 0;
    schedule();
    return 0;
}

long sys_thread_sleep(long ns)
{
    if (ns < 0)
        return -E_INVAL;
    return ipc_sleep((uint64_t)ns);
}

/* ---- processes ---- */

long sys_process_exit(long status)
{
    process_kill(self(), status);
    thread_exit(status);
}

long sys_process_kill(long h, long status)
{
    struct process *p;
    int err = process_lookup(h, K_RIGHT_MANAGE, &p);
    if (err)
        return err;
    bool me = p == self();
    process_kill(p, status);
    object_put(&p->obj);
    if (me)
        thread_exit(status);
    return 0;
}

long sys_process_wait(long h, long ustatus)
{
    if (ustatus && !user_range_ok((uintptr_t)ustatus, sizeof(long)))
        return -E_FAULT;
    struct process *p;
    int err = process_lookup(h, K_RIGHT_WAIT, &p);
    if (err)
        return err;
    long status = 0;
    long r = ipc_wait_process(p, &status);
    object_put(&p->obj);
    return wait_result(r, status, ustatus);
}

long sys_process_create(long uname, long len, long uspawn)
{
    reap_before_alloc();
    return process_create_user(uname, len, uspawn);
}

/* A thread of process PH (MANAGE; the caller's own with 0) entering user
 * mode with every register from *UREGS, at a priority within that
 * process's ceiling.  rip, rsp and fs_base must be user addresses (an
 * iret to a non-canonical address would fault in the kernel). */
long sys_thread_start(long ph, long uregs, long uattr)
{
    reap_before_alloc();
    struct k_regs r;
    if (!uregs || copy_from_user(&r, (const void *)uregs, sizeof(r)))
        return -E_FAULT;
    if (r.rip > K_USER_TOP || r.rsp > K_USER_TOP || r.fs_base > K_USER_TOP)
        return -E_INVAL;
    struct k_thread_attr a;
    int err = attr_fetch(uattr, &a);
    if (err == -E_PERM)
        err = 0;                    /* the ceiling that counts is the target's */
    if (err)
        return err;
    struct process *p;
    if ((err = process_lookup(ph, K_RIGHT_MANAGE, &p)) != 0)
        return err;
    struct thread *t = NULL;
    if (a.priority > p->prio_max)
        err = -E_PERM;
    else
        t = thread_create_regs(p, 0, 0, 0, &r, (uint8_t)a.priority, (uint8_t)a.policy,
                               a.cpu_mask, &err);
    object_put(&p->obj);
    if (!t)
        return err;
    long h = handle_install(&self()->handles, &t->obj, K_RIGHTS_ALL);
    if (h < 0)
        thread_mark(t, T_KILLED);           /* never runs: exits at once when started */
    thread_start(t);
    return h;
}

long sys_process_spawn(long upath, long len, long uspawn)
{
    reap_before_alloc();
    return process_spawn_user(upath, len, uspawn);
}

/* ---- memory ---- */

/* True if [phys, phys + size) holds a register page of a device the
 * kernel drives itself: a local APIC, an IOAPIC, an IOMMU (whoever maps
 * one could reroute interrupts or undo DMA confinement). */
static bool kernel_device_page(uint64_t phys, uint64_t size)
{
    uint64_t pages[1 + ACPI_MAX_IOAPICS + ACPI_MAX_DRHD];
    unsigned n = 0;
    pages[n++] = acpi.lapic_addr;
    for (unsigned i = 0; i < acpi.nioapics; i++)
        pages[n++] = acpi.ioapics[i].addr;
    for (unsigned i = 0; i < acpi_dmar.ndrhd; i++)
        pages[n++] = acpi_dmar.drhd[i].base;
    for (unsigned i = 0; i < n; i++) {
        uint64_t p = pages[i] & ~4095UL;
        if (p < phys + size && phys < p + 4096)
            return true;
    }
    return false;
}

/* A physical memory object needs an MMIO resource covering the range, and
 * the range must not be RAM (that is the kernel's to hand out) nor a
 * device of the kernel's own. */
static int phys_allowed(long rh, uint64_t phys, uint64_t size)
{
    struct kobject *o;
    int err = handle_get(&self()->handles, rh, K_OBJ_RESOURCE, K_RIGHT_MANAGE, &o, NULL);
    if (err)
        return err;
    bool covers = resource_covers((struct resource *)o, K_RES_MMIO, phys, size);
    object_put(o);
    if (!covers)
        return -E_PERM;
    for (unsigned i = 0; i < bootinfo.nregions; i++) {
        const struct boot_region *r = &bootinfo.regions[i];
        if (r->type == REGION_RAM && phys < r->base + r->len && r->base < phys + size)
            return -E_PERM;
    }
    return kernel_device_page(phys, size) ? -E_PERM : 0;
}

long sys_vmo_create(long size, long kind, long phys, long rh)
{
    reap_before_alloc();
    if (size <= 0)
        return -E_INVAL;
    bool fork_shared = kind == (long)(K_VMO_ANON | K_VMO_FORK_SHARED);
    if (fork_shared)
        kind = K_VMO_ANON;
    if (kind == K_VMO_PHYS) {
        if (phys < 0 || (phys & 4095) || (uint64_t)size > K_VMO_MAX_SIZE)
            return -E_INVAL;
        int err = phys_allowed(rh, (uint64_t)phys, ((uint64_t)size + 4095) & ~4095UL);
        if (err)
            return err;
    }
    int err;
    struct vmo *v = vmo_create((uint64_t)size, (uint32_t)kind, (uint64_t)phys, &err);
    if (!v)
        return err;
    v->uncached = kind == K_VMO_PHYS;
    v->fork_shared = fork_shared;
    long h = handle_install(&self()->handles, &v->obj,
                            K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP | K_RIGHT_DUP | K_RIGHT_TRANSFER);
    object_put(&v->obj);
    return h;
}

/* ---- debugging: another process's memory, with K_RIGHT_READ ---- */

/* process_read and process_write: LEN bytes between BUF here and ADDR
 * in process PH, through a bounce buffer; the bytes done (up to the first
 * page refused), or an error. */
static long process_copy(long ph, long addr, long buf, long len, long max, bool write)
{
    if (len < 0 || len > max)
        return -E_TOOBIG;
    if (!user_range_ok((uintptr_t)buf, (size_t)len) || !user_range_ok((uintptr_t)addr, (size_t)len))
        return -E_FAULT;
    struct process *p;
    int err = space_lookup(ph, write ? K_RIGHT_WRITE : K_RIGHT_READ, &p);
    if (err)
        return err;
    char bounce[512];
    long done = 0;
    while (done < len && !err) {
        long n = len - done < (long)sizeof(bounce) ? len - done : (long)sizeof(bounce);
        uintptr_t at = (uintptr_t)addr + (uintptr_t)done;
        if (write) {
            err = copy_from_user(bounce, (const char *)buf + done, (size_t)n);
            if (!err)
                err = vm_poke(&p->vm, at, bounce, (size_t)n);
        } else {
            err = vm_copy_in(&p->vm, bounce, at, (size_t)n);
            if (!err)
                err = copy_to_user((char *)buf + done, bounce, (size_t)n);
        }
        if (!err)
            done += n;
    }
    object_put(&p->obj);
    return done ? done : err;
}

long sys_process_read(long ph, long addr, long buf, long len)
{
    return process_copy(ph, addr, buf, len, 65536, false);
}

/* A debugger's write (fault injection, breakpoints): needs the process
 * handle's WRITE right; code pages too, only the process's own memory
 * (vm_poke), never itself (its code stays W^X). */
long sys_process_write(long ph, long addr, long buf, long len)
{
    return ph == 0 ? -E_PERM : process_copy(ph, addr, buf, len, 4096, true);
}

long sys_process_regions(long ph, long out, long max)
{
    if (max < 0 || max > 4096)
        return -E_TOOBIG;
    if (!user_range_ok((uintptr_t)out, (size_t)max * sizeof(struct k_region)))
        return -E_FAULT;
    struct process *p;
    int err = space_lookup(ph, K_RIGHT_READ, &p);
    if (err)
        return err;
    /* Gathered under the space's lock, copied out after: the copy may
     * fault (copy-on-write) and need that lock. */
    struct k_region *kr = max ? kmem_alloc((size_t)max * sizeof(*kr)) : NULL;
    if (max && !kr) {
        object_put(&p->obj);
        return -E_NOMEM;
    }
    long n = 0;
    spin_lock(&p->vm.lock);
    if (p->vm.dead)
        err = -E_DEAD;
    for (struct vm_region *r = p->vm.regions; r; r = r->next, n++)
        if (n < max)
            kr[n] = (struct k_region){ r->start, r->size, r->prot, 0 };
    spin_unlock(&p->vm.lock);
    object_put(&p->obj);
    if (!err && max && copy_to_user((void *)out, kr, (size_t)(n < max ? n : max) * sizeof(*kr)))
        err = -E_FAULT;
    kmem_free(kr, (size_t)max * sizeof(*kr));
    return err ? err : n;
}

long sys_vmo_size(long vh)
{
    struct kobject *o;
    int err = handle_get(&self()->handles, vh, K_OBJ_VMO, 0, &o, NULL);
    if (err)
        return err;
    long size = (long)(((struct vmo *)o)->npages * PAGE_SIZE);
    object_put(o);
    return size;
}

long sys_vmo_clone(long vh)
{
    reap_before_alloc();
    struct kobject *o;
    uint32_t rights = 0;
    int err = handle_get(&self()->handles, vh, K_OBJ_VMO, K_RIGHT_READ, &o, &rights);
    if (err)
        return err;
    struct vmo *c = vmo_clone((struct vmo *)o, &err);
    object_put(o);
    if (!c)
        return err;
    long h = handle_install(&self()->handles, &c->obj, rights);
    object_put(&c->obj);
    return h;
}

long sys_vmo_map(long ph, long vh, long offset, long size, long flags)
{
    uint32_t prot = (uint32_t)flags & 0xfff;
    uintptr_t addr = (uintptr_t)flags & ~0xfffUL;
    uint32_t need = K_RIGHT_MAP | (prot & K_PROT_WRITE ? K_RIGHT_WRITE : 0) |
                    (prot & (K_PROT_READ | K_PROT_EXEC) ? K_RIGHT_READ : 0);
    if (offset < 0 || size <= 0)
        return -E_INVAL;
    struct process *p;
    int err = space_lookup(ph, K_RIGHT_MAP, &p);
    if (err)
        return err;
    struct kobject *o;
    uint32_t have = 0;
    if ((err = handle_get(&self()->handles, vh, K_OBJ_VMO, need, &o, &have)) != 0) {
        object_put(&p->obj);
        return err;
    }
    /* The mapping remembers what the handle allowed: vm_protect cannot
     * raise it past that, whatever happens to the handle later. */
    uint32_t max_prot = (have & K_RIGHT_READ ? K_PROT_READ | K_PROT_EXEC : 0) |
                        (have & K_RIGHT_WRITE ? K_PROT_WRITE : 0);
    long r = vm_map(&p->vm, (struct vmo *)o, (uint64_t)offset, (uint64_t)size, prot, addr, max_prot);
    object_put(o);
    object_put(&p->obj);
    return r;
}

/* fork's address space: every region of ours mapped at the same place
 * in the target's, anonymous memory as copy-on-write clones (an object
 * mapped twice here is cloned once, so the copies alias as ours do),
 * device memory and objects made K_VMO_FORK_SHARED shared.  Regions are
 * gathered under our space's lock with a reference on each object, then
 * cloned and mapped without it
 * (vmo_clone takes vm_lock, which comes first).  If the target already
 * has a mapping where one of ours is, vm_map's error is returned and what
 * was mapped so far stays: the caller kills the half-made child. */
struct clone_item {
    uintptr_t start;
    uint64_t size, offset;
    uint32_t prot, max_prot;
    struct vmo *vmo, *copy;
};

long sys_vm_clone(long ph)
{
    reap_before_alloc();
    struct process *p;
    int err = space_lookup(ph, K_RIGHT_MAP, &p);
    if (err)
        return err;
    struct process *me = self();
    if (p == me) {
        object_put(&p->obj);
        return -E_INVAL;
    }
    size_t n = 0, cap = 0;
    struct clone_item *items = NULL;
    for (;;) {                 /* count, allocate, gather: again if it grew */
        spin_lock(&me->vm.lock);
        n = 0;
        for (struct vm_region *r = me->vm.regions; r; r = r->next, n++)
            if (n < cap)
                items[n] = (struct clone_item){ r->start, r->size, r->offset, r->prot,
                                                r->max_prot, r->vmo, NULL };
        if (n <= cap)
            for (size_t i = 0; i < n; i++)
                object_get(&items[i].vmo->obj);
        spin_unlock(&me->vm.lock);
        if (n <= cap)
            break;
        kmem_free(items, cap * sizeof(*items));
        cap = n + 8;
        items = kmem_alloc(cap * sizeof(*items));
        if (!items) {
            object_put(&p->obj);
            return -E_NOMEM;
        }
    }
    for (size_t i = 0; i < n && !err; i++) {
        struct clone_item *it = &items[i];
        for (size_t j = 0; j < i && !it->copy; j++)
            if (items[j].vmo == it->vmo && items[j].copy) {
                it->copy = items[j].copy;
                object_get(&it->copy->obj);
            }
        if (!it->copy) {
            if (it->vmo->kind == K_VMO_ANON && !it->vmo->fork_shared) {
                it->copy = vmo_clone(it->vmo, &err);
            } else {
                it->copy = it->vmo;
                object_get(&it->copy->obj);
            }
        }
        if (it->copy) {
            long r = vm_map(&p->vm, it->copy, it->offset, it->size, it->prot, it->start,
                            it->max_prot);
            if (r < 0)
                err = (int)r;
        }
    }
    for (size_t i = 0; i < n; i++) {
        object_put(&items[i].vmo->obj);
        if (items[i].copy)
            object_put(&items[i].copy->obj);
    }
    kmem_free(items, cap * sizeof(*items));
    object_put(&p->obj);
    return err;
}

long sys_vm_unmap(long ph, long addr, long size)
{
    struct process *p;
    int err = space_lookup(ph, K_RIGHT_MAP, &p);
    if (err)
        return err;
    err = vm_unmap(&p->vm, (uintptr_t)addr, (uint64_t)size);
    object_put(&p->obj);
    return err;
}

long sys_vm_protect(long ph, long addr, long size, long prot)
{
    struct process *p;
    int err = space_lookup(ph, K_RIGHT_MAP, &p);
    if (err)
        return err;
    err = vm_protect(&p->vm, (uintptr_t)addr, (uint64_t)size, (uint32_t)prot);
    object_put(&p->obj);
    return err;
}

/* ---- interrupts, timers, supervision ---- */

long sys_irq_attach(long rh, long irq, long ch, long code)
{
    reap_before_alloc();
    if (irq < 0 || irq >= K_IRQ_MAX || code < 0 || code > 0xffffffffL)
        return -E_INVAL;
    struct kobject *o;
    int err = handle_get(&self()->handles, rh, K_OBJ_RESOURCE, K_RIGHT_MANAGE, &o, NULL);
    if (err)
        return err;
    bool covers = resource_covers((struct resource *)o, K_RES_IRQ, (uint64_t)irq, 1);
    object_put(o);
    if (!covers)
        return -E_PERM;
    struct connection *c;
    if ((err = connection_lookup(ch, K_RIGHT_SEND, &c)) != 0)
        return err;
    struct kinterrupt *k = interrupt_attach((unsigned)irq, c, (uint32_t)code, &err);
    object_put(&c->obj);
    if (!k)
        return err;
    long h = handle_install(&self()->handles, &k->obj, K_RIGHT_MANAGE | K_RIGHT_DUP | K_RIGHT_TRANSFER);
    object_put(&k->obj);
    return h;
}

long sys_irq_ack(long h)
{
    struct kobject *o;
    int err = handle_get(&self()->handles, h, K_OBJ_IRQ, K_RIGHT_MANAGE, &o, NULL);
    if (err)
        return err;
    err = interrupt_ack((struct kinterrupt *)o);
    object_put(o);
    return err;
}

long sys_timer_create(long ch, long code, long value)
{
    reap_before_alloc();
    if (code < 0 || code > 0xffffffffL)
        return -E_INVAL;
    struct connection *c;
    int err = connection_lookup(ch, K_RIGHT_SEND, &c);
    if (err)
        return err;
    struct ktimer *t = timer_create(c, (uint32_t)code, (uint64_t)value);
    object_put(&c->obj);
    if (!t)
        return -E_NOMEM;
    long h = handle_install(&self()->handles, &t->obj, K_RIGHT_MANAGE | K_RIGHT_DUP | K_RIGHT_TRANSFER);
    object_put(&t->obj);
    return h;
}

long sys_timer_set(long h, long first, long period)
{
    if (first < 0 || period < 0 || (period && period < 1000000))
        return -E_INVAL;                  /* periods under 1 ms are refused */
    struct kobject *o;
    int err = handle_get(&self()->handles, h, K_OBJ_TIMER, K_RIGHT_MANAGE, &o, NULL);
    if (err)
        return err;
    timer_set((struct ktimer *)o, (uint64_t)first, (uint64_t)period);
    object_put(o);
    return 0;
}

long sys_resource_narrow(long rh, long base, long count)
{
    reap_before_alloc();
    if (base < 0 || count <= 0)
        return -E_INVAL;
    struct kobject *o;
    uint32_t rights = 0;
    int err = handle_get(&self()->handles, rh, K_OBJ_RESOURCE, K_RIGHT_DUP, &o, &rights);
    if (err)
        return err;
    struct resource *r = (struct resource *)o;
    bool inside = resource_covers(r, r->kind, (uint64_t)base, (uint64_t)count);
    struct resource *n = inside ? resource_create(r->kind, (uint64_t)base, (uint64_t)count) : NULL;
    object_put(o);
    if (!inside)
        return -E_PERM;
    if (!n)
        return -E_NOMEM;
    long h = handle_install(&self()->handles, &n->obj, rights);
    object_put(&n->obj);
    return h;
}

/* The calling process may use the resource's I/O ports from user mode
 * (in/out, ins/outs), or no longer when ENABLE is 0.  The resource's
 * MANAGE right is the authority; the permission stays with the address
 * space (closing the handle does not take it back; ENABLE 0 does). */
long sys_ioport_enable(long rh, long enable)
{
    reap_before_alloc();
    if (enable != 0 && enable != 1)
        return -E_INVAL;
    struct kobject *o;
    int err = handle_get(&self()->handles, rh, K_OBJ_RESOURCE, K_RIGHT_MANAGE, &o, NULL);
    if (err)
        return err;
    struct resource *r = (struct resource *)o;
    bool ports = r->kind == K_RES_IOPORT && r->count && r->base + r->count <= 0x10000;
    uint32_t base = (uint32_t)r->base, count = (uint32_t)r->count;
    object_put(o);
    if (!ports)
        return -E_INVAL;
    return vm_ioport_set(&self()->vm, base, count, enable == 1);
}

long sys_process_watch(long ph, long ch, long code)
{
    reap_before_alloc();
    if (code < 0 || code > 0xffffffffL)
        return -E_INVAL;
    struct process *p;
    int err = process_lookup(ph, K_RIGHT_WAIT, &p);
    if (err)
        return err;
    struct connection *c;
    if ((err = connection_lookup(ch, K_RIGHT_SEND, &c)) == 0) {
        err = process_watch(p, c, (uint32_t)code);
        object_put(&c->obj);
    }
    object_put(&p->obj);
    return err;
}

long sys_exception_set(long ph, long ch)
{
    struct process *p;
    int err = process_lookup(ph, K_RIGHT_MANAGE, &p);
    if (err)
        return err;
    struct connection *c = NULL;
    if (ch && (err = connection_lookup(ch, K_RIGHT_SEND, &c)) != 0) {
        object_put(&p->obj);
        return err;
    }
    err = process_set_exception(p, c);
    if (c)
        object_put(&c->obj);
    object_put(&p->obj);
    return err;
}
