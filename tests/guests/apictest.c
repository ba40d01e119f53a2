/*
 * apictest: the virtual local APIC Keel gives each vCPU.
 *
 * Command line test=up (one vCPU):
 *   CPUID (APIC, x2APIC, TSC-deadline, APIC ID, topology, timing leaf);
 *   xAPIC through the MMIO page: ID, version, TPR/PPR, SVR, LVT masks,
 *   self IPI held in IRR while IF = 0, IA32_APIC_BASE.EN clear and set
 *   again (CPUID, the page reading all ones, the reset state after), the
 *   page moved through IA32_APIC_BASE and back, a one-shot timer that
 *   wakes HLT;
 *   x2APIC through MSRs: the same registers, #GP on reserved MSRs, on
 *   writes to read-only ones and on reads of write-only ones, SELF IPI,
 *   TPR holding back a lower-priority vector, nested interrupts and EOI
 *   retiring the highest in-service vector, a periodic timer stopped
 *   after exactly five interrupts, TSC-deadline mode, a masked timer.
 *
 * Built 64-bit too (apictest64.elf, elf64): the same x2APIC checks plus
 * CR8 as the TPR; the xAPIC page is not in the elf64 guest's page tables.
 *
 * Command line test=smp (two vCPUs, 32-bit): the BSP starts the AP with
 * INIT-SIPI-SIPI at a real-mode trampoline (0x7000) that switches to
 * protected mode; the AP counts itself in a shared counter, prints, sends
 * an IPI to the BSP and waits in HLT for the BSP's IPIs (physical, logical,
 * all-but-self and all-including-self).
 *
 * Command line test=smploop / test=smpud (two vCPUs, 32-bit): the AP's
 * trampoline loops in real mode, or runs UD2; where Keel emulates real
 * mode (shadow paging) it must stop the guest with the reason.
 *
 * Command line test=tpr (one vCPU): only the TPR's checks (xAPIC page,
 * x2APIC MSR, CR8 in the 64-bit image) and nested interrupts, no timer.
 *
 * Command line test=storm (one vCPU): a periodic timer with initial count
 * 1 and divide 1 (a deadline every TSC tick) while a fixed loop runs with
 * interrupts on, in xAPIC mode (EOI through the MMIO page) and then in
 * x2APIC mode (the 64-bit image: x2APIC only). Keel must keep the guest
 * making progress: the loop ends within twice its time without the
 * timer, and the timer's interrupts arrive all along.
 *
 * NMIs (both commands): a self NMI through the ICR (xAPIC and x2APIC) is
 * taken at once with IF = 0; a second one sent from inside the handler,
 * which then makes an exit (port I/O), waits until the handler's IRET,
 * and does not end a HLT there.
 * With two vCPUs the BSP sends NMIs to the AP waiting in STI;HLT and in
 * CLI;HLT (which only an NMI ends); one sent before the AP's start is
 * dropped.
 *
 * Command line scale=N (default 1) multiplies every timer count, deadline,
 * spin and wait bound by N: the same checks on a slower clock, for a
 * host where one exit takes longer than the windows they leave (Keel
 * under nested KVM in Bochs: hundreds of thousands of TSC ticks).
 *
 * Interrupt counts are asserted, never times, except for the storm's
 * budget (a ratio of two TSC spans): the other TSC figures printed are for
 * reading only.
 */
#include "guest.h"
#include "apic_regs.h"

#define CPUID1_EDX_APIC     (1u << 9)
#define CPUID1_ECX_X2APIC   (1u << 21)
#define CPUID1_ECX_TSC_DL   (1u << 24)
#define EXIT_REASON_HLT     12
#define EXIT_REASON_CR      28
#define EXIT_REASON_RDMSR   31
#define EXIT_REASON_WRMSR   32
#define EXIT_REASON_TPR_BELOW 43
#define EXIT_REASON_APIC_ACCESS 44
#define EXIT_REASON_EPT_VIOLATION 48
#define EXIT_REASON_APIC_WRITE 56

/* Vectors: their priority class is the high nibble. */
#define VEC_NMI             2
#define VEC_LOW             0x40
#define VEC_XAPIC_SELF      0x41
#define VEC_TIMER           0x50
#define VEC_TO_BSP          0x60
#define VEC_TO_AP           0x62
#define VEC_ALL_BUT_SELF    0x63
#define VEC_ALL             0x64
#define VEC_HIGH            0x80

#define WAIT_TICKS          200000000ULL    /* a failure bound, not a time */
#define TRAMPOLINE_PA       0x7000
#define NR_CPUS             2

static bool x2mode;                 /* the BSP's APIC mode */
static uint32_t tick_scale = 1;     /* scale=N */

#define TICKS(n)            ((uint64_t)(n) * tick_scale)
#define MAX_SCALE           1000

/* ---- interrupt entry ------------------------------------------------------ */

/* One stub per vector used, calling irq_entry(vector). */
__asm__(IRQ_ENTRY_MACRO);
__asm__(
	".text\n"
	".irp v, 2,0x40,0x41,0x50,0x60,0x62,0x63,0x64,0x80\n"
	"	irq_stub \\v\n"
	".endr\n"
	".section .rodata\n"
	".balign 8\n"
	"irq_stub_table:\n"
	".irp v, 2,0x40,0x41,0x50,0x60,0x62,0x63,0x64,0x80\n"
	"	" ASM_PTR " irq_stub_\\v\n"
	".endr\n"
	".text\n");

extern const uintptr_t irq_stub_table[];
static const uint8_t irq_vectors[] = {
	VEC_NMI, VEC_LOW, VEC_XAPIC_SELF, VEC_TIMER, VEC_TO_BSP, VEC_TO_AP,
	VEC_ALL_BUT_SELF, VEC_ALL, VEC_HIGH,
};

static volatile uint32_t irq_count[NR_CPUS][256];
static volatile uint64_t irq_tsc[256];          /* TSC in the last handler */
typedef void irq_hook_fn(unsigned int cpu, unsigned int vector);
static irq_hook_fn *volatile irq_hook[256];     /* instead of a plain EOI */

static unsigned int cpu_index(void)
{
	return cpuid(1, 0).ebx >> 24;
}

static uint32_t apic_read(uint32_t off)
{
	if (x2mode)
		return (uint32_t)rdmsr(X2APIC_MSR(off));
	return *(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off);
}

static void apic_write(uint32_t off, uint32_t val)
{
	if (x2mode)
		wrmsr(X2APIC_MSR(off), val);
	else
		*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off) = val;
}

/* The AP always runs in x2APIC mode. */
static void apic_eoi(unsigned int cpu)
{
	if (cpu)
		wrmsr(X2APIC_MSR(APIC_EOI), 0);
	else
		apic_write(APIC_EOI, 0);
}

