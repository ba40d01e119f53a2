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
 */
#include "guest.h"

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

static void report(const char *name, uint64_t ticks)
{
	printf("BENCH name=%s ticks=%llu\n", name, (unsigned long long)ticks);
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

void guest_main(void)
{
	long before;

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
