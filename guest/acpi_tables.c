/* ACPI tables for guests (layout in guest/acpi_tables.h; table formats
 * from ACPI 6.5: 5.2.5 RSDP, 5.2.6 header, 5.2.8 XSDT, 5.2.9 FADT,
 * 5.2.12 MADT, 5.2.11.1 DSDT, 5.2.3.2 Generic Address Structure; MCFG
 * from the PCI Firmware Specification 3.3, 4.1.2). */
#include "guest/acpi_tables.h"
#include "arch/bytes.h"
#include "arch/string.h"
#include "drivers/acpi.h"
#include "drivers/rtc_time.h"
#include "guest/aml.h"
#include "guest/pci.h"

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
#define MCFG_ALLOC              44      /* after 8 reserved bytes */
#define MCFG_LENGTH             (MCFG_ALLOC + 16)
#define DSDT_MAX_LEN            (ACPI_TABLES_SIZE - ACPI_DSDT_OFF)
#define PCI_INTX_PINS           4       /* INTA-INTD */
#define PCI_IO_WINDOW_MIN       0x1000  /* above the legacy ports */
#define PCI_IO_WINDOW_MAX       0xffff
#define PCI_PORTS_LEN           8       /* 0xcf8-0xcff */
#define COM1_PORT               0x3f8   /* guest/vuart.c */
#define COM1_PORTS_LEN          8
#define COM1_IRQ                4       /* VUART_IRQ */
#define RTC_PORT                0x70    /* guest/vrtc.c: index, data */
#define RTC_PORTS_LEN           2

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
	put32(t, 40, ACPI_MADT_PCAT_COMPAT);    /* the 8259s (guest/isa.c) */
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

/* Name (_CRS, ResourceTemplate () {...}) (ACPI 6.5 6.2.2, 19.6.117). */
static void aml_name_crs(struct aml *a, const uint8_t *res, size_t n)
{
	aml_name(a, "_CRS");
	aml_buffer(a, res, n);
}

/* Name (_S5, Package (4) { SLP_TYP, 0, 0, 0 }), so that S5 is offered
 * (ACPI 6.5 7.4.2): SLP_TYPa, SLP_TYPb and two reserved values. */
static void aml_s5(struct aml *a)
{
	size_t pkg;

	aml_name(a, "_S5_");
	pkg = aml_package_open(a, 4);
	aml_integer(a, ACPI_SLP_TYP_S5);
	for (unsigned int i = 0; i < 3; i++)
		aml_integer(a, 0);
	aml_close(a, pkg);
}

/*
 * The UART, so that the guest learns its interrupt from ACPI (with
 * hardware-reduced ACPI Linux has no legacy ISA IRQs to assume):
 *
 *   Scope (\_SB) { Device (COM1) {
 *     Name (_HID, EisaId ("PNP0501"))            16550A-compatible
 *     Name (_UID, One)
 *     Name (_CRS, ResourceTemplate () {
 *       IO (Decode16, 0x3F8, 0x3F8, 0x01, 0x08)
 *       IRQNoFlags () {4} }) } }
 */
static void aml_com1(struct aml *a)
{
	uint8_t r[AML_RES_IO_LEN + AML_RES_IRQ_LEN + AML_RES_END_LEN];
	size_t n, scope = aml_scope_open(a, "_SB_");
	size_t dev = aml_device_open(a, "COM1");

	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", 1);
	n = aml_res_io16(r, COM1_PORT, COM1_PORTS_LEN);
	n += aml_res_irq(r + n, COM1_IRQ);
	n += aml_res_end(r + n);
	aml_name_crs(a, r, n);
	aml_close(a, dev);
	aml_close(a, scope);
}

/*
 * The CMOS RTC (guests with the `rtc` device), in a scope of its own
 * after the UART's; Linux's rtc_cmos driver binds to it. No IRQ: the
 * clock raises none.
 *
 *   Scope (\_SB) { Device (RTC) {
 *     Name (_HID, EisaId ("PNP0B00"))            AT real-time clock
 *     Name (_CRS, ResourceTemplate () {
 *       IO (Decode16, 0x70, 0x70, 0x01, 0x02) }) } }
 */
