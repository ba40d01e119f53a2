/* Host tests for guest/acpi_tables.c: the tables Keel writes for a Linux
 * guest, read back through Keel's own ACPI parser (drivers/acpi.c, which
 * checks signatures, lengths and checksums) and field by field. */
#include "tests/unit/test.h"
#include "guest/acpi_tables.h"
#include "drivers/acpi.h"
#include "guest/aml.h"
#include "guest/pci.h"

#define BASE 0xe0000ULL

static uint8_t g_mem[ACPI_TABLES_SIZE];

static const void *map(void *ctx, uint64_t phys, uint64_t len)
{
	(void)ctx;
	if (phys < BASE || len > ACPI_TABLES_SIZE ||
	    phys - BASE > ACPI_TABLES_SIZE - len)
		return NULL;
	return g_mem + (phys - BASE);
}

static const struct acpi_ops ops = { .map = map };

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

TEST(rsdp_and_root_parse_cleanly)
{
	static struct acpi a;
	uint64_t rsdp = acpi_tables_build(g_mem, BASE, 2, false, false);

	ASSERT(rsdp == BASE);
	EXPECT(!memcmp(g_mem, "RSD PTR ", 8));
	EXPECT_EQ(sum(g_mem, 20), 0);
	EXPECT_EQ(sum(g_mem, 36), 0);
	ASSERT(acpi_init(&a, &ops, g_mem, 36) == 0);
	EXPECT_EQ(a.nr_diags, 0);
	EXPECT_EQ(a.rsdp_revision, 2);
	EXPECT_EQ(a.root_entry_size, 8);        /* the XSDT */
	EXPECT_EQ(a.nr_root_entries, 2);
	EXPECT(acpi_find_table(&a, "FACP", 0, NULL) == BASE + ACPI_FADT_OFF);
	EXPECT(acpi_find_table(&a, "APIC", 0, NULL) == BASE + ACPI_MADT_OFF);
	EXPECT_EQ(a.nr_diags, 0);
}

TEST(madt_lists_vcpus_and_ioapic)
{
	static struct acpi a;
	static struct acpi_madt m;

	for (unsigned int n = 1; n <= ACPI_MAX_GUEST_CPUS; n++) {
		ASSERT(acpi_tables_build(g_mem, BASE, n, false, false) == BASE);
		ASSERT(acpi_init(&a, &ops, g_mem, 36) == 0);
		ASSERT(acpi_parse_madt(&a, &m) == 0);
		EXPECT_EQ(a.nr_diags, 0);
		EXPECT_EQ(m.nr_cpus, n);
		for (unsigned int i = 0; i < m.nr_cpus; i++) {
			EXPECT_EQ(m.cpus[i].apic_id, i);
			EXPECT(m.cpus[i].enabled);
		}
		EXPECT_EQ(m.lapic_addr, 0xfee00000);
		EXPECT(m.flags & ACPI_MADT_PCAT_COMPAT);        /* 8259s */
		ASSERT(m.nr_ioapics == 1);
		EXPECT_EQ(m.ioapics[0].addr, 0xfec00000);
		EXPECT_EQ(m.ioapics[0].gsi_base, 0);
		EXPECT_EQ(m.ioapics[0].id, n);  /* no clash with APIC IDs */
		EXPECT_EQ(m.nr_overrides, 0);
	}
}

static void expect_gas_io8(const uint8_t *f, size_t off, uint16_t port)
{
	EXPECT_EQ(f[off], 1);                   /* system I/O */
	EXPECT_EQ(f[off + 1], 8);
	EXPECT_EQ(f[off + 3], 1);               /* byte access */
	EXPECT_EQ(get64(f, off + 4), port);
}

/* Table sig at offset off of 2-vCPU tables, checked as a guest finds it. */
static const uint8_t *build_tables_for(bool rtc, bool pci, uint64_t off,
				       const char *sig, uint32_t *len)
{
	static struct acpi a;

	if (acpi_tables_build(g_mem, BASE, 2, rtc, pci) != BASE ||
	    acpi_init(&a, &ops, g_mem, 36))
		return NULL;
	return acpi_map_table(&a, BASE + off, sig, len);
}

