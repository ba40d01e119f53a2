/*
 * A guest's virtual MC146818 real-time clock (the `rtc` device): index
 * port 0x70 (bit 7, the NMI mask, is ignored) and data port 0x71. The
 * time registers follow the guest's own clock, which Keel passes in as
 * seconds since the epoch (the host's wall clock carried by the guest's
 * TSC); the guest's writes to them shift its clock by rtc_offset, never
 * the host's or another guest's. No periodic, alarm or update interrupts.
 * Pure code, tested on the host (tests/unit/test_vrtc.c).
 */
#ifndef KEEL_GUEST_VRTC_H
#define KEEL_GUEST_VRTC_H

#include "arch/compiler.h"
#include "arch/spinlock.h"
#include "drivers/rtc_time.h"

/* Reset values: the 32.768 kHz divider at 1024 Hz, 24-hour BCD. */
#define VRTC_RESET_A    (RTC_A_DIVIDER_32K | RTC_A_RATE_1024HZ)
#define VRTC_RESET_B    RTC_B_24H

struct vrtc {
	struct spinlock lock;           /* the guest's vCPUs share it */
	uint8_t index;
	/* CMOS RAM and status A/B; while status B's SET bit is set, also
	 * the time registers the guest reads and writes instead of the
	 * running clock. */
	uint8_t regs[RTC_REGS];
	int64_t offset;                 /* the guest's time minus its clock */
};

void vrtc_reset(struct vrtc *r);
/* One byte at port 0x70 (off 0) or 0x71 (off 1); now is the guest's
 * clock in seconds since the epoch. Port 0x70 reads all ones. */
void vrtc_io(struct vrtc *r, int64_t now, uint16_t off, bool in,
	     uint32_t *val);

#endif
