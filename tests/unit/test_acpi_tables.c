/* Host tests for guest/acpi_tables.c: the tables Keel writes for a Linux
 * guest, read back through Keel's own ACPI parser (drivers/acpi.c, which
 * checks signatures, lengths and checksums) and field by field. */
#include "tests/unit/test.h"
#include "guest/acpi_tables.h"
#include "drivers/acpi.h"
#include "guest/aml.h"

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
	uint64_t rsdp = acpi_tables_build(g_mem, BASE, 2, false);

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
		ASSERT(acpi_tables_build(g_mem, BASE, n, false) == BASE);
		ASSERT(acpi_init(&a, &ops, g_mem, 36) == 0);
		ASSERT(acpi_parse_madt(&a, &m) == 0);
		EXPECT_EQ(a.nr_diags, 0);
		EXPECT_EQ(m.nr_cpus, n);
		for (unsigned int i = 0; i < m.nr_cpus; i++) {
			EXPECT_EQ(m.cpus[i].apic_id, i);
			EXPECT(m.cpus[i].enabled);
		}
		EXPECT_EQ(m.lapic_addr, 0xfee00000);
		EXPECT_EQ(m.flags & ACPI_MADT_PCAT_COMPAT, 0);
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
static const uint8_t *build_table_for(bool rtc, uint64_t off, const char *sig,
				      uint32_t *len)
{
	static struct acpi a;

	if (acpi_tables_build(g_mem, BASE, 2, rtc) != BASE ||
	    acpi_init(&a, &ops, g_mem, 36))
		return NULL;
	return acpi_map_table(&a, BASE + off, sig, len);
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

TEST(vcpu_count_out_of_range_refused)
{
	EXPECT_EQ(acpi_tables_build(g_mem, BASE, 0, false), 0);
	EXPECT_EQ(acpi_tables_build(g_mem, BASE, ACPI_MAX_GUEST_CPUS + 1, false), 0);
}

TEST(checksum_helper)
{
	uint8_t b[5] = { 1, 2, 3, 4, 0 };

	b[4] = acpi_checksum(b, 4);
	EXPECT_EQ(sum(b, 5), 0);
}

TEST_MAIN()
