/* Host tests for drivers/acpi.c. Tables are built in a simulated physical
 * memory (g_phys). The map callback hands out a fresh heap copy exactly as
 * long as the range asked for, so AddressSanitizer catches any read beyond
 * what the parser mapped; ranges outside g_phys or inside the "hole" are
 * refused like unmapped memory. */
#include "tests/unit/test.h"
#include "drivers/acpi.h"

/* --- simulated physical memory ------------------------------------------ */

#define PHYS_SIZE       (1024 * 1024)
#define MAX_MAPS        (1 << 16)

#define RSDT_PA         0x1000
#define XSDT_PA         0x2000
#define MADT_PA         0x10000
#define MADT2_PA        0x18000
#define FACP_PA         0x20000
#define DSDT_PA         0x21000
#define HPET_PA         0x22000
#define RSDT_MADT_PA    0x30000
#define BIG_PA          0x40000

static uint8_t g_phys[PHYS_SIZE];
static uint64_t g_hole_lo, g_hole_hi;   /* refused range [lo, hi) */
static void *g_maps[MAX_MAPS];
static int g_nr_maps;
static struct acpi g_acpi;
static struct acpi_madt g_madt;

static void maps_release(void)
{
	while (g_nr_maps)
		free(g_maps[--g_nr_maps]);
}

static const void *test_map(void *ctx, uint64_t phys, uint64_t len)
{
	void *copy;

	(void)ctx;
	if (phys >= PHYS_SIZE || len > PHYS_SIZE - phys || len == 0)
		return NULL;
	if (phys < g_hole_hi && phys + len > g_hole_lo)
		return NULL;
	if (g_nr_maps == MAX_MAPS)
		return NULL;
	copy = malloc(len);
	memcpy(copy, g_phys + phys, len);
	g_maps[g_nr_maps++] = copy;
	return copy;
}

static const struct acpi_ops g_ops = { .map = test_map, .ctx = NULL };

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* --- table builders ------------------------------------------------------ */

static void phys_reset(void)
{
	maps_release();
	memset(g_phys, 0, sizeof(g_phys));
	g_hole_lo = g_hole_hi = 0;
}

static uint32_t table_len(uint64_t pa)
{
	uint32_t len;

	memcpy(&len, g_phys + pa + 4, 4);
	return len;
}

/* Lengths past the simulated memory are left alone: the parser cannot map
 * such a table anyway. */
static void fix_checksum(uint64_t pa)
{
	uint32_t len = table_len(pa);

	if (len > PHYS_SIZE - pa)
		return;

	g_phys[pa + 9] = 0;
	g_phys[pa + 9] = (uint8_t)-sum8(g_phys + pa, len);
}

static void put_table(uint64_t pa, const char *sig, const void *body,
		      uint32_t body_len)
{
	uint8_t *h = g_phys + pa;

	memcpy(h, sig, 4);
	put32(h + 4, 36 + body_len);
	h[8] = 1;
	memcpy(h + 10, "KEELTS", 6);
	memcpy(h + 16, "TESTTABL", 8);
	put32(h + 24, 1);
	memcpy(h + 28, "KTST", 4);
	put32(h + 32, 1);
	if (body_len)
		memcpy(h + 36, body, body_len);
	fix_checksum(pa);
}

static void put_xsdt(uint64_t pa, const uint64_t *e, uint32_t n)
{
	uint8_t body[8 * 2048];

	for (uint32_t i = 0; i < n; i++)
		put64(body + 8 * i, e[i]);
	put_table(pa, "XSDT", body, 8 * n);
}

static void put_rsdt(uint64_t pa, const uint32_t *e, uint32_t n)
{
	uint8_t body[4 * 2048];

	for (uint32_t i = 0; i < n; i++)
		put32(body + 4 * i, e[i]);
	put_table(pa, "RSDT", body, 4 * n);
}

struct rsdp {
	uint8_t b[64];
};

static struct rsdp make_rsdp(uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	struct rsdp r;

	memset(&r, 0, sizeof(r));
	memcpy(r.b, "RSD PTR ", 8);
	memcpy(r.b + 9, "KEELOE", 6);
	r.b[15] = rev;
	put32(r.b + 16, rsdt);
	r.b[8] = (uint8_t)-sum8(r.b, 20);
	if (rev >= 2) {
		put32(r.b + 20, 36);
		put64(r.b + 24, xsdt);
		r.b[32] = (uint8_t)-sum8(r.b, 36);
	}
	return r;
}

/* MADT body: lapic address, flags, then entries. */
struct madt_b {
	uint8_t b[16384];
	uint32_t len;
};

static struct madt_b *madt_start(struct madt_b *m, uint32_t lapic,
				 uint32_t flags)
{
	memset(m, 0, sizeof(*m));
	put32(m->b, lapic);
	put32(m->b + 4, flags);
	m->len = 8;
	return m;
}

