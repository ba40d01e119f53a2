/* Host tests for the calendar arithmetic and MC146818 register encoding
 * (drivers/rtc_time.c), with the C library's timegm()/gmtime_r() as the
 * independent oracle for epoch <-> calendar. */
#define _GNU_SOURCE
#include <time.h>
#include "drivers/rtc_time.h"
#include "tests/unit/test.h"

static struct rtc_date date(uint32_t y, uint8_t mo, uint8_t d, uint8_t h,
			    uint8_t mi, uint8_t s)
{
	return (struct rtc_date){ .year = y, .month = mo, .day = d,
				  .hour = h, .min = mi, .sec = s };
}

TEST(leap_years)
{
	EXPECT(rtc_is_leap(2024));
	EXPECT(rtc_is_leap(2000));
	EXPECT(rtc_is_leap(1600));
	EXPECT(!rtc_is_leap(1900));
	EXPECT(!rtc_is_leap(2100));
	EXPECT(!rtc_is_leap(2026));
}

TEST(days_in_month)
{
	static const unsigned int expect[12] = { 31, 28, 31, 30, 31, 30,
						 31, 31, 30, 31, 30, 31 };

	for (unsigned int m = 1; m <= 12; m++)
		EXPECT_EQ(rtc_days_in_month(2023, m), expect[m - 1]);
	EXPECT_EQ(rtc_days_in_month(2024, 2), 29);
	EXPECT_EQ(rtc_days_in_month(2000, 2), 29);
	EXPECT_EQ(rtc_days_in_month(1900, 2), 28);
	EXPECT_EQ(rtc_days_in_month(2023, 0), 0);
	EXPECT_EQ(rtc_days_in_month(2023, 13), 0);
}

TEST(known_instants)
{
	struct rtc_date d = date(1970, 1, 1, 0, 0, 0);

	EXPECT_EQ(rtc_date_to_epoch(&d), 0);
	d = date(2000, 3, 1, 0, 0, 0);
	EXPECT_EQ(rtc_date_to_epoch(&d), 951868800);
	d = date(2038, 1, 19, 3, 14, 8);
	EXPECT_EQ(rtc_date_to_epoch(&d), 2147483648LL);
	d = date(1969, 12, 31, 23, 59, 59);
	EXPECT_EQ(rtc_date_to_epoch(&d), (uint64_t)-1LL);

	rtc_epoch_to_date(0, &d);
	EXPECT(d.year == 1970 && d.month == 1 && d.day == 1 && d.wday == 4);
	rtc_epoch_to_date(-1, &d);
	EXPECT(d.year == 1969 && d.month == 12 && d.day == 31 &&
	       d.hour == 23 && d.min == 59 && d.sec == 59 && d.wday == 3);
	rtc_epoch_to_date(951782400, &d);               /* 2000-02-29 */
	EXPECT(d.year == 2000 && d.month == 2 && d.day == 29 && d.wday == 2);
}

static void check_against_libc(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	struct rtc_date d;

	gmtime_r(&tt, &tm);
	rtc_epoch_to_date(t, &d);
	EXPECT_EQ(d.year, (uint32_t)(tm.tm_year + 1900));
	EXPECT_EQ(d.month, tm.tm_mon + 1);
	EXPECT_EQ(d.day, tm.tm_mday);
	EXPECT_EQ(d.hour, tm.tm_hour);
	EXPECT_EQ(d.min, tm.tm_min);
	EXPECT_EQ(d.sec, tm.tm_sec);
	EXPECT_EQ(d.wday, tm.tm_wday);
	EXPECT_EQ(rtc_date_to_epoch(&d), (uint64_t)timegm(&tm));
	EXPECT(rtc_date_valid(&d));
}

/* Every day from 1900 to 2200 at a varying time of day, then random
 * instants from year 1 to 9999. */
TEST(epoch_calendar_both_ways)
{
	int64_t first = -2208988800LL, last = 7258118400LL;

	for (int64_t t = first; t < last && !test_failed_now; t += 86400)
		check_against_libc(t + (t / 86400 * 7919) % 86400);
	srand(1);
	for (int i = 0; i < 100000 && !test_failed_now; i++) {
		int64_t t = ((int64_t)rand() << 31 | rand()) % 315537897600LL -
			    62135596800LL;
		check_against_libc(t);
	}
}

TEST(date_valid)
{
	struct rtc_date d = date(2023, 2, 29, 0, 0, 0);

	EXPECT(!rtc_date_valid(&d));
	d.year = 2024;
	EXPECT(rtc_date_valid(&d));
	d = date(2024, 4, 31, 0, 0, 0);
	EXPECT(!rtc_date_valid(&d));
	d = date(2024, 4, 30, 24, 0, 0);
	EXPECT(!rtc_date_valid(&d));
	d = date(2024, 13, 1, 0, 0, 0);
	EXPECT(!rtc_date_valid(&d));
	d = date(2024, 1, 0, 0, 0, 0);
	EXPECT(!rtc_date_valid(&d));
}

TEST(bcd)
{
	EXPECT_EQ(rtc_to_bcd(0), 0x00);
	EXPECT_EQ(rtc_to_bcd(59), 0x59);
	EXPECT_EQ(rtc_to_bcd(99), 0x99);
	EXPECT_EQ(rtc_from_bcd(0x42), 42);
	for (unsigned int v = 0; v < 100; v++)
		EXPECT_EQ(rtc_from_bcd(rtc_to_bcd(v)), v);
}

