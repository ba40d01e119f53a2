/* Host tests for a guest's virtual RTC (guest/vrtc.c), driven through its
 * two ports as a guest drives them, with the guest's clock given. */
#include "guest/vrtc.h"
#include "tests/unit/test.h"

/* 2026-11-22 18:50:12 UTC, a Sunday. */
#define T0      1795373412LL

static struct vrtc r;

static void setup(void)
{
	memset(&r, 0, sizeof(r));
	vrtc_reset(&r);
}

static uint8_t rd(int64_t now, uint8_t idx)
{
	uint32_t v = idx;

	vrtc_io(&r, now, 0, false, &v);
	vrtc_io(&r, now, 1, true, &v);
	return (uint8_t)v;
}

static void wr(int64_t now, uint8_t idx, uint8_t val)
{
	uint32_t v = idx;

	vrtc_io(&r, now, 0, false, &v);
	v = val;
	vrtc_io(&r, now, 1, false, &v);
}

/* The guest's time as its registers say, in the format status B gives. */
static int64_t guest_time(int64_t now)
{
	uint8_t regs[RTC_REGS] = { 0 };
	struct rtc_date d;
	uint8_t b = rd(now, RTC_STATUS_B);

	for (uint8_t i = RTC_SECONDS; i <= RTC_YEAR; i++)
		regs[i] = rd(now, i);
	regs[RTC_CENTURY] = rd(now, RTC_CENTURY);
	if (!rtc_decode(regs, b, true, &d)) {
		EXPECT(!"the registers hold a valid date");
		return -1;
	}
	return rtc_date_to_epoch(&d);
}

TEST(t0_is_what_the_tests_assume)
{
	struct rtc_date d;

	rtc_epoch_to_date(T0, &d);
	EXPECT(d.year == 2026 && d.month == 11 && d.day == 22 &&
	       d.hour == 18 && d.min == 50 && d.sec == 12 && d.wday == 0);
}

TEST(reset_state)
{
	setup();
	EXPECT_EQ(rd(T0, RTC_STATUS_A), 0x26);
	EXPECT_EQ(rd(T0, RTC_STATUS_B), 0x02);
	EXPECT_EQ(rd(T0, RTC_STATUS_C), 0);
	EXPECT_EQ(rd(T0, RTC_STATUS_D), 0x80);
	for (unsigned int i = 0x0e; i < RTC_REGS; i++)
		if (i != RTC_CENTURY)
			EXPECT_EQ(rd(T0, (uint8_t)i), 0);
}

TEST(bcd_24h_time)
{
	setup();
	EXPECT_EQ(rd(T0, RTC_SECONDS), 0x12);
	EXPECT_EQ(rd(T0, RTC_MINUTES), 0x50);
	EXPECT_EQ(rd(T0, RTC_HOURS), 0x18);
	EXPECT_EQ(rd(T0, RTC_DAY_OF_WEEK), 1);
	EXPECT_EQ(rd(T0, RTC_DAY_OF_MONTH), 0x22);
	EXPECT_EQ(rd(T0, RTC_MONTH), 0x11);
	EXPECT_EQ(rd(T0, RTC_YEAR), 0x26);
	EXPECT_EQ(rd(T0, RTC_CENTURY), 0x20);
	EXPECT_EQ(guest_time(T0), T0);
}

TEST(binary_and_12h_follow_status_b)
{
	setup();
	wr(T0, RTC_STATUS_B, RTC_B_DM_BINARY | RTC_B_24H);
	EXPECT_EQ(rd(T0, RTC_SECONDS), 12);
	EXPECT_EQ(rd(T0, RTC_HOURS), 18);
	EXPECT_EQ(rd(T0, RTC_YEAR), 26);
	EXPECT_EQ(rd(T0, RTC_CENTURY), 20);
	wr(T0, RTC_STATUS_B, RTC_B_DM_BINARY);
	EXPECT_EQ(rd(T0, RTC_HOURS), 6 | RTC_HOURS_PM);
	wr(T0, RTC_STATUS_B, 0);
	EXPECT_EQ(rd(T0, RTC_HOURS), 0x06 | RTC_HOURS_PM);
	EXPECT_EQ(rd(T0 - 18 * 3600, RTC_HOURS), 0x12);     /* midnight */
	EXPECT_EQ(guest_time(T0), T0);
}

