/*
 * smp: starting the application processors, and cross-CPU calls (smp.h).
 *
 * Start-up: the BSP copies the trampoline (trampoline.S) to
 * TRAMPOLINE_PHYS, identity-maps that page in the kernel page tables and
 * sends INIT to every AP.  Then it starts them one at a time: it writes
 * the parameter block (stack, CPU index), sends SIPI, and a second SIPI if
 * the AP is not up after 200 us (ignored by an AP that already left
 * wait-for-SIPI), then waits up to AP_TIMEOUT_NS for the AP to set
 * cpus[id].online.  Only one AP uses the parameter block at a time; an AP
 * that does not come up is reported and sent INIT again so it cannot run
 * the trampoline later with another AP's parameters.  The identity mapping
 * is removed at the end, and each AP flushes it from its TLB (through
 * smp_call).
 *
 * Delays.  The MP specification (1.4, 1997) and the Intel SDM's example
 * (Vol. 3A, "Typical BSP Initialization Sequence") wait 10 ms between
 * INIT and the first SIPI; that was for processors with a discrete APIC.
 * The SDM says family 06H (model >= 0EH) and 0FH processors, and so every
 * x86-64 processor, take part in MP initialisation over the system bus
 * rather than the old APIC bus; Linux has started Intel family 6 and AMD
 * family >= 0Fh processors with no INIT delay since 2015, and every Intel
 * processor from the Pentium Pro on since 2025; QEMU's APIC (TCG) and
 * KVM's need none.  So the delay is kept only for other vendors
 * (legacy_delays), once for all APs, as in the SDM's example.
 *
 * Under TCG (QEMU 7.2) a halted AP takes its INIT only when the first
 * SIPI wakes it, and drops that SIPI, so it is the second SIPI that starts
 * it; meanwhile the guest clock runs on to QEMU's next timer deadline (up
 * to a tick, 10 ms, per AP): an emulator artefact, visible in
 * boot_kernel_insns.
 *
 * Cross-CPU calls: one slot per target CPU, written by the caller while the
 * slot is free (fn == NULL), then an IPI on VEC_IPI_CALL; the target runs
 * fn in its interrupt handler and frees the slot (release).  The caller
 * polls the slot with a timeout.
 */
#include "arch/x86_64/smp.h"

#include "arch/x86_64/asm.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/trap.h"
#include "base/string.h"
#include "core/frame.h"
#include "core/printk.h"

#include <stddef.h>

#define AP_TIMEOUT_NS 5000000000UL     /* TCG with many vCPUs is slow */
#define INIT_DELAY_US 10000            /* legacy: INIT to first SIPI */
#define CALL_TIMEOUT_NS 5000000000UL
#define AP_STACK_PAGES 4

extern char trampoline_start[], trampoline_end[];
extern char tr_cr3[], tr_efer[], tr_stack[], tr_entry[], tr_cpu[];

struct call_slot {
    smp_call_fn volatile fn;
    void *volatile arg;
    volatile uint32_t busy;     /* claimed by a caller from async until wait */
};

static struct call_slot slots[MAX_CPUS];

_Noreturn void ap_main(unsigned id);

/* Address of trampoline symbol SYM in the copy at TRAMPOLINE_PHYS. */
static void *tr_param(char *sym)
{
    return (char *)phys_to_virt(TRAMPOLINE_PHYS) + (sym - trampoline_start);
}

static void ipi_test_handler(struct trap_frame *tf)
{
    this_cpu()->ipis++;
}

static void ipi_call_handler(struct trap_frame *tf)
{
    struct call_slot *s = &slots[this_cpu()->id];
    smp_call_fn fn = s->fn;
    if (fn)
        fn(s->arg);
    __atomic_store_n(&s->fn, NULL, __ATOMIC_RELEASE);
}

_Noreturn void ap_main(unsigned id)
{
    percpu_setup(id);
    gdt_load_cpu();
    idt_load();
    cpu_setup_ist();
    lapic_init_cpu();
    cpu_enter_scheduler();
}

static void flush_trampoline(void *arg)
{
    invlpg(TRAMPOLINE_PHYS);
}

/* Removes the identity mapping, also from the APs' TLBs. */
static void trampoline_remove(void)
{
    paging_unmap_page(TRAMPOLINE_PHYS);
    for (unsigned id = 1; id < cpu_count; id++)
        if (cpus[id].online && !smp_call(id, flush_trampoline, NULL))
            kprintf("smp: cpu %u did not answer a TLB flush call\n", id);
}

static bool wait_online(struct cpu *c, uint64_t timeout_ns)
{
    uint64_t end = time_ns() + timeout_ns;
    while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE)) {
        if (time_ns() > end)
            return false;
        cpu_relax();
    }
    return true;
}