static const uint8_t *build_table_for(bool rtc, uint64_t off, const char *sig,
				      uint32_t *len)
{
	return build_tables_for(rtc, false, off, sig, len);
}

TEST(fadt_hardware_reduced_with_sleep_registers)
{
	uint32_t len = 0;
	const uint8_t *f = build_table_for(false, ACPI_FADT_OFF, "FACP", &len);

	ASSERT(f != NULL);
	EXPECT_EQ(len, 276);
	EXPECT_EQ(f[8], 6);                     /* revision */
	EXPECT_EQ(sum(f, len), 0);
	EXPECT(get32(f, FADT_FLAGS) & FADT_F_HW_REDUCED_ACPI);
	EXPECT(get32(f, FADT_FLAGS) & FADT_F_RESET_REG_SUP);
	EXPECT_EQ(f[FADT_IAPC_BOOT_ARCH] & 0x3, 0);     /* no legacy, 8042 */
	EXPECT(f[FADT_IAPC_BOOT_ARCH] & FADT_BOOT_CMOS_RTC_NOT_PRESENT);
	EXPECT_EQ(f[FADT_CENTURY], 0);
	expect_gas_io8(f, FADT_SLEEP_CONTROL, ACPI_PM_SLEEP_CONTROL);
	expect_gas_io8(f, FADT_SLEEP_STATUS, ACPI_PM_SLEEP_STATUS);
	expect_gas_io8(f, FADT_RESET_REG, ACPI_PM_RESET);
	EXPECT_EQ(f[FADT_RESET_VALUE], ACPI_PM_RESET_VALUE);
	EXPECT_EQ(get32(f, FADT_DSDT), BASE + ACPI_DSDT_OFF);
	EXPECT_EQ(get64(f, FADT_X_DSDT), BASE + ACPI_DSDT_OFF);
}

/* The PM timer (ACPI 6.5 4.8.3.3): a 32-bit counter (TMR_VAL_EXT) in
 * port I/O, named by PM_TMR_BLK/PM_TMR_LEN and X_PM_TMR_BLK. */
TEST(fadt_names_a_32_bit_pm_timer)
{
	uint32_t len = 0;
	const uint8_t *f = build_table_for(false, ACPI_FADT_OFF, "FACP", &len);

	ASSERT(f != NULL);
	EXPECT_EQ(get32(f, FADT_PM_TMR_BLK), ACPI_PM_TIMER);
	EXPECT_EQ(f[FADT_PM_TMR_LEN], 4);
	EXPECT(get32(f, FADT_FLAGS) & FADT_F_TMR_VAL_EXT);
	EXPECT_EQ(f[FADT_X_PM_TMR_BLK], 1);             /* system I/O */
	EXPECT_EQ(f[FADT_X_PM_TMR_BLK + 1], 32);        /* bit width */
	EXPECT_EQ(f[FADT_X_PM_TMR_BLK + 3], 3);         /* dword access */
	EXPECT_EQ(get64(f, FADT_X_PM_TMR_BLK + 4), ACPI_PM_TIMER);
	EXPECT_EQ(sum(f, len), 0);
}

/* Finds `what` in the table's AML; its offset or -1. */
static long aml_find(const uint8_t *d, uint32_t len, const void *what,
		     size_t n)
{
	for (uint32_t i = 36; i + n <= len; i++)
		if (!memcmp(d + i, what, n))
			return i;
	return -1;
}

/* A guest with the rtc device: the FADT no longer says "no CMOS RTC" and
 * names the century register. */
TEST(fadt_names_the_rtc_century)
{
	uint32_t len = 0;
	const uint8_t *f = build_table_for(true, ACPI_FADT_OFF, "FACP", &len);

	ASSERT(f != NULL);
	EXPECT_EQ(sum(f, len), 0);
	EXPECT(!(f[FADT_IAPC_BOOT_ARCH] & FADT_BOOT_CMOS_RTC_NOT_PRESENT));
	EXPECT(f[FADT_IAPC_BOOT_ARCH] & FADT_BOOT_VGA_NOT_PRESENT);
	EXPECT_EQ(f[FADT_CENTURY], 0x32);
}