static void aml_rtc(struct aml *a)
{
	uint8_t r[AML_RES_IO_LEN + AML_RES_END_LEN];
	size_t n, scope = aml_scope_open(a, "_SB_");
	size_t dev = aml_device_open(a, "RTC_");

	aml_name_eisaid(a, "_HID", "PNP0B00");
	n = aml_res_io16(r, RTC_PORT, RTC_PORTS_LEN);
	n += aml_res_end(r + n);
	aml_name_crs(a, r, n);
	aml_close(a, dev);
	aml_close(a, scope);
}

/* The I/O APIC input of slot's INTx pin (0 = INTA): the swizzle of
 * guest/pci.h, so that the four pins of neighbouring slots spread over
 * the four inputs. */
static unsigned int pci_intx_gsi(unsigned int slot, unsigned int pin)
{
	return PCI_INTX_GSI_BASE + (slot + pin) % PCI_INTX_PINS;
}

/* _CRS of the host bridge (ACPI 6.5 6.2.2): bus 0 only, the
 * configuration ports it consumes, and the windows it forwards to its
 * functions: I/O above the legacy ports and the memory-BAR window. */
static void aml_pci_crs(struct aml *a)
{
	uint8_t r[2 * AML_RES_WORD_LEN + AML_RES_IO_LEN + AML_RES_DWORD_LEN +
		  AML_RES_END_LEN];
	size_t n = 0;

	n += aml_res_word(r + n, AML_RES_WORD_BUS, 0, 0, 0);
	n += aml_res_io16(r + n, PCI_PORT_ADDR, PCI_PORTS_LEN);
	n += aml_res_word(r + n, AML_RES_WORD_IO, AML_IO_ENTIRE_RANGE,
			  PCI_IO_WINDOW_MIN, PCI_IO_WINDOW_MAX);
	n += aml_res_dword_mem(r + n, (uint32_t)PCI_MMIO_GPA,
			       (uint32_t)(PCI_MMIO_GPA + PCI_MMIO_SIZE - 1));
	n += aml_res_end(r + n);
	aml_name_crs(a, r, n);
}

/* _PRT (ACPI 6.5 6.2.13), one entry per slot and pin: { 0xSSSSFFFF (any
 * function of slot S), pin, Zero, GSI }; a source of Zero makes the
 * last field the global system interrupt, level-triggered active-low. */
static void aml_pci_prt(struct aml *a)
{
	size_t prt, e;

	aml_name(a, "_PRT");
	prt = aml_package_open(a, PCI_MAX_FUNCS * PCI_INTX_PINS);
	for (unsigned int slot = 0; slot < PCI_MAX_FUNCS; slot++) {
		for (unsigned int pin = 0; pin < PCI_INTX_PINS; pin++) {
			e = aml_package_open(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, pci_intx_gsi(slot, pin));
			aml_close(a, e);
		}
	}
	aml_close(a, prt);
}

/* The PCI Express host bridge, which Linux scans bus 0 through (ACPI
 * 6.5 6.1.5 _HID, 6.1.2 _CID, 6.5.6 _SEG, 6.5.5 _BBN). No _ADR: a
 * device has an _HID or an _ADR, not both (6.1). */
static void aml_pci_host_bridge(struct aml *a)
{
	size_t dev = aml_device_open(a, "PCI0");

	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_integer(a, "_UID", 0);
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_pci_crs(a);
	aml_pci_prt(a);
	aml_close(a, dev);
}

/* Motherboard resources (PNP0C02) holding the ECAM window: an OS uses
 * the MCFG's region only when something reserves it (PCI Firmware 3.3
 * 4.1.2). */
static void aml_pci_ecam_reserved(struct aml *a)
{
	uint8_t r[AML_RES_MEM32_FIXED_LEN + AML_RES_END_LEN];
	size_t n, dev = aml_device_open(a, "MRES");

	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_integer(a, "_UID", 0);
	n = aml_res_mem32_fixed(r, (uint32_t)PCI_ECAM_GPA,
				(uint32_t)PCI_ECAM_SIZE);
	n += aml_res_end(r + n);
	aml_name_crs(a, r, n);
	aml_close(a, dev);
}

