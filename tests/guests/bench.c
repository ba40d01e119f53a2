/*
 * bench: ticks per VM exit, measured inside the guest with the TSC over
 * ITERATIONS exits of each kind. In Bochs the TSC counts instructions, so
 * the figures measure code-path length and repeat exactly.
 *
 *   BENCH name=baseline_loop ticks=N   the loop alone, no exit
 *   BENCH name=cpuid_exit ticks=N      CPUID leaf 0
 *   BENCH name=vmcall_exit ticks=N     KEEL_HC_COUNTER (one counter)
 *   BENCH name=io_exit ticks=N         OUT to 0xf5, a port Keel only counts
 *   BENCH name=console_line ticks=N    one 40-character line to COM1's THR
 *                                      (41 OUTs), LINES times
 *
 * Each figure is raw ticks per iteration, loop included.
 *
 * Command line apic=1: what guests do with the local APIC instead. The
 * 32-bit image (two vCPUs) in xAPIC mode, then in x2APIC mode:
 *
 *   BENCH name=eoi_xapic ticks=N        EOI through the MMIO page
 *   BENCH name=tpr_read_xapic ticks=N   a read of the TPR there
 *   BENCH name=lvt_read_xapic ticks=N   a read of LVT LINT0 there
 *   BENCH name=ccr_read_xapic ticks=N   a read of the timer's current
 *                                       count (emulated in any case)
 *   BENCH name=self_ipi_xapic ticks=N   ICR write to self, the handler's
 *                                       entry and its EOI, and back
 *   BENCH name=eoi_x2apic ticks=N       WRMSR 0x80b
 *   BENCH name=tpr_read_x2apic ticks=N  RDMSR 0x808
 *   BENCH name=self_ipi_x2apic ticks=N  WRMSR SELF IPI, handler, EOI
 *   BENCH name=tsc_deadline_due ticks=N WRMSR IA32_TSC_DEADLINE with a
 *                                       deadline already reached, to the
 *                                       handler's first RDTSC
 *   BENCH name=tsc_deadline_late ticks=N the same for a deadline ahead:
 *                                       from the deadline to the handler
 *   BENCH name=ipi_pingpong ticks=N     IPI to vCPU 1, whose handler
 *                                       sends one back, to this vCPU's
 *                                       handler (both spin with IF = 1)
 *
 * The 64-bit image: MOV to and from CR8 (cr8_write, alternately 1 and 0,
 * and cr8_read), each with the number of CR-access exits it made per
 * thousand (cr8_write_exits, cr8_read_exits: 1000 when CR8 exits, 0 with
 * a TPR shadow). prefix=P puts P before every name.
 */
#include "guest.h"
#include "apic.h"

#define ITERATIONS          10000u
#define LINES               64u
#define PORT_COM1_THR       0x3f8
#define PORT_BENCH          0xf5
#define EXIT_REASON_CPUID   10
#define EXIT_REASON_VMCALL  18
#define EXIT_REASON_IO      30

/* Runs body ITERATIONS times; the value is ticks per iteration. */
#define BENCH_LOOP(body) ({                                             \
	uint64_t t0_ = rdtsc_ordered(), rem_;                           \
	for (unsigned int i_ = 0; i_ < ITERATIONS; i_++) {              \
		body;                                                   \
	}                                                               \
	udiv64(rdtsc_ordered() - t0_, ITERATIONS, &rem_);               \
})

static char prefix[24];             /* prefix=, before each name */

static void report_unit(const char *name, const char *unit, uint64_t val)
{
	printf("BENCH name=%s%s %s=%llu\n", prefix, name, unit,
	       (unsigned long long)val);
}

static void report(const char *name, uint64_t ticks)
{
	report_unit(name, "ticks", ticks);
}

static void cpuid0(void)
{
	uint32_t a = 0, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
}

/* Ticks per line written to the UART by hand (no LSR polling: Keel's
 * transmitter is always empty), LINES lines. */
static uint64_t console_line_ticks(void)
{
	static const char line[] = "console bench: forty characters of text\n";
	uint64_t t0 = rdtsc_ordered(), rem;

	for (unsigned int i = 0; i < LINES; i++)
		for (unsigned int k = 0; k < sizeof(line) - 1; k++)
			outb(PORT_COM1_THR, (uint8_t)line[k]);
	return udiv64(rdtsc_ordered() - t0, LINES, &rem);
}

/* The counter of `reason` grew by exactly one exit per iteration. */
static void expect_exits(unsigned long reason, long before, long extra)
{
	EXPECT_EQ(hc_counter(reason) - before, ITERATIONS + extra);
}

/* ---- the local APIC (apic=1) -------------------------------------------- */