TEST(dsdt_holds_s5_and_the_uart)
{
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07,
				      0x04, 0x0a, 0x05, 0x00, 0x00, 0x00 };
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c,
				       0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t crs[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03,
				       0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0 };
	uint32_t len = 0;
	const uint8_t *d = build_table_for(false, ACPI_DSDT_OFF, "DSDT", &len);
	long dev, at;

	ASSERT(d != NULL);
	EXPECT(!memcmp(d + 36, s5, sizeof(s5)));
	/* PkgLength counts itself, NumElements and the 4 elements. */
	EXPECT_EQ(d[36 + 6], 1 + 1 + 2 + 3);
	/* Scope (\_SB) right after, running to the end of the table. */
	at = 36 + sizeof(s5);
	EXPECT_EQ(d[at], 0x10);
	EXPECT_EQ(at + 1 + d[at + 1], len);
	EXPECT(!memcmp(d + at + 2, "_SB_", 4));
	/* Device (COM1) fills the rest of the scope. */
	dev = aml_find(d, len, "\x5b\x82", 2);
	ASSERT(dev == at + 6);
	EXPECT_EQ(dev + 2 + d[dev + 2], len);
	EXPECT(!memcmp(d + dev + 3, "COM1", 4));
	EXPECT(aml_find(d, len, hid, sizeof(hid)) > dev);
	/* _CRS: a buffer whose PkgLength and size match the template. */
	at = aml_find(d, len, crs, sizeof(crs));
	ASSERT(at > dev);
	EXPECT_EQ(d[at - 4], 0x11);
	EXPECT_EQ(d[at - 3], 3 + sizeof(crs));
	EXPECT_EQ(d[at - 1], sizeof(crs));
	EXPECT_EQ(at + sizeof(crs), len);
}

/* With the rtc device the DSDT ends in Scope (\_SB) { Device (RTC_) },
 * PNP0B00 with ports 0x70-0x71 and no IRQ. */
TEST(dsdt_describes_the_rtc)
{
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c,
				       0x41, 0xd0, 0x0b, 0x00 };
	static const uint8_t crs[] = { 0x47, 0x01, 0x70, 0x00, 0x70, 0x00,
				       0x01, 0x02, 0x79, 0 };
	uint32_t len = 0;
	const uint8_t *d = build_table_for(true, ACPI_DSDT_OFF, "DSDT", &len);
	long dev, at;

	ASSERT(d != NULL);
	dev = aml_find(d, len, "RTC_", 4);
	ASSERT(dev > 0);
	at = dev - 3 - 6;                       /* its Scope */
	EXPECT_EQ(d[at], 0x10);
	EXPECT_EQ(at + 1 + d[at + 1], len);
	EXPECT(!memcmp(d + at + 2, "_SB_\x5b\x82", 6));
	EXPECT_EQ(dev - 1 + d[dev - 1], len);
	EXPECT(aml_find(d, len, hid, sizeof(hid)) > dev);
	at = aml_find(d, len, crs, sizeof(crs));
	ASSERT(at > dev);
	EXPECT_EQ(d[at - 3], 3 + sizeof(crs));
	EXPECT_EQ(d[at - 1], sizeof(crs));
	EXPECT_EQ(at + sizeof(crs), len);
}

/* A guest with a PCI bus: the XSDT lists the MCFG after the FADT and
 * MADT; without one, no MCFG anywhere. */
