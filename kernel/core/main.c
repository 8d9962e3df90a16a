/*
 * main: the bootstrap processor's path from the Multiboot entry to a
 * running system, in dependency order: console, CPU tables, boot
 * information, memory, interrupt controllers and timers, the other CPUs.
 * Then either the self tests the command line asks for, or the banner and
 * the idle loop.
 */
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/iommu.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/qemu.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/trap.h"
#include "base/cpio.h"
#include "base/string.h"
#include "core/boot.h"
#include "core/bootinfo.h"
#include "core/frame.h"
#include "core/printk.h"
#include "core/selftest.h"
#include "core/process.h"
#include "core/resource.h"
#include "core/sched.h"
#include "core/slab.h"
#include "core/vmo.h"
#include "core/syscall.h"
#include "kestrel/errors.h"
#include "kestrel/resource.h"
#include "kestrel/rights.h"
#include "kestrel/startup.h"
#include "kestrel/vm.h"

#define KESTREL_VERSION "0.1"

static uint64_t tsc_at_kmain;
bool boot_init_entered;

static void *slab_page_alloc(void)
{
    uint64_t pa = frame_alloc();
    return pa == PMM_NONE ? NULL : phys_to_virt(pa);
}

static void slab_page_free(void *page)
{
    frame_free((uintptr_t)page - phys_offset);
}

static const struct slab_pages kernel_pages = { slab_page_alloc, slab_page_free };

/* Stacks for #DF, NMI and #MC, so those report even on a broken stack.
 * Declared in percpu.h: every AP calls it too (smp.c). */
void cpu_setup_ist(void)
{
    struct cpu *c = this_cpu();
    for (int i = 0; i < 3; i++) {
        c->ist_stacks[i] = kstack_alloc(2);
        if (!c->ist_stacks[i])
            panic("boot: no memory for IST stacks");
        c->tss.ist[i] = c->ist_stacks[i];
    }
}

static void cpu_enable_fpu(void)
{
    write_cr0((read_cr0() & ~(1UL << 2)) | (1UL << 1));     /* EM off, MP on */
    write_cr4(read_cr4() | (1UL << 9) | (1UL << 10));        /* OSFXSR, OSXMMEXCPT */
}

void cpu_prepare_scheduler(void)
{
    cpu_enable_fpu();
    syscall_init_cpu();
    sched_init_cpu();
}

_Noreturn void cpu_enter_scheduler(void)
{
    cpu_prepare_scheduler();
    __atomic_store_n(&this_cpu()->online, true, __ATOMIC_RELEASE);
    irq_enable();
    sched_idle_loop();
}

static const char *error_text(long err)
{
    switch (-err) {
#define ERROR_TEXT(num, name, text) case num: return text;
    KESTREL_ERRORS(ERROR_TEXT)
#undef ERROR_TEXT
    default: return "unknown error";
    }
}

/* init holds every hardware resource; it hands narrower ones to drivers. */
static void give_resources(struct process *p, struct k_startup *st)
{
    static const struct { const char *name; uint32_t kind; uint64_t count; } all[] = {
        { "irq", K_RES_IRQ, K_IRQ_MAX },
        { "ioport", K_RES_IOPORT, 65536 },
        { "mmio", K_RES_MMIO, 1UL << 52 },
        { "pci", K_RES_PCI, K_PCI_FNS },
    };
    for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        struct resource *r = resource_create(all[i].kind, 0, all[i].count);
        long h = r ? handle_install(&p->handles, &r->obj, K_RIGHTS_ALL) : -E_NOMEM;
        if (r)
            object_put(&r->obj);
        if (h < 0) {
            kprintf("init: cannot give the %s resource (error %ld)\n", all[i].name, -h);
            continue;
        }
        struct k_startup_handle *sh = &st->handles[st->nhandles++];
        sh->handle = (uint32_t)h;
        sh->type = K_OBJ_RESOURCE;
        memcpy(sh->name, all[i].name, strlen(all[i].name) + 1);
    }
}

/* init also gets the boot image, read-only ("bootfs"): the manifest and
 * the programs it starts. */
static void give_boot_image(struct process *p, struct k_startup *st)
{
    if (bootinfo.nmodules == 0)
        return;
    const struct boot_module *m = &bootinfo.modules[0];
    int err;
    struct vmo *v = vmo_create(m->end - m->start, K_VMO_PHYS, m->start, &err);
    long h = v ? handle_install(&p->handles, &v->obj,
                                K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_DUP | K_RIGHT_TRANSFER) : err;
    boot_image_vmo = v;          /* the kernel keeps its reference: spawn's capability */
    if (h < 0) {
        kprintf("init: cannot give the boot image (error %ld)\n", -h);
        return;
    }
    struct k_startup_handle *sh = &st->handles[st->nhandles++];
    sh->handle = (uint32_t)h;
    sh->type = K_OBJ_VMO;
    memcpy(sh->name, "bootfs", 7);
}

/* Starts the first user process: the boot-image program the command line
 * names with init= (default bin/init), with the words of initargs= as its
 * arguments. */