__attribute__((used)) void irq_entry(uint32_t vector);
__attribute__((used)) void irq_entry(uint32_t vector)
{
	unsigned int cpu = cpu_index() & (NR_CPUS - 1);

	irq_tsc[vector] = rdtsc_ordered();
	irq_count[cpu][vector]++;
	if (irq_hook[vector])
		irq_hook[vector](cpu, vector);
	else if (vector != VEC_NMI)             /* an NMI has no EOI */
		apic_eoi(cpu);
}

static void irq_init(void)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(irq_vectors); i++)
		idt_set_gate(irq_vectors[i], irq_stub_table[i]);
	idt_load();
}

/* Waits with interrupts on until irq_count[cpu][vector] reaches `want`;
 * with `halt`, in HLT (each wake-up is an interrupt). */
static bool wait_count(unsigned int cpu, unsigned int vector, uint32_t want,
		       bool halt)
{
	uint64_t end = rdtsc_ordered() + TICKS(WAIT_TICKS);

	while (irq_count[cpu][vector] < want) {
		if (rdtsc_ordered() > end)
			return false;
		if (halt)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		else
			__asm__ volatile("sti; pause; cli" ::: "memory");
	}
	return true;
}

/* Lets `ticks` pass with interrupts on. */
static void spin_ticks(uint64_t ticks)
{
	uint64_t end = rdtsc_ordered() + TICKS(ticks);

	while (rdtsc_ordered() < end)
		__asm__ volatile("sti; pause; cli" ::: "memory");
}

static __attribute__((unused)) bool isr_bit(unsigned int vector)
{
	return apic_read(APIC_ISR + (vector / 32) * 0x10) & (1u << (vector % 32));
}

static bool irr_bit(unsigned int vector)
{
	return apic_read(APIC_IRR + (vector / 32) * 0x10) & (1u << (vector % 32));
}

/* ---- CPUID ----------------------------------------------------------------- */

static bool has_tsc_deadline;

static void test_cpuid(unsigned int nr_cpus)
{
	struct cpuid_regs l1 = cpuid(1, 0), t0 = cpuid(0xb, 0),
			  t1 = cpuid(0xb, 1), hv = cpuid(0x40000000, 0),
			  timing = cpuid(0x40000010, 0);

	printf("cpuid: apic %u x2apic %u tsc-deadline %u apic id %u, "
	       "leaf 0xb: %u vcpus, tsc %u kHz, apic timer %u kHz\n",
	       !!(l1.edx & CPUID1_EDX_APIC), !!(l1.ecx & CPUID1_ECX_X2APIC),
	       !!(l1.ecx & CPUID1_ECX_TSC_DL), l1.ebx >> 24, t1.ebx,
	       timing.eax, timing.ebx);
	has_tsc_deadline = l1.ecx & CPUID1_ECX_TSC_DL;
	EXPECT(l1.edx & CPUID1_EDX_APIC);
	EXPECT(l1.ecx & CPUID1_ECX_X2APIC);
	EXPECT_EQ(l1.ebx >> 24, 0);
	EXPECT_EQ(t0.edx, 0);
	EXPECT_EQ((t0.ecx >> 8) & 0xff, 1);     /* SMT level */
	EXPECT_EQ(t1.ebx, nr_cpus);
	EXPECT_EQ((t1.ecx >> 8) & 0xff, 2);     /* core level */
	EXPECT(hv.eax >= 0x40000010);
	EXPECT(timing.eax != 0);
	EXPECT_EQ(timing.ebx, timing.eax);
}

/* ---- xAPIC through the MMIO page ------------------------------------------- */
#if GUEST_BITS == 32

static void test_xapic_regs(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE), v;

	printf("xapic: IA32_APIC_BASE %#llx, id %#x, version %#x, svr %#x, "
	       "lvt timer %#x\n", (unsigned long long)base, apic_read(APIC_ID),
	       apic_read(APIC_VERSION), apic_read(APIC_SVR),
	       apic_read(APIC_LVT_TIMER));
	EXPECT_EQ(base, APIC_MMIO | APIC_BASE_EN | APIC_BASE_BSP);
	EXPECT_EQ(apic_read(APIC_ID), 0);
	EXPECT_EQ(apic_read(APIC_VERSION) & 0xff, 0x14);
	EXPECT_EQ((apic_read(APIC_VERSION) >> 16) & 0xff, 6);
	EXPECT_EQ(apic_read(APIC_SVR), 0xff);
	EXPECT_EQ(apic_read(APIC_LVT_TIMER), LVT_MASKED);
	EXPECT_EQ(apic_read(APIC_LVT_LINT0), LVT_MASKED);
	/* The x2APIC MSRs do not exist in xAPIC mode. */
	EXPECT(!rdmsr_safe(X2APIC_MSR(APIC_ID), &v));
	EXPECT_EQ(trap_last.vector, VEC_GP);
	/* A software-disabled APIC keeps LVTs masked. */
	apic_write(APIC_LVT_LINT0, 0x700);
	EXPECT_EQ(apic_read(APIC_LVT_LINT0), 0x700 | LVT_MASKED);
	apic_write(APIC_SVR, 0x1ff);
	EXPECT_EQ(apic_read(APIC_SVR), 0x1ff);
	apic_write(APIC_LVT_LINT0, 0x700 | LVT_MASKED);
	EXPECT_EQ(apic_read(APIC_LVT_LINT0), 0x700 | LVT_MASKED);
	apic_write(APIC_LVT_TIMER, 0xfff00000u | LVT_MASKED | VEC_TIMER);
	EXPECT_EQ(apic_read(APIC_LVT_TIMER), LVT_MASKED | VEC_TIMER);
	apic_write(APIC_TPR, 0x20);
	EXPECT_EQ(apic_read(APIC_TPR), 0x20);
	EXPECT_EQ(apic_read(APIC_PPR), 0x20);
	apic_write(APIC_TPR, 0);
}

/* Self IPI through the ICR: held in IRR while IF = 0, taken after STI. */
static void test_xapic_self_ipi(void)
{
	bool pending;

	__asm__ volatile("cli");
	apic_write(APIC_ICR, ICR_SELF | VEC_XAPIC_SELF);
	pending = irr_bit(VEC_XAPIC_SELF);
	EXPECT(pending);
	EXPECT_EQ(irq_count[0][VEC_XAPIC_SELF], 0);
	__asm__ volatile("sti; nop; cli" ::: "memory");
	printf("xapic: self IPI held in IRR with IF=0: %s, delivered after "
	       "STI: %u\n", pending ? "yes" : "no",
	       irq_count[0][VEC_XAPIC_SELF]);
	EXPECT_EQ(irq_count[0][VEC_XAPIC_SELF], 1);
	EXPECT(!irr_bit(VEC_XAPIC_SELF));
	EXPECT(!isr_bit(VEC_XAPIC_SELF));
}

/*
 * IA32_APIC_BASE.EN clear (SDM Vol. 3A 11.4.3): the processor acts as one
 * without a local APIC, so CPUID.1:EDX.APIC reads 0 and the page no longer
 * answers; like any address nothing claims it reads all ones. Setting EN
 * again gives an xAPIC in its reset state (11.4.7.1: SVR 0xff, LVTs
 * masked). Leaves the APIC enabled with SVR 0x1ff.
 */