TEST(xsdt_lists_mcfg_only_with_pci)
{
	static struct acpi a;
	uint32_t len = 0;

	ASSERT(acpi_tables_build(g_mem, BASE, 2, true, false) == BASE);
	ASSERT(acpi_init(&a, &ops, g_mem, 36) == 0);
	EXPECT_EQ(a.nr_root_entries, 2);
	EXPECT_EQ(acpi_find_table(&a, "MCFG", 0, NULL), 0);
	for (size_t i = ACPI_MADT_OFF + 1; i + 4 <= ACPI_DSDT_OFF; i++)
		EXPECT(memcmp(g_mem + i, "MCFG", 4));
	ASSERT(acpi_tables_build(g_mem, BASE, 2, true, true) == BASE);
	ASSERT(acpi_init(&a, &ops, g_mem, 36) == 0);
	EXPECT_EQ(a.nr_root_entries, 3);
	EXPECT_EQ(acpi_find_table(&a, "FACP", 0, NULL), BASE + ACPI_FADT_OFF);
	EXPECT_EQ(acpi_find_table(&a, "APIC", 0, NULL), BASE + ACPI_MADT_OFF);
	EXPECT_EQ(acpi_find_table(&a, "MCFG", 0, &len), BASE + ACPI_MCFG_OFF);
	EXPECT_EQ(len, 60);
	EXPECT_EQ(a.nr_diags, 0);
}

/* MCFG (PCI Firmware 3.3 4.1.2): header, 8 reserved bytes, one
 * allocation { u64 base, u16 segment, u8 start bus, u8 end bus, u32 0 }. */
TEST(mcfg_byte_layout)
{
	static const uint8_t alloc[16] = {
		0, 0, 0, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t zero[8];
	uint32_t len = 0;
	const uint8_t *m = build_tables_for(false, true, ACPI_MCFG_OFF,
					    "MCFG", &len);

	ASSERT(m != NULL);
	EXPECT_EQ(len, 60);
	EXPECT_EQ(m[8], 1);                     /* revision */
	EXPECT_EQ(sum(m, len), 0);
	EXPECT(!memcmp(m + 36, zero, sizeof(zero)));
	EXPECT(!memcmp(m + 44, alloc, sizeof(alloc)));
	EXPECT_EQ(get64(m, 44), PCI_ECAM_GPA);
}

/* Every table's checksum with all devices, and nothing in the FADT that
 * turns MSI off (IAPC_BOOT_ARCH bit 3, ACPI 6.5 table 5.11). */
TEST(pci_tables_check_out)
{
	static const uint16_t offs[] = {
		ACPI_FADT_OFF, ACPI_MADT_OFF, ACPI_MCFG_OFF, ACPI_DSDT_OFF,
		ACPI_XSDT_OFF,
	};

	ASSERT(acpi_tables_build(g_mem, BASE, ACPI_MAX_GUEST_CPUS, true,
				 true) == BASE);
	EXPECT_EQ(sum(g_mem, 20), 0);
	EXPECT_EQ(sum(g_mem, 36), 0);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint32_t len = get32(g_mem + offs[i], 4);

		ASSERT(len >= 36 &&
		       len <= ACPI_TABLES_SIZE - (uint32_t)offs[i]);
		EXPECT_EQ(sum(g_mem + offs[i], len), 0);
	}
	EXPECT_EQ(g_mem[ACPI_FADT_OFF + FADT_IAPC_BOOT_ARCH] &
		  FADT_BOOT_MSI_NOT_SUPPORTED, 0);
}

