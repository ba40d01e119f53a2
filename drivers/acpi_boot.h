/* ACPI at boot: finding the CPUs Keel is to start. */
#ifndef KEEL_DRIVERS_ACPI_BOOT_H
#define KEEL_DRIVERS_ACPI_BOOT_H

#include "arch/compiler.h"

struct mb2_info;
struct smp_cpu;

/*
 * Fills cpus (up to max) from the MADT that the RSDP in the boot information
 * (or, without one, the BIOS areas) leads to; prints what it found and every
 * table problem. Without a usable MADT, returns 1 entry: the BSP alone.
 */
unsigned int acpi_boot_cpus(const struct mb2_info *mi, struct smp_cpu *cpus,
			    unsigned int max);

/* The CMOS index of the RTC's century register that the FADT names (after
 * acpi_boot_cpus()), or 0 when there is no FADT or it names none. */
uint8_t acpi_boot_rtc_century(void);

#endif
