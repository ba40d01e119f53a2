/* ACPI at boot: RSDP from the boot information (or the BIOS areas), then
 * the MADT's processors. Parsing and validation are in drivers/acpi.c. */
#include "drivers/acpi_boot.h"
#include "drivers/acpi.h"
#include "drivers/printk.h"
#include "boot/mb2info.h"
#include "arch/smp.h"
#include "arch/string.h"
#include "mm/layout.h"

#define BIOS_ROM_START  0xe0000
#define BIOS_ROM_END    0x100000
#define EBDA_SEG_PTR    0x40e           /* BIOS data area: EBDA segment */
#define RSDP_V1_LEN     20
#define FADT_CENTURY    108             /* ACPI 6.5 table 5.9: CMOS index */

static struct acpi acpi;
static struct acpi_madt madt;

/* Tables are reached through the boot map of 0-4 GiB. */
static const void *acpi_boot_map(void *ctx, uint64_t phys, uint64_t len)
{
	(void)ctx;
	if (phys >= BOOT_MAP_LIMIT || len > BOOT_MAP_LIMIT - phys)
		return NULL;
	return phys_to_virt(phys);
}

/* ACPI 6.5, 5.2.5.1: the RSDP is on a 16-byte boundary in the first KiB of
 * the EBDA or in 0xE0000-0xFFFFF. Only used when the loader gave none. */
static const void *acpi_scan_bios(void)
{
	uint64_t ebda = (uint64_t)*(const uint16_t *)phys_to_virt(EBDA_SEG_PTR) << 4;
	uint64_t ranges[2][2] = { { ebda, ebda + 1024 },
				  { BIOS_ROM_START, BIOS_ROM_END } };

	for (int r = 0; r < 2; r++) {
		if (ranges[r][0] < 0x400 || ranges[r][1] > BIOS_ROM_END)
			continue;
		for (uint64_t pa = ranges[r][0]; pa < ranges[r][1]; pa += 16)
			if (!memcmp(phys_to_virt(pa), "RSD PTR ", 8))
				return phys_to_virt(pa);
	}
	return NULL;
}

static void acpi_boot_report(void)
{
	for (uint32_t i = 0; i < acpi.nr_diags; i++)
		pr_warn("keel: acpi: %s: %s (%#lx)\n", acpi.diags[i].table,
			acpi.diags[i].msg, acpi.diags[i].value);
}

static unsigned int acpi_bsp_only(struct smp_cpu *cpus)
{
	pr_warn("keel: acpi: no usable MADT; starting the boot CPU only\n");
	cpus[0] = (struct smp_cpu){ .apic_id = 0, .enabled = true };
	return 1;
}

unsigned int acpi_boot_cpus(const struct mb2_info *mi, struct smp_cpu *cpus,
			    unsigned int max)
{
	struct acpi_ops ops = { acpi_boot_map, NULL };
	const void *rsdp = mi->rsdp_len ? mi->rsdp : acpi_scan_bios();
	size_t len = mi->rsdp_len ? mi->rsdp_len : 36;
	unsigned int n = 0, enabled = 0;
	int err;

	err = rsdp ? acpi_init(&acpi, &ops, rsdp, len) : -1;
	if (!err)
		err = acpi_parse_madt(&acpi, &madt);
	acpi_boot_report();
	if (err)
		return acpi_bsp_only(cpus);
	for (uint32_t i = 0; i < madt.nr_cpus && n < max; i++) {
		cpus[n++] = (struct smp_cpu){ madt.cpus[i].apic_id,
					      madt.cpus[i].enabled };
		enabled += madt.cpus[i].enabled;
	}
	pr_info("keel: acpi: %u cpus (%u enabled), %u ioapics, lapic at %#lx\n",
		madt.nr_cpus, enabled, madt.nr_ioapics, madt.lapic_addr);
	return n ? n : acpi_bsp_only(cpus);
}

uint8_t acpi_boot_rtc_century(void)
{
	uint32_t len;
	uint64_t pa = acpi.root_phys ? acpi_find_table(&acpi, "FACP", 0, &len)
				     : 0;

	if (!pa || len <= FADT_CENTURY)
		return 0;
	return ((const uint8_t *)phys_to_virt(pa))[FADT_CENTURY];
}