static uint8_t *madt_entry(struct madt_b *m, uint8_t type, uint8_t len)
{
	uint8_t *e = m->b + m->len;

	e[0] = type;
	e[1] = len;
	m->len += len;
	return e;
}

static void madt_lapic(struct madt_b *m, uint8_t uid, uint8_t id,
		       uint32_t flags)
{
	uint8_t *e = madt_entry(m, 0, 8);

	e[2] = uid;
	e[3] = id;
	put32(e + 4, flags);
}

static void madt_x2apic(struct madt_b *m, uint32_t id, uint32_t flags,
			uint32_t uid)
{
	uint8_t *e = madt_entry(m, 9, 16);

	put32(e + 4, id);
	put32(e + 8, flags);
	put32(e + 12, uid);
}

static void madt_ioapic(struct madt_b *m, uint8_t id, uint32_t addr,
			uint32_t gsi)
{
	uint8_t *e = madt_entry(m, 1, 12);

	e[2] = id;
	put32(e + 4, addr);
	put32(e + 8, gsi);
}

static void madt_iso(struct madt_b *m, uint8_t src, uint32_t gsi,
		     uint16_t flags)
{
	uint8_t *e = madt_entry(m, 2, 10);

	e[3] = src;
	put32(e + 4, gsi);
	put16(e + 8, flags);
}

static void madt_lapic_addr(struct madt_b *m, uint64_t addr)
{
	put64(madt_entry(m, 5, 12) + 4, addr);
}

static void put_madt(uint64_t pa, const struct madt_b *m)
{
	put_table(pa, "APIC", m->b, m->len);
}

/* A QEMU-like machine: 4 CPUs, one I/O APIC, two overrides, plus a FADT,
 * an HPET and a DSDT. The RSDT points at a different MADT so tests can
 * tell which root was used. */
static void build_machine(void)
{
	static struct madt_b m;
	const uint64_t x[] = { FACP_PA, MADT_PA, HPET_PA };
	const uint32_t r[] = { FACP_PA, RSDT_MADT_PA, HPET_PA };
	uint8_t facp[244 - 36] = { 0 };

	phys_reset();
	madt_start(&m, 0xfee00000, 1);
	for (int i = 0; i < 4; i++)
		madt_lapic(&m, (uint8_t)i, (uint8_t)i, 1);
	madt_ioapic(&m, 0, 0xfec00000, 0);
	madt_iso(&m, 0, 2, 0);
	madt_iso(&m, 9, 9, 0xd);
	put_madt(MADT_PA, &m);

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);
	put_madt(RSDT_MADT_PA, &m);

	put32(facp + 40 - 36, DSDT_PA);
	put_table(FACP_PA, "FACP", facp, sizeof(facp));
	put_table(DSDT_PA, "DSDT", "\x10\x20", 2);
	put_table(HPET_PA, "HPET", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	put_xsdt(XSDT_PA, x, ARRAY_SIZE(x));
	put_rsdt(RSDT_PA, r, ARRAY_SIZE(r));
}

static int init_with(const struct rsdp *r, size_t len)
{
	return acpi_init(&g_acpi, &g_ops, r->b, len);
}

static int init_machine(void)
{
	struct rsdp r = make_rsdp(2, RSDT_PA, XSDT_PA);

	return init_with(&r, 36);
}

static int diag_count(enum acpi_diag_code code)
{
	int n = 0;

	for (uint32_t i = 0; i < g_acpi.nr_diags; i++)
		n += g_acpi.diags[i].code == code;
	return n;
}

/* The first diag with this code; a blank one when there is none, so that
 * a missing diag fails the comparison instead of crashing the test. */
static struct acpi_diag diag_first(enum acpi_diag_code code)
{
	for (uint32_t i = 0; i < g_acpi.nr_diags; i++)
		if (g_acpi.diags[i].code == code)
			return g_acpi.diags[i];
	return (struct acpi_diag){ .code = ACPI_DIAG_NONE, .value = ~0ULL };
}

static const struct acpi_cpu *cpu_by_id(uint32_t id)
{
	for (uint32_t i = 0; i < g_madt.nr_cpus; i++)
		if (g_madt.cpus[i].apic_id == id)
			return &g_madt.cpus[i];
	return NULL;
}

/* Install a MADT built by the test as the only table of a valid XSDT. */
static int init_with_madt(const struct madt_b *m)
{
	const uint64_t x[] = { MADT_PA };
	struct rsdp r = make_rsdp(2, 0, XSDT_PA);

	phys_reset();
	put_madt(MADT_PA, m);
	put_xsdt(XSDT_PA, x, 1);
	return init_with(&r, 36);
}

/* --- root discovery ------------------------------------------------------- */