/* PkgLength at p (ACPI 6.5 20.2.4): its value; *n gets its size. */
static uint32_t pkglen(const uint8_t *p, unsigned int *n)
{
	unsigned int follow = p[0] >> 6;
	uint32_t v = follow ? p[0] & 0xfu : p[0] & 0x3fu;

	for (unsigned int i = 1; i <= follow; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	*n = follow + 1;
	return v;
}

/* Offset just past the object at p whose opcode takes `op_len` bytes and
 * is followed by a PkgLength. */
static size_t skip_pkg(const uint8_t *d, size_t p, size_t op_len)
{
	unsigned int n;

	return p + op_len + pkglen(d + p + op_len, &n);
}

/* Integer at p (20.2.3) in *v: the bytes it takes, 0 if none is there. */
static unsigned int aml_int(const uint8_t *p, uint64_t *v)
{
	switch (p[0]) {
	case 0x00: *v = 0; return 1;
	case 0x01: *v = 1; return 1;
	case 0x0a: *v = p[1]; return 2;
	case 0x0b: *v = (uint64_t)p[1] | (uint64_t)p[2] << 8; return 3;
	case 0x0c: *v = get32(p, 1); return 5;
	}
	return 0;
}

/* DSDT of a guest with a PCI bus: after \_S5, COM1 and RTC_ comes one
 * Scope (\_SB) to the end of the table, holding Device (PCI0) and then
 * Device (MRES) to the end of the scope. */
TEST(dsdt_pci_objects_nest)
{
	uint32_t len = 0;
	const uint8_t *d = build_tables_for(true, true, ACPI_DSDT_OFF, "DSDT",
					    &len);
	size_t p, scope_end, dev_end;
	unsigned int n;

	ASSERT(d != NULL);
	EXPECT_EQ(sum(d, len), 0);
	p = 36 + 13;                            /* past \_S5 */
	p = skip_pkg(d, p, 1);                  /* Scope { COM1 } */
	p = skip_pkg(d, p, 1);                  /* Scope { RTC_ } */
	ASSERT(p < len && d[p] == 0x10);
	scope_end = skip_pkg(d, p, 1);
	EXPECT_EQ(scope_end, len);
	pkglen(d + p + 1, &n);
	p += 1 + n;
	EXPECT(!memcmp(d + p, "_SB_\x5b\x82", 6));
	dev_end = skip_pkg(d, p + 4, 2);
	pkglen(d + p + 6, &n);
	EXPECT(!memcmp(d + p + 6 + n, "PCI0", 4));
	p = dev_end;
	ASSERT(p < len && !memcmp(d + p, "\x5b\x82", 2));
	EXPECT_EQ(skip_pkg(d, p, 2), scope_end);
	pkglen(d + p + 2, &n);
	EXPECT(!memcmp(d + p + 2 + n, "MRES", 4));
}

/* _HID, _CID, _UID, _SEG, _BBN of PCI0 and the motherboard device's
 * _HID: EISA ids as iasl's EisaId() encodes them. */
TEST(dsdt_pci_ids)
{
	static const char *const names[] = {
		"\x08_HID\x0c\x41\xd0\x0a\x08",         /* PNP0A08 */
		"\x08_CID\x0c\x41\xd0\x0a\x03",         /* PNP0A03 */
		"\x08_UID\x00\x08_SEG\x00\x08_BBN\x00",
		"\x08_HID\x0c\x41\xd0\x0c\x02",         /* PNP0C02 */
	};
	static const size_t lens[] = { 10, 10, 18, 10 };
	uint32_t len = 0;
	const uint8_t *d = build_tables_for(false, true, ACPI_DSDT_OFF, "DSDT",
					    &len);
	long pci0, last = 0;

	ASSERT(d != NULL);
	pci0 = aml_find(d, len, "PCI0", 4);
	ASSERT(pci0 > 0);
	for (size_t i = 0; i < 4; i++) {
		long at = aml_find(d, len, names[i], lens[i]);

		EXPECT(at > pci0 && at > last);
		last = at;
	}
	EXPECT(aml_find(d, len, "MRES", 4) < last);
}

/* The host bridge's _CRS (ACPI 6.5 6.4.3.5.3, 6.4.2.5, 6.4.3.5.2,
 * 6.4.2.9), encoded here by hand: WordBusNumber 0-0, IO 0xcf8 x 8,
 * WordIO 0x1000-0xffff, DWordMemory 0xc0000000-0xdfffffff, end tag. A
 * 68-byte buffer takes a 2-byte PkgLength (72 = 0x48). */
TEST(dsdt_pci_crs_windows)
{
	static const uint8_t crs[] = {
		0x08, '_', 'C', 'R', 'S', 0x11, 0x48, 0x04, 0x0a, 68,
		0x88, 0x0d, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
		0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
		0x88, 0x0d, 0, 1, 0x0c, 3, 0, 0, 0x00, 0x10, 0xff, 0xff,
		0, 0, 0x00, 0xf0,
		0x87, 0x17, 0, 0, 0x0c, 1, 0, 0, 0, 0, 0, 0, 0, 0xc0,
		0xff, 0xff, 0xff, 0xdf, 0, 0, 0, 0, 0, 0, 0, 0x20,
		0x79, 0,
	};
	static const uint8_t mres_crs[] = {
		0x08, '_', 'C', 'R', 'S', 0x11, 0x11, 0x0a, 14,
		0x86, 0x09, 0, 1, 0, 0, 0, 0xe0, 0, 0, 0x10, 0,
		0x79, 0,
	};
	uint32_t len = 0;
	const uint8_t *d = build_tables_for(false, true, ACPI_DSDT_OFF, "DSDT",
					    &len);
	long pci0, mres, at;

	ASSERT(d != NULL);
	pci0 = aml_find(d, len, "PCI0", 4);
	mres = aml_find(d, len, "MRES", 4);
	at = aml_find(d, len, crs, sizeof(crs));
	EXPECT(pci0 > 0 && at > pci0 && at < mres);
	at = aml_find(d, len, mres_crs, sizeof(mres_crs));
	EXPECT(mres > 0 && at > mres);
	EXPECT_EQ(at + sizeof(mres_crs), len);
}

/* Reads one _PRT entry at *p: Package (4) { address, pin, source,
 * index }, all integers. False when it is not that shape. */
static bool read_prt_entry(const uint8_t *d, size_t *p, uint64_t f[4])
{
	unsigned int n, k;
	size_t end;

	if (d[*p] != 0x12)
		return false;
	end = skip_pkg(d, *p, 1);
	pkglen(d + *p + 1, &n);
	*p += 1 + n;
	if (d[(*p)++] != 4)
		return false;
	for (unsigned int i = 0; i < 4; i++) {
		k = aml_int(d + *p, &f[i]);
		if (!k)
			return false;
		*p += k;
	}
	return *p == end;
}

/* _PRT (ACPI 6.5 6.2.13), decoded: 32 entries, slot s pin p (0 = INTA)
 * on GSI PCI_INTX_GSI_BASE + (s + pin - 1) % 4 with pin = p + 1, as
 * guest/pci.h wires them. */
TEST(prt_routes_every_slot_and_pin)
{
	uint32_t len = 0;
	const uint8_t *d = build_tables_for(false, true, ACPI_DSDT_OFF, "DSDT",
					    &len);
	long at;
	size_t p, end;
	unsigned int n;
	uint64_t f[4];

	ASSERT(d != NULL);
	at = aml_find(d, len, "\x08_PRT\x12", 6);
	ASSERT(at > 0);
	p = (size_t)at + 5;
	end = skip_pkg(d, p, 1);
	ASSERT(end <= len);
	pkglen(d + p + 1, &n);
	p += 1 + n;
	ASSERT(d[p++] == PCI_MAX_FUNCS * 4);
	for (unsigned int slot = 0; slot < PCI_MAX_FUNCS; slot++) {
		for (unsigned int pin = 1; pin <= 4; pin++) {
			ASSERT(read_prt_entry(d, &p, f));
			EXPECT_EQ(f[0], (uint64_t)slot << 16 | 0xffff);
			EXPECT_EQ(f[1], pin - 1);
			EXPECT_EQ(f[2], 0);
			EXPECT_EQ(f[3], PCI_INTX_GSI_BASE +
				  (slot + pin - 1) % 4);
		}
	}
	EXPECT_EQ(p, end);
}

/* PkgLength sizes at their limits (ACPI 6.5 20.2.4): the value counts
 * the PkgLength itself, one byte up to 63, two up to 2^12 - 1, three up
 * to 2^20 - 1. */
TEST(aml_pkglen_sizes)
{
	EXPECT_EQ(aml_pkglen_bytes(0), 1);
	EXPECT_EQ(aml_pkglen_bytes(62), 1);
	EXPECT_EQ(aml_pkglen_bytes(63), 2);
	EXPECT_EQ(aml_pkglen_bytes(4093), 2);
	EXPECT_EQ(aml_pkglen_bytes(4094), 3);
	EXPECT_EQ(aml_pkglen_bytes((1u << 20) - 4), 3);
	EXPECT_EQ(aml_pkglen_bytes((1u << 20) - 3), 4);
}

/* A package whose body outgrows the reserved byte is moved up; nested
 * packages keep their own lengths. */
TEST(aml_close_moves_long_bodies)
{
	static uint8_t buf[8192], body[5000];
	struct aml a;
	size_t outer, inner;
	unsigned int n;

	aml_init(&a, buf, sizeof(buf));
	outer = aml_package_open(&a, 2);
	inner = aml_package_open(&a, 1);
	aml_integer(&a, 0x1234);
	aml_close(&a, inner);
	aml_bytes(&a, body, 100);
	aml_close(&a, outer);
	ASSERT(!a.overflow);
	/* outer body: NumElements, inner (1 + 1 + 1 + 3), 100 bytes */
	EXPECT_EQ(a.len, 1 + 2 + 1 + 6 + 100);
	EXPECT_EQ(pkglen(buf + 1, &n), 2 + 1 + 6 + 100);
	EXPECT_EQ(n, 2);
	EXPECT(!memcmp(buf + 3, "\x02\x12\x05\x01\x0b\x34\x12", 7));
	aml_init(&a, buf, sizeof(buf));
	outer = aml_package_open(&a, 0);
	aml_bytes(&a, body, sizeof(body));
	aml_close(&a, outer);
	EXPECT_EQ(pkglen(buf + 1, &n), 3 + 1 + sizeof(body));
	EXPECT_EQ(n, 3);
	EXPECT_EQ(a.len, 1 + 3 + 1 + sizeof(body));
}

/* Nothing is written past the buffer: not a byte more, nor a PkgLength
 * that needs a second byte the buffer has no room for. */
TEST(aml_refuses_to_overflow)
{
	static uint8_t buf[80], body[64];
	struct aml a;
	size_t pkg;

	aml_init(&a, buf, 8);
	pkg = aml_package_open(&a, 0);
	aml_integer(&a, 0x12345678);
	EXPECT(!a.overflow);
	aml_integer(&a, 1);
	EXPECT(a.overflow);
	aml_close(&a, pkg);
	EXPECT(a.len <= 8);
	for (size_t cap = 65; cap <= 66; cap++) {
		aml_init(&a, buf, cap);
		pkg = aml_package_open(&a, 0);
		aml_bytes(&a, body, 62);        /* body 63: 2-byte PkgLength */
		EXPECT(!a.overflow);
		aml_close(&a, pkg);
		EXPECT_EQ(a.overflow, cap == 65);
		EXPECT(a.len <= cap);
	}
}

/* Integers in their shortest form (20.2.3) and EISA ids (6.1.5). */
TEST(aml_integers_and_eisa_ids)
{
	static const uint8_t want[] = {
		0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01,
		0x0c, 0x00, 0x00, 0x01, 0x00,
		0x0e, 0, 0, 0, 0, 1, 0, 0, 0,
		0x0c, 0x41, 0xd0, 0x05, 0x01,           /* PNP0501 */
		0x0c, 0x41, 0xd0, 0x0b, 0x00,           /* PNP0B00 */
	};
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 1ULL << 32);
	aml_eisaid(&a, "PNP0501");
	aml_eisaid(&a, "PNP0B00");
	ASSERT(a.len == sizeof(want));
	EXPECT(!memcmp(buf, want, sizeof(want)));
}

