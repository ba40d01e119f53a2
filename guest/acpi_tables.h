/*
 * ACPI tables Keel writes into a guest's memory (ACPI 6.5 chapter 5):
 * what a guest (any format) needs to find its vCPUs, its I/O APIC and how to
 * power off. Pure code: tables are built in a buffer that the caller
 * copies to guest-physical `base` (tests/unit/test_acpi_tables.c).
 *
 *   base + 0x000  RSDP, revision 2 (36 bytes)
 *   base + 0x040  XSDT -> FADT, MADT and, with a PCI bus, MCFG
 *   base + 0x100  FADT, revision 6 (276 bytes): hardware-reduced ACPI,
 *                 sleep control/status and reset registers and a
 *                 32-bit PM timer in port I/O,
 *                 no 8042, no VGA; a CMOS RTC with its century
 *                 at CMOS index 0x32 when the guest has one
 *   base + 0x300  MADT: one local APIC per vCPU (APIC ID = vCPU index),
 *                 one I/O APIC (GSI 0-23), no 8259s (PCAT_COMPAT clear);
 *                 no overrides: PCI's GSIs 16-19 are above the ISA IRQs
 *   base + 0x780  MCFG (PCI bus only, 60 bytes): ECAM at PCI_ECAM_GPA,
 *                 segment 0, bus 0
 *   base + 0x800  DSDT (up to the end, AML written with guest/aml.c):
 *                 \_S5 (SLP_TYP 5), so that S5 is offered, and the 16550
 *                 at 0x3f8 as PNP0501 with IRQ 4; with an RTC, PNP0B00
 *                 at 0x70-0x71 without an IRQ; with a PCI bus
 *                 (guest/pci.h):
 *                   \_SB.PCI0  PNP0A08 (PNP0A03), segment 0, bus 0;
 *                     _CRS: bus 0-0, ports 0xcf8-0xcff, I/O window
 *                     0x1000-0xffff, memory window PCI_MMIO_GPA, 512 MiB
 *                     _PRT: slots 0-7 x INTA-INTD -> GSI 16 +
 *                     (slot + pin) % 4 (pin 0 = INTA)
 *                   \_SB.MRES  PNP0C02 reserving the ECAM's 1 MiB
 */
#ifndef KEEL_GUEST_ACPI_TABLES_H
#define KEEL_GUEST_ACPI_TABLES_H

#include "arch/compiler.h"

#define ACPI_TABLES_GPA         0xe0000 /* in the BIOS area OSes search */
#define ACPI_TABLES_SIZE        0x1000
#define ACPI_RSDP_OFF           0x000
#define ACPI_XSDT_OFF           0x040
#define ACPI_FADT_OFF           0x100
#define ACPI_MADT_OFF           0x300
#define ACPI_MCFG_OFF           0x780
#define ACPI_DSDT_OFF           0x800
#define ACPI_MAX_GUEST_CPUS     64

/* The guest's ACPI power-management ports (guest/acpi_pm.c). */
#define ACPI_PM_SLEEP_CONTROL   0x600   /* SLP_TYP bits 4:2, SLP_EN bit 5 */
#define ACPI_PM_SLEEP_STATUS    0x601
#define ACPI_PM_RESET           0x602
#define ACPI_PM_RESET_VALUE     0x01
#define ACPI_PM_TIMER           0x608   /* 32-bit, 3.579545 MHz */
#define ACPI_PM_TIMER_HZ        3579545
#define ACPI_SLP_TYP_S5         5
#define ACPI_SLP_TYP_SHIFT      2
#define ACPI_SLP_TYP_MASK       0x1c
#define ACPI_SLP_EN             0x20

#define ACPI_IOAPIC_ADDR        0xfec00000U
#define ACPI_IOAPIC_PINS        24
#define ACPI_LAPIC_ADDR         0xfee00000U
#define ACPI_SCI_IRQ            9

/* FADT byte offsets (ACPI 6.5 table 5.9). */
#define FADT_DSDT               40
#define FADT_SCI_INT            46
#define FADT_PM_TMR_BLK         76
#define FADT_PM_TMR_LEN         91
#define FADT_CENTURY            108
#define FADT_IAPC_BOOT_ARCH     109
#define FADT_FLAGS              112
#define FADT_RESET_REG          116
#define FADT_RESET_VALUE        128
#define FADT_MINOR_VERSION      131
#define FADT_X_DSDT             140
#define FADT_X_PM_TMR_BLK       208
#define FADT_SLEEP_CONTROL      244
#define FADT_SLEEP_STATUS       256
#define FADT_HYPERVISOR_ID      268
#define FADT_LENGTH             276

#define FADT_F_TMR_VAL_EXT      BIT_ULL(8)
#define FADT_F_RESET_REG_SUP    BIT_ULL(10)
#define FADT_F_HW_REDUCED_ACPI  BIT_ULL(20)
#define FADT_BOOT_VGA_NOT_PRESENT BIT_ULL(2)
#define FADT_BOOT_MSI_NOT_SUPPORTED BIT_ULL(3)  /* never set: MSI-X works */
#define FADT_BOOT_CMOS_RTC_NOT_PRESENT BIT_ULL(5)

/*
 * Builds the tables for `nr_cpus` vCPUs (1 to ACPI_MAX_GUEST_CPUS) in
 * buf[ACPI_TABLES_SIZE], addressed as if at guest-physical `base`
 * (below 4 GiB); `rtc`: the guest has the CMOS RTC at 0x70; `pci`: it
 * has a PCI bus. Returns the RSDP's guest-physical address, 0 when
 * nr_cpus is out of range.
 */
uint64_t acpi_tables_build(uint8_t *buf, uint64_t base, unsigned int nr_cpus,
			   bool rtc, bool pci);

/* The 8-bit sum that makes a table's bytes add up to zero. */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

#endif
