/* Host tests for the TSC calibration arithmetic (arch/tsc_calc.c): rates
 * from reference counts and from CPUID 0x15/0x16, ppm distances, and the
 * median of rounds with its error. */
#include "arch/tsc_calc.h"
#include "tests/unit/test.h"

#define PIT_HZ 1193182

TEST(rate_from_reference_ticks)
{
	/* 20 MHz for 23864 PIT ticks (20.0000 ms): 399,998 TSC ticks. */
	EXPECT_EQ(tsc_khz_of(400000, 23864, PIT_HZ), 20000);
	EXPECT_EQ(tsc_khz_of(3000000000ULL, 1193182, PIT_HZ), 3000000);
	/* Rounded to the nearest kHz: 1499.5 kHz -> 1500. */
	EXPECT_EQ(tsc_khz_of(1499500, 1000, 1000), 1500);
	EXPECT_EQ(tsc_khz_of(1499499, 1000, 1000), 1499);
	EXPECT_EQ(tsc_khz_of(12345, 0, PIT_HZ), 0);
	/* A 5 GHz TSC over the PIT's whole 16-bit range does not overflow. */
	EXPECT_EQ(tsc_khz_of(5000000ULL * 65535 * 1000 / PIT_HZ, 65535, PIT_HZ),
		  5000000);
}

TEST(cpuid_15)
{
	/* 24 MHz crystal, ratio 216/2: 2.592 GHz. */
	EXPECT_EQ(tsc_cpuid15_khz(2, 216, 24000000), 2592000);
	/* 38.4 MHz crystal, ratio 0x3e/1: 2.3808 GHz. */
	EXPECT_EQ(tsc_cpuid15_khz(1, 62, 38400000), 2380800);
	/* Bochs's Skylake-X: ratio 292/2, crystal not enumerated. */
	EXPECT_EQ(tsc_cpuid15_khz(2, 0x124, 0), 0);
	EXPECT_EQ(tsc_cpuid15_khz(0, 100, 24000000), 0);
	EXPECT_EQ(tsc_cpuid15_khz(2, 0, 24000000), 0);
	/* The largest fields stay within 64 bits. */
	EXPECT_EQ(tsc_cpuid15_khz(0xffffffffu, 0xffffffffu, 0xffffffffu),
		  0xffffffffULL / 1000);
}

TEST(cpuid_16)
{
	EXPECT_EQ(tsc_cpuid16_khz(0xdac), 3500000);     /* Bochs's Skylake-X */
	EXPECT_EQ(tsc_cpuid16_khz(0xffff0000u | 2600), 2600000);
	EXPECT_EQ(tsc_cpuid16_khz(0), 0);
}

TEST(ppm)
{
	EXPECT_EQ(tsc_ppm(20000, 20000), 0);
	EXPECT_EQ(tsc_ppm(20002, 20000), 100);
	EXPECT_EQ(tsc_ppm(19998, 20000), 100);
	EXPECT_EQ(tsc_ppm(23044, 20000), 152200);
	EXPECT_EQ(tsc_ppm(20001, 30000), 333300);
	EXPECT_EQ(tsc_ppm(1, 3), 666667);                /* rounded up */
	EXPECT_EQ(tsc_ppm(20000, 3500000), 994286);
	EXPECT_EQ(tsc_ppm(3500000, 20000), 174000000);
	EXPECT_EQ(tsc_ppm(1ULL << 60, 1), TSC_PPM_MAX);
	EXPECT_EQ(tsc_ppm(20000, 0), TSC_PPM_MAX);
	EXPECT_EQ(tsc_ppm(UINT64_MAX, 1), TSC_PPM_MAX);
}

TEST(round_resolution)
{
	struct tsc_round r = { 400000, 23864, 20 };

	/* 20/400000 = 50 ppm, plus 2 PIT ticks of 23864 = 84 ppm. */
	EXPECT_EQ(tsc_round_resolution_ppm(&r), 50 + 84);
	r.ref_ticks = 0;
	EXPECT_EQ(tsc_round_resolution_ppm(&r), TSC_PPM_MAX);
}

TEST(combine_odd_median_and_spread)
{
	/* Rates 20000, 20010, 19990, 23000 (an exit inside), 20004. */
	struct tsc_round r[5] = {
		{ 400000, 23864, 0 }, { 400200, 23864, 0 },
		{ 399800, 23864, 0 }, { 460000, 23864, 0 },
		{ 400080, 23864, 0 },
	};
	struct tsc_estimate e = tsc_combine(r, 5, PIT_HZ);

	EXPECT_EQ(e.khz, 20004);
	EXPECT_EQ(e.err_ppm, tsc_ppm(23000, 20004));
	/* Without the spoiled round: the spread to 19990. */
	r[3] = r[0];
	e = tsc_combine(r, 5, PIT_HZ);
	EXPECT_EQ(e.khz, 20000);
	EXPECT_EQ(e.err_ppm, 500);
}

TEST(combine_even_count_and_skipped_rounds)
{
	struct tsc_round r[4] = {
		{ 400000, 23864, 0 }, { 400200, 23864, 0 },
		{ 1, 0, 0 }, { 399800, 23864, 0 },
	};
	struct tsc_estimate e = tsc_combine(r, 4, PIT_HZ);

	/* Three rounds count: median 20000. */
	EXPECT_EQ(e.khz, 20000);
	e = tsc_combine(r, 2, PIT_HZ);          /* mean of the middle two */
	EXPECT_EQ(e.khz, 20005);
	EXPECT_EQ(e.err_ppm, 250);
}

TEST(combine_error_is_at_least_the_resolution)
{
	struct tsc_round r[3] = {
		{ 400000, 23864, 400 }, { 400000, 23864, 400 },
		{ 400000, 23864, 400 },
	};
	struct tsc_estimate e = tsc_combine(r, 3, PIT_HZ);

	EXPECT_EQ(e.khz, 20000);
	EXPECT_EQ(e.err_ppm, 1000 + 84);
}

TEST(combine_nothing)
{
	struct tsc_round r[1] = { { 5, 0, 0 } };

	EXPECT_EQ(tsc_combine(r, 0, PIT_HZ).khz, 0);
	EXPECT_EQ(tsc_combine(r, 1, PIT_HZ).khz, 0);
	EXPECT_EQ(tsc_combine(r, 1, PIT_HZ).err_ppm, TSC_PPM_MAX);
}

TEST_MAIN()