#define APIC_ITERATIONS     2000u       /* the dearer paths, fewer times */
#define LATE_AHEAD          20000u      /* ticks from arming to a deadline */
#define WAIT_TICKS          200000000ULL    /* a failure bound, not a time */
#define EXIT_REASON_CR      28
#define VEC_SELF            0x40
#define VEC_TIMER           0x50
#define VEC_PING            0x60        /* to vCPU 1 */
#define VEC_PONG            0x61        /* its answer */

#if GUEST_BITS == 32

static bool x2mode;
static volatile uint32_t self_irqs, timer_irqs, pongs;
static volatile uint64_t timer_tsc;     /* the timer handler's first RDTSC */

static void eoi(void)
{
	if (x2mode)
		wrmsr(X2APIC_MSR(APIC_EOI), 0);
	else
		apic_write(APIC_EOI, 0);
}

IRQ_STUB(self_irq);
IRQ_STUB(timer_irq);
IRQ_STUB(ping_irq);
IRQ_STUB(pong_irq);
extern char self_irq_stub[], timer_irq_stub[], ping_irq_stub[],
	    pong_irq_stub[];

__attribute__((used)) void self_irq(void);
__attribute__((used)) void self_irq(void)
{
	self_irqs++;
	eoi();
}

__attribute__((used)) void timer_irq(void);
__attribute__((used)) void timer_irq(void)
{
	timer_tsc = rdtsc_ordered();
	timer_irqs++;
	eoi();
}

/* Runs `body` `n` times with interrupts on; ticks per iteration. */
#define IRQ_LOOP(n, body) ({                                            \
	uint64_t t0_, rem_;                                             \
	__asm__ volatile("sti" ::: "memory");                           \
	t0_ = rdtsc_ordered();                                          \
	for (unsigned int i_ = 0; i_ < (n); i_++) {                     \
		body;                                                   \
	}                                                               \
	t0_ = rdtsc_ordered() - t0_;                                    \
	__asm__ volatile("cli" ::: "memory");                           \
	udiv64(t0_, (n), &rem_);                                        \
})