static void test_xapic_disable(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE), v;
	uint32_t version = apic_read(APIC_VERSION), apic_off, ver_off;
	bool cpuid_off;

	wrmsr(MSR_APIC_BASE, base & ~(uint64_t)APIC_BASE_EN);
	cpuid_off = !(cpuid(1, 0).edx & CPUID1_EDX_APIC);
	ver_off = apic_read(APIC_VERSION);
	apic_write(APIC_TPR, 0x30);
	apic_off = apic_read(APIC_TPR);
	EXPECT(cpuid_off);
	EXPECT_EQ(ver_off, 0xffffffffu);
	EXPECT_EQ(apic_off, 0xffffffffu);
	/* Disabled straight to x2APIC is invalid (11.12.5). */
	EXPECT(!wrmsr_safe(MSR_APIC_BASE, base | APIC_BASE_EXTD));
	EXPECT(!rdmsr_safe(X2APIC_MSR(APIC_VERSION), &v));
	wrmsr(MSR_APIC_BASE, base);
	printf("xapic: disabled: cpuid apic %u, version reads %#x; enabled "
	       "again: cpuid apic %u, version %#x, svr %#x\n", !cpuid_off,
	       ver_off, !!(cpuid(1, 0).edx & CPUID1_EDX_APIC),
	       apic_read(APIC_VERSION), apic_read(APIC_SVR));
	EXPECT(cpuid(1, 0).edx & CPUID1_EDX_APIC);
	EXPECT_EQ(apic_read(APIC_VERSION), version);
	EXPECT_EQ(apic_read(APIC_SVR), 0xff);
	EXPECT_EQ(apic_read(APIC_TPR), 0);
	EXPECT_EQ(apic_read(APIC_LVT_TIMER), LVT_MASKED);
	apic_write(APIC_SVR, 0x1ff);
}

/*
 * The base moves (SDM Vol. 3A 11.4.4): the registers answer at the new
 * address and the old one reads all ones, as an address nothing claims;
 * reserved bits (0-7, 9) raise #GP. Back at 0xfee00000 after, where the
 * CPU virtualizes the page again.
 */
#define APIC_MOVED      0xfed40000u

static void test_xapic_move(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint64_t moved = (base & 0xfff) | APIC_MOVED;
	uint32_t version = apic_read(APIC_VERSION), at_new, at_old;

	EXPECT(!wrmsr_safe(MSR_APIC_BASE, base | 1));
	EXPECT(!wrmsr_safe(MSR_APIC_BASE, base | (1u << 9)));
	wrmsr(MSR_APIC_BASE, moved);
	at_new = *(volatile uint32_t *)(uintptr_t)(APIC_MOVED + APIC_VERSION);
	at_old = apic_read(APIC_VERSION);
	wrmsr(MSR_APIC_BASE, base);
	printf("xapic: moved to %#x: version %#x there, %#x at 0xfee00000\n",
	       APIC_MOVED, at_new, at_old);
	EXPECT_EQ(at_new, version);
	EXPECT_EQ(at_old, 0xffffffffu);
	EXPECT_EQ(rdmsr(MSR_APIC_BASE), base);
	EXPECT_EQ(apic_read(APIC_VERSION), version);
}

/* The exits of 16 register reads, 2 writes (an LVT entry, an EOI with
 * nothing in service) and a PPR read: all emulated MMIO on an EPT
 * violation, or, where the CPU virtualizes the page (SDM Vol. 3C 29.4),
 * no exit, 2 trap-like APIC-write exits and 1 APIC-access exit; with
 * virtual-interrupt delivery the EOI is virtualized too (29.1.2), and
 * only the LVT write exits. Run after test_xapic_disable: the page is
 * virtualized again once the APIC is back on. */
static const uint32_t xapic_read_regs[] = {
	APIC_ID, APIC_VERSION, APIC_TPR, APIC_LDR, APIC_DFR, APIC_SVR,
	APIC_ISR, APIC_ISR + 0x70, APIC_IRR, APIC_IRR + 0x10, APIC_ESR,
	APIC_ICR, APIC_LVT_TIMER, APIC_LVT_LINT0, APIC_TIMER_ICR,
	APIC_TIMER_DCR,
};

static void xapic_exits(long *ept, long *access, long *write)
{
	*ept = hc_counter(EXIT_REASON_EPT_VIOLATION);
	*access = hc_counter(EXIT_REASON_APIC_ACCESS);
	*write = hc_counter(EXIT_REASON_APIC_WRITE);
}

static void test_xapic_exits(void)
{
	long ept0, acc0, wr0, ept1, acc1, wr1, ept2, acc2, wr2;
	uint32_t sum = 0;

	xapic_exits(&ept0, &acc0, &wr0);
	for (unsigned int i = 0; i < ARRAY_SIZE(xapic_read_regs); i++)
		sum += apic_read(xapic_read_regs[i]);
	xapic_exits(&ept1, &acc1, &wr1);
	apic_write(APIC_LVT_LINT0, 0x700 | LVT_MASKED);
	apic_write(APIC_EOI, 0);
	(void)apic_read(APIC_PPR);
	xapic_exits(&ept2, &acc2, &wr2);
	printf("xapic: %u register reads: %ld EPT-violation, %ld APIC-access "
	       "exits; 2 writes and a PPR read: %ld EPT-violation, %ld "
	       "APIC-write, %ld APIC-access exits\n",
	       (unsigned int)ARRAY_SIZE(xapic_read_regs), ept1 - ept0,
	       acc1 - acc0, ept2 - ept1, wr2 - wr1, acc2 - acc1);
	EXPECT(sum != 0);
	EXPECT_EQ(apic_read(APIC_LVT_LINT0), 0x700 | LVT_MASKED);
}

#endif

/* One-shot timer, divide by 1, waited for in HLT. */
static void test_oneshot(void)
{
	long hlt_before = hc_counter(EXIT_REASON_HLT);
	uint32_t ccr;
	uint64_t t0;
	bool woke;

	apic_write(APIC_TIMER_DCR, DCR_DIVIDE_1);
	apic_write(APIC_LVT_TIMER, VEC_TIMER);
	t0 = rdtsc_ordered();
	apic_write(APIC_TIMER_ICR, (uint32_t)TICKS(300000));
	ccr = apic_read(APIC_TIMER_CCR);
	EXPECT(ccr > 0 && ccr < TICKS(300000));
	woke = wait_count(0, VEC_TIMER, 1, true);
	EXPECT(woke);
	spin_ticks(1000000);            /* more than three times the count */
	printf("%s: one-shot timer: %u interrupt (%llu ticks after arming), "
	       "current count then %u, %ld HLT exits\n",
	       x2mode ? "x2apic" : "xapic", irq_count[0][VEC_TIMER],
	       (unsigned long long)(irq_tsc[VEC_TIMER] - t0),
	       apic_read(APIC_TIMER_CCR), hc_counter(EXIT_REASON_HLT) - hlt_before);
	EXPECT_EQ(irq_count[0][VEC_TIMER], 1);
	EXPECT_EQ(apic_read(APIC_TIMER_CCR), 0);
	EXPECT(hc_counter(EXIT_REASON_HLT) > hlt_before);
	EXPECT(irq_tsc[VEC_TIMER] - t0 >= TICKS(300000));
}