TEST(xsdt_path_and_madt)
{
	build_machine();
	ASSERT(init_machine() == 0);
	EXPECT_EQ(g_acpi.nr_diags, 0);
	EXPECT_EQ(g_acpi.rsdp_revision, 2);
	EXPECT(!strcmp(g_acpi.oem_id, "KEELOE"));
	EXPECT_EQ(g_acpi.root_phys, XSDT_PA);
	EXPECT_EQ(g_acpi.root_entry_size, 8);
	EXPECT_EQ(g_acpi.nr_root_entries, 3);

	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.phys, MADT_PA);
	EXPECT_EQ(g_madt.lapic_addr, 0xfee00000);
	EXPECT(!g_madt.lapic_addr_overridden);
	EXPECT(g_madt.flags & ACPI_MADT_PCAT_COMPAT);
	ASSERT(g_madt.nr_cpus == 4);
	for (uint32_t i = 0; i < 4; i++) {
		EXPECT_EQ(g_madt.cpus[i].apic_id, i);
		EXPECT_EQ(g_madt.cpus[i].acpi_uid, i);
		EXPECT(g_madt.cpus[i].enabled);
		EXPECT(!g_madt.cpus[i].online_capable);
		EXPECT(!g_madt.cpus[i].x2apic);
	}
	ASSERT(g_madt.nr_ioapics == 1);
	EXPECT_EQ(g_madt.ioapics[0].addr, 0xfec00000);
	EXPECT_EQ(g_madt.ioapics[0].gsi_base, 0);
	ASSERT(g_madt.nr_overrides == 2);
	EXPECT_EQ(g_madt.overrides[0].source, 0);
	EXPECT_EQ(g_madt.overrides[0].gsi, 2);
	EXPECT_EQ(g_madt.overrides[1].source, 9);
	EXPECT_EQ(g_madt.overrides[1].flags & ACPI_MPS_INTI_POLARITY, 1);
	EXPECT_EQ((g_madt.overrides[1].flags & ACPI_MPS_INTI_TRIGGER) >> 2, 3);
	EXPECT_EQ(g_acpi.nr_diags, 0);
}

TEST(rsdt_path_for_acpi1_rsdp)
{
	struct rsdp r;

	build_machine();
	r = make_rsdp(0, RSDT_PA, XSDT_PA);     /* rev 0: XSDT field absent */
	ASSERT(init_with(&r, 20) == 0);
	EXPECT_EQ(g_acpi.nr_diags, 0);
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);
	EXPECT_EQ(g_acpi.root_entry_size, 4);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.phys, RSDT_MADT_PA);
	EXPECT_EQ(g_madt.nr_cpus, 1);
	EXPECT_EQ(g_madt.flags, 0);
}

TEST(rsdp_fatal_errors)
{
	struct rsdp r;

	build_machine();
	r = make_rsdp(2, RSDT_PA, XSDT_PA);
	EXPECT_EQ(acpi_init(&g_acpi, &g_ops, NULL, 36), -1);
	EXPECT_EQ(g_acpi.diags[0].code, ACPI_DIAG_RSDP_SHORT);
	EXPECT_EQ(init_with(&r, 19), -1);
	EXPECT_EQ(g_acpi.diags[0].code, ACPI_DIAG_RSDP_SHORT);
	EXPECT_EQ(init_with(&r, 0), -1);

	r.b[3] = 'x';
	EXPECT_EQ(init_with(&r, 36), -1);
	EXPECT_EQ(g_acpi.diags[0].code, ACPI_DIAG_RSDP_SIGNATURE);

	r = make_rsdp(2, RSDT_PA, XSDT_PA);
	r.b[8] ^= 1;
	EXPECT_EQ(init_with(&r, 36), -1);
	EXPECT_EQ(g_acpi.diags[0].code, ACPI_DIAG_RSDP_CHECKSUM);
	EXPECT(!strcmp(g_acpi.diags[0].table, "RSDP"));

	r = make_rsdp(2, RSDT_PA, XSDT_PA);
	EXPECT_EQ(acpi_init(&g_acpi, NULL, r.b, 36), -1);
	EXPECT_EQ(diag_count(ACPI_DIAG_NO_ROOT), 1);
}

TEST(rsdp_extended_part_problems_use_rsdt)
{
	struct rsdp r;

	build_machine();

	r = make_rsdp(2, RSDT_PA, XSDT_PA);
	r.b[32] ^= 0x55;
	ASSERT(init_with(&r, 36) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_RSDP_EXT_CHECKSUM), 1);
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);

	r = make_rsdp(2, RSDT_PA, XSDT_PA);     /* only the v1 part copied */
	ASSERT(init_with(&r, 20) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_RSDP_EXT_LENGTH), 1);
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);

	static const uint32_t bad_len[] = { 0, 20, 35, 37, 0xffffffff };
	for (size_t i = 0; i < ARRAY_SIZE(bad_len); i++) {
		r = make_rsdp(2, RSDT_PA, XSDT_PA);
		put32(r.b + 20, bad_len[i]);
		r.b[32] = 0;
		r.b[32] = (uint8_t)-sum8(r.b, 36);
		ASSERT(init_with(&r, 36) == 0);
		EXPECT_EQ(diag_count(ACPI_DIAG_RSDP_EXT_LENGTH), 1);
		EXPECT_EQ(g_acpi.root_phys, RSDT_PA);
	}

	/* A longer RSDP is fine when the copy holds all of it. */
	r = make_rsdp(2, RSDT_PA, XSDT_PA);
	put32(r.b + 20, 40);
	r.b[32] = 0;
	r.b[32] = (uint8_t)-sum8(r.b, 40);
	ASSERT(init_with(&r, 40) == 0);
	EXPECT_EQ(g_acpi.nr_diags, 0);
	EXPECT_EQ(g_acpi.root_phys, XSDT_PA);
}

