/* Host tests for guest/linux_boot.c: the bzImage setup header parser
 * (valid, truncated and hostile headers), kernel/initrd placement, the
 * e820 map, the zero page and the boot GDT. Images live in heap buffers
 * of exactly their size, so AddressSanitizer catches any read past the
 * end. */
#include "tests/unit/test.h"
#include "guest/linux_boot.h"

#define IMG_SIZE        (64 * 1024)
#define SETUP_SECTS     7               /* setup = 8 * 512 = 4 KiB */

static void put8(uint8_t *p, size_t o, uint8_t v) { p[o] = v; }
static void put16(uint8_t *p, size_t o, uint16_t v) { memcpy(p + o, &v, 2); }
static void put32(uint8_t *p, size_t o, uint32_t v) { memcpy(p + o, &v, 4); }
static void put64(uint8_t *p, size_t o, uint64_t v) { memcpy(p + o, &v, 8); }
/* A well-formed protocol 2.15 header like a 64-bit relocatable kernel's. */
static uint8_t *make_image(size_t size)
{
	uint8_t *p = calloc(1, size);
	size_t kernel = size - (SETUP_SECTS + 1) * 512;

	put8(p, LH_SETUP_SECTS, SETUP_SECTS);
	put32(p, LH_SYSSIZE, (uint32_t)(kernel / 16));
	put16(p, LH_BOOT_FLAG, 0xaa55);
	put8(p, LH_JUMP, 0xeb);
	put8(p, LH_JUMP + 1, 0x6a);             /* header ends at 0x26c */
	put32(p, LH_HEADER, 0x53726448);
	put16(p, LH_VERSION, 0x020f);
	put8(p, LH_LOADFLAGS, 0x01);
	put32(p, LH_INITRD_ADDR_MAX, 0x7fffffff);
	put32(p, LH_KERNEL_ALIGNMENT, 0x200000);
	put8(p, LH_RELOCATABLE, 1);
	put16(p, LH_XLOADFLAGS, 0x7f);
	put32(p, LH_CMDLINE_SIZE, 2047);
	put64(p, LH_PREF_ADDRESS, 0x1000000);
	put32(p, LH_INIT_SIZE, 0x3f98000);
	put8(p, 0x26b, 0x5a);                   /* last header byte */
	return p;
}

static const char *parse(const uint8_t *p, size_t size, struct linux_header *h)
{
	uint8_t *copy = malloc(size ? size : 1);
	const char *why;

	memcpy(copy, p, size);
	why = linux_parse_header(copy, size, h);
	free(copy);
	return why;
}

TEST(header_valid)
{
	uint8_t *p = make_image(IMG_SIZE);
	struct linux_header h;

	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	EXPECT_EQ(h.version, 0x020f);
	EXPECT_EQ(h.setup_size, 4096);
	EXPECT_EQ(h.kernel_size, IMG_SIZE - 4096);
	EXPECT_EQ(h.header_end, 0x26c);
	EXPECT_EQ(h.kernel_alignment, 0x200000);
	EXPECT_EQ(h.pref_address, 0x1000000);
	EXPECT_EQ(h.init_size, 0x3f98000);
	EXPECT_EQ(h.cmdline_size, 2047);
	EXPECT(h.relocatable);
	free(p);
}

TEST(header_setup_sects_zero_means_four)
{
	uint8_t *p = make_image(IMG_SIZE);
	struct linux_header h;

	put8(p, LH_SETUP_SECTS, 0);
	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	EXPECT_EQ(h.setup_size, 5 * 512);
	free(p);
}

/* Every proper prefix of the image is refused (syssize says more). */
TEST(header_every_truncation_refused)
{
	uint8_t *p = make_image(IMG_SIZE);
	struct linux_header h;
	int accepted = 0;

	for (size_t n = 0; n < IMG_SIZE; n += (n < 0x300 ? 1 : 509))
		accepted += parse(p, n, &h) == NULL;
	EXPECT_EQ(accepted, 0);
	EXPECT(parse(p, IMG_SIZE - 1, &h) != NULL);
	free(p);
}

static const struct test_mutation mutations[] = {
	{ "boot flag", LH_BOOT_FLAG, 2, 0x55aa, "boot flag" },
	{ "HdrS", LH_HEADER, 4, 0x53726449, "HdrS" },
	{ "version 2.11", LH_VERSION, 2, 0x020b, "2.12" },
	{ "header too short", LH_JUMP + 1, 1, 0x10, "0x201" },
	{ "setup_sects huge", LH_SETUP_SECTS, 1, 0xff, "setup_sects" },
	{ "syssize zero", LH_SYSSIZE, 4, 0, "syssize" },
	{ "syssize huge", LH_SYSSIZE, 4, 0xffffffff, "syssize" },
	{ "init_size small", LH_INIT_SIZE, 4, 16, "init_size" },
	{ "zImage", LH_LOADFLAGS, 1, 0, "zImage" },
	{ "no 64-bit entry", LH_XLOADFLAGS, 2, 0x7e, "64-bit" },
	{ "alignment 0", LH_KERNEL_ALIGNMENT, 4, 0, "kernel_alignment" },
	{ "alignment 3M", LH_KERNEL_ALIGNMENT, 4, 0x300000, "kernel_alignment" },
	{ "alignment 2G", LH_KERNEL_ALIGNMENT, 4, 0x80000000, "kernel_alignment" },
};