/* ---- x2APIC through MSRs ---------------------------------------------------- */

static void test_x2apic_enable(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE), v;

	wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	x2mode = true;
	EXPECT_EQ(rdmsr(MSR_APIC_BASE), base | APIC_BASE_EXTD);
	/* x2APIC straight back to xAPIC is invalid (SDM Vol. 3A 11.12.5). */
	EXPECT(!wrmsr_safe(MSR_APIC_BASE, base));
	EXPECT_EQ(trap_last.vector, VEC_GP);
#if GUEST_BITS == 32
	/* The page does not answer in x2APIC mode (11.12.1.2: as in the
	 * disabled state). */
	v = *(volatile uint32_t *)(uintptr_t)(APIC_MMIO + APIC_VERSION);
	EXPECT_EQ(v, 0xffffffffu);
#else
	(void)v;
	apic_write(APIC_SVR, 0x1ff);
#endif
}

/* The exits of 14 x2APIC register reads and 2 writes (TPR 0, an EOI with
 * nothing in service): one each where the MSRs exit, none under x2APIC
 * virtualization (SDM Vol. 3C 29.5). The ID and LDR read in x2APIC form
 * either way. */
static const uint32_t x2apic_read_regs[] = {
	APIC_ID, APIC_VERSION, APIC_TPR, APIC_LDR, APIC_SVR, APIC_ISR,
	APIC_TMR, APIC_IRR, APIC_ESR, APIC_ICR, APIC_LVT_TIMER,
	APIC_LVT_LINT0, APIC_TIMER_ICR, APIC_TIMER_DCR,
};

static void test_x2apic_exits(void)
{
	long rd0 = hc_counter(EXIT_REASON_RDMSR), wr0, rd, wr;
	uint64_t id = 1, ldr = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(x2apic_read_regs); i++) {
		uint64_t v = rdmsr(X2APIC_MSR(x2apic_read_regs[i]));

		if (x2apic_read_regs[i] == APIC_ID)
			id = v;
		if (x2apic_read_regs[i] == APIC_LDR)
			ldr = v;
	}
	rd = hc_counter(EXIT_REASON_RDMSR) - rd0;
	wr0 = hc_counter(EXIT_REASON_WRMSR);
	wrmsr(X2APIC_MSR(APIC_TPR), 0);
	wrmsr(X2APIC_MSR(APIC_EOI), 0);
	wr = hc_counter(EXIT_REASON_WRMSR) - wr0;
	printf("x2apic: %u register reads: %ld RDMSR exits; TPR and EOI "
	       "writes: %ld WRMSR exits; id %#llx ldr %#llx\n",
	       (unsigned int)ARRAY_SIZE(x2apic_read_regs), rd, wr,
	       (unsigned long long)id, (unsigned long long)ldr);
	EXPECT_EQ(id, 0);
	EXPECT_EQ(ldr, 1);
	EXPECT((rd == 0 && wr == 0) ||
	       (rd == (long)ARRAY_SIZE(x2apic_read_regs) && wr == 2));
}

static void test_x2apic_regs(void)
{
	static const uint32_t reserved[] = { 0x801, 0x804, 0x807, 0x809, 0x80c,
					     0x80e, 0x831, 0x840, 0x8ff };
	unsigned int gp = 0;
	uint64_t v;

	printf("x2apic: id %u, version %#x, ldr %#x, svr %#x\n",
	       apic_read(APIC_ID), apic_read(APIC_VERSION), apic_read(APIC_LDR),
	       apic_read(APIC_SVR));
	EXPECT_EQ(apic_read(APIC_ID), 0);
	EXPECT_EQ(apic_read(APIC_VERSION) & 0xff, 0x14);
	EXPECT_EQ(apic_read(APIC_LDR), 1);      /* cluster 0, bit 0 */
	EXPECT_EQ(apic_read(APIC_SVR), 0x1ff);  /* kept across the switch */
	apic_write(APIC_TPR, 0x30);
	EXPECT_EQ(apic_read(APIC_TPR), 0x30);
	apic_write(APIC_TPR, 0);
	apic_write(APIC_LVT_THERMAL, LVT_MASKED | 0x33);
	EXPECT_EQ(apic_read(APIC_LVT_THERMAL), LVT_MASKED | 0x33);
	for (unsigned int i = 0; i < ARRAY_SIZE(reserved); i++) {
		bool faulted = !rdmsr_safe(reserved[i], &v);

		gp += faulted && trap_last.vector == VEC_GP;
		EXPECT(faulted);
	}
	EXPECT(!wrmsr_safe(X2APIC_MSR(APIC_ID), 5));           /* read-only */
	EXPECT(!wrmsr_safe(X2APIC_MSR(APIC_VERSION), 0));
	EXPECT(!rdmsr_safe(X2APIC_MSR(APIC_EOI), &v));         /* write-only */
	EXPECT(!rdmsr_safe(X2APIC_MSR(APIC_SELF_IPI), &v));
	EXPECT(!wrmsr_safe(X2APIC_MSR(APIC_EOI), 1));          /* must be 0 */
	EXPECT(!wrmsr_safe(X2APIC_MSR(APIC_TPR), 0x100));      /* reserved bits */
	EXPECT(!wrmsr_safe(X2APIC_MSR(APIC_LVT_THERMAL), 1u << 20));
	EXPECT(!wrmsr_safe(X2APIC_MSR(APIC_SVR), 0x1ffull << 32));
	EXPECT_EQ(trap_last.vector, VEC_GP);
	printf("x2apic: %u of %u reserved MSRs raise #GP\n", gp,
	       (unsigned int)ARRAY_SIZE(reserved));
	EXPECT_EQ(gp, ARRAY_SIZE(reserved));
}

/* SELF IPI, and TPR holding back a vector of a lower priority class. */
static void test_x2apic_tpr(void)
{
	bool held;

	wrmsr(X2APIC_MSR(APIC_SELF_IPI), VEC_LOW);
	EXPECT_EQ(irq_count[0][VEC_LOW], 0);    /* IF = 0 here */
	__asm__ volatile("sti; nop; cli" ::: "memory");
	EXPECT_EQ(irq_count[0][VEC_LOW], 1);
	apic_write(APIC_TPR, 0x50);
	wrmsr(X2APIC_MSR(APIC_SELF_IPI), VEC_LOW);
	spin_ticks(100000);
	held = irq_count[0][VEC_LOW] == 1 && irr_bit(VEC_LOW);
	apic_write(APIC_TPR, 0);
	__asm__ volatile("sti; nop; cli" ::: "memory");
	printf("x2apic: self IPI %u; with TPR 0x50 vector 0x40 held in IRR: %s, "
	       "taken after TPR 0: %u\n", 1, held ? "yes" : "no",
	       irq_count[0][VEC_LOW] - 1);
	EXPECT(held);
	EXPECT_EQ(irq_count[0][VEC_LOW], 2);
}