TEST(bad_xsdt_falls_back_to_rsdt)
{
	struct rsdp r;

	build_machine();
	g_phys[XSDT_PA + 40] ^= 0xff;           /* checksum now wrong */
	ASSERT(init_machine() == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_CHECKSUM), 1);
	EXPECT(!strcmp(diag_first(ACPI_DIAG_TABLE_CHECKSUM).table, "XSDT"));
	EXPECT_EQ(diag_count(ACPI_DIAG_XSDT_FALLBACK), 1);
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.phys, RSDT_MADT_PA);

	build_machine();
	memcpy(g_phys + XSDT_PA, "XSDX", 4);
	fix_checksum(XSDT_PA);
	ASSERT(init_machine() == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_SIGNATURE), 1);
	EXPECT(!strcmp(diag_first(ACPI_DIAG_TABLE_SIGNATURE).table, "XSDX"));
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);

	build_machine();
	r = make_rsdp(2, RSDT_PA, 0);
	ASSERT(init_with(&r, 36) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_NULL), 1);
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);

	r = make_rsdp(2, RSDT_PA, 0x123456789000ULL);   /* not mapped */
	ASSERT(init_with(&r, 36) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_UNMAPPED), 1);
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);

	r = make_rsdp(2, RSDT_PA, UINT64_MAX - 8);      /* wraps */
	ASSERT(init_with(&r, 36) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_UNMAPPED), 1);
	EXPECT_EQ(g_acpi.root_phys, RSDT_PA);
}

TEST(root_lengths_too_small_or_huge)
{
	static const uint32_t bad[] = { 0, 4, 35, 0x1000001, 0xffffffff };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		build_machine();
		put32(g_phys + XSDT_PA + 4, bad[i]);
		put32(g_phys + RSDT_PA + 4, bad[i]);
		ASSERT(init_machine() == -1);
		EXPECT_EQ(diag_count(bad[i] < 36 ? ACPI_DIAG_TABLE_SHORT :
						  ACPI_DIAG_TABLE_HUGE), 2);
		EXPECT_EQ(diag_count(ACPI_DIAG_XSDT_FALLBACK), 1);
		EXPECT_EQ(diag_count(ACPI_DIAG_NO_ROOT), 1);
		EXPECT_EQ(acpi_find_table(&g_acpi, "APIC", 0, NULL), 0);
		EXPECT_EQ(acpi_parse_madt(&g_acpi, &g_madt), -1);
	}
}

TEST(root_length_past_mapped_memory)
{
	build_machine();
	/* Within the sanity limit but running off the end of memory. */
	put32(g_phys + XSDT_PA + 4, PHYS_SIZE);
	g_hole_lo = RSDT_PA;
	g_hole_hi = RSDT_PA + 1;
	ASSERT(init_machine() == -1);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_UNMAPPED), 2);
	EXPECT_EQ(diag_count(ACPI_DIAG_NO_ROOT), 1);
}

TEST(root_partial_entry_and_truncation)
{
	static uint64_t many[2000];
	uint8_t body[8 + 6];

	build_machine();
	put64(body, MADT_PA);
	memset(body + 8, 0xab, 6);
	put_table(XSDT_PA, "XSDT", body, sizeof(body));
	ASSERT(init_machine() == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_ROOT_PARTIAL), 1);
	EXPECT_EQ(g_acpi.nr_root_entries, 1);
	EXPECT_EQ(acpi_parse_madt(&g_acpi, &g_madt), 0);

	build_machine();
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = i == 1500 ? MADT_PA : HPET_PA;
	put_xsdt(BIG_PA, many, ARRAY_SIZE(many));
	{
		struct rsdp r = make_rsdp(2, RSDT_PA, BIG_PA);

		ASSERT(init_with(&r, 36) == 0);
	}
	EXPECT_EQ(diag_count(ACPI_DIAG_ROOT_TRUNCATED), 1);
	EXPECT_EQ(g_acpi.nr_root_entries, ACPI_ROOT_MAX_ENTRIES);
	EXPECT_EQ(acpi_find_table(&g_acpi, "HPET", 1000, NULL), HPET_PA);
	EXPECT_EQ(acpi_find_table(&g_acpi, "APIC", 0, NULL), 0);
}