/* Waits with interrupts on until *count reaches want. */
static bool irq_wait(volatile uint32_t *count, uint32_t want)
{
	uint64_t end = rdtsc_ordered() + WAIT_TICKS;

	while (*count < want)
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

static void bench_xapic(void)
{
	report("eoi_xapic", BENCH_LOOP(apic_write(APIC_EOI, 0)));
	report("tpr_read_xapic", BENCH_LOOP(apic_read(APIC_TPR)));
	report("lvt_read_xapic", BENCH_LOOP(apic_read(APIC_LVT_LINT0)));
	report("ccr_read_xapic", BENCH_LOOP(apic_read(APIC_TIMER_CCR)));
	self_irqs = 0;
	report("self_ipi_xapic", IRQ_LOOP(APIC_ITERATIONS,
		apic_write(APIC_ICR, ICR_SELF | VEC_SELF)));
	EXPECT_EQ(self_irqs, APIC_ITERATIONS);
}

static void bench_x2apic(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	x2mode = true;
	report("eoi_x2apic", BENCH_LOOP(wrmsr(X2APIC_MSR(APIC_EOI), 0)));
	report("tpr_read_x2apic", BENCH_LOOP(rdmsr(X2APIC_MSR(APIC_TPR))));
	self_irqs = 0;
	report("self_ipi_x2apic", IRQ_LOOP(APIC_ITERATIONS,
		wrmsr(X2APIC_MSR(APIC_SELF_IPI), VEC_SELF)));
	EXPECT_EQ(self_irqs, APIC_ITERATIONS);
}

/* TSC-deadline mode (x2APIC on): a deadline already reached fires at
 * the WRMSR's exit; one ahead, at Keel's next look at the timer after it
 * (the VMX-preemption timer). */
static void bench_tsc_deadline(void)
{
	uint64_t due = 0, late = 0, rem;

	if (!(cpuid(1, 0).ecx & (1u << 24))) {
		printf("bench: no TSC-deadline timer\n");
		return;
	}
	wrmsr(X2APIC_MSR(APIC_LVT_TIMER), LVT_TSC_DEADLINE | VEC_TIMER);
	timer_irqs = 0;
	__asm__ volatile("sti" ::: "memory");
	for (unsigned int i = 0; i < APIC_ITERATIONS; i++) {
		uint64_t t0 = rdtsc_ordered();

		wrmsr(MSR_TSC_DEADLINE, t0);
		if (!EXPECT(irq_wait(&timer_irqs, 2 * i + 1)))
			break;
		due += timer_tsc - t0;
		t0 = rdtsc_ordered() + LATE_AHEAD;
		wrmsr(MSR_TSC_DEADLINE, t0);
		if (!EXPECT(irq_wait(&timer_irqs, 2 * i + 2)))
			break;
		late += timer_tsc - t0;
	}
	__asm__ volatile("cli" ::: "memory");
	report("tsc_deadline_due", udiv64(due, APIC_ITERATIONS, &rem));
	report("tsc_deadline_late", udiv64(late, APIC_ITERATIONS, &rem));
	EXPECT_EQ(timer_irqs, 2 * APIC_ITERATIONS);
	wrmsr(X2APIC_MSR(APIC_LVT_TIMER), LVT_MASKED);
}

/* vCPU 1 answers each ping with a pong to vCPU 0 (x2APIC, physical
 * destination: the APIC IDs are the vCPU indexes). */
static volatile uint32_t ap_up;

__attribute__((used)) void ping_irq(void);
__attribute__((used)) void ping_irq(void)
{
	wrmsr(X2APIC_MSR(APIC_EOI), 0);
	wrmsr(X2APIC_MSR(APIC_ICR), VEC_PONG);          /* to APIC ID 0 */
}

__attribute__((used)) void pong_irq(void);
__attribute__((used)) void pong_irq(void)
{
	pongs++;
	wrmsr(X2APIC_MSR(APIC_EOI), 0);
}

static void ap_main(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	wrmsr(X2APIC_MSR(APIC_SVR), 0x1ff);
	__atomic_store_n(&ap_up, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("sti; pause" ::: "memory");
}

/* One round trip: the pong is the want-th. */
static bool ping(uint32_t want)
{
	wrmsr(X2APIC_MSR(APIC_ICR), (1ULL << 32) | VEC_PING);
	return EXPECT(irq_wait(&pongs, want));
}

static void bench_pingpong(void)
{
	if (!EXPECT(vcpu_start(1, ap_main)) || !EXPECT(irq_wait(&ap_up, 1)))
		return;
	pongs = 0;
	report("ipi_pingpong", IRQ_LOOP(APIC_ITERATIONS,
		if (!ping(i_ + 1))
			break));
	EXPECT_EQ(pongs, APIC_ITERATIONS);
}

static void bench_apic(void)
{
	idt_set_gate(VEC_SELF, (uintptr_t)self_irq_stub);
	idt_set_gate(VEC_TIMER, (uintptr_t)timer_irq_stub);
	idt_set_gate(VEC_PING, (uintptr_t)ping_irq_stub);
	idt_set_gate(VEC_PONG, (uintptr_t)pong_irq_stub);
	idt_load();
	apic_write(APIC_SVR, 0x1ff);
	bench_xapic();
	bench_x2apic();
	bench_tsc_deadline();
	bench_pingpong();
}

#else

/* CR-access exits per thousand iterations since `before`. */
static void report_cr_exits(const char *name, long before)
{
	uint64_t rem;

	report_unit(name, "exits", udiv64((uint64_t)(hc_counter(
		EXIT_REASON_CR) - before) * 1000, ITERATIONS, &rem));
}

/* MOV to CR8 raises and lowers the task priority as an OS does around
 * its critical sections (SDM Vol. 3A 11.8.6.1). */
static void bench_apic(void)
{
	long before = hc_counter(EXIT_REASON_CR);

	report("cr8_write", BENCH_LOOP(cr8_write(i_ & 1)));
	report_cr_exits("cr8_write_exits", before);
	EXPECT_EQ(cr8_read(), (ITERATIONS - 1) & 1);
	cr8_write(0);
	before = hc_counter(EXIT_REASON_CR);
	report("cr8_read", BENCH_LOOP(cr8_read()));
	report_cr_exits("cr8_read_exits", before);
	EXPECT_EQ(cr8_read(), 0);
}

#endif

void guest_main(void)
{
	long before;
	char apic[4];

	if (!cmdline_get("prefix", prefix, sizeof(prefix)))
		prefix[0] = 0;
	if (cmdline_get("apic", apic, sizeof(apic)) && apic[0] == '1') {
		bench_apic();
		return;
	}

	report("baseline_loop", BENCH_LOOP(__asm__ volatile("nop")));

	before = hc_counter(EXIT_REASON_CPUID);
	report("cpuid_exit", BENCH_LOOP(cpuid0()));
	expect_exits(EXIT_REASON_CPUID, before, 0);

	before = hc_counter(EXIT_REASON_VMCALL);
	report("vmcall_exit",
	       BENCH_LOOP(hc_counter(EXIT_REASON_CPUID)));
	/* +1: the hc_counter() that read `before` counts itself after. */
	expect_exits(EXIT_REASON_VMCALL, before, 1);

	before = hc_counter(EXIT_REASON_IO);
	report("io_exit", BENCH_LOOP(outb(PORT_BENCH, 0)));
	/* The report lines above are port writes too: only a lower bound. */
	EXPECT(hc_counter(EXIT_REASON_IO) - before >= (long)ITERATIONS);

	report("console_line", console_line_ticks());
}
