/* ACPI tables for guests (layout in guest/acpi_tables.h; table formats
 * from ACPI 6.5: 5.2.5 RSDP, 5.2.6 header, 5.2.8 XSDT, 5.2.9 FADT,
 * 5.2.12 MADT, 5.2.11.1 DSDT, 5.2.3.2 Generic Address Structure). */
#include "guest/acpi_tables.h"
#include "arch/bytes.h"
#include "arch/string.h"
#include "drivers/rtc_time.h"

#define SDT_HEADER_LEN          36
#define SDT_LENGTH              4
#define SDT_CHECKSUM            9
#define RSDP_LEN                36
#define RSDP_V1_LEN             20
#define MADT_HEAD_LEN           44
#define MADT_LAPIC              0
#define MADT_LAPIC_LEN          8
#define MADT_IOAPIC             1
#define MADT_IOAPIC_LEN         12
#define MADT_LAPIC_ENABLED      1
#define GAS_SYSTEM_IO           1
#define GAS_ACCESS_BYTE         1
#define GAS_ACCESS_DWORD        3
#define PM_PROFILE_SERVER       4

/* AML of Name (_S5, Package (4) { 5, 0, 0, 0 }) (ACPI 6.5 20.2.5.1,
 * 20.2.5.4): NameOp, NameString, PackageOp, PkgLength, NumElements,
 * BytePrefix 5, ZeroOp x3. */
static const uint8_t aml_s5[] = {
	0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, ACPI_SLP_TYP_S5,
	0x00, 0x00, 0x00,
};

/*
 * AML of the UART, so that the guest learns its interrupt from ACPI (with
 * hardware-reduced ACPI Linux has no legacy ISA IRQs to assume):
 *
 *   Scope (\_SB) { Device (COM1) {
 *     Name (_HID, EisaId ("PNP0501"))            16550A-compatible
 *     Name (_UID, One)
 *     Name (_CRS, ResourceTemplate () {
 *       IO (Decode16, 0x3F8, 0x3F8, 0x01, 0x08)
 *       IRQNoFlags () {4} }) } }
 *
 * ScopeOp and DeviceOp (0x5b 0x82) carry one-byte PkgLengths (they are
 * under 64 bytes); the resource template is the IO port descriptor (6.4.2.5),
 * the IRQ descriptor without flags (6.4.2.1, edge and active high) and
 * the end tag (6.4.2.9).
 */
#define AML_CRS_LEN     13
#define AML_DEVICE_LEN  (4 + 10 + 6 + 5 + 4 + AML_CRS_LEN)
#define AML_SCOPE_LEN   (1 + 4 + 2 + 1 + AML_DEVICE_LEN)
static const uint8_t aml_com1[] = {
	0x10, AML_SCOPE_LEN, '_', 'S', 'B', '_',
	0x5b, 0x82, 1 + AML_DEVICE_LEN, 'C', 'O', 'M', '1',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,
	0x08, '_', 'U', 'I', 'D', 0x01,
	0x08, '_', 'C', 'R', 'S', 0x11, 3 + AML_CRS_LEN, 0x0a, AML_CRS_LEN,
	0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
	0x22, 0x10, 0x00,
	0x79, 0x00,
};
_Static_assert(sizeof(aml_com1) == 1 + AML_SCOPE_LEN, "AML lengths");

/*
 * AML of the CMOS RTC (guests with the `rtc` device), in a scope of its
 * own after the UART's; Linux's rtc_cmos driver binds to it. No IRQ: the
 * clock raises none.
 *
 *   Scope (\_SB) { Device (RTC) {
 *     Name (_HID, EisaId ("PNP0B00"))            AT real-time clock
 *     Name (_CRS, ResourceTemplate () {
 *       IO (Decode16, 0x70, 0x70, 0x01, 0x02) }) } }
 */