TEST(header_hostile_fields_refused_with_reason)
{
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		const struct test_mutation *m = &mutations[i];
		uint8_t *p = make_image(IMG_SIZE);
		struct linux_header h;

		test_mutate(p, m);
		test_expect_refusal(m, parse(p, IMG_SIZE, &h));
		free(p);
	}
}

/* Random bytes in every header field: never a crash or an overread, and
 * anything accepted is self-consistent. */
TEST(header_random_fields)
{
	uint32_t seed = 12345;

	for (int i = 0; i < 20000; i++) {
		uint8_t *p = make_image(IMG_SIZE);
		struct linux_header h;

		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245 + 12345;
			p[0x1f1 + (seed >> 8) % (0x270 - 0x1f1)] = (uint8_t)(seed >> 24);
		}
		if (parse(p, IMG_SIZE, &h) == NULL) {
			EXPECT(h.setup_size + h.kernel_size == IMG_SIZE);
			EXPECT(h.header_end <= h.setup_size);
			EXPECT((h.kernel_alignment & (h.kernel_alignment - 1)) == 0);
		}
		free(p);
	}
}

TEST(plan_places_kernel_and_initrd)
{
	uint8_t *p = make_image(IMG_SIZE);
	struct linux_header h;
	struct linux_layout l;

	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	ASSERT(linux_plan(&h, 256 * MiB, 2000000, 60, &l) == NULL);
	EXPECT_EQ(l.kernel, 0x1000000);
	EXPECT_EQ(l.entry, 0x1000200);
	EXPECT_EQ(l.initrd_size, 2000000);
	EXPECT_EQ(l.initrd & 0xfff, 0);
	EXPECT(l.initrd + l.initrd_size <= 256 * MiB - LINUX_PT_SIZE);
	EXPECT(l.initrd + 4096 > 256 * MiB - LINUX_PT_SIZE - l.initrd_size);
	EXPECT(l.initrd >= l.kernel + h.init_size);
	EXPECT_EQ(l.zero_page, LINUX_ZERO_PAGE);
	EXPECT_EQ(l.cmdline, LINUX_CMDLINE);
	/* Without an initrd, nothing is placed for it. */
	ASSERT(linux_plan(&h, 256 * MiB, 0, 0, &l) == NULL);
	EXPECT_EQ(l.initrd, 0);
	free(p);
}

TEST(plan_respects_initrd_addr_max_and_alignment)
{
	uint8_t *p = make_image(IMG_SIZE);
	struct linux_header h;
	struct linux_layout l;

	put32(p, LH_INITRD_ADDR_MAX, 0x5ffffff);        /* below 96 MiB */
	put64(p, LH_PREF_ADDRESS, 0);                   /* old kernels */
	put32(p, LH_INIT_SIZE, 0x1000000);
	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	ASSERT(linux_plan(&h, 256 * MiB, 1 * MiB, 0, &l) == NULL);
	EXPECT_EQ(l.kernel, 0x200000);          /* 1 MiB aligned up to 2 MiB */
	EXPECT(l.initrd + l.initrd_size <= 0x6000000);
	EXPECT_EQ(l.initrd, 0x6000000 - MiB);
	free(p);
}

TEST(plan_refusals)
{
	uint8_t *p = make_image(IMG_SIZE);
	struct linux_header h;
	struct linux_layout l;

	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	EXPECT(linux_plan(&h, 16 * MiB, 0, 0, &l) != NULL);     /* too small */
	EXPECT(linux_plan(&h, 64 * MiB, 0, 0, &l) != NULL);     /* init_size */
	EXPECT(linux_plan(&h, 256 * MiB, 200 * MiB, 0, &l) != NULL);
	EXPECT(linux_plan(&h, 256 * MiB, 0, 2047, &l) == NULL);
	EXPECT(linux_plan(&h, 256 * MiB, 0, 2048, &l) != NULL); /* cmdline */
	put8(p, LH_RELOCATABLE, 0);
	put64(p, LH_PREF_ADDRESS, 0x10000);
	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	EXPECT(linux_plan(&h, 256 * MiB, 0, 0, &l) != NULL);    /* below 1M */
	free(p);
}