TEST(encode_bcd_24h)
{
	uint8_t r[RTC_REGS] = { 0 };
	struct rtc_date d = date(2026, 11, 22, 18, 50, 12);

	rtc_epoch_to_date(rtc_date_to_epoch(&d), &d);
	rtc_encode(&d, RTC_B_24H, r);
	EXPECT_EQ(r[RTC_SECONDS], 0x12);
	EXPECT_EQ(r[RTC_MINUTES], 0x50);
	EXPECT_EQ(r[RTC_HOURS], 0x18);
	EXPECT_EQ(r[RTC_DAY_OF_WEEK], 1);               /* a Sunday */
	EXPECT_EQ(r[RTC_DAY_OF_MONTH], 0x22);
	EXPECT_EQ(r[RTC_MONTH], 0x11);
	EXPECT_EQ(r[RTC_YEAR], 0x26);
	EXPECT_EQ(r[RTC_CENTURY], 0x20);
	EXPECT_EQ(r[RTC_SECONDS_ALARM], 0);
}

TEST(encode_binary_12h)
{
	uint8_t r[RTC_REGS] = { 0 };
	struct rtc_date d = date(1999, 12, 31, 0, 5, 59);

	rtc_encode(&d, RTC_B_DM_BINARY, r);
	EXPECT_EQ(r[RTC_HOURS], 12);                    /* 12 AM */
	EXPECT_EQ(r[RTC_SECONDS], 59);
	EXPECT_EQ(r[RTC_YEAR], 99);
	EXPECT_EQ(r[RTC_CENTURY], 19);
	d.hour = 12;
	rtc_encode(&d, RTC_B_DM_BINARY, r);
	EXPECT_EQ(r[RTC_HOURS], 12 | RTC_HOURS_PM);     /* noon */
	d.hour = 23;
	rtc_encode(&d, 0, r);
	EXPECT_EQ(r[RTC_HOURS], 0x11 | RTC_HOURS_PM);   /* BCD 11 PM */
	d.hour = 1;
	rtc_encode(&d, 0, r);
	EXPECT_EQ(r[RTC_HOURS], 0x01);
}

/* Every hour in all four formats decodes to what was encoded. */
TEST(decode_round_trip)
{
	static const uint8_t formats[] = {
		0, RTC_B_24H, RTC_B_DM_BINARY, RTC_B_DM_BINARY | RTC_B_24H,
	};
	uint8_t r[RTC_REGS] = { 0 };
	struct rtc_date d = date(2024, 2, 29, 0, 0, 7), out;

	for (unsigned int f = 0; f < ARRAY_SIZE(formats); f++)
		for (uint8_t h = 0; h < 24; h++) {
			d.hour = h;
			rtc_encode(&d, formats[f], r);
			EXPECT(rtc_decode(r, formats[f], true, &out));
			EXPECT_EQ(rtc_date_to_epoch(&out),
				  rtc_date_to_epoch(&d));
			EXPECT_EQ(out.wday, 4);         /* a Thursday */
		}
}

TEST(decode_without_century)
{
	uint8_t r[RTC_REGS] = { 0 };
	struct rtc_date d = date(1985, 6, 1, 0, 0, 0), out;

	rtc_encode(&d, RTC_B_24H, r);
	r[RTC_CENTURY] = 0x77;                          /* ignored */
	EXPECT(rtc_decode(r, RTC_B_24H, false, &out) && out.year == 1985);
	d.year = 2069;
	rtc_encode(&d, RTC_B_24H, r);
	EXPECT(rtc_decode(r, RTC_B_24H, false, &out) && out.year == 2069);
}

TEST(decode_rejects_garbage)
{
	uint8_t r[RTC_REGS];
	struct rtc_date out;

	memset(r, 0xff, sizeof(r));
	EXPECT(!rtc_decode(r, 0, true, &out));
	EXPECT(!rtc_decode(r, RTC_B_DM_BINARY, false, &out));
	memset(r, 0, sizeof(r));
	EXPECT(!rtc_decode(r, RTC_B_24H, true, &out));  /* day 0 */
	r[RTC_DAY_OF_MONTH] = 1;
	r[RTC_MONTH] = 1;
	r[RTC_YEAR] = 0x24;
	r[RTC_CENTURY] = 0x20;
	r[RTC_HOURS] = 0x13;                            /* 12-hour: 13 */
	EXPECT(!rtc_decode(r, 0, true, &out));
	EXPECT(rtc_decode(r, RTC_B_24H, true, &out) && out.hour == 13);
}

/* Any 64-bit time ends in the RTC's range at once: a guest that moves its
 * TSC to the end of time gets 9999-12-31, not a Keel that loops. */
TEST(epoch_to_date_holds_any_time_to_the_range)
{
	struct rtc_date d;

	rtc_epoch_to_date(INT64_MAX, &d);
	EXPECT_EQ(d.year, 9999);
	EXPECT_EQ(d.month, 12);
	EXPECT_EQ(d.day, 31);
	EXPECT_EQ(d.sec, 59);
	EXPECT(rtc_date_valid(&d));
	rtc_epoch_to_date(INT64_MIN, &d);
	EXPECT_EQ(d.year, 1);
	EXPECT_EQ(d.month, 1);
	EXPECT_EQ(d.day, 1);
	EXPECT(rtc_date_valid(&d));
	EXPECT_EQ(rtc_date_to_epoch(&d), RTC_EPOCH_MIN);
	rtc_epoch_to_date(RTC_EPOCH_MAX, &d);
	EXPECT_EQ(d.year, 9999);
	EXPECT_EQ(rtc_date_to_epoch(&d), RTC_EPOCH_MAX);
}

TEST_MAIN()