#define AML_RTC_CRS_LEN         10
#define AML_RTC_DEVICE_LEN      (4 + 10 + 5 + 4 + AML_RTC_CRS_LEN)
#define AML_RTC_SCOPE_LEN       (1 + 4 + 2 + 1 + AML_RTC_DEVICE_LEN)
static const uint8_t aml_rtc[] = {
	0x10, AML_RTC_SCOPE_LEN, '_', 'S', 'B', '_',
	0x5b, 0x82, 1 + AML_RTC_DEVICE_LEN, 'R', 'T', 'C', '_',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00,
	0x08, '_', 'C', 'R', 'S', 0x11, 3 + AML_RTC_CRS_LEN, 0x0a,
	AML_RTC_CRS_LEN,
	0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,
	0x79, 0x00,
};
_Static_assert(sizeof(aml_rtc) == 1 + AML_RTC_SCOPE_LEN, "AML lengths");

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

/* Header of a system description table; the checksum comes last. */
static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t, SDT_LENGTH, len);
	put8(t, 8, rev);
	memcpy(t + 10, "KEEL  ", 6);            /* OEM ID */
	memcpy(t + 16, "KEELVM  ", 8);          /* OEM table ID */
	put32(t, 24, 1);                        /* OEM revision */
	memcpy(t + 28, "KEEL", 4);              /* creator ID */
	put32(t, 32, 1);                        /* creator revision */
}

static void sdt_finish(uint8_t *t)
{
	uint32_t len;

	memcpy(&len, t + SDT_LENGTH, sizeof(len));
	t[SDT_CHECKSUM] = 0;
	t[SDT_CHECKSUM] = acpi_checksum(t, len);
}

/* Generic Address Structure: a register in port I/O space, `bits` wide
 * and accessed `access` (1 byte, 3 dword) at a time. */
static void gas_io(uint8_t *p, size_t off, uint16_t port, uint8_t bits,
		   uint8_t access)
{
	put8(p, off, GAS_SYSTEM_IO);
	put8(p, off + 1, bits);                 /* register bit width */
	put8(p, off + 2, 0);                    /* bit offset */
	put8(p, off + 3, access);
	put64(p, off + 4, port);
}

static void gas_io8(uint8_t *p, size_t off, uint16_t port)
{
	gas_io(p, off, port, 8, GAS_ACCESS_BYTE);
}

/* With an RTC, the FADT names its century register (ACPI 6.5 5.2.9,
 * CENTURY), where Linux reads the century from. The PM timer's block
 * (4.8.3.3) is named in the legacy and X fields: OSPM ignores them
 * under HW_REDUCED_ACPI, test suites that look for the timer read
 * them. */
static void build_fadt(uint8_t *t, uint64_t dsdt, bool rtc)
{
	sdt_header(t, "FACP", FADT_LENGTH, 6);
	put32(t, FADT_DSDT, (uint32_t)dsdt);
	put8(t, 45, PM_PROFILE_SERVER);
	put16(t, FADT_SCI_INT, ACPI_SCI_IRQ);
	put8(t, FADT_CENTURY, rtc ? RTC_CENTURY : 0);
	put16(t, FADT_IAPC_BOOT_ARCH, FADT_BOOT_VGA_NOT_PRESENT |
	      (rtc ? 0 : FADT_BOOT_CMOS_RTC_NOT_PRESENT));
	put32(t, FADT_PM_TMR_BLK, ACPI_PM_TIMER);
	put8(t, FADT_PM_TMR_LEN, 4);
	put32(t, FADT_FLAGS, FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP |
	      FADT_F_TMR_VAL_EXT);
	gas_io8(t, FADT_RESET_REG, ACPI_PM_RESET);
	put8(t, FADT_RESET_VALUE, ACPI_PM_RESET_VALUE);
	put8(t, FADT_MINOR_VERSION, 5);
	put64(t, FADT_X_DSDT, dsdt);
	gas_io(t, FADT_X_PM_TMR_BLK, ACPI_PM_TIMER, 32, GAS_ACCESS_DWORD);
	gas_io8(t, FADT_SLEEP_CONTROL, ACPI_PM_SLEEP_CONTROL);
	gas_io8(t, FADT_SLEEP_STATUS, ACPI_PM_SLEEP_STATUS);
	memcpy(t + FADT_HYPERVISOR_ID, "KeelKeel", 8);
	sdt_finish(t);
}

