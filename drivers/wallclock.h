/* The host's wall clock: the CMOS RTC read once at boot, carried forward
 * by the TSC. Guests' virtual RTCs (guest/vrtc.c) start from it. */
#ifndef KEEL_DRIVERS_WALLCLOCK_H
#define KEEL_DRIVERS_WALLCLOCK_H

#include "arch/compiler.h"

/*
 * Reads the MC146818 at ports 0x70/0x71 (after the TSC is calibrated):
 * century_reg is the CMOS index of the century register the FADT names,
 * 0 when it names none. Prints `keel: rtc: YYYY-MM-DD hh:mm:ss UTC`; with
 * no RTC (or an invalid date) says so and starts the clock at the epoch.
 */
void wallclock_init(uint8_t century_reg);
/* Seconds since the epoch at host TSC value tsc. */
int64_t wallclock_at(uint64_t tsc);

#endif