TEST(time_advances_with_the_clock)
{
	setup();
	EXPECT_EQ(guest_time(T0 + 1), T0 + 1);
	EXPECT_EQ(rd(T0 + 48, RTC_SECONDS), 0x00);
	EXPECT_EQ(rd(T0 + 48, RTC_MINUTES), 0x51);
	EXPECT_EQ(guest_time(T0 + 86400 * 40), T0 + 86400 * 40);
	EXPECT_EQ(rd(T0 + 86400 * 40, RTC_MONTH), 0x01);    /* 2027 */
	EXPECT_EQ(rd(T0 + 86400 * 40, RTC_YEAR), 0x27);
}

TEST(status_a_uip_reads_clear_and_is_read_only)
{
	setup();
	wr(T0, RTC_STATUS_A, 0xff);
	EXPECT_EQ(rd(T0, RTC_STATUS_A), 0x7f);
	wr(T0, RTC_STATUS_A, 0x26);
	EXPECT_EQ(rd(T0, RTC_STATUS_A), 0x26);
}

TEST(status_c_and_d_are_read_only)
{
	setup();
	wr(T0, RTC_STATUS_C, 0xff);
	wr(T0, RTC_STATUS_D, 0x00);
	EXPECT_EQ(rd(T0, RTC_STATUS_C), 0);
	EXPECT_EQ(rd(T0, RTC_STATUS_D), RTC_D_VRT);
}

TEST(set_freezes_the_registers)
{
	setup();
	wr(T0, RTC_STATUS_B, RTC_B_SET | RTC_B_24H | RTC_B_UIE);
	EXPECT_EQ(rd(T0, RTC_STATUS_B), RTC_B_SET | RTC_B_24H);  /* UIE off */
	EXPECT_EQ(rd(T0 + 100, RTC_SECONDS), 0x12);
	EXPECT_EQ(rd(T0 + 100, RTC_MINUTES), 0x50);
	wr(T0 + 100, RTC_STATUS_B, RTC_B_24H);
	/* Cleared: the clock runs from the frozen time, 100 s behind. */
	EXPECT_EQ(guest_time(T0 + 100), T0);
	EXPECT_EQ(guest_time(T0 + 160), T0 + 60);
}

/* What Linux's mc146818_set_time does: SET, the fields, SET cleared. */
TEST(set_then_write_moves_the_guests_clock)
{
	setup();
	wr(T0, RTC_STATUS_B, RTC_B_SET | RTC_B_24H);
	wr(T0, RTC_YEAR, 0x99);
	wr(T0, RTC_CENTURY, 0x19);
	wr(T0, RTC_MONTH, 0x12);
	wr(T0, RTC_DAY_OF_MONTH, 0x31);
	wr(T0, RTC_HOURS, 0x23);
	wr(T0, RTC_MINUTES, 0x59);
	wr(T0, RTC_SECONDS, 0x58);
	EXPECT_EQ(rd(T0 + 5, RTC_YEAR), 0x99);          /* still frozen */
	wr(T0 + 5, RTC_STATUS_B, RTC_B_24H);
	EXPECT_EQ(guest_time(T0 + 5), 946684798LL);     /* 1999-12-31 23:59:58 */
	EXPECT_EQ(guest_time(T0 + 7), 946684800LL);     /* 2000-01-01 */
	EXPECT_EQ(rd(T0 + 7, RTC_CENTURY), 0x20);
}

TEST(write_outside_set_changes_one_field)
{
	setup();
	wr(T0, RTC_MINUTES, 0x10);
	EXPECT_EQ(guest_time(T0), T0 - 40 * 60);
	EXPECT_EQ(rd(T0 + 60, RTC_MINUTES), 0x11);
	wr(T0, RTC_MONTH, 0x02);
	wr(T0, RTC_DAY_OF_MONTH, 0x30);                 /* no such date */
	EXPECT_EQ(rd(T0, RTC_DAY_OF_MONTH), 0x22);
}

