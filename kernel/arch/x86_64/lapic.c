/*
 * lapic: the local APIC in xAPIC (memory-mapped) mode, and time (see
 * lapic.h).
 *
 * Every CPU's LAPIC sits at the same physical address (MSR 0x1B), mapped
 * once, uncached, by the BSP.  lapic_init_bsp calibrates the LAPIC timer
 * and the TSC together against PIT channel 2 (one-shot, gated through port
 * 0x61, ~10 ms), so both rates come from one reference interval.  Then
 * time_ns and udelay use the TSC (assumed invariant and synchronised
 * across CPUs, as on QEMU and modern hardware).
 *
 * Locking: each CPU only touches its own LAPIC registers.  An IPI is two
 * register writes (ICR high, ICR low), done with interrupts off so that an
 * interrupt handler on the same CPU cannot send one in between.  Every
 * wait for the ICR to go idle is bounded.
 */
#include "arch/x86_64/lapic.h"

#include <stddef.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/trap.h"
#include "core/printk.h"

enum {
    REG_ID = 0x20,
    REG_TPR = 0x80,
    REG_EOI = 0xB0,
    REG_SVR = 0xF0,
    REG_ESR = 0x280,
    REG_ICR_LO = 0x300,
    REG_ICR_HI = 0x310,
    REG_LVT_TIMER = 0x320,
    REG_LVT_LINT0 = 0x350,
    REG_LVT_LINT1 = 0x360,
    REG_LVT_ERROR = 0x370,
    REG_TIMER_INIT = 0x380,
    REG_TIMER_CUR = 0x390,
    REG_TIMER_DIV = 0x3E0,
};

#define APIC_BASE_ENABLE (1u << 11)
#define SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define LVT_NMI (4u << 8)
#define ICR_PENDING (1u << 12)
#define ICR_ASSERT (1u << 14)
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8)
#define ICR_SIPI (6u << 8)
#define ICR_ALL_BUT_SELF (3u << 18)
#define TIMER_DIV_16 0x3
#define TIMER_DIVISOR 16

#define PIT_HZ 1193182u
#define PIT_CALIB_COUNT 11932u      /* ~10 ms */
#define PIT_POLL_LIMIT 50000000u    /* port reads before giving up ... */
#define PIT_TSC_LIMIT 5000000000UL  /* ... or TSC cycles (0.5-5 s) */

uint64_t lapic_timer_hz, tsc_hz;
static volatile uint32_t *regs;
static uint64_t boot_tsc;

static uint32_t reg_read(unsigned reg)
{
    return regs[reg / 4];
}

static void reg_write(unsigned reg, uint32_t v)
{
    regs[reg / 4] = v;
}

bool lapic_ready(void)
{
    return regs != NULL;
}

uint32_t lapic_id(void)
{
    return reg_read(REG_ID) >> 24;
}

void lapic_eoi(void)
{
    reg_write(REG_EOI, 0);
}

static void timer_tick(struct trap_frame *tf)
{
    this_cpu()->ticks++;
    kernel_tick();
}

/* Runs PIT channel 2 one-shot for PIT_CALIB_COUNT ticks; returns the TSC
 * and LAPIC-counter deltas across it, false if the PIT never finished. */
static bool pit_measure(uint64_t *dtsc, uint32_t *dlapic)
{
    uint8_t gate = inb(0x61) & ~0x03;       /* gate low, speaker off */
    outb(0x61, gate);
    outb(0x43, 0xB0);                        /* ch 2, lo/hi byte, mode 0 */
    outb(0x42, PIT_CALIB_COUNT & 0xff);
    outb(0x42, PIT_CALIB_COUNT >> 8);
    reg_write(REG_TIMER_INIT, 0xffffffff);
    uint32_t l0 = reg_read(REG_TIMER_CUR);
    uint64_t t0 = rdtsc();
    outb(0x61, gate | 0x01);                 /* gate high: count starts */
    uint32_t n = 0;
    uint64_t t1 = t0;
    while (!(inb(0x61) & 0x20) && ++n < PIT_POLL_LIMIT && t1 - t0 < PIT_TSC_LIMIT)
        t1 = rdtsc();
    t1 = rdtsc();
    uint32_t l1 = reg_read(REG_TIMER_CUR);
    outb(0x61, gate);
    reg_write(REG_TIMER_INIT, 0);
    *dtsc = t1 - t0;
    *dlapic = l0 - l1;
    return n < PIT_POLL_LIMIT && t1 - t0 < PIT_TSC_LIMIT;
}

