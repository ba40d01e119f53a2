/*
 * The arithmetic of TSC calibration, with no hardware access, so that it
 * is tested on the host (tests/unit/test_tsc.c): a TSC rate from ticks
 * counted against a reference clock, from CPUID leaves 0x15 and 0x16,
 * the distance between two rates in parts per million, and the median
 * of several short rounds with its error.
 */
#ifndef KEEL_ARCH_TSC_CALC_H
#define KEEL_ARCH_TSC_CALC_H

#include "arch/compiler.h"

#define CPUID_LEAF_TSC_CRYSTAL  0x15    /* EAX/EBX ratio, ECX crystal Hz */
#define CPUID_LEAF_FREQUENCY    0x16    /* EAX[15:0] base MHz */

/* Two rates that differ by at most this many ppm agree. */
#define TSC_AGREE_PPM       10000u
#define TSC_PPM_MAX         0xffffffffu

/*
 * One calibration round: `tsc_ticks` TSC ticks passed while the reference
 * counted `ref_ticks`; `window` is the sum of the two sampling windows
 * (the TSC ticks each reading of the reference took), within which each
 * reading of the reference was made.
 */
struct tsc_round {
	uint64_t tsc_ticks;
	uint64_t ref_ticks;
	uint64_t window;
};

/* The combined result: 0 kHz when no round counted. */
struct tsc_estimate {
	uint64_t khz;
	uint32_t err_ppm;
};

/* tsc_ticks per ref_ticks of a clock at ref_hz, in kHz (rounded); 0 if
 * the reference did not count. */
uint64_t tsc_khz_of(uint64_t tsc_ticks, uint64_t ref_ticks, uint64_t ref_hz);

/* CPUID 0x15 (SDM Vol. 3B 18.7.3): TSC = crystal Hz (ECX) * EBX / EAX.
 * 0 when a field is 0 (the ratio or the crystal is not enumerated). */
uint64_t tsc_cpuid15_khz(uint32_t eax, uint32_t ebx, uint32_t ecx);
/* CPUID 0x16: EAX[15:0] = the base frequency in MHz (0: not enumerated). */
uint64_t tsc_cpuid16_khz(uint32_t eax);

/* |khz - ref_khz| in parts per million of ref_khz, rounded up, at most
 * TSC_PPM_MAX (also when ref_khz is 0). */
uint32_t tsc_ppm(uint64_t khz, uint64_t ref_khz);

/* What one round can resolve, in ppm: its sampling windows and one tick
 * of the reference at each end. */
uint32_t tsc_round_resolution_ppm(const struct tsc_round *r);

/*
 * The median of the rounds' rates (the mean of the middle two for an even
 * count), with as error the larger of the rounds' spread (the farthest
 * round from the median) and the resolution of the median round. A round
 * whose reference did not count is skipped.
 */
struct tsc_estimate tsc_combine(const struct tsc_round *r, unsigned int n,
				uint64_t ref_hz);

#endif
