/* A guest's virtual MC146818 RTC (guest/vrtc.h). The register rules are
 * the MC146818A datasheet's: SET stops updates so that software can load
 * the time registers, and clearing it starts the clock from what they
 * hold; UIP reads 0 because an update never shows (the time registers
 * are computed at each read); status C and D are read-only. */
#include "guest/vrtc.h"
#include "arch/string.h"

static bool is_time_reg(uint8_t idx)
{
	switch (idx) {
	case RTC_SECONDS: case RTC_MINUTES: case RTC_HOURS:
	case RTC_DAY_OF_WEEK: case RTC_DAY_OF_MONTH: case RTC_MONTH:
	case RTC_YEAR: case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

static bool is_set(const struct vrtc *r)
{
	return r->regs[RTC_STATUS_B] & RTC_B_SET;
}

void vrtc_reset(struct vrtc *r)
{
	memset(r->regs, 0, sizeof(r->regs));
	r->regs[RTC_STATUS_A] = VRTC_RESET_A;
	r->regs[RTC_STATUS_B] = VRTC_RESET_B;
	r->index = 0;
	r->offset = 0;
}

/* The guest's time into the time registers, in status B's format. The
 * alarm registers and the rest of the RAM are not touched. */
static void load_time(struct vrtc *r, int64_t now, uint8_t *regs)
{
	struct rtc_date d;

	rtc_epoch_to_date(now + r->offset, &d);
	rtc_encode(&d, r->regs[RTC_STATUS_B], regs);
}

/* Restarts the clock from the time registers in regs; a date they do
 * not hold validly leaves the clock as it was. */
static void store_time(struct vrtc *r, int64_t now, const uint8_t *regs)
{
	struct rtc_date d;

	if (rtc_decode(regs, r->regs[RTC_STATUS_B], true, &d))
		r->offset = rtc_date_to_epoch(&d) - now;
}

static uint8_t read_time_reg(struct vrtc *r, int64_t now, uint8_t idx)
{
	uint8_t regs[RTC_REGS];

	if (is_set(r))
		return r->regs[idx];
	load_time(r, now, regs);
	return regs[idx];
}

/* Outside SET the running clock takes the new field at once. */
static void write_time_reg(struct vrtc *r, int64_t now, uint8_t idx,
			   uint8_t v)
{
	uint8_t regs[RTC_REGS];

	if (is_set(r)) {
		r->regs[idx] = v;
		return;
	}
	load_time(r, now, regs);
	regs[idx] = v;
	store_time(r, now, regs);
}

/* Setting SET freezes the registers at the current time (and clears UIE,
 * as the part does); clearing it starts the clock from them, read in the
 * format status B has then. */
static void write_status_b(struct vrtc *r, int64_t now, uint8_t v)
{
	bool was_set = is_set(r);

	if (v & RTC_B_SET) {
		v &= (uint8_t)~RTC_B_UIE;
		if (!was_set)
			load_time(r, now, r->regs);
		r->regs[RTC_STATUS_B] = v;
		return;
	}
	r->regs[RTC_STATUS_B] = v;
	if (was_set)
		store_time(r, now, r->regs);
}

static uint8_t vrtc_read(struct vrtc *r, int64_t now, uint8_t idx)
{
	if (is_time_reg(idx))
		return read_time_reg(r, now, idx);
	switch (idx) {
	case RTC_STATUS_A:
		return r->regs[idx] & (uint8_t)~RTC_A_UIP;
	case RTC_STATUS_C:
		return 0;               /* no interrupt flags ever */
	case RTC_STATUS_D:
		return RTC_D_VRT;
	default:
		return r->regs[idx];
	}
}

static void vrtc_write(struct vrtc *r, int64_t now, uint8_t idx, uint8_t v)
{
	if (is_time_reg(idx))
		write_time_reg(r, now, idx, v);
	else if (idx == RTC_STATUS_A)
		r->regs[idx] = v & (uint8_t)~RTC_A_UIP;
	else if (idx == RTC_STATUS_B)
		write_status_b(r, now, v);
	else if (idx != RTC_STATUS_C && idx != RTC_STATUS_D)
		r->regs[idx] = v;
}

void vrtc_io(struct vrtc *r, int64_t now, uint16_t off, bool in,
	     uint32_t *val)
{
	if (off == 0) {
		if (in)
			*val = 0xff;
		else
			r->index = (uint8_t)*val & RTC_INDEX_MASK;
	} else if (in) {
		*val = vrtc_read(r, now, r->index);
	} else {
		vrtc_write(r, now, r->index, (uint8_t)*val);
	}
}
