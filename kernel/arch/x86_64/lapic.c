/*
 * lapic: the local APIC in xAPIC (memory-mapped) mode, and time (see
 * lapic.h).
 *
 * Every CPU's LAPIC sits at the same physical address (MSR 0x1B), mapped
 * once, uncached, by the BSP.  lapic_init_bsp calibrates the TSC against
 * PIT channel 2 and the LAPIC timer against the TSC, over the same
 * interval.  The PIT counts down at 1,193,182 Hz; calibrate watches the
 * high byte of its count, which changes every 256 ticks (214.6 us).  The
 * moment of a change lies between the TSC read before the read of the
 * count that still showed the old value and the TSC read after the one
 * that shows the new value, so each change is known to within half that
 * span, which is measured.  The measurement stops at the first change
 * where the two spans together are at most 1/2048 (~490 ppm) of the
 * interval since the first change (the bound Linux's fast PIT calibration
 * also aims for), or after CALIB_MAX_STEPS changes (~26 ms): on hardware, where a port read takes about a microsecond,
 * that is a few milliseconds; under QEMU a fraction of one.  Then time_ns
 * and udelay use the TSC (assumed invariant and synchronised across CPUs,
 * as on QEMU and modern hardware).
 *
 * Locking: each CPU only touches its own LAPIC registers.  An IPI is two
 * register writes (ICR high, ICR low), done with interrupts off so that an
 * interrupt handler on the same CPU cannot send one in between.  Every
 * wait for the ICR to go idle is bounded.
 */
#include "arch/x86_64/lapic.h"

#include "arch/x86_64/iommu.h"

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
#define CALIB_MAX_STEPS 120u        /* changes of the count's high byte: ~26 ms */
#define CALIB_ERROR_SHIFT 11        /* done when the error is <= 1/2048 of the interval */
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
    if (iommu_units_on && this_cpu()->id == 0)
        iommu_poll_faults();
    kernel_tick();
}

/* A change of the PIT count's high byte: when (TSC), to within +-half,
 * the new high byte, and a LAPIC timer reading taken just after it, at
 * TSC lapic_tsc +-lapic_half. */
struct pit_edge {
    uint64_t tsc, half, lapic_tsc, lapic_half;
    uint32_t lapic;
    uint8_t msb;
};

static uint64_t edge_error(const struct pit_edge *a, const struct pit_edge *b)
{
    return a->half + b->half + a->lapic_half + b->lapic_half;
}

/* Measures until the error bound is met (see the top of this file);
 * false if the PIT never counted.  A change seen late (an SMI, a
 * preempted vCPU) only widens its own span: the measurement keeps the
 * pair of changes with the smallest relative error, and starts again from
 * a change known much better than the first one while it is young. */
static bool pit_measure(struct pit_edge *first, struct pit_edge *last)
{
    uint8_t gate = inb(0x61) & ~0x03;       /* gate low, speaker off */
    outb(0x61, gate);
    outb(0x43, 0xA0);                        /* ch 2, high byte only, mode 0 */
    outb(0x42, 0xFF);                        /* count 0xFF00 */
    reg_write(REG_TIMER_INIT, 0xffffffff);
    outb(0x61, gate | 0x01);                 /* gate high: count starts */
    uint64_t start = rdtsc(), before_prev = start;
    uint8_t prev = inb(0x42), origin = 0;
    bool started = false, have_last = false, done = false;
    for (uint32_t n = 0; !done && n < PIT_POLL_LIMIT; n++) {
        uint64_t before = rdtsc();
        uint8_t msb = inb(0x42);
        uint64_t after = rdtsc();
        if (after - start > PIT_TSC_LIMIT)
            break;
        if (msb == prev) {
            before_prev = before;
            continue;
        }
        if (msb > prev)
            break;                           /* wrapped (or a glitch): stop here */
        struct pit_edge e = { before_prev + (after - before_prev) / 2,
                              (after - before_prev) / 2, 0, 0, 0, msb };
        uint64_t l0 = rdtsc();
        e.lapic = reg_read(REG_TIMER_CUR);
        uint64_t l1 = rdtsc();
        e.lapic_tsc = l0 + (l1 - l0) / 2;
        e.lapic_half = (l1 - l0) / 2;
        unsigned steps = (unsigned)(origin - msb);
        if (!started) {
            if (prev - msb == 1) {           /* a whole step: the count was running */
                *first = e;
                origin = msb;
                started = true;
            }
        } else if (!have_last && steps < CALIB_MAX_STEPS / 2 && e.half * 2 < first->half) {
            *first = e;                      /* start again from the better one */
        } else {
            /* err <= 2 * PIT_TSC_LIMIT, win < 2^28 (26 ms at 10 GHz): no overflow */
            uint64_t err = edge_error(first, &e), win = e.tsc - first->tsc;
            if (!have_last || err * (last->tsc - first->tsc) < edge_error(first, last) * win)
                *last = e;
            have_last = true;
            done = edge_error(first, last) << CALIB_ERROR_SHIFT <= last->tsc - first->tsc ||
                   steps >= CALIB_MAX_STEPS;
        }
        prev = msb;
        before_prev = before;
    }
    outb(0x61, gate);
    reg_write(REG_TIMER_INIT, 0);
    return have_last && last->msb < first->msb && last->tsc > first->tsc;
}

static void calibrate(void)
{
    reg_write(REG_TIMER_DIV, TIMER_DIV_16);
    reg_write(REG_LVT_TIMER, LVT_MASKED | VEC_TIMER);
    struct pit_edge a, b = { 0 };
    uint32_t dlapic;
    if (!pit_measure(&a, &b) || (dlapic = a.lapic - b.lapic) == 0) {
        kprintf("lapic: PIT calibration failed; assuming TSC 1 GHz, LAPIC timer 100 MHz\n");
        tsc_hz = 1000000000;
        lapic_timer_hz = 100000000;
        return;
    }
    uint64_t ticks = (uint64_t)(a.msb - b.msb) * 256, dtsc = b.tsc - a.tsc;
    tsc_hz = dtsc * PIT_HZ / ticks;
    lapic_timer_hz = (uint64_t)dlapic * TIMER_DIVISOR * tsc_hz / (b.lapic_tsc - a.lapic_tsc);
    kprintf("lapic: calibrated over %lu us of the PIT, within %lu ppm\n", ticks * 1000000 / PIT_HZ,
            edge_error(&a, &b) * 1000000 / dtsc);
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