TEST(root_entries_zero_or_unmapped)
{
	const uint64_t x[] = { 0, 0x7fff00000000ULL, MADT_PA, PHYS_SIZE - 8,
			       FACP_PA };

	build_machine();
	put_xsdt(XSDT_PA, x, ARRAY_SIZE(x));
	ASSERT(init_machine() == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_NULL), 1);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_UNMAPPED), 2);
	EXPECT_EQ(acpi_find_table(&g_acpi, "FACP", 0, NULL), FACP_PA);
	EXPECT_EQ(acpi_parse_madt(&g_acpi, &g_madt), 0);
	EXPECT_EQ(g_acpi.nr_diags, 3);          /* lookups add nothing */
}

/* --- table lookup ------------------------------------------------------- */

TEST(find_table_instances_and_bad_copies)
{
	const uint64_t x[] = { HPET_PA, FACP_PA, 0x50000, 0x51000, MADT_PA };
	uint32_t len = 0;

	build_machine();
	put_table(0x50000, "FACP", "\1\2\3", 3);
	g_phys[0x50000 + 36] ^= 1;              /* bad checksum */
	put_table(0x51000, "FACP", "\4\5\6\7", 4);
	put_xsdt(XSDT_PA, x, ARRAY_SIZE(x));
	ASSERT(init_machine() == 0);

	EXPECT_EQ(acpi_find_table(&g_acpi, "FACP", 0, &len), FACP_PA);
	EXPECT_EQ(len, 244);
	EXPECT_EQ(acpi_find_table(&g_acpi, "FACP", 1, &len), 0x51000);
	EXPECT_EQ(len, 40);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_CHECKSUM), 1);
	EXPECT_EQ(diag_first(ACPI_DIAG_TABLE_CHECKSUM).value, 0x50000);
	EXPECT_EQ(acpi_find_table(&g_acpi, "FACP", 2, NULL), 0);
	EXPECT_EQ(acpi_find_table(&g_acpi, "SSDT", 0, NULL), 0);
	EXPECT_EQ(acpi_find_table(&g_acpi, NULL, 0, NULL), 0);
	EXPECT_EQ(acpi_find_table(&g_acpi, "FAC", 0, NULL), 0);
	EXPECT(acpi_map_table(&g_acpi, FACP_PA, "FA", NULL) == NULL);
	EXPECT(acpi_map_table(&g_acpi, FACP_PA, "FACP", NULL) != NULL);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_MISSING), 0);
}

TEST(find_before_init_is_harmless)
{
	struct acpi a;

	memset(&a, 0, sizeof(a));
	EXPECT_EQ(acpi_find_table(&a, "APIC", 0, NULL), 0);
}

TEST(map_table_through_fadt)
{
	uint32_t dsdt, len = 0;
	const uint8_t *facp, *t;

	build_machine();
	ASSERT(init_machine() == 0);
	facp = acpi_map_table(&g_acpi, acpi_find_table(&g_acpi, "FACP", 0, NULL),
			      "FACP", &len);
	ASSERT(facp != NULL);
	EXPECT_EQ(len, 244);
	memcpy(&dsdt, facp + 40, 4);
	t = acpi_map_table(&g_acpi, dsdt, "DSDT", &len);
	ASSERT(t != NULL);
	EXPECT_EQ(len, 38);
	EXPECT_EQ(t[36], 0x10);
	EXPECT(acpi_map_table(&g_acpi, dsdt, NULL, NULL) != NULL);
	EXPECT(acpi_map_table(&g_acpi, dsdt, "SSDT", NULL) == NULL);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_SIGNATURE), 1);
	EXPECT(acpi_map_table(&g_acpi, 0, "DSDT", NULL) == NULL);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_NULL), 1);
}

TEST(unprintable_signature_sanitized)
{
	build_machine();
	ASSERT(init_machine() == 0);
	memcpy(g_phys + DSDT_PA, "\x01" "BC\xff", 4);
	EXPECT(acpi_map_table(&g_acpi, DSDT_PA, "DSDT", NULL) == NULL);
	ASSERT(diag_first(ACPI_DIAG_TABLE_SIGNATURE).code != ACPI_DIAG_NONE);
	EXPECT(!strcmp(diag_first(ACPI_DIAG_TABLE_SIGNATURE).table, "?BC?"));
	EXPECT(diag_first(ACPI_DIAG_TABLE_SIGNATURE).msg != NULL);
}

/* --- MADT ----------------------------------------------------------------- */

TEST(madt_unmapped)
{
	build_machine();
	ASSERT(init_machine() == 0);
	g_hole_lo = MADT_PA + 40;               /* header readable, body not */
	g_hole_hi = MADT_PA + 41;
	EXPECT_EQ(acpi_parse_madt(&g_acpi, &g_madt), -1);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_UNMAPPED), 1);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_MISSING), 1);
	EXPECT_EQ(g_madt.nr_cpus, 0);

	g_hole_lo = MADT_PA;                    /* nothing readable */
	g_hole_hi = MADT_PA + 1;
	ASSERT(init_machine() == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_UNMAPPED), 1);
	EXPECT_EQ(acpi_parse_madt(&g_acpi, &g_madt), -1);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_MISSING), 1);
}