static void start_init(void)
{
    static char path[128], args[512];
    static const char *argv[K_SPAWN_MAX_ARGS];
    if (!boot_option("init", path, sizeof(path)))
        memcpy(path, "bin/init", 9);
    int argc = 0;
    argv[argc++] = path;
    if (boot_option("initargs", args, sizeof(args))) {
        for (char *p = args; *p && argc < K_SPAWN_MAX_ARGS;) {
            while (*p == ',')
                *p++ = 0;
            if (*p)
                argv[argc++] = p;
            while (*p && *p != ',')
                p++;
        }
    }
    int err;
    struct process *p = process_create("init", &err);
    struct k_startup st;
    memset(&st, 0, sizeof(st));
    st.magic = K_STARTUP_MAGIC;
    if (p) {
        give_resources(p, &st);
        give_boot_image(p, &st);
    }
    struct thread *t = p ? process_load_boot(p, path, argc, argv, &st, 100, &err) : NULL;
    if (!t) {
        kprintf("init: cannot start %s: %s\n", path, error_text(err));
        if (err == -E_NOENT)
            kprintf("init: the boot image has no such program; bin/ktest and bin/hello are there "
                    "(APPEND=\"init=bin/ktest\")\n");
        if (p)
            object_put(&p->obj);
        char how[16];
        if (boot_option("initexit", how, sizeof(how)) && strcmp(how, "qemu") == 0)
            qemu_exit(QEMU_EXIT_FAIL);           /* a test run: fail now, not at its time limit */
        return;
    }
    init_pid = p->pid;
    char how[16];
    init_exit_ends_machine = boot_option("initexit", how, sizeof(how)) && strcmp(how, "qemu") == 0;
    kprintf("init: starting %s\n", path);
    thread_start(t);
    object_put(&p->obj);
}

/* tools/bench reads this line: under TCG with -icount (tools/qemu) the
 * TSC counts guest instructions since reset, so the two stamps split the
 * boot into the firmware's part and the kernel's.  Printing the line is
 * the first thing counted after the second stamp (in init's part). */
void boot_note_user_entry(struct thread *t)
{
    if (!init_pid || t->proc->pid != init_pid)
        return;
    uint64_t now = rdtsc();
    boot_init_entered = true;
    kprintf("boot: tsc %lu at kmain, %lu at init's first user instruction\n", tsc_at_kmain, now);
}

static void memory_init(void)
{
    frame_init();
    paging_init();
    kmalloc_init(&kernel_pages);
    cpu_setup_ist();
}

static void print_boot_image(void)
{
    if (bootinfo.nmodules == 0) {
        kprintf("boot image: none (no -initrd)\n");
        return;
    }
    const struct boot_module *m = &bootinfo.modules[0];
    const void *img = phys_to_virt(m->start);
    size_t size = m->end - m->start;
    size_t off = 0;
    unsigned files = 0;
    struct cpio_entry e;
    int r;
    while ((r = cpio_next(img, size, &off, &e)) == CPIO_OK)
        files++;
    if (r < 0)
        kprintf("boot image: %zu bytes, damaged after %u files: %s\n", size, files, cpio_strerror(r));
    else
        kprintf("boot image: %zu bytes, %u files\n", size, files);
}

static void print_summary(void)
{
    struct frame_stats st;
    frame_get_stats(&st);
    kprintf("memory: %lu MiB RAM, %lu MiB free, highest address %#lx\n",
            st.ram_bytes >> 20, st.free_bytes >> 20, st.max_phys);
    kprintf("cpus: %u online of %u found\n", cpus_online(), cpu_count);
    if (tsc_hz)
        kprintf("timer: LAPIC %lu Hz input, TSC %lu MHz, tick %d Hz\n",
                lapic_timer_hz, tsc_hz / 1000000, TIMER_HZ);
    print_boot_image();
}

/* Not inlined: kmain's first line stays in this file (gdb's "hbreak kmain"
 * shows main.c, which make test checks). */
__attribute__((noinline)) static void stamp_kmain(void)
{
    tsc_at_kmain = rdtsc();
}

void kmain(uint32_t magic, uint64_t info_phys);
void kmain(uint32_t magic, uint64_t info_phys)
{
    stamp_kmain();
    percpu_setup(0);
    serial_init();
    kprintf("\nKestrel %s booting\n", KESTREL_VERSION);
    gdt_load_cpu();
    idt_init();
    idt_load();
    pic_disable();

    bootinfo_parse(magic, info_phys);
    kprintf("command line: %s\n", bootinfo.cmdline[0] ? bootinfo.cmdline : "(empty)");
    char opt[256];
    if (boot_option("panic", opt, sizeof(opt)) && strcmp(opt, "exit") == 0)
        trap_exit_on_panic = true;

    memory_init();
    gdt_load_cpu();             /* again: the TSS through its alias, with the I/O bitmap */
    acpi_init();
    lapic_init_bsp();
    lapic_init_cpu();
    ioapic_init();
    iommu_init();
    cpus[0].online = true;
    irq_enable();
    smp_start_aps();

    extern char boot_stack_top[];
    cpus[0].kstack_top = (uintptr_t)boot_stack_top;
    cpu_prepare_scheduler();
    print_summary();
#ifndef KESTREL_SHIP
    if (boot_option("selftest", opt, sizeof(opt)))
        selftest_run(opt);
#endif
    start_init();
    /* tools/bench times this line (boot_to_ready_ms); the boot's
     * instruction counts come from the stamps of boot_note_user_entry. */
    kprintf("Kestrel ready (tsc %lu).\n", rdtsc());
    sched_idle_loop();
}