static void calibrate(void)
{
    reg_write(REG_TIMER_DIV, TIMER_DIV_16);
    reg_write(REG_LVT_TIMER, LVT_MASKED | VEC_TIMER);
    uint64_t dtsc;
    uint32_t dlapic;
    if (!pit_measure(&dtsc, &dlapic) || dtsc == 0 || dlapic == 0) {
        kprintf("lapic: PIT calibration failed; assuming TSC 1 GHz, LAPIC timer 100 MHz\n");
        tsc_hz = 1000000000;
        lapic_timer_hz = 100000000;
        return;
    }
    tsc_hz = dtsc * PIT_HZ / PIT_CALIB_COUNT;
    lapic_timer_hz = (uint64_t)dlapic * TIMER_DIVISOR * PIT_HZ / PIT_CALIB_COUNT;
    if (tsc_hz > 10000000000UL) {       /* time_ns arithmetic needs <= 10 GHz */
        kprintf("lapic: TSC measured at %lu Hz, implausible; assuming 1 GHz\n", tsc_hz);
        tsc_hz = 1000000000;
    }
}

void lapic_init_bsp(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    regs = paging_map_phys(base & PTE_ADDR, 4096, MAP_UNCACHED);
    boot_tsc = rdtsc();
    trap_set_handler(VEC_TIMER, timer_tick);
    calibrate();
    kprintf("lapic: at %#lx, id %u, timer input %lu Hz, TSC %lu Hz\n",
            base & PTE_ADDR, lapic_id(), lapic_timer_hz, tsc_hz);
}

void lapic_init_cpu(void)
{
    bool bsp = this_cpu()->id == 0;
    reg_write(REG_TPR, 0);
    reg_write(REG_SVR, SVR_ENABLE | VEC_SPURIOUS);
    reg_write(REG_LVT_LINT0, LVT_MASKED);            /* the 8259 is not used */
    reg_write(REG_LVT_LINT1, bsp ? LVT_NMI : LVT_MASKED);
    reg_write(REG_LVT_ERROR, LVT_MASKED);
    reg_write(REG_ESR, 0);
    reg_write(REG_ESR, 0);
    reg_write(REG_TIMER_DIV, TIMER_DIV_16);
    reg_write(REG_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
    uint64_t count = lapic_timer_hz / TIMER_DIVISOR / TIMER_HZ;
    reg_write(REG_TIMER_INIT, count ? (uint32_t)count : 1);
    lapic_eoi();
}

/* Waits (bounded) for the previous IPI to be accepted; false on timeout. */
static bool icr_wait_idle(void)
{
    for (uint32_t n = 0; n < 10000000; n++) {
        if (!(reg_read(REG_ICR_LO) & ICR_PENDING))
            return true;
        cpu_relax();
    }
    return false;
}

static void icr_send(uint32_t apic_id, uint32_t lo)
{
    bool was = irq_save();
    if (!icr_wait_idle())
        kprintf("lapic: cpu %u: ICR still busy; sending anyway\n", this_cpu()->id);
    reg_write(REG_ICR_HI, apic_id << 24);
    reg_write(REG_ICR_LO, lo);
    bool ok = icr_wait_idle();
    irq_restore(was);
    if (!ok)
        kprintf("lapic: IPI %#x to APIC %u not delivered\n", lo, apic_id);
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    icr_send(apic_id, ICR_ASSERT | vector);
}

void lapic_send_ipi_all_but_self_nmi(void)
{
    icr_send(0, ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_NMI);
}

void lapic_send_init(uint32_t apic_id)
{
    icr_send(apic_id, ICR_ASSERT | ICR_INIT);
}

void lapic_send_sipi(uint32_t apic_id, uint8_t page)
{
    icr_send(apic_id, ICR_ASSERT | ICR_SIPI | page);
}

uint64_t time_ns(void)
{
    if (!tsc_hz)
        return 0;
    uint64_t d = rdtsc() - boot_tsc;
    return d / tsc_hz * 1000000000UL + d % tsc_hz * 1000000000UL / tsc_hz;
}

void udelay(uint64_t us)
{
    if (!tsc_hz)
        return;
    uint64_t start = rdtsc();
    uint64_t ticks = us * (tsc_hz / 1000) / 1000 + us * (tsc_hz % 1000) / 1000000;
    while (rdtsc() - start < ticks)
        cpu_relax();
}