/* Nested interrupts: 0x80 arrives while 0x40 is in service. */
static volatile uint32_t isr_outer, ppr_outer, isr_inner_lo, isr_inner_hi,
			 isr_after_lo, isr_after_hi;

static void hook_high(unsigned int cpu, unsigned int vector)
{
	(void)vector;
	isr_inner_lo = apic_read(APIC_ISR + 0x20);
	isr_inner_hi = apic_read(APIC_ISR + 0x40);
	apic_eoi(cpu);
}

static void hook_low_nesting(unsigned int cpu, unsigned int vector)
{
	(void)vector;
	isr_outer = apic_read(APIC_ISR + 0x20);
	ppr_outer = apic_read(APIC_PPR);
	wrmsr(X2APIC_MSR(APIC_SELF_IPI), VEC_HIGH);
	__asm__ volatile("sti; nop; cli" ::: "memory");
	isr_after_lo = apic_read(APIC_ISR + 0x20);
	isr_after_hi = apic_read(APIC_ISR + 0x40);
	apic_eoi(cpu);
}

static void test_x2apic_nested_eoi(void)
{
	irq_hook[VEC_LOW] = hook_low_nesting;
	irq_hook[VEC_HIGH] = hook_high;
	wrmsr(X2APIC_MSR(APIC_SELF_IPI), VEC_LOW);
	__asm__ volatile("sti; nop; cli" ::: "memory");
	irq_hook[VEC_LOW] = NULL;
	irq_hook[VEC_HIGH] = NULL;
	printf("x2apic: nested: ISR in 0x40 %#x (PPR %#x), in 0x80 %#x/%#x, "
	       "after its EOI %#x/%#x, at the end %#x/%#x\n", isr_outer,
	       ppr_outer, isr_inner_lo, isr_inner_hi, isr_after_lo,
	       isr_after_hi, apic_read(APIC_ISR + 0x20), apic_read(APIC_ISR + 0x40));
	EXPECT_EQ(irq_count[0][VEC_HIGH], 1);
	EXPECT_EQ(isr_outer, 1);
	EXPECT_EQ(ppr_outer, VEC_LOW);
	EXPECT_EQ(isr_inner_lo, 1);
	EXPECT_EQ(isr_inner_hi, 1);
	EXPECT_EQ(isr_after_lo, 1);             /* EOI retired 0x80 only */
	EXPECT_EQ(isr_after_hi, 0);
	EXPECT_EQ(apic_read(APIC_ISR + 0x20), 0);
	EXPECT_EQ(apic_read(APIC_ISR + 0x40), 0);
}

/* Periodic timer: the handler stops it at the fifth interrupt. */
#define PERIODIC_STOP_AT    5
static volatile uint64_t periodic_first_tsc;

static void hook_periodic(unsigned int cpu, unsigned int vector)
{
	if (irq_count[cpu][vector] == 1)
		periodic_first_tsc = irq_tsc[vector];
	if (irq_count[cpu][vector] == PERIODIC_STOP_AT)
		apic_write(APIC_TIMER_ICR, 0);
	apic_eoi(cpu);
}