static void build_madt(uint8_t *t, unsigned int nr_cpus)
{
	size_t off = MADT_HEAD_LEN;

	put32(t, 36, ACPI_LAPIC_ADDR);
	put32(t, 40, 0);                        /* no PCAT_COMPAT: no 8259s */
	for (unsigned int i = 0; i < nr_cpus; i++, off += MADT_LAPIC_LEN) {
		put8(t, off, MADT_LAPIC);
		put8(t, off + 1, MADT_LAPIC_LEN);
		put8(t, off + 2, (uint8_t)i);   /* ACPI processor UID */
		put8(t, off + 3, (uint8_t)i);   /* APIC ID */
		put32(t, off + 4, MADT_LAPIC_ENABLED);
	}
	put8(t, off, MADT_IOAPIC);
	put8(t, off + 1, MADT_IOAPIC_LEN);
	put8(t, off + 2, (uint8_t)nr_cpus);     /* I/O APIC ID after the CPUs */
	put32(t, off + 4, ACPI_IOAPIC_ADDR);
	put32(t, off + 8, 0);                   /* GSI base */
	off += MADT_IOAPIC_LEN;
	sdt_header(t, "APIC", (uint32_t)off, 5);
	sdt_finish(t);
}

static void build_dsdt(uint8_t *t, bool rtc)
{
	size_t len = SDT_HEADER_LEN;

	memcpy(t + len, aml_s5, sizeof(aml_s5));
	len += sizeof(aml_s5);
	memcpy(t + len, aml_com1, sizeof(aml_com1));
	len += sizeof(aml_com1);
	if (rtc) {
		memcpy(t + len, aml_rtc, sizeof(aml_rtc));
		len += sizeof(aml_rtc);
	}
	sdt_header(t, "DSDT", (uint32_t)len, 2);
	sdt_finish(t);
}

static void build_xsdt(uint8_t *t, uint64_t fadt, uint64_t madt)
{
	sdt_header(t, "XSDT", SDT_HEADER_LEN + 16, 1);
	put64(t, SDT_HEADER_LEN, fadt);
	put64(t, SDT_HEADER_LEN + 8, madt);
	sdt_finish(t);
}

static void build_rsdp(uint8_t *p, uint64_t xsdt)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "KEEL  ", 6);
	put8(p, 15, 2);                         /* revision: ACPI 2.0+ */
	put32(p, 16, 0);                        /* no RSDT */
	put32(p, 20, RSDP_LEN);
	put64(p, 24, xsdt);
	p[8] = acpi_checksum(p, RSDP_V1_LEN);
	p[32] = acpi_checksum(p, RSDP_LEN);
}

uint64_t acpi_tables_build(uint8_t *buf, uint64_t base, unsigned int nr_cpus,
			   bool rtc)
{
	_Static_assert(ACPI_MADT_OFF + MADT_HEAD_LEN + ACPI_MAX_GUEST_CPUS *
		       MADT_LAPIC_LEN + MADT_IOAPIC_LEN <= ACPI_DSDT_OFF,
		       "MADT overlaps the DSDT");
	_Static_assert(ACPI_FADT_OFF + FADT_LENGTH <= ACPI_MADT_OFF,
		       "FADT overlaps the MADT");

	if (nr_cpus < 1 || nr_cpus > ACPI_MAX_GUEST_CPUS)
		return 0;
	memset(buf, 0, ACPI_TABLES_SIZE);
	build_dsdt(buf + ACPI_DSDT_OFF, rtc);
	build_fadt(buf + ACPI_FADT_OFF, base + ACPI_DSDT_OFF, rtc);
	build_madt(buf + ACPI_MADT_OFF, nr_cpus);
	build_xsdt(buf + ACPI_XSDT_OFF, base + ACPI_FADT_OFF,
		   base + ACPI_MADT_OFF);
	build_rsdp(buf + ACPI_RSDP_OFF, base + ACPI_XSDT_OFF);
	return base + ACPI_RSDP_OFF;
}