/* Where the iasl test leaves its files (run from the source tree). */
#define IASL_DIR "build/host/acpi_tables"

static bool write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(p, 1, n, f) == n;

	if (f && fclose(f))
		ok = false;
	return ok;
}

/* The file's first n - 1 bytes, NUL-terminated, in buf; its length. */
static size_t read_file(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0;

	if (f) {
		len = fread(buf, 1, n - 1, f);
		fclose(f);
	}
	buf[len] = 0;
	return len;
}

static int run(const char *cmd)
{
	char line[512];

	snprintf(line, sizeof(line), "cd " IASL_DIR " && %s >>iasl.log 2>&1",
		 cmd);
	return system(line);
}

/* iasl -d disassembles table `name` (NAME.dat) to NAME.dsl, which iasl
 * compiles back with no error, warning or remark into AML equal to ours
 * past the header (where the compiler id and checksum differ). The
 * disassembly is left in *dsl. */
static void iasl_round_trip(const char *name, const uint8_t *t, char *dsl,
			    size_t dsl_size)
{
	static char log[65536];
	static uint8_t back[ACPI_TABLES_SIZE];
	char path[128], cmd[128];
	uint32_t len = get32(t, 4);

	snprintf(path, sizeof(path), IASL_DIR "/%s.dat", name);
	ASSERT(write_file(path, t, len));
	snprintf(cmd, sizeof(cmd),
		 "rm -f iasl.log %s.dsl %s_back.aml && iasl -d %s.dat",
		 name, name, name);
	EXPECT_EQ(run(cmd), 0);
	snprintf(path, sizeof(path), IASL_DIR "/%s.dsl", name);
	ASSERT(read_file(path, dsl, dsl_size) > 0);
	snprintf(cmd, sizeof(cmd), "iasl -p %s_back %s.dsl", name, name);
	EXPECT_EQ(run(cmd), 0);
	read_file(IASL_DIR "/iasl.log", log, sizeof(log));
	EXPECT(strstr(log, "0 Errors, 0 Warnings, 0 Remarks") != NULL);
	snprintf(path, sizeof(path), IASL_DIR "/%s_back.aml", name);
	ASSERT(read_file(path, (char *)back, sizeof(back)) == len);
	EXPECT(!memcmp(back + 36, t + 36, len - 36));
}

