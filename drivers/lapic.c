/* Local APIC: enable, identify, send IPIs (SDM Vol. 3A Chapter 11). */
#include "drivers/lapic.h"
#include "arch/idt.h"
#include "arch/msr.h"
#include "arch/spinlock.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "drivers/printk.h"
#include "mm/layout.h"

/* Register offsets in the xAPIC page; the x2APIC MSR is 0x800 + off/16. */
#define APIC_ID         0x020
#define APIC_EOI        0x0b0
#define APIC_SVR        0x0f0
#define APIC_ICR_LO     0x300
#define APIC_ICR_HI     0x310
#define APIC_LVT_TIMER  0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR  0x390
#define APIC_TIMER_DIV  0x3e0
#define PIC_MASTER_IMR  0x21
#define PIC_SLAVE_IMR   0xa1
#define  LVT_TIMER_TSC_DEADLINE (2U << 17)
#define  LVT_MASKED             BIT_ULL(16)
#define  APIC_TIMER_DIV_1       0x0b
#define  APIC_TIMER_MAX         0xffffffffULL
#define MSR_IA32_TSC_DEADLINE   0x6e0
#define  APIC_SVR_ENABLE        BIT_ULL(8)
#define  ICR_DM_FIXED           (0ULL << 8)
#define  ICR_DM_NMI             (4ULL << 8)
#define  ICR_DM_INIT            (5ULL << 8)
#define  ICR_DM_STARTUP         (6ULL << 8)
#define  ICR_DELIVERY_PENDING   BIT_ULL(12)
#define  ICR_LEVEL_ASSERT       BIT_ULL(14)
#define  ICR_ALL_BUT_SELF       (3ULL << 18)

bool lapic_x2apic;
bool lapic_tsc_deadline;
bool lapic_can_wake;
static volatile uint32_t *lapic_mmio;
static uint64_t lapic_timer_khz;        /* one-shot counts per ms, divide 1 */

static uint32_t lapic_read(uint32_t off)
{
	if (lapic_x2apic)
		return (uint32_t)rdmsr(MSR_X2APIC_BASE + (off >> 4));
	return lapic_mmio[off / 4];
}

static void lapic_write(uint32_t off, uint32_t v)
{
	if (lapic_x2apic)
		wrmsr(MSR_X2APIC_BASE + (off >> 4), v);
	else
		lapic_mmio[off / 4] = v;
}

/* Without TSC-deadline mode, lapic_wake_at() counts down the timer in
 * one-shot mode: how fast it counts is measured here against the TSC
 * (calibrated already), between two readings of the current count over
 * TIMER_CALIBRATE_US. Each reading follows its TSC read the same way, so
 * what a reading costs (an exit, under a hypervisor) cancels out. */
#define TIMER_CALIBRATE_US 1000

static void lapic_timer_calibrate(void)
{
	uint64_t t0, t1, span = tsc_khz * TIMER_CALIBRATE_US / 1000;
	uint32_t c0, c1;

	lapic_write(APIC_LVT_TIMER, (uint32_t)LVT_MASKED);
	lapic_write(APIC_TIMER_DIV, APIC_TIMER_DIV_1);
	lapic_write(APIC_TIMER_INIT, (uint32_t)APIC_TIMER_MAX);
	t0 = rdtsc();
	c0 = lapic_read(APIC_TIMER_CUR);
	while (rdtsc() - t0 < span)
		cpu_relax();
	t1 = rdtsc();
	c1 = lapic_read(APIC_TIMER_CUR);
	lapic_timer_khz = t1 > t0 && c0 > c1 ?
			  (uint64_t)(c0 - c1) * tsc_khz / (t1 - t0) : 0;
	lapic_write(APIC_TIMER_INIT, 0);
	lapic_can_wake = lapic_timer_khz != 0;
	pr_debug("keel: lapic: one-shot timer at %lu kHz\n", lapic_timer_khz);
}

/*
 * The first caller (the BSP) picks the mode for all CPUs. The xAPIC page is
 * reached through the direct map: MTRRs make the APIC range uncacheable on
 * real hardware, so the write-back page attribute does not apply there.
 */
