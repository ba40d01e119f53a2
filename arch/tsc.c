/*
 * TSC calibration against the PIT, cross-checked against CPUID.
 *
 * Each round starts PIT channel 2 counting down from 0xffff, waits until
 * it runs, then reads (TSC, PIT count) pairs at the start and the end of
 * a 20 ms window. The count is latched between two TSC reads, so each
 * pair is exact to within that short sampling window, whatever the port
 * accesses around it cost (under a hypervisor each one is an exit of
 * thousands of ticks): programming the PIT and polling it fall outside
 * the measured span. A sample retries and keeps the narrowest window (an
 * exit or an interrupt during one widens it), and the median of the
 * rounds rejects a round such an event spoiled all the same.
 *
 *   pit_ch2_start   wait until   sample A          sample B
 *   (not timed)     it counts    |<---- 20 ms of PIT counts ---->|
 *                                TSC(A) .......................... TSC(B)
 */
#include "arch/tsc.h"
#include "arch/tsc_calc.h"
#include "arch/x86.h"
#include "drivers/pit.h"
#include "drivers/printk.h"

#define TSC_ROUNDS          5
#define ROUND_PIT_TICKS     23864       /* 20 ms of the 1.193182 MHz PIT */
#define SAMPLE_TRIES        3
#define PIT_RUNNING_BELOW   0xff00      /* the count has left 0xffff */
/* How long to wait for the PIT to count, in TSC ticks: 0.1 s at 10 GHz. A
 * machine without a PIT (its ports read 0xff) gives up after that. */
#define PIT_WAIT_TICKS      (1ULL << 30)
/* The rate assumed when neither the PIT nor CPUID gives one. */
#define TSC_GUESS_KHZ       1000000

uint64_t tsc_khz;

struct pit_sample {
	uint64_t tsc;           /* the middle of the sampling window */
	uint64_t window;        /* TSC ticks the latch command took */
	uint16_t count;
};

/* The narrowest of SAMPLE_TRIES latched readings. */
static struct pit_sample pit_sample(void)
{
	struct pit_sample best = { 0, UINT64_MAX, 0 };

	for (int i = 0; i < SAMPLE_TRIES; i++) {
		uint64_t t0 = rdtsc(), t1;

		pit_ch2_latch();
		t1 = rdtsc();
		if (t1 - t0 < best.window)
			best = (struct pit_sample){ t0 + (t1 - t0) / 2, t1 - t0,
						    pit_ch2_read() };
		else
			pit_ch2_read();         /* release the latch */
	}
	return best;
}

static uint16_t pit_ch2_count(void)
{
	pit_ch2_latch();
	return pit_ch2_read();
}

/* Waits until channel 2 counts below `limit`; false if it did not within
 * PIT_WAIT_TICKS. */
static bool pit_wait_below(uint16_t limit)
{
	uint64_t t0 = rdtsc();

	while (pit_ch2_count() >= limit)
		if (rdtsc() - t0 > PIT_WAIT_TICKS)
			return false;
	return true;
}

static bool tsc_pit_round(struct tsc_round *r)
{
	struct pit_sample a, b;

	pit_ch2_start(0xffff);
	if (!pit_wait_below(PIT_RUNNING_BELOW))
		return false;
	a = pit_sample();
	if (a.count < ROUND_PIT_TICKS ||
	    !pit_wait_below((uint16_t)(a.count - ROUND_PIT_TICKS)))
		return false;
	b = pit_sample();
	if (b.count >= a.count)
		return false;
	*r = (struct tsc_round){ b.tsc - a.tsc, a.count - b.count,
				 a.window + b.window };
	return true;
}

/* CPUID's TSC rate: leaf 0x15 when it names the crystal, else leaf
 * 0x16's base frequency (the rate of an invariant TSC, SDM Vol. 3B
 * 18.7.3); 0 when neither is enumerated. */
static uint64_t tsc_cpuid_khz(const char **source)
{
	uint32_t max = cpuid(0, 0).eax;
	struct cpuid_regs r15 = { 0, 0, 0, 0 }, r16 = { 0, 0, 0, 0 };
	uint64_t khz;

	if (max >= CPUID_LEAF_TSC_CRYSTAL)
		r15 = cpuid(CPUID_LEAF_TSC_CRYSTAL, 0);
	if (max >= CPUID_LEAF_FREQUENCY)
		r16 = cpuid(CPUID_LEAF_FREQUENCY, 0);
	pr_debug("keel: tsc: cpuid max leaf %#x; 0x15: eax %#x ebx %#x ecx %#x; "
		 "0x16: eax %#x\n", max, r15.eax, r15.ebx, r15.ecx, r16.eax);
	khz = tsc_cpuid15_khz(r15.eax, r15.ebx, r15.ecx);
	*source = "CPUID 0x15";
	if (!khz) {
		khz = tsc_cpuid16_khz(r16.eax);
		*source = "CPUID 0x16";
	}
	return khz;
}

/* keel: tsc: N kHz (±E ppm against SOURCE): SOURCE is CPUID where its
 * figure agrees, else the PIT (E: the rounds' spread or resolution). */
static void tsc_report(struct tsc_estimate pit, uint64_t cpuid_khz,
		       const char *cpuid_src)
{
	uint32_t off = tsc_ppm(pit.khz, cpuid_khz);

	if (!pit.khz && cpuid_khz)
		pr_info("keel: tsc: %lu kHz (the PIT does not count: from %s)\n",
			tsc_khz, cpuid_src);
	else if (!pit.khz)
		pr_info("keel: tsc: %lu kHz (the PIT does not count and CPUID "
			"gives no rate: a guess)\n", tsc_khz);
	else if (cpuid_khz && off <= TSC_AGREE_PPM)
		pr_info("keel: tsc: %lu kHz (±%u ppm against %s)\n", tsc_khz,
			off, cpuid_src);
	else if (cpuid_khz)
		pr_info("keel: tsc: %lu kHz (±%u ppm against PIT; %s says %lu "
			"kHz)\n", tsc_khz, pit.err_ppm, cpuid_src, cpuid_khz);
	else
		pr_info("keel: tsc: %lu kHz (±%u ppm against PIT)\n", tsc_khz,
			pit.err_ppm);
}

void tsc_calibrate(void)
{
	struct tsc_round rounds[TSC_ROUNDS];
	struct tsc_estimate pit;
	const char *cpuid_src = "CPUID";
	uint64_t cpuid_khz = tsc_cpuid_khz(&cpuid_src);
	unsigned int n = 0;

	while (n < TSC_ROUNDS && tsc_pit_round(&rounds[n]))
		n++;
	pit = tsc_combine(rounds, n, PIT_HZ);
	tsc_khz = pit.khz ? pit.khz : cpuid_khz ? cpuid_khz : TSC_GUESS_KHZ;
	tsc_report(pit, cpuid_khz, cpuid_src);
}

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + us * tsc_khz / 1000;

	while (rdtsc() < end)
		__asm__ volatile("pause");
}