static bool ap_start(unsigned id)
{
    struct cpu *c = &cpus[id];
    c->kstack_top = kstack_alloc(AP_STACK_PAGES);
    *(uint64_t *)tr_param(tr_stack) = c->kstack_top;
    *(uint32_t *)tr_param(tr_cpu) = id;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    lapic_send_sipi(c->apic_id, TRAMPOLINE_PHYS >> 12);
    if (wait_online(c, 200000))
        return true;
    lapic_send_sipi(c->apic_id, TRAMPOLINE_PHYS >> 12);
    if (wait_online(c, AP_TIMEOUT_NS))
        return true;
    kprintf("smp: cpu %u (APIC ID %u) did not start within %lu ms; left parked\n",
            id, c->apic_id, AP_TIMEOUT_NS / 1000000);
    lapic_send_init(c->apic_id);
    return false;
}

/* True for CPUs that may need the MP specification's 10 ms between INIT
 * and SIPI: every x86-64 processor of Intel, AMD and Hygon is of a family
 * that does not (see the top of this file). */
static bool legacy_delays(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);             /* EBX: the vendor string's first 4 bytes */
    return r[1] != 0x756e6547 /* "Genu"ineIntel */ && r[1] != 0x68747541 /* "Auth"enticAMD */ &&
           r[1] != 0x6f677948 /* "Hygo"nGenuine */;
}

/* Copies the trampoline and fills the parameters shared by all APs. */
static bool trampoline_install(void)
{
    uint64_t cr3 = paging_kernel_cr3();
    if (cr3 >= (1UL << 32)) {
        kprintf("smp: kernel page tables at %#lx are above 4 GiB; APs not started\n", cr3);
        return false;
    }
    size_t size = (size_t)(trampoline_end - trampoline_start);
    KASSERT(size <= 4096);
    memcpy(phys_to_virt(TRAMPOLINE_PHYS), trampoline_start, size);
    *(uint32_t *)tr_param(tr_cr3) = (uint32_t)cr3;
    *(uint32_t *)tr_param(tr_efer) = EFER_LME | EFER_SCE | (pte_nx ? EFER_NXE : 0);
    *(uint64_t *)tr_param(tr_entry) = (uintptr_t)ap_main;
    paging_map_page(TRAMPOLINE_PHYS, TRAMPOLINE_PHYS, PTE_P | PTE_W);
    return true;
}

void smp_start_aps(void)
{
    trap_set_handler(VEC_IPI_TEST, ipi_test_handler);
    trap_set_handler(VEC_IPI_CALL, ipi_call_handler);
    if (cpu_count < 2 || !trampoline_install())
        return;
    unsigned failed = 0;
    for (unsigned id = 1; id < cpu_count; id++)
        lapic_send_init(cpus[id].apic_id);
    if (legacy_delays())
        udelay(INIT_DELAY_US);
    for (unsigned id = 1; id < cpu_count; id++)
        failed += !ap_start(id);
    trampoline_remove();
    if (failed)
        kprintf("smp: %u of %u application processors failed to start\n", failed, cpu_count - 1);
    else
        kprintf("smp: %u application processors started\n", cpu_count - 1);
}

/* Runs a call that another CPU left for this one, if any: a CPU waiting
 * for a slot (maybe with interrupts off) must not keep its own callers
 * waiting, or two CPUs calling each other would wait forever. */
static void poll_own_slot(void)
{
    if (__atomic_load_n(&slots[this_cpu()->id].fn, __ATOMIC_ACQUIRE)) {
        bool was = irq_save();
        ipi_call_handler(NULL);
        irq_restore(was);
    }
}

bool smp_call_async(unsigned cpu, smp_call_fn fn, void *arg)
{
    if (cpu >= cpu_count || !cpus[cpu].online)
        return false;
    struct call_slot *s = &slots[cpu];
    /* Claim the slot; other callers of the same CPU wait their turn. */
    uint64_t end = time_ns() + CALL_TIMEOUT_NS;
    while (__atomic_exchange_n(&s->busy, 1, __ATOMIC_ACQUIRE)) {
        if (time_ns() > end)
            return false;
        poll_own_slot();
        cpu_relax();
    }
    s->arg = arg;
    __atomic_store_n(&s->fn, fn, __ATOMIC_RELEASE);
    if (cpu == this_cpu()->id) {
        bool was = irq_save();
        ipi_call_handler(NULL);
        irq_restore(was);
        return true;
    }
    lapic_send_ipi(cpus[cpu].apic_id, VEC_IPI_CALL);
    return true;
}

bool smp_call_wait(unsigned cpu, uint64_t timeout_ns)
{
    if (cpu >= cpu_count)
        return false;
    uint64_t end = time_ns() + timeout_ns;
    while (__atomic_load_n(&slots[cpu].fn, __ATOMIC_ACQUIRE)) {
        if (time_ns() > end)
            return false;           /* the slot stays claimed: the call may still run */
        poll_own_slot();
        cpu_relax();
    }
    __atomic_store_n(&slots[cpu].busy, 0, __ATOMIC_RELEASE);
    return true;
}

bool smp_call(unsigned cpu, smp_call_fn fn, void *arg)
{
    return smp_call_async(cpu, fn, arg) && smp_call_wait(cpu, CALL_TIMEOUT_NS);
}
