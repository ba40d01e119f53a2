/*
 * hostile_smp: two vCPUs attack Keel at once. vCPU 1 (started with
 * KEEL_HC_VCPU_START, so that this runs on shadow paging too) keeps
 * counting work in a loop with interrupts on while it serves commands
 * from vCPU 0; each phase is bounded and prints one `[NAME] ...` line.
 *
 *   ipi       vCPU 0 floods vCPU 1 with fixed IPIs, NMIs and broadcasts
 *             (all-excluding-self, all-including-self) through the xAPIC
 *             ICR, then again through the x2APIC ICR; vCPU 1's work
 *             counter must move during every chunk of the flood
 *   initsipi  INIT and SIPIs to the running vCPU 1: Keel ignores them
 *             (guest/vlapic_ipi.c); vCPU 1 goes on where it was
 *   logical   fixed and lowest-priority IPIs in logical mode against
 *             LDR and DFR values vCPU 1 sets (flat, cluster, LDR 0):
 *             delivered exactly where SDM Vol. 3A 11.6.2.2 says
 *   illegal   fixed IPIs with vectors 0-15: never delivered; ESR bit 5
 *             (send illegal vector) on the sender, bit 6 (receive
 *             illegal vector) on the receiver (11.5.3), and each error
 *             raises the LVT Error interrupt where it is unmasked
 *   apicbase  vCPU 1 switches its APIC off and on in IA32_APIC_BASE
 *             while vCPU 0 sends it IPIs and NMIs; with the APIC off
 *             nothing is delivered (11.4.3), NMIs included
 *   timer     both vCPUs at once: a periodic timer with count 1, then
 *             IA32_TSC_DEADLINE in the past again and again
 *   devices   both vCPUs at once on the 16550 at 0x3f8, RTC index/data
 *             pairs and (with `pci`) 0xcf8/0xcfc; then each still works
 *   hcall     both vCPUs at once: hypercalls with bad pointers, lengths,
 *             numbers and vCPU indexes: each answered, none fatal
 *   paging    vCPU 0 rewrites the PTEs and the page-directory entry of a
 *             window vCPU 1 reads all along (its own CR3 too), with
 *             INVLPG and CR3 reloads: vCPU 1 must read one of the frames
 *             an old or the new mapping names, never anything else
 *
 * Command-line counts (for a slower or faster run): ipis=, flaps=,
 * loops=, rounds=; test=NAME runs one phase (ipi includes initsipi).
 */
#include "guest.h"
#include "apic_regs.h"

#define CPUID1_ECX_TSC_DL   (1u << 24)

/* Vectors; their priority class is the high nibble. The marker has the
 * lowest class: once it is taken, every higher vector sent before it was
 * taken too (IRR is set at the sender's ICR write). */
#define VEC_NMI             2
#define VEC_MARK            0x30
#define VEC_FIXED           0x40
#define VEC_ALL_BUT_SELF    0x41
#define VEC_ALL             0x42
#define VEC_TIMER           0x50
#define VEC_LOGICAL         0x70
#define VEC_ERROR           0xe0

#define WAIT_TICKS          100000000ULL    /* a failure bound, not a time */
#define NR_CPUS             2
#define SEL_DATA            0x10            /* the library's flat data */

/* ---- interrupts ----------------------------------------------------------- */

__asm__(
	IRQ_ENTRY_MACRO
	".irp v, 2,0x30,0x40,0x41,0x42,0x50,0x70,0xe0\n"
	"	irq_stub \\v\n"
	".endr\n"
	".section .rodata\n"
	".balign 4\n"
	"irq_stub_table:\n"
	".irp v, 2,0x30,0x40,0x41,0x42,0x50,0x70,0xe0\n"
	"	.long irq_stub_\\v\n"
	".endr\n"
	".text\n");

extern const uintptr_t irq_stub_table[];
static const uint8_t irq_vectors[] = {
	VEC_NMI, VEC_MARK, VEC_FIXED, VEC_ALL_BUT_SELF, VEC_ALL, VEC_TIMER,
	VEC_LOGICAL, VEC_ERROR,
};

static volatile uint32_t irqs[NR_CPUS][256];
static volatile bool x2[NR_CPUS];               /* each vCPU's APIC mode */
static volatile uint32_t ap_apic_off;           /* vCPU 1's APIC is off */
static volatile uint32_t irqs_while_off;

/* FS holds the flat data selector on vCPU 1 and 0 on vCPU 0: which vCPU
 * runs, without an exit. */
static unsigned int this_cpu(void)
{
	uint32_t fs;

	__asm__ volatile("mov %%fs, %0" : "=r"(fs));
	return fs ? 1 : 0;
}

static uint32_t apic_read(uint32_t off)
{
	if (x2[this_cpu()])
		return (uint32_t)rdmsr(X2APIC_MSR(off));
	return *(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off);
}

static void apic_write(uint32_t off, uint32_t val)
{
	if (x2[this_cpu()])
		wrmsr(X2APIC_MSR(off), val);
	else
		*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off) = val;
}