void lapic_init_this_cpu(void)
{
	static bool mode_chosen;
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
	bool first = !mode_chosen;

	if (first) {
		/* Keel halts with interrupts on (wait_for_interrupt) and
		 * wants only its IPIs: the firmware's 8259s would deliver
		 * the PIT's IRQ 0 as vector 8 through LINT0. */
		outb(PIC_MASTER_IMR, 0xff);
		outb(PIC_SLAVE_IMR, 0xff);
		lapic_x2apic = cpuid(1, 0).ecx & CPUID1_ECX_X2APIC;
		lapic_tsc_deadline = cpuid(1, 0).ecx & CPUID1_ECX_TSC_DEADLINE;
		lapic_can_wake = lapic_tsc_deadline;
		lapic_mmio = phys_to_virt(base & APIC_BASE_ADDR_MASK);
		mode_chosen = true;
	}
	if (lapic_x2apic && !(base & APIC_BASE_EXTD))
		wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
	lapic_write(APIC_SVR, APIC_SVR_ENABLE | VEC_SPURIOUS);
	if (first && !lapic_tsc_deadline)
		lapic_timer_calibrate();
}

uint32_t lapic_id(void)
{
	uint32_t id = lapic_read(APIC_ID);

	return lapic_x2apic ? id : id >> 24;
}

void lapic_eoi(void)
{
	lapic_write(APIC_EOI, 0);
}

static void lapic_icr(uint32_t dest, uint64_t low)
{
	if (lapic_x2apic) {
		wrmsr(MSR_X2APIC_BASE + (APIC_ICR_LO >> 4),
		      ((uint64_t)dest << 32) | low);
		return;
	}
	lapic_write(APIC_ICR_HI, dest << 24);
	lapic_write(APIC_ICR_LO, (uint32_t)low);
	for (int i = 0; i < 1000000; i++)
		if (!(lapic_read(APIC_ICR_LO) & ICR_DELIVERY_PENDING))
			break;
}

void lapic_send_init(uint32_t apic_id)
{
	lapic_icr(apic_id, ICR_DM_INIT | ICR_LEVEL_ASSERT);
}

void lapic_send_sipi(uint32_t apic_id, uint8_t vector_page)
{
	lapic_icr(apic_id, ICR_DM_STARTUP | ICR_LEVEL_ASSERT | vector_page);
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	lapic_icr(apic_id, ICR_DM_FIXED | ICR_LEVEL_ASSERT | vector);
}

void lapic_send_nmi(uint32_t apic_id)
{
	lapic_icr(apic_id, ICR_DM_NMI | ICR_LEVEL_ASSERT);
}

void lapic_send_nmi_all_but_self(void)
{
	if (!lapic_mmio && !lapic_x2apic)
		return;         /* panic before the APIC was set up */
	lapic_icr(0, ICR_DM_NMI | ICR_LEVEL_ASSERT | ICR_ALL_BUT_SELF);
}

/* The timer in one-shot mode, counting down what is left until `tsc`
 * at the calibrated rate (at least one count: a deadline that passed
 * fires at once); 0 disarms it. */
static void lapic_wake_oneshot(uint64_t tsc)
{
	uint64_t now = rdtsc(), count = 1;

	if (!tsc) {
		lapic_write(APIC_TIMER_INIT, 0);
		return;
	}
	if (tsc > now)
		count = (tsc - now) / tsc_khz * lapic_timer_khz +
			(tsc - now) % tsc_khz * lapic_timer_khz / tsc_khz + 1;
	lapic_write(APIC_LVT_TIMER, VEC_KICK);
	lapic_write(APIC_TIMER_DIV, APIC_TIMER_DIV_1);
	lapic_write(APIC_TIMER_INIT,
		    (uint32_t)(count < APIC_TIMER_MAX ? count : APIC_TIMER_MAX));
}

/* The timer in TSC-deadline mode (SDM Vol. 3A 11.5.4.1) raising VEC_KICK:
 * an interrupt that wakes wait_for_interrupt(). Writing 0 disarms it.
 * Without that mode, the one-shot timer, on CPU 0 only (calibrated on it). */
void lapic_wake_at(uint64_t tsc)
{
	if (!lapic_tsc_deadline) {
		lapic_wake_oneshot(tsc);
		return;
	}
	if (tsc)
		lapic_write(APIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | VEC_KICK);
	wrmsr(MSR_IA32_TSC_DEADLINE, tsc);
}
