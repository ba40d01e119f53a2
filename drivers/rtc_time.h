/*
 * The MC146818 real-time clock's register layout, and the calendar
 * arithmetic between seconds since the Unix epoch (1970-01-01 00:00:00
 * UTC) and its date registers. Pure code: the host's clock
 * (drivers/wallclock.c) and the guests' virtual clock (guest/vrtc.c) both
 * use it, and it is tested on the host (tests/unit/test_rtc.c).
 *
 *   index  register              index  register
 *   0x00   seconds               0x07   day of month (1-31)
 *   0x01   seconds alarm         0x08   month (1-12)
 *   0x02   minutes               0x09   year (0-99)
 *   0x03   minutes alarm         0x0a   status A (bit 7 UIP, read-only)
 *   0x04   hours (bit 7 = PM     0x0b   status B
 *          in 12-hour mode)      0x0c   status C (interrupt flags)
 *   0x05   hours alarm           0x0d   status D (bit 7 VRT)
 *   0x06   day of week (1 = Sun) 0x0e-0x7f  CMOS RAM (0x32: century, by
 *                                           the PC convention)
 *
 * Time registers hold BCD or binary as status B's DM bit says, and hours
 * run 0-23 or 12-hour with the PM bit as its 24/12 bit says.
 */
#ifndef KEEL_DRIVERS_RTC_TIME_H
#define KEEL_DRIVERS_RTC_TIME_H

#include "arch/compiler.h"

#define RTC_PORT_INDEX          0x70
#define RTC_PORT_DATA           0x71
#define RTC_INDEX_NMI_MASK      BIT_ULL(7)      /* port 0x70 bit 7 */
#define RTC_INDEX_MASK          0x7f
#define RTC_REGS                128

#define RTC_SECONDS             0x00
#define RTC_SECONDS_ALARM       0x01
#define RTC_MINUTES             0x02
#define RTC_MINUTES_ALARM       0x03
#define RTC_HOURS               0x04
#define RTC_HOURS_ALARM         0x05
#define RTC_DAY_OF_WEEK         0x06
#define RTC_DAY_OF_MONTH        0x07
#define RTC_MONTH               0x08
#define RTC_YEAR                0x09
#define RTC_STATUS_A            0x0a
#define RTC_STATUS_B            0x0b
#define RTC_STATUS_C            0x0c
#define RTC_STATUS_D            0x0d
#define RTC_CENTURY             0x32

#define RTC_A_UIP               BIT_ULL(7)      /* update in progress */
#define RTC_A_DIVIDER           GENMASK_ULL(6, 4)
#define RTC_A_RATE              GENMASK_ULL(3, 0)
#define RTC_A_DIVIDER_32K       0x20            /* 32.768 kHz time base */
#define RTC_A_RATE_1024HZ       0x06
#define RTC_B_SET               BIT_ULL(7)      /* updates stopped */
#define RTC_B_PIE               BIT_ULL(6)
#define RTC_B_AIE               BIT_ULL(5)
#define RTC_B_UIE               BIT_ULL(4)
#define RTC_B_SQWE              BIT_ULL(3)
#define RTC_B_DM_BINARY         BIT_ULL(2)
#define RTC_B_24H               BIT_ULL(1)
#define RTC_B_DSE               BIT_ULL(0)
#define RTC_D_VRT               BIT_ULL(7)      /* RAM and time valid */
#define RTC_HOURS_PM            BIT_ULL(7)      /* 12-hour mode */

#define RTC_SECS_PER_DAY        86400

/* A calendar time. year is the full year (e.g. 2026), month 1-12, day
 * 1-31, wday 0-6 with 0 = Sunday. */
struct rtc_date {
	uint32_t year;
	uint8_t month, day, hour, min, sec, wday;
};

bool rtc_is_leap(uint32_t year);
/* Days in month (1-12) of year; 0 for a month out of range. */
unsigned int rtc_days_in_month(uint32_t year, unsigned int month);
/* Is every field in range (year 1-9999)? */
bool rtc_date_valid(const struct rtc_date *d);
/* Seconds since the epoch of a valid date (negative before 1970). */
int64_t rtc_date_to_epoch(const struct rtc_date *d);
/* The date of t seconds since the epoch (t may be negative), wday set.
 * t is first held to the dates rtc_date_valid() allows (0001-01-01 to
 * 9999-12-31): a guest sets its own TSC, so any 64-bit value comes. */
#define RTC_EPOCH_MIN   (-62135596800LL)        /* 0001-01-01 00:00:00 */
#define RTC_EPOCH_MAX   253402300799LL          /* 9999-12-31 23:59:59 */
void rtc_epoch_to_date(int64_t t, struct rtc_date *d);

uint8_t rtc_to_bcd(unsigned int v);             /* v in 0-99 */
unsigned int rtc_from_bcd(uint8_t v);

/* Fills regs[RTC_SECONDS..RTC_YEAR] and regs[RTC_CENTURY] with d in the
 * format status B (b) selects; the alarm registers are left alone. */
void rtc_encode(const struct rtc_date *d, uint8_t b, uint8_t *regs);
/* Reads the date back from the same registers. Without a century register
 * (has_century false) years 70-99 are 19xx and 00-69 20xx. Returns false
 * when the registers do not hold a valid date. */
bool rtc_decode(const uint8_t *regs, uint8_t b, bool has_century,
		struct rtc_date *d);

#endif