/* Scope (\_SB) { Device (PCI0) {...} Device (MRES) {...} } */
static void aml_pci(struct aml *a)
{
	size_t scope = aml_scope_open(a, "_SB_");

	aml_pci_host_bridge(a);
	aml_pci_ecam_reserved(a);
	aml_close(a, scope);
}

/* False when the AML does not fit in the table area. */
static bool build_dsdt(uint8_t *t, bool rtc, bool pci)
{
	struct aml a;

	aml_init(&a, t + SDT_HEADER_LEN, DSDT_MAX_LEN - SDT_HEADER_LEN);
	aml_s5(&a);
	aml_com1(&a);
	if (rtc)
		aml_rtc(&a);
	if (pci)
		aml_pci(&a);
	if (a.overflow)
		return false;
	sdt_header(t, "DSDT", (uint32_t)(SDT_HEADER_LEN + a.len), 2);
	sdt_finish(t);
	return true;
}

/* MCFG (PCI Firmware 3.3 4.1.2): one ECAM allocation, segment 0, bus 0. */
static void build_mcfg(uint8_t *t)
{
	sdt_header(t, "MCFG", MCFG_LENGTH, 1);
	put64(t, MCFG_ALLOC, PCI_ECAM_GPA);
	put16(t, MCFG_ALLOC + 8, 0);            /* PCI segment group */
	put8(t, MCFG_ALLOC + 10, 0);            /* start bus */
	put8(t, MCFG_ALLOC + 11, 0);            /* end bus */
	sdt_finish(t);
}

/* XSDT -> FADT, MADT and, with a PCI bus, MCFG. */
static void build_xsdt(uint8_t *t, uint64_t base, bool pci)
{
	static const uint16_t offs[] = {
		ACPI_FADT_OFF, ACPI_MADT_OFF, ACPI_MCFG_OFF,
	};
	unsigned int n = pci ? 3 : 2;

	for (unsigned int i = 0; i < n; i++)
		put64(t, SDT_HEADER_LEN + 8 * i, base + offs[i]);
	sdt_header(t, "XSDT", SDT_HEADER_LEN + 8 * n, 1);
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
			   bool rtc, bool pci)
{
	_Static_assert(ACPI_XSDT_OFF + SDT_HEADER_LEN + 3 * 8 <= ACPI_FADT_OFF,
		       "XSDT overlaps the FADT");
	_Static_assert(ACPI_FADT_OFF + FADT_LENGTH <= ACPI_MADT_OFF,
		       "FADT overlaps the MADT");
	_Static_assert(ACPI_MADT_OFF + MADT_HEAD_LEN + ACPI_MAX_GUEST_CPUS *
		       MADT_LAPIC_LEN + MADT_IOAPIC_LEN <= ACPI_MCFG_OFF,
		       "MADT overlaps the MCFG");
	_Static_assert(ACPI_MCFG_OFF + MCFG_LENGTH <= ACPI_DSDT_OFF,
		       "MCFG overlaps the DSDT");

	if (nr_cpus < 1 || nr_cpus > ACPI_MAX_GUEST_CPUS)
		return 0;
	memset(buf, 0, ACPI_TABLES_SIZE);
	if (!build_dsdt(buf + ACPI_DSDT_OFF, rtc, pci))
		return 0;
	build_fadt(buf + ACPI_FADT_OFF, base + ACPI_DSDT_OFF, rtc);
	build_madt(buf + ACPI_MADT_OFF, nr_cpus);
	if (pci)
		build_mcfg(buf + ACPI_MCFG_OFF);
	build_xsdt(buf + ACPI_XSDT_OFF, base, pci);
	build_rsdp(buf + ACPI_RSDP_OFF, base + ACPI_XSDT_OFF);
	return base + ACPI_RSDP_OFF;
}
