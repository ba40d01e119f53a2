/*
 * rtctest: the CMOS real-time clock at ports 0x70/0x71 (the `rtc`
 * device). With it: status A/B/D at their reset values, a valid date in
 * BCD, seconds that advance with the guest's TSC (TSC kHz from CPUID
 * 0x40000010), binary mode, SET with a write of the year, CMOS RAM and
 * the index's NMI-mask bit. Without it both ports read all ones.
 *
 * Command line: rtc=1 (the configuration gives the device) or rtc=0.
 */
#include "guest.h"

#define PORT_INDEX      0x70
#define PORT_DATA       0x71
#define REG_SECONDS     0x00
#define REG_MINUTES     0x02
#define REG_HOURS       0x04
#define REG_DAY         0x07
#define REG_MONTH       0x08
#define REG_YEAR        0x09
#define REG_A           0x0a
#define REG_B           0x0b
#define REG_D           0x0d
#define REG_CENTURY     0x32
#define REG_RAM         0x40
#define NMI_MASK        0x80
#define B_SET           0x80
#define B_BINARY        0x04
#define B_24H           0x02
#define WAIT_TENTHS     25              /* 2.5 s of guest time */

static uint8_t rtc_read(uint8_t reg)
{
	outb(PORT_INDEX, reg);
	return inb(PORT_DATA);
}

static void rtc_write(uint8_t reg, uint8_t v)
{
	outb(PORT_INDEX, reg);
	outb(PORT_DATA, v);
}

static unsigned int bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

/* Seconds since the start of the month, from the BCD 24-hour registers. */
static uint32_t month_seconds(void)
{
	return ((bcd(rtc_read(REG_DAY)) * 24 + bcd(rtc_read(REG_HOURS))) * 60 +
		bcd(rtc_read(REG_MINUTES))) * 60 + bcd(rtc_read(REG_SECONDS));
}

static void test_absent(void)
{
	EXPECT_EQ(rtc_read(REG_D), 0xff);
	EXPECT_EQ(rtc_read(REG_SECONDS), 0xff);
}

static void test_registers(void)
{
	unsigned int month = bcd(rtc_read(REG_MONTH));
	unsigned int day = bcd(rtc_read(REG_DAY));

	EXPECT_EQ(rtc_read(REG_A), 0x26);
	EXPECT_EQ(rtc_read(REG_B), B_24H);
	EXPECT_EQ(rtc_read(REG_D), 0x80);
	printf("rtc: %02x%02x-%02x-%02x %02x:%02x:%02x\n",
	       rtc_read(REG_CENTURY), rtc_read(REG_YEAR), rtc_read(REG_MONTH),
	       rtc_read(REG_DAY), rtc_read(REG_HOURS), rtc_read(REG_MINUTES),
	       rtc_read(REG_SECONDS));
	EXPECT(month >= 1 && month <= 12);
	EXPECT(day >= 1 && day <= 31);
	EXPECT(bcd(rtc_read(REG_HOURS)) < 24);
	EXPECT(bcd(rtc_read(REG_SECONDS)) < 60);
}

/* From the moment the seconds change, WAIT_TENTHS tenths of a second of
 * TSC later the clock reads exactly two seconds more. */
static void test_advance(void)
{
	uint64_t khz = cpuid(0x40000010, 0).eax, t0, ticks;
	uint32_t s0 = month_seconds(), s1;

	if (!EXPECT(khz != 0))
		return;
	while ((s1 = month_seconds()) == s0)
		;
	t0 = rdtsc_ordered();
	ticks = khz * 100 * WAIT_TENTHS;
	while (rdtsc_ordered() - t0 < ticks)
		;
	s0 = month_seconds();
	printf("rtc: %u s after %u ticks (TSC %llu kHz)\n", s0 - s1,
	       (unsigned int)ticks, (unsigned long long)khz);
	EXPECT_EQ(s0 - s1, 2);
}

static void test_binary_and_set(void)
{
	rtc_write(REG_B, B_BINARY | B_24H);
	EXPECT(rtc_read(REG_SECONDS) < 60);
	EXPECT(rtc_read(REG_HOURS) < 24);
	rtc_write(REG_B, B_SET | B_BINARY | B_24H);
	rtc_write(REG_YEAR, 99);
	rtc_write(REG_CENTURY, 19);
	rtc_write(REG_B, B_BINARY | B_24H);
	EXPECT_EQ(rtc_read(REG_YEAR), 99);
	EXPECT_EQ(rtc_read(REG_CENTURY), 19);
	rtc_write(REG_B, B_24H);
	EXPECT_EQ(rtc_read(REG_YEAR), 0x99);
}

static void test_ram(void)
{
	rtc_write(REG_RAM, 0xa5);
	rtc_write(REG_RAM + 1, 0x5a);
	EXPECT_EQ(rtc_read(REG_RAM), 0xa5);
	EXPECT_EQ(rtc_read(REG_RAM | NMI_MASK), 0xa5);
	EXPECT_EQ(rtc_read(REG_RAM + 1), 0x5a);
}

void guest_main(void)
{
	char arg[4];

	printf("cmdline: '%s'\n", mb_cmdline());
	if (!EXPECT(cmdline_get("rtc", arg, sizeof(arg))))
		return;
	if (arg[0] == '0') {
		test_absent();
		return;
	}
	test_registers();
	test_advance();
	test_binary_and_set();
	test_ram();
}
