/* Calendar arithmetic and MC146818 register encoding (drivers/rtc_time.h).
 * Gregorian calendar throughout, no leap seconds (as Unix time). */
#include "drivers/rtc_time.h"

/* 1970-01-01 was a Thursday. */
#define EPOCH_WDAY      4
#define EPOCH_YEAR      1970

bool rtc_is_leap(uint32_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned int rtc_days_in_month(uint32_t year, unsigned int month)
{
	static const uint8_t days[12] = { 31, 28, 31, 30, 31, 30,
					  31, 31, 30, 31, 30, 31 };

	if (month < 1 || month > 12)
		return 0;
	return days[month - 1] + (month == 2 && rtc_is_leap(year));
}

bool rtc_date_valid(const struct rtc_date *d)
{
	return d->year >= 1 && d->year <= 9999 &&
	       d->day >= 1 && d->day <= rtc_days_in_month(d->year, d->month) &&
	       d->hour < 24 && d->min < 60 && d->sec < 60;
}

/* Leap years in [1, year). */
static int64_t leaps_before(uint32_t year)
{
	int64_t y = (int64_t)year - 1;

	return y / 4 - y / 100 + y / 400;
}

/* Days from 1970-01-01 to January 1st of year (negative before). */
static int64_t days_before_year(uint32_t year)
{
	return 365 * ((int64_t)year - EPOCH_YEAR) +
	       leaps_before(year) - leaps_before(EPOCH_YEAR);
}

static unsigned int day_of_year(uint32_t year, unsigned int month,
				unsigned int day)
{
	unsigned int n = day - 1;

	for (unsigned int m = 1; m < month; m++)
		n += rtc_days_in_month(year, m);
	return n;
}

int64_t rtc_date_to_epoch(const struct rtc_date *d)
{
	int64_t days = days_before_year(d->year) +
		       day_of_year(d->year, d->month, d->day);

	return days * RTC_SECS_PER_DAY + d->hour * 3600 + d->min * 60 + d->sec;
}

/* Floor division and its non-negative remainder. */
static int64_t div_floor(int64_t a, int64_t b, int64_t *rem)
{
	int64_t q = a / b, r = a % b;

	if (r < 0) {
		q--;
		r += b;
	}
	*rem = r;
	return q;
}

void rtc_epoch_to_date(int64_t t, struct rtc_date *d)
{
	int64_t secs, wday, day0;

	/* Beyond these the year loops below would run for ages. */
	t = t < RTC_EPOCH_MIN ? RTC_EPOCH_MIN : t > RTC_EPOCH_MAX ? RTC_EPOCH_MAX : t;
	day0 = div_floor(t, RTC_SECS_PER_DAY, &secs);
	int64_t days = day0, y = EPOCH_YEAR + days / 366;
	unsigned int m = 1;

	while (days < days_before_year((uint32_t)y))
		y--;
	while (days >= days_before_year((uint32_t)y + 1))
		y++;
	days -= days_before_year((uint32_t)y);
	while (days >= rtc_days_in_month((uint32_t)y, m))
		days -= rtc_days_in_month((uint32_t)y, m++);
	d->year = (uint32_t)y;
	d->month = (uint8_t)m;
	d->day = (uint8_t)(days + 1);
	d->hour = (uint8_t)(secs / 3600);
	d->min = (uint8_t)(secs / 60 % 60);
	d->sec = (uint8_t)(secs % 60);
	div_floor(day0 + EPOCH_WDAY, 7, &wday);
	d->wday = (uint8_t)wday;
}

uint8_t rtc_to_bcd(unsigned int v)
{
	return (uint8_t)((v / 10) << 4 | v % 10);
}

unsigned int rtc_from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

static uint8_t put_field(unsigned int v, uint8_t b)
{
	return (b & RTC_B_DM_BINARY) ? (uint8_t)v : rtc_to_bcd(v);
}

static unsigned int get_field(uint8_t v, uint8_t b)
{
	return (b & RTC_B_DM_BINARY) ? v : rtc_from_bcd(v);
}

/* 12-hour mode: 12 AM is midnight, 12 PM noon. */
static uint8_t put_hour(unsigned int h, uint8_t b)
{
	unsigned int h12;

	if (b & RTC_B_24H)
		return put_field(h, b);
	h12 = h % 12 ? h % 12 : 12;
	return put_field(h12, b) | (h >= 12 ? RTC_HOURS_PM : 0);
}

static unsigned int get_hour(uint8_t v, uint8_t b)
{
	unsigned int h;

	if (b & RTC_B_24H)
		return get_field(v, b);
	h = get_field(v & ~RTC_HOURS_PM, b);
	if (h < 1 || h > 12)
		return 24;                      /* invalid */
	return h % 12 + ((v & RTC_HOURS_PM) ? 12 : 0);
}

void rtc_encode(const struct rtc_date *d, uint8_t b, uint8_t *regs)
{
	regs[RTC_SECONDS] = put_field(d->sec, b);
	regs[RTC_MINUTES] = put_field(d->min, b);
	regs[RTC_HOURS] = put_hour(d->hour, b);
	regs[RTC_DAY_OF_WEEK] = put_field(d->wday + 1u, b);
	regs[RTC_DAY_OF_MONTH] = put_field(d->day, b);
	regs[RTC_MONTH] = put_field(d->month, b);
	regs[RTC_YEAR] = put_field(d->year % 100, b);
	regs[RTC_CENTURY] = put_field(d->year / 100 % 100, b);
}

bool rtc_decode(const uint8_t *regs, uint8_t b, bool has_century,
		struct rtc_date *d)
{
	unsigned int yy = get_field(regs[RTC_YEAR], b);
	unsigned int cc = has_century ? get_field(regs[RTC_CENTURY], b)
				      : (yy >= 70 ? 19 : 20);

	if (yy > 99 || cc > 99)
		return false;
	d->sec = (uint8_t)get_field(regs[RTC_SECONDS], b);
	d->min = (uint8_t)get_field(regs[RTC_MINUTES], b);
	d->hour = (uint8_t)get_hour(regs[RTC_HOURS], b);
	d->day = (uint8_t)get_field(regs[RTC_DAY_OF_MONTH], b);
	d->month = (uint8_t)get_field(regs[RTC_MONTH], b);
	d->year = cc * 100 + yy;
	d->wday = 0;
	if (!rtc_date_valid(d))
		return false;
	rtc_epoch_to_date(rtc_date_to_epoch(d), d);     /* sets wday */
	return true;
}
