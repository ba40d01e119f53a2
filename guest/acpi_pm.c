/*
 * The power-management registers a guest's FADT points to
 * (guest/acpi_tables.h): hardware-reduced ACPI's sleep control and status
 * registers (ACPI 6.5 4.8.3.7-4.8.3.8), the reset register (4.8.3.6)
 * and the PM timer (4.8.3.3).
 * Entering S5 (SLP_EN with SLP_TYP 5) powers the guest off and a write of
 * the reset value resets it: both end the guest with status 0. A guest
 * that powers off counts as passed in Keel's done line; a reset does not
 * (a Linux guest booted with panic=-1 resets when it panics). Other sleep
 * states are not offered (the DSDT names only \_S5) and are ignored.
 */
#include "guest/acpi_tables.h"
#include "guest/guest.h"
#include "arch/tsc.h"
#include "arch/x86.h"

const char guest_end_poweroff[] = "acpi poweroff";

/* The PM timer counts at 3.579545 MHz on the guest's clock, its TSC (the
 * vCPUs share one TSC offset), wrapping at 32 bits (TMR_VAL_EXT). Split
 * into whole seconds and the rest so that no product overflows 64 bits. */
static uint32_t acpi_pm_timer(const struct guest *g)
{
	uint64_t tsc = rdtsc() + g->vcpus[0]->tsc_offset;
	uint64_t hz = tsc_khz * 1000;

	return (uint32_t)(tsc / hz * ACPI_PM_TIMER_HZ +
			  tsc % hz * ACPI_PM_TIMER_HZ / hz);
}

void acpi_pm_io(struct guest *g, uint16_t port, bool in, uint32_t *val)
{
	uint8_t v = (uint8_t)*val;

	if (port == ACPI_PM_TIMER) {
		if (in)
			*val = acpi_pm_timer(g);
		return;                 /* read-only */
	}
	if (in) {
		*val = 0;               /* no wake status, nothing pending */
		return;
	}
	if (port == ACPI_PM_SLEEP_CONTROL && (v & ACPI_SLP_EN) &&
	    ((v & ACPI_SLP_TYP_MASK) >> ACPI_SLP_TYP_SHIFT) == ACPI_SLP_TYP_S5)
		guest_end(g, 0, guest_end_poweroff);
	else if (port == ACPI_PM_RESET && v == ACPI_PM_RESET_VALUE)
		guest_end(g, 0, "acpi reset");
}