static void expect_all_in(const char *text, const char *const *want,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strstr(text, want[i])) {
			printf("    not in the disassembly: %s\n", want[i]);
			test_failed_now = 1;
		}
	}
}

/* The DSDT and MCFG of a guest with a PCI bus as ACPICA's iasl reads
 * them; skipped (with a note) on hosts without iasl (acpica-tools). */
TEST(iasl_reads_the_pci_tables)
{
	static const char *const dsdt_objects[] = {
		"Device (PCI0)", "EisaId (\"PNP0A08\")", "EisaId (\"PNP0A03\")",
		"Name (_UID, Zero)", "Name (_SEG, Zero)", "Name (_BBN, Zero)",
		"WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDe",
		"0x0CF8,", "WordIO (ResourceProducer",
		"DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed",
		"0xC0000000,", "0xDFFFFFFF,", "0x20000000,",
		"Name (_PRT, Package (0x20)", "0x0007FFFF,",
		"Device (MRES)", "EisaId (\"PNP0C02\")",
		"Memory32Fixed (ReadWrite,", "0xE0000000,", "0x00100000,",
		"Device (COM1)", "Device (RTC)",
	};
	static const char *const mcfg_fields[] = {
		"Base Address : 00000000E0000000",
		"Segment Group Number : 0000",
		"Start Bus Number : 00", "End Bus Number : 00",
	};
	static char dsl[65536];

	if (system("command -v iasl >/dev/null 2>&1")) {
		printf("    note: no iasl (acpica-tools): skipped\n");
		return;
	}
	ASSERT(system("mkdir -p " IASL_DIR) == 0);
	ASSERT(acpi_tables_build(g_mem, BASE, 2, true, true) == BASE);
	iasl_round_trip("dsdt", g_mem + ACPI_DSDT_OFF, dsl, sizeof(dsl));
	expect_all_in(dsl, dsdt_objects,
		      sizeof(dsdt_objects) / sizeof(dsdt_objects[0]));
	iasl_round_trip("mcfg", g_mem + ACPI_MCFG_OFF, dsl, sizeof(dsl));
	expect_all_in(dsl, mcfg_fields,
		      sizeof(mcfg_fields) / sizeof(mcfg_fields[0]));
}

TEST(vcpu_count_out_of_range_refused)
{
	EXPECT_EQ(acpi_tables_build(g_mem, BASE, 0, false, false), 0);
	EXPECT_EQ(acpi_tables_build(g_mem, BASE, ACPI_MAX_GUEST_CPUS + 1,
				    false, false), 0);
}

TEST(checksum_helper)
{
	uint8_t b[5] = { 1, 2, 3, 4, 0 };

	b[4] = acpi_checksum(b, 4);
	EXPECT_EQ(sum(b, 5), 0);
}

TEST_MAIN()
