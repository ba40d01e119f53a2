/* The arithmetic of TSC calibration (see arch/tsc_calc.h); built into
 * Keel and into the host unit test. */
#include "arch/tsc_calc.h"

#define PPM     1000000ULL

uint64_t tsc_khz_of(uint64_t tsc_ticks, uint64_t ref_ticks, uint64_t ref_hz)
{
	uint64_t den = ref_ticks * 1000;

	if (!ref_ticks)
		return 0;
	return (tsc_ticks * ref_hz + den / 2) / den;
}

uint64_t tsc_cpuid15_khz(uint32_t eax, uint32_t ebx, uint32_t ecx)
{
	if (!eax || !ebx || !ecx)
		return 0;
	/* (2^32 - 1)^2 fits in 64 bits. */
	return (uint64_t)ecx * ebx / eax / 1000;
}

uint64_t tsc_cpuid16_khz(uint32_t eax)
{
	return (uint64_t)(eax & 0xffff) * 1000;
}

uint32_t tsc_ppm(uint64_t khz, uint64_t ref_khz)
{
	uint64_t diff = khz > ref_khz ? khz - ref_khz : ref_khz - khz;
	uint64_t ppm;

	if (!ref_khz || diff > UINT64_MAX / PPM)
		return TSC_PPM_MAX;
	ppm = (diff * PPM + ref_khz - 1) / ref_khz;
	return ppm > TSC_PPM_MAX ? TSC_PPM_MAX : (uint32_t)ppm;
}

uint32_t tsc_round_resolution_ppm(const struct tsc_round *r)
{
	uint64_t ppm;

	if (!r->tsc_ticks || !r->ref_ticks)
		return TSC_PPM_MAX;
	ppm = (r->window * PPM + r->tsc_ticks - 1) / r->tsc_ticks +
	      (2 * PPM + r->ref_ticks - 1) / r->ref_ticks;
	return ppm > TSC_PPM_MAX ? TSC_PPM_MAX : (uint32_t)ppm;
}

#define TSC_MAX_ROUNDS 16

struct tsc_rated {
	uint64_t khz;
	const struct tsc_round *round;
};

/* Insertion sort of the few rounds by rate. */
static void sort_by_rate(struct tsc_rated *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		struct tsc_rated k = v[i];
		unsigned int j = i;

		for (; j > 0 && v[j - 1].khz > k.khz; j--)
			v[j] = v[j - 1];
		v[j] = k;
	}
}

struct tsc_estimate tsc_combine(const struct tsc_round *r, unsigned int n,
				uint64_t ref_hz)
{
	struct tsc_rated v[TSC_MAX_ROUNDS];
	struct tsc_estimate e = { 0, TSC_PPM_MAX };
	unsigned int m = 0;
	uint32_t spread;

	for (unsigned int i = 0; i < n && m < TSC_MAX_ROUNDS; i++)
		if (r[i].ref_ticks)
			v[m++] = (struct tsc_rated){
				tsc_khz_of(r[i].tsc_ticks, r[i].ref_ticks, ref_hz),
				&r[i] };
	if (!m)
		return e;
	sort_by_rate(v, m);
	e.khz = m & 1 ? v[m / 2].khz : (v[m / 2 - 1].khz + v[m / 2].khz + 1) / 2;
	spread = MAX(tsc_ppm(v[0].khz, e.khz), tsc_ppm(v[m - 1].khz, e.khz));
	e.err_ppm = MAX(spread, tsc_round_resolution_ppm(v[m / 2].round));
	return e;
}