TEST(madt_missing_short_and_second_copy)
{
	static struct madt_b m;
	const uint64_t x[] = { MADT_PA, MADT2_PA };

	build_machine();
	put_table(MADT_PA, "APIC", "\0\0\xe0\xfe", 4);  /* 40 bytes: short */
	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 7, 3, 1);
	put_madt(MADT2_PA, &m);
	put_xsdt(XSDT_PA, x, ARRAY_SIZE(x));
	ASSERT(init_machine() == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_MADT_SHORT), 1);
	EXPECT_EQ(g_madt.phys, MADT2_PA);
	ASSERT(g_madt.nr_cpus == 1);
	EXPECT_EQ(g_madt.cpus[0].apic_id, 3);
	EXPECT_EQ(g_madt.cpus[0].acpi_uid, 7);

	build_machine();
	put_xsdt(XSDT_PA, x, 0);
	ASSERT(init_machine() == 0);
	EXPECT_EQ(acpi_parse_madt(&g_acpi, &g_madt), -1);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_MISSING), 1);
	EXPECT(!strcmp(diag_first(ACPI_DIAG_TABLE_MISSING).table, "APIC"));
}

TEST(madt_head_only)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 1);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_cpus, 0);
	EXPECT_EQ(g_acpi.nr_diags, 0);
}

TEST(madt_lapic_address_override)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);
	madt_lapic_addr(&m, 0x1fee00000ULL);
	madt_lapic_addr(&m, 0x2fee00000ULL);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT(g_madt.lapic_addr_overridden);
	EXPECT_EQ(g_madt.lapic_addr, 0x1fee00000ULL);
	EXPECT_EQ(diag_count(ACPI_DIAG_LAPIC_OVERRIDE_DUP), 1);
}

TEST(madt_cpu_flags_and_x2apic)
{
	static struct madt_b m;
	const struct acpi_cpu *c;

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);                /* enabled */
	madt_lapic(&m, 1, 1, 2);                /* online capable */
	madt_lapic(&m, 2, 2, 0);                /* unusable placeholder */
	madt_lapic(&m, 3, 0xff, 0);             /* placeholder, broadcast ID */
	madt_lapic(&m, 4, 0xff, 1);             /* enabled, broadcast ID */
	madt_lapic(&m, 5, 5, 3);                /* both bits: enabled wins */
	madt_x2apic(&m, 0x100, 1, 100);
	madt_x2apic(&m, 0x12345, 2, 101);
	madt_x2apic(&m, 0xffffffff, 1, 102);
	madt_x2apic(&m, 7, 0, 103);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);

	EXPECT_EQ(g_madt.nr_cpus, 5);
	EXPECT_EQ(g_madt.nr_cpus_unusable, 3);
	EXPECT_EQ(diag_count(ACPI_DIAG_CPU_BAD_ID), 2);
	c = cpu_by_id(0);
	EXPECT(c && c->enabled && !c->online_capable && !c->x2apic);
	c = cpu_by_id(1);
	EXPECT(c && !c->enabled && c->online_capable);
	EXPECT(cpu_by_id(2) == NULL);
	c = cpu_by_id(5);
	EXPECT(c && c->enabled && !c->online_capable);
	c = cpu_by_id(0x100);
	EXPECT(c && c->enabled && c->x2apic && c->acpi_uid == 100);
	c = cpu_by_id(0x12345);
	EXPECT(c && !c->enabled && c->online_capable && c->x2apic);
	EXPECT(cpu_by_id(7) == NULL);
}

TEST(madt_duplicate_apic_ids)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);
	madt_lapic(&m, 1, 1, 1);
	madt_lapic(&m, 2, 1, 1);                /* duplicate of ID 1 */
	madt_x2apic(&m, 0, 1, 9);               /* duplicate via x2APIC */
	madt_x2apic(&m, 2, 1, 10);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	ASSERT(g_madt.nr_cpus == 3);
	EXPECT_EQ(g_madt.cpus[1].acpi_uid, 1);  /* first kept */
	EXPECT(!g_madt.cpus[0].x2apic);
	EXPECT(g_madt.cpus[2].x2apic);
	EXPECT_EQ(diag_count(ACPI_DIAG_CPU_DUPLICATE), 2);
	EXPECT_EQ(diag_first(ACPI_DIAG_CPU_DUPLICATE).value, 1);
}

TEST(madt_zero_length_entry_stops)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);
	madt_entry(&m, 0, 0);
	m.len += 6;                             /* bytes after it */
	madt_lapic(&m, 1, 1, 1);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_cpus, 1);
	EXPECT_EQ(diag_count(ACPI_DIAG_MADT_ENTRY_LENGTH), 1);
	EXPECT_EQ(diag_first(ACPI_DIAG_MADT_ENTRY_LENGTH).value, 44 + 8);

	madt_start(&m, 0xfee00000, 0);
	madt_entry(&m, 0x7f, 1);                /* length 1 */
	m.len += 9;
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_MADT_ENTRY_LENGTH), 1);
}

