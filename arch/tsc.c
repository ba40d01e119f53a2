#include "arch/tsc.h"
#include "arch/x86.h"
#include "drivers/pit.h"

#define CALIBRATE_US 10000

uint64_t tsc_khz;

/* One 10 ms PIT interval; the TSC advance over it gives the frequency. */
void tsc_calibrate(void)
{
	uint64_t t0 = rdtsc();

	pit_wait_us(CALIBRATE_US);
	tsc_khz = (rdtsc() - t0) / (CALIBRATE_US / 1000);
	if (tsc_khz == 0)
		tsc_khz = 1;
}

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + us * tsc_khz / 1000;

	while (rdtsc() < end)
		__asm__ volatile("pause");
}