__attribute__((used)) void irq_entry(uint32_t vector);
__attribute__((used)) void irq_entry(uint32_t vector)
{
	unsigned int cpu = this_cpu();

	irqs[cpu][vector]++;
	if (cpu == 1 && ap_apic_off)
		irqs_while_off++;
	if (vector != VEC_NMI && !(cpu == 1 && ap_apic_off))
		apic_write(APIC_EOI, 0);
}

/* The ICR from vCPU 0, in its current mode. */
static void send_ipi(uint32_t dest, uint32_t low)
{
	if (x2[0]) {
		wrmsr(X2APIC_MSR(APIC_ICR), ((uint64_t)dest << 32) | low);
		return;
	}
	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR, low);
}

static bool wait_irqs(unsigned int cpu, unsigned int vector, uint32_t want)
{
	uint64_t end = rdtsc_ordered() + WAIT_TICKS;

	while (irqs[cpu][vector] < want) {
		if (rdtsc_ordered() > end)
			return false;
		/* vCPU 0 waits with IF = 0 elsewhere; vCPU 1 always has it on. */
		if (cpu == 0 && this_cpu() == 0)
			__asm__ volatile("sti; pause; cli" ::: "memory");
	}
	return true;
}

/* Marks what vCPU 1 has taken so far: a marker IPI, lowest class. */
static bool ap_settle(void)
{
	uint32_t n = irqs[1][VEC_MARK];

	send_ipi(1, VEC_MARK);
	return wait_irqs(1, VEC_MARK, n + 1);
}

static void apic_init_cpu(unsigned int cpu)
{
	uint16_t fs = cpu ? SEL_DATA : 0;

	__asm__ volatile("mov %0, %%fs" :: "r"(fs));
	apic_write(APIC_SVR, 0x1ff);
	apic_write(APIC_LVT_ERROR, LVT_MASKED | VEC_ERROR);
}

/* ---- vCPU 1: work loop and commands --------------------------------------- */

enum ap_op {
	OP_NONE, OP_LDR, OP_ESR, OP_LVT_ERROR, OP_APIC_OFF, OP_APIC_ON,
	OP_FLAP, OP_TIMER, OP_DEVICES, OP_HCALL, OP_PAGING,
};

static volatile uint32_t cmd_seq, cmd_done, cmd_op, cmd_arg, cmd_arg2;
static volatile uint32_t cmd_result;
static volatile uint32_t work[NR_CPUS];
static volatile uint32_t ap_starts;

static void timer_run(unsigned int cpu);
static void devices_run(unsigned int cpu);
static void hcall_run(unsigned int cpu);
static void paging_read(void);

/* ap_apic_off is set only after the write that switches the APIC off,
 * with IF = 0, and cleared before the one that switches it on: what
 * arrives while it is set arrived with the APIC off. */
static void ap_apic_off_on(bool off)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	__asm__ volatile("cli" ::: "memory");
	if (off) {
		wrmsr(MSR_APIC_BASE, base & ~(uint64_t)(APIC_BASE_EN |
							APIC_BASE_EXTD));
		ap_apic_off = 1;
	} else {
		ap_apic_off = 0;
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN);
		apic_write(APIC_SVR, 0x1ff);
	}
	__asm__ volatile("sti" ::: "memory");
}

/* The APIC off and on n times, a CPUID exit while off. */
static void ap_flap(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		ap_apic_off_on(true);
		(void)cpuid(1, 0);
		ap_apic_off_on(false);
		work[1]++;
	}
}

static void ap_command(uint32_t op)
{
	switch (op) {
	case OP_LDR:
		apic_write(APIC_LDR, cmd_arg);
		apic_write(APIC_DFR, cmd_arg2);
		break;
	case OP_ESR:
		apic_write(APIC_ESR, 0);
		cmd_result = apic_read(APIC_ESR);
		break;
	case OP_LVT_ERROR:
		apic_write(APIC_LVT_ERROR, cmd_arg);
		break;
	case OP_APIC_OFF:
	case OP_APIC_ON:
		ap_apic_off_on(op == OP_APIC_OFF);
		break;
	case OP_FLAP:
		ap_flap(cmd_arg);
		break;
	case OP_TIMER:
		timer_run(1);
		break;
	case OP_DEVICES:
		devices_run(1);
		break;
	case OP_HCALL:
		hcall_run(1);
		break;
	case OP_PAGING:
		paging_read();
		break;
	}
}

static void ap_main(void)
{
	uint32_t seen = 0;

	ap_starts++;
	apic_init_cpu(1);
	__asm__ volatile("sti");
	for (;;) {
		uint32_t seq = __atomic_load_n(&cmd_seq, __ATOMIC_ACQUIRE);

		if (seq != seen) {
			ap_command(cmd_op);
			seen = seq;
			__atomic_store_n(&cmd_done, seq, __ATOMIC_RELEASE);
		}
		work[1]++;
	}
}

static void ap_post(uint32_t op, uint32_t arg, uint32_t arg2)
{
	cmd_op = op;
	cmd_arg = arg;
	cmd_arg2 = arg2;
	__atomic_fetch_add(&cmd_seq, 1, __ATOMIC_RELEASE);
}