static void test_x2apic_periodic(void)
{
	bool done;

	irq_count[0][VEC_TIMER] = 0;
	irq_hook[VEC_TIMER] = hook_periodic;
	apic_write(APIC_TIMER_DCR, DCR_DIVIDE_1);
	apic_write(APIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	apic_write(APIC_TIMER_ICR, (uint32_t)TICKS(200000));
	done = wait_count(0, VEC_TIMER, PERIODIC_STOP_AT, true);
	spin_ticks(1000000);            /* five more periods, if it still ran */
	irq_hook[VEC_TIMER] = NULL;
	printf("x2apic: periodic timer: %u interrupts, then stopped; %llu "
	       "ticks from the first to the last\n", irq_count[0][VEC_TIMER],
	       (unsigned long long)(irq_tsc[VEC_TIMER] - periodic_first_tsc));
	EXPECT(done);
	EXPECT_EQ(irq_count[0][VEC_TIMER], PERIODIC_STOP_AT);
}

static void test_x2apic_masked_timer(void)
{
	irq_count[0][VEC_TIMER] = 0;
	apic_write(APIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	apic_write(APIC_TIMER_ICR, (uint32_t)TICKS(50000));
	EXPECT(apic_read(APIC_TIMER_CCR) > 0);
	spin_ticks(300000);
	EXPECT_EQ(apic_read(APIC_TIMER_CCR), 0);
	EXPECT_EQ(irq_count[0][VEC_TIMER], 0);
}

static void test_tsc_deadline(void)
{
	uint64_t deadline;
	bool woke;

	if (!has_tsc_deadline) {
		printf("tsc-deadline: not offered (no VMX-preemption timer)\n");
		return;
	}
	irq_count[0][VEC_TIMER] = 0;
	apic_write(APIC_LVT_TIMER, LVT_TSC_DEADLINE | VEC_TIMER);
	/* A deadline written and cleared never fires. */
	wrmsr(MSR_TSC_DEADLINE, rdtsc_ordered() + TICKS(50000));
	wrmsr(MSR_TSC_DEADLINE, 0);
	spin_ticks(200000);
	EXPECT_EQ(irq_count[0][VEC_TIMER], 0);
	deadline = rdtsc_ordered() + TICKS(300000);
	wrmsr(MSR_TSC_DEADLINE, deadline);
	EXPECT_EQ(rdmsr(MSR_TSC_DEADLINE), deadline);
	woke = wait_count(0, VEC_TIMER, 1, true);
	spin_ticks(500000);
	printf("tsc-deadline: %u interrupt, %llu ticks after the deadline; "
	       "IA32_TSC_DEADLINE then %#llx\n", irq_count[0][VEC_TIMER],
	       (unsigned long long)(irq_tsc[VEC_TIMER] - deadline),
	       (unsigned long long)rdmsr(MSR_TSC_DEADLINE));
	EXPECT(woke);
	EXPECT_EQ(irq_count[0][VEC_TIMER], 1);
	EXPECT(irq_tsc[VEC_TIMER] >= deadline);
	EXPECT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);
	apic_write(APIC_LVT_TIMER, LVT_MASKED);
}

/* CR8 is TPR[7:4] (SDM Vol. 3A 11.8.6.1); 64-bit mode only. With IF = 1
 * a MOV to CR8 that lets a held vector in has it taken before the next
 * instruction (under a TPR shadow: by its TPR-below-threshold exit;
 * with virtual-interrupt delivery the CPU takes it at the MOV itself,
 * SDM Vol. 3C 29.1.2). The exits of its six CR8 accesses and the
 * TPR-below-threshold exits are printed: 6 and 0 where CR8 exits, 0 and
 * 2 under a TPR shadow, 0 and 0 with virtual-interrupt delivery. */
static void test_cr8(void)
{
#if GUEST_BITS == 64
	long cr_exits = hc_counter(EXIT_REASON_CR);
	long below = hc_counter(EXIT_REASON_TPR_BELOW);
	uint64_t cr8 = 0;
	uint32_t at_once;
	bool held;

	cr8_write(5);
	EXPECT_EQ(apic_read(APIC_TPR), 0x50);
	apic_write(APIC_TPR, 0x70);
	cr8 = cr8_read();
	EXPECT_EQ(cr8, 7);
	trap_arm();
	__asm__ volatile("1: mov %0, %%cr8\n2:\n" EX_TABLE("1b", "2b")
			 :: "r"(0x10ULL) : "memory");
	EXPECT_EQ(trap_last.vector, VEC_GP);
	irq_count[0][VEC_LOW] = 0;
	wrmsr(X2APIC_MSR(APIC_SELF_IPI), VEC_LOW);
	spin_ticks(100000);
	held = irq_count[0][VEC_LOW] == 0;
	cr8_write(0);
	__asm__ volatile("sti; nop; cli" ::: "memory");
	cr8_write(7);
	wrmsr(X2APIC_MSR(APIC_SELF_IPI), VEC_LOW);
	__asm__ volatile("sti; nop; mov %1, %%cr8; mov %2, %0; cli"
			 : "=r"(at_once) : "r"(0ULL), "m"(irq_count[0][VEC_LOW])
			 : "memory");
	cr_exits = hc_counter(EXIT_REASON_CR) - cr_exits;
	below = hc_counter(EXIT_REASON_TPR_BELOW) - below;
	printf("cr8: reads TPR >> 4: %llu; with CR8 7 vector 0x40 held: %s, "
	       "taken after CR8 0: %u; with IF=1 at once: %s\n",
	       (unsigned long long)cr8, held ? "yes" : "no", at_once - 1,
	       at_once == 2 ? "yes" : "no");
	printf("cr8: %ld CR-access exits, %ld TPR-below-threshold exits\n",
	       cr_exits, below);
	EXPECT((cr_exits == 6 && below == 0) ||
	       (cr_exits == 0 && (below == 2 || below == 0)));
	EXPECT(held);
	EXPECT_EQ(at_once, 2);
	EXPECT_EQ(irq_count[0][VEC_LOW], 2);
	EXPECT_EQ(apic_read(APIC_TPR), 0);
#endif
}

/* ---- NMI -------------------------------------------------------------------- */

static volatile uint32_t nmi_seen_inside;       /* NMIs counted in the handler */
static volatile uint32_t nmi_hlt_timer;         /* timer interrupts ending a HLT */

static void send_self_nmi(void)
{
	/* Physical destination: this vCPU's APIC ID, 0 (SDM Vol. 3A 11.6.1). */
	if (x2mode)
		wrmsr(X2APIC_MSR(APIC_ICR), ICR_NMI | ICR_ASSERT);
	else
		apic_write(APIC_ICR, ICR_NMI | ICR_ASSERT);
}

/* A HLT with a blocked NMI pending goes on until something else (here
 * the timer) ends it. The timer's IRET unblocks NMIs, so the pending one
 * comes then, still inside the first handler. The timer's count is put
 * back for the later timer checks. */
static void hlt_blocked_nmi(void)
{
	uint32_t before = irq_count[0][VEC_TIMER];

	apic_write(APIC_TIMER_DCR, DCR_DIVIDE_1);
	apic_write(APIC_LVT_TIMER, VEC_TIMER);
	apic_write(APIC_TIMER_ICR, 200000);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	nmi_hlt_timer = irq_count[0][VEC_TIMER] - before;
	spin_ticks(300000);
	irq_count[0][VEC_TIMER] = before;
}

/* The first NMI sends a second one, makes an exit (reading the UART's
 * line status) right after MOV SS, so that the exit has MOV-SS blocking
 * to end, then one that has Keel look for events to inject (a TPR
 * write), spins, and looks whether the second came in: it must wait for
 * this handler's IRET (SDM Vol. 3A 6.7.1). */
static void hook_nmi_nested(unsigned int cpu, unsigned int vector)
{
	(void)cpu;
	if (irq_count[0][vector] != 1)
		return;
	send_self_nmi();
	__asm__ volatile("mov %%ss, %%ax; mov %%ax, %%ss; inb %%dx, %%al"
			 :: "d"(0x3fd) : "eax", "memory");
	apic_write(APIC_TPR, 0);
	for (unsigned int i = 0; i < 1000; i++)
		__asm__ volatile("pause");
	nmi_seen_inside = irq_count[0][vector];
	hlt_blocked_nmi();
}

static void test_nmi_self(const char *mode)
{
	uint32_t at_once, after;

	irq_count[0][VEC_NMI] = 0;
	irq_hook[VEC_NMI] = hook_nmi_nested;
	__asm__ volatile("cli" ::: "memory");
	send_self_nmi();
	at_once = irq_count[0][VEC_NMI];
	for (unsigned int i = 0; i < 1000; i++)
		__asm__ volatile("pause");
	after = irq_count[0][VEC_NMI];
	irq_hook[VEC_NMI] = NULL;
	printf("%s: self NMI with IF=0: %u at once, nested one seen inside the "
	       "handler %u time(s), %u NMIs in all; HLT with it pending ended "
	       "by %u timer interrupt(s)\n", mode, at_once, nmi_seen_inside - 1,
	       after, nmi_hlt_timer);
	EXPECT(at_once >= 1);
	EXPECT_EQ(nmi_seen_inside, 1);
	EXPECT_EQ(after, 2);
	EXPECT_EQ(nmi_hlt_timer, 1);
}

/*
 * A blocked NMI that waits only for the handler's IRET (SDM Vol. 3A
 * 6.7.1), many times over: the first NMI's handler sends ten more to
 * itself, of which one is held and must arrive after its IRET through
 * the NMI-window exit, with no other event to help it.
 */
#define NMI_ROUNDS      2000u

static void hook_nmi_burst(unsigned int cpu, unsigned int vector)
{
	(void)cpu;
	if (irq_count[0][vector] != 1)
		return;
	for (unsigned int i = 0; i < 10; i++)
		send_self_nmi();
}

static void test_nmi_rounds(const char *mode)
{
	unsigned int lost = 0, extra = 0;

	irq_hook[VEC_NMI] = hook_nmi_burst;
	for (unsigned int r = 0; r < NMI_ROUNDS; r++) {
		unsigned int spins = 0;

		irq_count[0][VEC_NMI] = 0;
		send_self_nmi();
		while (irq_count[0][VEC_NMI] < 2 && spins++ < 100000)
			__asm__ volatile("pause");
		if (irq_count[0][VEC_NMI] < 2)
			lost++;
		else if (irq_count[0][VEC_NMI] > 2)
			extra++;
	}
	irq_hook[VEC_NMI] = NULL;
	printf("%s: %u rounds of an NMI that sends ten: %u without the held "
	       "one, %u with more\n", mode, NMI_ROUNDS, lost, extra);
	EXPECT_EQ(lost, 0);
	EXPECT_EQ(extra, 0);
}

static void test_up(void)
{
	test_cpuid(1);
#if GUEST_BITS == 32
	test_xapic_regs();
	test_xapic_self_ipi();
	test_xapic_disable();
	test_xapic_exits();
	test_xapic_move();
	test_nmi_self("xapic");
	test_nmi_rounds("xapic");
	test_oneshot();
	test_x2apic_enable();
#else
	test_x2apic_enable();
	test_oneshot();
#endif
	test_x2apic_regs();
	test_x2apic_exits();
	test_nmi_self("x2apic");
	test_nmi_rounds("x2apic");
	test_x2apic_tpr();
	test_cr8();
	test_x2apic_nested_eoi();
	test_x2apic_periodic();
	test_x2apic_masked_timer();
	test_tsc_deadline();
}

/* The task priority without timers (a CPU without the VMX-preemption
 * timer runs it too): xAPIC TPR and PPR through the page, x2APIC TPR,
 * CR8, nested interrupts. */
static void test_tpr(void)
{
#if GUEST_BITS == 32
	test_xapic_regs();
	test_xapic_self_ipi();
#endif
	test_x2apic_enable();
	apic_write(APIC_SVR, 0x1ff);
	test_x2apic_tpr();
	test_cr8();
	test_x2apic_nested_eoi();
}

/* ---- a timer storm --------------------------------------------------------- */

#define STORM_LOOPS         400000      /* about 2.4M ticks in Bochs */
#define STORM_MIN_IRQS      20
static volatile uint32_t storm_sink;

/* A fixed amount of work, with interrupts as they are: its TSC span. */
static uint64_t storm_work(void)
{
	uint64_t t0 = rdtsc_ordered();

	for (uint32_t i = 0; i < STORM_LOOPS; i++)
		storm_sink += i;
	return rdtsc_ordered() - t0;
}

/* Periodic timer, initial count 1, divide 1: whatever Keel makes of it,
 * the loop must keep at least half of the vCPU. */
static void test_timer_storm(void)
{
	uint64_t alone, stormy, rem;
	uint32_t irqs;

	apic_write(APIC_SVR, 0x1ff);
	alone = storm_work();
	irq_count[0][VEC_TIMER] = 0;
	apic_write(APIC_TIMER_DCR, DCR_DIVIDE_1);
	apic_write(APIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	apic_write(APIC_TIMER_ICR, 1);
	__asm__ volatile("sti" ::: "memory");
	stormy = storm_work();
	__asm__ volatile("cli" ::: "memory");
	apic_write(APIC_TIMER_ICR, 0);
	irqs = irq_count[0][VEC_TIMER];
	__asm__ volatile("sti; nop; cli" ::: "memory");  /* one left in IRR */
	printf("%s: timer storm (periodic, count 1): the loop took %llu ticks, "
	       "%llu without the timer; %u interrupts, %llu ticks each\n",
	       x2mode ? "x2apic" : "xapic", (unsigned long long)stormy,
	       (unsigned long long)alone, irqs, (unsigned long long)
	       udiv64(stormy > alone ? stormy - alone : 0, irqs ? irqs : 1,
		      &rem));
	EXPECT(stormy <= 2 * alone);
	EXPECT(irqs >= STORM_MIN_IRQS);
	apic_write(APIC_LVT_TIMER, LVT_MASKED);
}

static void test_storm(void)
{
#if GUEST_BITS == 32
	test_timer_storm();
#endif
	test_x2apic_enable();
	test_timer_storm();
}

/* ---- two vCPUs -------------------------------------------------------------- */
#if GUEST_BITS == 32

/*
 * The AP's first code, copied to TRAMPOLINE_PA: real mode at CS = 0x0700,
 * IP = 0 after the SIPI with vector 7; it loads a flat GDT (its
 * descriptor is addressed through CS) and jumps to 32-bit code in the
 * image.
 */
__asm__(
	".text\n"
	".code16\n"
	".global tramp_start, tramp_end\n"
	"tramp_start:\n"
	"	cli\n"
	"	lgdtl %cs:(tramp_gdt_desc - tramp_start)\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $ap_entry32\n"
	"	.balign 8\n"
	"tramp_gdt_desc:\n"
	"	.word ap_gdt_end - ap_gdt - 1\n"
	"	.long ap_gdt\n"
	"tramp_end:\n"
	".code32\n"
	"ap_entry32:\n"
	"	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %fs\n"
	"	movw %ax, %gs\n"
	"	movw %ax, %ss\n"
	"	movl $ap_stack + 8192, %esp\n"
	"	call ap_main\n"
	"1:	jmp 1b\n"
	".balign 8\n"
	"ap_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00cf9b000000ffff\n"
	"	.quad 0x00cf93000000ffff\n"
	"ap_gdt_end:\n");

extern char tramp_start[], tramp_end[];
__attribute__((aligned(16), used)) uint8_t ap_stack[8192];

static volatile uint32_t ap_count;      /* each start of the AP adds one */
static volatile uint32_t ap_ready, ap_x2apic_id, ap_cpuid_id;
static volatile uint32_t ap_park, ap_parked, ap_unparked;

__attribute__((used, noreturn)) void ap_main(void);
__attribute__((used, noreturn)) void ap_main(void)
{
	idt_load();
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	wrmsr(X2APIC_MSR(APIC_SVR), 0x1ff);
	__atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST);
	ap_x2apic_id = (uint32_t)rdmsr(X2APIC_MSR(APIC_ID));
	ap_cpuid_id = cpuid(1, 0).ebx >> 24;
	printf("ap: vCPU %u up in protected mode (x2APIC id %u), start count %u\n",
	       ap_cpuid_id, ap_x2apic_id, ap_count);
	__atomic_store_n(&ap_ready, 1, __ATOMIC_SEQ_CST);
	wrmsr(X2APIC_MSR(APIC_ICR), VEC_TO_BSP);        /* physical, to ID 0 */
	for (;;) {
		__asm__ volatile("sti; hlt" ::: "memory");
		if (!ap_park)
			continue;
		/* Only an NMI ends this HLT. */
		__atomic_store_n(&ap_parked, 1, __ATOMIC_SEQ_CST);
		__asm__ volatile("cli; hlt" ::: "memory");
		ap_park = 0;
		__atomic_store_n(&ap_unparked, 1, __ATOMIC_SEQ_CST);
	}
}

static void send_ipi(uint32_t dest, uint32_t low)
{
	wrmsr(X2APIC_MSR(APIC_ICR), ((uint64_t)dest << 32) | low);
}

static bool wait_flag(volatile uint32_t *flag)
{
	uint64_t end = rdtsc_ordered() + TICKS(WAIT_TICKS);

	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST))
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