TEST(an_invalid_date_at_set_clear_keeps_the_clock)
{
	setup();
	wr(T0, RTC_STATUS_B, RTC_B_SET | RTC_B_24H);
	wr(T0, RTC_MONTH, 0x13);
	wr(T0, RTC_STATUS_B, RTC_B_24H);
	EXPECT_EQ(guest_time(T0 + 3), T0 + 3);
}

/* The frozen registers keep the format they were frozen in, as the part's
 * do: a guest changes DM before it sets SET. */
TEST(set_in_binary_mode)
{
	setup();
	wr(T0, RTC_STATUS_B, RTC_B_SET | RTC_B_DM_BINARY | RTC_B_24H);
	EXPECT_EQ(rd(T0, RTC_HOURS), 0x18);
	wr(T0, RTC_STATUS_B, RTC_B_24H);
	EXPECT_EQ(guest_time(T0), T0);
	wr(T0, RTC_STATUS_B, RTC_B_DM_BINARY | RTC_B_24H);
	wr(T0, RTC_STATUS_B, RTC_B_SET | RTC_B_DM_BINARY | RTC_B_24H);
	EXPECT_EQ(rd(T0, RTC_HOURS), 18);
	wr(T0, RTC_HOURS, 7);
	wr(T0, RTC_STATUS_B, RTC_B_DM_BINARY | RTC_B_24H);
	EXPECT_EQ(guest_time(T0), T0 - 11 * 3600);
}

TEST(cmos_ram_reads_back)
{
	setup();
	for (unsigned int i = 0x0e; i < RTC_REGS; i++)
		if (i != RTC_CENTURY)
			wr(T0, (uint8_t)i, (uint8_t)(i * 7 + 1));
	for (unsigned int i = 0x0e; i < RTC_REGS; i++)
		if (i != RTC_CENTURY)
			EXPECT_EQ(rd(T0 + 9, (uint8_t)i), (uint8_t)(i * 7 + 1));
	EXPECT_EQ(guest_time(T0), T0);                  /* time untouched */
}

TEST(alarm_registers_are_plain_storage)
{
	setup();
	wr(T0, RTC_SECONDS_ALARM, 0x30);
	wr(T0, RTC_MINUTES_ALARM, 0x45);
	wr(T0, RTC_HOURS_ALARM, 0xc0);
	EXPECT_EQ(rd(T0, RTC_SECONDS_ALARM), 0x30);
	EXPECT_EQ(rd(T0, RTC_MINUTES_ALARM), 0x45);
	EXPECT_EQ(rd(T0, RTC_HOURS_ALARM), 0xc0);
	EXPECT_EQ(guest_time(T0), T0);
}

/* Bit 7 of the index (the NMI mask) is dropped; port 0x70 reads 0xff. */
TEST(index_masking)
{
	uint32_t v;

	setup();
	wr(T0, 0x40, 0x5a);
	EXPECT_EQ(rd(T0, 0xc0), 0x5a);
	EXPECT_EQ(rd(T0, RTC_SECONDS | 0x80), 0x12);
	v = RTC_STATUS_D | 0x80;
	vrtc_io(&r, T0, 0, false, &v);
	v = 0;
	vrtc_io(&r, T0, 0, true, &v);
	EXPECT_EQ(v, 0xff);
	vrtc_io(&r, T0, 1, true, &v);
	EXPECT_EQ(v, RTC_D_VRT);
	EXPECT_EQ(r.index, RTC_STATUS_D);
}

/* Two guests' clocks are two structures: a write to one leaves the other. */
TEST(offsets_are_per_clock)
{
	struct vrtc other;

	setup();
	memset(&other, 0, sizeof(other));
	vrtc_reset(&other);
	wr(T0, RTC_YEAR, 0x30);
	EXPECT_EQ(rd(T0, RTC_YEAR), 0x30);
	EXPECT_EQ(other.offset, 0);
}

TEST_MAIN()