TEST(madt_entry_running_past_end)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);
	madt_lapic(&m, 1, 1, 1);
	m.b[m.len - 8 + 1] = 9;                 /* 8-byte entry claims 9 */
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_cpus, 1);
	EXPECT_EQ(diag_count(ACPI_DIAG_MADT_ENTRY_LENGTH), 1);

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);
	m.b[m.len++] = 0;                       /* a lone trailing byte */
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_cpus, 1);
	EXPECT_EQ(diag_count(ACPI_DIAG_MADT_ENTRY_LENGTH), 1);

	madt_start(&m, 0xfee00000, 0);
	madt_entry(&m, 0x42, 255);              /* unknown type, too long */
	m.len = 8 + 100;
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_MADT_ENTRY_LENGTH), 1);
}

TEST(madt_entries_too_short_for_type_skipped)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	madt_entry(&m, 0, 4);                   /* LAPIC needs 8 */
	madt_entry(&m, 1, 8);                   /* I/O APIC needs 12 */
	madt_entry(&m, 2, 9);                   /* override needs 10 */
	madt_entry(&m, 5, 11);                  /* address override needs 12 */
	madt_entry(&m, 9, 12);                  /* x2APIC needs 16 */
	madt_entry(&m, 4, 6);                   /* LAPIC NMI: not read */
	madt_entry(&m, 0x80, 2);                /* OEM type: not read */
	madt_lapic(&m, 0, 0, 1);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(diag_count(ACPI_DIAG_MADT_ENTRY_SHORT), 5);
	EXPECT_EQ(g_madt.nr_cpus, 1);
	EXPECT_EQ(g_madt.nr_ioapics, 0);
	EXPECT_EQ(g_madt.nr_overrides, 0);
	EXPECT(!g_madt.lapic_addr_overridden);
}

TEST(madt_longer_entries_accepted)
{
	static struct madt_b m;
	uint8_t *e;

	madt_start(&m, 0xfee00000, 0);
	e = madt_entry(&m, 0, 12);              /* future, longer LAPIC entry */
	e[2] = 1;
	e[3] = 2;
	put32(e + 4, 1);
	madt_lapic(&m, 3, 3, 1);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_cpus, 2);
	EXPECT_EQ(g_acpi.nr_diags, 0);
}

TEST(madt_300_cpus_truncated)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	for (uint32_t i = 0; i < 300; i++)
		madt_x2apic(&m, i * 2, 1, i);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_cpus, ACPI_MAX_CPUS);
	EXPECT_EQ(g_madt.nr_cpus_dropped, 300 - ACPI_MAX_CPUS);
	EXPECT_EQ(diag_count(ACPI_DIAG_CPUS_TRUNCATED), 1);
	EXPECT_EQ(g_madt.cpus[ACPI_MAX_CPUS - 1].apic_id, (ACPI_MAX_CPUS - 1) * 2);
}

TEST(madt_many_lapic_placeholders_do_not_use_slots)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	for (uint32_t i = 0; i < 255; i++)
		madt_lapic(&m, (uint8_t)i, (uint8_t)i, i < 8 ? 1 : 0);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_cpus, 8);
	EXPECT_EQ(g_madt.nr_cpus_unusable, 247);
	EXPECT_EQ(g_acpi.nr_diags, 0);
}

TEST(madt_ioapic_and_override_caps)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	for (uint32_t i = 0; i < 20; i++)
		madt_ioapic(&m, (uint8_t)i, 0xfec00000 + i * 0x1000, i * 24);
	for (uint32_t i = 0; i < 40; i++)
		madt_iso(&m, (uint8_t)i, i + 100, 0);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_madt.nr_ioapics, ACPI_MAX_IOAPICS);
	EXPECT_EQ(g_madt.nr_ioapics_dropped, 4);
	EXPECT_EQ(g_madt.ioapics[15].gsi_base, 15 * 24);
	EXPECT_EQ(g_madt.ioapics[15].addr, 0xfec0f000);
	EXPECT_EQ(g_madt.nr_overrides, ACPI_MAX_OVERRIDES);
	EXPECT_EQ(g_madt.nr_overrides_dropped, 8);
	EXPECT_EQ(diag_count(ACPI_DIAG_IOAPICS_TRUNCATED), 1);
	EXPECT_EQ(diag_count(ACPI_DIAG_OVERRIDES_TRUNCATED), 1);
}

TEST(madt_bad_checksum_rejected)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 0, 1);
	ASSERT(init_with_madt(&m) == 0);
	g_phys[MADT_PA + 44 + 3] = 9;
	EXPECT_EQ(acpi_parse_madt(&g_acpi, &g_madt), -1);
	EXPECT_EQ(diag_count(ACPI_DIAG_TABLE_CHECKSUM), 1);
	EXPECT_EQ(g_madt.nr_cpus, 0);
}

