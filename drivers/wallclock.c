/* The host's CMOS RTC, read once (drivers/wallclock.h). Keel never writes
 * the clock's registers, only its index port. */
#include "drivers/wallclock.h"
#include "drivers/rtc_time.h"
#include "drivers/printk.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "arch/string.h"

#define UIP_WAIT_US     10
#define UIP_WAIT_LOOPS  1000            /* 10 ms; an update takes < 2 ms */
#define READ_TRIES      5

static int64_t base_secs;               /* wall-clock time at base_tsc */
static uint64_t base_tsc;

static uint8_t cmos_read(uint8_t reg)
{
	outb(RTC_PORT_INDEX, reg & RTC_INDEX_MASK);
	return inb(RTC_PORT_DATA);
}

static bool uip_clear(void)
{
	for (int i = 0; i < UIP_WAIT_LOOPS; i++) {
		if (!(cmos_read(RTC_STATUS_A) & RTC_A_UIP))
			return true;
		udelay(UIP_WAIT_US);
	}
	return false;
}

static void read_time(uint8_t *regs, uint8_t century_reg)
{
	static const uint8_t time_regs[] = {
		RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_MONTH,
		RTC_MONTH, RTC_YEAR,
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(time_regs); i++)
		regs[time_regs[i]] = cmos_read(time_regs[i]);
	if (century_reg)
		regs[RTC_CENTURY] = cmos_read(century_reg);
}

/* Reads the date registers until two reads between updates agree, so that
 * no read straddles a second's update (MC146818 datasheet: the registers
 * are stable for 244 us after UIP reads 0). */
static bool read_stable(uint8_t *regs, uint8_t century_reg)
{
	uint8_t again[RTC_REGS] = { 0 };

	for (int t = 0; t < READ_TRIES; t++) {
		if (!uip_clear())
			return false;
		read_time(regs, century_reg);
		if (!uip_clear())
			return false;
		read_time(again, century_reg);
		if (!memcmp(regs, again, RTC_REGS))
			return true;
	}
	return false;
}

static void print_date(const struct rtc_date *d)
{
	pr_info("keel: rtc: %04u-%02u-%02u %02u:%02u:%02u UTC\n", d->year, d->month, d->day, d->hour, d->min, d->sec);
}

void wallclock_init(uint8_t century_reg)
{
	uint8_t regs[RTC_REGS] = { 0 };
	struct rtc_date d;
	uint8_t b;

	base_tsc = rdtsc();
	base_secs = 0;
	if (century_reg < RTC_STATUS_D + 1 || century_reg >= RTC_REGS)
		century_reg = 0;        /* not in the 128-byte bank */
	if (cmos_read(RTC_STATUS_A) == 0xff && cmos_read(RTC_STATUS_D) == 0xff) {
		pr_warn("keel: rtc: none (its ports read 0xff); the clock "
			"starts at the epoch\n");
		return;
	}
	if (!read_stable(regs, century_reg)) {
		pr_warn("keel: rtc: update in progress for too long; the clock "
			"starts at the epoch\n");
		return;
	}
	base_tsc = rdtsc();
	b = cmos_read(RTC_STATUS_B);
	if (!rtc_decode(regs, b, century_reg != 0, &d)) {
		pr_warn("keel: rtc: no valid date (%02x-%02x-%02x %02x:%02x:%02x, "
			"status B %#x); the clock starts at the epoch\n",
			regs[RTC_YEAR], regs[RTC_MONTH], regs[RTC_DAY_OF_MONTH],
			regs[RTC_HOURS], regs[RTC_MINUTES], regs[RTC_SECONDS], b);
		return;
	}
	base_secs = rtc_date_to_epoch(&d);
	print_date(&d);
}

int64_t wallclock_at(uint64_t tsc)
{
	return base_secs + (int64_t)(tsc - base_tsc) / (int64_t)(tsc_khz * 1000);
}