TEST(e820_covers_ram_in_order)
{
	struct e820_entry e[16];
	unsigned int n = linux_e820(256 * MiB, e, 16);
	uint64_t at = 0, ram = 0;

	ASSERT(n == 6);
	for (unsigned int i = 0; i < n; i++) {
		EXPECT_EQ(e[i].addr, at);               /* sorted, no gaps */
		EXPECT(e[i].size > 0);
		at = e[i].addr + e[i].size;
		if (e[i].type == E820_RAM)
			ram += e[i].size;
	}
	EXPECT_EQ(at, 256 * MiB);
	EXPECT_EQ(e[0].type, E820_RAM);
	EXPECT_EQ(e[0].size, LINUX_LOW_RAM_END);
	EXPECT_EQ(e[2].addr, LINUX_ACPI_BASE);
	EXPECT_EQ(e[2].type, E820_ACPI);
	EXPECT_EQ(e[4].addr, LINUX_HIGH_RAM);
	EXPECT_EQ(e[5].type, E820_RESERVED);            /* page tables */
	EXPECT_EQ(ram, 256 * MiB - LINUX_PT_SIZE - (LINUX_HIGH_RAM -
						    LINUX_LOW_RAM_END));
	EXPECT_EQ(linux_e820(256 * MiB, e, 2), 2);
}

TEST(zero_page_fields)
{
	uint8_t *p = make_image(IMG_SIZE);
	uint8_t zp[BP_SIZE];
	struct linux_header h;
	struct linux_layout l;
	struct e820_entry e;

	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	ASSERT(linux_plan(&h, 256 * MiB, 3 * MiB, 10, &l) == NULL);
	memset(zp, 0xcc, sizeof(zp));
	linux_zero_page(zp, p, &h, &l, 256 * MiB, 0xe0000);
	EXPECT_EQ(zp[0], 0);                            /* screen_info zeroed */
	EXPECT_EQ(zp[BP_SENTINEL], 0);
	EXPECT_EQ(get32(zp, LH_HEADER), 0x53726448);    /* header copied */
	EXPECT_EQ(zp[0x26b], 0x5a);                     /* to its last byte */
	EXPECT_EQ(zp[0x26c], 0);                        /* and no further */
	EXPECT_EQ(zp[LH_TYPE_OF_LOADER], 0xff);
	EXPECT_EQ(zp[LH_LOADFLAGS] & 1, 1);
	EXPECT_EQ(get32(zp, LH_CMD_LINE_PTR), LINUX_CMDLINE);
	EXPECT_EQ(get32(zp, LH_RAMDISK_IMAGE), l.initrd);
	EXPECT_EQ(get32(zp, LH_RAMDISK_SIZE), 3 * MiB);
	EXPECT_EQ(get32(zp, BP_EXT_RAMDISK_IMAGE), 0);
	EXPECT_EQ(get64(zp, BP_ACPI_RSDP_ADDR), 0xe0000);
	EXPECT_EQ(zp[BP_E820_ENTRIES], 6);
	memcpy(&e, zp + BP_E820_TABLE + 4 * sizeof(e), sizeof(e));
	EXPECT_EQ(e.addr, LINUX_HIGH_RAM);
	EXPECT_EQ(e.type, E820_RAM);
	/* Protocol 2.13 has no acpi_rsdp_addr. */
	put16(p, LH_VERSION, 0x020d);
	ASSERT(parse(p, IMG_SIZE, &h) == NULL);
	linux_zero_page(zp, p, &h, &l, 256 * MiB, 0xe0000);
	EXPECT_EQ(get64(zp, BP_ACPI_RSDP_ADDR), 0);
	free(p);
}

/* Flat 4G descriptors (SDM Vol. 3A 3.4.5): base 0, limit 0xfffff with
 * G, present, S; code: type execute/read, L set and D clear (64-bit). */
TEST(boot_gdt)
{
	uint64_t gdt[LINUX_GDT_ENTRIES];
	uint64_t cs, ds;

	memset(gdt, 0xcc, sizeof(gdt));
	linux_boot_gdt(gdt);
	cs = gdt[LINUX_BOOT_CS / 8];
	ds = gdt[LINUX_BOOT_DS / 8];
	EXPECT_EQ(gdt[0], 0);
	EXPECT_EQ(gdt[1], 0);
	EXPECT_EQ(cs & 0xffff, 0xffff);                 /* limit 15:0 */
	EXPECT_EQ((cs >> 48) & 0xf, 0xf);               /* limit 19:16 */
	EXPECT_EQ(cs & 0xff000000ffff0000ULL, 0);       /* base 0 */
	EXPECT_EQ((cs >> 40) & 0xff, 0x9b);             /* P, S, X/R, A */
	EXPECT_EQ((cs >> 52) & 0xf, 0xa);               /* G, L */
	EXPECT_EQ(ds & 0xffff, 0xffff);
	EXPECT_EQ((ds >> 40) & 0xff, 0x93);             /* P, S, R/W, A */
	EXPECT_EQ((ds >> 52) & 0xf, 0xc);               /* G, D/B */
	EXPECT_EQ(ds & 0xff000000ffff0000ULL, 0);
}

TEST_MAIN()