static bool ap_wait(void)
{
	uint64_t end = rdtsc_ordered() + 4 * WAIT_TICKS;

	while (__atomic_load_n(&cmd_done, __ATOMIC_ACQUIRE) != cmd_seq)
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

static bool ap_do(uint32_t op, uint32_t arg, uint32_t arg2)
{
	ap_post(op, arg, arg2);
	return EXPECT(ap_wait());
}

/* ---- ipi ------------------------------------------------------------------ */

#define IPI_CHUNK           100
#define RECOVER_TICKS       4000000ULL      /* a failure bound */

/* Ticks until vCPU 1's work loop runs again after a burst (a sender that
 * outpaces the receiver's handlers may hold it in them meanwhile, as on
 * hardware); ~0 when it does not within RECOVER_TICKS. */
static uint64_t ap_recovers(uint32_t w)
{
	uint64_t t0 = rdtsc_ordered(), t;

	do {
		t = rdtsc_ordered() - t0;
		if (work[1] - w >= 2)
			return t;
	} while (t < RECOVER_TICKS);
	return ~0ULL;
}

/* n messages in bursts of IPI_CHUNK; after each, vCPU 1's work loop
 * must run again. */
static void ipi_flood(const char *mode, uint32_t n)
{
	uint32_t before[4] = { irqs[1][VEC_FIXED], irqs[1][VEC_NMI],
			       irqs[1][VEC_ALL_BUT_SELF], irqs[1][VEC_ALL] };
	uint32_t self_all = irqs[0][VEC_ALL], starved = 0, chunks = 0;
	uint64_t t0 = rdtsc_ordered(), worst = 0;
	static const uint32_t kinds[4] = {
		VEC_FIXED, ICR_NMI | ICR_ASSERT, ICR_ALL_BUT_SELF | VEC_ALL_BUT_SELF,
		ICR_ALL | VEC_ALL,
	};

	for (uint32_t i = 0; i < n; i += IPI_CHUNK, chunks++) {
		uint64_t t;

		for (uint32_t k = i; k < i + IPI_CHUNK && k < n; k++)
			send_ipi(1, kinds[k % 4]);
		t = ap_recovers(work[1]);
		if (t == ~0ULL)
			starved++;
		else if (t > worst)
			worst = t;
	}
	EXPECT(ap_settle());
	EXPECT(wait_irqs(0, VEC_ALL, self_all + 1));    /* its own share */
	printf("ipi: %s: %u messages in %u ticks: fixed %u, NMI %u, "
	       "all-but-self %u, all %u taken; bursts of %u after which it "
	       "did not work on: %u of %u (slowest %u ticks)\n", mode, n,
	       (uint32_t)(rdtsc_ordered() - t0),
	       irqs[1][VEC_FIXED] - before[0], irqs[1][VEC_NMI] - before[1],
	       irqs[1][VEC_ALL_BUT_SELF] - before[2],
	       irqs[1][VEC_ALL] - before[3], IPI_CHUNK, starved, chunks,
	       (uint32_t)worst);
	EXPECT(irqs[1][VEC_FIXED] > before[0]);
	EXPECT(irqs[1][VEC_NMI] > before[1]);
	EXPECT(irqs[1][VEC_ALL_BUT_SELF] > before[2]);
	EXPECT(irqs[1][VEC_ALL] > before[3]);
	EXPECT_EQ(irqs[0][VEC_ALL_BUT_SELF], 0);
	EXPECT_EQ(starved, 0);
}

static void test_ipi(uint32_t n)
{
	ipi_flood("xapic", n);
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	x2[0] = true;
	ipi_flood("x2apic", n);
}

/* ---- initsipi --------------------------------------------------------------- */

static void test_initsipi(void)
{
	uint32_t w;

	for (unsigned int i = 0; i < 4; i++) {
		send_ipi(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
		send_ipi(1, ICR_INIT | ICR_LEVEL);
		send_ipi(1, ICR_STARTUP | ICR_ASSERT | 0x10);
		send_ipi(1, ICR_STARTUP | ICR_ASSERT | 0x9f);
	}
	send_ipi(0, ICR_ALL_BUT_SELF | ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	send_ipi(0, ICR_ALL_BUT_SELF | ICR_STARTUP | ICR_ASSERT | 0x10);
	w = work[1];
	EXPECT(ap_settle());
	EXPECT(ap_do(OP_NONE, 0, 0));
	printf("initsipi: 10 INITs and 10 SIPIs to the running vCPU: started %u "
	       "time(s), still working %s, still taking IPIs yes\n", ap_starts,
	       work[1] != w ? "yes" : "no");
	EXPECT_EQ(ap_starts, 1);
	EXPECT(work[1] != w);
}

/* ---- logical ---------------------------------------------------------------- */

struct logical_case {
	uint32_t ldr, dfr, dest, lowest;
};

/* SDM Vol. 3A 11.6.2.2 and 11.6.2.4: flat model, a bit of MDA and LDR in
 * common; cluster model, the same cluster and a common bit of the low
 * nibble; 0xff reaches every APIC. */
static bool logical_match(const struct logical_case *c)
{
	uint32_t ldr = c->ldr >> 24;

	if (c->dest == 0xff)
		return true;
	if (c->dfr == DFR_FLAT)
		return ldr & c->dest;
	return (ldr >> 4) == (c->dest >> 4) && (ldr & c->dest & 0xf);
}

/* Lowest priority to both vCPUs (SDM Vol. 3A 11.6.2.4): one of them
 * takes each message, the one whose priority is lower (vCPU 0 raises its
 * TPR for the second half). */
static void test_lowest(void)
{
	uint32_t n0, n1, low0, low1;

	/* vCPU 0 takes what the broadcasts above left it (IF was 0). */
	__asm__ volatile("sti; nop; nop; cli" ::: "memory");
	n0 = irqs[0][VEC_LOGICAL];
	n1 = irqs[1][VEC_LOGICAL];

	apic_write(APIC_LDR, 0x01000000);
	apic_write(APIC_DFR, DFR_FLAT);
	ap_do(OP_LDR, 0x02000000, DFR_FLAT);
	for (unsigned int i = 0; i < 8; i++) {
		apic_write(APIC_TPR, i < 4 ? 0 : 0x20);
		send_ipi(0x03, ICR_LOGICAL | ICR_LOWEST | VEC_LOGICAL);
		apic_write(APIC_TPR, 0);
		__asm__ volatile("sti; nop; nop; cli" ::: "memory");
		EXPECT(ap_settle());
	}
	low0 = irqs[0][VEC_LOGICAL] - n0;
	low1 = irqs[1][VEC_LOGICAL] - n1;
	apic_write(APIC_LDR, 0);
	ap_do(OP_LDR, 0, DFR_FLAT);
	printf("logical: 8 lowest-priority IPIs to both vCPUs: %u taken by "
	       "vCPU 0, %u by vCPU 1\n", low0, low1);
	EXPECT_EQ(low0 + low1, 8);
	EXPECT(low1 >= 4);
}

static void test_logical(void)
{
	static const struct logical_case cases[] = {
		{ 0x00000000, DFR_FLAT, 0x01, 0 },
		{ 0x00000000, DFR_FLAT, 0xff, 0 },
		{ 0x00000000, DFR_FLAT, 0x00, 1 },
		{ 0x02000000, DFR_FLAT, 0x02, 0 },
		{ 0x02000000, DFR_FLAT, 0xfd, 1 },
		{ 0xff000000, DFR_FLAT, 0x80, 1 },
		{ 0x00ffffff, DFR_FLAT, 0x80, 0 },  /* low bits are reserved */
		{ 0x31000000, DFR_CLUSTER, 0x31, 0 },
		{ 0x31000000, DFR_CLUSTER, 0x21, 1 },
		{ 0x31000000, DFR_CLUSTER, 0x3e, 0 },
		{ 0xf1000000, DFR_CLUSTER, 0xf1, 0 },
		{ 0x31000000, DFR_CLUSTER, 0xff, 0 },
		{ 0x00000000, DFR_CLUSTER, 0x0f, 0 },
	};
	unsigned int wrong = 0, hits = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct logical_case *c = &cases[i];
		uint32_t n = irqs[1][VEC_LOGICAL], got;

		if (!ap_do(OP_LDR, c->ldr, c->dfr))
			return;
		send_ipi(c->dest, ICR_LOGICAL | VEC_LOGICAL |
			 (c->lowest ? ICR_LOWEST : 0));
		EXPECT(ap_settle());
		got = irqs[1][VEC_LOGICAL] - n;
		hits += got;
		if (got != logical_match(c)) {
			printf("logical: LDR %#x DFR %#x MDA %#x%s: %u delivered, "
			       "expected %u\n", c->ldr, c->dfr, c->dest,
			       c->lowest ? " lowest" : "", got, logical_match(c));
			wrong++;
		}
	}
	ap_do(OP_LDR, 0, DFR_FLAT);
	printf("logical: %u LDR/DFR/MDA cases, %u delivered, %u wrong\n",
	       (unsigned int)ARRAY_SIZE(cases), hits, wrong);
	EXPECT_EQ(wrong, 0);
	test_lowest();
}

/* ---- illegal ---------------------------------------------------------------- */

static uint32_t esr_latch(void)
{
	apic_write(APIC_ESR, 0);
	return apic_read(APIC_ESR);
}

static void test_illegal(void)
{
	uint32_t esr_send, esr_recv, nmi = irqs[1][VEC_NMI];
	uint32_t err0 = irqs[0][VEC_ERROR], err1 = irqs[1][VEC_ERROR];

	esr_latch();
	ap_do(OP_ESR, 0, 0);
	apic_write(APIC_LVT_ERROR, VEC_ERROR);
	ap_do(OP_LVT_ERROR, VEC_ERROR, 0);
	for (uint32_t v = 0; v < 16; v++)
		send_ipi(1, v);
	EXPECT(ap_settle());
	__asm__ volatile("sti; nop; nop; cli" ::: "memory");
	esr_send = esr_latch();
	ap_do(OP_ESR, 0, 0);
	esr_recv = cmd_result;
	ap_do(OP_LVT_ERROR, LVT_MASKED | VEC_ERROR, 0);
	apic_write(APIC_LVT_ERROR, LVT_MASKED | VEC_ERROR);
	printf("illegal: vectors 0-15 by fixed IPI: sender ESR %#x, receiver "
	       "ESR %#x; error interrupts: sender %u, receiver %u; delivered "
	       "as NMI %u\n", esr_send, esr_recv, irqs[0][VEC_ERROR] - err0,
	       irqs[1][VEC_ERROR] - err1, irqs[1][VEC_NMI] - nmi);
	EXPECT(esr_send & ESR_SEND_ILLEGAL);
	EXPECT(esr_recv & ESR_RECV_ILLEGAL);
	EXPECT(irqs[0][VEC_ERROR] != err0);
	EXPECT(irqs[1][VEC_ERROR] != err1);
	EXPECT_EQ(irqs[1][VEC_NMI], nmi);
}

/* ---- apicbase --------------------------------------------------------------- */

static void test_apicbase(uint32_t flaps)
{
	uint32_t nmi, fixed, sent = 0;

	/* Off: neither a fixed IPI nor an NMI reaches it (no APIC). */
	if (!ap_do(OP_APIC_OFF, 0, 0))
		return;
	nmi = irqs[1][VEC_NMI];
	fixed = irqs[1][VEC_FIXED];
	send_ipi(1, ICR_NMI | ICR_ASSERT);
	send_ipi(1, VEC_FIXED);
	ap_do(OP_NONE, 0, 0);
	ap_do(OP_APIC_ON, 0, 0);
	EXPECT(ap_settle());
	printf("apicbase: APIC off: NMI IPIs taken %u, fixed %u; on again: "
	       "IPIs taken\n", irqs[1][VEC_NMI] - nmi,
	       irqs[1][VEC_FIXED] - fixed);
	EXPECT_EQ(irqs[1][VEC_NMI], nmi);
	EXPECT_EQ(irqs[1][VEC_FIXED], fixed);

	/* The race: off and on while IPIs and NMIs keep coming. */
	irqs_while_off = 0;
	ap_post(OP_FLAP, flaps, 0);
	while (cmd_done != cmd_seq && sent < 1000000) {
		send_ipi(1, sent & 1 ? ICR_NMI | ICR_ASSERT : VEC_FIXED);
		sent++;
	}
	EXPECT(ap_wait());
	EXPECT(ap_settle());
	printf("apicbase: %u off/on flips under %u IPIs: taken while off %u, "
	       "taken after %s\n", flaps, sent, irqs_while_off, "yes");
	EXPECT_EQ(irqs_while_off, 0);
}

/* ---- timer ------------------------------------------------------------------ */

static volatile uint32_t sink[NR_CPUS];
static volatile uint32_t timer_loops = 20000, timer_deadlines = 200;
static bool tsc_deadline_ok;
static volatile uint32_t timer_report[NR_CPUS][3];

static uint64_t work_loop(unsigned int cpu)
{
	uint64_t t0 = rdtsc_ordered();

	__asm__ volatile("sti" ::: "memory");
	for (uint32_t i = 0; i < timer_loops; i++)
		sink[cpu] += i;
	return rdtsc_ordered() - t0;
}

/* The loop with a periodic count-1 timer; then deadlines in the past. */
static void timer_run(unsigned int cpu)
{
	uint32_t n = irqs[cpu][VEC_TIMER], ok = 0;
	uint64_t plain, stormed;

	plain = work_loop(cpu);
	apic_write(APIC_TIMER_DCR, DCR_DIVIDE_1);
	apic_write(APIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	apic_write(APIC_TIMER_ICR, 1);
	stormed = work_loop(cpu);
	apic_write(APIC_TIMER_ICR, 0);
	apic_write(APIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	timer_report[cpu][0] = irqs[cpu][VEC_TIMER] - n;
	timer_report[cpu][1] = (uint32_t)udiv64(stormed * 10, plain ? plain : 1,
						NULL);
	if (tsc_deadline_ok) {
		apic_write(APIC_LVT_TIMER, LVT_TSC_DEADLINE | VEC_TIMER);
		for (uint32_t i = 0; i < timer_deadlines; i++) {
			n = irqs[cpu][VEC_TIMER];
			wrmsr(MSR_TSC_DEADLINE, rdtsc_ordered() - 1 - i);
			ok += wait_irqs(cpu, VEC_TIMER, n + 1);
		}
		apic_write(APIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	}
	timer_report[cpu][2] = ok;
	if (cpu == 0)
		__asm__ volatile("cli" ::: "memory");
}

static void test_timer(uint32_t loops)
{
	timer_loops = loops;
	tsc_deadline_ok = cpuid(1, 0).ecx & CPUID1_ECX_TSC_DL;
	ap_post(OP_TIMER, 0, 0);
	timer_run(0);
	EXPECT(ap_wait());
	for (unsigned int c = 0; c < NR_CPUS; c++) {
		printf("timer: vCPU %u: periodic count 1: %u interrupts, the loop "
		       "took %u.%u times as long; %u of %u past deadlines "
		       "fired\n", c, timer_report[c][0],
		       timer_report[c][1] / 10, timer_report[c][1] % 10,
		       timer_report[c][2], tsc_deadline_ok ? timer_deadlines : 0);
		EXPECT(timer_report[c][0] > 0);
		EXPECT(timer_report[c][1] < 40);
		EXPECT_EQ(timer_report[c][2],
			  tsc_deadline_ok ? timer_deadlines : 0);
	}
}

/* ---- devices ---------------------------------------------------------------- */

#define COM1                0x3f8
#define UART_IER            1
#define UART_LCR            3
#define UART_MCR            4
#define UART_LSR            5
#define UART_SCR            7
#define LCR_DLAB            0x80
#define RTC_INDEX           0x70
#define RTC_DATA            0x71
#define PCI_ADDR            0xcf8
#define PCI_DATA            0xcfc
#define PCI_ENABLE          0x80000000u

static uint32_t dev_rounds = 300;
static bool has_pci;

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Index/data pairs and DLAB flips from both vCPUs interleave: any answer
 * is right so long as Keel answers; nothing is printed meanwhile. */
static void devices_run(unsigned int cpu)
{
	uint32_t s = 0x1234 + cpu;

	for (uint32_t i = 0; i < dev_rounds; i++) {
		uint32_t r = lcg(&s);

		outb(COM1 + UART_SCR, (uint8_t)r);
		(void)inb(COM1 + UART_SCR);
		/* DLM, or IER when the other vCPU just cleared DLAB: never
		 * THR, whose bytes would land in the log. */
		outb(COM1 + UART_LCR, 0x03 | LCR_DLAB);
		outb(COM1 + 1, (uint8_t)(r >> 8));
		outb(COM1 + UART_LCR, 0x03);
		outb(COM1 + UART_IER, (uint8_t)(r >> 16) & 0x0f);
		(void)inb(COM1 + UART_LSR - (r & 1) * 3);      /* LSR, IIR */
		outb(RTC_INDEX, (uint8_t)((r >> 4) & 0xbf) | (r & 0x80));
		(void)inb(RTC_DATA);
		outb(RTC_INDEX, 0x20 + (r & 0x1f));
		outb(RTC_DATA, (uint8_t)r);
		if (has_pci) {
			outl(PCI_ADDR, (r & 0x7ffffffc) | (i & 1 ? PCI_ENABLE : 0));
			(void)inl(PCI_DATA);
			(void)inw(PCI_DATA + (r & 2));
			(void)inb(PCI_DATA + (r & 3));
			outl(PCI_ADDR, PCI_ENABLE | (r & 0xfc));
			outb(PCI_DATA + (r & 3), (uint8_t)r);
		}
		work[cpu]++;
	}
}

static uint8_t cmos_rw(uint8_t reg, uint8_t val)
{
	outb(RTC_INDEX, reg);
	outb(RTC_DATA, val);
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

static void test_devices(uint32_t rounds)
{
	uint32_t vendor, vendor_after = 0xffffffffu;
	uint8_t lsr, scratch;

	dev_rounds = rounds;
	outl(PCI_ADDR, PCI_ENABLE);
	vendor = inl(PCI_DATA);
	has_pci = vendor != 0xffffffffu;
	ap_post(OP_DEVICES, 0, 0);
	devices_run(0);
	EXPECT(ap_wait());
	/* Put the UART back as the library left it: 8N1, no interrupts. */
	outb(COM1 + UART_LCR, 0x03 | LCR_DLAB);
	outb(COM1, 1);
	outb(COM1 + 1, 0);
	outb(COM1 + UART_LCR, 0x03);
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_MCR, 0x03);
	lsr = inb(COM1 + UART_LSR);
	outb(COM1 + UART_SCR, 0x5a);
	scratch = inb(COM1 + UART_SCR);
	if (has_pci) {
		outl(PCI_ADDR, PCI_ENABLE);
		vendor_after = inl(PCI_DATA);
	}
	printf("devices: %u rounds of UART, RTC%s from both vCPUs at once; "
	       "then LSR %#x, CMOS 0x30 %#x, scratch %#x, host bridge %#x\n",
	       rounds, has_pci ? " and PCI" : "", lsr, cmos_rw(0x30, 0xa5),
	       scratch, vendor_after);
	EXPECT_EQ(scratch, 0x5a);
	EXPECT(lsr & 0x20);                     /* THR empty: output flows */
	EXPECT_EQ(cmos_rw(0x31, 0x3c), 0x3c);
	EXPECT_EQ(vendor_after, vendor);
}

/* ---- hcall ------------------------------------------------------------------ */

struct hcall_case {
	uint32_t nr, a1, a2, a3;
	int32_t want;
};

static volatile uint32_t hcall_wrong[NR_CPUS], hcall_rounds = 50;

static void hcall_run(unsigned int cpu)
{
	static const struct hcall_case cases[] = {
		{ KEEL_HC_CONSOLE_WRITE, 0x10000000, 16, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_CONSOLE_WRITE, 0x00fffff8, 16, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_CONSOLE_WRITE, 0xfffffff0, 0x20, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_CONSOLE_WRITE, 0x00100000, 4097, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_CONSOLE_WRITE, 0x00100000, 0xffffffff, 0,
		  KEEL_HC_EINVAL },
		{ KEEL_HC_CONSOLE_WRITE, APIC_MMIO, 16, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_COUNTER, 0xffffffff, 0, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_COUNTER, 0x1ff, 0, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_SNAPSHOT, 0, 0, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_RESTORE, 0, 0, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_DIRTY_LOG, KEEL_DIRTY_WP, 0, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_DIRTY_LOG, 0xffffffff, 0, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_DIRTY_GET, 0x10000000, 0xfffffff8, 0,
		  KEEL_HC_EINVAL },
		{ KEEL_HC_VCPU_START, 0, 0x100000, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_VCPU_START, 1, 0x100000, 0, KEEL_HC_EINVAL },
		{ KEEL_HC_VCPU_START, 0xffffffff, 0x100000, 0, KEEL_HC_EINVAL },
		{ 0x7fffffff, 1, 2, 3, KEEL_HC_ENOSYS },
	};

	for (uint32_t r = 0; r < hcall_rounds; r++)
		for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
			const struct hcall_case *c = &cases[i];

			if ((int32_t)vmcall3(c->nr, c->a1, c->a2, c->a3) != c->want)
				hcall_wrong[cpu]++;
		}
}

static void test_hcall(uint32_t rounds)
{
	hcall_rounds = rounds;
	ap_post(OP_HCALL, 0, 0);
	hcall_run(0);
	EXPECT(ap_wait());
	printf("hcall: %u bad hypercalls from each vCPU at once: wrong answers "
	       "%u and %u\n", rounds * 17, hcall_wrong[0], hcall_wrong[1]);
	EXPECT_EQ(hcall_wrong[0], 0);
	EXPECT_EQ(hcall_wrong[1], 0);
}

/* ---- paging ------------------------------------------------------------------ */

/*
 *   0x000000 - 0x1000000  identity, four 4 MiB pages (code, data, tables)
 *   0x40000000 + 4K * j   window page j: through PT_A, PT_B or a 4 MiB
 *                         page at FRAMES_PA (then page j is frame j)
 *   FRAMES_PA + 4K * k    frame k: words 0 and 1 hold FRAME_TAG | k
 */
#define PAGE                4096u
#define PD_A                0x600000u
#define PD_B                0x601000u
#define PT_A                0x602000u
#define PT_B                0x603000u
#define FRAMES_PA           0x800000u
#define NR_FRAMES           64u
#define WIN_VA              0x40000000u
#define WIN_PDE             (WIN_VA >> 22)
#define WIN_PAGES           16u
#define FRAME_TAG           0x5a000000u
#define PTE_P               0x001u
#define PTE_RW              0x002u
#define PDE_PS              0x080u
#define CR0_PG              0x80000000u
#define CR4_PSE             0x00000010u

static volatile uint32_t paging_stop, paging_reads, paging_bad, paging_bad_val;
static volatile uint32_t paging_up;

static uint32_t *table(uint32_t pa)
{
	return (uint32_t *)(uintptr_t)pa;
}

static volatile uint32_t *win(unsigned int j, unsigned int word)
{
	return (volatile uint32_t *)(uintptr_t)(WIN_VA + j * PAGE + 4 * word);
}

static void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
}

static void paging_on(uint32_t pd)
{
	cr4_write(cr4_read() | CR4_PSE);
	cr3_write(pd);
	cr0_write(cr0_read() | CR0_PG);
}

static void paging_tables(void)
{
	for (uint32_t pd = PD_A; pd <= PD_B; pd += PAGE) {
		memset(table(pd), 0, PAGE);
		for (uint32_t i = 0; i < 4; i++)
			table(pd)[i] = (i << 22) | PDE_PS | PTE_RW | PTE_P;
	}
	table(PD_A)[WIN_PDE] = PT_A | PTE_RW | PTE_P;
	table(PD_B)[WIN_PDE] = PT_B | PTE_RW | PTE_P;
	for (uint32_t pt = PT_A; pt <= PT_B; pt += PAGE) {
		memset(table(pt), 0, PAGE);
		for (unsigned int j = 0; j < WIN_PAGES; j++)
			table(pt)[j] = (FRAMES_PA + j * PAGE) | PTE_RW | PTE_P;
	}
	for (uint32_t k = 0; k < NR_FRAMES; k++) {
		volatile uint32_t *f = table(FRAMES_PA + k * PAGE);

		f[0] = f[1] = FRAME_TAG | k;
	}
}

/* vCPU 1: reads the window on PD_A until told to stop, reloading CR3
 * now and then; any word that is not a frame's tag is counted. */
static void paging_read(void)
{
	uint32_t n = 0;

	__asm__ volatile("cli" ::: "memory");
	paging_on(PD_A);
	paging_up = 1;
	while (!paging_stop) {
		for (unsigned int j = 0; j < WIN_PAGES; j++) {
			uint32_t v = *win(j, n & 1);

			if ((v & 0xffffff00u) != FRAME_TAG ||
			    (v & 0xff) >= NR_FRAMES) {
				paging_bad++;
				paging_bad_val = v;
			}
		}
		paging_reads += WIN_PAGES;
		if (++n % 8 == 0)
			cr3_write(PD_A);
	}
	/* The last mappings, after the shootdown, exactly. */
	for (unsigned int j = 0; j < WIN_PAGES; j++) {
		invlpg(WIN_VA + j * PAGE);
		if (*win(j, 0) != (FRAME_TAG | ((j + paging_stop) % NR_FRAMES)))
			paging_bad++;
	}
	cr0_write(cr0_read() & ~(uintptr_t)CR0_PG);
	__asm__ volatile("sti" ::: "memory");
}

/* One PTE of either table: plain store, XCHG or LOCK CMPXCHG. */
static void pte_set(uint32_t *p, uint32_t val, uint32_t how)
{
	uint32_t old = *p;

	switch (how % 3) {
	case 0:
		*(volatile uint32_t *)p = val;
		break;
	case 1:
		__atomic_exchange_n(p, val, __ATOMIC_SEQ_CST);
		break;
	default:
		__atomic_compare_exchange_n(p, &old, val, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	}
}

/* Round r: both tables remapped; the window's PDE in the live PD_A
 * (vCPU 1's CR3) moved to PT_A, PT_B or the 4 MiB page; CR3 reloads. */
static void paging_round(uint32_t r, uint32_t *s)
{
	uint32_t pick = lcg(s);

	for (unsigned int j = 0; j < WIN_PAGES; j++) {
		uint32_t f = FRAMES_PA + (lcg(s) % NR_FRAMES) * PAGE;

		pte_set(&table(PT_A)[j], f | PTE_RW | PTE_P, j + r);
		pte_set(&table(PT_B)[j], f | PTE_RW | PTE_P, j + r + 1);
		invlpg(WIN_VA + j * PAGE);
	}
	switch (pick % 3) {
	case 0:
		pte_set(&table(PD_A)[WIN_PDE], PT_A | PTE_RW | PTE_P, r);
		break;
	case 1:
		pte_set(&table(PD_A)[WIN_PDE], PT_B | PTE_RW | PTE_P, r);
		break;
	default:
		pte_set(&table(PD_A)[WIN_PDE],
			FRAMES_PA | PDE_PS | PTE_RW | PTE_P, r);
		break;
	}
	cr3_write(r & 1 ? PD_B : PD_A);
	for (unsigned int j = 0; j < WIN_PAGES; j++)
		if ((*win(j, 0) & 0xffffff00u) != FRAME_TAG)
			paging_bad++;
}

static void test_paging(uint32_t rounds)
{
	uint32_t s = 7, r, last;

	paging_tables();
	paging_on(PD_A);
	ap_post(OP_PAGING, 0, 0);
	{
		uint64_t end = rdtsc_ordered() + WAIT_TICKS;

		while (!paging_up && rdtsc_ordered() < end)
			;
	}
	if (!EXPECT(paging_up))
		return;
	for (r = 0; r < rounds; r++)
		paging_round(r, &s);
	/* Final tables: page j -> frame (j + last) in both; PD_A on PT_A. */
	last = rounds % NR_FRAMES ? rounds % NR_FRAMES : 1;
	for (unsigned int j = 0; j < WIN_PAGES; j++) {
		uint32_t f = FRAMES_PA + ((j + last) % NR_FRAMES) * PAGE;

		table(PT_A)[j] = table(PT_B)[j] = f | PTE_RW | PTE_P;
	}
	table(PD_A)[WIN_PDE] = PT_A | PTE_RW | PTE_P;
	cr3_write(PD_A);
	paging_stop = last;
	EXPECT(ap_wait());
	cr0_write(cr0_read() & ~(uintptr_t)CR0_PG);
	printf("paging: %u rounds of PTE, PDE and CR3 changes under %u reads on "
	       "the other vCPU (shadow paging: %s): %u bad (last %#x)\n",
	       rounds, paging_reads, keel_shadow_paging() ? "yes" : "no",
	       paging_bad, paging_bad_val);
	EXPECT(paging_reads > 0);
	EXPECT_EQ(paging_bad, 0);
}

/* ---- main ------------------------------------------------------------------- */

static bool phase(const char *only, const char *name)
{
	return !only[0] || !strncmp(only, name, strlen(name) + 1);
}

void guest_main(void)
{
	uint32_t ipis = cmdline_number("ipis", 8000, 1000000);
	uint32_t flaps = cmdline_number("flaps", 1000, 1000000);
	uint32_t loops = cmdline_number("loops", 200000, 100000000);
	uint32_t rounds = cmdline_number("rounds", 400, 1000000);
	char only[16];

	if (!cmdline_get("test", only, sizeof(only)))
		only[0] = 0;
	for (unsigned int i = 0; i < ARRAY_SIZE(irq_vectors); i++)
		idt_set_gate(irq_vectors[i], irq_stub_table[i]);
	idt_load();
	apic_init_cpu(0);
	if (!EXPECT(((cpuid(1, 0).ebx >> 16) & 0xff) >= 2) ||
	    !EXPECT(vcpu_start(1, ap_main)) || !EXPECT(ap_do(OP_NONE, 0, 0)))
		return;
	if (phase(only, "ipi")) {
		test_ipi(ipis);
		test_initsipi();
		/* Back to xAPIC mode: through disabled (SDM Vol. 3A 11.12.5). */
		x2[0] = false;
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) &
		      ~(uint64_t)(APIC_BASE_EN | APIC_BASE_EXTD));
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN);
		apic_init_cpu(0);
	}
	if (phase(only, "logical"))
		test_logical();
	if (phase(only, "illegal"))
		test_illegal();
	if (phase(only, "apicbase"))
		test_apicbase(flaps);
	if (phase(only, "timer"))
		test_timer(loops);
	if (phase(only, "devices"))
		test_devices(rounds);
	if (phase(only, "hcall"))
		test_hcall(rounds / 4 + 1);
	if (phase(only, "paging"))
		test_paging(rounds);
}