TEST(diag_overflow_counted)
{
	static struct madt_b m;

	madt_start(&m, 0xfee00000, 0);
	for (int i = 0; i < ACPI_MAX_DIAGS + 5; i++)
		madt_lapic(&m, 0, 0xff, 1);
	ASSERT(init_with_madt(&m) == 0);
	ASSERT(acpi_parse_madt(&g_acpi, &g_madt) == 0);
	EXPECT_EQ(g_acpi.nr_diags, ACPI_MAX_DIAGS);
	EXPECT_EQ(g_acpi.nr_diags_dropped, 5);
}

/* --- mutation ------------------------------------------------------------ */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	return test_xorshift(&rng_state);
}

static void check_madt_sane(void)
{
	EXPECT(g_madt.nr_cpus <= ACPI_MAX_CPUS);
	EXPECT(g_madt.nr_ioapics <= ACPI_MAX_IOAPICS);
	EXPECT(g_madt.nr_overrides <= ACPI_MAX_OVERRIDES);
	EXPECT(g_acpi.nr_diags <= ACPI_MAX_DIAGS);
	EXPECT(g_acpi.nr_root_entries <= ACPI_ROOT_MAX_ENTRIES);
	for (uint32_t i = 0; i < g_madt.nr_cpus; i++)
		for (uint32_t j = i + 1; j < g_madt.nr_cpus; j++)
			EXPECT(g_madt.cpus[i].apic_id != g_madt.cpus[j].apic_id);
	for (uint32_t i = 0; i < g_acpi.nr_diags; i++)
		EXPECT(g_acpi.diags[i].msg && strlen(g_acpi.diags[i].table) <= 4);
}

/* Tables whose bytes are mutated; after flipping, their checksums are
 * sometimes repaired so that the mutation reaches the parser proper. */
static const uint64_t fuzz_tables[] = { XSDT_PA, RSDT_PA, MADT_PA, FACP_PA };

static void mutate_and_parse(const struct rsdp *pristine_rsdp)
{
	struct rsdp r = *pristine_rsdp;
	int flips = 1 + (int)(rng() % 6);

	for (int f = 0; f < flips; f++) {
		uint64_t pa = fuzz_tables[rng() % ARRAY_SIZE(fuzz_tables)];

		if (rng() % 8 == 0)
			r.b[rng() % 36] ^= (uint8_t)(1 + rng() % 255);
		else
			g_phys[pa + rng() % 128] ^= (uint8_t)(1 + rng() % 255);
	}
	if (rng() % 2) {
		for (size_t i = 0; i < ARRAY_SIZE(fuzz_tables); i++)
			fix_checksum(fuzz_tables[i]);
		r.b[8] = 0;
		r.b[8] = (uint8_t)-sum8(r.b, 20);
		r.b[32] = 0;
		r.b[32] = (uint8_t)-sum8(r.b, 36);
	}
	if (acpi_init(&g_acpi, &g_ops, r.b, 20 + rng() % 17) == 0) {
		(void)acpi_find_table(&g_acpi, "FACP", 0, NULL);
		(void)acpi_parse_madt(&g_acpi, &g_madt);
		check_madt_sane();
	}
	maps_release();
}

TEST(random_mutations_do_not_crash)
{
	static uint8_t saved[0x40000];
	struct rsdp r;

	build_machine();
	r = make_rsdp(2, RSDT_PA, XSDT_PA);
	memcpy(saved, g_phys, sizeof(saved));
	for (int iter = 0; iter < 20000 && !test_failed_now; iter++) {
		mutate_and_parse(&r);
		for (size_t i = 0; i < ARRAY_SIZE(fuzz_tables); i++)
			memcpy(g_phys + fuzz_tables[i], saved + fuzz_tables[i],
			       0x1000);
	}
}

TEST(random_madt_entries_do_not_crash)
{
	static struct madt_b m;

	for (int iter = 0; iter < 3000 && !test_failed_now; iter++) {
		uint32_t n = (uint32_t)(rng() % 64);

		madt_start(&m, (uint32_t)rng(), (uint32_t)rng());
		for (uint32_t i = 0; i < n; i++) {
			uint8_t len = (uint8_t)(rng() % 20);
			uint8_t *e;

			if (m.len + MAX(len, 2) > sizeof(m.b))
				break;
			e = madt_entry(&m, (uint8_t)(rng() % 12), len);
			for (uint8_t k = 2; k < len; k++)
				e[k] = (uint8_t)rng();
			if (len < 2)
				m.len += 2 - len;
		}
		if (init_with_madt(&m) == 0) {
			(void)acpi_parse_madt(&g_acpi, &g_madt);
			check_madt_sane();
		}
		maps_release();
	}
}

TEST_MAIN()