static void test_smp_start(void)
{
	bool ready, ipi;

	memcpy((void *)TRAMPOLINE_PA, tramp_start,
	       (size_t)(tramp_end - tramp_start));
	printf("smp: INIT-SIPI-SIPI to vCPU 1, trampoline at %#x\n",
	       TRAMPOLINE_PA);
	send_ipi(1, ICR_NMI | ICR_ASSERT);      /* before its start: dropped */
	send_ipi(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	send_ipi(1, ICR_INIT | ICR_LEVEL);                      /* de-assert */
	send_ipi(1, ICR_STARTUP | ICR_ASSERT | (TRAMPOLINE_PA >> 12));
	ready = wait_flag(&ap_ready);
	send_ipi(1, ICR_STARTUP | ICR_ASSERT | (TRAMPOLINE_PA >> 12));
	ipi = wait_count(0, VEC_TO_BSP, 1, false);
	printf("smp: AP ready %s, IPI from the AP: %u\n", ready ? "yes" : "no",
	       irq_count[0][VEC_TO_BSP]);
	EXPECT(ready);
	EXPECT(ipi);
	EXPECT_EQ(ap_x2apic_id, 1);
	EXPECT_EQ(ap_cpuid_id, 1);
}

static bool wait_ap(unsigned int vector, uint32_t want)
{
	uint64_t end = rdtsc_ordered() + TICKS(WAIT_TICKS);

	while (irq_count[1][vector] < want)
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

static void test_smp_ipis(void)
{
	bool ok;

	send_ipi(1, VEC_TO_AP);                         /* physical */
	ok = wait_ap(VEC_TO_AP, 1);
	send_ipi(2, ICR_LOGICAL | VEC_TO_AP);           /* cluster 0, bit 1 */
	ok &= wait_ap(VEC_TO_AP, 2);
	send_ipi(0, ICR_ALL_BUT_SELF | VEC_ALL_BUT_SELF);
	ok &= wait_ap(VEC_ALL_BUT_SELF, 1);
	send_ipi(0, ICR_ALL | VEC_ALL);
	ok &= wait_ap(VEC_ALL, 1);
	ok &= wait_count(0, VEC_ALL, 1, false);
	spin_ticks(500000);
	printf("smp: AP got physical+logical %u, all-but-self %u, all %u; BSP "
	       "got all-but-self %u, all %u; AP started %u time(s)\n",
	       irq_count[1][VEC_TO_AP], irq_count[1][VEC_ALL_BUT_SELF],
	       irq_count[1][VEC_ALL], irq_count[0][VEC_ALL_BUT_SELF],
	       irq_count[0][VEC_ALL], ap_count);
	EXPECT(ok);
	EXPECT_EQ(irq_count[1][VEC_TO_AP], 2);
	EXPECT_EQ(irq_count[1][VEC_ALL_BUT_SELF], 1);
	EXPECT_EQ(irq_count[0][VEC_ALL_BUT_SELF], 0);
	EXPECT_EQ(irq_count[1][VEC_ALL], 1);
	EXPECT_EQ(irq_count[0][VEC_ALL], 1);
	EXPECT_EQ(ap_count, 1);                 /* the second SIPI was ignored */
}

/* NMI IPIs to the AP: in STI;HLT, then in CLI;HLT, which it leaves
 * after the NMI's handler. */
static void test_smp_nmi(void)
{
	bool ok, parked, unparked;

	send_ipi(1, ICR_NMI | ICR_ASSERT);
	ok = wait_ap(VEC_NMI, 1);
	ap_park = 1;
	send_ipi(1, VEC_TO_AP);                 /* out of its STI;HLT */
	parked = wait_flag(&ap_parked);
	spin_ticks(500000);
	EXPECT_EQ(ap_unparked, 0);
	send_ipi(1, ICR_NMI | ICR_ASSERT);
	ok &= wait_ap(VEC_NMI, 2);
	unparked = wait_flag(&ap_unparked);
	printf("smp: NMIs to the AP %u; in CLI;HLT: parked %s, woken %s\n",
	       irq_count[1][VEC_NMI], parked ? "yes" : "no",
	       unparked ? "yes" : "no");
	EXPECT(ok);
	EXPECT(parked);
	EXPECT(unparked);
	EXPECT_EQ(irq_count[1][VEC_NMI], 2);
}

/*
 * Trampolines Keel cannot take to protected mode when it emulates real
 * mode (no unrestricted guest): one jumps to itself for ever (ljmp
 * $0x0700, $0), one runs an instruction the emulator does not know
 * (UD2). Each must stop the guest with the reason, not hang it.
 */
__asm__(
	".text\n"
	".code16\n"
	".global tramp_loop, tramp_ud\n"
	"tramp_loop:\n"
	"	cli\n"
	"	ljmp $0x0700, $0\n"
	"tramp_ud:\n"
	"	ud2\n"
	"	.code32\n");

extern char tramp_loop[], tramp_ud[];

static void test_smp_bad(const char *which)
{
	const char *code = which[0] == 'l' ? tramp_loop : tramp_ud;

	test_x2apic_enable();
	memcpy((void *)TRAMPOLINE_PA, code, 8);
	printf("smpbad: INIT-SIPI to vCPU 1, trampoline '%s'\n", which);
	send_ipi(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	send_ipi(1, ICR_INIT | ICR_LEVEL);
	send_ipi(1, ICR_STARTUP | ICR_ASSERT | (TRAMPOLINE_PA >> 12));
	wait_flag(&ap_ready);           /* never set: Keel ends the guest */
	printf("FAIL smpbad: the guest still runs\n");
	EXPECT(false);
}

static void test_smp(void)
{
	test_cpuid(2);
	test_x2apic_enable();
	apic_write(APIC_SVR, 0x1ff);
	test_smp_start();
	test_smp_ipis();
	test_smp_nmi();
}
#else
static void test_smp(void)
{
	printf("FAIL test=smp needs the 32-bit image\n");
	EXPECT(false);
}

static void test_smp_bad(const char *which)
{
	(void)which;
	test_smp();
}
#endif

void guest_main(void)
{
	char test[16];

	irq_init();
	tick_scale = cmdline_number("scale", 1, MAX_SCALE);
	if (!cmdline_get("test", test, sizeof(test)))
		test[0] = 0;
	if (!strncmp(test, "smp", 4))
		test_smp();
	else if (!strncmp(test, "smploop", 8) || !strncmp(test, "smpud", 6))
		test_smp_bad(test + 3);
	else if (!strncmp(test, "storm", 6))
		test_storm();
	else if (!strncmp(test, "tpr", 4))
		test_tpr();
	else
		test_up();
}
